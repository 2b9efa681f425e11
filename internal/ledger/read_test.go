package ledger_test

import (
	"context"
	"database/sql"
	"maps"
	"testing"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestFrozenSQL reads a wallet's state with FrozenSQL in a query of one's
// own: frozen by the flag or by a balance below zero, not frozen otherwise
// or when there is no account.
func TestFrozenSQL(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 10)
		query := `SELECT ` + ledger.FrozenSQL("$1")
		// The same read by owner, over a table of users: UserFrozenSQL.
		byOwner := `SELECT ` + ledger.UserFrozenSQL("o.id", "$2") + ` FROM (SELECT CAST($1 AS TEXT) AS id) o`
		frozen := func(id ledger.AccountID) bool {
			t.Helper()
			var b, owned bool
			if err := db.Read.QueryRowContext(ctx, query, int64(id)).Scan(&b); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			owner := "nobody"
			if id == f.fanCoins {
				owner = "fan"
			}
			if err := db.Read.QueryRowContext(ctx, byOwner, owner, string(fanfare.Coin)).Scan(&owned); err != nil {
				t.Fatalf("%s: %v", byOwner, err)
			}
			if owned != b {
				t.Fatalf("UserFrozenSQL reads %v where FrozenSQL reads %v", owned, b)
			}
			return b
		}
		set := func(sql string) {
			t.Helper()
			if _, err := db.Write.ExecContext(ctx, sql, int64(f.fanCoins)); err != nil {
				t.Fatal(err)
			}
		}
		if frozen(f.fanCoins) {
			t.Errorf("a wallet holding 10 coins reads frozen")
		}
		if frozen(0) {
			t.Errorf("no account reads frozen")
		}
		set(`UPDATE accounts SET frozen = TRUE WHERE id = $1`)
		if !frozen(f.fanCoins) {
			t.Errorf("a frozen wallet reads not frozen")
		}
		set(`UPDATE accounts SET frozen = FALSE, balance = -5 WHERE id = $1`)
		if !frozen(f.fanCoins) {
			t.Errorf("a wallet below zero reads not frozen")
		}
	})
}

func TestFrozenSQLParam(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "3", "$0", "$1; DROP TABLE accounts", "?"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("FrozenSQL(%q) did not panic", p)
				}
			}()
			ledger.FrozenSQL(p)
		}()
	}
	for _, c := range [][2]string{{"u.id", "$1; --"}, {"u.id) OR (1=1", "$1"}, {"", "$2"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("UserFrozenSQL(%q, %q) did not panic", c[0], c[1])
				}
			}()
			ledger.UserFrozenSQL(c[0], c[1])
		}()
	}
}

// TestAmountsStored checks that the amounts an operation's Writes or Effect
// set on its result are stored with it: a replay answers them, not what
// the replaying request would set, and a refused operation stores its
// error alone.
func TestAmountsStored(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 100)
		first := map[string]fanfare.Amount{"coins": 30, "diamonds": 15, `odd "name"` + "\u00e9": -1}
		later := map[string]fanfare.Amount{"coins": 99, "diamonds": 0}
		byWrites := func(op ledger.Op, amounts map[string]fanfare.Amount) ledger.Op {
			op.Writes = func(r *ledger.Result) []ledger.Write {
				r.Amounts = maps.Clone(amounts)
				return nil
			}
			return op
		}
		byEffect := func(op ledger.Op, amounts map[string]fanfare.Amount) ledger.Op {
			op.Effect = func(_ context.Context, _ *sql.Tx, r *ledger.Result) error {
				r.Amounts = maps.Clone(amounts)
				return nil
			}
			return op
		}
		for key, set := range map[string]func(ledger.Op, map[string]fanfare.Amount) ledger.Op{"writes": byWrites, "effect": byEffect} {
			res, err := f.l.Submit(ctx, set(f.gift(f.fanCoins, 30, key), first))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(res.Amounts, first) {
				t.Fatalf("%s: Submit().Amounts = %v, want %v", key, res.Amounts, first)
			}
			again, err := f.l.Submit(ctx, set(f.gift(f.fanCoins, 30, key), later))
			if err != nil {
				t.Fatal(err)
			}
			if !again.Replayed || again.OpID != res.OpID || !maps.Equal(again.Amounts, first) {
				t.Fatalf("%s: replay = %+v, want op %s replayed with amounts %v", key, again, res.OpID, first)
			}
			stored, err := f.l.Replay(ctx, *f.gift(f.fanCoins, 30, key).Idem)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(stored.Amounts, first) {
				t.Fatalf("%s: Replay().Amounts = %v, want %v", key, stored.Amounts, first)
			}
		}
		if got := balance(t, f.l, f.fanCoins); got != 40 {
			t.Fatalf("Balance(fan) = %d, want 40 (two gifts of 30, replays moved nothing)", got)
		}

		// A write that fails after setting the amounts: the stored answer
		// is the error, without them.
		op := byWrites(f.gift(f.fanCoins, 5, "refused"), first)
		writes := op.Writes
		op.Writes = func(r *ledger.Result) []ledger.Write {
			return append(writes(r), ledger.Write{SQL: `UPDATE audit_log SET details = '{}' WHERE id = 'none'`,
				Fail: func(context.Context, *sql.Tx) error { return fanfare.Errorf(fanfare.EInvalidState, "refused") }})
		}
		_, err := f.l.Submit(ctx, op)
		wantCode(t, err, fanfare.EInvalidState)
		stored, err := f.l.Replay(ctx, *op.Idem)
		wantCode(t, err, fanfare.EInvalidState)
		if stored == nil || len(stored.Amounts) != 0 {
			t.Fatalf("Replay of a refused operation = %+v, want its error without amounts", stored)
		}
		mustVerify(t, f.l)
	})
}
