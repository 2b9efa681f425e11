package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Stmt is one statement of a pipeline.
type Stmt struct {
	SQL  string
	Args []any
	// Check makes the statement fail with ErrNoRow when it changes no row.
	// A checked statement is an INSERT, UPDATE or DELETE without a
	// RETURNING clause of its own.
	Check bool
}

// ErrNoRow is the failure of a checked statement that changed no row.
var ErrNoRow = errors.New("the statement changed no row")

// Pipeline runs stmts in order in tx, an open transaction on conn, and
// stops at the first that fails. It returns that statement's index and
// error (ErrNoRow for a check), or -1 and nil when every statement ran;
// -1 and an error when the pipeline itself failed (the connection).
//
// On PostgreSQL the statements go to the server in one round trip (pgx's
// pipeline mode, each prepared once per connection) and a failure leaves
// the transaction aborted: the caller rolls back to a savepoint it put in
// the pipeline before the failing statement. On SQLite they run one by one
// through TxExec, and a failure leaves the transaction as the statement
// found it. conn must be the connection tx runs on, and nothing else may
// use either until Pipeline returns.
func (db *DB) Pipeline(ctx context.Context, conn *sql.Conn, tx *sql.Tx, stmts []Stmt) (int, error) {
	if len(stmts) == 0 {
		return -1, nil
	}
	if db.Dialect != Postgres {
		for i, s := range stmts {
			res, err := db.TxExec(ctx, tx, s.SQL, s.Args...)
			if err != nil {
				return i, err
			}
			if s.Check {
				if n, err := res.RowsAffected(); err != nil {
					return i, err
				} else if n == 0 {
					return i, ErrNoRow
				}
			}
		}
		return -1, nil
	}
	failed, ferr := -1, error(nil)
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("pipeline: unexpected driver connection %T", dc)
		}
		b := &pgx.Batch{}
		for _, s := range stmts {
			q := s.SQL
			if s.Check {
				q = `WITH w AS (` + q + ` RETURNING 1) SELECT fanfare_expect_rows(count(*)) FROM w`
			}
			b.Queue(q, s.Args...)
		}
		br := c.Conn().SendBatch(ctx, b)
		for i := range stmts {
			if _, err := br.Exec(); err != nil {
				failed, ferr = i, err
				break
			}
		}
		// Close reads what the server sent for the statements it skipped
		// after a failure; it reports that same failure again.
		if err := br.Close(); err != nil && ferr == nil {
			return err
		}
		// A statement that failed because the connection went away did
		// not fail on its own: the pipeline did.
		if ferr != nil && c.Conn().IsClosed() {
			err := ferr
			failed, ferr = -1, nil
			return err
		}
		return nil
	})
	if err != nil {
		return -1, fmt.Errorf("pipeline: %w", err)
	}
	var pe *pgconn.PgError
	if errors.As(ferr, &pe) && pe.Code == "P0002" && pe.Message == "fanfare: no row changed" {
		ferr = ErrNoRow
	}
	return failed, ferr
}

// Job is a background job that a transaction schedules with its writes: it
// exists only if the transaction commits. The jobs package runs it; the
// ledger inserts the jobs of a batch's operations together (ledger.Op.Jobs).
type Job struct {
	Kind string
	Args any       // encoded as JSON
	At   time.Time // when it runs; now if zero
}
