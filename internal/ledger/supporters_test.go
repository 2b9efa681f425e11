package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// supporterRow is a row of account_supporters as the tests read it.
type supporterRow struct {
	coins, diamonds, ops int64
	first, last          time.Time
}

type supporterKey struct {
	account, payer ledger.AccountID
	kind           string
}

func readSupporters(t *testing.T, db *store.DB) map[supporterKey]supporterRow {
	t.Helper()
	rs, err := db.Read.QueryContext(context.Background(), `SELECT account_id, payer_id, kind, coins, diamonds, ops, first_at, last_at FROM account_supporters`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[supporterKey]supporterRow{}
	for rs.Next() {
		var k supporterKey
		var r supporterRow
		var first, last int64
		if err := rs.Scan(&k.account, &k.payer, &k.kind, &r.coins, &r.diamonds, &r.ops, &first, &last); err != nil {
			t.Fatal(err)
		}
		r.first, r.last = time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
		out[k] = r
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSupporters keeps account_supporters equal to what the operations
// imply: a gift and a tip add to their kinds and to the pair's totals, a
// shoutout counts when its hold is posted (not when it is made or voided),
// its refund subtracts without moving the times, and what has no fan
// paying a creator (a grant, a void, a payout, two payers) adds nothing.
// Verify agrees, and reports a row changed or removed by hand.
func TestSupporters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := &testClock{}
		f := setup(t, db, ledger.Options{Clock: clock})
		fan2 := must(t)(f.l.UserAccount(ctx, "fan2", fanfare.Coin))
		creator2 := must(t)(f.l.UserAccount(ctx, "creator2", fanfare.Diamond))
		tips := must(t)(f.l.SystemAccount(ctx, ledger.Revenue("tip"), fanfare.Coin))
		f.grant(t, f.fanCoins, 10_000)
		f.grant(t, fan2, 10_000)
		submit := func(op ledger.Op) *ledger.Result {
			t.Helper()
			clock.advance(float64(time.Hour))
			r, err := f.l.Submit(ctx, op)
			if err != nil {
				t.Fatalf("%s: %v", op.Kind, err)
			}
			return r
		}
		t0 := clock.Now().Add(time.Hour)
		submit(f.gift(f.fanCoins, 100, "")) // t0: 50 diamonds
		submit(ledger.Op{Kind: "tip", Object: "tip:1", Actor: "fan", Legs: []ledger.Leg{
			{Debit: f.fanCoins, Credit: tips, Amount: 10}, {Debit: f.issue, Credit: f.creatorDiams, Amount: 8}}}) // t0+1h
		held := submit(ledger.Op{Kind: "shoutout_hold", Object: "shoutout:s1", Actor: "fan",
			Hold: &ledger.HoldOp{Action: ledger.HoldCreate, Debit: f.fanCoins, Credit: f.revenue, Amount: 600}}) // t0+2h: nothing yet
		submit(ledger.Op{Kind: "shoutout", Object: "shoutout:s1", Actor: "creator",
			Hold: &ledger.HoldOp{Action: ledger.HoldPost, ID: held.HoldID},
			Legs: []ledger.Leg{{Debit: f.issue, Credit: f.creatorDiams, Amount: 480}}}) // t0+3h
		voided := submit(ledger.Op{Kind: "shoutout_hold", Object: "shoutout:s2", Actor: "fan",
			Hold: &ledger.HoldOp{Action: ledger.HoldCreate, Debit: f.fanCoins, Credit: f.revenue, Amount: 70}})
		submit(ledger.Op{Kind: "shoutout_void", Object: "shoutout:s2", Actor: "creator",
			Hold: &ledger.HoldOp{Action: ledger.HoldVoid, ID: voided.HoldID}})
		submit(ledger.Op{Kind: ledger.KindShoutoutRefund, Object: "shoutout:s1", Actor: "ops", Legs: []ledger.Leg{
			{Debit: f.creatorDiams, Credit: f.issue, Amount: 480, AllowNegative: true},
			{Debit: f.revenue, Credit: f.fanCoins, Amount: 600}}}) // t0+6h
		submit(f.gift(fan2, 40, ""))                                                       // t0+7h: 20 diamonds
		submit(ledger.Op{Kind: "gift", Object: "live:2", Actor: "fan", Legs: []ledger.Leg{ // t0+8h, to creator2
			{Debit: f.fanCoins, Credit: f.revenue, Amount: 30}, {Debit: f.issue, Credit: creator2, Amount: 15}}})
		submit(ledger.Op{Kind: "gift", Object: "live:3", Actor: "both", Legs: []ledger.Leg{ // two payers: nobody's
			{Debit: f.fanCoins, Credit: f.revenue, Amount: 5}, {Debit: fan2, Credit: f.revenue, Amount: 5},
			{Debit: f.issue, Credit: f.creatorDiams, Amount: 5}}})
		out := must(t)(f.l.SystemAccount(ctx, "payouts", fanfare.Diamond))
		submit(ledger.Op{Kind: "payout", Object: "payout:1", Actor: "creator",
			Legs: []ledger.Leg{{Debit: f.creatorDiams, Credit: out, Amount: 10}}})
		submit(f.gift(f.fanCoins, 200, "")) // t0+11h: 100 diamonds

		at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
		want := map[supporterKey]supporterRow{
			{f.creatorDiams, f.fanCoins, "gift"}:                    {300, 150, 2, at(0), at(11)},
			{f.creatorDiams, f.fanCoins, "tip"}:                     {10, 8, 1, at(1), at(1)},
			{f.creatorDiams, f.fanCoins, "shoutout"}:                {600, 480, 1, at(3), at(3)},
			{f.creatorDiams, f.fanCoins, ledger.KindShoutoutRefund}: {-600, -480, 0, at(6), at(6)},
			{f.creatorDiams, f.fanCoins, ""}:                        {310, 158, 4, at(0), at(11)},
			{f.creatorDiams, fan2, "gift"}:                          {40, 20, 1, at(7), at(7)},
			{f.creatorDiams, fan2, ""}:                              {40, 20, 1, at(7), at(7)},
			{creator2, f.fanCoins, "gift"}:                          {30, 15, 1, at(8), at(8)},
			{creator2, f.fanCoins, ""}:                              {30, 15, 1, at(8), at(8)},
		}
		got := readSupporters(t, db)
		for k, w := range want {
			if g, ok := got[k]; !ok {
				t.Errorf("%v: no row, want %+v", k, w)
			} else if g != w {
				t.Errorf("%v = %+v, want %+v", k, g, w)
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%v: a row %+v that should not be", k, g)
			}
		}
		mustVerify(t, f.l)

		if _, err := db.Write.ExecContext(ctx, `UPDATE account_supporters SET coins = coins + 1 WHERE account_id = $1 AND payer_id = $2 AND kind = ''`,
			int64(f.creatorDiams), int64(fan2)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Write.ExecContext(ctx, `DELETE FROM account_supporters WHERE account_id = $1 AND kind = 'tip'`, int64(f.creatorDiams)); err != nil {
			t.Fatal(err)
		}
		r, err := f.l.Verify(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.ProblemCount != 2 {
			t.Fatalf("Verify after a row changed and one removed: %d problems %v, want 2", r.ProblemCount, r.Problems)
		}
	})
}
