package jobs_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/jobs"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// fast are options that make a test's jobs start within a fraction of a
// second.
var fast = jobs.Options{PollInterval: 50 * time.Millisecond, JobTimeout: 10 * time.Second}

// setup returns a queue on db with fast options, stopped when t ends.
func setup(t *testing.T, db *store.DB) *jobs.Queue {
	t.Helper()
	q, err := jobs.New(db, fast)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, q.Stop(ctx))
	})
	return q
}

// recorder collects what a test's handlers saw.
type recorder struct {
	mu   sync.Mutex
	runs []string
	at   []time.Time
}

func (r *recorder) handle(_ context.Context, args json.RawMessage) error {
	var a struct{ Name string }
	if err := json.Unmarshal(args, &a); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, a.Name)
	r.at = append(r.at, time.Now())
	return nil
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.runs...)
}

// eventually waits up to d for cond.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jobCount returns how many of River's jobs are of kind.
func jobCount(t *testing.T, db *store.DB, kind string) int {
	t.Helper()
	var n int
	require.NoError(t, db.Read.QueryRow(`SELECT count(*) FROM river_job WHERE kind = $1`, kind).Scan(&n))
	return n
}

type nameArgs struct{ Name string }

// A job inserted in a committed transaction runs, with its arguments; one
// inserted in a transaction rolled back never exists.
func TestInsertTx(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q := setup(t, db)
		var rec recorder
		q.Handle("test.hello", rec.handle)
		require.NoError(t, q.Start(ctx))

		tx, err := db.Write.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, q.InsertTx(ctx, tx, "test.hello", nameArgs{"rolled back"}, time.Time{}))
		require.NoError(t, tx.Rollback())

		tx, err = db.Write.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, q.InsertTx(ctx, tx, "test.hello", nameArgs{"committed"}, time.Time{}))
		require.NoError(t, tx.Commit())
		require.NoError(t, q.Insert(ctx, "test.hello", nameArgs{"alone"}, time.Time{}))

		eventually(t, 10*time.Second, "both committed jobs ran", func() bool { return len(rec.names()) == 2 })
		time.Sleep(200 * time.Millisecond) // several polls: the rolled-back job would have run
		require.ElementsMatch(t, []string{"committed", "alone"}, rec.names())
		require.Equal(t, 2, jobCount(t, db, "test.hello"), "jobs in river_job")
	})
}

// A job inserted by a ledger operation's Effect exists once the operation
// commits and runs once; an operation that fails leaves no job behind.
func TestInsertInLedgerEffect(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, err := ledger.Open(ctx, db, ledger.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		promo, err := l.SystemAccount(ctx, "promo", fanfare.Coin)
		require.NoError(t, err)
		fan, err := l.UserAccount(ctx, "fan", fanfare.Coin)
		require.NoError(t, err)

		q := setup(t, db)
		var rec recorder
		q.Handle("test.deadline", rec.handle)
		require.NoError(t, q.Start(ctx))

		grant := func(name string, fail bool) error {
			_, err := l.Submit(ctx, ledger.Op{
				Kind: "grant", Object: "test", Actor: "ops",
				Legs: []ledger.Leg{{Debit: promo, Credit: fan, Amount: 5}},
				Idem: &ledger.Idempotency{Scope: "ops", Key: name, Hash: name},
				Effect: func(ctx context.Context, tx *sql.Tx, _ *ledger.Result) error {
					if err := q.InsertTx(ctx, tx, "test.deadline", nameArgs{name}, time.Time{}); err != nil {
						return err
					}
					if fail {
						return fanfare.Errorf(fanfare.EInvalid, "refused after the job was inserted")
					}
					return nil
				},
			})
			return err
		}
		require.Error(t, grant("failed", true))
		require.NoError(t, grant("committed", false))

		eventually(t, 10*time.Second, "the committed operation's job ran", func() bool { return len(rec.names()) == 1 })
		time.Sleep(300 * time.Millisecond)
		require.Equal(t, []string{"committed"}, rec.names())
		require.Equal(t, 1, jobCount(t, db, "test.deadline"), "jobs in river_job")
	})
}

// A job scheduled for later does not run before its time, and runs after.
func TestScheduled(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q := setup(t, db)
		var rec recorder
		q.Handle("test.later", rec.handle)
		require.NoError(t, q.Start(ctx))
		at := time.Now().Add(1500 * time.Millisecond)
		require.NoError(t, q.Insert(ctx, "test.later", nameArgs{"later"}, at))
		eventually(t, 15*time.Second, "the scheduled job ran", func() bool { return len(rec.names()) == 1 })
		rec.mu.Lock()
		ran := rec.at[0]
		rec.mu.Unlock()
		require.False(t, ran.Before(at), "ran at %s, scheduled for %s", ran, at)
	})
}

// A handler's error retries the job.
func TestRetry(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q := setup(t, db)
		var tries atomic.Int32
		q.Handle("test.flaky", func(context.Context, json.RawMessage) error {
			if tries.Add(1) == 1 {
				return errors.New("not yet")
			}
			return nil
		})
		require.NoError(t, q.Start(ctx))
		require.NoError(t, q.Insert(ctx, "test.flaky", struct{}{}, time.Time{}))
		eventually(t, 20*time.Second, "the job was tried again", func() bool { return tries.Load() == 2 })
		eventually(t, 5*time.Second, "the job completed", func() bool {
			var state string
			db.Read.QueryRow(`SELECT state FROM river_job WHERE kind = 'test.flaky'`).Scan(&state)
			return state == "completed"
		})
		time.Sleep(200 * time.Millisecond)
		require.EqualValues(t, 2, tries.Load())
	})
}

// A periodic task runs once at Start, then at its interval.
func TestEvery(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q := setup(t, db)
		var runs atomic.Int32
		q.Every("sweep", time.Hour, func(context.Context) error { runs.Add(1); return nil })
		var ticks atomic.Int32
		q.Every("tick", time.Second, func(context.Context) error { ticks.Add(1); return nil })
		require.NoError(t, q.Start(ctx))
		eventually(t, 15*time.Second, "the hourly sweep ran at start", func() bool { return runs.Load() == 1 })
		eventually(t, 15*time.Second, "the tick ran three times", func() bool { return ticks.Load() >= 3 })
		require.EqualValues(t, 1, runs.Load())
	})
}

// A periodic run that outlasts its interval is not joined by the next
// ones: they do nothing while it goes on, and the task runs again after it.
func TestEveryDoesNotOverlap(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q := setup(t, db)
		var active, most, runs atomic.Int32
		release := make(chan struct{})
		q.Every("slow", time.Second, func(ctx context.Context) error {
			n := active.Add(1)
			defer active.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			if runs.Add(1) == 1 {
				select { // the first run outlasts three intervals
				case <-release:
				case <-ctx.Done():
				}
			}
			return nil
		})
		require.NoError(t, q.Start(ctx))
		eventually(t, 15*time.Second, "the first run started", func() bool { return runs.Load() == 1 })
		time.Sleep(3500 * time.Millisecond)
		require.EqualValues(t, 1, runs.Load(), "no other run started while the first went on")
		close(release)
		eventually(t, 15*time.Second, "the task ran again after the long run", func() bool { return runs.Load() >= 2 })
		require.EqualValues(t, 1, most.Load(), "never two runs at once")
	})
}

// A queue starting while another server leads (a restart after a crash,
// while the dead server's lease runs; or a node added to a running
// cluster) runs its periodic tasks once at start all the same, without
// waiting to lead.
func TestEveryRunsAtStartWithoutLeading(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		leader := setup(t, db)
		leader.Handle("test.nothing", func(context.Context, json.RawMessage) error { return nil })
		require.NoError(t, leader.Start(ctx))
		eventually(t, 30*time.Second, "the first queue leads", func() bool {
			var n int
			db.Read.QueryRow(`SELECT count(*) FROM river_leader`).Scan(&n)
			return n == 1
		})

		q := setup(t, db)
		var runs atomic.Int32
		q.Every("sweep", time.Hour, func(context.Context) error { runs.Add(1); return nil })
		require.NoError(t, q.Start(ctx))
		eventually(t, 5*time.Second, "the task ran at start", func() bool { return runs.Load() == 1 })
	})
}

// Stop lets a running job finish within its deadline.
func TestStopDrains(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q, err := jobs.New(db, fast)
		require.NoError(t, err)
		started := make(chan struct{})
		var finished atomic.Bool
		q.Handle("test.slow", func(ctx context.Context, _ json.RawMessage) error {
			close(started)
			select {
			case <-time.After(500 * time.Millisecond):
				finished.Store(true)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		require.NoError(t, q.Start(ctx))
		require.NoError(t, q.Insert(ctx, "test.slow", struct{}{}, time.Time{}))
		<-started
		stop, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, q.Stop(stop))
		require.True(t, finished.Load(), "the running job was not allowed to finish")
		var state string
		require.NoError(t, db.Read.QueryRow(`SELECT state FROM river_job WHERE kind = 'test.slow'`).Scan(&state))
		require.Equal(t, "completed", state)
	})
}

// A job still running when Stop's deadline passes is cancelled, and a
// queue started later (the next process) runs it again.
func TestStopCancelsAndRetries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q, err := jobs.New(db, fast)
		require.NoError(t, err)
		started := make(chan struct{})
		q.Handle("test.stuck", func(ctx context.Context, _ json.RawMessage) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
		require.NoError(t, q.Start(ctx))
		require.NoError(t, q.Insert(ctx, "test.stuck", struct{}{}, time.Time{}))
		<-started
		stop, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		require.NoError(t, q.Stop(stop))
		var state string
		require.NoError(t, db.Read.QueryRow(`SELECT state FROM river_job WHERE kind = 'test.stuck'`).Scan(&state))
		require.Contains(t, []string{"available", "retryable"}, state, "the cancelled job is to run again")

		next := setup(t, db)
		var again atomic.Int32
		next.Handle("test.stuck", func(context.Context, json.RawMessage) error { again.Add(1); return nil })
		require.NoError(t, next.Start(ctx))
		eventually(t, 20*time.Second, "the next queue ran the cancelled job", func() bool { return again.Load() == 1 })
	})
}

// Two queues (two servers) on one PostgreSQL database never run a job
// twice.
func TestTwoQueuesRunEachJobOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.URL(t, store.Postgres)
	open := func() *store.DB {
		db, err := store.Open(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	_, err := a.Migrate(ctx)
	require.NoError(t, err)
	_, err = a.Write.Exec(`CREATE TABLE job_runs (k TEXT PRIMARY KEY, n INTEGER NOT NULL, node TEXT NOT NULL)`)
	require.NoError(t, err)

	const n = 200
	var ran [2]atomic.Int32
	for i, db := range []*store.DB{a, b} {
		q := setup(t, db)
		q.Handle("test.count", func(ctx context.Context, args json.RawMessage) error {
			var k nameArgs
			if err := json.Unmarshal(args, &k); err != nil {
				return err
			}
			ran[i].Add(1)
			_, err := db.Write.ExecContext(ctx, `INSERT INTO job_runs (k, n, node) VALUES ($1, 1, $2)
				ON CONFLICT (k) DO UPDATE SET n = job_runs.n + 1`, k.Name, fmt.Sprint(i))
			return err
		})
		require.NoError(t, q.Start(ctx))
	}
	qa, err := jobs.New(a, fast) // an insert-only queue
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, qa.Insert(ctx, "test.count", nameArgs{fmt.Sprint(i)}, time.Time{}))
	}
	eventually(t, 60*time.Second, "every job ran", func() bool {
		var done int
		a.Read.QueryRow(`SELECT count(*) FROM job_runs`).Scan(&done)
		return done == n
	})
	time.Sleep(300 * time.Millisecond)
	var rows, twice int
	require.NoError(t, a.Read.QueryRow(`SELECT count(*), count(*) FILTER (WHERE n > 1) FROM job_runs`).Scan(&rows, &twice))
	require.Equal(t, n, rows)
	require.Zero(t, twice, "jobs that ran more than once")
	t.Logf("jobs run by each queue: %d, %d", ran[0].Load(), ran[1].Load())
	require.EqualValues(t, n, ran[0].Load()+ran[1].Load())
}

// A queue without handlers starts and stops (a server with no feature that
// needs jobs), and still inserts.
func TestStartWithoutHandlers(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t, store.SQLite)
	ctx := context.Background()
	q := setup(t, db)
	require.NoError(t, q.Start(ctx))
	require.NoError(t, q.Insert(ctx, "test.nobody", struct{}{}, time.Time{}))
	require.Equal(t, 1, jobCount(t, db, "test.nobody"))
	require.Error(t, q.Start(ctx), "started twice")
}

// A job left running by a process that died (its row still "running",
// attempted long ago) is rescued and run again.
func TestRescueJobOfDeadProcess(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q, err := jobs.New(db, fast)
		require.NoError(t, err)
		require.NoError(t, q.Insert(ctx, "test.orphan", nameArgs{"orphan"}, time.Time{}))
		past := `now() - interval '1 hour'`
		if db.Dialect == store.SQLite {
			past = `datetime('now', '-1 hours', 'subsec')`
		}
		_, err = db.Write.Exec(`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = ` + past + ` WHERE kind = 'test.orphan'`)
		require.NoError(t, err)

		opts := fast
		opts.JobTimeout, opts.RescueAfter = time.Second, 2*time.Second
		next, err := jobs.New(db, opts)
		require.NoError(t, err)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, next.Stop(ctx))
		})
		var rec recorder
		next.Handle("test.orphan", rec.handle)
		require.NoError(t, next.Start(ctx))
		eventually(t, 30*time.Second, "the orphaned job was rescued and ran", func() bool { return len(rec.names()) == 1 })
	})
}

// RunDue runs the jobs due at the time it is given, and only those, once.
func TestRunDue(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q, err := jobs.New(db, fast)
		require.NoError(t, err)
		var rec recorder
		q.Handle("test.due", rec.handle)
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, name := range []string{"first", "second", "third"} {
			require.NoError(t, q.Insert(ctx, "test.due", nameArgs{name}, t0.Add(time.Duration(i)*time.Hour)))
		}
		n, err := q.RunDue(ctx, t0.Add(90*time.Minute))
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, []string{"first", "second"}, rec.names())
		n, err = q.RunDue(ctx, t0.Add(90*time.Minute))
		require.NoError(t, err)
		require.Zero(t, n, "jobs run again")
		n, err = q.RunDue(ctx, t0.Add(3*time.Hour))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, []string{"first", "second", "third"}, rec.names())
	})
}
