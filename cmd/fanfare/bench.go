package main

import (
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
	}
	return fmt.Errorf("bench: unknown workload %q (want ledger or live)", args[0])
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

  ledger sqlite: 61234 gifts/s, commit p50 1.2 ms p99 4.8 ms (200000 gifts, c=256, durable: WAL fsynced before answers in 812 fsyncs, journal_mode=wal, synchronous=FULL; verify ok)

The line says what made the answers durable, as read from the database: on
SQLite its journal_mode and synchronous setting and the WAL fsyncs the
committer made before answering; on PostgreSQL the server's
synchronous_commit and fsync. When they do not make every answer durable
it says "NOT durable" and why (e.g. "NOT durable: fsync=off").

--batch 1 commits every gift in its own transaction (no group commit), so the
gain of batching shows as the ratio of two runs.`

func (c *BenchCommand) ledger(ctx context.Context, args []string) error {
	fs := newFlagSet("bench ledger", benchLedgerSynopsis, c.stderr)
	storeName := fs.String("store", "sqlite", "sqlite or postgres")
	dbURL := fs.String("db", "", "database to run in (SQLite: a file URL; PostgreSQL: a server URL, a fresh schema is used)")
	fans := fs.Int("fans", 10000, "distinct fans")
	gifts := fs.Int("gifts", 200000, "gifts to send")
	conc := fs.Int("concurrency", 256, "concurrent senders")
	batch := fs.Int("batch", 1024, "most gifts per database transaction; 1 turns group commit off")
	coins := fs.Int64("coins", 5, "coins per gift")
	keep := fs.Bool("keep", false, "keep the database afterwards")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *fans < 1 || *gifts < 1 || *conc < 1 || *batch < 1 || *coins < 1 {
		return fmt.Errorf("bench ledger: --fans, --gifts, --concurrency, --batch and --coins must be positive")
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
	l, err := ledger.Open(ctx, db, ledger.Options{MaxBatch: *batch,
		OnSync: func(uint64) { syncs.Add(1) }, Observer: batchCounter{&batches}})
	if err != nil {
		return err
	}
	defer l.Close()

	cfg := ledgerbench.Config{Fans: *fans, Gifts: *gifts, Concurrency: *conc, Coins: fanfare.Amount(*coins)}
	fmt.Fprintf(c.stderr, "setting up %d funded fans on %s...\n", *fans, db.Dialect)
	w, err := ledgerbench.Setup(ctx, l, cfg)
	if err != nil {
		return err
	}
	// What makes the answers durable is read from the database itself, on
	// the connection the committer writes on (SQLite) or from the server.
	settings, err := ledgerbench.ReadSettings(ctx, db)
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
	durability := ledgerbench.Judge(db.Dialect, settings, groupSync, syncs.Load()-syncs0, batches.Load()-batches0)
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
