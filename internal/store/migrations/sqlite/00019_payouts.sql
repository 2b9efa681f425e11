-- +goose Up
-- payouts: a creator's withdrawal of diamonds to money, written by the
-- ledger operation that moves the diamonds to payouts_pending and records
-- the money owed (op_id), then changed, state checked in one statement, by
-- the operation that settles it (paid: settle_op_id, or failed: the
-- diamonds returned). Times in Unix microseconds. fiat_amount is in minor
-- units of currency, the diamonds at rate (as configured when asked).
-- destination is the sandbox account number or the Stripe connected
-- account; provider_ref the provider's id of the money sent (a Stripe
-- transfer).
CREATE TABLE payouts (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id),
    diamonds       BIGINT NOT NULL CHECK (diamonds > 0),
    currency       TEXT NOT NULL,
    fiat_amount    BIGINT NOT NULL CHECK (fiat_amount >= 0),
    rate           TEXT NOT NULL,
    provider       TEXT NOT NULL,
    destination    TEXT NOT NULL,
    state          TEXT NOT NULL,
    failure_reason TEXT NOT NULL DEFAULT '',
    provider_ref   TEXT NOT NULL DEFAULT '',
    op_id          TEXT NOT NULL,
    settle_op_id   TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    paid_at        BIGINT
);
-- A creator's payouts newest first (the list, paged), and the day's sum
-- (the daily maximum).
CREATE INDEX payouts_user ON payouts (user_id, created_at, id);
CREATE INDEX payouts_user_day ON payouts (user_id, state, created_at);
-- The payouts still waiting for their provider (verify, the operator).
CREATE INDEX payouts_requested ON payouts (created_at) WHERE state = 'requested';

-- payout_accounts: where a creator's payouts go and whether an operator
-- holds them. seq grows with every payout asked: a request commits only
-- if it is still the seq it read, so two requests never both spend the
-- same withdrawable diamonds.
CREATE TABLE payout_accounts (
    user_id           TEXT PRIMARY KEY REFERENCES users (id),
    seq               INTEGER NOT NULL DEFAULT 0,
    sandbox_account   TEXT,
    stripe_account_id TEXT,
    held              BOOLEAN NOT NULL DEFAULT FALSE,
    held_reason       TEXT NOT NULL DEFAULT '',
    updated_at        BIGINT NOT NULL
);

-- +goose Down
DROP TABLE payout_accounts;
DROP TABLE payouts;
