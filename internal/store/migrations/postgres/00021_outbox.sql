-- +goose Up
-- outbox: the events a change reports to the host app (purchase.completed,
-- gift.sent, ...), written in the transaction of the change itself, so an
-- event exists if and only if its change committed. id is the event's
-- webhook-id (the same on every delivery of it); body the JSON delivered
-- ({"type", "timestamp", "data"}); created_at in Unix microseconds.
-- dispatched_at is set once the event has been given to the endpoints
-- subscribed to its type (internal/webhook); the partial index finds the
-- events still to dispatch, in the order they were written.
CREATE TABLE outbox (
    id            TEXT PRIMARY KEY,
    type          TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    dispatched_at BIGINT
);
CREATE INDEX outbox_pending ON outbox (created_at, id) WHERE dispatched_at IS NULL;
CREATE INDEX outbox_created ON outbox (created_at, id);

-- +goose Down
DROP TABLE outbox;
