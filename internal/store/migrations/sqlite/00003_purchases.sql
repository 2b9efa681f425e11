-- +goose Up
-- Coin purchases. A purchase is recorded pending, then becomes paid (by the
-- ledger operation that credits its coins, in the same transaction) or
-- failed; a paid one may later be refunded or charged back. The row is also
-- the request's idempotency record: one purchase per (user, key), with the
-- hash of the request that created it.
CREATE TABLE purchases (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users (id),
    pack_id             TEXT NOT NULL,
    coins               BIGINT NOT NULL CHECK (coins > 0),
    currency            TEXT NOT NULL,
    amount              BIGINT NOT NULL CHECK (amount > 0),
    provider            TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'refunded', 'charged_back')),
    provider_ref        TEXT NOT NULL DEFAULT '',
    chargeback_expected BOOLEAN NOT NULL DEFAULT FALSE,
    balance_after       BIGINT,
    idempotency_key     TEXT NOT NULL,
    request_hash        TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    paid_at             BIGINT,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX purchases_user ON purchases (user_id, created_at);
CREATE INDEX purchases_provider_ref ON purchases (provider, provider_ref) WHERE provider_ref <> '';

-- +goose Down
DROP TABLE purchases;
