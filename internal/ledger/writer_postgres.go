package ledger

import (
	"context"
	"database/sql"
	"errors"

	"github.com/fanfarehq/fanfare/internal/store"
)

// postgresWriter runs batches on PostgreSQL, where several processes may
// run committers on one database: each batch locks its holds and then its
// accounts in id order (FOR NO KEY UPDATE) before reading them, so batches
// of different nodes serialize per account and cannot deadlock. Lists pass
// as arrays, each bulk statement in one round trip.
type postgresWriter struct {
	db *store.DB
	// own is the committer's own connection, so that a batch never waits
	// for the pool the requests' reads share.
	own *sql.Conn
}

func (w *postgresWriter) conn(ctx context.Context) (*sql.Conn, error) {
	if w.own == nil {
		conn, err := w.db.Write.Conn(ctx)
		if err != nil {
			return nil, err
		}
		w.own = conn
	}
	return w.own, nil
}

// release keeps the committer's own connection unless the batch failed for
// another reason than its operations: it may be broken, and the next batch
// starts on a fresh one.
func (w *postgresWriter) release(conn *sql.Conn, err error) {
	if conn == w.own && (err == nil || errors.Is(err, errRaced) || errors.Is(err, errEffectFailed) || store.IsDeadlock(err)) {
		return
	}
	conn.Close()
	if conn == w.own {
		w.own = nil
	}
}

// begin needs nothing: a commit is as durable as the server's settings
// make it (synchronous_commit, fsync).
func (w *postgresWriter) begin(ctx context.Context, conn *sql.Conn) (func(), error) {
	return func() {}, nil
}

func (w *postgresWriter) lockHolds(ctx context.Context, tx *batchTx, ids []string) (*sql.Rows, error) {
	return tx.QueryContext(ctx, `SELECT id, debit_account_id, credit_account_id, escrow_account_id, amount, state FROM holds
		WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids)
}

func (w *postgresWriter) shared() bool { return true }

func (w *postgresWriter) lockAccounts(ctx context.Context, tx *batchTx, ids []int64, lock bool) (*sql.Rows, error) {
	if !lock {
		return tx.QueryContext(ctx, `SELECT id, owner, asset, system, balance, frozen FROM accounts WHERE id = ANY($1)`, ids)
	}
	return tx.QueryContext(ctx, `SELECT id, owner, asset, system, balance, frozen FROM accounts
		WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids)
}

// sqlLockLast locks the accounts a batch credits last, in id order, at the
// head of its last round trip.
const sqlLockLast = `SELECT count(*) FROM (SELECT 1 FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE) AS locked`

// storedKeys probes the index once per key, whatever the plan cache thinks
// of the table's size (a semi-join planned while it was small scans it).
func (w *postgresWriter) storedKeys(ctx context.Context, tx *batchTx, scopes, keys []string) (*sql.Rows, error) {
	return tx.QueryContext(ctx, `SELECT u.scope, u.key FROM unnest($1::text[], $2::text[]) AS u (scope, key),
			LATERAL (SELECT 1 FROM idempotency_keys k WHERE k.scope = u.scope AND k.key = u.key LIMIT 1) AS found`, scopes, keys)
}

func (w *postgresWriter) addBalances(ctx context.Context, tx *batchTx, ids, deltas []int64) error {
	if tx.last != nil {
		// Some were read unlocked: lock them all, in id order, first.
		if err := tx.exec(ctx, sqlLockLast, ids); err != nil {
			return err
		}
	}
	return tx.exec(ctx, `UPDATE accounts AS a SET balance = a.balance + d.delta
			FROM unnest($1::bigint[], $2::bigint[]) AS d(id, delta) WHERE a.id = d.id`, ids, deltas)
}

func (w *postgresWriter) insertTransfers(ctx context.Context, tx *batchTx, rows []transferRow, at int64) error {
	n := len(rows)
	opIDs, kinds, objects, actors := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	debits, credits, amounts, flags := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	holdIDs := make([]*string, n)
	for i, r := range rows {
		opIDs[i], kinds[i], objects[i], actors[i] = r.opID, r.kind, r.object, r.actor
		debits[i], credits[i], amounts[i], flags[i] = int64(r.debit), int64(r.credit), r.amount, r.flags
		if r.holdID.Valid {
			s := r.holdID.String
			holdIDs[i] = &s
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO transfers (`+transferCols+`)
			SELECT o, d, c, a, k, ob, ac, h, f, $10 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],
				$5::text[], $6::text[], $7::text[], $8::text[], $9::smallint[]) AS t(o, d, c, a, k, ob, ac, h, f)`,
		opIDs, debits, credits, amounts, kinds, objects, actors, holdIDs, flags, at)
	return err
}

func (w *postgresWriter) addDays(ctx context.Context, tx *batchTx, table string, rows []dayRow, day, at int64) error {
	n := len(rows)
	accounts, credited, debited, kinds := make([]int64, n), make([]int64, n), make([]int64, n), make([]string, n)
	for i, r := range rows {
		accounts[i], kinds[i], credited[i], debited[i] = r.account, r.kind, r.credited, r.debited
	}
	return tx.exec(ctx, `INSERT INTO `+table+` (account_id, day, kind, credited, debited, last_credit_at)
			SELECT a, $2, k, c, d, CASE WHEN c > 0 THEN $6::bigint END
			FROM unnest($1::bigint[], $3::text[], $4::bigint[], $5::bigint[]) AS t(a, k, c, d)`+sqlAddDaysUpdate[table],
		accounts, day, kinds, credited, debited, at)
}

func (w *postgresWriter) addSupporters(ctx context.Context, tx *batchTx, rows []supporterRow, at int64) error {
	n := len(rows)
	accounts, payers, coins, diamonds, ops, kinds := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]string, n)
	for i, r := range rows {
		accounts[i], payers[i], kinds[i], coins[i], diamonds[i], ops[i] = r.account, r.payer, r.kind, r.coins, r.diamonds, r.ops
	}
	return tx.exec(ctx, `INSERT INTO account_supporters (account_id, payer_id, kind, coins, diamonds, ops, first_at, last_at)
			SELECT a, p, k, c, d, o, $7, $7 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[]) AS t(a, p, k, c, d, o)`+sqlAddSupportersUpdate,
		accounts, payers, kinds, coins, diamonds, ops, at)
}

func (w *postgresWriter) insertIdempotency(ctx context.Context, tx *batchTx, rows []idemRow, at int64, inserted map[[2]string]bool) error {
	n := len(rows)
	scopes, keys, hashes, results := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, r := range rows {
		scopes[i], keys[i], hashes[i], results[i] = r.scope, r.key, r.hash, r.result
	}
	rs, err := tx.QueryContext(ctx, `INSERT INTO idempotency_keys (`+idemCols+`)
			SELECT s, k, h, r, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(s, k, h, r)
			ON CONFLICT (scope, key) DO NOTHING RETURNING scope, key`, scopes, keys, hashes, results, at)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var k [2]string
		if err := rs.Scan(&k[0], &k[1]); err != nil {
			return err
		}
		inserted[k] = true
	}
	return rs.Err()
}

func (w *postgresWriter) close() error {
	if w.own != nil {
		w.own.Close()
		w.own = nil
	}
	return nil
}
