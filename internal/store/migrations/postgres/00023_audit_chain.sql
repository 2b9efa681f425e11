-- +goose Up
-- The audit log becomes append-only and hash-chained.
--
-- Each entry now records the actor's readable name (actor_name, '' when
-- unknown), the request that made it (request_id, the X-Request-Id; '' for
-- work outside a request), and the state of what it changed before and
-- after (state_before, state_after: JSON, 'null' when there is none: a
-- creation has no before). Entries are numbered by seq, 1, 2, 3, ... in the
-- order they were appended, and each stores hash: the hex SHA-256 of the
-- previous entry's hash ('' for the first) followed by its own fields, each
-- written as <byte length>:<bytes> (see internal/audit, Canonical):
-- seq, id, created_at, actor, actor_name, action, object, details,
-- state_before, state_after, request_id. Changing, removing or reordering
-- an entry breaks every hash after it (fanfare verify finds it).
--
-- audit_chain is the chain's head, one row: the last seq and hash. A
-- writer locks it in its transaction (UPDATE) before it appends, so
-- concurrent writers never fork the chain; it also shows a removed tail.
--
-- Existing entries are chained here, in the order of (created_at, id).
-- A row inserted without seq (never by internal/audit) is outside the
-- chain, and fanfare verify reports it.
ALTER TABLE audit_log ADD COLUMN seq BIGINT;
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN actor_name TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN state_before TEXT NOT NULL DEFAULT 'null';
ALTER TABLE audit_log ADD COLUMN state_after TEXT NOT NULL DEFAULT 'null';

UPDATE audit_log SET seq = n.rn
FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS rn FROM audit_log) AS n
WHERE audit_log.id = n.id;

CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_object_seq ON audit_log (object, seq);

-- sha256_hex(text) is the hex SHA-256 of the text's UTF-8 bytes, as the
-- SQLite connections have it (internal/store registers it there).
-- +goose StatementBegin
CREATE FUNCTION sha256_hex(t TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT encode(sha256(convert_to(t, 'UTF8')), 'hex')
$$;
-- +goose StatementEnd

WITH RECURSIVE chain (seq, hash) AS (
    SELECT CAST(0 AS BIGINT), CAST('' AS TEXT)
    UNION ALL
    SELECT a.seq, sha256_hex(chain.hash
        || CAST(octet_length(CAST(a.seq AS TEXT)) AS TEXT) || ':' || CAST(a.seq AS TEXT)
        || CAST(octet_length(a.id) AS TEXT) || ':' || a.id
        || CAST(octet_length(CAST(a.created_at AS TEXT)) AS TEXT) || ':' || CAST(a.created_at AS TEXT)
        || CAST(octet_length(a.actor) AS TEXT) || ':' || a.actor
        || CAST(octet_length(a.actor_name) AS TEXT) || ':' || a.actor_name
        || CAST(octet_length(a.action) AS TEXT) || ':' || a.action
        || CAST(octet_length(a.object) AS TEXT) || ':' || a.object
        || CAST(octet_length(a.details) AS TEXT) || ':' || a.details
        || CAST(octet_length(a.state_before) AS TEXT) || ':' || a.state_before
        || CAST(octet_length(a.state_after) AS TEXT) || ':' || a.state_after
        || CAST(octet_length(a.request_id) AS TEXT) || ':' || a.request_id)
    FROM chain JOIN audit_log AS a ON a.seq = chain.seq + 1
)
UPDATE audit_log SET hash = chain.hash FROM chain WHERE audit_log.seq = chain.seq;

CREATE TABLE audit_chain (
    id   TEXT PRIMARY KEY CHECK (id = 'head'),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, seq, hash)
SELECT 'head', COALESCE(MAX(seq), 0), COALESCE((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1), '') FROM audit_log;

-- Append-only: UPDATE, DELETE and TRUNCATE of audit_log are refused, and
-- the chain's head is never deleted.
-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE OR TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TRIGGER audit_chain_no_delete ON audit_chain;
DROP TRIGGER audit_log_no_truncate ON audit_log;
DROP TRIGGER audit_log_no_change ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_chain;
DROP FUNCTION sha256_hex(TEXT);
DROP INDEX audit_log_object_seq;
DROP INDEX audit_log_action;
DROP INDEX audit_log_actor;
DROP INDEX audit_log_seq;
ALTER TABLE audit_log DROP COLUMN state_after;
ALTER TABLE audit_log DROP COLUMN state_before;
ALTER TABLE audit_log DROP COLUMN request_id;
ALTER TABLE audit_log DROP COLUMN actor_name;
ALTER TABLE audit_log DROP COLUMN hash;
ALTER TABLE audit_log DROP COLUMN seq;
