-- +goose Up
-- shoutout_settings: a creator's Shoutouts offer (off until turned on):
-- their own price in coins, the most open requests they take at once, a
-- pause switch and a note shown on the request form.
CREATE TABLE shoutout_settings (
    creator_id  TEXT PRIMARY KEY REFERENCES users (id),
    enabled     BOOLEAN NOT NULL,
    price       BIGINT NOT NULL CHECK (price > 0),
    capacity    INTEGER NOT NULL CHECK (capacity > 0),
    paused      BOOLEAN NOT NULL,
    accept_note TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- shoutout_requests: one row per request, written by the ledger operation
-- that holds its price and changed, state and deadline checked in one
-- statement, by every transition (times in Unix microseconds). The id is
-- the ledger hold's. accept_by is the creator's deadline to answer,
-- deliver_by (set on acceptance) to deliver, review_by (with moderation) the
-- operator's, dispute_by (set on delivery) the fan's to report a problem.
CREATE TABLE shoutout_requests (
    id               TEXT PRIMARY KEY,
    fan_id           TEXT NOT NULL REFERENCES users (id),
    creator_id       TEXT NOT NULL REFERENCES users (id),
    price            BIGINT NOT NULL CHECK (price > 0),
    share_bps        BIGINT NOT NULL CHECK (share_bps >= 0 AND share_bps <= 10000),
    hold_id          TEXT NOT NULL UNIQUE,
    recipient        TEXT NOT NULL,
    occasion         TEXT NOT NULL,
    instructions     TEXT NOT NULL,
    public           BOOLEAN NOT NULL,
    state            TEXT NOT NULL,
    accept_by        BIGINT NOT NULL,
    accepted_at      BIGINT,
    deliver_by       BIGINT,
    extension_days   INTEGER,
    extension_state  TEXT,
    decline_note     TEXT NOT NULL DEFAULT '',
    delivered_at     BIGINT,
    review_by        BIGINT,
    dispute_by       BIGINT,
    video_key        TEXT,
    video_size       BIGINT,
    video_type       TEXT,
    completed_at     BIGINT,
    disputed_at      BIGINT,
    dispute_reason   TEXT NOT NULL DEFAULT '',
    resolution       TEXT NOT NULL DEFAULT '',
    resolution_note  TEXT NOT NULL DEFAULT '',
    op_id            TEXT NOT NULL,
    settle_op_id     TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
-- The creator's open requests (capacity), the lists newest first.
CREATE INDEX shoutout_requests_creator ON shoutout_requests (creator_id, state, created_at, id);
CREATE INDEX shoutout_requests_creator_all ON shoutout_requests (creator_id, created_at, id);
CREATE INDEX shoutout_requests_fan ON shoutout_requests (fan_id, state, created_at, id);
CREATE INDEX shoutout_requests_fan_all ON shoutout_requests (fan_id, created_at, id);
-- The deadlines due, one per state that has one (the sweep).
CREATE INDEX shoutout_requests_accept_due ON shoutout_requests (accept_by) WHERE state = 'requested';
CREATE INDEX shoutout_requests_deliver_due ON shoutout_requests (deliver_by) WHERE state = 'accepted';
CREATE INDEX shoutout_requests_review_due ON shoutout_requests (review_by) WHERE state = 'in_review';
CREATE INDEX shoutout_requests_dispute_due ON shoutout_requests (dispute_by) WHERE state = 'delivered';
-- A creator's public videos (the profile) and delivery times.
CREATE INDEX shoutout_requests_delivered ON shoutout_requests (creator_id, delivered_at) WHERE delivered_at IS NOT NULL;

-- shoutout_reviews: the fan's rating of a delivered request, one per
-- request, editable for a while.
CREATE TABLE shoutout_reviews (
    request_id TEXT PRIMARY KEY REFERENCES shoutout_requests (id),
    creator_id TEXT NOT NULL REFERENCES users (id),
    fan_id     TEXT NOT NULL REFERENCES users (id),
    rating     INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    text       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    edited_at  BIGINT
);
CREATE INDEX shoutout_reviews_creator ON shoutout_reviews (creator_id, created_at, request_id);

-- +goose Down
DROP TABLE shoutout_reviews;
DROP TABLE shoutout_requests;
DROP TABLE shoutout_settings;
