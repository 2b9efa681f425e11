package ledger

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestAnswersFollowTheirSync submits many operations at once (successes,
// business failures, replays of a key within a batch and across batches)
// and checks, for every answer, that the sync covering its batch had
// completed when the answer arrived: Options.OnSync, which the committer
// calls after the WAL fsync (SQLite) or the COMMIT (PostgreSQL), had
// reported a batch at least as recent as the answer's own.
func TestAnswersFollowTheirSync(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, maxBatch := range []int{1024, 1} { // group commit (SQLite: the sync loop) and one commit per operation
			t.Run(fmt.Sprintf("batch=%d", maxBatch), func(t *testing.T) {
				ctx := context.Background()
				var durable atomic.Uint64
				var syncs atomic.Int64
				l, err := Open(ctx, db, Options{MaxBatch: maxBatch, OnSync: func(batch uint64) {
					if prev := durable.Load(); batch <= prev {
						t.Errorf("OnSync(%d) after OnSync(%d): batches must become durable in order", batch, prev)
					}
					durable.Store(batch)
					syncs.Add(1)
				}})
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				promo, err := l.SystemAccount(ctx, Promotions, fanfare.Coin)
				if err != nil {
					t.Fatal(err)
				}
				revenue, err := l.SystemAccount(ctx, Revenue("gift"), fanfare.Coin)
				if err != nil {
					t.Fatal(err)
				}
				senders, each := 48, 25
				if maxBatch == 1 {
					senders = 12 // one commit each: keep it short
				}
				fans := make([]AccountID, senders)
				for i := range fans {
					if fans[i], err = l.UserAccount(ctx, fmt.Sprintf("fan-%d-%d", maxBatch, i), fanfare.Coin); err != nil {
						t.Fatal(err)
					}
				}

				var answered, failed, replayed atomic.Int64
				var wg sync.WaitGroup
				for s := range senders {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range each {
							var op Op
							switch i % 5 {
							case 0: // a grant, keyed by sender: sent again two operations later
								op = Op{Kind: "grant", Object: "test", Actor: "ops", Legs: []Leg{{Debit: promo, Credit: fans[s], Amount: 3}}}
								op.Idem = &Idempotency{Scope: "ops", Key: fmt.Sprintf("%d-%d-%d", maxBatch, s, i/5), Hash: "grant"}
							case 2: // the same grant again: a replay
								op = Op{Kind: "grant", Object: "test", Actor: "ops", Legs: []Leg{{Debit: promo, Credit: fans[s], Amount: 3}}}
								op.Idem = &Idempotency{Scope: "ops", Key: fmt.Sprintf("%d-%d-%d", maxBatch, s, i/5), Hash: "grant"}
							case 4: // more than the fan has: a business failure, stored under its key
								op = Op{Kind: "gift", Object: "test", Actor: "fan", Legs: []Leg{{Debit: fans[s], Credit: revenue, Amount: 1000}}}
								op.Idem = &Idempotency{Scope: "fan", Key: fmt.Sprintf("%d-%d-%d-big", maxBatch, s, i), Hash: "gift"}
							default: // a gift within the balance, unkeyed
								op = Op{Kind: "gift", Object: "test", Actor: "fan", Legs: []Leg{{Debit: fans[s], Credit: revenue, Amount: 1}}}
							}
							if err := checkOp(&op, l.clock); err != nil {
								t.Error(err)
								return
							}
							p, err := l.c.enqueue(ctx, &op)
							if err != nil {
								t.Error(err)
								return
							}
							<-p.done
							// The answer is in: its batch must be durable.
							if d := durable.Load(); p.batch == 0 || p.batch > d {
								t.Errorf("operation of batch %d answered when batches up to %d were durable", p.batch, d)
							}
							res, err := l.c.wait(ctx, p)
							answered.Add(1)
							switch {
							case err != nil && fanfare.ErrorCode(err) == fanfare.EInternal:
								t.Errorf("%s: %v", op.Kind, err)
							case err != nil:
								failed.Add(1)
							case res.Replayed:
								replayed.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				if got := answered.Load(); got != int64(senders*each) {
					t.Fatalf("%d answers, want %d", got, senders*each)
				}
				if failed.Load() == 0 || replayed.Load() == 0 {
					t.Fatalf("%d failures and %d replays: the test meant both", failed.Load(), replayed.Load())
				}
				if syncs.Load() == 0 {
					t.Fatal("OnSync was never called")
				}
				t.Logf("%d operations, %d syncs (%d business failures, %d replays)", answered.Load(), syncs.Load(), failed.Load(), replayed.Load())
			})
		}
	})
}
