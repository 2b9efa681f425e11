package console

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/payout"
)

// Verify runs every check of `fanfare verify`: the ledger's rules
// (ledger.Verify), the payouts against the ledger (payout.Verify) and the
// audit log's hash chain (audit.Verify), whose problems join the report's.
// It returns the chain's report too. progress, if not nil, is called with
// the transfers read so far and their total.
func Verify(ctx context.Context, l *ledger.Ledger, progress func(done, total int64)) (*ledger.Report, audit.Report, error) {
	r, err := l.Verify(ctx, progress)
	if err != nil {
		return nil, audit.Report{}, err
	}
	problems, err := payout.Verify(ctx, l)
	if err != nil {
		return nil, audit.Report{}, err
	}
	chain, err := audit.Verify(ctx, l.DB())
	if err != nil {
		return nil, audit.Report{}, err
	}
	if !chain.OK() {
		problems = append(problems, chain.String())
	}
	for _, p := range problems {
		if len(r.Problems) < ledger.MaxProblems {
			r.Problems = append(r.Problems, p)
		}
		r.ProblemCount++
	}
	return r, chain, nil
}

// Run is a run of Verify as the console shows it: running, with its
// progress, or finished, with its report or the error that stopped it.
type Run struct {
	// Running: the run has not finished. Done and Total are the
	// transfers read so far and their count.
	Running     bool
	Done, Total int64
	StartedAt   time.Time
	FinishedAt  time.Time
	// By is who started it (fanfare.Actor.ID()).
	By     string
	Report *ledger.Report
	Err    string
}

// Percent is the run's progress, 0 to 100.
func (r Run) Percent() int {
	switch {
	case !r.Running && r.Report != nil:
		return 100
	case r.Total <= 0:
		return 0
	}
	return int(min(100, r.Done*100/r.Total))
}

// Verifier runs Verify in the background, one run at a time on this node,
// and remembers the last run. Close stops a run under way.
type Verifier struct {
	ledger *ledger.Ledger
	clock  fanfare.Clock

	mu     sync.Mutex
	last   *Run // nil: never run since the node started
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewVerifier returns a Verifier of l.
func NewVerifier(l *ledger.Ledger, clock fanfare.Clock) *Verifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &Verifier{ledger: l, clock: clock, ctx: ctx, cancel: cancel}
}

// Start starts a run for actor, unless one is running.
//
// Codes: forbidden (not the operator), conflict (a run is under way on
// this node), unavailable (the verifier is closed).
func (v *Verifier) Start(actor fanfare.Actor) (Run, error) {
	if !actor.IsOperator() {
		return Run{}, fanfare.Errorf(fanfare.EForbidden, "only the operator runs verify")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ctx.Err() != nil {
		return Run{}, fanfare.Errorf(fanfare.EUnavailable, "the server is stopping")
	}
	if v.last != nil && v.last.Running {
		return *v.last, fanfare.Errorf(fanfare.EConflict, "a verification is already running: wait for its result")
	}
	run := &Run{Running: true, StartedAt: v.clock.Now().UTC(), By: actor.ID()}
	v.last = run
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		r, _, err := Verify(v.ctx, v.ledger, func(done, total int64) {
			v.mu.Lock()
			run.Done, run.Total = done, total
			v.mu.Unlock()
		})
		v.mu.Lock()
		defer v.mu.Unlock()
		run.Running, run.FinishedAt, run.Report = false, v.clock.Now().UTC(), r
		if err != nil {
			run.Err = fmt.Sprint(err)
		} else {
			run.Done = run.Total
		}
	}()
	return *run, nil
}

// Last returns the last run (false: none since the node started).
func (v *Verifier) Last() (Run, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.last == nil {
		return Run{}, false
	}
	return *v.last, true
}

// Close stops a run under way and waits for it to end.
func (v *Verifier) Close() {
	v.cancel()
	v.wg.Wait()
}
