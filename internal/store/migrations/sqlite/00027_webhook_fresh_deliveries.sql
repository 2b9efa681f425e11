-- +goose Up
-- A new event's first attempts are made straight from the outbox
-- (internal/webhook): the dispatching server leases the event
-- (locked_until, Unix microseconds; 0: not leased) while it sends, and
-- marks it dispatched once the attempts are recorded. A delivery row is
-- written only for what has to wait (a failed first attempt, a paused
-- endpoint, an attempt cut short by a shutdown): a first attempt that
-- succeeds leaves its line in the delivery log and nothing else. A server
-- that dies while sending leaves the event to be dispatched again once the
-- lease ends (at least once, as receivers expect).
ALTER TABLE outbox ADD COLUMN locked_until BIGINT NOT NULL DEFAULT 0;

-- The delivery log is pruned endpoint by endpoint, through
-- webhook_attempts_endpoint (endpoint_id, created_at, id): the index on
-- created_at alone cost a write per attempt for the pruning's sake.
DROP INDEX webhook_attempts_created;

-- +goose Down
CREATE INDEX webhook_attempts_created ON webhook_attempts (created_at);
ALTER TABLE outbox DROP COLUMN locked_until;
