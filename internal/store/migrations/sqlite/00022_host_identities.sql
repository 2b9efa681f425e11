-- +goose Up
-- external_id: the host app's own id of a user it created through
-- PUT /v1/admin/users/by-external-id/{external_id}; NULL for users who signed
-- up here. Such a user has no password: password_hash is '' and a log-in
-- with a password is refused.
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external_id ON users (external_id);

-- api_keys: stored credentials. kind 'host' (the host app's backend, limited
-- to scopes, a space-separated list) or 'operator' (a named person acting as
-- the operator; person says who). secret_hash is the hex SHA-256 of the
-- secret, which is shown once and never stored. Times in Unix microseconds;
-- last_used_at is written at most once a minute; a revoked key has
-- revoked_at and is never valid again.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('host', 'operator')),
    scopes       TEXT NOT NULL DEFAULT '',
    person       TEXT NOT NULL DEFAULT '',
    secret_hash  TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_created ON api_keys (created_at, id);

-- +goose Down
DROP TABLE api_keys;
DROP INDEX users_external_id;
ALTER TABLE users DROP COLUMN external_id;
