package payout_test

import (
	"context"
	"sync"
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

type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.at = t
	c.mu.Unlock()
}

// TestEarnings reads a creator's month: diamonds from each feature on
// their days, a refunded shoutout taken back, the last 7/30/90 days, the
// value at the payout rate in the creator's currency or another, and the
// balance split into withdrawable and held (the refund taken from the
// newest credit, what remains held freeing a week after it was earned).
func TestEarnings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := &clock{at: time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)}
		l, err := ledger.Open(ctx, db, ledger.Options{Clock: c})
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		accounts := account.New(db, l, account.Options{Clock: c, HashCost: account.MinHashCost})
		ayla, err := accounts.Create(ctx, account.CreateInput{Handle: "ayla", Password: "fanfare-demo", Region: "TR", BirthDate: "1995-05-05"})
		require.NoError(t, err)
		sam, err := accounts.Create(ctx, account.CreateInput{Handle: "sam", Password: "fanfare-demo", Region: "FR", BirthDate: "1992-02-02"})
		require.NoError(t, err)
		issue, err := l.SystemAccount(ctx, ledger.DiamondIssuance, fanfare.Diamond)
		require.NoError(t, err)
		diamonds, err := l.UserAccount(ctx, ayla.ID, fanfare.Diamond)
		require.NoError(t, err)
		rates, err := payout.ParseRates("EUR=0.005,TRY=0.18")
		require.NoError(t, err)
		svc, err := payout.New(l, accounts, payout.Options{Clock: c, Rates: rates, Hold: 7 * 24 * time.Hour,
			CurrencyFor: func(region string) string { return map[string]string{"TR": "TRY"}[region] }})
		require.NoError(t, err)
		earn := func(at time.Time, kind string, d fanfare.Amount) {
			t.Helper()
			c.set(at)
			_, err := l.Submit(ctx, ledger.Op{Kind: kind, Object: "test", Actor: "test", Legs: []ledger.Leg{{Debit: issue, Credit: diamonds, Amount: d}}})
			require.NoError(t, err)
		}
		earn(time.Date(2026, 1, 10, 13, 0, 0, 0, time.UTC), "gift", 100) // 80 days before now
		earn(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), "gift", 200)
		earn(time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC), "tip", 50)
		earn(time.Date(2026, 3, 28, 9, 0, 0, 0, time.UTC), "subscription", 150)
		earn(time.Date(2026, 3, 30, 15, 0, 0, 0, time.UTC), "shoutout", 800)
		earn(time.Date(2026, 3, 30, 16, 0, 0, 0, time.UTC), "grant", 7)
		c.set(time.Date(2026, 3, 31, 8, 0, 0, 0, time.UTC))
		_, err = l.Submit(ctx, ledger.Op{Kind: ledger.KindShoutoutRefund, Object: "shoutout:x", Actor: "ops",
			Legs: []ledger.Leg{{Debit: diamonds, Credit: issue, Amount: 800, AllowNegative: true}}})
		require.NoError(t, err)
		now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
		c.set(now)
		aylaActor := fanfare.Actor{UserID: ayla.ID, Handle: ayla.Handle, Role: fanfare.RoleFan}

		e, err := svc.Earnings(ctx, aylaActor, payout.EarningsInput{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: now})
		require.NoError(t, err)
		require.Equal(t, "2026-03-01", e.From)
		require.Equal(t, "2026-03-31", e.To)
		require.Len(t, e.Days, 31, "every day of the window")
		require.Equal(t, "TRY", e.Currency, "the creator's currency")
		require.Equal(t, "0.18 TRY per diamond", e.Rate)
		require.Equal(t, payout.Diamonds{Gifts: 200, Net: 200}, e.Days[0].Diamonds)
		require.Equal(t, payout.Diamonds{Tips: 50, Net: 50}, e.Days[19].Diamonds)
		require.Equal(t, payout.Diamonds{Shoutouts: 800, Other: 7, Net: 807}, e.Days[29].Diamonds)
		require.Equal(t, payout.Diamonds{TakenBack: 800, Net: -800}, e.Days[30].Diamonds)
		require.Equal(t, payout.Diamonds{Gifts: 200, Tips: 50, Shoutouts: 800, Subscriptions: 150, Other: 7, TakenBack: 800, Net: 407}, e.Total)
		require.Equal(t, payout.Payable{Amount: 7_326, Currency: "TRY"}, e.TotalValue, "407 × 0.18 TRY = 73.26 TRY")
		require.Equal(t, fanfare.Amount(157), e.Last7.Diamonds, "Mar 25–31: 150 + 800 + 7 − 800")
		require.Equal(t, fanfare.Amount(207), e.Last30.Diamonds, "Mar 2–31")
		require.Equal(t, fanfare.Amount(507), e.Last90.Diamonds, "since Jan 1")

		require.Equal(t, fanfare.Amount(507), e.Balance)
		require.Equal(t, fanfare.Amount(157), e.Held, "the 957 credited within the week, less the 800 refunded")
		require.Equal(t, fanfare.Amount(350), e.Withdrawable)
		require.Equal(t, []payout.Frees{
			{Day: "2026-04-04", At: time.Date(2026, 4, 4, 9, 0, 0, 0, time.UTC), Diamonds: 150},
			// The refund's 800 came off the newest credits: the grant's 7,
			// then 793 of the shoutout's 800, whose last 7 stay held.
			{Day: "2026-04-06", At: time.Date(2026, 4, 6, 15, 0, 0, 0, time.UTC), Diamonds: 7},
		}, e.HeldUntil)
		require.Equal(t, 168, e.HoldHours)

		// In euros, by default the last 30 days.
		e, err = svc.Earnings(ctx, aylaActor, payout.EarningsInput{Currency: "EUR"})
		require.NoError(t, err)
		require.Equal(t, "2026-03-02", e.From)
		require.Equal(t, payout.Payable{Amount: 103, Currency: "EUR"}, e.TotalValue, "207 × 0.005 EUR = 1.035 EUR, rounded down")

		// The hold window passed: everything is withdrawable.
		c.set(time.Date(2026, 4, 7, 0, 0, 0, 0, time.UTC))
		e, err = svc.Earnings(ctx, aylaActor, payout.EarningsInput{})
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(507), e.Withdrawable)
		require.Zero(t, e.Held)
		require.Empty(t, e.HeldUntil)

		// A fan who never earned reads zeros.
		e, err = svc.Earnings(ctx, fanfare.Actor{UserID: sam.ID, Handle: "sam", Role: fanfare.RoleFan}, payout.EarningsInput{})
		require.NoError(t, err)
		require.Zero(t, e.Balance)
		require.Equal(t, "EUR", e.Currency, "FR maps to no currency here: the first with a rate")
		require.Len(t, e.Days, payout.DefaultEarningsDays)

		// Bad input.
		for _, in := range []payout.EarningsInput{
			{From: now, To: now.AddDate(0, 0, -1)},
			{From: now.AddDate(-2, 0, 0), To: now},
			{Currency: "USD"},
		} {
			_, err := svc.Earnings(ctx, aylaActor, in)
			require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err), "%+v: %v", in, err)
		}
		_, err = svc.Earnings(ctx, fanfare.Actor{Role: fanfare.RoleOperator}, payout.EarningsInput{})
		require.Equal(t, fanfare.EForbidden, fanfare.ErrorCode(err))

		r, err := l.Verify(ctx, nil)
		require.NoError(t, err)
		require.True(t, r.OK(), "%v", r.Problems)
	})
}
