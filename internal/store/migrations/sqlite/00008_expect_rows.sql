-- +goose Up
-- Nothing on SQLite: checked writes run one by one there and read their
-- RowsAffected (the PostgreSQL migration of this number adds the function
-- its pipelines need). Kept so that both dialects number alike.
SELECT 1;

-- +goose Down
SELECT 1;
