package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/jobs"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/ledger/ledgerbench"
	"github.com/fanfarehq/fanfare/internal/store"
)

// BenchCommand runs the load generators.
type BenchCommand struct {
	stdout, stderr io.Writer
}

const benchSynopsis = `Usage: fanfare bench <workload> [flags]

Workloads:
  ledger   gifts from many fans to one creator, straight into the ledger
  live     viewers watching one LIVE room while fans send it gifts over HTTP
  upload   a 200 MB video upload into the blob store over HTTP, and ranged reads
  renewals 100,000 subscriptions renewed at the same instant, by the job queue
  earnings a creator's earnings and supporter list over a year of 1,000,000 transfers

Run "fanfare bench <workload> --help" for its flags.`

// Run dispatches to a workload.
func (c *BenchCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(c.stderr, benchSynopsis)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return nil
		}
		return exitError(2)
	}
	switch args[0] {
	case "ledger":
		return c.ledger(ctx, args[1:])
	case "live":
		return c.live(ctx, args[1:])
	case "upload":
		return c.upload(ctx, args[1:])
	case "renewals":
		return c.renewals(ctx, args[1:])
	case "earnings":
		return c.earnings(ctx, args[1:])
	case "s3-fake":
		// The S3 server of "bench upload --s3-fake", run as its child.
		return c.s3Fake(ctx, args[1:])
	}
	return fmt.Errorf("bench: unknown workload %q (want ledger, live, upload, renewals or earnings)", args[0])
}

const benchLedgerSynopsis = `Usage: fanfare bench ledger [flags]

Sends --gifts gifts from --fans fans to one creator through the ledger's
batching committer, from --concurrency goroutines. A gift has the ledger
shape of a LIVE gift: the fan's coins go to gift revenue and the creator
receives floor(coins x 5000 / 10000) diamonds, with an idempotency record.
It runs on a fresh database (a temporary SQLite file, or a new schema in the
PostgreSQL database given by --db, FANFARE_BENCH_POSTGRES or
FANFARE_TEST_POSTGRES) that it removes afterwards, runs "verify" on the
result, and ends with one summary line:

  ledger sqlite: 24504 gifts/s, commit p50 9.8 ms p99 23.6 ms (200000 gifts, c=256, durable: WAL fsynced before answers in 1624 fsyncs, journal_mode=wal, synchronous=FULL; verify ok)

The line says what made the answers durable, as read from the database: on
SQLite its journal_mode and synchronous setting and the WAL fsyncs the
committer made before answering; on PostgreSQL the server's
synchronous_commit and fsync. When they do not make every answer durable
it says "NOT durable" and why (e.g. "NOT durable: fsync=off").

--batch 1 commits every gift in its own transaction (no group commit), so the
gain of batching shows as the ratio of two runs; it keeps one transaction
in flight at a time. On PostgreSQL --lanes 1 keeps one batch in flight at a
time instead of two, likewise.`

func (c *BenchCommand) ledger(ctx context.Context, args []string) error {
	fs := newFlagSet("bench ledger", benchLedgerSynopsis, c.stderr)
	storeName := fs.String("store", "sqlite", "sqlite or postgres")
	dbURL := fs.String("db", "", "database to run in (SQLite: a file URL; PostgreSQL: a server URL, a fresh schema is used)")
	fans := fs.Int("fans", 10000, "distinct fans")
	gifts := fs.Int("gifts", 200000, "gifts to send")
	conc := fs.Int("concurrency", 256, "concurrent senders")
	batch := fs.Int("batch", 1024, "most gifts per database transaction; 1 turns group commit off")
	coins := fs.Int64("coins", 5, "coins per gift")
	lanes := fs.Int("lanes", 2, "PostgreSQL: batches in flight at once, each on its own connection (SQLite has one writer: 1)")
	keep := fs.Bool("keep", false, "keep the database afterwards")
	quiet := fs.Bool("quiet", false, "no progress bar")
	withJobs := fs.Bool("jobs", true, "run the background job queue on the same database while sending, as serve does (false: no queue, to measure what it costs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *fans < 1 || *gifts < 1 || *conc < 1 || *batch < 1 || *coins < 1 || *lanes < 1 {
		return fmt.Errorf("bench ledger: --fans, --gifts, --concurrency, --batch, --coins and --lanes must be positive")
	}
	u, cleanup, err := benchDB("bench ledger", *storeName, *dbURL, *keep)
	if err != nil {
		return err
	}
	defer cleanup()
	db, err := store.Open(ctx, u)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	var syncs, batches atomic.Int64
	l, err := ledger.Open(ctx, db, ledger.Options{MaxBatch: *batch, Lanes: *lanes,
		OnSync: func(uint64) { syncs.Add(1) }, Observer: batchCounter{&batches}})
	if err != nil {
		return err
	}
	defer l.Close()
	if *withJobs {
		stop, err := startBenchJobs(ctx, db)
		if err != nil {
			return err
		}
		defer stop()
	}

	cfg := ledgerbench.Config{Fans: *fans, Gifts: *gifts, Concurrency: *conc, Coins: fanfare.Amount(*coins)}
	fmt.Fprintf(c.stderr, "setting up %d funded fans on %s...\n", *fans, db.Dialect)
	w, err := ledgerbench.Setup(ctx, l, cfg)
	if err != nil {
		return err
	}
	// What makes the answers durable is read from the database itself, on
	// the connection the committer writes on (SQLite) or from the server.
	settings, err := readDurabilitySettings(ctx, db)
	if err != nil {
		return err
	}
	syncs0, batches0 := syncs.Load(), batches.Load()
	bar := newProgress(c.stderr, "gifts", *quiet)
	cfg.Progress = func(done int) { bar.set(int64(done), int64(*gifts)) }
	s, err := ledgerbench.Run(ctx, l, w, cfg, "bench-"+time.Now().UTC().Format("150405.000000"))
	bar.done()
	if err != nil {
		return err
	}
	if err := l.Close(); err != nil {
		return err
	}
	// The committer fsyncs the WAL itself on SQLite with group commit.
	groupSync := db.Dialect == store.SQLite && *batch > 1
	durability := judgeDurability(db.Dialect, settings, groupSync, syncs.Load()-syncs0, batches.Load()-batches0)
	vr, err := verify(ctx, db, io.Discard, c.stderr, true)
	if err != nil {
		return err
	}
	verdict := "verify ok"
	if !vr.OK() {
		verdict = fmt.Sprintf("verify FAILED: %d problems", vr.ProblemCount)
	}
	mode := ""
	if *batch == 1 {
		mode = ", batch=1"
	}
	if db.Dialect == store.Postgres && *batch > 1 {
		mode += fmt.Sprintf(", lanes=%d", *lanes)
	}
	if !*withJobs {
		mode += ", no jobs"
	}
	failed := ""
	if s.Failed > 0 {
		failed = fmt.Sprintf(", %d failed", s.Failed)
	}
	fmt.Fprintf(c.stdout, "ledger %s: %.0f gifts/s, commit p50 %s p99 %s (%d gifts, c=%d%s%s, %s; %s)\n",
		db.Dialect, s.GiftsPerSec, fmtMS(s.CommitP50), fmtMS(s.CommitP99), s.Gifts, *conc, mode, failed, durability, verdict)
	if !vr.OK() || s.Failed > 0 {
		return exitError(1)
	}
	return nil
}

// startBenchJobs starts a job queue on db as serve runs one, with a
// periodic sweep that reads the database, and returns its stop.
func startBenchJobs(ctx context.Context, db *store.DB) (stop func(), err error) {
	q, err := jobs.New(db, jobs.Options{})
	if err != nil {
		return nil, err
	}
	q.Every("bench.sweep", 0, func(ctx context.Context) error {
		var n int
		return db.Read.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&n)
	})
	if err := q.Start(ctx); err != nil {
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	}, nil
}

// batchCounter counts the committer's batches.
type batchCounter struct{ n *atomic.Int64 }

func (b batchCounter) BatchCommitted(int, int, time.Duration) { b.n.Add(1) }

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

// benchDB returns the URL of a fresh database for a benchmark and a
// function that removes it.
func benchDB(cmd, kind, given string, keep bool) (string, func(), error) {
	switch kind {
	case "sqlite":
		if given != "" {
			return given, func() {}, nil
		}
		dir, err := os.MkdirTemp("", "fanfare-bench-")
		if err != nil {
			return "", nil, err
		}
		cleanup := func() {
			if keep {
				fmt.Fprintln(os.Stderr, "kept", dir)
				return
			}
			os.RemoveAll(dir)
		}
		return "sqlite://" + filepath.Join(dir, "bench.db"), cleanup, nil
	case "postgres":
		base := cmpOr(given, cmpOr(os.Getenv("FANFARE_BENCH_POSTGRES"), os.Getenv("FANFARE_TEST_POSTGRES")))
		if base == "" {
			return "", nil, fmt.Errorf("%s --store postgres needs a server: --db postgres://... (or FANFARE_BENCH_POSTGRES)", cmd)
		}
		b := make([]byte, 6)
		rand.Read(b)
		schema := "bench_" + hex.EncodeToString(b)
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return "", nil, err
		}
		if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
			admin.Close()
			return "", nil, fmt.Errorf("create bench schema: %w", err)
		}
		cleanup := func() {
			defer admin.Close()
			if keep {
				fmt.Fprintln(os.Stderr, "kept schema", schema)
				return
			}
			admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		}
		u, err := url.Parse(base)
		if err != nil {
			cleanup()
			return "", nil, err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), cleanup, nil
	}
	return "", nil, fmt.Errorf("%s: --store must be sqlite or postgres, not %q", cmd, kind)
}

// benchSetting is a setting as read from the database.
type benchSetting struct {
	Name, Value string
}

func (s benchSetting) String() string { return s.Name + "=" + s.Value }

// durability says whether a run's commits were durable when they were
// answered, from the database's own settings and from the syncs the
// committer reported (ledger.Options.OnSync).
type durability struct {
	Dialect  store.Dialect
	Settings []benchSetting
	// GroupSync: batches commit without waiting for the disk and the
	// committer fsyncs the WAL before answering them (SQLite with group
	// commit).
	GroupSync bool
	Syncs     int64 // syncs the committer reported during the run
	Batches   int64 // batches it committed
	Durable   bool
	// Why lists what makes the run not durable, e.g. "fsync=off".
	Why []string
}

// readDurabilitySettings reads the settings that decide the durability
// of db's commits: on SQLite journal_mode and synchronous, from the write
// connection the committer uses; on PostgreSQL synchronous_commit and
// fsync, from the server.
func readDurabilitySettings(ctx context.Context, db *store.DB) ([]benchSetting, error) {
	var names []string
	var query func(name string) string
	switch db.Dialect {
	case store.SQLite:
		names = []string{"journal_mode", "synchronous"}
		query = func(name string) string { return "PRAGMA " + name }
	case store.Postgres:
		names = []string{"synchronous_commit", "fsync"}
		query = func(name string) string { return "SHOW " + name }
	default:
		return nil, fmt.Errorf("read durability settings: unknown dialect %q", db.Dialect)
	}
	conn, err := db.Write.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("read durability settings: %w", err)
	}
	defer conn.Close()
	var out []benchSetting
	for _, n := range names {
		var v string
		if err := conn.QueryRowContext(ctx, query(n)).Scan(&v); err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		if db.Dialect == store.SQLite && n == "synchronous" {
			v = sqliteSynchronous(v)
		}
		out = append(out, benchSetting{n, strings.ToLower(v)})
	}
	return out, nil
}

// sqliteSynchronous names PRAGMA synchronous's number.
func sqliteSynchronous(v string) string {
	switch v {
	case "0":
		return "off"
	case "1":
		return "normal"
	case "2":
		return "full"
	case "3":
		return "extra"
	}
	return v
}

// judgeDurability decides whether a run was durable from what was read
// and counted:
//   - SQLite: the journal is the WAL, synchronous is FULL (or EXTRA) for
//     every commit that does not go through the committer's own sync, and
//     the committer reported its syncs: with group commit (groupSync) it
//     commits at NORMAL and fsyncs the WAL before answering; without, each
//     commit waits for the disk itself;
//   - PostgreSQL: fsync is on and synchronous_commit is not off (a COMMIT
//     then returns once its WAL is flushed on the server).
//
// A run that committed batches but reported no sync is not durable.
func judgeDurability(d store.Dialect, settings []benchSetting, groupSync bool, syncs, batches int64) durability {
	r := durability{Dialect: d, Settings: settings, GroupSync: groupSync, Syncs: syncs, Batches: batches}
	get := func(name string) string {
		for _, s := range settings {
			if s.Name == name {
				return s.Value
			}
		}
		return ""
	}
	want := func(name string, ok bool) {
		if !ok {
			r.Why = append(r.Why, benchSetting{name, cmp.Or(get(name), "unknown")}.display())
		}
	}
	switch d {
	case store.SQLite:
		want("journal_mode", get("journal_mode") == "wal")
		s := get("synchronous")
		want("synchronous", s == "full" || s == "extra")
	case store.Postgres:
		want("fsync", get("fsync") == "on")
		s := get("synchronous_commit")
		want("synchronous_commit", s != "" && s != "off")
	default:
		r.Why = append(r.Why, "unknown store "+string(d))
	}
	if batches > 0 && syncs == 0 {
		r.Why = append(r.Why, "no sync reported by the committer")
	}
	r.Durable = len(r.Why) == 0
	return r
}

// String is the durability part of the summary line, e.g.
// "durable: WAL fsynced before answers in 812 fsyncs, journal_mode=wal,
// synchronous=FULL", "durable: synchronous_commit=on, fsync=on" or
// "NOT durable: fsync=off" (only what makes it not durable).
func (r durability) String() string {
	if !r.Durable {
		return "NOT durable: " + strings.Join(r.Why, ", ")
	}
	var b strings.Builder
	b.WriteString("durable: ")
	if r.Dialect == store.SQLite {
		if r.GroupSync {
			fmt.Fprintf(&b, "WAL fsynced before answers in %d fsyncs, ", r.Syncs)
		} else {
			b.WriteString("each commit fsynced before its answer, ")
		}
	}
	for i, s := range r.Settings {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.display())
	}
	return b.String()
}

// display shows SQLite's synchronous level in capitals, as its
// documentation names it.
func (s benchSetting) display() string {
	if s.Name == "synchronous" {
		return s.Name + "=" + strings.ToUpper(s.Value)
	}
	return s.String()
}
