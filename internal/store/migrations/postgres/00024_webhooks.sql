-- +goose Up
-- webhook_endpoints: where the host app receives the outbox's events
-- (internal/webhook). events is a JSON array of event types, or ["*"].
-- secret signs each delivery (whsec_...); after a rotation old_secret signs
-- alongside it until old_secret_until. state is active, paused (by the
-- operator), auto_paused (failing for 3 days) or disabled (the endpoint
-- answered 410 Gone); state_reason says why. failing_since is the time of
-- the first failed attempt since the last success. Times in Unix
-- microseconds.
CREATE TABLE webhook_endpoints (
    id               TEXT PRIMARY KEY,
    url              TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    events           TEXT NOT NULL,
    secret           TEXT NOT NULL,
    old_secret       TEXT NOT NULL DEFAULT '',
    old_secret_until BIGINT NOT NULL DEFAULT 0,
    state            TEXT NOT NULL DEFAULT 'active',
    state_reason     TEXT NOT NULL DEFAULT '',
    failing_since    BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- webhook_deliveries: one event to deliver to one endpoint, created when
-- the event is dispatched. state is pending, succeeded or failed (given
-- up). tries counts the attempts of the current schedule (a replay starts
-- it again), attempts all of them; next_attempt_at is when it is due;
-- locked_until leases it to the server sending it, so a server that dies
-- mid-attempt leaves it to another once the lease ends. expires_at is when
-- a delivery still pending is given up.
CREATE TABLE webhook_deliveries (
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    event_at        BIGINT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    tries           INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until    BIGINT NOT NULL DEFAULT 0,
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (updated_at);

-- webhook_attempts: the delivery log, one row per attempt: the answer's
-- status (0: none), how long it took, the first KiB of the answer, the
-- error when there was no answer.
CREATE TABLE webhook_attempts (
    id          TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    latency_us  BIGINT NOT NULL,
    response    TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, created_at, id);
CREATE INDEX webhook_attempts_created ON webhook_attempts (created_at);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
