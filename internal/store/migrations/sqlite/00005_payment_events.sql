-- +goose Up
-- Payment provider events (Stripe webhooks). Each event is recorded once per
-- (provider, event_id), whatever the replays, then applied at most once: the
-- ledger operation that moves its money also sets applied_at, in the same
-- transaction, only while it is still NULL. An event that arrives before the
-- purchase it belongs to is known (a dispute before the completion) waits
-- with purchase_id NULL and is found again by its session or payment
-- reference.
CREATE TABLE payment_events (
    provider       TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    type           TEXT NOT NULL CHECK (type IN ('completed', 'refunded', 'dispute_opened', 'dispute_closed')),
    provider_type  TEXT NOT NULL,
    purchase_id    TEXT REFERENCES purchases (id),
    session_ref    TEXT NOT NULL DEFAULT '',
    payment_ref    TEXT NOT NULL DEFAULT '',
    charge_ref     TEXT NOT NULL DEFAULT '',
    dispute_id     TEXT NOT NULL DEFAULT '',
    dispute_status TEXT NOT NULL DEFAULT '',
    refunded       BOOLEAN NOT NULL DEFAULT FALSE,
    amount         BIGINT NOT NULL DEFAULT 0,
    currency       TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    received_at    BIGINT NOT NULL,
    applied_at     BIGINT,
    outcome        TEXT NOT NULL DEFAULT '',
    op_id          TEXT NOT NULL DEFAULT '',
    UNIQUE (provider, event_id)
);
CREATE INDEX payment_events_purchase ON payment_events (purchase_id) WHERE purchase_id IS NOT NULL;
CREATE INDEX payment_events_session ON payment_events (provider, session_ref) WHERE session_ref <> '';
CREATE INDEX payment_events_payment ON payment_events (provider, payment_ref) WHERE payment_ref <> '';

-- The page where the buyer pays a pending purchase, and the provider's
-- payment (a Stripe PaymentIntent) learnt when the checkout completed, which
-- refunds and disputes name.
ALTER TABLE purchases ADD COLUMN checkout_url TEXT NOT NULL DEFAULT '';
ALTER TABLE purchases ADD COLUMN payment_ref TEXT NOT NULL DEFAULT '';
CREATE INDEX purchases_payment_ref ON purchases (provider, payment_ref) WHERE payment_ref <> '';

-- +goose Down
DROP INDEX purchases_payment_ref;
ALTER TABLE purchases DROP COLUMN payment_ref;
ALTER TABLE purchases DROP COLUMN checkout_url;
DROP TABLE payment_events;
