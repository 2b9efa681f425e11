package ledger_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// nodes returns two fixtures on one PostgreSQL database, each with its own
// handle (its own pool) and its own ledger and committer, as two nodes of
// one deployment hold them; they batch differently, so that their batches
// interleave in every shape.
func nodes(t *testing.T) (a, b *fixture) {
	t.Helper()
	db := storetest.MustOpen(t, store.Postgres)
	a = setup(t, db, ledger.Options{})
	b = setup(t, storetest.Reopen(t, db), ledger.Options{MaxBatch: 8})
	return a, b
}

// race runs n calls of submit, i from 0 to n-1, from as many goroutines,
// all released at once, and fails t if they have not all returned within a
// minute (two nodes' committers waiting on each other's locks).
func race(t *testing.T, n int, submit func(i int)) {
	t.Helper()
	start, done := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			submit(i)
		})
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	close(start)
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("the operations of two nodes have not all returned after a minute: deadlocked")
	}
}

// TestNodesSpendOneBalance spends one fan's balance through two nodes at
// once, more times than it covers: exactly the spends it covers succeed,
// the others fail with insufficient_funds, and the balance ends at what
// is left, never below.
func TestNodesSpendOneBalance(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := nodes(t)
	const price, covered, left, spends = 3, 70, 2, 300
	a.grant(t, a.fanCoins, price*covered+left)
	var ok atomic.Int64
	race(t, spends, func(i int) {
		n := a
		if i%2 == 1 {
			n = b
		}
		_, err := n.l.Submit(ctx, a.gift(a.fanCoins, price, fmt.Sprintf("spend-%d", i)))
		switch fanfare.ErrorCode(err) {
		case "":
			ok.Add(1)
		case fanfare.EInsufficientFunds:
		default:
			t.Errorf("spend %d on node %d: %v", i, i%2, err)
		}
	})
	if ok.Load() != covered {
		t.Fatalf("%d spends succeeded, want the %d the balance covers", ok.Load(), covered)
	}
	for _, n := range []*fixture{a, b} {
		if got := balance(t, n.l, a.fanCoins); got != left {
			t.Fatalf("Balance(fan) = %d, want %d", got, left)
		}
	}
	if got := balance(t, a.l, a.revenue); got != price*covered {
		t.Fatalf("Balance(revenue) = %d, want %d", got, price*covered)
	}
	mustVerify(t, a.l)
}

// TestNodesGiftOneCreator sends gifts from many fans to one creator
// through two nodes at once: every batch of both nodes credits the same
// hot account. The creator ends with the sum of the acknowledged gifts'
// diamonds, each fan with its grant less its acknowledged gifts (a fan
// runs out before its last gifts), and nothing deadlocks.
func TestNodesGiftOneCreator(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := nodes(t)
	const fans, giftsEach, grant = 24, 20, 90
	coins := make([]ledger.AccountID, fans)
	for i := range coins {
		coins[i] = must(t)(a.l.UserAccount(ctx, fmt.Sprintf("fan-%d", i), fanfare.Coin))
		a.grant(t, coins[i], grant)
	}
	priceOf := func(i int) fanfare.Amount { return fanfare.Amount(2 + i%9) } // 2 to 10 coins: every fan's 20 gifts cost more than its grant
	var mu sync.Mutex
	var diamonds, revenue fanfare.Amount
	spent := make([]fanfare.Amount, fans)
	var refused atomic.Int64
	race(t, fans*giftsEach, func(i int) {
		n := a
		if i%2 == 1 {
			n = b
		}
		fan, price := i%fans, priceOf(i)
		op := a.gift(coins[fan], price, fmt.Sprintf("gift-%d", i))
		last := i%4 < 2 // half the gifts credit the creator last, as the wallet's spends do
		op.Legs[1].CreditLast = last
		res, err := n.l.Submit(ctx, op)
		switch fanfare.ErrorCode(err) {
		case "":
			if _, answered := res.Balances[a.creatorDiams]; answered == last {
				t.Errorf("gift %d (credited last: %v) answers the creator's balance: %v", i, last, res.Balances)
			}
			if _, answered := res.Balances[coins[fan]]; !answered {
				t.Errorf("gift %d does not answer the fan's balance", i)
			}
			mu.Lock()
			diamonds += fanfare.Share(price, 5000)
			revenue += price
			spent[fan] += price
			mu.Unlock()
		case fanfare.EInsufficientFunds:
			refused.Add(1)
		default:
			t.Errorf("gift %d on node %d: %v", i, i%2, err)
		}
	})
	if refused.Load() == 0 {
		t.Fatal("no gift was refused: the grants cover them all, and no fan ran out")
	}
	if got := balance(t, b.l, a.creatorDiams); got != diamonds {
		t.Fatalf("Balance(creator) = %d, want %d, the diamonds of the acknowledged gifts", got, diamonds)
	}
	if got := balance(t, b.l, a.revenue); got != revenue {
		t.Fatalf("Balance(revenue) = %d, want %d", got, revenue)
	}
	for i, id := range coins {
		if got := balance(t, a.l, id); got != grant-spent[i] || got < 0 {
			t.Fatalf("Balance(fan %d) = %d, want %d", i, got, grant-spent[i])
		}
	}
	mustVerify(t, b.l)
}

// TestNodesCreditLastBothWays has two nodes move coins between two users
// both ways at once, every credit made last (Leg.CreditLast): each node's
// batch locks the account it debits first and the one it credits last, so
// PostgreSQL may find the two batches waiting on each other and end one;
// that batch runs again. Every transfer commits once, and the balances add
// up.
func TestNodesCreditLastBothWays(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := nodes(t)
	x := must(t)(a.l.UserAccount(ctx, "both-ways-x", fanfare.Coin))
	y := must(t)(a.l.UserAccount(ctx, "both-ways-y", fanfare.Coin))
	const start, moves = 1000, 400
	a.grant(t, x, start)
	a.grant(t, y, start)
	var sent [2]atomic.Int64 // from x, from y
	race(t, moves, func(i int) {
		n, from, to := a, x, y
		if i%2 == 1 {
			n, from, to = b, y, x
		}
		amount := fanfare.Amount(1 + i%3)
		res, err := n.l.Submit(ctx, ledger.Op{Kind: "transfer", Object: "test", Actor: "test",
			Legs: []ledger.Leg{{Debit: from, Credit: to, Amount: amount, CreditLast: true}},
			Idem: &ledger.Idempotency{Scope: "both-ways", Key: fmt.Sprint(i), Hash: "h"}})
		if err != nil {
			t.Errorf("move %d: %v", i, err)
			return
		}
		if _, answered := res.Balances[to]; answered {
			t.Errorf("move %d answers the balance of the account it credits last", i)
		}
		sent[i%2].Add(int64(amount))
	})
	if got, want := balance(t, b.l, x), fanfare.Amount(start-sent[0].Load()+sent[1].Load()); got != want {
		t.Fatalf("Balance(x) = %d, want %d", got, want)
	}
	if got, want := balance(t, a.l, y), fanfare.Amount(start-sent[1].Load()+sent[0].Load()); got != want {
		t.Fatalf("Balance(y) = %d, want %d", got, want)
	}
	mustVerify(t, a.l)
}

// TestLanesCommitPastABlockedBatch holds one fan's account row locked from
// outside the ledger, so that the batch with that fan's gift waits: on
// PostgreSQL the committer's second lane still commits another fan's gift
// meanwhile, and the first gift commits once the lock is gone. With one
// lane the second gift waits behind the first, as before lanes.
func TestLanesCommitPastABlockedBatch(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := storetest.MustOpen(t, store.Postgres)
	for _, lanes := range []int{2, 1} {
		t.Run(fmt.Sprintf("lanes=%d", lanes), func(t *testing.T) {
			f := setup(t, db, ledger.Options{Lanes: lanes})
			fan := must(t)(f.l.UserAccount(ctx, fmt.Sprint("fan-", lanes), fanfare.Coin))
			other := must(t)(f.l.UserAccount(ctx, fmt.Sprint("other-fan-", lanes), fanfare.Coin))
			f.grant(t, fan, 10)
			f.grant(t, other, 10)

			tx, err := db.Write.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, int64(fan)); err != nil {
				t.Fatal(err)
			}
			blocked := make(chan error, 1)
			go func() {
				_, err := f.l.Submit(ctx, f.gift(fan, 1, fmt.Sprint("blocked-", lanes)))
				blocked <- err
			}()
			// The blocked gift's batch is on a lane before the next one
			// is sent: its account lock is what it waits for.
			waitLocked(t, db, int64(fan))

			passed := make(chan error, 1)
			go func() {
				_, err := f.l.Submit(ctx, f.gift(other, 1, fmt.Sprint("other-", lanes)))
				passed <- err
			}()
			select {
			case err := <-passed:
				if lanes == 1 {
					t.Fatalf("with one lane, a gift committed while the batch before it waited (err %v)", err)
				}
				if err != nil {
					t.Fatalf("the other fan's gift: %v", err)
				}
			case err := <-blocked:
				t.Fatalf("the blocked gift returned while its account was locked: %v", err)
			case <-time.After(2 * time.Second):
				if lanes > 1 {
					t.Fatal("the other fan's gift did not commit while another lane's batch waited for a lock")
				}
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			if err := <-blocked; err != nil {
				t.Fatalf("the blocked gift, once the lock was gone: %v", err)
			}
			if lanes == 1 {
				if err := <-passed; err != nil {
					t.Fatalf("the other fan's gift, after the blocked one: %v", err)
				}
			}
			for _, id := range []ledger.AccountID{fan, other} {
				if got := balance(t, f.l, id); got != 9 {
					t.Fatalf("Balance(%d) = %d, want 9", id, got)
				}
			}
			mustVerify(t, f.l)
		})
	}
}

// waitLocked waits until a session waits for a lock on the accounts row
// of id.
func waitLocked(t *testing.T, db *store.DB, id int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := db.Read.QueryRowContext(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no batch waits for the lock on account %d after 30 s", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
