package console_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/app"
	"github.com/fanfarehq/fanfare/internal/app/apptest"
	"github.com/fanfarehq/fanfare/internal/console"
	"github.com/fanfarehq/fanfare/internal/jobs"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// clock is a settable clock.
type clock struct{ t atomic.Pointer[time.Time] }

func (c *clock) Now() time.Time  { return *c.t.Load() }
func (c *clock) set(t time.Time) { c.t.Store(&t) }

var operator = fanfare.Actor{UserID: "ops", Role: fanfare.RoleOperator}

// fixture is the whole graph on a test database, with sam (a fan) and
// ayla (a creator with Tips on).
type fixture struct {
	clock     *clock
	a         *app.App
	db        *store.DB
	sam, ayla fanfare.Actor
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{clock: &clock{}, db: db}
	f.clock.set(time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC))
	f.a = apptest.Open(t, db, f.clock, app.Config{TipShareBPS: 7000})
	user := func(handle string, followers int64) fanfare.Actor {
		u, err := f.a.Accounts.Create(ctx, account.CreateInput{Handle: handle, Password: "fanfare-demo", Region: "FR", BirthDate: "1990-01-01"})
		require.NoError(t, err)
		if followers > 0 {
			_, err = f.a.Accounts.Update(ctx, operator, u.ID, account.UpdateInput{Followers: &followers})
			require.NoError(t, err)
		}
		return fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}
	}
	f.sam, f.ayla = user("sam", 0), user("ayla", 250_000)
	_, err := f.a.Tips.SetEnabled(ctx, f.ayla, true)
	require.NoError(t, err)
	return f
}

func (f *fixture) buy(t *testing.T, pack, key string) {
	t.Helper()
	_, err := f.a.Wallet.Buy(context.Background(), f.sam, wallet.PurchaseInput{PackID: pack, PaymentMethod: payment.CardSucceeds}, key)
	require.NoError(t, err)
}

// TestFigures reads the headline figures of a small known history: two
// purchases in two currencies on two days, a tip, and a grant (which is
// not a sale).
func TestFigures(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		f.buy(t, "eur-350", "buy-1")
		_, err := f.a.Tips.Send(ctx, f.sam, f.ayla.UserID, 100, "", "tip-1")
		require.NoError(t, err)
		w, err := f.a.Wallet.Wallet(ctx, f.ayla.UserID)
		require.NoError(t, err)
		earned := w.Diamonds
		require.Positive(t, earned)
		require.Less(t, earned, fanfare.Amount(100))

		f.clock.set(time.Date(2026, 3, 11, 9, 0, 0, 0, time.UTC))
		f.buy(t, "try-70", "buy-2")
		_, err = f.a.Wallet.Grant(ctx, operator, wallet.GrantInput{UserID: f.sam.UserID, Coins: 1_000, Reason: "welcome"}, "grant-1")
		require.NoError(t, err)

		_, err = f.a.Console.Figures(ctx, 0)
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err))
		_, err = f.a.Console.Figures(ctx, console.MaxDays+1)
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err))

		fig, err := f.a.Console.Figures(ctx, 30)
		require.NoError(t, err)
		require.Len(t, fig.Days, 30)
		require.Equal(t, time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC), fig.Days[0].Day)
		yesterday, today := fig.Days[28], fig.Days[29]
		require.Equal(t, time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), yesterday.Day)
		require.Equal(t, fanfare.Amount(350), yesterday.CoinsSold)
		require.Equal(t, map[string]fanfare.Amount{"EUR": 569}, yesterday.Money)
		require.Equal(t, earned, yesterday.DiamondsEarned)
		require.Equal(t, map[string]fanfare.Amount{"tip": 100 - earned}, yesterday.Revenue)
		require.Equal(t, fanfare.Amount(70), today.CoinsSold, "the grant is no sale")
		require.Equal(t, map[string]fanfare.Amount{"TRY": 4499}, today.Money)
		require.Zero(t, today.DiamondsEarned)
		require.Empty(t, today.Revenue)
		require.Equal(t, fanfare.Amount(420), fig.Total.CoinsSold)
		require.Equal(t, map[string]fanfare.Amount{"EUR": 569, "TRY": 4499}, fig.Total.Money)
		require.Equal(t, []string{"EUR", "TRY"}, fig.Currencies)
		require.Equal(t, []string{"tip"}, fig.Features)
		for _, d := range fig.Days[:28] {
			require.Zero(t, d.CoinsSold)
			require.Empty(t, d.Money)
		}

		// A window of one day is today's.
		one, err := f.a.Console.Figures(ctx, 1)
		require.NoError(t, err)
		require.Len(t, one.Days, 1)
		require.Equal(t, today, one.Days[0])
	})
}

// wait waits for the verifier's run to end.
func wait(t *testing.T, v *console.Verifier) console.Run {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if run, ok := v.Last(); ok && !run.Running {
			return run
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("verify did not finish")
	return console.Run{}
}

// TestVerifier runs verify in the background: ok on a sound ledger, the
// problems of one changed by hand; only the operator starts it.
func TestVerifier(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		f.buy(t, "eur-350", "buy-1")
		v := f.a.Verifier
		_, ok := v.Last()
		require.False(t, ok)
		_, err := v.Start(f.sam)
		require.Equal(t, fanfare.EForbidden, fanfare.ErrorCode(err))
		_, ok = v.Last()
		require.False(t, ok, "a refused start runs nothing")

		run, err := v.Start(operator)
		require.NoError(t, err)
		require.Equal(t, operator.ID(), run.By)
		run = wait(t, v)
		require.Empty(t, run.Err)
		require.True(t, run.Report.OK(), "problems: %v", run.Report.Problems)
		require.Equal(t, 100, run.Percent())
		require.Equal(t, run.Total, run.Done)
		require.Positive(t, run.Report.Transfers)

		_, err = db.Write.ExecContext(ctx, `UPDATE accounts SET balance = balance + 1 WHERE owner = $1`, f.sam.UserID)
		require.NoError(t, err)
		_, err = v.Start(operator)
		require.NoError(t, err)
		run = wait(t, v)
		require.False(t, run.Report.OK())
		require.Positive(t, run.Report.ProblemCount)
	})
}

// TestJobs lists the jobs a ban schedules, cancels one and retries it.
func TestJobs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		banned := fanfare.StandingBanned
		_, err := f.a.Accounts.Update(ctx, operator, f.ayla.UserID, account.UpdateInput{Standing: &banned, Reason: "fraud"})
		require.NoError(t, err)

		_, err = f.a.Console.JobCounts(ctx, f.sam)
		require.Equal(t, fanfare.EForbidden, fanfare.ErrorCode(err))
		counts, err := f.a.Console.JobCounts(ctx, operator)
		require.NoError(t, err)
		kinds := map[string]int64{}
		for _, c := range counts {
			kinds[c.Kind] += c.N
		}
		require.Equal(t, int64(1), kinds["shoutout.creator_standing"])
		require.Equal(t, int64(1), kinds["subscription.creator_standing"])

		_, err = f.a.Console.Jobs(ctx, operator, "nonsense", 10)
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err))
		var list []jobs.Job
		for _, st := range jobs.States {
			l, err := f.a.Console.Jobs(ctx, operator, st, 10)
			require.NoError(t, err)
			list = append(list, l...)
		}
		var id int64
		for _, j := range list {
			if j.Kind == "subscription.creator_standing" {
				id = j.ID
				require.JSONEq(t, `{"creator_id":"`+f.ayla.UserID+`"}`, j.Args)
			}
		}
		require.NotZero(t, id, "jobs available: %v", list)

		_, err = f.a.Console.CancelJob(ctx, f.sam, id)
		require.Equal(t, fanfare.EForbidden, fanfare.ErrorCode(err))
		j, err := f.a.Console.CancelJob(ctx, operator, id)
		require.NoError(t, err)
		require.Equal(t, "cancelled", j.State)
		j, err = f.a.Console.RetryJob(ctx, operator, id)
		require.NoError(t, err)
		require.Equal(t, "available", j.State)
		_, err = f.a.Console.RetryJob(ctx, operator, 1<<40)
		require.Equal(t, fanfare.ENotFound, fanfare.ErrorCode(err))
		_, err = f.a.Console.CancelJob(ctx, operator, 1<<40)
		require.Equal(t, fanfare.ENotFound, fanfare.ErrorCode(err))

		// The ban's audit entry carries the reason.
		entries, err := f.a.Console.Audit(ctx, operator, "user:"+f.ayla.UserID)
		require.NoError(t, err)
		require.Contains(t, string(entries[len(entries)-1].Details), `"reason":"fraud"`)
		_, err = f.a.Console.Audit(ctx, f.sam, "user:"+f.ayla.UserID)
		require.Equal(t, fanfare.EForbidden, fanfare.ErrorCode(err))
	})
}
