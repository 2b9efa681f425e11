package ledger

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"strconv"

	"github.com/fanfarehq/fanfare/internal/store"
)

// sqliteWriter runs batches on SQLite's one write connection. SQLite has a
// single writer, so nothing is locked: the write transaction is. Bulk
// statements pass their lists as JSON, or as multi-row INSERTs whose
// prepared statements stay cached from batch to batch.
type sqliteWriter struct {
	db *store.DB
	// groupSync: batches commit with synchronous=NORMAL and the
	// committer's sync loop fsyncs the WAL before answering.
	groupSync bool
	stmts     stmtCache
}

// bulkChunk is the most rows of one multi-row INSERT.
const bulkChunk = 100

// conn takes the write pool's only connection, which other writers use
// between batches.
func (w *sqliteWriter) conn(ctx context.Context) (*sql.Conn, error) { return w.db.Write.Conn(ctx) }

func (w *sqliteWriter) release(conn *sql.Conn, err error) { conn.Close() }

func (w *sqliteWriter) begin(ctx context.Context, conn *sql.Conn) (func(), error) {
	if !w.groupSync {
		return func() {}, nil
	}
	// The sync loop fsyncs the WAL before anyone is answered; every other
	// writer on this connection keeps synchronous=FULL.
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return nil, err
	}
	return func() { store.RestoreFullSync(ctx, conn) }, nil
}

func (w *sqliteWriter) lockHolds(ctx context.Context, tx *batchTx, ids []string) (*sql.Rows, error) {
	b, _ := json.Marshal(ids)
	return tx.QueryContext(ctx, `SELECT id, debit_account_id, credit_account_id, escrow_account_id, amount, state FROM holds
		WHERE id IN (SELECT value FROM json_each($1))`, string(b))
}

// shared is false: one process writes a SQLite database, one batch at a
// time.
func (w *sqliteWriter) shared() bool { return false }

func (w *sqliteWriter) lockAccounts(ctx context.Context, tx *batchTx, ids []int64, _ bool) (*sql.Rows, error) {
	return tx.QueryContext(ctx, `SELECT id, owner, asset, system, balance, frozen FROM accounts
		WHERE id IN (SELECT value FROM json_each($1))`, jsonInts(ids))
}

func (w *sqliteWriter) storedKeys(ctx context.Context, tx *batchTx, scopes, keys []string) (*sql.Rows, error) {
	pairs := make([][2]string, len(keys))
	for i := range keys {
		pairs[i] = [2]string{scopes[i], keys[i]}
	}
	b, _ := json.Marshal(pairs)
	return tx.QueryContext(ctx, `SELECT scope, key FROM idempotency_keys
		WHERE (scope, key) IN (SELECT value->>0, value->>1 FROM json_each($1))`, string(b))
}

func (w *sqliteWriter) addBalances(ctx context.Context, tx *batchTx, ids, deltas []int64) error {
	b := make([]byte, 0, 24*len(ids))
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, id, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, deltas[i], 10)
		b = append(b, ']')
	}
	b = append(b, ']')
	_, err := tx.ExecContext(ctx, `UPDATE accounts SET balance = balance + d.value->>1
		FROM json_each($1) AS d WHERE accounts.id = d.value->>0`, string(b))
	return err
}

func (w *sqliteWriter) insertTransfers(ctx context.Context, tx *batchTx, rows []transferRow, at int64) error {
	args := make([]driver.NamedValue, 0, 10*min(bulkChunk, len(rows)))
	for len(rows) > 0 {
		n := min(bulkChunk, len(rows))
		args = args[:0]
		for _, r := range rows[:n] {
			var hold any
			if r.holdID.Valid {
				hold = r.holdID.String
			}
			args = appendArgs(args, r.opID, int64(r.debit), int64(r.credit), r.amount, r.kind, r.object, r.actor, hold, r.flags, at)
		}
		if err := w.stmts.bulkExec(ctx, tx, `INSERT INTO transfers (`+transferCols+`) VALUES `, 10, n, "", args); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (w *sqliteWriter) addDays(ctx context.Context, tx *batchTx, table string, rows []dayRow, day, at int64) error {
	args := make([]driver.NamedValue, 0, 6*min(bulkChunk, len(rows)))
	for len(rows) > 0 {
		n := min(bulkChunk, len(rows))
		args = args[:0]
		for _, r := range rows[:n] {
			args = appendArgs(args, r.account, day, r.kind, r.credited, r.debited, r.lastCredit(at))
		}
		if err := w.stmts.bulkExec(ctx, tx, `INSERT INTO `+table+` (account_id, day, kind, credited, debited, last_credit_at) VALUES `, 6, n, sqlAddDaysUpdate[table], args); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (w *sqliteWriter) addSupporters(ctx context.Context, tx *batchTx, rows []supporterRow, at int64) error {
	args := make([]driver.NamedValue, 0, 8*min(bulkChunk, len(rows)))
	for len(rows) > 0 {
		n := min(bulkChunk, len(rows))
		args = args[:0]
		for _, r := range rows[:n] {
			args = appendArgs(args, r.account, r.payer, r.kind, r.coins, r.diamonds, r.ops, at, at)
		}
		if err := w.stmts.bulkExec(ctx, tx, `INSERT INTO account_supporters (account_id, payer_id, kind, coins, diamonds, ops, first_at, last_at) VALUES `,
			8, n, sqlAddSupportersUpdate, args); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (w *sqliteWriter) insertIdempotency(ctx context.Context, tx *batchTx, rows []idemRow, at int64, inserted map[[2]string]bool) error {
	args := make([]driver.NamedValue, 0, 5*min(bulkChunk, len(rows)))
	for len(rows) > 0 {
		n := min(bulkChunk, len(rows))
		args = args[:0]
		for _, r := range rows[:n] {
			args = appendArgs(args, r.scope, r.key, r.hash, r.result, at)
		}
		err := w.stmts.bulkQuery(ctx, tx, `INSERT INTO idempotency_keys (`+idemCols+`) VALUES `, 5, n,
			` ON CONFLICT (scope, key) DO NOTHING RETURNING scope, key`, args, func(row []driver.Value) {
				inserted[[2]string{asString(row[0]), asString(row[1])}] = true
			})
		if err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (w *sqliteWriter) close() error { return w.stmts.close(w.db) }

// jsonInts returns ids as a JSON array.
func jsonInts(ids []int64) string {
	b := make([]byte, 0, 12*len(ids)+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}
