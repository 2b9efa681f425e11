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

// TestRestoreFullSync checks that an SQLite write connection switched to
// synchronous=NORMAL goes back to the pool at FULL even when the caller's
// context has ended, and that one whose restore fails is discarded, not
// handed to the next writer.
func TestRestoreFullSync(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t, store.SQLite)
	synchronous := func() string {
		t.Helper()
		conn, err := db.Write.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var s string
		if err := conn.QueryRowContext(context.Background(), `PRAGMA synchronous`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	normal := func(ctx context.Context) *sql.Conn {
		t.Helper()
		conn, err := db.Write.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
			t.Fatal(err)
		}
		return conn
	}

	ctx, cancel := context.WithCancel(context.Background())
	conn := normal(ctx)
	cancel()
	store.RestoreFullSync(ctx, conn)
	conn.Close()
	if got := synchronous(); got != "2" {
		t.Fatalf("synchronous after a restore with an ended context = %s, want 2 (FULL)", got)
	}

	// A connection whose restore fails (SQLite refuses to change the
	// setting inside a transaction) is discarded: the pool opens a new
	// one, at FULL.
	conn = normal(context.Background())
	if _, err := conn.ExecContext(context.Background(), `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), `PRAGMA synchronous = FULL`); err == nil {
		t.Fatal("SQLite changed synchronous inside a transaction: this test no longer makes the restore fail")
	}
	store.RestoreFullSync(context.Background(), conn)
	conn.Close()
	if got := synchronous(); got != "2" {
		t.Fatalf("synchronous after a failed restore = %s, want 2 (FULL)", got)
	}
}

// TestCluster: a private cluster stops and starts again; while it is down
// a query fails as unavailable, and once it is back the same pool dials
// new connections, with every committed row kept, after a fast shutdown
// and after an immediate one alike.
func TestCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := storetest.StartCluster(t)
	db, err := store.Open(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Write.ExecContext(ctx, `CREATE TABLE kept (n int)`); err != nil {
		t.Fatal(err)
	}
	for i, stop := range []func(){c.Stop, c.Crash} {
		if _, err := db.Write.ExecContext(ctx, `INSERT INTO kept VALUES ($1)`, i); err != nil {
			t.Fatal(err)
		}
		stop()
		if err := db.Ping(ctx); err == nil || !store.IsUnavailable(err) {
			t.Fatalf("ping with the server stopped: IsUnavailable(%v) = false, want true", err)
		}
		c.Start()
		var n int
		if err := db.Read.QueryRowContext(ctx, `SELECT count(*) FROM kept`).Scan(&n); err != nil {
			t.Fatalf("query after the restart: %v", err)
		}
		if n != i+1 {
			t.Fatalf("rows after restart %d = %d, want %d", i+1, n, i+1)
		}
	}
}
