package payout_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// jobs records the jobs the ledger's operations schedule; the tests run
// them by hand.
type jobs struct {
	mu   sync.Mutex
	jobs []store.Job
}

func (q *jobs) InsertManyTx(_ context.Context, _ *sql.Tx, js []store.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, js...)
	return nil
}

func (q *jobs) InsertTx(_ context.Context, _ *sql.Tx, kind string, args any, _ time.Time) error {
	return q.InsertManyTx(context.Background(), nil, []store.Job{{Kind: kind, Args: args}})
}

func (q *jobs) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.jobs)
}

// flaky fails its first sends transiently, then pays; it counts what it
// paid by payout (a real provider's idempotency by payout id).
type flaky struct {
	mu    sync.Mutex
	fails int
	paid  map[string]int
	calls int
}

func (f *flaky) Name() string { return "sandbox" }

func (f *flaky) Send(_ context.Context, id string, _ fanfare.Amount, _, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fails > 0 {
		f.fails--
		return "", fanfare.Errorf(fanfare.EUnavailable, "the provider is down")
	}
	f.paid[id]++
	return "ref_" + id, nil
}

type fixture struct {
	ctx      context.Context
	db       *store.DB
	clock    *clock
	l        *ledger.Ledger
	accounts *account.Service
	svc      *payout.Service
	q        *jobs
	issue    ledger.AccountID
	creator  fanfare.Actor
	diamonds ledger.AccountID
	fan      fanfare.Actor
}

var start = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

const hold = 7 * 24 * time.Hour

func setup(t *testing.T, db *store.DB, opts payout.Options) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), db: db, clock: &clock{at: start}, q: &jobs{}}
	var err error
	f.l, err = ledger.Open(f.ctx, db, ledger.Options{Clock: f.clock, Jobs: f.q})
	require.NoError(t, err)
	t.Cleanup(func() { f.l.Close() })
	f.accounts = account.New(db, f.l, account.Options{Clock: f.clock, HashCost: account.MinHashCost})
	ayla, err := f.accounts.Create(f.ctx, account.CreateInput{Handle: "ayla", Password: "fanfare-demo", Region: "TR", BirthDate: "1995-05-05"})
	require.NoError(t, err)
	sam, err := f.accounts.Create(f.ctx, account.CreateInput{Handle: "sam", Password: "fanfare-demo", Region: "FR", BirthDate: "1992-02-02"})
	require.NoError(t, err)
	f.creator = fanfare.Actor{UserID: ayla.ID, Handle: ayla.Handle, Role: fanfare.RoleFan}
	f.fan = fanfare.Actor{UserID: sam.ID, Handle: sam.Handle, Role: fanfare.RoleFan}
	f.issue, err = f.l.SystemAccount(f.ctx, ledger.DiamondIssuance, fanfare.Diamond)
	require.NoError(t, err)
	f.diamonds, err = f.l.UserAccount(f.ctx, ayla.ID, fanfare.Diamond)
	require.NoError(t, err)
	opts.Clock = f.clock
	if opts.Rates == nil {
		opts.Rates, err = payout.ParseRates("EUR=0.005,TRY=0.18")
		require.NoError(t, err)
	}
	opts.Hold = hold
	if opts.Scheduler == nil {
		opts.Scheduler = f.q
	}
	f.svc, err = payout.New(f.l, f.accounts, opts)
	require.NoError(t, err)
	return f
}

// earn credits the creator d diamonds (a gift) at at.
func (f *fixture) earn(t *testing.T, at time.Time, d fanfare.Amount) {
	t.Helper()
	f.clock.set(at)
	_, err := f.l.Submit(f.ctx, ledger.Op{Kind: "gift", Object: "live:x", Actor: "test", Legs: []ledger.Leg{{Debit: f.issue, Credit: f.diamonds, Amount: d}}})
	require.NoError(t, err)
}

func (f *fixture) ask(d fanfare.Amount, cur, key string) (*payout.Asked, error) {
	return f.svc.RequestPayout(f.ctx, f.creator, payout.Request{Diamonds: d, Currency: cur}, key)
}

func (f *fixture) balance(t *testing.T, owner string, asset fanfare.Asset) fanfare.Amount {
	t.Helper()
	var b fanfare.Amount
	err := f.db.Read.QueryRowContext(f.ctx, `SELECT COALESCE(SUM(balance), 0) FROM accounts WHERE owner = $1 AND asset = $2`, owner, string(asset)).Scan(&b)
	require.NoError(t, err)
	return b
}

// verified checks the ledger's rules and the payouts against it.
func (f *fixture) verified(t *testing.T) {
	t.Helper()
	r, err := f.l.Verify(f.ctx, nil)
	require.NoError(t, err)
	require.True(t, r.OK(), "%v", r.Problems)
	problems, err := payout.Verify(f.ctx, f.l)
	require.NoError(t, err)
	require.Empty(t, problems)
}

// TestPayoutOnce asks a payout, replays it, and runs its job twice: the
// diamonds and the money owed move once, the provider pays once, and verify
// balances diamonds and fiat at every step.
func TestPayoutOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, payout.Options{})
		f.earn(t, start, 50_000)
		f.clock.set(start.Add(hold))

		a, err := f.ask(20_000, "eur", "k1")
		require.NoError(t, err)
		p := a.Payout
		require.False(t, a.Replayed)
		require.Equal(t, payout.Requested, p.State)
		require.Equal(t, payout.Payable{Amount: 10_000, Currency: "EUR"}, p.Fiat, "20,000 × 0.005 EUR = 100.00 EUR")
		require.Equal(t, "sandbox", p.Provider)
		require.Equal(t, "••••••••6789", p.Destination)
		require.Equal(t, fanfare.Amount(20_000), f.balance(t, "system:"+ledger.PayoutsPending, fanfare.Diamond))
		require.Equal(t, fanfare.Amount(10_000), f.balance(t, "system:"+ledger.FiatPayable("EUR"), "EUR"))
		f.verified(t)

		again, err := f.ask(20_000, "EUR", "k1")
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, p.ID, again.Payout.ID)
		_, err = f.ask(30_000, "EUR", "k1")
		require.Equal(t, fanfare.EIdempotencyConflict, fanfare.ErrorCode(err))
		require.Equal(t, 1, f.q.count(), "one job, from the first request")

		require.NoError(t, f.svc.Send(f.ctx, p.ID))
		require.NoError(t, f.svc.Send(f.ctx, p.ID), "a job run again does nothing")
		got, err := f.svc.Payout(f.ctx, f.creator, p.ID)
		require.NoError(t, err)
		require.Equal(t, payout.Paid, got.State)
		require.Equal(t, "sandbox_"+p.ID, got.ProviderRef)
		require.NotNil(t, got.PaidAt)
		require.Zero(t, f.balance(t, "system:"+ledger.PayoutsPending, fanfare.Diamond))
		require.Equal(t, fanfare.Amount(20_000), f.balance(t, "system:"+ledger.PayoutsPaid, fanfare.Diamond))
		require.Zero(t, f.balance(t, "system:"+ledger.FiatPayable("EUR"), "EUR"))
		require.Equal(t, fanfare.Amount(10_000), f.balance(t, "system:"+ledger.FiatPaid("EUR"), "EUR"))
		require.Equal(t, fanfare.Amount(30_000), f.balance(t, f.creator.UserID, fanfare.Diamond))
		f.verified(t)

		page, err := f.svc.Payouts(f.ctx, f.creator, "", 0)
		require.NoError(t, err)
		require.Len(t, page.Payouts, 1)
		require.Equal(t, payout.Paid, page.Payouts[0].State)
		require.Equal(t, fanfare.Amount(10_000), page.Payouts[0].Fiat.Amount)
	})
}

// TestPayoutRefused asks what the rules refuse: each answers its code and
// moves nothing.
func TestPayoutRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, payout.Options{Min: 10_000, DailyMax: 60_000})
		f.earn(t, start, 100_000)
		f.earn(t, start.Add(hold), 5_000) // held for a week
		now := start.Add(hold + time.Hour)
		f.clock.set(now)
		refused := func(code string, d fanfare.Amount, cur, key string) {
			t.Helper()
			_, err := f.ask(d, cur, key)
			require.Equal(t, code, fanfare.ErrorCode(err), "%d %s: %v", d, cur, err)
		}
		refused(fanfare.EInvalid, 9_999, "EUR", "below-min")
		refused(fanfare.EInvalid, 0, "EUR", "zero")
		refused(fanfare.EInvalid, 10_000, "XXX", "currency")
		refused(fanfare.EInsufficientFunds, 100_001, "EUR", "above")
		refused(fanfare.EPayoutLimit, 60_001, "EUR", "daily")
		refused(fanfare.EIdempotencyKeyRequired, 10_000, "EUR", "")
		_, err := f.svc.RequestPayout(f.ctx, f.fan, payout.Request{Diamonds: 10_000, Currency: "EUR"}, "fan")
		require.Equal(t, fanfare.EInsufficientFunds, fanfare.ErrorCode(err), "a fan with no diamonds")

		// The day's maximum counts what was asked today.
		_, err = f.ask(50_000, "EUR", "first")
		require.NoError(t, err)
		refused(fanfare.EPayoutLimit, 10_001, "EUR", "second")
		f.clock.set(now.Add(24 * time.Hour).Truncate(24 * time.Hour))
		_, err = f.ask(10_001, "EUR", "tomorrow")
		require.NoError(t, err, "a new UTC day")

		// An operator's hold.
		op := fanfare.Actor{Role: fanfare.RoleOperator}
		_, err = f.svc.SetHold(f.ctx, op, f.creator.UserID, true, "checking identity")
		require.NoError(t, err)
		refused(fanfare.EPayoutsHeld, 10_000, "EUR", "held")
		acct, err := f.svc.PayoutAccount(f.ctx, f.creator)
		require.NoError(t, err)
		require.True(t, acct.Held)
		require.Equal(t, "checking identity", acct.HeldReason)
		_, err = f.svc.SetHold(f.ctx, f.creator, f.creator.UserID, false, "me")
		require.Equal(t, fanfare.EForbidden, fanfare.ErrorCode(err))
		jobsBefore := f.q.count()
		_, err = f.svc.SetHold(f.ctx, op, f.creator.UserID, false, "verified")
		require.NoError(t, err)
		require.Equal(t, jobsBefore+2, f.q.count(), "the release schedules the two payouts still requested")

		// A restricted creator.
		restricted := fanfare.StandingRestricted
		_, err = f.accounts.Update(f.ctx, op, f.creator.UserID, account.UpdateInput{Standing: &restricted})
		require.NoError(t, err)
		refused(fanfare.ENotEligible, 10_000, "EUR", "restricted")
		good := fanfare.StandingGood
		_, err = f.accounts.Update(f.ctx, op, f.creator.UserID, account.UpdateInput{Standing: &good})
		require.NoError(t, err)

		// A balance below zero (a dispute took back more than was left)
		// freezes the diamonds.
		_, err = f.l.Submit(f.ctx, ledger.Op{Kind: ledger.KindShoutoutRefund, Object: "shoutout:x", Actor: "ops",
			Legs: []ledger.Leg{{Debit: f.diamonds, Credit: f.issue, Amount: 50_000, AllowNegative: true}}})
		require.NoError(t, err)
		refused(fanfare.EWalletFrozen, 10_000, "EUR", "negative")

		page, err := f.svc.Payouts(f.ctx, f.creator, "", 0)
		require.NoError(t, err)
		require.Len(t, page.Payouts, 2, "only the two accepted")
		f.verified(t)
	})
}

// TestPayoutConcurrent sends many payouts at once that together exceed
// the withdrawable diamonds: exactly the affordable ones win.
func TestPayoutConcurrent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, payout.Options{})
		f.earn(t, start, 35_000)
		f.earn(t, start.Add(hold), 40_000) // held
		f.clock.set(start.Add(hold))
		var ok, poor atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				_, err := f.ask(10_000, "EUR", fmt.Sprintf("k%d", i))
				switch fanfare.ErrorCode(err) {
				case "":
					ok.Add(1)
				case fanfare.EInsufficientFunds:
					poor.Add(1)
				default:
					t.Errorf("payout %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(3), ok.Load(), "35,000 withdrawable: three payouts of 10,000")
		require.Equal(t, int32(5), poor.Load())
		require.Equal(t, fanfare.Amount(30_000), f.balance(t, "system:"+ledger.PayoutsPending, fanfare.Diamond))
		require.Equal(t, fanfare.Amount(45_000), f.balance(t, f.creator.UserID, fanfare.Diamond))
		require.Equal(t, 3, f.q.count())
		f.verified(t)
	})
}

// TestPayoutHoldBoundary: a diamond earned exactly the hold window ago is
// withdrawable, one earned a microsecond later is not.
func TestPayoutHoldBoundary(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, payout.Options{})
		f.earn(t, start, 10_000)
		f.earn(t, start.Add(time.Microsecond), 10_000)
		f.clock.set(start.Add(hold))
		_, err := f.ask(10_001, "EUR", "too-early")
		require.Equal(t, fanfare.EInsufficientFunds, fanfare.ErrorCode(err), "the second 10,000 frees a microsecond later")
		require.Contains(t, fanfare.ErrorMessage(err), "withdraw 10000 diamonds now (10000 more are held")
		_, err = f.ask(10_000, "EUR", "exactly")
		require.NoError(t, err, "earned exactly the hold window ago")
		f.clock.set(start.Add(hold + time.Microsecond))
		_, err = f.ask(10_000, "EUR", "later")
		require.NoError(t, err)
		f.verified(t)
	})
}

// TestPayoutClawbackOfHeld: a chargeback taking back held diamonds before
// they free leaves them unwithdrawable for good.
func TestPayoutClawbackOfHeld(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, payout.Options{})
		f.earn(t, start, 30_000)
		f.earn(t, start.Add(hold), 20_000) // held
		f.clock.set(start.Add(hold + time.Hour))
		_, err := f.l.Submit(f.ctx, ledger.Op{Kind: ledger.KindChargeback, Object: "purchase:x", Actor: "stripe",
			Legs: []ledger.Leg{{Debit: f.diamonds, Credit: f.issue, Amount: 20_000, AllowNegative: true}}})
		require.NoError(t, err)
		f.clock.set(start.Add(2 * hold)) // the 20,000 would have freed
		_, err = f.ask(30_001, "EUR", "more")
		require.Equal(t, fanfare.EInsufficientFunds, fanfare.ErrorCode(err))
		_, err = f.ask(30_000, "EUR", "all")
		require.NoError(t, err)
		f.verified(t)
	})
}

// TestPayoutFails: the sandbox's failing account refuses the payout; the
// diamonds come back in one operation and are withdrawable again at once.
func TestPayoutFails(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, payout.Options{})
		f.earn(t, start, 20_000)
		f.clock.set(start.Add(hold))
		_, err := f.svc.SetSandboxAccount(f.ctx, f.creator, payout.SandboxFailingAccount)
		require.NoError(t, err)
		a, err := f.ask(20_000, "TRY", "k")
		require.NoError(t, err)
		require.NoError(t, f.svc.Send(f.ctx, a.Payout.ID))
		p, err := f.svc.Payout(f.ctx, f.creator, a.Payout.ID)
		require.NoError(t, err)
		require.Equal(t, payout.Failed, p.State)
		require.Contains(t, p.FailureReason, "no_account")
		require.Equal(t, fanfare.Amount(20_000), f.balance(t, f.creator.UserID, fanfare.Diamond))
		require.Zero(t, f.balance(t, "system:"+ledger.FiatPayable("TRY"), "TRY"))
		f.verified(t)

		_, err = f.svc.SetSandboxAccount(f.ctx, f.creator, "12345678")
		require.NoError(t, err)
		_, err = f.ask(20_000, "TRY", "k2")
		require.NoError(t, err, "the diamonds given back are withdrawable, not held again")
	})
}

// TestPayoutProviderRecovers: the provider fails twice, the job is tried
// again (by the queue, here by hand), and the payout is paid once.
func TestPayoutProviderRecovers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		prov := &flaky{fails: 2, paid: map[string]int{}}
		f := setup(t, db, payout.Options{Provider: prov})
		f.earn(t, start, 20_000)
		f.clock.set(start.Add(hold))
		a, err := f.ask(20_000, "EUR", "k")
		require.NoError(t, err)
		require.Error(t, f.svc.Send(f.ctx, a.Payout.ID))
		require.Error(t, f.svc.Send(f.ctx, a.Payout.ID))
		p, err := f.svc.Payout(f.ctx, f.creator, a.Payout.ID)
		require.NoError(t, err)
		require.Equal(t, payout.Requested, p.State, "still requested while the provider fails")
		require.NoError(t, f.svc.Send(f.ctx, a.Payout.ID))
		require.NoError(t, f.svc.Send(f.ctx, a.Payout.ID))
		require.Equal(t, map[string]int{a.Payout.ID: 1}, prov.paid)
		require.Equal(t, 3, prov.calls)
		f.verified(t)
	})
}

// TestPayoutHeldIsNotSent: a payout asked before an operator held the
// creator's payouts stays requested while the hold lasts (its job does not
// pay it), and is paid once the hold is lifted.
func TestPayoutHeldIsNotSent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, payout.Options{})
		f.earn(t, start, 30_000)
		f.clock.set(start.Add(hold))
		a, err := f.ask(10_000, "EUR", "k1")
		require.NoError(t, err)

		op := fanfare.Actor{Role: fanfare.RoleOperator}
		_, err = f.svc.SetHold(f.ctx, op, f.creator.UserID, true, "checking identity")
		require.NoError(t, err)
		require.NoError(t, f.svc.Send(f.ctx, a.Payout.ID), "the job ends without paying")
		got, err := f.svc.Payout(f.ctx, f.creator, a.Payout.ID)
		require.NoError(t, err)
		require.Equal(t, payout.Requested, got.State)
		require.Equal(t, fanfare.Amount(10_000), f.balance(t, "system:"+ledger.PayoutsPending, fanfare.Diamond))
		require.Zero(t, f.balance(t, "system:"+ledger.PayoutsPaid, fanfare.Diamond))
		f.verified(t)

		jobs := f.q.count()
		_, err = f.svc.SetHold(f.ctx, op, f.creator.UserID, false, "verified")
		require.NoError(t, err)
		require.Equal(t, jobs+1, f.q.count(), "the release schedules the payout again")
		require.NoError(t, f.svc.Send(f.ctx, a.Payout.ID))
		got, err = f.svc.Payout(f.ctx, f.creator, a.Payout.ID)
		require.NoError(t, err)
		require.Equal(t, payout.Paid, got.State)
		require.Equal(t, fanfare.Amount(10_000), f.balance(t, "system:"+ledger.PayoutsPaid, fanfare.Diamond))
		f.verified(t)
	})
}
