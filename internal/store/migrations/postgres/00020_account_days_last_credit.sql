-- +goose Up
-- When each user's diamond account was last credited, per UTC day and
-- operation kind (microseconds since 1970; NULL on a day of debits only):
-- the hold window tells when each day's earnings free from these rows,
-- instead of reading a week of transfers. The ledger's committer keeps it
-- with the totals, and verify checks it against the transfers.
ALTER TABLE account_days ADD COLUMN last_credit_at BIGINT;

-- The credits made before this column.
UPDATE account_days SET last_credit_at = m.last_at
FROM (
    SELECT t.credit_account_id AS account_id, t.created_at / 86400000000 AS day, t.kind AS kind,
        MAX(t.created_at) AS last_at
    FROM transfers t JOIN accounts a ON a.id = t.credit_account_id
    WHERE a.asset = 'DIAMOND' AND NOT a.system
    GROUP BY t.credit_account_id, t.created_at / 86400000000, t.kind
) m
WHERE account_days.account_id = m.account_id AND account_days.day = m.day AND account_days.kind = m.kind;

-- +goose Down
ALTER TABLE account_days DROP COLUMN last_credit_at;
