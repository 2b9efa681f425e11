package ledger_test

import (
	"context"
	"testing"

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
		frozen := func(id ledger.AccountID) bool {
			t.Helper()
			var b bool
			if err := db.Read.QueryRowContext(ctx, query, int64(id)).Scan(&b); err != nil {
				t.Fatalf("%s: %v", query, err)
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
}
