-- +goose Up
-- transfers has no foreign keys (the committer checks that every account it
-- moves exists). They were taken out by editing 00001, so a database created
-- before that still has them. SQLite cannot drop a constraint: the table is
-- rebuilt, with the same columns, checks and indexes as 00001 gives a new
-- database today. Nothing references transfers, so the old table can be
-- renamed and dropped with foreign keys on.
ALTER TABLE transfers RENAME TO transfers_before_00010;

CREATE TABLE transfers (
    id                INTEGER PRIMARY KEY,
    op_id             TEXT NOT NULL,
    debit_account_id  BIGINT NOT NULL,
    credit_account_id BIGINT NOT NULL,
    amount            BIGINT NOT NULL CHECK (amount > 0),
    kind              TEXT NOT NULL,
    object            TEXT NOT NULL,
    actor             TEXT NOT NULL,
    hold_id           TEXT,
    flags             INTEGER NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    CHECK (debit_account_id <> credit_account_id)
);

INSERT INTO transfers (id, op_id, debit_account_id, credit_account_id, amount, kind, object, actor, hold_id, flags, created_at)
SELECT id, op_id, debit_account_id, credit_account_id, amount, kind, object, actor, hold_id, flags, created_at
FROM transfers_before_00010;

DROP TABLE transfers_before_00010;

CREATE INDEX transfers_debit ON transfers (debit_account_id, id);
CREATE INDEX transfers_credit ON transfers (credit_account_id, id);
CREATE INDEX transfers_hold ON transfers (hold_id) WHERE hold_id IS NOT NULL;

-- +goose Down
-- The foreign keys are not put back: no released schema has them.
SELECT 1;
