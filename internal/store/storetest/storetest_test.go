package storetest_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestConformance checks the behaviour both backends must share: migrations
// are applied and current, placeholders and unique violations behave alike.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		pending, err := db.MigrationsPending(ctx)
		if err != nil || pending {
			t.Fatalf("MigrationsPending = %v, %v; want false, nil", pending, err)
		}
		if n, err := db.Migrate(ctx); err != nil || n != 0 {
			t.Fatalf("second Migrate = %d, %v; want 0, nil", n, err)
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		ins := `INSERT INTO accounts (owner, asset, system, balance, frozen, created_at) VALUES ($1, $2, $3, 0, $4, $5)`
		if _, err := db.Write.ExecContext(ctx, ins, "u1", "COIN", false, false, 1); err != nil {
			t.Fatal(err)
		}
		_, err = db.Write.ExecContext(ctx, ins, "u1", "COIN", false, false, 2)
		if !store.IsUniqueViolation(err) {
			t.Fatalf("duplicate insert error = %v, want a unique violation", err)
		}
		var owner string
		var system bool
		err = db.Read.QueryRowContext(ctx, `SELECT owner, system FROM accounts WHERE asset = $1`, "COIN").Scan(&owner, &system)
		if err != nil || owner != "u1" || system {
			t.Fatalf("read back = %q, %v, %v", owner, system, err)
		}
	})
}

// TestLazyTx checks that a lazily committed transaction commits what fn
// wrote, rolls back on fn's error, and leaves the write connection as
// durable as before: synchronous=FULL on SQLite, synchronous_commit on for
// the next transaction on PostgreSQL.
func TestLazyTx(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ins := `INSERT INTO accounts (owner, asset, system, balance, frozen, created_at) VALUES ($1, 'COIN', false, 0, false, 1)`
		if err := db.LazyTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, ins, "kept")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		refused := errors.New("refused")
		if err := db.LazyTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, ins, "rolled-back"); err != nil {
				return err
			}
			return refused
		}); !errors.Is(err, refused) {
			t.Fatalf("LazyTx = %v, want fn's error", err)
		}
		var owners []string
		rs, err := db.Read.QueryContext(ctx, `SELECT owner FROM accounts WHERE asset = 'COIN' ORDER BY owner`)
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var o string
			if err := rs.Scan(&o); err != nil {
				t.Fatal(err)
			}
			owners = append(owners, o)
		}
		rs.Close()
		if len(owners) != 1 || owners[0] != "kept" {
			t.Fatalf("accounts = %v, want [kept]", owners)
		}
		// What the next writer on the connection gets.
		conn, err := db.Write.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var setting, want string
		if db.Dialect == store.SQLite {
			err, want = conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&setting), "2" // FULL
		} else {
			err, want = conn.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&setting), "on"
		}
		if err != nil || setting != want {
			t.Fatalf("durability after LazyTx = %q, %v; want %q", setting, err, want)
		}
	})
}
