// Package storetest opens real test databases of both dialects so that one
// suite of store-level tests runs against SQLite and PostgreSQL alike.
//
// PostgreSQL is reached through FANFARE_TEST_POSTGRES (a postgres:// URL);
// each test gets a schema of its own, dropped when it ends. Without that
// variable the PostgreSQL half is skipped, unless FANFARE_REQUIRE_POSTGRES or
// CI is set, in which case it fails: `make test` always provides a server.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/fanfarehq/fanfare/internal/store"
)

// PostgresURL returns the URL of the test PostgreSQL server, or "" when none
// is configured; in that case it fails tb if PostgreSQL is required.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("FANFARE_TEST_POSTGRES")
	if u == "" && (os.Getenv("FANFARE_REQUIRE_POSTGRES") != "" || os.Getenv("CI") != "") {
		tb.Fatal("FANFARE_TEST_POSTGRES is not set but PostgreSQL is required (run the tests with `make test`)")
	}
	return u
}

// Each runs fn once per dialect, as subtests named "sqlite" and "postgres",
// each with a fresh migrated database.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			fn(t, MustOpen(t, d))
		})
	}
}

// MustOpen returns a fresh, migrated database of dialect d, closed and
// removed when tb ends. It skips tb when PostgreSQL is not available and not
// required.
func MustOpen(tb testing.TB, d store.Dialect) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), URL(tb, d))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// URL returns the URL of a fresh, empty database of dialect d that lives as
// long as tb: a file in a temporary directory, or a new PostgreSQL schema.
func URL(tb testing.TB, d store.Dialect) string {
	tb.Helper()
	if d == store.SQLite {
		// Escaped: test names (and so temporary directories) may hold '#'.
		return (&url.URL{Scheme: "sqlite", Path: filepath.Join(tb.TempDir(), "fanfare.db")}).String()
	}
	base := PostgresURL(tb)
	if base == "" {
		tb.Skip("PostgreSQL not configured (FANFARE_TEST_POSTGRES); run `make test`")
	}
	schema := "t_" + randomHex(8)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		tb.Fatalf("create test schema: %v", err)
	}
	tb.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
