package ledger_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestRecentCredits reads an account's last credits of one object prefix:
// newest first, up to the limit, across pages of other credits, without
// its debits, another account's credits or what came before since.
func TestRecentCredits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := &testClock{}
		f := setup(t, db, ledger.Options{Clock: clock})
		other := must(t)(f.l.UserAccount(ctx, "other", fanfare.Diamond))
		move := func(debit, credit ledger.AccountID, object string) {
			t.Helper()
			_, err := f.l.Submit(ctx, ledger.Op{Kind: "gift", Object: object, Actor: "fan",
				Legs: []ledger.Leg{{Debit: debit, Credit: credit, Amount: 2}}})
			if err != nil {
				t.Fatal(err)
			}
			clock.advance(float64(time.Millisecond))
		}
		credit := func(object string) { move(f.issue, f.creatorDiams, object) }
		objects := func(ms []ledger.Movement) []string {
			var out []string
			for _, m := range ms {
				out = append(out, m.Object)
			}
			return out
		}

		credit("live:a?n=0") // before since
		clock.advance(float64(time.Second))
		since := clock.Now()
		credit("live:a?n=1")
		credit("live:b?n=1")
		credit("live:a")
		credit("creator:c")
		move(f.issue, other, "live:a?n=other")
		move(f.creatorDiams, f.issue, "live:a?n=debit")
		for i := range 150 { // more than two pages of other credits
			credit(fmt.Sprintf("tip:%d", i))
		}
		credit("live:a?n=2")
		credit("live:a?n=3")
		credit("live:a?n=4")

		got, err := f.l.RecentCredits(ctx, f.creatorDiams, "live:a?", since, 3)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"live:a?n=4", "live:a?n=3", "live:a?n=2"}; !slices.Equal(objects(got), want) {
			t.Fatalf("RecentCredits(limit 3) = %q, want %q", objects(got), want)
		}
		m := got[0]
		if m.Amount != 2 || m.Kind != "gift" || m.Actor != "fan" || m.Account != f.creatorDiams ||
			m.Asset != fanfare.Diamond || m.Counterparty != "system:"+ledger.DiamondIssuance || m.OpID == "" ||
			!m.CreatedAt.Equal(since.Add(158*time.Millisecond)) {
			t.Fatalf("RecentCredits[0] = %+v", m)
		}
		if !(got[0].ID > got[1].ID && got[1].ID > got[2].ID) {
			t.Fatalf("RecentCredits ids %d, %d, %d: want newest first", got[0].ID, got[1].ID, got[2].ID)
		}

		got, err = f.l.RecentCredits(ctx, f.creatorDiams, "live:a?", since, 20)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"live:a?n=4", "live:a?n=3", "live:a?n=2", "live:a?n=1"}; !slices.Equal(objects(got), want) {
			t.Fatalf("RecentCredits(limit 20) = %q, want %q", objects(got), want)
		}
		got, err = f.l.RecentCredits(ctx, f.creatorDiams, "live:a?", since.Add(-time.Hour), 20)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"live:a?n=4", "live:a?n=3", "live:a?n=2", "live:a?n=1", "live:a?n=0"}; !slices.Equal(objects(got), want) {
			t.Fatalf("RecentCredits(an hour earlier) = %q, want %q", objects(got), want)
		}
		if got, err := f.l.RecentCredits(ctx, f.creatorDiams, "live:a?", since, 0); err != nil || got != nil {
			t.Fatalf("RecentCredits(limit 0) = %v, %v; want nothing", got, err)
		}
		if got, err := f.l.RecentCredits(ctx, f.promo, "live:a?", since, 5); err != nil || len(got) != 0 {
			t.Fatalf("RecentCredits(an account without credits) = %v, %v; want nothing", got, err)
		}

		// The walk ends at the first credit dated before since: what an
		// older id dates later is not read.
		move(f.issue, other, "live:c?n=1")
		clock.advance(-float64(time.Hour))
		move(f.issue, other, "tip:late")
		clock.advance(float64(2 * time.Hour))
		move(f.issue, other, "live:c?n=2")
		got, err = f.l.RecentCredits(ctx, other, "live:c?", since, 20)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"live:c?n=2"}; !slices.Equal(objects(got), want) {
			t.Fatalf("RecentCredits(other) = %q, want %q", objects(got), want)
		}
	})
}

// TestCreditsByDay sums an account's credits since a time by the day of
// their time plus a shift, newest day first, leaving out the kinds asked,
// its debits, another account's credits and what came before since; and
// CreditsBetween lists the rows behind one of those days.
func TestCreditsByDay(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := &testClock{}
		f := setup(t, db, ledger.Options{Clock: clock})
		other := must(t)(f.l.UserAccount(ctx, "other", fanfare.Diamond))
		at := func(day int, hour int) time.Time {
			return epoch.AddDate(0, 0, day).Add(time.Duration(hour) * time.Hour)
		}
		move := func(when time.Time, kind string, debit, credit ledger.AccountID, amount fanfare.Amount) {
			t.Helper()
			clock.set(when)
			_, err := f.l.Submit(ctx, ledger.Op{Kind: kind, Object: "x", Actor: "fan",
				Legs: []ledger.Leg{{Debit: debit, Credit: credit, Amount: amount}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		move(at(0, 10), "gift", f.issue, f.creatorDiams, 1) // before since
		move(at(1, 9), "gift", f.issue, f.creatorDiams, 2)
		move(at(1, 10), "tip", f.issue, f.creatorDiams, 3)
		move(at(1, 11), "gift", f.issue, other, 100)                     // another account
		move(at(1, 12), "payout_failed", f.issue, f.creatorDiams, 1_000) // left out
		move(at(1, 13), "gift", f.creatorDiams, f.issue, 1)              // a debit
		move(at(2, 23), "gift", f.issue, f.creatorDiams, 5)
		move(at(3, 1), "gift", f.issue, f.creatorDiams, 7)
		for i := range 30 { // many more transfers, so the bisection has ids to skip
			move(at(4, 0).Add(time.Duration(i)*time.Minute), "gift", f.issue, other, 1)
		}
		since := at(1, 0)

		// Shifted by a day and two hours: day 1's credits free on day 2,
		// day 2's at 23:00 on day 4, day 3's on day 4 too.
		got, err := f.l.CreditsByDay(ctx, f.creatorDiams, since, time.Time{}, 26*time.Hour, "payout_failed")
		if err != nil {
			t.Fatal(err)
		}
		want := []ledger.CreditDay{
			{Day: epoch.AddDate(0, 0, 4), Amount: 12, Last: at(3, 1)},
			{Day: epoch.AddDate(0, 0, 2), Amount: 5, Last: at(1, 10)},
		}
		if !slices.Equal(got, want) {
			t.Fatalf("CreditsByDay = %+v, want %+v", got, want)
		}
		// Without a shift or kinds left out, from day 0.
		got, err = f.l.CreditsByDay(ctx, f.creatorDiams, at(0, 0), time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		want = []ledger.CreditDay{
			{Day: epoch.AddDate(0, 0, 3), Amount: 7, Last: at(3, 1)},
			{Day: epoch.AddDate(0, 0, 2), Amount: 5, Last: at(2, 23)},
			{Day: epoch.AddDate(0, 0, 1), Amount: 1_005, Last: at(1, 12)},
			{Day: epoch, Amount: 1, Last: at(0, 10)},
		}
		if !slices.Equal(got, want) {
			t.Fatalf("CreditsByDay(no shift) = %+v, want %+v", got, want)
		}
		// Up to an end: day 2 at 23:00 is its last.
		got, err = f.l.CreditsByDay(ctx, f.creatorDiams, at(1, 10), at(2, 23), 0)
		if err != nil {
			t.Fatal(err)
		}
		want = []ledger.CreditDay{{Day: epoch.AddDate(0, 0, 1), Amount: 1_003, Last: at(1, 12)}}
		if !slices.Equal(got, want) {
			t.Fatalf("CreditsByDay(to day 2, 23:00) = %+v, want %+v", got, want)
		}
		if got, err := f.l.CreditsByDay(ctx, f.creatorDiams, at(5, 0), time.Time{}, 0); err != nil || len(got) != 0 {
			t.Fatalf("CreditsByDay(after the last) = %v, %v; want nothing", got, err)
		}

		rows, err := f.l.CreditsBetween(ctx, f.creatorDiams, at(1, 0), at(2, 0), "payout_failed")
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[0].Amount != 3 || !rows[0].At.Equal(at(1, 10)) || rows[1].Amount != 2 ||
			!rows[1].At.Equal(at(1, 9)) || rows[0].ID <= rows[1].ID {
			t.Fatalf("CreditsBetween(day 1) = %+v, want the tip of 3 then the gift of 2", rows)
		}
	})
}
