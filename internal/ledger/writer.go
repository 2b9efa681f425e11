package ledger

import (
	"context"
	"database/sql"

	"github.com/fanfarehq/fanfare/internal/store"
)

// writer is where SQLite and PostgreSQL differ in a batch: the connection
// it runs on, how it locks and reads the rows it needs, and how it writes
// in bulk. Everything else in a batch is written once; sqliteWriter and
// postgresWriter are the two implementations. Only the committer lane that
// calls a writer.
type writer interface {
	// conn returns the connection for a batch, and release gives it back
	// after a batch that ended with err.
	conn(ctx context.Context) (*sql.Conn, error)
	release(conn *sql.Conn, err error)
	// begin readies conn for a batch's transaction, and the function it
	// returns undoes that once the transaction has ended.
	begin(ctx context.Context, conn *sql.Conn) (end func(), err error)
	// lockHolds reads the holds of ids (sorted, distinct) as
	// (id, debit, credit, escrow, amount, state) rows, locking them first on
	// a database with several writers.
	lockHolds(ctx context.Context, tx *batchTx, ids []string) (*sql.Rows, error)
	// lockAccounts reads the accounts of ids (sorted, distinct) as
	// (id, owner, asset, system, balance, frozen) rows, locked likewise
	// after the holds, unless lock is false (the accounts a batch credits
	// last, see shared).
	lockAccounts(ctx context.Context, tx *batchTx, ids []int64, lock bool) (*sql.Rows, error)
	// shared reports whether other processes' batches may write the
	// database at once: a batch then writes its hot rows (Leg.CreditLast,
	// Write.Last) in one round trip just before its commit, to hold their
	// locks for as short a time as it can.
	shared() bool
	// storedKeys returns the (scope, key) pairs among those given that
	// have an idempotency record.
	storedKeys(ctx context.Context, tx *batchTx, scopes, keys []string) (*sql.Rows, error)
	// addBalances adds deltas[i] to the balance of account ids[i].
	addBalances(ctx context.Context, tx *batchTx, ids, deltas []int64) error
	// insertTransfers inserts rows, created at (Unix microseconds).
	insertTransfers(ctx context.Context, tx *batchTx, rows []transferRow, at int64) error
	// addDays adds rows to the daily totals of the accounts they name
	// in table (account_days for the users' diamond accounts,
	// platform_days for the system accounts), on day (days since
	// 1970-01-01, UTC).
	addDays(ctx context.Context, tx *batchTx, table string, rows []dayRow, day, at int64) error
	// addSupporters adds rows (sorted by account, payer and kind) to
	// account_supporters, as operations committed at (Unix microseconds).
	addSupporters(ctx context.Context, tx *batchTx, rows []supporterRow, at int64) error
	// insertIdempotency inserts rows (sorted by scope and key) unless their
	// key is stored already, and marks in inserted the keys it inserted.
	insertIdempotency(ctx context.Context, tx *batchTx, rows []idemRow, at int64, inserted map[[2]string]bool) error
	// close releases what the writer keeps between batches.
	close() error
}

var (
	_ writer = (*sqliteWriter)(nil)
	_ writer = (*postgresWriter)(nil)
)

// newWriter returns db's writer. groupSync says the committer fsyncs the
// WAL itself once batches are committed (SQLite, see syncLoop).
func newWriter(db *store.DB, groupSync bool) writer {
	if db.Dialect == store.Postgres {
		return &postgresWriter{db: db}
	}
	return &sqliteWriter{db: db, groupSync: groupSync}
}

const transferCols = "op_id, debit_account_id, credit_account_id, amount, kind, object, actor, hold_id, flags, created_at"

const idemCols = "scope, key, request_hash, result, created_at"

// dayRow is what one batch adds to an account's totals of the day for a
// kind of operation.
type dayRow struct {
	account           int64
	kind              string
	credited, debited int64
}

// lastCredit is the row's last_credit_at in a batch committed at at:
// none on a day of debits only.
func (r dayRow) lastCredit(at int64) any {
	if r.credited == 0 {
		return nil
	}
	return at
}

// The tables of daily totals: the users' diamond accounts, and the system
// accounts.
const (
	userDays     = "account_days"
	platformDays = "platform_days"
)

// sqlAddDaysUpdate ends the statements that add to account_days and
// platform_days, by table.
var sqlAddDaysUpdate = map[string]string{userDays: addDaysUpdate(userDays), platformDays: addDaysUpdate(platformDays)}

func addDaysUpdate(t string) string {
	return ` ON CONFLICT (account_id, day, kind) DO UPDATE SET
	credited = ` + t + `.credited + excluded.credited, debited = ` + t + `.debited + excluded.debited,
	last_credit_at = CASE WHEN ` + t + `.last_credit_at IS NULL OR excluded.last_credit_at > ` + t + `.last_credit_at
		THEN excluded.last_credit_at ELSE ` + t + `.last_credit_at END`
}
