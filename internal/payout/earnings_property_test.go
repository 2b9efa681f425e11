package payout_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
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

// TestEarningsProperty checks, over random histories of earnings,
// clawbacks and payouts (some failing), that every figure Earnings gives
// is the sum of the transfers it stands for: each day by feature, the
// window's total, the last 7/30/90 days, the balance; and that the held
// part is what a walk over every credit of the hold window finds, for a
// hold of whole days (read from the daily totals) and of 36 hours (read
// from the transfers).
func TestEarningsProperty(t *testing.T) {
	t.Parallel()
	for _, hold := range []time.Duration{7 * 24 * time.Hour, 36 * time.Hour} {
		t.Run(fmt.Sprintf("hold %s", hold), func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				for seed := range uint64(3) {
					earningsProperty(t, db, hold, seed)
				}
			})
		})
	}
}

// event is one transfer into or out of the creator's diamonds, as the
// test's own books keep it.
type event struct {
	at     time.Time
	kind   string
	amount fanfare.Amount // credited if positive, debited if negative
}

func earningsProperty(t *testing.T, db *store.DB, hold time.Duration, seed uint64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, uint64(hold)))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{at: start}
	l, err := ledger.Open(ctx, db, ledger.Options{Clock: c})
	require.NoError(t, err)
	defer l.Close()
	accounts := account.New(db, l, account.Options{Clock: c, HashCost: account.MinHashCost})
	creator, err := accounts.Create(ctx, account.CreateInput{Handle: fmt.Sprintf("prop%d%d", seed, hold/time.Hour),
		Password: "fanfare-demo", Region: "FR", BirthDate: "1995-05-05"})
	require.NoError(t, err)
	issue, err := l.SystemAccount(ctx, ledger.DiamondIssuance, fanfare.Diamond)
	require.NoError(t, err)
	diamonds, err := l.UserAccount(ctx, creator.ID, fanfare.Diamond)
	require.NoError(t, err)
	rates, err := payout.ParseRates("EUR=0.005")
	require.NoError(t, err)
	svc, err := payout.New(l, accounts, payout.Options{Clock: c, Rates: rates, Hold: hold})
	require.NoError(t, err)

	// A hundred days of history, a few events a day, the last ones within
	// the hold window.
	var events []event
	var balance fanfare.Amount
	at := start
	for range 400 {
		at = at.Add(time.Duration(rng.IntN(6*60*60)) * time.Second)
		var e event
		switch r := rng.IntN(20); {
		case r < 8:
			e = event{at, "gift", fanfare.Amount(1 + rng.IntN(400))}
		case r < 10:
			e = event{at, "tip", fanfare.Amount(1 + rng.IntN(1000))}
		case r < 12:
			e = event{at, "shoutout", fanfare.Amount(100 + rng.IntN(5000))}
		case r < 14:
			e = event{at, "subscription", fanfare.Amount(50 + rng.IntN(300))}
		case r < 15:
			e = event{at, "grant", fanfare.Amount(1 + rng.IntN(50))}
		case r < 17:
			kind := []string{ledger.KindChargeback, ledger.KindShoutoutRefund}[rng.IntN(2)]
			e = event{at, kind, -fanfare.Amount(1 + rng.IntN(800))}
		case r < 19:
			if balance < 10 {
				continue
			}
			e = event{at, ledger.KindPayout, -fanfare.Amount(1 + rng.IntN(int(balance)))}
		default:
			e = event{at, ledger.KindPayoutFailed, fanfare.Amount(1 + rng.IntN(500))}
		}
		c.set(e.at)
		leg := ledger.Leg{Debit: issue, Credit: diamonds, Amount: e.amount}
		if e.amount < 0 {
			leg = ledger.Leg{Debit: diamonds, Credit: issue, Amount: -e.amount, AllowNegative: ledger.IsClawback(e.kind)}
		}
		_, err := l.Submit(ctx, ledger.Op{Kind: e.kind, Object: "test", Actor: "test", Legs: []ledger.Leg{leg}})
		require.NoError(t, err, "%s of %d at %s", e.kind, e.amount, e.at)
		events = append(events, e)
		balance += e.amount
	}
	now := at.Add(time.Duration(rng.IntN(3*60*60)) * time.Second)
	c.set(now)

	actor := fanfare.Actor{UserID: creator.ID, Handle: creator.Handle}
	today := now.Truncate(24 * time.Hour)
	from := start.AddDate(0, 0, 3) // a window that leaves the first days out
	got, err := svc.Earnings(ctx, actor, payout.EarningsInput{From: from, To: now})
	require.NoError(t, err)

	// The test's own books: each day by feature, and the periods.
	days := map[string]*payout.Diamonds{}
	var total, last7, last30, last90 payout.Diamonds
	for _, e := range events {
		if e.kind == ledger.KindPayout || e.kind == ledger.KindPayoutFailed {
			continue
		}
		day := e.at.Truncate(24 * time.Hour)
		var add payout.Diamonds
		switch {
		case e.amount < 0:
			add.TakenBack = -e.amount
		case e.kind == "gift":
			add.Gifts = e.amount
		case e.kind == "tip":
			add.Tips = e.amount
		case e.kind == "shoutout":
			add.Shoutouts = e.amount
		case e.kind == "subscription":
			add.Subscriptions = e.amount
		default:
			add.Other = e.amount
		}
		add.Net = e.amount
		plus := func(d *payout.Diamonds) {
			d.Gifts += add.Gifts
			d.Tips += add.Tips
			d.Shoutouts += add.Shoutouts
			d.Subscriptions += add.Subscriptions
			d.Other += add.Other
			d.TakenBack += add.TakenBack
			d.Net += add.Net
		}
		if !day.Before(from) {
			k := day.Format(time.DateOnly)
			if days[k] == nil {
				days[k] = &payout.Diamonds{}
			}
			plus(days[k])
			plus(&total)
		}
		for n, p := range map[int]*payout.Diamonds{7: &last7, 30: &last30, 90: &last90} {
			if !day.Before(today.AddDate(0, 0, -(n - 1))) {
				plus(p)
			}
		}
	}
	require.Len(t, got.Days, int(today.Sub(from)/(24*time.Hour))+1)
	for _, d := range got.Days {
		want := payout.Diamonds{}
		if w := days[d.Day]; w != nil {
			want = *w
		}
		require.Equal(t, want, d.Diamonds, "seed %d, day %s", seed, d.Day)
	}
	require.Equal(t, total, got.Total, "seed %d", seed)
	require.Equal(t, last7.Net, got.Last7.Diamonds, "seed %d", seed)
	require.Equal(t, last30.Net, got.Last30.Diamonds, "seed %d", seed)
	require.Equal(t, last90.Net, got.Last90.Diamonds, "seed %d", seed)
	require.Equal(t, balance, got.Balance, "seed %d", seed)

	// The held part, by a walk over every credit of the window, newest
	// first: clawbacks come off the newest, the balance caps the rest.
	since := now.Add(-hold)
	var back fanfare.Amount
	for _, e := range events {
		if e.at.After(since) && ledger.IsClawback(e.kind) {
			back -= e.amount
		}
	}
	back0 := back
	left := max(balance, 0)
	var held fanfare.Amount
	until := []payout.Frees{}
	for _, e := range slices.Backward(events) {
		if !e.at.After(since) || e.amount < 0 || e.kind == ledger.KindPayoutFailed {
			continue
		}
		amount := e.amount
		cut := min(back, amount)
		back -= cut
		amount -= cut
		take := min(amount, left)
		if take == 0 {
			continue
		}
		left -= take
		held += take
		free := e.at.Add(hold)
		if n := len(until); n > 0 && until[n-1].Day == free.Format(time.DateOnly) {
			until[n-1].Diamonds += take
		} else {
			until = append(until, payout.Frees{Day: free.Format(time.DateOnly), At: free, Diamonds: take})
		}
	}
	slices.Reverse(until)
	t.Logf("seed %d hold %s: held %d in %d days, clawed back within %d, balance %d", seed, hold, held, len(until), back0, balance)
	require.Equal(t, held, got.Held, "seed %d", seed)
	require.Equal(t, max(balance, 0)-held, got.Withdrawable, "seed %d", seed)
	require.Equal(t, until, got.HeldUntil, "seed %d", seed)
}
