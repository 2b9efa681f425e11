-- +goose Up
-- fanfare_expect_rows fails its statement when n is 0. A checked write
-- (store.Stmt.Check) sent in a pipeline is wrapped as
--   WITH w AS (<write> RETURNING 1) SELECT fanfare_expect_rows(count(*)) FROM w
-- so that a write that changed no row stops the pipeline there, as its
-- RowsAffected would in a round trip of its own.
-- +goose StatementBegin
CREATE FUNCTION fanfare_expect_rows(n BIGINT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
BEGIN
    IF n = 0 THEN
        RAISE EXCEPTION 'fanfare: no row changed' USING ERRCODE = 'P0002';
    END IF;
    RETURN n;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION fanfare_expect_rows(BIGINT);
