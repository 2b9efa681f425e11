package shoutout_test

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
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

var start = time.Date(2026, 3, 15, 20, 0, 0, 0, time.UTC)

var operator = fanfare.Actor{Role: fanfare.RoleOperator}

// clock is a settable test clock.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) Now() time.Time   { return *c.t.Load() }
func (c *clock) set(t time.Time)  { c.t.Store(&t) }
func (c *clock) add(d time.Duration) {
	c.set(c.Now().Add(d))
}

// job is a job the fake scheduler recorded.
type job struct {
	kind string
	args json.RawMessage
	at   time.Time
}

// scheduler records the jobs inserted, in transactions that committed or
// not (the tests look at the last of a kind).
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

func (s *scheduler) last(t *testing.T, kind string) job {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.jobs) - 1; i >= 0; i-- {
		if s.jobs[i].kind == kind {
			return s.jobs[i]
		}
	}
	t.Fatalf("no %s job", kind)
	return job{}
}

type fixture struct {
	db       *store.DB
	clock    *clock
	ledger   *ledger.Ledger
	accounts *account.Service
	wallet   *wallet.Service
	rules    *eligibility.Engine
	sched    *scheduler
	s        *shoutout.Service
	creator  fanfare.Actor // offers shoutouts at 1,000 coins
	fan      fanfare.Actor // holds 10,000 coins
}

const price = 1000

func setup(t *testing.T, db *store.DB, opts shoutout.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: db, clock: newClock(start), sched: &scheduler{}}
	l, err := ledger.Open(ctx, db, ledger.Options{Clock: f.clock})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	f.ledger = l
	f.accounts = account.New(db, l, account.Options{Clock: f.clock})
	f.wallet = wallet.New(db, l, f.accounts, wallet.Options{Clock: f.clock, Limits: &wallet.Limits{}})
	f.rules, err = eligibility.New(db, f.clock, nil)
	require.NoError(t, err)
	f.s = f.service(t, f.clock, opts)
	f.creator = f.user(t, "ayla", "TR", "1995-05-05", 50_000)
	f.fan = f.user(t, "sam", "FR", "1990-01-01", 0)
	_, err = f.s.SetSettings(ctx, f.creator, shoutout.SettingsInput{Enabled: true, Price: price, Capacity: 5})
	require.NoError(t, err)
	f.grant(t, f.fan, 10_000)
	return f
}

func (f *fixture) service(t *testing.T, c fanfare.Clock, opts shoutout.Options) *shoutout.Service {
	t.Helper()
	opts.Clock = c
	opts.Scheduler = f.sched
	s, err := shoutout.New(f.db, f.ledger, f.accounts, f.wallet, f.rules, opts)
	require.NoError(t, err)
	return s
}

func (f *fixture) user(t *testing.T, handle, region, birth string, followers int64) fanfare.Actor {
	t.Helper()
	ctx := context.Background()
	u, err := f.accounts.Create(ctx, account.CreateInput{Handle: handle, Password: "fanfare-demo", Region: region, BirthDate: birth})
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

var keys atomic.Int64

func input() shoutout.RequestInput {
	return shoutout.RequestInput{Recipient: "Lea", Occasion: shoutout.Birthday, Instructions: "Wish her a happy 30th!"}
}

func (f *fixture) request(t *testing.T) *shoutout.Request {
	t.Helper()
	p, err := f.s.Request(context.Background(), f.fan, f.creator.UserID, input(), fmt.Sprint("k", keys.Add(1)))
	require.NoError(t, err)
	return p.Request
}

// balances returns the fan's coins and the creator's diamonds, after
// checking that the ledger verifies.
func (f *fixture) balances(t *testing.T) (coins, diamonds fanfare.Amount) {
	t.Helper()
	ctx := context.Background()
	r, err := f.ledger.Verify(ctx, nil)
	require.NoError(t, err)
	require.True(t, r.OK(), "verify: %v", r.Problems)
	fw, err := f.wallet.Wallet(ctx, f.fan.UserID)
	require.NoError(t, err)
	cw, err := f.wallet.Wallet(ctx, f.creator.UserID)
	require.NoError(t, err)
	return fw.Coins, cw.Diamonds
}

func (f *fixture) requireBalances(t *testing.T, coins, diamonds fanfare.Amount) {
	t.Helper()
	c, d := f.balances(t)
	require.Equal(t, coins, c, "the fan's coins")
	require.Equal(t, diamonds, d, "the creator's diamonds")
}

// snapshot is what a refused action must leave unchanged.
func (f *fixture) snapshot(t *testing.T) string {
	t.Helper()
	var n, states, sum int64
	require.NoError(t, f.db.Read.QueryRow(`SELECT COUNT(*) FROM transfers`).Scan(&n))
	require.NoError(t, f.db.Read.QueryRow(`SELECT COUNT(*), COALESCE(SUM(updated_at), 0) FROM shoutout_requests`).Scan(&states, &sum))
	var reviews int64
	require.NoError(t, f.db.Read.QueryRow(`SELECT COUNT(*) FROM shoutout_reviews`).Scan(&reviews))
	return fmt.Sprint(n, "/", states, "/", sum, "/", reviews)
}

func (f *fixture) run(t *testing.T, kind string, j job) {
	t.Helper()
	require.NoError(t, f.s.Handlers()[kind](context.Background(), j.args))
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, fanfare.ErrorCode(err), "error: %v", err)
}

var video = shoutout.VideoInfo{Key: "shoutouts/v1.mp4", Size: 4096, ContentType: "video/mp4"}

// TestLifecycle walks a request from the fan's ask to completion, with a
// review, on both stores.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{})
		r := f.request(t)
		require.Equal(t, shoutout.Requested, r.State)
		require.Equal(t, fanfare.Amount(price), r.Price)
		require.Equal(t, fanfare.Amount(800), r.Diamonds)
		require.True(t, r.AcceptBy.Equal(start.Add(72*time.Hour)))
		require.True(t, r.Deadline.At.Equal(r.AcceptBy))
		require.True(t, r.Public)
		f.requireBalances(t, 9000, 0)
		require.Equal(t, shoutout.JobAcceptDeadline, f.sched.last(t, shoutout.JobAcceptDeadline).kind)

		f.clock.add(5 * time.Hour)
		r, err := f.s.Accept(ctx, f.creator, r.ID)
		require.NoError(t, err)
		require.Equal(t, shoutout.Accepted, r.State)
		require.True(t, r.DeliverBy.Equal(f.clock.Now().Add(168*time.Hour)))
		j := f.sched.last(t, shoutout.JobDeliveryDeadline)
		require.True(t, j.at.Equal(*r.DeliverBy))
		// The accept deadline's job, run late, does nothing now.
		f.clock.add(72 * time.Hour)
		f.run(t, shoutout.JobAcceptDeadline, f.sched.last(t, shoutout.JobAcceptDeadline))
		f.requireBalances(t, 9000, 0)

		// The creator asks for 2 more days; the fan agrees: the deadline
		// moves and a new job comes with it; the old one does nothing.
		r, err = f.s.AskExtension(ctx, f.creator, r.ID, 2)
		require.NoError(t, err)
		_, err = f.s.AskExtension(ctx, f.creator, r.ID, 1)
		requireCode(t, err, fanfare.EInvalidState)
		old := *r.DeliverBy
		r, err = f.s.AnswerExtension(ctx, f.fan, r.ID, true)
		require.NoError(t, err)
		require.True(t, r.DeliverBy.Equal(old.Add(48*time.Hour)))
		require.True(t, f.sched.last(t, shoutout.JobDeliveryDeadline).at.Equal(*r.DeliverBy))
		f.clock.set(old)
		f.run(t, shoutout.JobDeliveryDeadline, j)
		got, err := f.s.Get(ctx, f.fan, r.ID)
		require.NoError(t, err)
		require.Equal(t, shoutout.Accepted, got.State, "the moved deadline's old job does nothing")

		_, err = f.s.CanDeliver(ctx, f.creator, r.ID)
		require.NoError(t, err)
		_, err = f.s.Video(ctx, f.fan, r.ID)
		requireCode(t, err, fanfare.ENotFound)
		r, err = f.s.Deliver(ctx, f.creator, r.ID, video)
		require.NoError(t, err)
		require.Equal(t, shoutout.Delivered, r.State)
		require.True(t, r.DisputeBy.Equal(f.clock.Now().Add(7*24*time.Hour)))
		f.requireBalances(t, 9000, 800)
		v, err := f.s.Video(ctx, f.fan, r.ID)
		require.NoError(t, err)
		require.Equal(t, video, *v)
		typical, err := f.s.TypicalDelivery(ctx, f.creator.UserID)
		require.NoError(t, err)
		require.Equal(t, r.DeliveredAt.Sub(*r.AcceptedAt), *typical)

		// The fan reviews it, once, and edits the review within 7 days.
		rv, err := f.s.Review(ctx, f.fan, r.ID, 4, "Lovely!")
		require.NoError(t, err)
		require.Equal(t, 4, rv.Rating)
		rv, err = f.s.EditReview(ctx, f.fan, r.ID, 5, "Lovely, thank you!")
		require.NoError(t, err)
		require.Equal(t, 5, rv.Rating)
		require.NotNil(t, rv.EditedAt)
		list, err := f.s.CreatorReviews(ctx, f.creator.UserID, "", 0)
		require.NoError(t, err)
		require.Equal(t, 1, list.Count)
		require.InDelta(t, 5.0, list.Average, 0.001)
		require.Len(t, list.Reviews, 1)
		require.Equal(t, "sam", list.Reviews[0].Fan)

		// Public on the creator's profile, until the fan takes it back.
		pub, err := f.s.PublicVideos(ctx, f.creator.UserID, "", 0)
		require.NoError(t, err)
		require.Len(t, pub.Requests, 1)
		_, err = f.s.SetPublic(ctx, f.fan, r.ID, false)
		require.NoError(t, err)
		pub, err = f.s.PublicVideos(ctx, f.creator.UserID, "", 0)
		require.NoError(t, err)
		require.Empty(t, pub.Requests)

		// The lists, by role and state.
		for _, q := range []struct {
			actor fanfare.Actor
			role  string
		}{{f.fan, "fan"}, {f.creator, "creator"}, {operator, "all"}} {
			p, err := f.s.List(ctx, q.actor, shoutout.ListQuery{Role: q.role, State: shoutout.Delivered})
			require.NoError(t, err)
			require.Len(t, p.Requests, 1, q.role)
		}

		// Completed when the dispute window passes (the job, then nothing
		// more from a second run or the sweep).
		f.clock.set(*r.DisputeBy)
		j = f.sched.last(t, shoutout.JobComplete)
		f.run(t, shoutout.JobComplete, j)
		f.run(t, shoutout.JobComplete, j)
		n, err := f.s.Sweep(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		r, err = f.s.Get(ctx, f.creator, r.ID)
		require.NoError(t, err)
		require.Equal(t, shoutout.Completed, r.State)
		require.Nil(t, r.Deadline)
		f.requireBalances(t, 9000, 800)
		_, err = f.s.Dispute(ctx, f.fan, r.ID, "too late")
		requireCode(t, err, fanfare.EDeadlinePassed)
		f.clock.add(7 * 24 * time.Hour)
		_, err = f.s.EditReview(ctx, f.fan, r.ID, 1, "")
		requireCode(t, err, fanfare.EDeadlinePassed)
	})
}

// TestRefunds takes each refund path and checks that the fan gets every
// coin back at once, the creator keeps nothing, and the ledger verifies.
func TestRefunds(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{})

		// Declined.
		r := f.request(t)
		f.requireBalances(t, 9000, 0)
		r, err := f.s.Decline(ctx, f.creator, r.ID, "Not this week, sorry")
		require.NoError(t, err)
		require.Equal(t, shoutout.Declined, r.State)
		require.Equal(t, "Not this week, sorry", r.DeclineNote)
		f.requireBalances(t, 10_000, 0)

		// Cancelled by the fan before acceptance.
		r = f.request(t)
		r, err = f.s.Cancel(ctx, f.fan, r.ID)
		require.NoError(t, err)
		require.Equal(t, shoutout.Cancelled, r.State)
		f.requireBalances(t, 10_000, 0)

		// Not answered: the accept deadline's job, at the deadline.
		r = f.request(t)
		j := f.sched.last(t, shoutout.JobAcceptDeadline)
		f.clock.set(r.AcceptBy.Add(-time.Microsecond))
		f.run(t, shoutout.JobAcceptDeadline, j) // not due yet: nothing
		f.requireBalances(t, 9000, 0)
		f.clock.set(r.AcceptBy)
		f.run(t, shoutout.JobAcceptDeadline, j)
		f.run(t, shoutout.JobAcceptDeadline, j) // twice: once
		r, err = f.s.Get(ctx, f.fan, r.ID)
		require.NoError(t, err)
		require.Equal(t, shoutout.Expired, r.State)
		f.requireBalances(t, 10_000, 0)

		// Accepted, not delivered: the sweep (the job was missed).
		r = f.request(t)
		_, err = f.s.Accept(ctx, f.creator, r.ID)
		require.NoError(t, err)
		f.clock.add(168 * time.Hour)
		n, err := f.s.Sweep(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		r, err = f.s.Get(ctx, f.fan, r.ID)
		require.NoError(t, err)
		require.Equal(t, shoutout.Expired, r.State)
		f.requireBalances(t, 10_000, 0)

		// Delivered, disputed, refunded after the creator cashed out:
		// the creator goes below zero, audited.
		r = f.request(t)
		_, err = f.s.Accept(ctx, f.creator, r.ID)
		require.NoError(t, err)
		_, err = f.s.Deliver(ctx, f.creator, r.ID, video)
		require.NoError(t, err)
		f.requireBalances(t, 9000, 800)
		diamonds, err := f.ledger.UserAccount(ctx, f.creator.UserID, fanfare.Diamond)
		require.NoError(t, err)
		out, err := f.ledger.SystemAccount(ctx, "payouts", fanfare.Diamond)
		require.NoError(t, err)
		_, err = f.ledger.Submit(ctx, ledger.Op{Kind: "payout", Object: "payout:1", Actor: "test",
			Legs: []ledger.Leg{{Debit: diamonds, Credit: out, Amount: 500}}})
		require.NoError(t, err)
		r, err = f.s.Dispute(ctx, f.fan, r.ID, "It is not my sister's name")
		require.NoError(t, err)
		require.Equal(t, shoutout.Disputed, r.State)
		// Disputed, it does not complete.
		f.clock.add(8 * 24 * time.Hour)
		_, err = f.s.Sweep(ctx)
		require.NoError(t, err)
		_, err = f.s.Resolve(ctx, f.creator, r.ID, shoutout.OutcomeRefund, "")
		requireCode(t, err, fanfare.EForbidden)
		r, err = f.s.Resolve(ctx, operator, r.ID, shoutout.OutcomeRefund, "wrong name")
		require.NoError(t, err)
		require.Equal(t, shoutout.Refunded, r.State)
		f.requireBalances(t, 10_000, -500)
		entries, err := audit.List(ctx, db, "shoutout:"+r.ID)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Equal(t, "shoutout.resolve", entries[0].Action)
		require.JSONEq(t, `{"state":"disputed"}`, string(entries[0].Before))
		require.Contains(t, string(entries[0].After), `"state":"refunded"`)
		_, err = f.s.Resolve(ctx, operator, r.ID, shoutout.OutcomeRefund, "again")
		requireCode(t, err, fanfare.EInvalidState)
		f.requireBalances(t, 10_000, -500)

		// The creator banned: every open request refunded (the job, then
		// the sweep finds nothing).
		_, err = f.ledger.Submit(ctx, ledger.Op{Kind: "grant", Object: "test", Actor: "test",
			Legs: []ledger.Leg{{Debit: out, Credit: diamonds, Amount: 500}}})
		require.NoError(t, err)
		a, b := f.request(t), f.request(t)
		_, err = f.s.Accept(ctx, f.creator, b.ID)
		require.NoError(t, err)
		f.requireBalances(t, 8000, 0)
		banned := fanfare.StandingBanned
		_, err = f.accounts.Update(ctx, operator, f.creator.UserID, account.UpdateInput{Standing: &banned})
		require.NoError(t, err)
		require.NoError(t, f.s.Handlers()[shoutout.JobCreatorStanding](ctx, json.RawMessage(`{"creator_id":"`+f.creator.UserID+`"}`)))
		for _, id := range []string{a.ID, b.ID} {
			r, err := f.s.Get(ctx, f.fan, id)
			require.NoError(t, err)
			require.Equal(t, shoutout.Cancelled, r.State)
			require.Equal(t, "creator_standing", r.Resolution)
		}
		n, err = f.s.Sweep(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		f.requireBalances(t, 10_000, 0)
	})
}

// TestRefusals: each bad input is refused with its code and changes
// nothing.
func TestRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{})
		other := f.user(t, "omar", "AE", "1990-02-02", 20_000)
		stranger := f.user(t, "lea", "FR", "1990-03-03", 0)
		f.grant(t, stranger, 5000)
		_, err := f.s.SetSettings(ctx, other, shoutout.SettingsInput{Enabled: true, Price: 500, Capacity: 1})
		require.NoError(t, err)
		r := f.request(t)
		before := f.snapshot(t)
		refused := func(code string, err error) {
			t.Helper()
			requireCode(t, err, code)
			require.Equal(t, before, f.snapshot(t), "a refusal changed something")
		}
		ask := func(actor fanfare.Actor, creatorID string, in shoutout.RequestInput) error {
			_, err := f.s.Request(ctx, actor, creatorID, in, fanfare.NewID(f.clock))
			return err
		}

		// Ineligible creators, each with its reason.
		minor := f.user(t, "kid", "FR", "2015-01-01", 0)
		f.grant(t, minor, 5000)
		small := f.user(t, "small", "TR", "1990-01-01", 10)
		frCreator := f.user(t, "pierre", "FR", "1990-01-01", 50_000)
		for _, c := range []fanfare.Actor{small, frCreator} {
			_, err := f.s.SetSettings(ctx, c, shoutout.SettingsInput{Enabled: true, Price: 500})
			require.NoError(t, err)
		}
		before = f.snapshot(t)
		err = ask(f.fan, small.UserID, input())
		refused(fanfare.ENotEligible, err)
		require.Equal(t, eligibility.RFollowers, err.(*fanfare.Error).Reasons[0].Code)
		err = ask(f.fan, frCreator.UserID, input())
		refused(fanfare.ERegionBlocked, err)
		require.Equal(t, eligibility.RCreatorRegion, err.(*fanfare.Error).Reasons[0].Code)
		// An ineligible fan: a minor; a blocked region.
		err = ask(minor, f.creator.UserID, input())
		refused(fanfare.ENotEligible, err)
		require.Equal(t, eligibility.RFanAge, err.(*fanfare.Error).Reasons[0].Code)
		rule, err := f.rules.Rule(ctx, eligibility.Shoutouts)
		require.NoError(t, err)
		rule.FanRegionsBlocked = []string{"FR"}
		_, err = f.rules.SetRule(ctx, operator, rule)
		require.NoError(t, err)
		before = f.snapshot(t)
		err = ask(f.fan, f.creator.UserID, input())
		refused(fanfare.ERegionBlocked, err)
		require.Equal(t, eligibility.RFanRegion, err.(*fanfare.Error).Reasons[0].Code)
		rule.FanRegionsBlocked = nil
		_, err = f.rules.SetRule(ctx, operator, rule)
		require.NoError(t, err)
		before = f.snapshot(t)

		// Capacity full, paused, a price outside today's bounds.
		_, err = f.s.Request(ctx, f.fan, other.UserID, input(), "cap1")
		require.NoError(t, err)
		before = f.snapshot(t)
		refused(fanfare.ECapacityFull, ask(stranger, other.UserID, input()))
		_, err = f.s.SetSettings(ctx, f.creator, shoutout.SettingsInput{Enabled: true, Price: price, Capacity: 5, Paused: true})
		require.NoError(t, err)
		refused(fanfare.EPaused, ask(stranger, f.creator.UserID, input()))
		_, err = f.s.SetSettings(ctx, f.creator, shoutout.SettingsInput{Enabled: true, Price: price, Capacity: 5})
		require.NoError(t, err)
		strict := f.service(t, f.clock, shoutout.Options{MinPrice: 2000})
		refused(fanfare.EInvalid, func() error {
			_, err := strict.Request(ctx, stranger, f.creator.UserID, input(), "strict")
			return err
		}())
		// Prices: zero, negative, below and above the bounds, overflowing.
		for _, p := range []fanfare.Amount{0, -1, 99, 1_000_001, fanfare.MaxAmount + 1, -fanfare.MaxAmount} {
			_, err := f.s.SetSettings(ctx, f.creator, shoutout.SettingsInput{Enabled: true, Price: p})
			refused(fanfare.EInvalid, err)
		}
		// Bad fields.
		long := input()
		long.Instructions = fmt.Sprintf("%0501d", 0)
		refused(fanfare.EInvalid, ask(stranger, f.creator.UserID, long))
		bad := input()
		bad.Occasion = "pep talk"
		refused(fanfare.EInvalid, ask(stranger, f.creator.UserID, bad))
		bad = input()
		bad.Recipient = " "
		refused(fanfare.EInvalid, ask(stranger, f.creator.UserID, bad))
		refused(fanfare.EInvalid, ask(f.creator, f.creator.UserID, input()))
		refused(fanfare.EIdempotencyKeyRequired, func() error {
			_, err := f.s.Request(ctx, stranger, f.creator.UserID, input(), "")
			return err
		}())

		// Another fan's, another creator's request: not found.
		_, err = f.s.Get(ctx, stranger, r.ID)
		refused(fanfare.ENotFound, err)
		_, err = f.s.Accept(ctx, other, r.ID)
		refused(fanfare.ENotFound, err)
		_, err = f.s.Cancel(ctx, stranger, r.ID)
		refused(fanfare.ENotFound, err)
		_, err = f.s.Decline(ctx, stranger, r.ID, "")
		refused(fanfare.ENotFound, err)
		_, err = f.s.Accept(ctx, f.fan, r.ID)
		refused(fanfare.EForbidden, err)
		// Reviewing, disputing, delivering before their time.
		_, err = f.s.Review(ctx, f.fan, r.ID, 5, "")
		refused(fanfare.EInvalidState, err)
		_, err = f.s.Dispute(ctx, f.fan, r.ID, "nothing yet")
		refused(fanfare.EInvalidState, err)
		_, err = f.s.CanDeliver(ctx, f.creator, r.ID)
		refused(fanfare.EInvalidState, err)
		_, err = f.s.Deliver(ctx, f.creator, r.ID, video)
		refused(fanfare.EInvalidState, err)

		// Accept twice; decline an accepted one; the fan cancels after.
		_, err = f.s.Accept(ctx, f.creator, r.ID)
		require.NoError(t, err)
		before = f.snapshot(t)
		_, err = f.s.Accept(ctx, f.creator, r.ID)
		refused(fanfare.EInvalidState, err)
		_, err = f.s.Decline(ctx, f.creator, r.ID, "")
		refused(fanfare.EInvalidState, err)
		_, err = f.s.Cancel(ctx, f.fan, r.ID)
		refused(fanfare.EInvalidState, err)
		_, err = f.s.Deliver(ctx, other, r.ID, video)
		refused(fanfare.ENotFound, err)
		_, err = f.s.Deliver(ctx, f.creator, r.ID, shoutout.VideoInfo{Key: "x", Size: 1, ContentType: "text/plain"})
		refused(fanfare.EInvalid, err)
		_, err = f.s.AskExtension(ctx, f.creator, r.ID, 4)
		refused(fanfare.EInvalid, err)

		// Accept after the deadline.
		late := f.request(t)
		f.clock.set(late.AcceptBy)
		before = f.snapshot(t)
		_, err = f.s.Accept(ctx, f.creator, late.ID)
		refused(fanfare.EDeadlinePassed, err)
		_, err = f.s.Decline(ctx, f.creator, late.ID, "")
		refused(fanfare.EDeadlinePassed, err)
		// Deliver after the deadline.
		f.clock.set(r.AcceptBy.Add(168 * time.Hour))
		_, err = f.s.Deliver(ctx, f.creator, r.ID, video)
		refused(fanfare.EDeadlinePassed, err)

		// Review twice; dispute after 7 days.
		f.clock.set(start)
		d := f.request(t)
		_, err = f.s.Accept(ctx, f.creator, d.ID)
		require.NoError(t, err)
		d, err = f.s.Deliver(ctx, f.creator, d.ID, video)
		require.NoError(t, err)
		_, err = f.s.Review(ctx, f.fan, d.ID, 5, "")
		require.NoError(t, err)
		before = f.snapshot(t)
		_, err = f.s.Review(ctx, f.fan, d.ID, 4, "")
		refused(fanfare.EConflict, err)
		_, err = f.s.Review(ctx, f.fan, d.ID, 6, "")
		refused(fanfare.EInvalid, err)
		f.clock.set(*d.DisputeBy)
		_, err = f.s.Dispute(ctx, f.fan, d.ID, "too late")
		refused(fanfare.EDeadlinePassed, err)
		f.balances(t)
	})
}

// TestRequestChecks: the creator's other reasons (a business account; a
// minor and a standing other than good, both private and read as
// unavailable), the wallet's spending checks (the day's limit, a frozen
// wallet), each refused with its code and changing nothing; a request
// keeps the price of the moment it was made; the fan's list pages.
func TestRequestChecks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{})
		creator := func(handle, birth string, typ fanfare.AccountType, standing fanfare.Standing) fanfare.Actor {
			t.Helper()
			u, err := f.accounts.Create(ctx, account.CreateInput{Handle: handle, Password: "fanfare-demo", Region: "TR", BirthDate: birth, AccountType: typ})
			require.NoError(t, err)
			followers := int64(50_000)
			in := account.UpdateInput{Followers: &followers}
			if standing != "" {
				in.Standing = &standing
			}
			_, err = f.accounts.Update(ctx, operator, u.ID, in)
			require.NoError(t, err)
			a := fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}
			_, err = f.s.SetSettings(ctx, a, shoutout.SettingsInput{Enabled: true, Price: price})
			require.NoError(t, err)
			return a
		}
		ask := func(fan, c fanfare.Actor) error {
			_, err := f.s.Request(ctx, fan, c.UserID, input(), fanfare.NewID(f.clock))
			return err
		}
		reasons := func(err error) []string {
			var fe *fanfare.Error
			require.ErrorAs(t, err, &fe)
			var codes []string
			for _, r := range fe.Reasons {
				codes = append(codes, r.Code)
			}
			return codes
		}

		// The creator's side.
		brand := creator("brand", "1990-01-01", fanfare.AccountBusiness, "")
		teen := creator("deniz", "2010-06-01", "", "")
		warned := creator("cem", "1990-01-01", "", fanfare.StandingWarned)
		before := f.snapshot(t)
		err := ask(f.fan, brand)
		requireCode(t, err, fanfare.ENotEligible)
		require.Equal(t, []string{eligibility.RAccountType}, reasons(err))
		for _, c := range []fanfare.Actor{teen, warned} {
			err := ask(f.fan, c)
			requireCode(t, err, fanfare.ENotEligible)
			require.Equal(t, []string{eligibility.RUnavailable}, reasons(err), c.Handle)
			require.NotContains(t, err.Error(), "warned", "the standing leaks")
			require.NotContains(t, err.Error(), "18", "the age leaks")
		}
		require.Equal(t, before, f.snapshot(t))

		// Two requests at 1,000 coins; the creator then asks 2,000: the
		// requests keep their price, and the delivery pays on it.
		a, b := f.request(t), f.request(t)
		_, err = f.s.SetSettings(ctx, f.creator, shoutout.SettingsInput{Enabled: true, Price: 2 * price, Capacity: 5})
		require.NoError(t, err)
		p, err := f.s.List(ctx, f.fan, shoutout.ListQuery{Role: "fan", Limit: 1})
		require.NoError(t, err)
		require.Len(t, p.Requests, 1)
		require.Equal(t, b.ID, p.Requests[0].ID, "newest first")
		require.NotEmpty(t, p.Next)
		p, err = f.s.List(ctx, f.fan, shoutout.ListQuery{Role: "fan", Limit: 1, Cursor: p.Next})
		require.NoError(t, err)
		require.Len(t, p.Requests, 1)
		require.Equal(t, a.ID, p.Requests[0].ID)
		require.Empty(t, p.Next, "the last page")
		require.Equal(t, fanfare.Amount(price), p.Requests[0].Price)
		_, err = f.s.Accept(ctx, f.creator, a.ID)
		require.NoError(t, err)
		_, err = f.s.Deliver(ctx, f.creator, a.ID, video)
		require.NoError(t, err)
		f.requireBalances(t, 8000, 800)

		// The day's limit counts the holds: 2,000 spent, a limit of 3,000
		// refuses a request at 2,000.
		_, err = f.wallet.SetSpendLimit(ctx, f.fan, 3000)
		require.NoError(t, err)
		before = f.snapshot(t)
		requireCode(t, ask(f.fan, f.creator), fanfare.ESpendLimit)
		require.Equal(t, before, f.snapshot(t))

		// A frozen wallet cannot ask.
		frozen := f.user(t, "frozen", "FR", "1990-01-01", 0)
		f.grant(t, frozen, 5000)
		_, err = f.wallet.Freeze(ctx, operator, frozen.UserID, "suspicious purchases")
		require.NoError(t, err)
		before = f.snapshot(t)
		requireCode(t, ask(frozen, f.creator), fanfare.EWalletFrozen)
		require.Equal(t, before, f.snapshot(t))
		f.requireBalances(t, 8000, 800)
	})
}

// TestExtensionDeclined: the fan declines the creator's request for more
// days: the delivery deadline stays, no job is scheduled, and neither side
// can ask or answer again.
func TestExtensionDeclined(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{})
		r := f.request(t)
		r, err := f.s.Accept(ctx, f.creator, r.ID)
		require.NoError(t, err)
		deliverBy := *r.DeliverBy
		job := f.sched.last(t, shoutout.JobDeliveryDeadline)
		_, err = f.s.AnswerExtension(ctx, f.fan, r.ID, false)
		requireCode(t, err, fanfare.EInvalidState) // nothing asked yet
		_, err = f.s.AskExtension(ctx, f.fan, r.ID, 3)
		requireCode(t, err, fanfare.EForbidden)
		r, err = f.s.AskExtension(ctx, f.creator, r.ID, 3)
		require.NoError(t, err)
		require.Equal(t, &shoutout.Extension{Days: 3, State: shoutout.ExtensionAsked}, r.Extension)
		_, err = f.s.AnswerExtension(ctx, f.creator, r.ID, false)
		requireCode(t, err, fanfare.EForbidden)
		r, err = f.s.AnswerExtension(ctx, f.fan, r.ID, false)
		require.NoError(t, err)
		require.Equal(t, &shoutout.Extension{Days: 3, State: shoutout.ExtensionDeclined}, r.Extension)
		require.True(t, r.DeliverBy.Equal(deliverBy), "the deadline stays")
		require.Equal(t, job, f.sched.last(t, shoutout.JobDeliveryDeadline), "no new job")
		before := f.snapshot(t)
		_, err = f.s.AnswerExtension(ctx, f.fan, r.ID, true)
		requireCode(t, err, fanfare.EInvalidState)
		_, err = f.s.AskExtension(ctx, f.creator, r.ID, 1)
		requireCode(t, err, fanfare.EInvalidState)
		require.Equal(t, before, f.snapshot(t))
		// The old deadline applies.
		f.clock.set(deliverBy)
		f.run(t, shoutout.JobDeliveryDeadline, job)
		r, err = f.s.Get(ctx, f.fan, r.ID)
		require.NoError(t, err)
		require.Equal(t, shoutout.Expired, r.State)
		f.requireBalances(t, 10_000, 0)
	})
}

// TestReplays: the same key answers the same request and moves nothing
// again, even once the capacity is full; another body is a conflict.
func TestReplays(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{})
		_, err := f.s.SetSettings(ctx, f.creator, shoutout.SettingsInput{Enabled: true, Price: price, Capacity: 1})
		require.NoError(t, err)
		first, err := f.s.Request(ctx, f.fan, f.creator.UserID, input(), "same")
		require.NoError(t, err)
		before := f.snapshot(t)
		again, err := f.s.Request(ctx, f.fan, f.creator.UserID, input(), "same")
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, first.Request.ID, again.Request.ID)
		require.Equal(t, first.Balance, again.Balance)
		require.Equal(t, before, f.snapshot(t))
		other := input()
		other.Recipient = "Someone else"
		_, err = f.s.Request(ctx, f.fan, f.creator.UserID, other, "same")
		requireCode(t, err, fanfare.EIdempotencyConflict)
		require.Equal(t, before, f.snapshot(t))
		f.requireBalances(t, 9000, 0)
	})
}

// TestDoubleSpend: two requests race for the fan's last coins: one holds
// them, the other is refused with insufficient_funds.
func TestDoubleSpend(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{})
		poor := f.user(t, "poor", "FR", "1990-01-01", 0)
		f.grant(t, poor, 1500)
		for range 20 {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range 2 {
				wg.Go(func() {
					_, errs[i] = f.s.Request(ctx, poor, f.creator.UserID, input(), fanfare.NewID(f.clock))
				})
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else {
					requireCode(t, err, fanfare.EInsufficientFunds)
				}
			}
			require.Equal(t, 1, ok)
			w, err := f.wallet.Wallet(ctx, poor.UserID)
			require.NoError(t, err)
			require.Equal(t, fanfare.Amount(500), w.Coins)
			// Cancel it to race again.
			p, err := f.s.List(ctx, poor, shoutout.ListQuery{Role: "fan", State: shoutout.Requested})
			require.NoError(t, err)
			require.Len(t, p.Requests, 1)
			_, err = f.s.Cancel(ctx, poor, p.Requests[0].ID)
			require.NoError(t, err)
		}
		f.balances(t)
	})
}

// TestCapacityRace: requests from many fans race for a creator's last
// places: exactly capacity of them hold coins.
func TestCapacityRace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{})
		_, err := f.s.SetSettings(ctx, f.creator, shoutout.SettingsInput{Enabled: true, Price: price, Capacity: 3})
		require.NoError(t, err)
		var fans []fanfare.Actor
		for i := range 10 {
			a := f.user(t, fmt.Sprint("fan", i), "FR", "1990-01-01", 0)
			f.grant(t, a, price)
			fans = append(fans, a)
		}
		var wg sync.WaitGroup
		var ok, full atomic.Int32
		for _, a := range fans {
			wg.Go(func() {
				_, err := f.s.Request(ctx, a, f.creator.UserID, input(), "k")
				switch fanfare.ErrorCode(err) {
				case "":
					ok.Add(1)
				case fanfare.ECapacityFull:
					full.Add(1)
				default:
					t.Errorf("Request: %v", err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(3), ok.Load())
		require.Equal(t, int32(7), full.Load())
		f.balances(t)
	})
}

// TestAcceptAgainstExpiry races, on each of many requests, the creator's
// accept against the accept deadline's job: exactly one wins each time and
// the money moves once. The accept reads the clock one microsecond before
// the deadline (both are valid by time: the state decides); at the exact
// deadline, the expiry always wins (the tie rule).
func TestAcceptAgainstExpiry(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		n := 1000
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{})
		_, err := f.s.SetSettings(ctx, f.creator, shoutout.SettingsInput{Enabled: true, Price: 100, Capacity: shoutout.MaxCapacity})
		require.NoError(t, err)
		f.grant(t, f.fan, fanfare.Amount(100*n))
		began := time.Now()
		ids := make([]string, n)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for i := range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				p, err := f.s.Request(ctx, f.fan, f.creator.UserID, input(), fmt.Sprint("race", i))
				if err != nil {
					t.Errorf("Request: %v", err)
					return
				}
				ids[i] = p.Request.ID
			})
		}
		wg.Wait()
		require.False(t, t.Failed())
		t.Logf("%d requests in %s", n, time.Since(began))
		deadline := start.Add(72 * time.Hour)
		expiry := func(svc *shoutout.Service, id string) error {
			return svc.Handlers()[shoutout.JobAcceptDeadline](ctx, json.RawMessage(fmt.Sprintf(`{"id":%q,"at":%d}`, id, deadline.UnixMicro())))
		}
		creator := f.service(t, fanfare.ClockFunc(func() time.Time { return deadline.Add(-time.Microsecond) }), shoutout.Options{})
		exact := f.service(t, fanfare.ClockFunc(func() time.Time { return deadline }), shoutout.Options{})
		f.clock.set(deadline)
		began = time.Now()
		var accepted, refused atomic.Int32
		for i, id := range ids {
			acceptor := creator
			if i%2 == 1 {
				acceptor = exact // at the exact instant
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				var inner sync.WaitGroup
				var aerr, eerr error
				inner.Go(func() { _, aerr = acceptor.Accept(ctx, f.creator, id) })
				inner.Go(func() { eerr = expiry(exact, id) })
				inner.Wait()
				if eerr != nil {
					t.Errorf("expiry: %v", eerr)
				}
				switch fanfare.ErrorCode(aerr) {
				case "":
					accepted.Add(1)
				case fanfare.EInvalidState, fanfare.EDeadlinePassed:
					refused.Add(1)
				default:
					t.Errorf("Accept: %v", aerr)
				}
			})
		}
		wg.Wait()
		t.Logf("%d races in %s: %d accepted", n, time.Since(began), accepted.Load())
		require.Equal(t, int32(n), accepted.Load()+refused.Load())
		var acc, exp, other int
		rows, err := db.Read.Query(`SELECT state FROM shoutout_requests`)
		require.NoError(t, err)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			switch shoutout.State(s) {
			case shoutout.Accepted:
				acc++
			case shoutout.Expired:
				exp++
			default:
				other++
			}
		}
		require.NoError(t, rows.Err())
		rows.Close()
		require.Zero(t, other)
		require.Equal(t, int(accepted.Load()), acc, "every accept that answered ok is accepted")
		require.Equal(t, n, acc+exp)
		// The exact-instant half never accepts.
		for i, id := range ids {
			if i%2 == 1 {
				r, err := f.s.Get(ctx, f.fan, id)
				require.NoError(t, err)
				require.Equal(t, shoutout.Expired, r.State)
			}
		}
		// Money moved once: each expired request's hold voided once, the
		// accepted ones still held.
		var voids int
		require.NoError(t, db.Read.QueryRow(`SELECT COUNT(*) FROM transfers WHERE kind = 'shoutout_void'`).Scan(&voids))
		require.Equal(t, exp, voids)
		coins, _ := f.balances(t)
		require.Equal(t, fanfare.Amount(10_000+100*exp), coins)
	})
}

// TestModeration: with Options.Review a delivered video waits for the
// operator and no money moves; rejected in time, the creator delivers
// again; the window passing without a decision releases it and pays.
func TestModeration(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{Review: true, ModerationWindow: time.Hour})
		r := f.request(t)
		_, err := f.s.Accept(ctx, f.creator, r.ID)
		require.NoError(t, err)
		r, err = f.s.Deliver(ctx, f.creator, r.ID, video)
		require.NoError(t, err)
		require.Equal(t, shoutout.InReview, r.State)
		f.requireBalances(t, 9000, 0)
		_, err = f.s.Video(ctx, f.fan, r.ID)
		requireCode(t, err, fanfare.ENotFound)
		_, err = f.s.Approve(ctx, f.creator, r.ID)
		requireCode(t, err, fanfare.EForbidden)
		r, old, err := f.s.Reject(ctx, operator, r.ID, "blurry")
		require.NoError(t, err)
		require.Equal(t, shoutout.Accepted, r.State)
		require.Equal(t, video, *old)
		require.Nil(t, r.Video)
		r, err = f.s.Deliver(ctx, f.creator, r.ID, video)
		require.NoError(t, err)
		f.clock.set(*r.ReviewBy)
		f.run(t, shoutout.JobModerationDeadline, f.sched.last(t, shoutout.JobModerationDeadline))
		r, err = f.s.Get(ctx, f.fan, r.ID)
		require.NoError(t, err)
		require.Equal(t, shoutout.Delivered, r.State)
		require.True(t, r.Visible())
		f.requireBalances(t, 9000, 800)

		// Rejected after the delivery deadline: refunded.
		r = f.request(t)
		_, err = f.s.Accept(ctx, f.creator, r.ID)
		require.NoError(t, err)
		r, err = f.s.Deliver(ctx, f.creator, r.ID, video)
		require.NoError(t, err)
		f.clock.set(*r.DeliverBy)
		r, _, err = f.s.Reject(ctx, operator, r.ID, "not a shoutout")
		require.NoError(t, err)
		require.Equal(t, shoutout.Rejected, r.State)
		f.requireBalances(t, 9000, 800)
		entries, err := audit.List(ctx, db, "shoutout:"+r.ID)
		require.NoError(t, err)
		require.Len(t, entries, 1)
	})
}
