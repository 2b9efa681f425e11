-- +goose Up
-- A LIVE's chat mode: subscribers_only lets only the creator, the operator
-- and the creator's active subscribers chat. Kept with the LIVE so that a
-- restart and every node read the same mode.
ALTER TABLE lives ADD COLUMN subscribers_only BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE lives DROP COLUMN subscribers_only;
