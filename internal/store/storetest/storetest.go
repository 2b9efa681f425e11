// Package storetest opens real test databases of both dialects so that one
// suite of store-level tests runs against SQLite and PostgreSQL alike.
//
// PostgreSQL is reached through FANFARE_TEST_POSTGRES (a postgres:// URL);
// each migrated test database (MustOpen) is a database of its own, copied
// from a template the test process migrated once, and each empty one (URL)
// a schema of its own; both are dropped when the test ends. Without that
// variable the PostgreSQL half is skipped, unless FANFARE_REQUIRE_POSTGRES or
// CI is set, in which case it fails: `make test` always provides a server.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
//
// Migrating is the dearest part of a test's setup (a second or so under
// the race detector), so each test process migrates one template per
// dialect, the first time it is needed, and every database MustOpen
// returns is a copy of it: the template file's bytes written anew on
// SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL. The result is the
// same as migrating: the template is this process's migrations applied to
// an empty database.
func MustOpen(tb testing.TB, d store.Dialect) *store.DB {
	tb.Helper()
	var u string
	if d == store.SQLite {
		u = sqliteCopy(tb)
	} else {
		u = postgresCopy(tb)
	}
	db, err := store.Open(context.Background(), u)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Reopen returns another handle on db's database, closed when tb ends: on
// PostgreSQL, what a second node of the same deployment holds (its own
// pool, its own ledger committer). On SQLite it is a second writer on the
// same file, which waits for the first's lock: only PostgreSQL runs
// several nodes.
func Reopen(tb testing.TB, db *store.DB) *store.DB {
	tb.Helper()
	other, err := store.Open(context.Background(), db.URL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { other.Close() })
	return other
}

// The templates of this process, made once.
var templates struct {
	sqliteOnce sync.Once
	sqlite     []byte // the migrated database file
	sqliteErr  error

	postgresOnce sync.Once
	postgres     string // the template database's name
	postgresErr  error
}

// sqliteCopy returns the URL of a new file in tb's temporary directory
// holding a copy of the migrated template.
func sqliteCopy(tb testing.TB) string {
	tb.Helper()
	templates.sqliteOnce.Do(func() {
		templates.sqlite, templates.sqliteErr = migratedSQLite()
	})
	if templates.sqliteErr != nil {
		tb.Fatalf("migrate the SQLite template: %v", templates.sqliteErr)
	}
	u := URL(tb, store.SQLite)
	path, err := store.SQLitePath(u)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, templates.sqlite, 0o600); err != nil {
		tb.Fatal(err)
	}
	return u
}

// migratedSQLite migrates a database in a temporary file and returns the
// file's content: closing the database checkpoints its write-ahead log
// into the file, so the file holds everything.
func migratedSQLite() ([]byte, error) {
	dir, err := os.MkdirTemp("", "fanfare-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	db, err := store.Open(context.Background(), (&url.URL{Scheme: "sqlite", Path: path}).String())
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > 0 {
		return nil, fmt.Errorf("the template's write-ahead log still holds %d bytes after closing", st.Size())
	}
	return os.ReadFile(path)
}

// templatePrefix names the template databases on the test server: the
// prefix, the Unix time of its making, and a random suffix.
const templatePrefix = "fanfare_template_"

// postgresCopy returns the URL of a new database on the test server made
// from this process's migrated template, dropped when tb ends.
func postgresCopy(tb testing.TB) string {
	tb.Helper()
	base := PostgresURL(tb)
	if base == "" {
		tb.Skip("PostgreSQL not configured (FANFARE_TEST_POSTGRES); run `make test`")
	}
	templates.postgresOnce.Do(func() {
		templates.postgres, templates.postgresErr = migratedPostgres(base)
	})
	if templates.postgresErr != nil {
		tb.Fatalf("migrate the PostgreSQL template: %v", templates.postgresErr)
	}
	name := "t_" + randomHex(8)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name + " TEMPLATE " + templates.postgres); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	// Registered before MustOpen's Close, so it runs after it (cleanups
	// run last first).
	tb.Cleanup(func() { dropDatabase(base, name) })
	return withDatabase(base, name)
}

// migratedPostgres creates and migrates a template database and returns
// its name. It first drops the templates older than two hours that test
// processes left (a test process lives at most as long as go test's
// timeout).
func migratedPostgres(base string) (string, error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	rs, err := admin.Query(`SELECT datname FROM pg_database WHERE datname LIKE '` + templatePrefix + `%'`)
	if err != nil {
		return "", err
	}
	// The names carry the wall clock's time: other processes read it.
	now := time.Now()
	var stale []string
	for rs.Next() {
		var n string
		if err := rs.Scan(&n); err != nil {
			rs.Close()
			return "", err
		}
		var made int64
		if _, err := fmt.Sscanf(strings.TrimPrefix(n, templatePrefix), "%d_", &made); err == nil && now.Sub(time.Unix(made, 0)) > 2*time.Hour {
			stale = append(stale, n)
		}
	}
	rs.Close()
	for _, n := range stale {
		dropDatabase(base, n)
	}
	name := fmt.Sprintf("%s%d_%s", templatePrefix, now.Unix(), randomHex(4))
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		return "", err
	}
	db, err := store.Open(context.Background(), withDatabase(base, name))
	if err != nil {
		return "", err
	}
	_, err = db.Migrate(context.Background())
	// A template must have no connection left when it is copied.
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return name, err
}

// withDatabase returns the URL base with its database replaced by name.
func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

// dropDatabase drops the database name, closing whatever connection is
// still open to it.
func dropDatabase(base, name string) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return
	}
	defer admin.Close()
	admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
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
