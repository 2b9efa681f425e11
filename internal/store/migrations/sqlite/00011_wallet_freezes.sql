-- +goose Up
-- wallet_freezes: why an operator froze a user's coin wallet, by whom and
-- when. The ledger's accounts.frozen flag is what spending checks; this row
-- is written and removed with it, in the same transaction, so that the user
-- can be told why.
CREATE TABLE wallet_freezes (
    user_id   TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    reason    TEXT NOT NULL,
    actor     TEXT NOT NULL,
    frozen_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE wallet_freezes;
