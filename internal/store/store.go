// Package store is the storage seam: it opens the embedded SQLite database or
// a PostgreSQL database from a URL, runs the embedded migrations of its
// dialect, and isolates the few places where the two SQL dialects differ.
//
// Another package may keep a line of migrations of its own (internal/jobs
// keeps River's) and register it with RegisterMigrations, as database/sql
// drivers register: Migrate then applies it after the store's,
// MigrationsPending counts it (so /readyz does) and MigrationStatus lists
// it, in every program that links that package.
//
// Queries are written once, with $1-style placeholders that both drivers
// accept; business rules never live here. It imports only the drivers, goose
// and the fanfare root package.
package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

func init() {
	// sha256_hex(text) is the hex SHA-256 of the text's UTF-8 bytes, on
	// every SQLite connection as in the PostgreSQL schema (migration
	// 00023 defines it there): the audit log's migration chains existing
	// entries with it.
	err := sqlite.RegisterDeterministicScalarFunction("sha256_hex", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		var b []byte
		switch v := args[0].(type) {
		case nil:
			return nil, nil
		case string:
			b = []byte(v)
		case []byte:
			b = v
		default:
			b = fmt.Append(nil, v)
		}
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:]), nil
	})
	if err != nil {
		panic("store: register sha256_hex: " + err.Error())
	}
}

// Dialect names a database engine.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

//go:embed migrations
var migrations embed.FS

// DB is an open database. On SQLite, Write is a single connection (SQLite has
// one writer; the ledger's committer and every other writer share it) and
// Read a pool of read-only connections. On PostgreSQL both are the same pool.
type DB struct {
	Dialect Dialect
	Write   *sql.DB
	Read    *sql.DB
	url     string

	// SQLite: the checkpointer's connection and lifecycle.
	cp            *sql.DB
	stop, stopped chan struct{}

	// SQLite: the WAL file, opened to fsync it (SyncWAL).
	walPath string
	walMu   sync.Mutex
	wal     *os.File

	// stmts and wstmts are ReadRow's and TxExec's prepared statements, by
	// query text.
	stmts, wstmts sync.Map
}

// checkpointInterval is how often the SQLite checkpointer looks at the WAL.
const checkpointInterval = 100 * time.Millisecond

// checkpointer copies the WAL back into the database file until Close, with
// passive checkpoints that never block the writer or the readers. Once a
// checkpoint has caught up, the next write starts the WAL over, so it stays
// small.
func (db *DB) checkpointer() {
	defer close(db.stopped)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			// A busy checkpoint is simply tried again at the next tick.
			db.cp.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}
}

// SyncWAL makes every transaction committed so far durable. On SQLite it
// fsyncs the write-ahead log, for writers that commit with
// synchronous=NORMAL and sync in a group afterwards; on PostgreSQL commits
// are already durable and it does nothing.
func (db *DB) SyncWAL() error {
	if db.Dialect != SQLite {
		return nil
	}
	db.walMu.Lock()
	defer db.walMu.Unlock()
	// SQLite may delete and recreate the WAL (when the last connection
	// closes): sync the file that is there now.
	if db.wal != nil {
		st, err1 := os.Stat(db.walPath)
		cur, err2 := db.wal.Stat()
		if err1 != nil || err2 != nil || !os.SameFile(st, cur) {
			db.wal.Close()
			db.wal = nil
		}
	}
	if db.wal == nil {
		f, err := os.OpenFile(db.walPath, os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			return nil // no WAL: everything is in the database file, synced
		} else if err != nil {
			return fmt.Errorf("open WAL: %w", err)
		}
		db.wal = f
	}
	if err := db.wal.Sync(); err != nil {
		return fmt.Errorf("fsync WAL: %w", err)
	}
	return nil
}

// Open opens the database at rawURL: "sqlite:///path/to/file.db" or
// "postgres://user@host:port/db?...". It does not run migrations.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "sqlite://"):
		return openSQLite(ctx, rawURL)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return openPostgres(ctx, rawURL)
	}
	return nil, fmt.Errorf("open database: unsupported URL %q (want sqlite:///path/file.db or postgres://...)", Redact(rawURL))
}

// SQLitePath returns the file path of a sqlite:// URL.
func SQLitePath(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("parse database URL: %w", err)
	}
	p := u.Path
	if u.Host != "" { // sqlite://relative/path.db
		p = u.Host + p
	}
	if p == "" {
		return "", errors.New("sqlite URL has no path")
	}
	return p, nil
}

func openSQLite(ctx context.Context, rawURL string) (*DB, error) {
	path, err := SQLitePath(rawURL)
	if err != nil {
		return nil, err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// SQLite reads the name as a file: URI: escape what URIs give meaning.
	name := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	pragmas := "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)" +
		"&_pragma=busy_timeout(10000)&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)"
	// The writer never checkpoints: copying the WAL back into the database
	// is the checkpointer's work, on a connection of its own (and so on the
	// other core), so that commits only append to the WAL.
	w, err := sql.Open("sqlite", name+"?"+pragmas+"&_pragma=wal_autocheckpoint(0)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", name+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db := &DB{Dialect: SQLite, Write: w, Read: r, url: rawURL, walPath: path + "-wal"}
	// The first connection creates the file and switches it to WAL.
	if err := w.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	cp, err := sql.Open("sqlite", name+"?"+pragmas)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	cp.SetMaxOpenConns(1)
	db.cp, db.stop, db.stopped = cp, make(chan struct{}), make(chan struct{})
	go db.checkpointer()
	return db, nil
}

// DefaultConnectTimeout bounds a PostgreSQL connection attempt when the
// URL sets no connect_timeout: a database host that stops answering, rather
// than refusing, fails a request as unavailable after it instead of
// holding it until the system's TCP timeout.
const DefaultConnectTimeout = 10 * time.Second

// postgresConfig parses a PostgreSQL URL, with DefaultConnectTimeout
// unless it sets its own connect_timeout.
func postgresConfig(rawURL string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse postgres URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	return cfg, nil
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	cfg, err := postgresConfig(rawURL)
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres %s: %w", Redact(rawURL), err)
	}
	return &DB{Dialect: Postgres, Write: db, Read: db, url: rawURL}, nil
}

// URL returns the URL db was opened with (its password included: see
// Redact for logs). Opening it again gives another handle on the same
// database, as another node of the same deployment holds.
func (db *DB) URL() string { return db.url }

// Close closes every connection.
func (db *DB) Close() error {
	if db.stop != nil {
		close(db.stop)
		<-db.stopped
		db.cp.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		db.cp.Close()
	}
	if db.wal != nil {
		db.wal.Close()
	}
	for _, m := range []*sync.Map{&db.stmts, &db.wstmts} {
		m.Range(func(_, st any) bool {
			st.(*sql.Stmt).Close()
			return true
		})
	}
	err := db.Write.Close()
	if db.Read != db.Write {
		err = errors.Join(err, db.Read.Close())
	}
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.Read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

func (db *DB) provider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.Dialect))
	if err != nil {
		return nil, err
	}
	d := goose.DialectSQLite3
	if db.Dialect == Postgres {
		d = goose.DialectPostgres
	}
	return goose.NewProvider(d, db.Write, sub)
}

// Migrations is a line of migrations kept by another package (River's, by
// internal/jobs), applied after the store's own.
type Migrations interface {
	// Up applies every pending migration of the line and returns how many
	// it applied.
	Up(ctx context.Context, db *DB) (int, error)
	// Pending reports whether migrations of the line remain to be applied.
	Pending(ctx context.Context, db *DB) (bool, error)
	// Status lists the line's migrations, one line each, with whether each
	// is applied.
	Status(ctx context.Context, db *DB) ([]string, error)
}

var extra struct {
	sync.Mutex
	lines []Migrations
}

// RegisterMigrations adds a line of migrations that Migrate,
// MigrationsPending and MigrationStatus handle after the store's own. A
// package registers its line once, from its init function.
func RegisterMigrations(m Migrations) {
	extra.Lock()
	defer extra.Unlock()
	extra.lines = append(extra.lines, m)
}

func extraMigrations() []Migrations {
	extra.Lock()
	defer extra.Unlock()
	return slices.Clone(extra.lines)
}

// Migrate applies every pending migration, the store's and then the
// registered lines', and returns how many it applied.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	p, err := db.provider()
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	n := len(res)
	for _, m := range extraMigrations() {
		k, err := m.Up(ctx, db)
		n += k
		if err != nil {
			return n, fmt.Errorf("migrate: %w", err)
		}
	}
	return n, nil
}

// MigrationsPending reports whether migrations remain to be applied, of the
// store or of a registered line.
func (db *DB) MigrationsPending(ctx context.Context) (bool, error) {
	p, err := db.provider()
	if err != nil {
		return false, fmt.Errorf("check migrations: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("check migrations: %w", err)
	}
	for _, m := range extraMigrations() {
		if pending {
			break
		}
		if pending, err = m.Pending(ctx, db); err != nil {
			return false, fmt.Errorf("check migrations: %w", err)
		}
	}
	return pending, nil
}

// MigrationStatus lists every migration with whether it is applied.
func (db *DB) MigrationStatus(ctx context.Context) ([]string, error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	var out []string
	for _, s := range st {
		out = append(out, fmt.Sprintf("%05d %-30s %s", s.Source.Version, filepath.Base(s.Source.Path), s.State))
	}
	for _, m := range extraMigrations() {
		lines, err := m.Status(ctx, db)
		if err != nil {
			return nil, fmt.Errorf("migration status: %w", err)
		}
		out = append(out, lines...)
	}
	return out, nil
}

// IsUniqueViolation reports whether err is a unique-constraint violation in
// either dialect.
func IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsDeadlock reports whether err is PostgreSQL breaking a deadlock
// (SQLSTATE 40P01): the transaction it ended may simply run again.
func IsDeadlock(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "40P01"
}

// Redact hides the password of a database URL for logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// ForUpdate returns the row-locking clause for a SELECT that reads rows it is
// about to change: empty on SQLite, where the write transaction already holds
// the database's only write lock.
func (db *DB) ForUpdate() string {
	if db.Dialect == Postgres {
		return " FOR NO KEY UPDATE"
	}
	return ""
}

// ReadRow runs a one-row query on the read pool through a prepared
// statement kept for the life of db: the hot paths' reads skip parsing
// their SQL again (the SQLite driver prepares every ad-hoc query anew).
// Use it for a fixed set of query texts, not for SQL built per call.
func (db *DB) ReadRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st, ok := db.stmts.Load(query); ok {
		return st.(*sql.Stmt).QueryRowContext(ctx, args...)
	}
	st, err := db.Read.PrepareContext(ctx, query)
	if err != nil {
		return db.Read.QueryRowContext(ctx, query, args...)
	}
	if prev, loaded := db.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		st = prev.(*sql.Stmt)
	}
	return st.QueryRowContext(ctx, args...)
}

// PrepareWrite prepares statements that hot writes run in their ledger
// operation's transaction (TxExec), once, outside any transaction: on
// SQLite the write pool's only connection is busy inside one, so a
// statement cannot be prepared there without waiting for itself. A
// statement that fails to prepare is simply run unprepared.
func (db *DB) PrepareWrite(ctx context.Context, queries ...string) {
	for _, q := range queries {
		if _, ok := db.wstmts.Load(q); ok {
			continue
		}
		st, err := db.Write.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		if _, loaded := db.wstmts.LoadOrStore(q, st); loaded {
			st.Close()
		}
	}
}

// TxExec runs a statement in tx, through its prepared statement when
// PrepareWrite prepared it (database/sql reuses it on the connection it was
// prepared on, and prepares it on another connection in place).
func (db *DB) TxExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if v, ok := db.wstmts.Load(query); ok {
		return tx.StmtContext(ctx, v.(*sql.Stmt)).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// RestoreFullSync sets an SQLite connection, taken from the write pool
// and switched to synchronous=NORMAL for a while, back to synchronous=FULL
// before it returns to the pool, where every other writer expects FULL. It
// runs even when ctx has ended. Should that fail, the connection is
// discarded (the pool opens a new one, at FULL), never handed on at
// NORMAL: a commit answered to a caller would not be on disk.
func RestoreFullSync(ctx context.Context, conn *sql.Conn) {
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = FULL`); err != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// LazyTx runs fn in a write transaction whose commit does not wait for the
// disk: on SQLite it commits with synchronous=NORMAL (the WAL is written,
// and fsynced by the next durable commit or checkpoint), on PostgreSQL with
// synchronous_commit off. A process crash loses nothing; a power loss may
// lose the last such commits, whole and in order, never a part of one. Use
// it for bookkeeping that is redone when lost (a delivery's lease, its
// attempt's record: the delivery is then made again), never for what an
// answer promises. On SQLite it keeps the write connection's fsync out of
// the way of the ledger's committer, which shares it.
func (db *DB) LazyTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	conn, err := db.Write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if db.Dialect == SQLite {
		if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
			return err
		}
		// Every other writer on this connection expects FULL.
		defer RestoreFullSync(ctx, conn)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if db.Dialect == Postgres {
		if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
