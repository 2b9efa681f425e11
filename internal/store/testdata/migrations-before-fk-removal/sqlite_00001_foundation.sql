-- +goose Up
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    handle        TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    region        TEXT NOT NULL,
    birth_date    TEXT NOT NULL,
    account_type  TEXT NOT NULL CHECK (account_type IN ('personal', 'business')),
    followers     BIGINT NOT NULL DEFAULT 0 CHECK (followers >= 0),
    standing      TEXT NOT NULL DEFAULT 'good' CHECK (standing IN ('good', 'warned', 'restricted', 'banned')),
    role          TEXT NOT NULL DEFAULT 'fan',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- One account per (owner, asset). owner is a user id or "system:<name>".
CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY,
    owner      TEXT NOT NULL,
    asset      TEXT NOT NULL,
    system     BOOLEAN NOT NULL DEFAULT FALSE,
    balance    BIGINT NOT NULL DEFAULT 0,
    frozen     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    UNIQUE (owner, asset)
);

-- Append-only. One row per leg; the legs of one operation share op_id.
CREATE TABLE transfers (
    id                INTEGER PRIMARY KEY,
    op_id             TEXT NOT NULL,
    debit_account_id  BIGINT NOT NULL REFERENCES accounts (id),
    credit_account_id BIGINT NOT NULL REFERENCES accounts (id),
    amount            BIGINT NOT NULL CHECK (amount > 0),
    kind              TEXT NOT NULL,
    object            TEXT NOT NULL,
    actor             TEXT NOT NULL,
    hold_id           TEXT,
    flags             INTEGER NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    CHECK (debit_account_id <> credit_account_id)
);
CREATE INDEX transfers_debit ON transfers (debit_account_id, id);
CREATE INDEX transfers_credit ON transfers (credit_account_id, id);
CREATE INDEX transfers_hold ON transfers (hold_id) WHERE hold_id IS NOT NULL;

-- Pending transfers. The held amount sits in the escrow account until the
-- hold is posted or voided, exactly once.
CREATE TABLE holds (
    id                TEXT PRIMARY KEY,
    debit_account_id  BIGINT NOT NULL REFERENCES accounts (id),
    credit_account_id BIGINT NOT NULL REFERENCES accounts (id),
    escrow_account_id BIGINT NOT NULL REFERENCES accounts (id),
    amount            BIGINT NOT NULL CHECK (amount > 0),
    state             TEXT NOT NULL CHECK (state IN ('pending', 'posted', 'voided')),
    kind              TEXT NOT NULL,
    object            TEXT NOT NULL,
    created_op_id     TEXT NOT NULL,
    resolved_op_id    TEXT,
    created_at        BIGINT NOT NULL,
    resolved_at       BIGINT
);
CREATE INDEX holds_pending ON holds (state) WHERE state = 'pending';

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    result       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE holds;
DROP TABLE transfers;
DROP TABLE accounts;
DROP TABLE sessions;
DROP TABLE users;
