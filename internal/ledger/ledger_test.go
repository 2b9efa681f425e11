package ledger_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// fixture is a ledger with a funded fan, a creator and the gift accounts.
type fixture struct {
	l                      *ledger.Ledger
	promo, revenue, issue  ledger.AccountID
	fanCoins, creatorDiams ledger.AccountID
}

func setup(t testing.TB, db *store.DB, opts ledger.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	l, err := ledger.Open(ctx, db, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f := &fixture{l: l}
	f.promo = must(t)(l.SystemAccount(ctx, ledger.Promotions, fanfare.Coin))
	f.revenue = must(t)(l.SystemAccount(ctx, ledger.Revenue("gift"), fanfare.Coin))
	f.issue = must(t)(l.SystemAccount(ctx, ledger.DiamondIssuance, fanfare.Diamond))
	f.fanCoins = must(t)(l.UserAccount(ctx, "fan", fanfare.Coin))
	f.creatorDiams = must(t)(l.UserAccount(ctx, "creator", fanfare.Diamond))
	return f
}

// must returns a function that fails t on error and returns the account id.
func must(t testing.TB) func(ledger.AccountID, error) ledger.AccountID {
	return func(id ledger.AccountID, err error) ledger.AccountID {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
}

// grant gives coins to an account from promotions.
func (f *fixture) grant(t testing.TB, to ledger.AccountID, coins fanfare.Amount) {
	t.Helper()
	_, err := f.l.Submit(context.Background(), ledger.Op{Kind: "grant", Object: "test", Actor: "ops",
		Legs: []ledger.Leg{{Debit: f.promo, Credit: to, Amount: coins}}})
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
}

// gift is the ledger shape of a LIVE gift: coins to revenue, half as
// diamonds to the creator.
func (f *fixture) gift(from ledger.AccountID, coins fanfare.Amount, key string) ledger.Op {
	op := ledger.Op{Kind: "gift", Object: "live:test", Actor: "fan", Legs: []ledger.Leg{{Debit: from, Credit: f.revenue, Amount: coins}}}
	// A one-coin gift earns floor(0.5) = 0 diamonds: no leg at all.
	if d := fanfare.Share(coins, 5000); d > 0 {
		op.Legs = append(op.Legs, ledger.Leg{Debit: f.issue, Credit: f.creatorDiams, Amount: d})
	}
	if key != "" {
		op.Idem = &ledger.Idempotency{Scope: fmt.Sprint(from), Key: key, Hash: ledger.HashRequest([]byte(fmt.Sprint(coins)))}
	}
	return op
}

func balance(t testing.TB, l *ledger.Ledger, id ledger.AccountID) fanfare.Amount {
	t.Helper()
	a, err := l.Account(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a.Balance
}

func mustVerify(t testing.TB, l *ledger.Ledger) *ledger.Report {
	t.Helper()
	r, err := l.Verify(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("Verify found %d problems: %v", r.ProblemCount, r.Problems)
	}
	return r
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := fanfare.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func TestGift(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 100)
		res, err := f.l.Submit(context.Background(), f.gift(f.fanCoins, 30, "k1"))
		if err != nil {
			t.Fatal(err)
		}
		if res.OpID == "" || res.Replayed {
			t.Fatalf("result = %+v, want a fresh op id", res)
		}
		if got := res.Balance(f.fanCoins); got != 70 {
			t.Fatalf("Result balance(fan) = %d, want 70", got)
		}
		if got := res.Balance(f.creatorDiams); got != 15 {
			t.Fatalf("Result balance(creator) = %d, want 15", got)
		}
		if got := balance(t, f.l, f.fanCoins); got != 70 {
			t.Fatalf("Balance(fan) = %d, want 70", got)
		}
		if got := balance(t, f.l, f.revenue); got != 30 {
			t.Fatalf("Balance(revenue) = %d, want 30", got)
		}
		if got := balance(t, f.l, f.issue); got != -15 {
			t.Fatalf("Balance(issuance) = %d, want -15", got)
		}
		r := mustVerify(t, f.l)
		if r.Transfers != 3 || r.Accounts != 5 {
			t.Fatalf("Verify checked %d transfers and %d accounts, want 3 and 5", r.Transfers, r.Accounts)
		}
	})
}

func TestBadOperations(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 100)
		other := must(t)(f.l.UserAccount(ctx, "other", fanfare.Coin))
		cases := []struct {
			name string
			op   ledger.Op
			code string
		}{
			{"zero", f.gift(f.fanCoins, 0, ""), fanfare.EInvalid},
			{"negative", f.gift(f.fanCoins, -5, ""), fanfare.EInvalid},
			{"above 2^53", f.gift(f.fanCoins, fanfare.MaxAmount+1, ""), fanfare.EInvalid},
			{"no legs", ledger.Op{Kind: "gift"}, fanfare.EInvalid},
			{"no kind", ledger.Op{Legs: []ledger.Leg{{Debit: f.fanCoins, Credit: other, Amount: 1}}}, fanfare.EInvalid},
			{"to itself", ledger.Op{Kind: "x", Legs: []ledger.Leg{{Debit: f.fanCoins, Credit: f.fanCoins, Amount: 1}}}, fanfare.EInvalid},
			{"unknown account", ledger.Op{Kind: "x", Legs: []ledger.Leg{{Debit: f.fanCoins, Credit: 999999, Amount: 1}}}, fanfare.ENotFound},
			{"asset mismatch", ledger.Op{Kind: "x", Legs: []ledger.Leg{{Debit: f.fanCoins, Credit: f.creatorDiams, Amount: 1}}}, fanfare.EInvalid},
			{"insufficient", f.gift(f.fanCoins, 101, ""), fanfare.EInsufficientFunds},
			{"void unknown hold", ledger.Op{Kind: "x", Hold: &ledger.HoldOp{Action: ledger.HoldVoid, ID: "nope"}}, fanfare.ENotFound},
			{"hold without id", ledger.Op{Kind: "x", Hold: &ledger.HoldOp{Action: ledger.HoldPost}}, fanfare.EInvalid},
			{"bad idempotency key", ledger.Op{Kind: "x", Legs: []ledger.Leg{{Debit: f.fanCoins, Credit: other, Amount: 1}},
				Idem: &ledger.Idempotency{Scope: "s", Key: "", Hash: "h"}}, fanfare.EInvalid},
		}
		for _, tc := range cases {
			_, err := f.l.Submit(ctx, tc.op)
			if got := fanfare.ErrorCode(err); got != tc.code {
				t.Errorf("%s: error = %v, want code %q", tc.name, err, tc.code)
			}
		}
		if got := balance(t, f.l, f.fanCoins); got != 100 {
			t.Fatalf("Balance(fan) = %d after refused operations, want 100", got)
		}
		if _, err := f.l.UserAccount(ctx, "fan", "coin"); fanfare.ErrorCode(err) != fanfare.EInvalid {
			t.Fatalf("UserAccount with unknown asset: %v, want validation_failed", err)
		}
		if _, err := f.l.UserAccount(ctx, "system:promotions", fanfare.Coin); fanfare.ErrorCode(err) != fanfare.EInvalid {
			t.Fatalf("UserAccount named like a system account: %v, want validation_failed", err)
		}
		mustVerify(t, f.l)
	})
}

func TestBalanceOverflow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		// Keep granting the largest amount: the balance must refuse to
		// overflow rather than wrap.
		var refused bool
		for range 1100 {
			_, err := f.l.Submit(ctx, ledger.Op{Kind: "grant", Legs: []ledger.Leg{{Debit: f.promo, Credit: f.fanCoins, Amount: fanfare.MaxAmount}}})
			if err != nil {
				wantCode(t, err, fanfare.EInvalid)
				refused = true
				break
			}
		}
		if !refused {
			t.Fatal("balance grew past 2^62 without refusal")
		}
		if b := balance(t, f.l, f.fanCoins); b <= 0 {
			t.Fatalf("Balance(fan) = %d, wrapped", b)
		}
		mustVerify(t, f.l)
	})
}

// TestConcurrentSpend races 200 goroutines to spend a balance that affords
// exactly 37 of them, through the committer.
func TestConcurrentSpend(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		const price, afford, racers = 7, 37, 200
		f.grant(t, f.fanCoins, price*afford)
		var ok, poor atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := f.l.Submit(ctx, f.gift(f.fanCoins, price, fmt.Sprintf("spend-%d", i)))
				switch fanfare.ErrorCode(err) {
				case "":
					ok.Add(1)
				case fanfare.EInsufficientFunds:
					poor.Add(1)
				default:
					t.Errorf("spend %d: %v", i, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if ok.Load() != afford || poor.Load() != racers-afford {
			t.Fatalf("%d spends succeeded and %d were refused, want %d and %d", ok.Load(), poor.Load(), afford, racers-afford)
		}
		if got := balance(t, f.l, f.fanCoins); got != 0 {
			t.Fatalf("Balance(fan) = %d, want 0", got)
		}
		if got := balance(t, f.l, f.creatorDiams); got != afford*fanfare.Share(price, 5000) {
			t.Fatalf("Balance(creator) = %d, want %d", got, afford*fanfare.Share(price, 5000))
		}
		mustVerify(t, f.l)
	})
}

// TestConcurrentSpendSeveralLedgers runs the same race through two ledgers
// (two committers) on one database, as two nodes would.
func TestConcurrentSpendSeveralLedgers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		g := setup(t, db, ledger.Options{MaxBatch: 16})
		const afford, racers = 37, 200
		f.grant(t, f.fanCoins, afford)
		var ok atomic.Int64
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := f
				if i%2 == 1 {
					l = g
				}
				_, err := l.l.Submit(ctx, f.gift(f.fanCoins, 1, fmt.Sprintf("n-%d", i)))
				if err == nil {
					ok.Add(1)
				} else if fanfare.ErrorCode(err) != fanfare.EInsufficientFunds {
					t.Errorf("spend: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != afford {
			t.Fatalf("%d spends succeeded, want %d", ok.Load(), afford)
		}
		mustVerify(t, f.l)
	})
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 1000)
		const replays = 1000
		results := make([]*ledger.Result, replays)
		var wg sync.WaitGroup
		for i := range replays {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := f.l.Submit(ctx, f.gift(f.fanCoins, 10, "same-key"))
				if err != nil {
					t.Errorf("replay %d: %v", i, err)
					return
				}
				results[i] = r
			}()
		}
		wg.Wait()
		fresh := 0
		for i, r := range results {
			if r == nil {
				continue
			}
			if !r.Replayed {
				fresh++
			}
			if r.OpID != results[0].OpID || r.Balance(f.fanCoins) != 990 || !r.CreatedAt.Equal(results[0].CreatedAt) {
				t.Fatalf("reply %d = %+v, want the original %+v", i, r, results[0])
			}
		}
		if fresh != 1 {
			t.Fatalf("%d replies were fresh, want exactly 1", fresh)
		}
		if got := balance(t, f.l, f.fanCoins); got != 990 {
			t.Fatalf("Balance(fan) = %d after %d replays, want 990", got, replays)
		}
		// Same key, another body.
		_, err := f.l.Submit(ctx, f.gift(f.fanCoins, 11, "same-key"))
		wantCode(t, err, fanfare.EIdempotencyConflict)
		// A stored failure replays as the same failure, even once it could
		// succeed.
		_, err = f.l.Submit(ctx, f.gift(f.fanCoins, 5000, "too-much"))
		wantCode(t, err, fanfare.EInsufficientFunds)
		f.grant(t, f.fanCoins, 10000)
		r, err := f.l.Submit(ctx, f.gift(f.fanCoins, 5000, "too-much"))
		wantCode(t, err, fanfare.EInsufficientFunds)
		if r == nil || !r.Replayed {
			t.Fatalf("replayed failure result = %+v, want Replayed", r)
		}
		// Keys are scoped: another scope may reuse the key.
		op := f.gift(f.fanCoins, 10, "same-key")
		op.Idem.Scope = "someone-else"
		if r, err := f.l.Submit(ctx, op); err != nil || r.Replayed {
			t.Fatalf("same key in another scope = %+v, %v; want a fresh operation", r, err)
		}
		mustVerify(t, f.l)
	})
}

func TestIdempotencyPurge(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := &testClock{}
		f := setup(t, db, ledger.Options{Clock: clock})
		f.grant(t, f.fanCoins, 100)
		if _, err := f.l.Submit(ctx, f.gift(f.fanCoins, 10, "k")); err != nil {
			t.Fatal(err)
		}
		clock.advance(71 * 3600e9)
		if n, err := f.l.PurgeIdempotency(ctx); err != nil || n != 0 {
			t.Fatalf("PurgeIdempotency before 72h = %d, %v; want 0", n, err)
		}
		if r, err := f.l.Submit(ctx, f.gift(f.fanCoins, 10, "k")); err != nil || !r.Replayed {
			t.Fatalf("replay at 71h = %+v, %v; want a replay", r, err)
		}
		clock.advance(2 * 3600e9)
		if n, err := f.l.PurgeIdempotency(ctx); err != nil || n != 1 {
			t.Fatalf("PurgeIdempotency after 72h = %d, %v; want 1", n, err)
		}
	})
}

func TestHoldRace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		creatorCoins := must(t)(f.l.UserAccount(ctx, "creator", fanfare.Coin))
		f.grant(t, f.fanCoins, 1000)
		for round := range 10 {
			res, err := f.l.Submit(ctx, ledger.Op{Kind: "shoutout_hold", Object: "shoutout:x",
				Hold: &ledger.HoldOp{Action: ledger.HoldCreate, Debit: f.fanCoins, Credit: creatorCoins, Amount: 50}})
			if err != nil {
				t.Fatal(err)
			}
			id := res.HoldID
			var posts, voids atomic.Int64
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					action, n := ledger.HoldPost, &posts
					if i%2 == 0 {
						action, n = ledger.HoldVoid, &voids
					}
					_, err := f.l.Submit(ctx, ledger.Op{Kind: "shoutout_resolve", Hold: &ledger.HoldOp{Action: action, ID: id}})
					switch fanfare.ErrorCode(err) {
					case "":
						n.Add(1)
					case fanfare.EInvalidState:
					default:
						t.Errorf("resolve: %v", err)
					}
				}()
			}
			wg.Wait()
			if posts.Load()+voids.Load() != 1 {
				t.Fatalf("round %d: %d posts and %d voids won, want exactly one", round, posts.Load(), voids.Load())
			}
		}
		mustVerify(t, f.l)
		if got := balance(t, f.l, f.fanCoins) + balance(t, f.l, creatorCoins); got != 1000 {
			t.Fatalf("fan + creator = %d coins, want 1000", got)
		}
	})
}

func TestHoldLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		creatorCoins := must(t)(f.l.UserAccount(ctx, "creator", fanfare.Coin))
		f.grant(t, f.fanCoins, 100)
		hold := func(amount fanfare.Amount) (*ledger.Result, error) {
			return f.l.Submit(ctx, ledger.Op{Kind: "shoutout_hold",
				Hold: &ledger.HoldOp{Action: ledger.HoldCreate, Debit: f.fanCoins, Credit: creatorCoins, Amount: amount}})
		}
		_, err := hold(101)
		wantCode(t, err, fanfare.EInsufficientFunds)
		res, err := hold(80)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Balance(f.fanCoins); got != 20 {
			t.Fatalf("balance after hold = %d, want 20", got)
		}
		// The held coins cannot be spent twice.
		_, err = hold(30)
		wantCode(t, err, fanfare.EInsufficientFunds)
		_, err = f.l.Submit(ctx, ledger.Op{Kind: "x", Hold: &ledger.HoldOp{Action: ledger.HoldCreate, ID: res.HoldID, Debit: f.fanCoins, Credit: creatorCoins, Amount: 1}})
		wantCode(t, err, fanfare.EInvalidState)
		mustVerify(t, f.l)
		// Post with an extra leg: diamonds to the creator.
		_, err = f.l.Submit(ctx, ledger.Op{Kind: "shoutout_post", Hold: &ledger.HoldOp{Action: ledger.HoldPost, ID: res.HoldID},
			Legs: []ledger.Leg{{Debit: f.issue, Credit: f.creatorDiams, Amount: 64}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.l.Submit(ctx, ledger.Op{Kind: "x", Hold: &ledger.HoldOp{Action: ledger.HoldVoid, ID: res.HoldID}})
		wantCode(t, err, fanfare.EInvalidState)
		if got := balance(t, f.l, creatorCoins); got != 80 {
			t.Fatalf("Balance(creator coins) = %d, want 80", got)
		}
		mustVerify(t, f.l)
	})
}

func TestClawbackFreezes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 100)
		if _, err := f.l.Submit(ctx, f.gift(f.fanCoins, 80, "")); err != nil {
			t.Fatal(err)
		}
		// The purchase is charged back: the clawback may go below zero.
		claw := ledger.Op{Kind: "chargeback", Legs: []ledger.Leg{{Debit: f.fanCoins, Credit: f.promo, Amount: 100, AllowNegative: true}}}
		if _, err := f.l.Submit(ctx, claw); err != nil {
			t.Fatal(err)
		}
		if got := balance(t, f.l, f.fanCoins); got != -80 {
			t.Fatalf("Balance(fan) = %d, want -80", got)
		}
		_, err := f.l.Submit(ctx, f.gift(f.fanCoins, 1, ""))
		wantCode(t, err, fanfare.EWalletFrozen)
		f.grant(t, f.fanCoins, 81)
		if _, err := f.l.Submit(ctx, f.gift(f.fanCoins, 1, "")); err != nil {
			t.Fatalf("spend after settlement: %v", err)
		}
		mustVerify(t, f.l)
	})
}

// TestAllowNegativeOnlyForClawbacks: a debit may take a balance below zero
// in a clawback only. Any other operation that asks for it is a
// programming error, refused before it moves anything.
func TestAllowNegativeOnlyForClawbacks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 10)
		gift := f.gift(f.fanCoins, 50, "k1")
		gift.Legs[0].AllowNegative = true
		effects := 0
		gift.Effect = func(context.Context, *sql.Tx, *ledger.Result) error { effects++; return nil }
		res, err := f.l.Submit(ctx, gift)
		if res != nil || !errors.Is(err, ledger.ErrNegativeNotAllowed) {
			t.Fatalf("Submit(gift allowing a negative balance) = %+v, %v; want ErrNegativeNotAllowed", res, err)
		}
		if code := fanfare.ErrorCode(err); code != fanfare.EInternal {
			t.Fatalf("error code = %q, want %q (a programming error, not a business answer)", code, fanfare.EInternal)
		}
		if got := balance(t, f.l, f.fanCoins); got != 10 {
			t.Fatalf("Balance(fan) = %d, want 10", got)
		}
		if got := balance(t, f.l, f.creatorDiams); got != 0 {
			t.Fatalf("Balance(creator) = %d, want 0", got)
		}
		if effects != 0 {
			t.Fatalf("the refused operation's effect ran %d times", effects)
		}
		// Nothing was stored under its key: the key is still free.
		if r, err := f.l.Replay(ctx, *gift.Idem); r != nil || err != nil {
			t.Fatalf("Replay(k1) = %+v, %v; want an unused key", r, err)
		}
		if r := mustVerify(t, f.l); r.Transfers != 1 {
			t.Fatalf("Verify counted %d transfers, want 1 (the grant)", r.Transfers)
		}

		// The clawback kinds may.
		for i, kind := range []string{ledger.KindChargeback, ledger.KindRefund, ledger.KindShoutoutRefund} {
			if !ledger.IsClawback(kind) {
				t.Fatalf("IsClawback(%q) = false", kind)
			}
			_, err := f.l.Submit(ctx, ledger.Op{Kind: kind, Object: "purchase:p", Actor: "psp",
				Legs: []ledger.Leg{{Debit: f.fanCoins, Credit: f.promo, Amount: 20, AllowNegative: true}}})
			if err != nil {
				t.Fatalf("Submit(%s) = %v", kind, err)
			}
			if got, want := balance(t, f.l, f.fanCoins), fanfare.Amount(10-20*(i+1)); got != want {
				t.Fatalf("Balance(fan) after %s = %d, want %d", kind, got, want)
			}
		}
		for _, kind := range []string{"gift", "tip", "grant", "purchase", "chargeback_reversal", "shoutout", "shoutout_hold", ""} {
			if ledger.IsClawback(kind) {
				t.Fatalf("IsClawback(%q) = true", kind)
			}
		}
		mustVerify(t, f.l)
	})
}

// TestVerifyNegativeOnlyForClawbacks writes transfers behind the ledger's
// back that take a fan below zero with the flag that allows it: Verify
// accepts it from a clawback kind only (rule 3).
func TestVerifyNegativeOnlyForClawbacks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, tc := range []struct {
			kind     string
			problems int
		}{
			{ledger.KindChargeback, 0},
			{ledger.KindRefund, 0},
			{ledger.KindShoutoutRefund, 0},
			{"gift", 1},
		} {
			ctx := context.Background()
			f := setup(t, db, ledger.Options{})
			fan := must(t)(f.l.UserAccount(ctx, "fan-"+tc.kind, fanfare.Coin))
			f.grant(t, fan, 10)
			// 50 coins out of a fan who has 10, flagged as allowed, with
			// the balances kept in step so that only rule 3 can object.
			if _, err := db.Write.ExecContext(ctx, `INSERT INTO transfers (op_id, debit_account_id, credit_account_id, amount, kind, object, actor, hold_id, flags, created_at)
				VALUES ($1, $2, $3, 50, $4, 'test', 'test', NULL, $5, 0)`, "written-"+tc.kind, int64(fan), int64(f.promo), tc.kind, ledger.FlagAllowNegative); err != nil {
				t.Fatal(err)
			}
			for _, u := range []struct {
				id    ledger.AccountID
				delta int64
			}{{fan, -50}, {f.promo, 50}} {
				if _, err := db.Write.ExecContext(ctx, `UPDATE accounts SET balance = balance + $1 WHERE id = $2`, u.delta, int64(u.id)); err != nil {
					t.Fatal(err)
				}
			}
			// And the system account's daily totals (platform_days).
			if _, err := db.Write.ExecContext(ctx, `INSERT INTO platform_days (account_id, day, kind, credited, debited, last_credit_at)
				VALUES ($1, 0, $2, 50, 0, 0)`, int64(f.promo), tc.kind); err != nil {
				t.Fatal(err)
			}
			r, err := f.l.Verify(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.ProblemCount != tc.problems {
				t.Fatalf("%s: Verify = %d problems %v, want %d", tc.kind, r.ProblemCount, r.Problems, tc.problems)
			}
			if tc.problems > 0 {
				p := r.Problems[0]
				if !strings.HasPrefix(p, "rule 3:") || !strings.Contains(p, "below zero to -40") || !strings.Contains(p, `"gift" is not a clawback kind`) {
					t.Fatalf("Verify problem = %q, want rule 3 naming the kind", p)
				}
				// Undo it, so the next kind starts from a ledger that verifies.
				if _, err := db.Write.ExecContext(ctx, `DELETE FROM transfers WHERE op_id = $1`, "written-"+tc.kind); err != nil {
					t.Fatal(err)
				}
				for _, u := range []struct {
					id    ledger.AccountID
					delta int64
				}{{fan, 50}, {f.promo, -50}} {
					if _, err := db.Write.ExecContext(ctx, `UPDATE accounts SET balance = balance + $1 WHERE id = $2`, u.delta, int64(u.id)); err != nil {
						t.Fatal(err)
					}
				}
			}
			f.l.Close()
		}
	})
}

// TestVerifyFindsTampering changes stored state behind the ledger's back and
// expects Verify to say so.
func TestVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 100)
		mustVerify(t, f.l)
		if _, err := db.Write.ExecContext(ctx, `UPDATE accounts SET balance = balance + 1 WHERE id = $1`, int64(f.fanCoins)); err != nil {
			t.Fatal(err)
		}
		r, err := f.l.Verify(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK() || r.ProblemCount != 2 { // the account differs, and COIN no longer sums to 0
			t.Fatalf("Verify = %d problems %v, want 2", r.ProblemCount, r.Problems)
		}
	})
}

type testClock struct {
	mu sync.Mutex
	ns int64
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return epoch.Add(time.Duration(c.ns))
}

func (c *testClock) advance(ns float64) {
	c.mu.Lock()
	c.ns += int64(ns)
	c.mu.Unlock()
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	c.ns = int64(t.Sub(epoch))
	c.mu.Unlock()
}

// TestEffect checks that an operation's effect commits with its money, and
// that an effect that fails takes only its own operation down.
func TestEffect(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 100)
		note := func(id string, fail error) func(context.Context, *sql.Tx, *ledger.Result) error {
			return func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (id, actor, action, object, details, created_at) VALUES ($1, 'test', 'note', $2, '{}', 0)`, id, r.OpID)
				if err != nil {
					return err
				}
				return fail
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				op := f.gift(f.fanCoins, 1, fmt.Sprintf("effect-%d", i))
				var fail error
				if i%4 == 0 {
					fail = fanfare.Errorf(fanfare.EInvalidState, "effect %d refused", i)
				}
				op.Effect = note(fmt.Sprintf("note-%d", i), fail)
				_, errs[i] = f.l.Submit(ctx, op)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			want := ""
			if i%4 == 0 {
				want = fanfare.EInvalidState
			}
			if got := fanfare.ErrorCode(err); got != want {
				t.Errorf("op %d: error %v, want code %q", i, err, want)
			}
			var n int
			db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE id = $1`, fmt.Sprintf("note-%d", i)).Scan(&n)
			if (n == 1) != (want == "") {
				t.Errorf("op %d: %d effect rows, want them only for committed operations", i, n)
			}
		}
		if got := balance(t, f.l, f.fanCoins); got != 85 {
			t.Fatalf("Balance(fan) = %d, want 85 (15 of 20 one-coin gifts)", got)
		}
		// A refused effect is the operation's stored answer.
		op := f.gift(f.fanCoins, 1, "effect-0")
		op.Effect = note("note-0", nil)
		_, err := f.l.Submit(ctx, op)
		wantCode(t, err, fanfare.EInvalidState)
		mustVerify(t, f.l)
	})
}

// TestWrites checks operations whose effect is Writes, sent together: a
// write that changes no row fails its own operation alone (its earlier
// writes go too), the operations after it in the batch are checked again
// without it, and operations with an Effect in between keep their place.
func TestWrites(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 30) // exactly what the operations whose writes pass spend
		const insert = `INSERT INTO audit_log (id, actor, action, object, details, created_at) VALUES ($1, 'test', 'note', $2, '{}', 0)`
		refused := func(i int) error { return fanfare.Errorf(fanfare.EInvalidState, "write of %d refused", i) }
		var wg sync.WaitGroup
		errs := make([]error, 40)
		start := make(chan struct{})
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				op := f.gift(f.fanCoins, 1, fmt.Sprintf("writes-%d", i))
				id := fmt.Sprintf("note-%d", i)
				fail := i%4 == 0
				op.Writes = func(r *ledger.Result) []ledger.Write {
					// Some writes are sent last (Write.Last), the checks
					// too: the outcome is the same.
					ws := []ledger.Write{{SQL: insert, Args: []any{id, r.OpID}, Last: i%3 == 0}}
					if fail {
						ws = append(ws, ledger.Write{
							Last: i%8 == 0,
							SQL:  `UPDATE audit_log SET details = '{}' WHERE id = $1 AND action = 'none'`,
							Args: []any{id},
							Fail: func(ctx context.Context, tx *sql.Tx) error {
								// Explained from the state before the operation: its
								// own row is not there.
								var n int
								if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE id = $1`, id).Scan(&n); err != nil {
									return err
								}
								if n != 0 {
									return fmt.Errorf("Fail sees the operation's own write")
								}
								return refused(i)
							},
						})
					}
					return ws
				}
				if i%5 == 1 {
					// An Effect as well (run after the Writes, on its own).
					op.Effect = func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
						_, err := tx.ExecContext(ctx, insert, id+"-effect", r.OpID)
						return err
					}
				}
				_, errs[i] = f.l.Submit(ctx, op)
			}()
		}
		close(start)
		wg.Wait()
		committed := 0
		for i, err := range errs {
			code := fanfare.ErrorCode(err)
			switch {
			case err == nil:
				committed++
				if i%4 == 0 {
					t.Errorf("op %d committed, but its write changed no row", i)
				}
			case i%4 == 0 && (code == fanfare.EInvalidState || code == fanfare.EInsufficientFunds):
				// Refused by its write, or by its balance if it came after
				// the thirty others.
			default:
				t.Errorf("op %d: %v", i, err)
			}
			var n, e int
			db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE id = $1`, fmt.Sprintf("note-%d", i)).Scan(&n)
			db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE id = $1`, fmt.Sprintf("note-%d-effect", i)).Scan(&e)
			if (n == 1) != (err == nil) || (i%5 == 1 && (e == 1) != (err == nil)) || (i%5 != 1 && e != 0) {
				t.Errorf("op %d (error %v): %d written rows and %d effect rows", i, err, n, e)
			}
		}
		// Thirty coins, one a gift: the refused writes never spent any.
		if committed != 30 {
			t.Errorf("%d operations committed, want 30", committed)
		}
		if got := balance(t, f.l, f.fanCoins); got != 0 {
			t.Fatalf("Balance(fan) = %d, want 0", got)
		}
		// Replays get the stored answers; a refused write left the coins.
		_, err := f.l.Submit(ctx, f.gift(f.fanCoins, 1, "writes-0"))
		wantCode(t, err, fanfare.ErrorCode(errs[0]))
		f.grant(t, f.fanCoins, 1)
		op := f.gift(f.fanCoins, 1, "writes-late")
		op.Writes = func(*ledger.Result) []ledger.Write {
			return []ledger.Write{{SQL: `UPDATE audit_log SET details = '{}' WHERE id = 'none'`,
				Fail: func(context.Context, *sql.Tx) error { return refused(-1) }}}
		}
		_, err = f.l.Submit(ctx, op)
		wantCode(t, err, fanfare.EInvalidState)
		if got := balance(t, f.l, f.fanCoins); got != 1 {
			t.Fatalf("Balance(fan) = %d after a refused write, want 1", got)
		}
		mustVerify(t, f.l)
	})
}

// TestHoldPostWithLegs posts a hold and issues diamonds in one operation (a
// delivered shoutout), then reverses it with a shoutout_refund after the
// creator spent the diamonds: the creator goes below zero, the fan gets
// every coin back, and Verify finds nothing wrong.
func TestHoldPostWithLegs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 1000)
		held, err := f.l.Submit(ctx, ledger.Op{Kind: "shoutout_hold", Object: "shoutout:s1", Actor: "fan",
			Hold: &ledger.HoldOp{Action: ledger.HoldCreate, Debit: f.fanCoins, Credit: f.revenue, Amount: 600}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.l.Submit(ctx, ledger.Op{Kind: "shoutout", Object: "shoutout:s1", Actor: "creator",
			Hold: &ledger.HoldOp{Action: ledger.HoldPost, ID: held.HoldID},
			Legs: []ledger.Leg{{Debit: f.issue, Credit: f.creatorDiams, Amount: 480}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := balance(t, f.l, f.fanCoins); got != 400 {
			t.Fatalf("Balance(fan) = %d, want 400", got)
		}
		if got := balance(t, f.l, f.creatorDiams); got != 480 {
			t.Fatalf("Balance(creator) = %d, want 480", got)
		}
		mustVerify(t, f.l)
		// The creator cashes out 300 of them.
		out := must(t)(f.l.SystemAccount(ctx, "payouts", fanfare.Diamond))
		if _, err := f.l.Submit(ctx, ledger.Op{Kind: "payout", Object: "payout:1", Actor: "creator",
			Legs: []ledger.Leg{{Debit: f.creatorDiams, Credit: out, Amount: 300}}}); err != nil {
			t.Fatal(err)
		}
		refund := ledger.Op{Kind: ledger.KindShoutoutRefund, Object: "shoutout:s1", Actor: "ops", Legs: []ledger.Leg{
			{Debit: f.creatorDiams, Credit: f.issue, Amount: 480, AllowNegative: true},
			{Debit: f.revenue, Credit: f.fanCoins, Amount: 600},
		}}
		if _, err := f.l.Submit(ctx, refund); err != nil {
			t.Fatal(err)
		}
		if got := balance(t, f.l, f.fanCoins); got != 1000 {
			t.Fatalf("Balance(fan) after the refund = %d, want 1000", got)
		}
		if got := balance(t, f.l, f.creatorDiams); got != -300 {
			t.Fatalf("Balance(creator) after the refund = %d, want -300", got)
		}
		mustVerify(t, f.l)
	})
}
