package ledger_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestDays keeps, over a random history of gifts and clawbacks across
// days, the creator's daily totals equal to the sums of their transfers
// (the property Verify checks), read back by Days by day and kind; totals
// changed by hand are a problem Verify reports.
func TestDays(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := &testClock{}
		clock.advance(float64(23 * time.Hour)) // 23:00 on the epoch's day
		start := clock.Now()
		f := setup(t, db, ledger.Options{Clock: clock})
		f.grant(t, f.fanCoins, 1_000_000)
		rng := rand.New(rand.NewPCG(1, 2))
		type key struct {
			day  time.Time
			kind string
		}
		want := map[key][2]fanfare.Amount{}
		wantLast := map[key]time.Time{}
		add := func(kind string, credited, debited fanfare.Amount) {
			d := clock.Now().UTC().Truncate(24 * time.Hour)
			v := want[key{d, kind}]
			v[0] += credited
			v[1] += debited
			want[key{d, kind}] = v
			if credited > 0 {
				wantLast[key{d, kind}] = clock.Now().UTC()
			}
		}
		for i := range 300 {
			clock.advance(float64(time.Duration(rng.IntN(90)) * time.Minute))
			switch rng.IntN(4) {
			case 0, 1, 2:
				coins := fanfare.Amount(1 + rng.IntN(500))
				if _, err := f.l.Submit(ctx, f.gift(f.fanCoins, coins, "")); err != nil {
					t.Fatal(err)
				}
				add("gift", fanfare.Share(coins, 5000), 0)
			case 3:
				back := fanfare.Amount(1 + rng.IntN(50))
				op := ledger.Op{Kind: ledger.KindChargeback, Object: "test", Actor: "ops",
					Legs: []ledger.Leg{{Debit: f.creatorDiams, Credit: f.issue, Amount: back, AllowNegative: true}}}
				if _, err := f.l.Submit(ctx, op); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				add(ledger.KindChargeback, 0, back)
			}
		}
		days, err := f.l.Days(ctx, f.creatorDiams, start, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		got := map[key][2]fanfare.Amount{}
		var net fanfare.Amount
		for i, d := range days {
			if i > 0 && (d.Day.Before(days[i-1].Day) || d.Day.Equal(days[i-1].Day) && d.Kind <= days[i-1].Kind) {
				t.Fatalf("Days not by day then kind at %d: %v after %v", i, d, days[i-1])
			}
			got[key{d.Day, d.Kind}] = [2]fanfare.Amount{d.Credited, d.Debited}
			net += d.Credited - d.Debited
			if w := wantLast[key{d.Day, d.Kind}]; !d.LastCredit.Equal(w) {
				t.Errorf("%s %s: last credit at %s, want %s", d.Day.Format(time.DateOnly), d.Kind, d.LastCredit, w)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("Days returned %d rows, want %d", len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s %s: got %v, want %v", k.day.Format(time.DateOnly), k.kind, got[k], v)
			}
		}
		if b := balance(t, f.l, f.creatorDiams); b != net {
			t.Errorf("the days net %d, the balance is %d", net, b)
		}
		// A window of one day reads that day only.
		one, err := f.l.Days(ctx, f.creatorDiams, start.Add(time.Hour), start.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range one {
			if !d.Day.Equal(epoch.AddDate(0, 0, 1)) {
				t.Errorf("a window of the day after the epoch read %s", d.Day)
			}
		}
		mustVerify(t, f.l)

		res, err := db.Write.ExecContext(ctx, `UPDATE account_days SET credited = credited + 1 WHERE kind = $1 AND day = $2`,
			days[0].Kind, ledger.DayOf(days[0].Day))
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("changed %d daily totals by hand, want 1", n)
		}
		r, err := f.l.Verify(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.ProblemCount != 1 {
			t.Fatalf("Verify after a total changed by hand: %d problems %v, want 1", r.ProblemCount, r.Problems)
		}

		// A last credit moved by hand is a problem too.
		if _, err := db.Write.ExecContext(ctx, `UPDATE account_days SET credited = credited - 1 WHERE kind = $1 AND day = $2`,
			days[0].Kind, ledger.DayOf(days[0].Day)); err != nil {
			t.Fatal(err)
		}
		mustVerify(t, f.l)
		if _, err := db.Write.ExecContext(ctx, `UPDATE account_days SET last_credit_at = last_credit_at - 1 WHERE kind = 'gift' AND day = $1`,
			ledger.DayOf(days[0].Day)); err != nil {
			t.Fatal(err)
		}
		if r, err = f.l.Verify(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if r.ProblemCount != 1 || !strings.Contains(r.Problems[0], "last credit") {
			t.Fatalf("Verify after a last credit moved by hand: %d problems %v, want 1 about it", r.ProblemCount, r.Problems)
		}
	})
}

// TestPlatformDays keeps the system accounts' daily totals: a grant and
// gifts over two days are read back by PlatformDays, account by account;
// a total changed by hand is a problem Verify reports.
func TestPlatformDays(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := &testClock{}
		clock.advance(float64(22 * time.Hour))
		f := setup(t, db, ledger.Options{Clock: clock})
		f.grant(t, f.fanCoins, 1_000)
		for _, coins := range []fanfare.Amount{100, 51} {
			if _, err := f.l.Submit(ctx, f.gift(f.fanCoins, coins, "")); err != nil {
				t.Fatal(err)
			}
		}
		clock.advance(float64(3 * time.Hour)) // the next day
		if _, err := f.l.Submit(ctx, f.gift(f.fanCoins, 10, "")); err != nil {
			t.Fatal(err)
		}
		days, err := f.l.PlatformDays(ctx, epoch, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, d := range days {
			got[d.Day.Format(time.DateOnly)+" "+d.Account+" "+d.Kind] = fmt.Sprintf("%s +%d −%d", d.Asset, d.Credited, d.Debited)
		}
		want := map[string]string{
			"2026-01-01 promotions grant":      "COIN +0 −1000",
			"2026-01-01 revenue:gift gift":     "COIN +151 −0",
			"2026-01-01 diamond_issuance gift": "DIAMOND +0 −75",
			"2026-01-02 revenue:gift gift":     "COIN +10 −0",
			"2026-01-02 diamond_issuance gift": "DIAMOND +0 −5",
		}
		if !maps.Equal(got, want) {
			t.Fatalf("PlatformDays = %v, want %v", got, want)
		}
		// A window of the second day reads that day only.
		second, err := f.l.PlatformDays(ctx, epoch.AddDate(0, 0, 1), clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(second) != 2 {
			t.Fatalf("PlatformDays of the second day = %v, want its 2 rows", second)
		}
		mustVerify(t, f.l)
		if _, err := db.Write.ExecContext(ctx, `UPDATE platform_days SET debited = debited + 1 WHERE kind = 'grant'`); err != nil {
			t.Fatal(err)
		}
		r, err := f.l.Verify(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.ProblemCount != 1 || !strings.Contains(r.Problems[0], "platform daily totals") {
			t.Fatalf("Verify after a platform total changed by hand: %d problems %v, want 1 about it", r.ProblemCount, r.Problems)
		}
	})
}
