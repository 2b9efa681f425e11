-- +goose Up
-- What each user's diamond account received and gave back, per UTC day
-- (days since 1970-01-01) and operation kind: a creator's earnings read
-- these rows instead of a year of transfers. The ledger's committer adds to
-- them in the transaction of each batch, and verify checks them against
-- the transfers.
CREATE TABLE account_days (
    account_id BIGINT NOT NULL,
    day        BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    credited   BIGINT NOT NULL,
    debited    BIGINT NOT NULL,
    PRIMARY KEY (account_id, day, kind)
);

-- The days of the transfers made before this table.
INSERT INTO account_days (account_id, day, kind, credited, debited)
SELECT account_id, day, kind, SUM(credited), SUM(debited) FROM (
    SELECT t.credit_account_id AS account_id, t.created_at / 86400000000 AS day, t.kind AS kind,
        t.amount AS credited, 0 AS debited
    FROM transfers t JOIN accounts a ON a.id = t.credit_account_id
    WHERE a.asset = 'DIAMOND' AND NOT a.system
    UNION ALL
    SELECT t.debit_account_id, t.created_at / 86400000000, t.kind, 0, t.amount
    FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
    WHERE a.asset = 'DIAMOND' AND NOT a.system
) d
GROUP BY account_id, day, kind;

-- +goose Down
DROP TABLE account_days;
