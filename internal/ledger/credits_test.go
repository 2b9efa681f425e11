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
