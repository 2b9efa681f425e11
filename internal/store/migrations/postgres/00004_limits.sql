-- +goose Up
-- Spending limits. spend_limits holds the daily coin-spend limit a user set
-- for themself (daily = 0: none, the operator default applies) and a raise
-- waiting for its 24 hours (pending = 0: none). spend_days counts the coins
-- each user spent on creators per UTC day; the spending operation adds to it
-- in its own transaction, so no two spends can pass the limit together.
CREATE TABLE spend_limits (
    user_id    TEXT PRIMARY KEY REFERENCES users (id),
    daily      BIGINT NOT NULL CHECK (daily >= 0),
    pending    BIGINT NOT NULL DEFAULT 0 CHECK (pending >= 0),
    pending_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE TABLE spend_days (
    user_id TEXT NOT NULL,
    day     BIGINT NOT NULL, -- days since 1970-01-01, UTC
    spent   BIGINT NOT NULL CHECK (spent >= 0),
    PRIMARY KEY (user_id, day)
);
-- The chargeback sweep finds the purchases due by this.
CREATE INDEX purchases_chargeback_due ON purchases (paid_at) WHERE status = 'paid' AND chargeback_expected;

-- +goose Down
DROP INDEX purchases_chargeback_due;
DROP TABLE spend_days;
DROP TABLE spend_limits;
