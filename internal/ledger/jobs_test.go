package ledger_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// jobTable is a JobQueue that writes each job as a row of audit_log, all of
// a call's jobs with one statement, in the batch's transaction.
type jobTable struct {
	mu      sync.Mutex
	calls   int
	batches int
	fail    error
}

func (q *jobTable) InsertManyTx(ctx context.Context, tx *sql.Tx, jobs []store.Job) error {
	q.mu.Lock()
	q.calls++
	fail := q.fail
	q.mu.Unlock()
	if fail != nil {
		return fail
	}
	var sb strings.Builder
	args := make([]any, 0, 2*len(jobs))
	for i, j := range jobs {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "($%d, 'test', 'job', $%d, '{}', 0)", 2*i+1, 2*i+2)
		args = append(args, j.Args, j.Kind)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (id, actor, action, object, details, created_at) VALUES `+sb.String(), args...)
	return err
}

// BatchCommitted counts the batches (ledger.Observer).
func (q *jobTable) BatchCommitted(size, failed int, d time.Duration) {
	q.mu.Lock()
	q.batches++
	q.mu.Unlock()
}

// TestJobs checks that an operation's jobs are inserted exactly when it
// commits, all of a batch's jobs with one call, and that a queue that
// fails fails the batch with nothing moved.
func TestJobs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q := &jobTable{}
		f := setup(t, db, ledger.Options{Jobs: q, Observer: q})
		f.grant(t, f.fanCoins, 30) // what the operations whose writes pass spend, but for one
		var wg sync.WaitGroup
		errs := make([]error, 40)
		start := make(chan struct{})
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				op := f.gift(f.fanCoins, 1, fmt.Sprintf("jobs-%d", i))
				if i%4 == 0 {
					op.Writes = func(*ledger.Result) []ledger.Write {
						return []ledger.Write{{SQL: `UPDATE audit_log SET details = '{}' WHERE id = 'none'`,
							Fail: func(context.Context, *sql.Tx) error { return fanfare.Errorf(fanfare.EInvalidState, "refused") }}}
					}
				}
				if i%5 == 1 {
					op.Effect = func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error { return nil }
				}
				op.Jobs = func(r *ledger.Result) []store.Job {
					return []store.Job{{Kind: "test.a", Args: fmt.Sprintf("job-%d-a", i)}, {Kind: "test.b", Args: fmt.Sprintf("job-%d-b", i)}}
				}
				_, errs[i] = f.l.Submit(ctx, op)
			}()
		}
		close(start)
		wg.Wait()
		committed := 0
		for i, err := range errs {
			if err == nil {
				committed++
			} else if c := fanfare.ErrorCode(err); c != fanfare.EInvalidState && c != fanfare.EInsufficientFunds {
				t.Errorf("op %d: %v", i, err)
			}
			var n int
			db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE action = 'job' AND id LIKE $1`, fmt.Sprintf("job-%d-%%", i)).Scan(&n)
			if want := map[bool]int{true: 2, false: 0}[err == nil]; n != want {
				t.Errorf("op %d (error %v): %d jobs, want %d", i, err, n, want)
			}
		}
		if committed != 30 {
			t.Errorf("%d operations committed, want 30", committed)
		}
		q.mu.Lock()
		if q.calls > q.batches {
			t.Errorf("%d job inserts for %d batches, want at most one a batch", q.calls, q.batches)
		}
		q.mu.Unlock()

		// A queue that fails fails the batch: nothing moves, no job stays.
		f.grant(t, f.fanCoins, 5)
		q.mu.Lock()
		q.fail = errors.New("queue down")
		q.mu.Unlock()
		op := f.gift(f.fanCoins, 5, "jobs-down")
		op.Jobs = func(*ledger.Result) []store.Job { return []store.Job{{Kind: "test.a", Args: "job-down"}} }
		if _, err := f.l.Submit(ctx, op); err == nil || fanfare.ErrorCode(err) != fanfare.EInternal {
			t.Fatalf("Submit with a failing queue: %v, want an internal error", err)
		}
		if got := balance(t, f.l, f.fanCoins); got != 5 {
			t.Fatalf("Balance(fan) = %d after a failed job insert, want 5", got)
		}
		q.mu.Lock()
		q.fail = nil
		q.mu.Unlock()
		// The same key runs again once the queue is back: it was not stored.
		if _, err := f.l.Submit(ctx, op); err != nil {
			t.Fatalf("Submit again: %v", err)
		}
		var n int
		db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE id = 'job-down'`).Scan(&n)
		if n != 1 || balance(t, f.l, f.fanCoins) != 0 {
			t.Fatalf("after the retry: %d jobs, balance %d; want 1 and 0", n, balance(t, f.l, f.fanCoins))
		}
		// A replay schedules nothing again.
		if _, err := f.l.Submit(ctx, op); err != nil {
			t.Fatalf("replay: %v", err)
		}
		db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE id = 'job-down'`).Scan(&n)
		if n != 1 {
			t.Fatalf("after a replay: %d jobs, want 1", n)
		}
		mustVerify(t, f.l)
	})
}

// TestJobsNeedAQueue checks that a ledger without a job queue refuses an
// operation that schedules jobs, before anything moves.
func TestJobsNeedAQueue(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 5)
		op := f.gift(f.fanCoins, 5, "no-queue")
		op.Jobs = func(*ledger.Result) []store.Job { return []store.Job{{Kind: "test.a", Args: "x"}} }
		if _, err := f.l.Submit(context.Background(), op); err == nil {
			t.Fatal("Submit of an operation with jobs on a ledger without a queue succeeded")
		}
		if got := balance(t, f.l, f.fanCoins); got != 5 {
			t.Fatalf("Balance(fan) = %d, want 5", got)
		}
	})
}

// TestUserAccounts checks that UserAccounts creates the missing accounts
// and returns the existing ones, in order, as UserAccount would.
func TestUserAccounts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		ids := make([]string, 2500) // more than one chunk
		for i := range ids {
			ids[i] = fmt.Sprintf("bulk-%d", i)
		}
		ids[7] = "fan" // exists already
		got, err := f.l.UserAccounts(ctx, ids, fanfare.Coin)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[ledger.AccountID]bool{}
		for i, id := range ids {
			want, err := f.l.FindUserAccount(ctx, id, fanfare.Coin)
			if err != nil || got[i] != want || seen[want] {
				t.Fatalf("account %d (%s) = %d, want %d (%v), each once", i, id, got[i], want, err)
			}
			seen[want] = true
		}
		if got[7] != f.fanCoins {
			t.Fatalf("the existing account came back as %d, want %d", got[7], f.fanCoins)
		}
		if again, err := f.l.UserAccounts(ctx, ids[:10], fanfare.Coin); err != nil || again[3] != got[3] {
			t.Fatalf("UserAccounts again = %v, %v", again, err)
		}
		if _, err := f.l.UserAccounts(ctx, []string{"ok", "system:promotions"}, fanfare.Coin); fanfare.ErrorCode(err) != fanfare.EInvalid {
			t.Fatalf("a system owner: %v, want invalid", err)
		}
		if _, err := f.l.UserAccounts(ctx, []string{"ok"}, "coins"); fanfare.ErrorCode(err) != fanfare.EInvalid {
			t.Fatalf("an unknown asset: %v, want invalid", err)
		}
		mustVerify(t, f.l)
	})
}
