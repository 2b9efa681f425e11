-- +goose Up
-- What each fan gave each creator: one row per creator's diamond account
-- (account_id), fan's coin account (payer_id) and operation kind, plus one
-- row per pair with kind '' holding the totals across kinds. coins are what
-- the fan paid, diamonds what the creator received, ops how many operations
-- added to the row, first_at and last_at (Unix microseconds) when the first
-- and last of them committed. A clawback that gives the fan's coins back and
-- takes the creator's diamonds (a refunded shoutout) subtracts and leaves
-- ops, first_at and last_at as they were. The ledger's committer adds to
-- these rows in the transaction of each batch, and verify checks them
-- against the transfers and holds: a creator's supporter list reads them
-- instead of the transfers.
CREATE TABLE account_supporters (
    account_id BIGINT NOT NULL,
    payer_id   BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    coins      BIGINT NOT NULL,
    diamonds   BIGINT NOT NULL,
    ops        BIGINT NOT NULL,
    first_at   BIGINT NOT NULL,
    last_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, payer_id, kind)
);
-- The supporter list's pages (the totals across kinds), by total given and
-- by last support. Partial, so that the rows by kind, which no page reads,
-- cost the committer no index upkeep.
CREATE INDEX account_supporters_total ON account_supporters (account_id, coins DESC, payer_id) WHERE kind = '';
CREATE INDEX account_supporters_recent ON account_supporters (account_id, last_at DESC, payer_id) WHERE kind = '';

-- The supporters of the operations made before this table (the same rule
-- as the committer's, and the same query as verify's).
INSERT INTO account_supporters (account_id, payer_id, kind, coins, diamonds, ops, first_at, last_at)
WITH legs AS (
    SELECT t.op_id, t.kind, t.created_at, t.amount,
        CASE WHEN t.kind IN ('chargeback', 'refund', 'shoutout_refund') THEN -1 ELSE 1 END AS sign,
        CASE WHEN t.kind IN ('chargeback', 'refund', 'shoutout_refund') THEN t.credit_account_id
            WHEN t.flags & 4 <> 0 THEN h.debit_account_id ELSE t.debit_account_id END AS payer,
        CASE WHEN t.kind IN ('chargeback', 'refund', 'shoutout_refund') THEN t.debit_account_id
            ELSE t.credit_account_id END AS payee
    FROM transfers t LEFT JOIN holds h ON h.id = t.hold_id
    WHERE t.flags & 10 = 0
), payers AS (
    SELECT l.op_id, MIN(l.payer) AS payer, SUM(l.amount) AS coins
    FROM legs l JOIN accounts a ON a.id = l.payer
    WHERE a.asset = 'COIN' AND NOT a.system
    GROUP BY l.op_id HAVING COUNT(DISTINCT l.payer) = 1
), payees AS (
    SELECT l.op_id, l.payee, MIN(l.kind) AS kind, MIN(l.sign) AS sign, MIN(l.created_at) AS at, SUM(l.amount) AS diamonds
    FROM legs l JOIN accounts a ON a.id = l.payee
    WHERE a.asset = 'DIAMOND' AND NOT a.system
    GROUP BY l.op_id, l.payee
), per_op AS (
    SELECT e.payee AS account_id, p.payer AS payer_id, e.kind, e.sign, e.at, p.coins * e.sign AS coins, e.diamonds * e.sign AS diamonds
    FROM payees e JOIN payers p ON p.op_id = e.op_id
)
SELECT account_id, payer_id, kind, SUM(coins), SUM(diamonds), SUM(CASE WHEN sign > 0 THEN 1 ELSE 0 END),
    COALESCE(MIN(CASE WHEN sign > 0 THEN at END), MIN(at)), COALESCE(MAX(CASE WHEN sign > 0 THEN at END), MIN(at))
FROM per_op GROUP BY account_id, payer_id, kind
UNION ALL
SELECT account_id, payer_id, '', SUM(coins), SUM(diamonds), SUM(CASE WHEN sign > 0 THEN 1 ELSE 0 END),
    COALESCE(MIN(CASE WHEN sign > 0 THEN at END), MIN(at)), COALESCE(MAX(CASE WHEN sign > 0 THEN at END), MIN(at))
FROM per_op GROUP BY account_id, payer_id;

-- A fan may hide their name from the creators' supporter lists.
ALTER TABLE user_preferences ADD COLUMN anonymous_support BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE user_preferences DROP COLUMN anonymous_support;
DROP TABLE account_supporters;
