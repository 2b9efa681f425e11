-- +goose Up
-- LIVE sessions. One LIVE at a time per creator (the partial unique index).
-- gifts, coins and diamonds are the LIVE's totals, kept by each gift's
-- ledger operation in its own transaction.
CREATE TABLE lives (
    id           TEXT PRIMARY KEY,
    creator_id   TEXT NOT NULL REFERENCES users (id),
    title        TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('live', 'ended')),
    started_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    gifts        BIGINT NOT NULL DEFAULT 0,
    coins        BIGINT NOT NULL DEFAULT 0,
    diamonds     BIGINT NOT NULL DEFAULT 0,
    peak_viewers BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX lives_one_per_creator ON lives (creator_id) WHERE status = 'live';
CREATE INDEX lives_now ON lives (started_at) WHERE status = 'live';
CREATE INDEX lives_creator ON lives (creator_id, started_at);
CREATE INDEX lives_started ON lives (started_at);

-- What each fan gave in a LIVE: its leaderboard and summary.
CREATE TABLE live_gifters (
    live_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    gifts   BIGINT NOT NULL,
    coins   BIGINT NOT NULL,
    PRIMARY KEY (live_id, user_id)
);
CREATE INDEX live_gifters_top ON live_gifters (live_id, coins);

-- Viewers a creator muted in one of their LIVEs.
CREATE TABLE live_mutes (
    live_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (live_id, user_id)
);

-- +goose Down
DROP TABLE live_mutes;
DROP TABLE live_gifters;
DROP TABLE lives;
