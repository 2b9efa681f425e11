package subscription_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/subscription"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// The year starts on January 31st, so renewals meet every month's end.
var start = time.Date(2027, 1, 31, 18, 0, 0, 0, time.UTC)

var operator = fanfare.Actor{Role: fanfare.RoleOperator}

// clock is a settable test clock.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) Now() time.Time   { return *c.t.Load() }
func (c *clock) set(t time.Time)  { c.t.Store(&t) }

// job is a job the fake scheduler recorded.
type job struct {
	kind string
	args json.RawMessage
	at   time.Time
}

// scheduler records the jobs inserted in transactions that committed or
// not (the tests run the sweep, which finds what is due in the tables).
type scheduler struct {
	mu   sync.Mutex
	jobs []job
}

func (s *scheduler) InsertTx(ctx context.Context, tx *sql.Tx, kind string, args any, at time.Time) error {
	b, err := json.Marshal(args)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs = append(s.jobs, job{kind, b, at})
	return nil
}

func (s *scheduler) InsertManyTx(ctx context.Context, tx *sql.Tx, jobs []store.Job) error {
	for _, j := range jobs {
		if err := s.InsertTx(ctx, tx, j.Kind, j.Args, j.At); err != nil {
			return err
		}
	}
	return nil
}

func (s *scheduler) last(t *testing.T) job {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotEmpty(t, s.jobs)
	return s.jobs[len(s.jobs)-1]
}

type fixture struct {
	db       *store.DB
	clock    *clock
	ledger   *ledger.Ledger
	accounts *account.Service
	wallet   *wallet.Service
	sched    *scheduler
	rules    *eligibility.Engine
	s        *subscription.Service
	creator  fanfare.Actor // ayla: a plan with two tiers
	fan      fanfare.Actor // sam
	basic    subscription.Tier
	vip      subscription.Tier
}

const (
	basicPrice = 300
	vipPrice   = 1000
)

func setup(t *testing.T, db *store.DB, opts subscription.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: db, clock: newClock(start), sched: &scheduler{}}
	l, err := ledger.Open(ctx, db, ledger.Options{Clock: f.clock, Jobs: f.sched})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	f.ledger = l
	f.accounts = account.New(db, l, account.Options{Clock: f.clock})
	f.wallet = wallet.New(db, l, f.accounts, wallet.Options{Clock: f.clock, Limits: &wallet.Limits{}})
	rules, err := eligibility.New(db, f.clock, nil)
	require.NoError(t, err)
	f.rules = rules
	opts.Clock = f.clock
	opts.Scheduler = f.sched
	f.s, err = subscription.New(db, l, f.accounts, f.wallet, rules, opts)
	require.NoError(t, err)
	f.creator = f.user(t, "ayla", "TR", "1995-05-05", 50_000, "")
	f.fan = f.user(t, "sam", "FR", "1990-01-01", 0, "")
	p, err := f.s.SetPlan(ctx, f.creator, subscription.PlanInput{Enabled: true, Tiers: []subscription.TierInput{
		{Name: "Fan club", Price: basicPrice, Perks: []string{"Badge", "Emotes"}},
		{Name: "VIP", Price: vipPrice, Perks: []string{"Badge", "Emotes", "Posts"}},
	}})
	require.NoError(t, err)
	require.True(t, p.Eligible, "reasons: %v", p.Reasons)
	f.basic, f.vip = p.Tiers[0], p.Tiers[1]
	return f
}

func (f *fixture) user(t *testing.T, handle, region, birth string, followers int64, accountType fanfare.AccountType) fanfare.Actor {
	t.Helper()
	ctx := context.Background()
	u, err := f.accounts.Create(ctx, account.CreateInput{Handle: handle, Password: "fanfare-demo", Region: region, BirthDate: birth, AccountType: accountType})
	require.NoError(t, err)
	if followers > 0 {
		_, err = f.accounts.Update(ctx, operator, u.ID, account.UpdateInput{Followers: &followers})
		require.NoError(t, err)
	}
	return fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}
}

func (f *fixture) grant(t *testing.T, to fanfare.Actor, coins fanfare.Amount) {
	t.Helper()
	_, err := f.wallet.Grant(context.Background(), operator, wallet.GrantInput{UserID: to.UserID, Coins: coins, Reason: "test"}, fanfare.NewID(f.clock))
	require.NoError(t, err)
}

// spend empties a user's wallet down to left coins (a tip to nobody is not
// possible: the coins go to a throwaway creator as a spend).
func (f *fixture) drain(t *testing.T, who fanfare.Actor, left fanfare.Amount) {
	t.Helper()
	ctx := context.Background()
	w, err := f.wallet.Wallet(ctx, who.UserID)
	require.NoError(t, err)
	if w.Coins <= left {
		return
	}
	sink := f.user(t, fmt.Sprint("sink", keys.Add(1)), "TR", "1990-01-01", 0, "")
	_, err = f.wallet.Pay(ctx, who, wallet.Spend{Feature: "tip", What: "tip", Object: "test", CreatorID: sink.UserID,
		Coins: w.Coins - left, Idem: &ledger.Idempotency{Scope: who.ID(), Key: fmt.Sprint("drain", keys.Add(1)), Hash: "drain"}})
	require.NoError(t, err)
}

var keys atomic.Int64

func key() string { return fmt.Sprint("k", keys.Add(1)) }

// coins returns who's coins, after checking that the ledger verifies.
func (f *fixture) coins(t *testing.T, who fanfare.Actor) fanfare.Amount {
	t.Helper()
	ctx := context.Background()
	r, err := f.ledger.Verify(ctx, nil)
	require.NoError(t, err)
	require.True(t, r.OK(), "verify: %v", r.Problems)
	w, err := f.wallet.Wallet(ctx, who.UserID)
	require.NoError(t, err)
	return w.Coins
}

func (f *fixture) diamonds(t *testing.T, who fanfare.Actor) fanfare.Amount {
	t.Helper()
	w, err := f.wallet.Wallet(context.Background(), who.UserID)
	require.NoError(t, err)
	return w.Diamonds
}

// snapshot is what a refused action must leave unchanged.
func (f *fixture) snapshot(t *testing.T) string {
	t.Helper()
	var transfers, subs, periods, sum int64
	require.NoError(t, f.db.Read.QueryRow(`SELECT COUNT(*) FROM transfers`).Scan(&transfers))
	require.NoError(t, f.db.Read.QueryRow(`SELECT COUNT(*), COALESCE(SUM(updated_at), 0) FROM subscriptions`).Scan(&subs, &sum))
	require.NoError(t, f.db.Read.QueryRow(`SELECT COUNT(*) FROM subscription_periods`).Scan(&periods))
	return fmt.Sprint(transfers, "/", subs, "/", sum, "/", periods)
}

func (f *fixture) subscribe(t *testing.T, who fanfare.Actor, tier string) *subscription.Subscription {
	t.Helper()
	s, err := f.s.Subscribe(context.Background(), who, f.creator.UserID, subscription.SubscribeInput{Tier: tier}, key())
	require.NoError(t, err)
	return s.Subscription
}

func (f *fixture) get(t *testing.T, id string) *subscription.Subscription {
	t.Helper()
	s, err := f.s.Get(context.Background(), operator, id)
	require.NoError(t, err)
	return s
}

// at sets the clock to at and runs the sweep, as the job queue would.
func (f *fixture) at(t *testing.T, at time.Time) int {
	t.Helper()
	f.clock.set(at)
	n, err := f.s.Sweep(context.Background())
	require.NoError(t, err)
	return n
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, fanfare.ErrorCode(err), "error: %v", err)
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 18, 0, 0, 0, time.UTC) }

func TestAddMonths(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		from time.Time
		n    int
		want time.Time
	}{
		{date(2027, 1, 31), 1, date(2027, 2, 28)},
		{date(2027, 1, 31), 2, date(2027, 3, 31)},
		{date(2027, 1, 31), 3, date(2027, 4, 30)},
		{date(2028, 1, 31), 1, date(2028, 2, 29)},
		{date(2027, 1, 15), 12, date(2028, 1, 15)},
		{date(2027, 12, 31), 2, date(2028, 2, 29)},
		{date(2027, 3, 30), 11, date(2028, 2, 29)},
	} {
		require.Equal(t, c.want, subscription.AddMonths(c.from, c.n), "%s + %d months", c.from, c.n)
	}
}

// TestYear follows a subscription through a simulated year on the
// calendar: twelve monthly renewals on month ends, a price change with its
// notice, a renewal that fails and is recovered in grace, a cancellation,
// a resubscription that keeps the tenure, the badge at each step, and a
// renewal that lapses.
func TestYear(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, subscription.Options{})
		f.grant(t, f.fan, 20_000)
		sub := f.subscribe(t, f.fan, f.basic.ID)
		require.Equal(t, subscription.Active, sub.State)
		require.Equal(t, date(2027, 2, 28), sub.PeriodEnd)
		require.Equal(t, 1, sub.Months)
		require.Equal(t, 1, sub.Badge)
		require.True(t, sub.Access)
		require.Equal(t, fanfare.Amount(20_000-basicPrice), f.coins(t, f.fan))
		require.Equal(t, fanfare.Amount(basicPrice/2), f.diamonds(t, f.creator))
		m, err := f.s.Membership(ctx, f.fan.UserID, f.creator.UserID)
		require.NoError(t, err)
		require.Equal(t, fanfare.Membership{Active: true, Months: 1, Badge: 1}, m)
		j := f.sched.last(t)
		require.Equal(t, subscription.JobRenew, j.kind)
		require.Equal(t, date(2027, 2, 28), j.at)

		// Not due a second early; due at the period's end.
		require.Equal(t, 0, f.at(t, date(2027, 2, 28).Add(-time.Second)))
		require.Equal(t, 1, f.at(t, date(2027, 2, 28)))
		sub = f.get(t, sub.ID)
		require.Equal(t, date(2027, 3, 31), sub.PeriodEnd, "the 31st comes back after February")
		require.Equal(t, 2, sub.Months)
		require.Equal(t, 1, sub.Badge)

		// A price change on March 10th: new subscribers pay it at once;
		// its 7 days' notice to sam ends on March 17th, so his renewal on
		// March 31st charges it.
		f.clock.set(date(2027, 3, 10))
		_, err = f.s.SetPlan(ctx, f.creator, subscription.PlanInput{Enabled: true, Tiers: []subscription.TierInput{
			{ID: f.basic.ID, Name: "Fan club", Price: 400, Perks: []string{"Badge", "Emotes"}},
			{ID: f.vip.ID, Name: "VIP", Price: vipPrice},
		}})
		require.NoError(t, err)
		sub = f.get(t, sub.ID)
		require.Equal(t, &subscription.PriceChange{Price: 400, From: date(2027, 3, 31)}, sub.PriceChange)
		require.Equal(t, fanfare.Amount(basicPrice), sub.Price)
		require.Equal(t, 1, f.at(t, date(2027, 3, 31)))
		sub = f.get(t, sub.ID)
		require.Equal(t, fanfare.Amount(400), sub.Price)
		require.Nil(t, sub.PriceChange)
		require.Equal(t, 3, sub.Months)
		require.Equal(t, 3, sub.Badge)
		require.Equal(t, date(2027, 4, 30), sub.PeriodEnd)
		paid := fanfare.Amount(2*basicPrice + 400)
		require.Equal(t, 20_000-paid, f.coins(t, f.fan))

		// April 30th: sam cannot pay. Grace: access kept, retried daily.
		f.drain(t, f.fan, 100)
		require.Equal(t, 1, f.at(t, date(2027, 4, 30)))
		sub = f.get(t, sub.ID)
		require.Equal(t, subscription.Grace, sub.State)
		require.True(t, sub.Access)
		require.Equal(t, date(2027, 5, 3), *sub.GraceUntil)
		require.Equal(t, date(2027, 5, 1), *sub.RetryAt)
		require.Contains(t, sub.Failure, "coins")
		require.Equal(t, 0, f.at(t, date(2027, 4, 30).Add(23*time.Hour)))
		require.Equal(t, 1, f.at(t, date(2027, 5, 1)))
		sub = f.get(t, sub.ID)
		require.Equal(t, subscription.Grace, sub.State)
		require.Equal(t, date(2027, 5, 2), *sub.RetryAt)
		// Coins arrive; the next retry pays, from that day on.
		f.grant(t, f.fan, 10_000)
		require.Equal(t, 1, f.at(t, date(2027, 5, 2)))
		sub = f.get(t, sub.ID)
		require.Equal(t, subscription.Active, sub.State)
		require.Nil(t, sub.GraceUntil)
		require.Equal(t, date(2027, 5, 2), sub.PeriodStart)
		require.Equal(t, date(2027, 6, 2), sub.PeriodEnd)
		require.Equal(t, 4, sub.Months)

		// Renewals to November: the badge reaches 6 months.
		for _, d := range []time.Time{date(2027, 6, 2), date(2027, 7, 2), date(2027, 8, 2), date(2027, 9, 2), date(2027, 10, 2)} {
			require.Equal(t, 1, f.at(t, d), "renewal on %s", d)
		}
		sub = f.get(t, sub.ID)
		require.Equal(t, 9, sub.Months)
		require.Equal(t, 6, sub.Badge)

		// Cancelled in October: access to November 2nd, then it ends.
		f.clock.set(date(2027, 10, 20))
		sub, err = f.s.Cancel(ctx, f.fan, sub.ID)
		require.NoError(t, err)
		require.False(t, sub.AutoRenew)
		require.Nil(t, sub.RenewsAt)
		require.True(t, sub.Access)
		require.Equal(t, 1, f.at(t, date(2027, 11, 2)))
		sub = f.get(t, sub.ID)
		require.Equal(t, subscription.Ended, sub.State)
		require.Equal(t, subscription.EndCancelled, sub.EndReason)
		require.False(t, sub.Access)
		require.Equal(t, 0, sub.Badge)
		m, err = f.s.Membership(ctx, f.fan.UserID, f.creator.UserID)
		require.NoError(t, err)
		require.False(t, m.Active)

		// Resubscribed on November 20th to VIP: the tenure is kept.
		f.clock.set(date(2027, 11, 20))
		before := f.coins(t, f.fan)
		again := f.subscribe(t, f.fan, f.vip.ID)
		require.NotEqual(t, sub.ID, again.ID)
		require.Equal(t, 10, again.Months)
		require.Equal(t, 6, again.Badge)
		require.Equal(t, before-vipPrice, f.coins(t, f.fan))
		for _, d := range []time.Time{date(2027, 12, 20), date(2028, 1, 20)} {
			require.Equal(t, 1, f.at(t, d))
		}
		again = f.get(t, again.ID)
		require.Equal(t, 12, again.Months)
		require.Equal(t, 12, again.Badge)

		// Twelve renewals in the year (the first period is the
		// subscription; the resubscription is a new one).
		var renewals int
		require.NoError(t, db.Read.QueryRow(`SELECT COUNT(*) FROM subscription_periods WHERE fan_id = $1 AND n > 1`, f.fan.UserID).Scan(&renewals))
		require.Equal(t, 10, renewals)
		var periods int
		require.NoError(t, db.Read.QueryRow(`SELECT COUNT(*) FROM subscription_periods WHERE fan_id = $1`, f.fan.UserID).Scan(&periods))
		require.Equal(t, 12, periods)

		// February 20th: no coins for three days. It lapses.
		f.drain(t, f.fan, 0)
		require.Equal(t, 1, f.at(t, date(2028, 2, 20)))
		for _, d := range []time.Time{date(2028, 2, 21), date(2028, 2, 22)} {
			require.Equal(t, 1, f.at(t, d))
			require.Equal(t, subscription.Grace, f.get(t, again.ID).State)
		}
		require.Equal(t, 1, f.at(t, date(2028, 2, 23)))
		again = f.get(t, again.ID)
		require.Equal(t, subscription.Ended, again.State)
		require.Equal(t, subscription.EndLapsed, again.EndReason)
		require.False(t, again.Access)

		// Every coin is accounted for: what sam paid is what ayla's
		// diamonds and the revenue account got.
		var spent int64
		require.NoError(t, db.Read.QueryRow(`SELECT COALESCE(SUM(price), 0) FROM subscription_periods WHERE fan_id = $1`, f.fan.UserID).Scan(&spent))
		require.Equal(t, fanfare.Amount(spent/2), f.diamonds(t, f.creator))
		f.coins(t, f.fan) // verify
	})
}

// TestRenewalOnce runs one renewal from many goroutines at once (jobs,
// retries and sweeps on several nodes): it is charged once.
func TestRenewalOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, subscription.Options{})
		f.grant(t, f.fan, 5_000)
		sub := f.subscribe(t, f.fan, f.basic.ID)
		j := f.sched.last(t)
		f.clock.set(sub.PeriodEnd)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if i%2 == 0 {
					err = f.s.Handlers()[subscription.JobRenew](context.Background(), j.args)
				} else {
					_, err = f.s.Sweep(context.Background())
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, fanfare.Amount(5_000-2*basicPrice), f.coins(t, f.fan))
		sub = f.get(t, sub.ID)
		require.Equal(t, 2, sub.Periods)
		// The old job again, later: nothing.
		f.clock.set(sub.PeriodEnd.Add(-time.Hour))
		require.NoError(t, f.s.Handlers()[subscription.JobRenew](context.Background(), j.args))
		require.Equal(t, fanfare.Amount(5_000-2*basicPrice), f.coins(t, f.fan))
	})
}

func TestPlanRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, subscription.Options{})
		tier := func(price fanfare.Amount) subscription.TierInput {
			return subscription.TierInput{Name: fmt.Sprint("T", price), Price: price}
		}
		for name, in := range map[string]subscription.PlanInput{
			"no tier":       {Enabled: true},
			"four tiers":    {Enabled: true, Tiers: []subscription.TierInput{tier(100), tier(200), tier(300), tier(400)}},
			"too cheap":     {Enabled: true, Tiers: []subscription.TierInput{tier(49)}},
			"too dear":      {Enabled: true, Tiers: []subscription.TierInput{tier(100_001)}},
			"negative":      {Enabled: true, Tiers: []subscription.TierInput{tier(-5)}},
			"no name":       {Enabled: true, Tiers: []subscription.TierInput{{Price: 100}}},
			"same name":     {Enabled: true, Tiers: []subscription.TierInput{{Name: "A", Price: 100}, {Name: "a", Price: 200}}},
			"same id twice": {Enabled: true, Tiers: []subscription.TierInput{{ID: f.basic.ID, Name: "A", Price: 100}, {ID: f.basic.ID, Name: "B", Price: 200}}},
		} {
			before := f.snapshot(t)
			_, err := f.s.SetPlan(ctx, f.creator, in)
			requireCode(t, err, fanfare.EInvalid)
			require.Equal(t, before, f.snapshot(t), name)
		}
		_, err := f.s.SetPlan(ctx, f.creator, subscription.PlanInput{Enabled: true, Tiers: []subscription.TierInput{{ID: "nope", Name: "A", Price: 100}}})
		requireCode(t, err, fanfare.ENotFound)
		p, err := f.s.Plan(ctx, f.creator.UserID)
		require.NoError(t, err)
		require.Equal(t, []subscription.Tier{f.basic, f.vip}, p.Tiers, "a refused plan changes nothing")

		// Ids stay; a tier left out is retired but keeps its subscribers.
		f.grant(t, f.fan, 5_000)
		sub := f.subscribe(t, f.fan, f.vip.ID)
		p, err = f.s.SetPlan(ctx, f.creator, subscription.PlanInput{Enabled: true, Tiers: []subscription.TierInput{
			{ID: f.basic.ID, Name: "Fans", Price: basicPrice}, {Name: "Gold", Price: 2000}}})
		require.NoError(t, err)
		require.Len(t, p.Tiers, 2)
		require.Equal(t, f.basic.ID, p.Tiers[0].ID)
		require.Equal(t, "Fans", p.Tiers[0].Name)
		require.Equal(t, 1, p.Subscribers)
		f.at(t, sub.PeriodEnd)
		sub = f.get(t, sub.ID)
		require.Equal(t, "VIP", sub.Tier)
		require.Equal(t, 2, sub.Periods)

		// A brand may save a plan, and reads why fans cannot subscribe.
		brand := f.user(t, "brandco", "TR", "2001-01-01", 500_000, fanfare.AccountBusiness)
		p, err = f.s.SetPlan(ctx, brand, subscription.PlanInput{Enabled: true, Tiers: []subscription.TierInput{tier(100)}})
		require.NoError(t, err)
		require.False(t, p.Eligible)
		require.Equal(t, eligibility.RAccountType, p.Reasons[0].Code)
	})
}

// TestSubscribeRefusals: every refusal changes nothing.
func TestSubscribeRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, subscription.Options{})
		f.grant(t, f.fan, 5_000)
		brand := f.user(t, "brandco", "TR", "2001-01-01", 500_000, fanfare.AccountBusiness)
		_, err := f.s.SetPlan(ctx, brand, subscription.PlanInput{Enabled: true, Tiers: []subscription.TierInput{{Name: "Club", Price: 100}}})
		require.NoError(t, err)
		small := f.user(t, "lea", "FR", "1998-02-02", 500, "")
		_, err = f.s.SetPlan(ctx, small, subscription.PlanInput{Enabled: true, Tiers: []subscription.TierInput{{Name: "Club", Price: 100}}})
		require.NoError(t, err)
		off := f.user(t, "omar", "AE", "1990-02-02", 40_000, "")
		_, err = f.s.SetPlan(ctx, off, subscription.PlanInput{Enabled: false, Tiers: []subscription.TierInput{{Name: "Club", Price: 100}}})
		require.NoError(t, err)
		minor := f.user(t, "mia", "FR", time.Now().AddDate(-16, 0, 0).Format("2006-01-02"), 0, "")
		f.grant(t, minor, 5_000)
		poor := f.user(t, "poor", "FR", "1990-01-01", 0, "")
		f.grant(t, poor, basicPrice-1)

		cases := []struct {
			name    string
			who     fanfare.Actor
			creator string
			in      subscription.SubscribeInput
			key     string
			code    string
			reason  string
		}{
			{"a brand", f.fan, brand.UserID, subscription.SubscribeInput{}, key(), fanfare.ENotEligible, eligibility.RAccountType},
			{"too few followers", f.fan, small.UserID, subscription.SubscribeInput{}, key(), fanfare.ENotEligible, eligibility.RFollowers},
			{"the plan off", f.fan, off.UserID, subscription.SubscribeInput{}, key(), fanfare.ENotEligible, eligibility.RNotOffered},
			{"a minor", minor, f.creator.UserID, subscription.SubscribeInput{Tier: f.basic.ID}, key(), fanfare.ENotEligible, ""},
			{"too few coins", poor, f.creator.UserID, subscription.SubscribeInput{Tier: f.basic.ID}, key(), fanfare.EInsufficientFunds, ""},
			{"no such tier", f.fan, f.creator.UserID, subscription.SubscribeInput{Tier: "nope"}, key(), fanfare.ENotFound, ""},
			{"no tier of two", f.fan, f.creator.UserID, subscription.SubscribeInput{}, key(), fanfare.EInvalid, ""},
			{"oneself", f.creator, f.creator.UserID, subscription.SubscribeInput{Tier: f.basic.ID}, key(), fanfare.EInvalid, ""},
			{"no such creator", f.fan, "nobody", subscription.SubscribeInput{}, key(), fanfare.ENotFound, ""},
			{"no key", f.fan, f.creator.UserID, subscription.SubscribeInput{Tier: f.basic.ID}, "", fanfare.EIdempotencyKeyRequired, ""},
			{"logged out", fanfare.Actor{Role: fanfare.RoleFan}, f.creator.UserID, subscription.SubscribeInput{Tier: f.basic.ID}, key(), fanfare.EForbidden, ""},
		}
		for _, c := range cases {
			before := f.snapshot(t)
			_, err := f.s.Subscribe(ctx, c.who, c.creator, c.in, c.key)
			requireCode(t, err, c.code)
			if c.reason != "" {
				var e *fanfare.Error
				require.ErrorAs(t, err, &e)
				require.NotEmpty(t, e.Reasons, c.name)
				codes := []string{}
				for _, r := range e.Reasons {
					codes = append(codes, r.Code)
				}
				require.Contains(t, codes, c.reason, c.name)
			}
			require.Equal(t, before, f.snapshot(t), c.name)
		}

		// Twice: a conflict, unless it is a replay of the first.
		k := key()
		first, err := f.s.Subscribe(ctx, f.fan, f.creator.UserID, subscription.SubscribeInput{Tier: f.basic.ID}, k)
		require.NoError(t, err)
		before := f.snapshot(t)
		again, err := f.s.Subscribe(ctx, f.fan, f.creator.UserID, subscription.SubscribeInput{Tier: f.basic.ID}, k)
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, first.Subscription.ID, again.Subscription.ID)
		require.Equal(t, first.Balance, again.Balance)
		_, err = f.s.Subscribe(ctx, f.fan, f.creator.UserID, subscription.SubscribeInput{Tier: f.vip.ID}, key())
		requireCode(t, err, fanfare.EConflict)
		_, err = f.s.Subscribe(ctx, f.fan, f.creator.UserID, subscription.SubscribeInput{Tier: f.basic.ID}, k+"x")
		requireCode(t, err, fanfare.EConflict)
		require.Equal(t, before, f.snapshot(t))

		// Someone else's subscription: not found, to cancel or to read.
		_, err = f.s.Cancel(ctx, poor, first.Subscription.ID)
		requireCode(t, err, fanfare.ENotFound)
		_, err = f.s.Cancel(ctx, f.creator, first.Subscription.ID)
		requireCode(t, err, fanfare.ENotFound)
		_, err = f.s.Get(ctx, poor, first.Subscription.ID)
		requireCode(t, err, fanfare.ENotFound)
		require.Equal(t, before, f.snapshot(t))
		require.Equal(t, fanfare.Amount(5_000-basicPrice), f.coins(t, f.fan))
	})
}

// TestDoubleSubscribe sends the same subscription with different keys at
// once: one is charged.
func TestDoubleSubscribe(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db, subscription.Options{})
		f.grant(t, f.fan, 10_000)
		var wg sync.WaitGroup
		var ok, conflicts atomic.Int64
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.s.Subscribe(context.Background(), f.fan, f.creator.UserID, subscription.SubscribeInput{Tier: f.basic.ID}, key())
				switch fanfare.ErrorCode(err) {
				case "":
					ok.Add(1)
				case fanfare.EConflict:
					conflicts.Add(1)
				default:
					t.Errorf("subscribe: %v", err)
				}
			}()
		}
		wg.Wait()
		require.Equal(t, int64(1), ok.Load())
		require.Equal(t, int64(7), conflicts.Load())
		require.Equal(t, fanfare.Amount(10_000-basicPrice), f.coins(t, f.fan))
	})
}

// TestChangeTier moves a subscription to another tier at its next renewal,
// and a cancelled one back to renewing.
func TestChangeTier(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, subscription.Options{Period: time.Hour})
		f.grant(t, f.fan, 5_000)
		sub := f.subscribe(t, f.fan, f.basic.ID)
		require.Equal(t, start.Add(time.Hour), sub.PeriodEnd, "a fixed period")
		sub, err := f.s.Change(ctx, f.fan, sub.ID, subscription.ChangeInput{Tier: f.vip.ID})
		require.NoError(t, err)
		require.Equal(t, "VIP", sub.NextTier)
		require.Equal(t, "Fan club", sub.Tier)
		sub, err = f.s.Cancel(ctx, f.fan, sub.ID)
		require.NoError(t, err)
		require.False(t, sub.AutoRenew)
		on := true
		sub, err = f.s.Change(ctx, f.fan, sub.ID, subscription.ChangeInput{AutoRenew: &on})
		require.NoError(t, err)
		require.True(t, sub.AutoRenew)
		f.at(t, sub.PeriodEnd)
		sub = f.get(t, sub.ID)
		require.Equal(t, "VIP", sub.Tier)
		require.Equal(t, fanfare.Amount(vipPrice), sub.Price)
		require.Empty(t, sub.NextTier)
		require.Equal(t, fanfare.Amount(5_000-basicPrice-vipPrice), f.coins(t, f.fan))
		_, err = f.s.Change(ctx, f.fan, sub.ID, subscription.ChangeInput{})
		requireCode(t, err, fanfare.EInvalid)
		_, err = f.s.Change(ctx, f.fan, sub.ID, subscription.ChangeInput{Tier: "nope"})
		requireCode(t, err, fanfare.ENotFound)
	})
}

// TestCreatorStopsRenewals: a banned creator's subscriptions run out.
func TestCreatorStopsRenewals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, subscription.Options{})
		f.grant(t, f.fan, 5_000)
		sub := f.subscribe(t, f.fan, f.basic.ID)
		banned := fanfare.StandingBanned
		_, err := f.accounts.Update(ctx, operator, f.creator.UserID, account.UpdateInput{Standing: &banned})
		require.NoError(t, err)
		// The paid period runs out with access.
		f.clock.set(sub.PeriodEnd.Add(-time.Minute))
		m, err := f.s.Membership(ctx, f.fan.UserID, f.creator.UserID)
		require.NoError(t, err)
		require.True(t, m.Active)
		f.at(t, sub.PeriodEnd)
		sub = f.get(t, sub.ID)
		require.Equal(t, subscription.Ended, sub.State)
		require.Equal(t, subscription.EndCreator, sub.EndReason)
		require.Equal(t, fanfare.Amount(5_000-basicPrice), f.coins(t, f.fan))

		// Turning the plan off does the same.
		good := fanfare.StandingGood
		_, err = f.accounts.Update(ctx, operator, f.creator.UserID, account.UpdateInput{Standing: &good})
		require.NoError(t, err)
		sub = f.subscribe(t, f.fan, f.basic.ID)
		_, err = f.s.SetPlan(ctx, f.creator, subscription.PlanInput{Enabled: false, Tiers: []subscription.TierInput{
			{ID: f.basic.ID, Name: "Fan club", Price: basicPrice}}})
		require.NoError(t, err)
		f.at(t, sub.PeriodEnd)
		require.Equal(t, subscription.EndCreator, f.get(t, sub.ID).EndReason)
	})
}

// TestBannedCreatorStopsRenewals: even where the rule lets any standing
// offer subscriptions, a banned creator's renewals never charge; the ban
// schedules, with itself, the job that ends at once the subscriptions
// waiting in grace, and the paid ones end at their period's end.
func TestBannedCreatorStopsRenewals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, subscription.Options{})
		rule, err := f.rules.Rule(ctx, eligibility.Subscriptions)
		require.NoError(t, err)
		rule.Standings = nil // any standing
		_, err = f.rules.SetRule(ctx, operator, rule)
		require.NoError(t, err)

		// sam pays; lee's renewal fails and waits in grace.
		f.grant(t, f.fan, 5_000)
		paid := f.subscribe(t, f.fan, f.basic.ID)
		lee := f.user(t, "lee", "FR", "1990-01-01", 0, "")
		f.grant(t, lee, basicPrice)
		unpaid := f.subscribe(t, lee, f.basic.ID)
		f.at(t, unpaid.PeriodEnd)
		require.Equal(t, subscription.Grace, f.get(t, unpaid.ID).State)
		paid = f.get(t, paid.ID)
		require.Equal(t, subscription.Active, paid.State)
		f.grant(t, lee, 5_000) // lee could pay now

		banned := fanfare.StandingBanned
		_, err = f.accounts.Update(ctx, operator, f.creator.UserID, account.UpdateInput{Standing: &banned})
		require.NoError(t, err)
		// The app wires the account's StandingChanged to the service's; here
		// the ban's job is scheduled and run by hand.
		tx, err := db.Write.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, f.s.StandingChanged(ctx, tx, f.creator.UserID))
		require.NoError(t, tx.Commit())
		j := f.sched.last(t)
		require.Equal(t, subscription.JobCreatorStanding, j.kind)
		require.NoError(t, f.s.Handlers()[j.kind](ctx, j.args))
		got := f.get(t, unpaid.ID)
		require.Equal(t, subscription.Ended, got.State)
		require.Equal(t, subscription.EndCreator, got.EndReason)
		require.Equal(t, fanfare.Amount(5_000), f.coins(t, lee), "nothing charged")
		// The job again changes nothing.
		before := f.snapshot(t)
		require.NoError(t, f.s.Handlers()[j.kind](ctx, j.args))
		require.Equal(t, before, f.snapshot(t))

		// sam keeps the paid period, then it ends unrenewed.
		require.Equal(t, subscription.Active, f.get(t, paid.ID).State)
		f.at(t, paid.PeriodEnd)
		got = f.get(t, paid.ID)
		require.Equal(t, subscription.Ended, got.State)
		require.Equal(t, subscription.EndCreator, got.EndReason)
		require.Equal(t, fanfare.Amount(5_000-2*basicPrice), f.coins(t, f.fan), "the first period and the renewal before the ban")

		// A job for a creator in good standing does nothing.
		good := fanfare.StandingGood
		_, err = f.accounts.Update(ctx, operator, f.creator.UserID, account.UpdateInput{Standing: &good})
		require.NoError(t, err)
		n, err := f.s.StopCreator(ctx, f.creator.UserID)
		require.NoError(t, err)
		require.Zero(t, n)
		n, err = f.s.StopCreator(ctx, "no-such-user")
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

// TestGift: gifted subscriptions go only to consenting viewers, are paid
// once by the gifter, and do not renew.
func TestGift(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, subscription.Options{})
		f.grant(t, f.fan, 5_000)
		yes := true
		var viewers, consenting []fanfare.Actor
		for i := range 5 {
			v := f.user(t, fmt.Sprint("viewer", i), "FR", "1990-01-01", 0, "")
			viewers = append(viewers, v)
			if i < 3 {
				_, err := f.s.SetPreferences(ctx, v, subscription.PreferencesInput{AcceptGiftedSubscriptions: &yes})
				require.NoError(t, err)
				consenting = append(consenting, v)
			}
		}
		// One consenting viewer subscribes already: two can receive.
		f.grant(t, consenting[2], 1_000)
		f.subscribe(t, consenting[2], f.basic.ID)
		ids := []string{f.fan.UserID, f.creator.UserID}
		for _, v := range viewers {
			ids = append(ids, v.UserID)
		}
		before := f.snapshot(t)
		_, err := f.s.Gift(ctx, f.fan, f.creator.UserID, "live:1", ids, subscription.GiftInput{Count: 3, Tier: f.basic.ID}, key(), true)
		requireCode(t, err, fanfare.ENotEnoughRecipients)
		require.Equal(t, before, f.snapshot(t))
		for _, bad := range []int{0, -1, subscription.MaxGift + 1} {
			_, err = f.s.Gift(ctx, f.fan, f.creator.UserID, "live:1", ids, subscription.GiftInput{Count: bad, Tier: f.basic.ID}, key(), true)
			requireCode(t, err, fanfare.EInvalid)
		}
		require.Equal(t, before, f.snapshot(t))

		k := key()
		g, err := f.s.Gift(ctx, f.fan, f.creator.UserID, "live:1", ids, subscription.GiftInput{Count: 2, Tier: f.basic.ID}, k, true)
		require.NoError(t, err)
		require.Equal(t, 2, g.Count)
		require.Equal(t, fanfare.Amount(2*basicPrice), g.Coins)
		got := []string{g.Recipients[0].UserID, g.Recipients[1].UserID}
		require.ElementsMatch(t, []string{consenting[0].UserID, consenting[1].UserID}, got)
		require.Equal(t, fanfare.Amount(5_000-2*basicPrice), f.coins(t, f.fan))
		require.Equal(t, fanfare.Amount(3*basicPrice/2), f.diamonds(t, f.creator))
		again, err := f.s.Gift(ctx, f.fan, f.creator.UserID, "live:1", ids, subscription.GiftInput{Count: 2, Tier: f.basic.ID}, k, true)
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, g.Recipients, again.Recipients)
		require.Equal(t, fanfare.Amount(5_000-2*basicPrice), f.coins(t, f.fan))

		r0 := f.get(t, g.Recipients[0].SubscriptionID)
		require.Equal(t, "sam", r0.GiftedBy)
		require.False(t, r0.AutoRenew)
		require.True(t, r0.Access)
		require.Equal(t, 1, r0.Badge)
		// Outside a LIVE on air: refused, nothing moves.
		_, err = f.s.Gift(ctx, f.fan, f.creator.UserID, "live:2", ids, subscription.GiftInput{Count: 1, Tier: f.basic.ID}, key(), false)
		requireCode(t, err, fanfare.EInvalidState)
		// No one left to receive.
		_, err = f.s.Gift(ctx, f.fan, f.creator.UserID, "live:1", ids, subscription.GiftInput{Count: 1, Tier: f.basic.ID}, key(), true)
		requireCode(t, err, fanfare.ENotEnoughRecipients)

		// The gifted period ends without charging the recipients; one who
		// turned renewal on is charged at its end.
		f.grant(t, consenting[1], 1_000)
		_, err = f.s.Change(ctx, consenting[1], g.Recipients[1].SubscriptionID, subscription.ChangeInput{AutoRenew: &yes})
		if g.Recipients[1].UserID != consenting[1].UserID {
			_, err = f.s.Change(ctx, consenting[1], g.Recipients[0].SubscriptionID, subscription.ChangeInput{AutoRenew: &yes})
		}
		require.NoError(t, err)
		f.at(t, r0.PeriodEnd)
		for _, r := range g.Recipients {
			s := f.get(t, r.SubscriptionID)
			if r.UserID == consenting[1].UserID {
				require.Equal(t, subscription.Active, s.State)
				require.Equal(t, 2, s.Periods)
			} else {
				require.Equal(t, subscription.Ended, s.State)
				require.Equal(t, subscription.EndGift, s.EndReason)
			}
		}
		require.Equal(t, fanfare.Amount(0), f.coins(t, consenting[0]))
		require.Equal(t, fanfare.Amount(1_000-basicPrice), f.coins(t, consenting[1]))
	})
}
