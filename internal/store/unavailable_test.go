package store_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestIsUnavailable: the failures of a database gone away count, the
// failures of a request, or of what it asked, do not.
func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("commit batch: %w", err) }
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("something else"), false},
		{"unexpected EOF", wrap(io.ErrUnexpectedEOF), true},
		{"bad connection", wrap(driver.ErrBadConn), true},
		{"closed connection", wrap(fmt.Errorf("pgx: %w", pgconn.ErrConnClosed)), true},
		{"connection reset", wrap(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), true},
		{"broken pipe", wrap(syscall.EPIPE), true},
		{"admin shutdown", wrap(&pgconn.PgError{Severity: "FATAL", Code: "57P01"}), true},
		{"crash shutdown", wrap(&pgconn.PgError{Severity: "FATAL", Code: "57P02"}), true},
		{"cannot connect now", wrap(&pgconn.PgError{Severity: "FATAL", Code: "57P03"}), true},
		{"connection failure", wrap(&pgconn.PgError{Severity: "FATAL", Code: "08006"}), true},
		{"unique violation", wrap(&pgconn.PgError{Code: "23505"}), false},
		{"serialization failure", wrap(&pgconn.PgError{Code: "40001"}), false},
		{"query canceled", wrap(&pgconn.PgError{Code: "57014"}), false},
		{"joined with a connection loss", errors.Join(&pgconn.PgError{Code: "23505"}, io.ErrUnexpectedEOF), true},
		{"context canceled", wrap(context.Canceled), false},
		{"deadline", wrap(context.DeadlineExceeded), false},
		{"timeout reading", wrap(errors.Join(context.DeadlineExceeded, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("i/o timeout")})), false},
	} {
		if got := store.IsUnavailable(c.err); got != c.want {
			t.Errorf("IsUnavailable(%s: %v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// TestIsUnavailableRefused: a PostgreSQL server that is not there is
// unavailable, as pgx reports it.
func TestIsUnavailableRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = store.Open(context.Background(), "postgres://postgres@"+addr+"/postgres?sslmode=disable")
	if err == nil || !store.IsUnavailable(err) {
		t.Fatalf("open a closed port: IsUnavailable(%v) = false, want true", err)
	}
}

// TestIsUnavailableSQLiteBusy: a busy SQLite database waits for its
// writer; it is not unavailable.
func TestIsUnavailableSQLiteBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "busy.db")
	name := (&url.URL{Scheme: "file", Path: path}).String() + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(0)&_txlock=immediate"
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	if _, err := a.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	tx, err := a.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	_, err = b.ExecContext(ctx, `INSERT INTO t VALUES (2)`)
	if err == nil {
		t.Fatal("a second writer wrote while the first held the lock")
	}
	if store.IsUnavailable(err) {
		t.Fatalf("IsUnavailable(%v) = true, want false", err)
	}
}

// TestIsUnavailableTerminated: a session PostgreSQL ends is unavailable,
// and the pool dials a new one for the next query.
func TestIsUnavailableTerminated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.MustOpen(t, store.Postgres)
	conn, err := db.Write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pid int
	if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	var done bool
	if err := db.Read.QueryRowContext(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&done); err != nil || !done {
		t.Fatalf("terminate backend %d: %v, %v", pid, done, err)
	}
	_, err = conn.ExecContext(ctx, `SELECT 1`)
	if err == nil || !store.IsUnavailable(err) {
		t.Fatalf("query on a terminated session: IsUnavailable(%v) = false, want true", err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("ping after a terminated session: %v", err)
	}
}

// TestPipelineConnectionLost: a pipeline whose session PostgreSQL ends
// failed as a whole (index -1), not at one of its statements, which its
// caller would take for that statement's own failure.
func TestPipelineConnectionLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.MustOpen(t, store.Postgres)
	conn, err := db.Write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var pid int
	if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Read.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	at, err := db.Pipeline(ctx, conn, tx, []store.Stmt{{SQL: `SELECT 1`}, {SQL: `SELECT 2`}})
	if at != -1 || !store.IsUnavailable(err) {
		t.Fatalf("Pipeline on a terminated session = %d, %v; want -1 and an unavailable error", at, err)
	}
}
