package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/fanfarehq/fanfare/internal/store"
)

// Options configure a Queue. The zero value of a field is its default.
type Options struct {
	// Logger receives River's log; the default discards it.
	Logger *slog.Logger
	// Workers is the most jobs this process runs at once: 4 on
	// PostgreSQL, 2 on SQLite (whose one writer every job shares).
	Workers int
	// SweepEvery is the interval of a periodic task registered with a zero
	// interval. Default 1 minute.
	SweepEvery time.Duration
	// PollInterval is how often a worker looks for due jobs: a job
	// inserted now, or scheduled for now, starts within about that long.
	// Default 1 second.
	PollInterval time.Duration
	// JobTimeout is the longest a handler may run before its context is
	// cancelled (and the job retried). Default 1 minute.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before another worker
	// takes it for dead (its process was killed) and runs it again.
	// Default 5 minutes; at least JobTimeout.
	RescueAfter time.Duration
	// MaxAttempts is how many times a failing job is tried before it is
	// discarded. Default 25 (River's: about three weeks of backoff).
	MaxAttempts int
}

// Handler works one job of a kind, given its arguments as inserted. It
// must be idempotent: a job may run more than once.
type Handler func(ctx context.Context, args json.RawMessage) error

// Queue is the durable job queue on one database. It can insert jobs as
// soon as New returns; its workers run between Start and Stop.
type Queue struct {
	db     *store.DB
	opts   Options
	client *river.Client[*sql.Tx]
	// workers is the client's registry of handlers, filled by Handle
	// before Start.
	workers *river.Workers

	mu       sync.Mutex
	handlers map[string]Handler
	everies  []func(ctx context.Context) error // Every's tasks, guarded against overlap
	started  bool
	running  bool // River's client was started
	stopped  bool

	// The periodic tasks' first runs, which Start makes on this node:
	// startRuns ends them (at Stop), startWG waits for them.
	startRuns context.CancelFunc
	startWG   sync.WaitGroup
}

// New builds the queue on db (migrated, with River's migrations: see
// store.RegisterMigrations), choosing River's driver by db.Dialect.
func New(db *store.DB, opts Options) (*Queue, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
		if db.Dialect == store.SQLite {
			opts.Workers = 2
		}
	}
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	opts.PollInterval = max(opts.PollInterval, river.FetchPollIntervalMin)
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = time.Minute
	}
	if opts.RescueAfter <= 0 {
		opts.RescueAfter = 5 * time.Minute
	}
	opts.RescueAfter = max(opts.RescueAfter, opts.JobTimeout)
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 25
	}
	q := &Queue{db: db, opts: opts, workers: river.NewWorkers(), handlers: map[string]Handler{}}
	client, err := river.NewClient(driver(db), &river.Config{
		Logger:               opts.Logger,
		Workers:              q.workers,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}},
		PollOnly:             true,
		FetchPollInterval:    opts.PollInterval,
		FetchCooldown:        min(100*time.Millisecond, opts.PollInterval),
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: opts.RescueAfter,
		MaxAttempts:          opts.MaxAttempts,
		ErrorHandler:         errorLogger{opts.Logger},
		// A kind may be handled by another server, or registered after
		// New: the queue inserts any kind.
		SkipUnknownJobCheck: true,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	q.client = client
	return q, nil
}

// InsertTx schedules a job of kind with JSON-encodable args to run at at
// (now if zero), in tx: the job exists only if tx commits.
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, kind string, args any, at time.Time) error {
	a, opts, err := q.params(kind, args, at)
	if err != nil {
		return err
	}
	if _, err := q.client.InsertTx(ctx, tx, a, opts); err != nil {
		return fmt.Errorf("insert job %s: %w", kind, err)
	}
	return nil
}

// InsertManyTx schedules jobs in tx with one statement: the ledger's
// committer inserts the jobs of a whole batch of operations this way
// (ledger.Options.Jobs).
func (q *Queue) InsertManyTx(ctx context.Context, tx *sql.Tx, jobs []store.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		a, opts, err := q.params(j.Kind, j.Args, j.At)
		if err != nil {
			return err
		}
		params[i] = river.InsertManyParams{Args: a, InsertOpts: opts}
	}
	if _, err := q.client.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("insert %d jobs: %w", len(jobs), err)
	}
	return nil
}

// Insert is InsertTx in a transaction of its own.
func (q *Queue) Insert(ctx context.Context, kind string, args any, at time.Time) error {
	a, opts, err := q.params(kind, args, at)
	if err != nil {
		return err
	}
	if _, err := q.client.Insert(ctx, a, opts); err != nil {
		return fmt.Errorf("insert job %s: %w", kind, err)
	}
	return nil
}

func (q *Queue) params(kind string, args any, at time.Time) (rawArgs, *river.InsertOpts, error) {
	b, err := json.Marshal(args)
	if err != nil {
		return rawArgs{}, nil, fmt.Errorf("insert job %s: encode args: %w", kind, err)
	}
	opts := &river.InsertOpts{Priority: priorityDeadline}
	if !at.IsZero() {
		opts.ScheduledAt = at.UTC()
	}
	return rawArgs{kind: kind, raw: b}, opts, nil
}

// Handle registers fn as the handler of kind. Call it before Start; it
// panics when kind already has a handler. A handler's error retries the
// job with River's backoff, up to Options.MaxAttempts.
func (q *Queue) Handle(kind string, fn func(ctx context.Context, args json.RawMessage) error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		panic("jobs: Handle(" + kind + ") after Start")
	}
	river.AddWorkerArgs(q.workers, rawArgs{kind: kind}, &worker{fn: fn})
	q.handlers[kind] = fn
}

// Job priorities (River's: 1 runs first). A periodic sweep goes before
// the deadlines due at the same time: when many fall due at once (100,000
// renewals at a month's start), the sweep applies them in bulk, many at a
// time, instead of waiting behind them for a worker.
const (
	prioritySweep    = 1
	priorityDeadline = 2
)

// everyPrefix prefixes the kind of a periodic task's jobs.
const everyPrefix = "every."

// Every registers fn as a periodic task named name, run every interval
// (Options.SweepEvery if zero) and once at Start on this node, so that a
// deadline that passed while no server ran is applied when one starts,
// without waiting for a leader (after a crash, the dead server's leadership
// lapses only after River's lease). After that first run only the leader
// among the servers sharing the database schedules it, so it runs on one
// node at a time (the first runs of nodes starting together may meet: fn
// must be idempotent, as every deadline's work is); a run that starts while this node's previous one is still
// going (a sweep of 100,000 renewals outlasts its interval) does nothing,
// so runs never compete for the same work. A run that fails is not
// retried: the next one does its work. Call it before Start.
func (q *Queue) Every(name string, interval time.Duration, fn func(ctx context.Context) error) {
	if interval <= 0 {
		interval = q.opts.SweepEvery
	}
	kind := everyPrefix + name
	var running atomic.Bool
	once := func(ctx context.Context) error {
		if !running.CompareAndSwap(false, true) {
			return nil
		}
		defer running.Store(false)
		return fn(ctx)
	}
	q.Handle(kind, func(ctx context.Context, _ json.RawMessage) error { return once(ctx) })
	q.mu.Lock()
	q.everies = append(q.everies, func(ctx context.Context) error {
		if err := once(ctx); err != nil {
			return fmt.Errorf("%s at start: %w", name, err)
		}
		return nil
	})
	q.mu.Unlock()
	q.client.PeriodicJobs().Add(river.NewPeriodicJob(
		river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return rawArgs{kind: kind, raw: json.RawMessage(`{}`)}, &river.InsertOpts{MaxAttempts: 1, Priority: prioritySweep}
		},
		&river.PeriodicJobOpts{ID: name},
	))
}

// Start starts the workers and the periodic tasks. They run until Stop,
// whatever becomes of ctx after Start returns. A queue without any handler
// has nothing to run and starts nothing.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return errors.New("jobs: started twice")
	}
	q.started = true
	if len(q.handlers) == 0 {
		return nil
	}
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	q.running = true
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.startRuns = cancel
	for _, run := range q.everies {
		q.startWG.Add(1)
		go func() {
			defer q.startWG.Done()
			if err := run(runCtx); err != nil && runCtx.Err() == nil {
				q.opts.Logger.Error("periodic task failed", "error", err)
			}
		}()
	}
	return nil
}

// stopGrace bounds how long Stop waits for cancelled jobs to end.
const stopGrace = 10 * time.Second

// Stop stops fetching jobs and waits for the running ones until ctx ends
// (the drain on SIGTERM), then cancels those still running, which River
// marks to be retried, and waits for them to end. It does nothing if the
// queue never started.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.running || q.stopped {
		return nil
	}
	q.stopped = true
	defer q.endStartRuns(ctx)
	err := q.client.Stop(ctx)
	if err == nil || ctx.Err() == nil {
		if err != nil {
			return fmt.Errorf("stop jobs: %w", err)
		}
		return nil
	}
	cctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	if err := q.client.StopAndCancel(cctx); err != nil {
		return fmt.Errorf("stop jobs: cancel the running ones: %w", err)
	}
	return nil
}

// endStartRuns waits for the periodic tasks' first runs until ctx ends,
// then cancels those still going and waits for them (stopGrace at most).
func (q *Queue) endStartRuns(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		q.startWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		q.startRuns()
		return
	case <-ctx.Done():
	}
	q.startRuns()
	wait, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	select {
	case <-done:
	case <-wait.Done():
		q.opts.Logger.Error("periodic tasks' first runs did not end when cancelled", "waited", stopGrace)
	}
}

// RunDue works, here and now, every job of a registered kind that is due
// at now (scheduled at or before it), oldest first, and deletes each that
// succeeds; it stops at the first handler error, leaving that job as it
// was. It is for tests that drive deadlines with an injected clock, on a
// queue that is not started (River's workers compare a job's time with the
// real clock; RunDue with now). It returns how many jobs it ran.
func (q *Queue) RunDue(ctx context.Context, now time.Time) (int, error) {
	q.mu.Lock()
	if q.running {
		q.mu.Unlock()
		return 0, errors.New("jobs: RunDue on a started queue")
	}
	kinds := make([]string, 0, len(q.handlers))
	for k := range q.handlers {
		kinds = append(kinds, k)
	}
	handlers := maps.Clone(q.handlers)
	q.mu.Unlock()
	if len(kinds) == 0 {
		return 0, nil
	}
	res, err := q.client.JobList(ctx, river.NewJobListParams().
		States(rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable).
		Kinds(kinds...).OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(10000))
	if err != nil {
		return 0, fmt.Errorf("list due jobs: %w", err)
	}
	n := 0
	for _, job := range res.Jobs {
		if job.ScheduledAt.After(now) {
			break
		}
		if err := handlers[job.Kind](ctx, job.EncodedArgs); err != nil {
			return n, fmt.Errorf("job %s %d: %w", job.Kind, job.ID, err)
		}
		n++
		if _, err := q.client.JobDelete(ctx, job.ID); err != nil {
			return n, fmt.Errorf("delete job %s %d: %w", job.Kind, job.ID, err)
		}
	}
	return n, nil
}

// rawArgs are a job's arguments as JSON, of a kind named at run time:
// River encodes them as they are and decodes them back into raw.
type rawArgs struct {
	kind string
	raw  json.RawMessage
}

func (a rawArgs) Kind() string                 { return a.kind }
func (a rawArgs) MarshalJSON() ([]byte, error) { return a.raw, nil }
func (a *rawArgs) UnmarshalJSON(b []byte) error {
	a.raw = append(json.RawMessage(nil), b...)
	return nil
}

// worker runs a kind's handler.
type worker struct {
	river.WorkerDefaults[rawArgs]
	fn Handler
}

func (w *worker) Work(ctx context.Context, job *river.Job[rawArgs]) error {
	return w.fn(ctx, job.Args.raw)
}

// errorLogger logs the jobs that fail or panic; River retries them.
type errorLogger struct{ log *slog.Logger }

func (e errorLogger) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	e.log.WarnContext(ctx, "job failed", "kind", job.Kind, "id", job.ID, "attempt", job.Attempt, "err", err)
	return nil
}

func (e errorLogger) HandlePanic(ctx context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	e.log.ErrorContext(ctx, "job panicked", "kind", job.Kind, "id", job.ID, "attempt", job.Attempt, "panic", v, "trace", trace)
	return nil
}
