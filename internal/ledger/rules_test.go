package ledger

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/fanfarehq/fanfare"
)

// Accounts of the rules' tests.
const (
	fan     AccountID = 1 // COIN user
	fan2    AccountID = 2 // COIN user
	revenue AccountID = 3 // COIN system
	creator AccountID = 4 // DIAMOND user
	issue   AccountID = 5 // DIAMOND system
	escrowC AccountID = 6 // COIN escrow
	ghost   AccountID = 99
)

// rulesState returns the batch state the rules' tests start from: fan with
// bal coins, fan2 with 0, the system and escrow accounts at 0.
func rulesState(bal int64) (map[AccountID]*acct, map[string]*hold) {
	return map[AccountID]*acct{
		fan:     {asset: fanfare.Coin, balance: bal},
		fan2:    {asset: fanfare.Coin},
		revenue: {asset: fanfare.Coin, system: true},
		creator: {asset: fanfare.Diamond},
		issue:   {asset: fanfare.Diamond, system: true},
		escrowC: {asset: fanfare.Coin, system: true, escrow: true},
	}, map[string]*hold{}
}

func leg(d, c AccountID, amount int64) Leg {
	return Leg{Debit: d, Credit: c, Amount: fanfare.Amount(amount)}
}

func clawLeg(d, c AccountID, amount int64) Leg {
	g := leg(d, c, amount)
	g.AllowNegative = true
	return g
}

// TestApply runs operations one after the other through apply, as a batch
// does, and checks each one's answer, the balances after all of them, and
// the transfer rows written.
func TestApply(t *testing.T) {
	t.Parallel()
	type step struct {
		op   Op
		code string // "" for success
	}
	for _, tc := range []struct {
		name   string
		bal    int64 // fan's balance before
		frozen bool  // fan is frozen
		steps  []step
		want   map[AccountID]int64 // balances after
		rows   []string            // "debit->credit amount flags"
	}{
		{
			name:  "a gift within the balance moves coins and diamonds",
			bal:   10,
			steps: []step{{op: Op{Kind: "gift", Legs: []Leg{leg(fan, revenue, 10), leg(issue, creator, 5)}}}},
			want:  map[AccountID]int64{fan: 0, revenue: 10, creator: 5, issue: -5},
			rows:  []string{"1->3 10 0", "5->4 5 0"},
		},
		{
			name:  "a gift beyond the balance fails and moves nothing",
			bal:   9,
			steps: []step{{op: Op{Kind: "gift", Legs: []Leg{leg(fan, revenue, 10), leg(issue, creator, 5)}}, code: fanfare.EInsufficientFunds}},
			want:  map[AccountID]int64{fan: 9, revenue: 0, creator: 0, issue: 0},
		},
		{
			name: "each operation sees the running balance of the ones before it",
			bal:  15,
			steps: []step{
				{op: Op{Kind: "gift", Legs: []Leg{leg(fan, revenue, 10)}}},
				{op: Op{Kind: "gift", Legs: []Leg{leg(fan, revenue, 10)}}, code: fanfare.EInsufficientFunds},
				{op: Op{Kind: "gift", Legs: []Leg{leg(fan, revenue, 5)}}},
			},
			want: map[AccountID]int64{fan: 0, revenue: 15},
			rows: []string{"1->3 10 0", "1->3 5 0"},
		},
		{
			name:   "a frozen wallet cannot spend but can receive",
			bal:    50,
			frozen: true,
			steps: []step{
				{op: Op{Kind: "gift", Legs: []Leg{leg(fan, revenue, 1)}}, code: fanfare.EWalletFrozen},
				{op: Op{Kind: "grant", Legs: []Leg{leg(revenue, fan, 5)}}},
			},
			want: map[AccountID]int64{fan: 55, revenue: -5},
			rows: []string{"3->1 5 0"},
		},
		{
			name: "a clawback may take a balance below zero, which then freezes it",
			bal:  3,
			steps: []step{
				{op: Op{Kind: KindChargeback, Legs: []Leg{clawLeg(fan, revenue, 10)}}},
				{op: Op{Kind: "gift", Legs: []Leg{leg(fan, revenue, 1)}}, code: fanfare.EWalletFrozen},
				{op: Op{Kind: KindRefund, Legs: []Leg{clawLeg(fan, revenue, 1)}}},
			},
			want: map[AccountID]int64{fan: -8, revenue: 11},
			rows: []string{"1->3 10 1", "1->3 1 1"},
		},
		{
			name: "a clawback leg does not cover a spending leg of the same operation",
			bal:  10,
			steps: []step{{op: Op{Kind: KindChargeback, Legs: []Leg{leg(fan, revenue, 100), clawLeg(fan, revenue, 1)}},
				code: fanfare.EInsufficientFunds}},
			want: map[AccountID]int64{fan: 10, revenue: 0},
		},
		{
			name:  "the flag on an operation that is not a clawback spends like any debit",
			bal:   3,
			steps: []step{{op: Op{Kind: "gift", Legs: []Leg{clawLeg(fan, revenue, 10)}}, code: fanfare.EInsufficientFunds}},
			want:  map[AccountID]int64{fan: 3, revenue: 0},
		},
		{
			name:  "net change counts: what an operation pays in covers what it pays out",
			bal:   0,
			steps: []step{{op: Op{Kind: "swap", Legs: []Leg{leg(revenue, fan, 7), leg(fan, fan2, 7)}}}},
			want:  map[AccountID]int64{fan: 0, fan2: 7, revenue: -7},
			rows:  []string{"3->1 7 0", "1->2 7 0"},
		},
		{
			name: "escrow moves only through holds",
			bal:  10,
			steps: []step{
				{op: Op{Kind: "gift", Legs: []Leg{leg(fan, escrowC, 1)}}, code: fanfare.EInvalid},
				{op: Op{Kind: "gift", Legs: []Leg{leg(escrowC, fan, 1)}}, code: fanfare.EInvalid},
			},
			want: map[AccountID]int64{fan: 10, escrowC: 0},
		},
		{
			name:  "assets do not mix",
			bal:   10,
			steps: []step{{op: Op{Kind: "gift", Legs: []Leg{leg(fan, creator, 1)}}, code: fanfare.EInvalid}},
			want:  map[AccountID]int64{fan: 10, creator: 0},
		},
		{
			name:  "an unknown account is not found",
			bal:   10,
			steps: []step{{op: Op{Kind: "gift", Legs: []Leg{leg(fan, ghost, 1)}}, code: fanfare.ENotFound}},
			want:  map[AccountID]int64{fan: 10},
		},
		{
			name:  "a balance cannot overflow",
			bal:   0,
			steps: []step{{op: Op{Kind: "grant", Legs: []Leg{leg(revenue, fan, math.MaxInt64/2), leg(revenue, fan, math.MaxInt64/2)}}, code: fanfare.EInvalid}},
			want:  map[AccountID]int64{fan: 0, revenue: 0},
		},
		{
			name: "a hold reserves into escrow and is posted once",
			bal:  10,
			steps: []step{
				{op: Op{Kind: "hold", Hold: &HoldOp{Action: HoldCreate, ID: "h1", Debit: fan, Credit: fan2, Amount: 8}}},
				{op: Op{Kind: "hold", Hold: &HoldOp{Action: HoldCreate, ID: "h1", Debit: fan, Credit: fan2, Amount: 1}}, code: fanfare.EInvalidState},
				{op: Op{Kind: "hold", Hold: &HoldOp{Action: HoldCreate, ID: "h2", Debit: fan, Credit: fan2, Amount: 3}}, code: fanfare.EInsufficientFunds},
				{op: Op{Kind: "post", Hold: &HoldOp{Action: HoldPost, ID: "h1"}}},
				{op: Op{Kind: "void", Hold: &HoldOp{Action: HoldVoid, ID: "h1"}}, code: fanfare.EInvalidState},
				{op: Op{Kind: "void", Hold: &HoldOp{Action: HoldVoid, ID: "nope"}}, code: fanfare.ENotFound},
			},
			want: map[AccountID]int64{fan: 2, fan2: 8, escrowC: 0},
			rows: []string{"1->6 8 2 h1", "6->2 8 4 h1"},
		},
		{
			name: "a voided hold returns to its payer",
			bal:  10,
			steps: []step{
				{op: Op{Kind: "hold", Hold: &HoldOp{Action: HoldCreate, ID: "h1", Debit: fan, Credit: fan2, Amount: 8}}},
				{op: Op{Kind: "void", Hold: &HoldOp{Action: HoldVoid, ID: "h1"}}},
			},
			want: map[AccountID]int64{fan: 10, fan2: 0, escrowC: 0},
			rows: []string{"1->6 8 2 h1", "6->1 8 8 h1"},
		},
		{
			name:  "a hold cannot pay into another asset",
			bal:   10,
			steps: []step{{op: Op{Kind: "hold", Hold: &HoldOp{Action: HoldCreate, ID: "h1", Debit: fan, Credit: creator, Amount: 1}}, code: fanfare.EInvalid}},
			want:  map[AccountID]int64{fan: 10, creator: 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			accts, holds := rulesState(tc.bal)
			accts[fan].frozen = tc.frozen
			var rows []transferRow
			for i, s := range tc.steps {
				n := len(rows)
				var undo func()
				var err error
				rows, undo, err = apply(&s.op, escrowC, fmt.Sprint("op", i), accts, holds, rows)
				if got := codeOf(err); got != s.code {
					t.Fatalf("step %d: apply = %v, want %s", i, err, codeOrOK(s.code))
				}
				if err != nil && (undo != nil || len(rows) != n) {
					t.Fatalf("step %d: a failed operation returned an undo or %d rows", i, len(rows)-n)
				}
			}
			for id, want := range tc.want {
				if a := accts[id]; a != nil && a.balance != want {
					t.Errorf("Balance(%d) = %d, want %d", id, a.balance, want)
				}
				if a := accts[id]; a != nil && a.delta != want-initial(id, tc.bal) {
					t.Errorf("delta(%d) = %d, want %d", id, a.delta, want-initial(id, tc.bal))
				}
			}
			var got []string
			for _, r := range rows {
				s := fmt.Sprintf("%d->%d %d %d", r.debit, r.credit, r.amount, r.flags)
				if r.holdID.Valid {
					s += " " + r.holdID.String
				}
				got = append(got, s)
			}
			if strings.Join(got, ", ") != strings.Join(tc.rows, ", ") {
				t.Errorf("rows = %v, want %v", got, tc.rows)
			}
		})
	}
}

func initial(id AccountID, bal int64) int64 {
	if id == fan {
		return bal
	}
	return 0
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	return fanfare.ErrorCode(err)
}

func codeOrOK(c string) string {
	if c == "" {
		return "ok"
	}
	return c
}

// TestApplyUndo checks that undo takes an operation back out of the
// batch's state entirely, holds included.
func TestApplyUndo(t *testing.T) {
	t.Parallel()
	accts, holds := rulesState(10)
	rows, _, err := apply(&Op{Kind: "hold", Hold: &HoldOp{Action: HoldCreate, ID: "h1", Debit: fan, Credit: fan2, Amount: 4}}, escrowC, "op1", accts, holds, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := *accts[fan]
	held := *holds["h1"]
	for _, op := range []Op{
		{Kind: "gift", Legs: []Leg{leg(fan, revenue, 6)}},
		{Kind: "post", Hold: &HoldOp{Action: HoldPost, ID: "h1"}},
		{Kind: "hold", Hold: &HoldOp{Action: HoldCreate, ID: "h2", Debit: fan, Credit: fan2, Amount: 1}},
	} {
		_, undo, err := apply(&op, escrowC, "op2", accts, holds, rows)
		if err != nil {
			t.Fatalf("%s: %v", op.Kind, err)
		}
		undo()
		if *accts[fan] != before {
			t.Fatalf("%s: after undo fan = %+v, want %+v", op.Kind, *accts[fan], before)
		}
		if *holds["h1"] != held || holds["h2"] != nil {
			t.Fatalf("%s: after undo holds = %v, want only h1 as %+v", op.Kind, holds, held)
		}
	}
}

// TestBalancesAfter checks that an operation's result names the user
// accounts it touched, never a system account.
func TestBalancesAfter(t *testing.T) {
	t.Parallel()
	accts, holds := rulesState(10)
	op := &Op{Kind: "gift", Legs: []Leg{leg(fan, revenue, 4), leg(issue, creator, 2)}}
	rows, _, err := apply(op, escrowC, "op1", accts, holds, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := balancesAfter(op, rows, accts)
	want := map[AccountID]fanfare.Amount{fan: 6, creator: 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("balancesAfter = %v, want %v", got, want)
	}
	// A credit made last is not answered; an account the operation also
	// debits is.
	last := leg(issue, creator, 2)
	last.CreditLast = true
	op = &Op{Kind: "gift", Legs: []Leg{leg(fan, revenue, 4), last}}
	if rows, _, err = apply(op, escrowC, "op2", accts, holds, nil); err != nil {
		t.Fatal(err)
	}
	got = balancesAfter(op, rows, accts)
	want = map[AccountID]fanfare.Amount{fan: 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("balancesAfter with a credit made last = %v, want %v", got, want)
	}
	back := leg(fan, creator, 1)
	back.CreditLast = true
	if got := creditedLast(&Op{Legs: []Leg{last, leg(creator, fan, 1)}}); len(got) != 0 {
		t.Fatalf("creditedLast of an account also debited = %v", got)
	}
	if got := creditedLast(&Op{Legs: []Leg{last, back}}); fmt.Sprint(got) != fmt.Sprint([]AccountID{creator}) {
		t.Fatalf("creditedLast = %v, want [creator]", got)
	}
}
