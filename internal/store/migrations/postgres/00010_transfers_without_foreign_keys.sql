-- +goose Up
-- transfers has no foreign keys (the committer checks that every account it
-- moves exists, and a foreign key would lock the account rows a second time
-- on every insert). They were taken out by editing 00001, so a database
-- created before that still has them, under the names PostgreSQL gave them:
-- drop them where they are.
ALTER TABLE transfers DROP CONSTRAINT IF EXISTS transfers_debit_account_id_fkey;
ALTER TABLE transfers DROP CONSTRAINT IF EXISTS transfers_credit_account_id_fkey;

-- +goose Down
-- The foreign keys are not put back: no released schema has them.
SELECT 1;
