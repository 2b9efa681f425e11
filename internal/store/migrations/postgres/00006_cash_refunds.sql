-- +goose Up
-- Money owed back to buyers. A cash refund takes the coins back and marks
-- the purchase refunded in one ledger transaction, which also writes this
-- row 'pending'; the provider is then asked to return the money (keyed by
-- the purchase, so asking twice refunds once), and the row becomes 'sent'.
-- A provider that cannot be reached is asked again later (next_at).
CREATE TABLE cash_refunds (
    purchase_id  TEXT PRIMARY KEY,
    provider     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'sent')),
    provider_ref TEXT NOT NULL DEFAULT '',
    attempts     BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    next_at      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    sent_at      BIGINT
);
CREATE INDEX cash_refunds_due ON cash_refunds (next_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE cash_refunds;
