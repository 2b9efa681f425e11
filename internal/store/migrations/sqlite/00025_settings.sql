-- +goose Up
-- settings: the operator's run-time configuration, one row (id 1) holding
-- the whole document (JSON, the settings package's Settings): coin packs
-- and prices, creator shares, tip bounds, spending and purchase limits,
-- payouts, shoutout windows and price bounds, subscription bounds. The
-- first server to start writes the defaults its environment gives;
-- afterwards the stored document wins. version counts the changes (every
-- node polls it to apply a newer one); updated_at is in Unix microseconds;
-- updated_by the actor who made the change. The history of the changes is
-- in the audit log (object "settings").
CREATE TABLE settings (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    version    BIGINT NOT NULL CHECK (version > 0),
    document   TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
