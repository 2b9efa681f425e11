package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/jobs"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/subscription"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

const benchRenewalsSynopsis = `Usage: fanfare bench renewals [flags]

Renews --subscriptions subscriptions that all fall due at the same instant,
as serve does: each subscription has its renewal job in the job queue, and
the periodic sweep renews what is due in bulk (--sweep-workers at once);
every renewal pays through the wallet's spending path and the ledger, in the
transaction that records the period and schedules the next renewal. The
fans, the plan and the subscriptions' first periods are written straight
into a fresh database (a temporary SQLite file, or a new schema in the
PostgreSQL database given by --db, FANFARE_BENCH_POSTGRES or
FANFARE_TEST_POSTGRES) before the due instant; only the renewals are
measured. It then checks that each subscription was charged exactly once
(periods recorded, payments in the ledger, the fans' coins), runs "verify",
and prints one summary line:

  renewals sqlite: 100000 due at once, all charged in 18.0 s: 5566 renewals/s, the last 18.0 s after it fell due (job workers default, sweep every 10s, 512 at once; durable: WAL fsynced before answers in 575 fsyncs, journal_mode=wal, synchronous=FULL; exactly once: 100000 periods, 100000 payments; verify ok)

The target is all 100,000 charged within 60 s.`

func (c *BenchCommand) renewals(ctx context.Context, args []string) error {
	fs := newFlagSet("bench renewals", benchRenewalsSynopsis, c.stderr)
	storeName := fs.String("store", "sqlite", "sqlite or postgres")
	dbURL := fs.String("db", "", "database to run in (SQLite: a file URL; PostgreSQL: a server URL, a fresh schema is used)")
	n := fs.Int("subscriptions", 100_000, "subscriptions due at once")
	lead := fs.Duration("lead", 60*time.Second, "how long after the subscriptions are written they fall due: enough to insert their renewal jobs")
	workers := fs.Int("job-workers", 0, "job workers (0: serve's default, 4 on PostgreSQL, 2 on SQLite)")
	sweepEvery := fs.Duration("sweep-every", subscription.DefaultSweepInterval, "the renewal sweep's interval (serve's)")
	sweepWorkers := fs.Int("sweep-workers", subscription.DefaultSweepWorkers, "renewals the sweep runs at once")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	keep := fs.Bool("keep", false, "keep the database afterwards")
	quiet := fs.Bool("quiet", false, "no progress bar")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the renewals (setup excluded) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *n < 1 || *lead <= 0 || *sweepEvery <= 0 || *sweepWorkers < 1 {
		return errors.New("bench renewals: --subscriptions, --lead, --sweep-every and --sweep-workers must be positive")
	}
	u, cleanup, err := benchDB("bench renewals", *storeName, *dbURL, *keep)
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
	clock := fanfare.SystemClock{}
	q, err := jobs.New(db, jobs.Options{Workers: *workers, SweepEvery: *sweepEvery})
	if err != nil {
		return err
	}
	var syncs, batches atomic.Int64
	l, err := ledger.Open(ctx, db, ledger.Options{Clock: clock, Jobs: q,
		OnSync: func(uint64) { syncs.Add(1) }, Observer: batchCounter{&batches}})
	if err != nil {
		return err
	}
	defer l.Close()
	accounts := account.New(db, l, account.Options{Clock: clock, HashCost: account.MinHashCost})
	w := wallet.New(db, l, accounts, wallet.Options{Clock: clock, Limits: &wallet.Limits{}})
	rules, err := eligibility.New(db, clock, nil)
	if err != nil {
		return err
	}
	subs, err := subscription.New(db, l, accounts, w, rules, subscription.Options{Clock: clock, Scheduler: q,
		SweepInterval: *sweepEvery, SweepWorkers: *sweepWorkers})
	if err != nil {
		return err
	}
	subs.Register(q)

	fmt.Fprintf(c.stderr, "setting up %d subscriptions on %s...\n", *n, db.Dialect)
	bar := newProgress(c.stderr, "setup", *quiet)
	due, price, err := setupRenewals(ctx, db, l, q, accounts, subs, *n, *lead, func(done int) { bar.set(int64(done), int64(*n)) })
	bar.done()
	if err != nil {
		return err
	}
	if wait := time.Until(due); wait < 0 {
		return fmt.Errorf("bench renewals: the setup took longer than --lead (%s); give a longer one", *lead)
	}
	settings, err := readDurabilitySettings(ctx, db)
	if err != nil {
		return err
	}
	syncs0, batches0 := syncs.Load(), batches.Load()
	stopProfile, err := startCPUProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	if err := q.Start(ctx); err != nil {
		return err
	}
	stopQueue := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		q.Stop(sctx)
	}
	defer stopQueue()

	// Progress is read from the subscription revenue account's balance (one
	// row by its key: renewals only, see below), not by counting periods,
	// which would scan a table as large as the run every tick and slow
	// down what it measures.
	rev, err := l.SystemAccount(ctx, ledger.Revenue(subscription.Feature), fanfare.Coin)
	if err != nil {
		return err
	}
	bar = newProgress(c.stderr, "renewals", *quiet)
	var done int
	var finished time.Time
	for {
		acct, err := l.Account(ctx, rev)
		if err != nil {
			return err
		}
		done = int(acct.Balance / price)
		bar.set(int64(done), int64(*n))
		if done >= *n {
			finished = time.Now()
			break
		}
		if time.Since(due) > *timeout {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	bar.done()
	stopProfile()
	stopQueue()
	if err := l.Close(); err != nil {
		return err
	}
	durability := judgeDurability(db.Dialect, settings, db.Dialect == store.SQLite, syncs.Load()-syncs0, batches.Load()-batches0)
	var periods int
	if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscription_periods WHERE n >= 2`).Scan(&periods); err != nil {
		return err
	}
	// What reached the subscription revenue account: renewals only (the
	// fans' coins came from grants). Each fan holds two periods' coins, so
	// a period charged twice would show here.
	acct, err := l.Account(ctx, rev)
	if err != nil {
		return err
	}
	payments := int(acct.Balance / price)
	vr, err := verify(ctx, db, io.Discard, c.stderr, true)
	if err != nil {
		return err
	}
	verdict := "verify ok"
	if !vr.OK() {
		verdict = fmt.Sprintf("verify FAILED: %d problems", vr.ProblemCount)
	}
	once := periods == *n && acct.Balance == fanfare.Amount(*n)*price
	exact := fmt.Sprintf("exactly once: %d periods, %d payments", periods, payments)
	if !once {
		exact = fmt.Sprintf("NOT exactly once: %d periods, %s coins of payments, want %d of each", periods, acct.Balance.Grouped(), *n)
	}
	workersSaid := strconv.Itoa(*workers)
	if *workers == 0 {
		workersSaid = "default"
	}
	setting := fmt.Sprintf("job workers %s, sweep every %s, %d at once; %s", workersSaid, *sweepEvery, *sweepWorkers, durability)
	if finished.IsZero() {
		fmt.Fprintf(c.stdout, "renewals %s: %d due at once, only %d charged after %s (%s; %s; %s)\n",
			db.Dialect, *n, done, timeout.String(), setting, exact, verdict)
		return exitError(1)
	}
	took := finished.Sub(due)
	fmt.Fprintf(c.stdout, "renewals %s: %d due at once, all charged in %.1f s: %.0f renewals/s, the last %.1f s after it fell due (%s; %s; %s)\n",
		db.Dialect, *n, took.Seconds(), float64(*n)/took.Seconds(), took.Seconds(), setting, exact, verdict)
	if !once || !vr.OK() {
		return exitError(1)
	}
	return nil
}

// setupRenewals writes a creator with a one-tier plan, n funded fans and
// their subscriptions, every first period ending at the returned due time,
// each with its renewal job; it returns the due time and the price.
func setupRenewals(ctx context.Context, db *store.DB, l *ledger.Ledger, q *jobs.Queue, accounts *account.Service, subs *subscription.Service,
	n int, lead time.Duration, progress func(int)) (time.Time, fanfare.Amount, error) {
	const price = fanfare.Amount(100)
	operator := fanfare.Actor{Role: fanfare.RoleOperator}
	creator, err := accounts.Create(ctx, account.CreateInput{Handle: "bench_creator", Password: "bench-creator-password", Region: "TR", BirthDate: "1990-01-01"})
	if err != nil {
		return time.Time{}, 0, err
	}
	followers := int64(100_000)
	if _, err := accounts.Update(ctx, operator, creator.ID, account.UpdateInput{Followers: &followers}); err != nil {
		return time.Time{}, 0, err
	}
	plan, err := subs.SetPlan(ctx, fanfare.Actor{UserID: creator.ID, Handle: creator.Handle}, subscription.PlanInput{Enabled: true,
		Tiers: []subscription.TierInput{{Name: "Club", Price: price}}})
	if err != nil {
		return time.Time{}, 0, err
	}
	tier := plan.Tiers[0].ID
	promo, err := l.SystemAccount(ctx, ledger.Promotions, fanfare.Coin)
	if err != nil {
		return time.Time{}, 0, err
	}
	// Written due in a year; moved to now+lead once everything else is in.
	start := time.Now().UTC()
	due := start.AddDate(1, 0, 0)
	anchor := subscription.AddMonths(due, -1)
	const chunk = 500
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n)
		ids := make([]string, to-from)
		tx, err := db.Write.BeginTx(ctx, nil)
		if err != nil {
			return time.Time{}, 0, err
		}
		var users, subsRows, periods strings.Builder
		var uargs, sargs, pargs []any
		for i := from; i < to; i++ {
			id := fanfare.NewID(fanfare.SystemClock{})
			ids[i-from] = id
			k := len(uargs)
			if k > 0 {
				users.WriteString(", ")
				subsRows.WriteString(", ")
				periods.WriteString(", ")
			}
			fmt.Fprintf(&users, "($%d, $%d, $%d, '!', 'FR', '1990-01-01', 'personal', 0, 'good', 'fan', $%d, $%d)", k+1, k+2, k+2, k+3, k+3)
			uargs = append(uargs, id, "bench_fan_"+strconv.Itoa(i), start.UnixMicro())
			sid := "bench-sub-" + strconv.Itoa(i)
			m := len(sargs)
			fmt.Fprintf(&subsRows, "($%d, $%d, $%d, $%d, $%d, 5000, 'active', TRUE, $%d, 0, 1, $%d, $%d, $%d, $%d)",
				m+1, m+2, m+3, m+4, m+5, m+6, m+6, m+7, m+8, m+8)
			sargs = append(sargs, sid, id, creator.ID, tier, int64(price), anchor.UnixMicro(), due.UnixMicro(), start.UnixMicro())
			p := len(pargs)
			fmt.Fprintf(&periods, "($%d, 1, $%d, $%d, $%d, $%d, 'bench-setup', $%d, $%d)", p+1, p+2, p+3, p+4, p+5, p+6, p+7)
			pargs = append(pargs, sid, id, creator.ID, tier, int64(price), anchor.UnixMicro(), due.UnixMicro())
		}
		for _, st := range []struct {
			q    string
			args []any
		}{
			{`INSERT INTO users (id, handle, display_name, password_hash, region, birth_date, account_type, followers, standing, role,
				created_at, updated_at) VALUES ` + users.String(), uargs},
			{`INSERT INTO subscriptions (id, fan_id, creator_id, tier_id, price, share_bps, state, auto_renew, anchor, anchor_n, periods,
				period_start, period_end, created_at, updated_at) VALUES ` + subsRows.String(), sargs},
			{`INSERT INTO subscription_periods (subscription_id, n, fan_id, creator_id, tier_id, price, op_id, starts_at, ends_at)
				VALUES ` + periods.String(), pargs},
		} {
			if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
				tx.Rollback()
				return time.Time{}, 0, fmt.Errorf("bench renewals setup: %w", err)
			}
		}
		if err := tx.Commit(); err != nil {
			return time.Time{}, 0, err
		}
		// Each fan's coins, two periods' worth (a period charged twice would
		// show): one grant per chunk.
		accts, err := l.UserAccounts(ctx, ids, fanfare.Coin)
		if err != nil {
			return time.Time{}, 0, err
		}
		legs := make([]ledger.Leg, len(ids))
		for i, acct := range accts {
			legs[i] = ledger.Leg{Debit: promo, Credit: acct, Amount: 2 * price}
		}
		if _, err := l.Submit(ctx, ledger.Op{Kind: "grant", Object: "bench", Actor: "bench", Legs: legs}); err != nil {
			return time.Time{}, 0, err
		}

		progress(to / 2)
	}
	due = time.Now().UTC().Add(lead)
	anchor = subscription.AddMonths(due, -1)
	if _, err := db.Write.ExecContext(ctx, `UPDATE subscriptions SET anchor = $1, period_start = $1, period_end = $2`,
		anchor.UnixMicro(), due.UnixMicro()); err != nil {
		return time.Time{}, 0, err
	}
	if _, err := db.Write.ExecContext(ctx, `UPDATE subscription_periods SET starts_at = $1, ends_at = $2`,
		anchor.UnixMicro(), due.UnixMicro()); err != nil {
		return time.Time{}, 0, err
	}
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n)
		tx, err := db.Write.BeginTx(ctx, nil)
		if err != nil {
			return time.Time{}, 0, err
		}
		renewals := make([]store.Job, 0, to-from)
		for i := from; i < to; i++ {
			renewals = append(renewals, subscription.Renewal("bench-sub-"+strconv.Itoa(i), 1, due))
		}
		if err := q.InsertManyTx(ctx, tx, renewals); err != nil {
			tx.Rollback()
			return time.Time{}, 0, err
		}
		if err := tx.Commit(); err != nil {
			return time.Time{}, 0, err
		}
		progress(n/2 + to/2)
	}
	return due, price, nil
}
