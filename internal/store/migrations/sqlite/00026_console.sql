-- +goose Up
-- platform_days: what each system account (coin_issuance, diamond_issuance,
-- revenue:<feature>, payouts_paid, ...) received (credited) and gave
-- (debited) per UTC day (days since 1970-01-01) and operation kind: the
-- operator's headline figures read these rows instead of the transfers.
-- The ledger's committer adds to them in the transaction of each batch,
-- as it does to account_days for the users' diamond accounts, and verify
-- checks them against the transfers.
CREATE TABLE platform_days (
    account_id     BIGINT NOT NULL,
    day            BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    credited       BIGINT NOT NULL,
    debited        BIGINT NOT NULL,
    last_credit_at BIGINT,
    PRIMARY KEY (account_id, day, kind)
);

-- The days of the transfers made before this table.
INSERT INTO platform_days (account_id, day, kind, credited, debited, last_credit_at)
SELECT account_id, day, kind, SUM(credited), SUM(debited), MAX(last_at) FROM (
    SELECT t.credit_account_id AS account_id, t.created_at / 86400000000 AS day, t.kind AS kind,
        t.amount AS credited, 0 AS debited, t.created_at AS last_at
    FROM transfers t JOIN accounts a ON a.id = t.credit_account_id
    WHERE a.system
    UNION ALL
    SELECT t.debit_account_id, t.created_at / 86400000000, t.kind, 0, t.amount, NULL
    FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
    WHERE a.system
) d
GROUP BY account_id, day, kind;

-- The money taken per day (the console's figures).
CREATE INDEX purchases_paid ON purchases (paid_at) WHERE paid_at IS NOT NULL;
-- The payouts an operator reviews (requested or failed, newest first),
-- and the creators whose payouts are held.
CREATE INDEX payouts_review ON payouts (created_at, id) WHERE state <> 'paid';
CREATE INDEX payout_accounts_held ON payout_accounts (updated_at, user_id) WHERE held;

-- +goose Down
DROP INDEX payout_accounts_held;
DROP INDEX payouts_review;
DROP INDEX purchases_paid;
DROP TABLE platform_days;
