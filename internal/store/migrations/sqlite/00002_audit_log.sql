-- +goose Up
-- Operator actions (account changes, promotional grants, ...), one row per
-- action, written in the same transaction as the change where the change is
-- not a ledger operation. details is a JSON object.
CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    object     TEXT NOT NULL,
    details    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_object ON audit_log (object, created_at);
CREATE INDEX audit_log_created ON audit_log (created_at);

-- +goose Down
DROP TABLE audit_log;
