package ledger

import (
	"database/sql"
	"math"
	"slices"
	"strings"

	"github.com/fanfarehq/fanfare"
)

// The money rules. apply decides, for one operation at a time and without
// any I/O, whether it can commit against the batch's running state of the
// accounts and holds it touches, and if so changes that state and returns
// the transfer rows it writes. The batch (batch.go) loads the state, calls
// apply for each operation in turn and writes what it decided.

// acct is an account as the batch sees it.
type acct struct {
	asset   fanfare.Asset
	system  bool
	escrow  bool
	frozen  bool
	balance int64 // running balance within the batch
	delta   int64 // net change of the batch
	// last: read without a lock, to be credited in the batch's last round
	// trip (Leg.CreditLast): its balance is as some moment before.
	last bool
}

// hold is a hold as the batch sees it.
type hold struct {
	id                    string
	debit, credit, escrow AccountID
	amount                int64
	state                 string
	kind, object          string
	createdOp, resolvedOp string
}

// transferRow is one transfer the batch inserts.
type transferRow struct {
	opID          string
	debit, credit AccountID
	amount        int64
	kind, object  string
	actor         string
	holdID        sql.NullString
	flags         int64
}

// legRow is a leg of an operation, with the flags and hold its transfer
// row carries.
type legRow struct {
	Leg
	flags  int64
	holdID string
}

// change is the net change an operation makes to one account. spends marks
// an account that a non-clawback leg debits: such an operation must leave
// it at zero or above and cannot draw on a frozen wallet, whatever
// clawback legs it also carries (rule 3, as Verify checks it).
type change struct {
	id     AccountID
	delta  int64
	spends bool
}

// apply checks op against the batch's state (accts, holds) and, if it can
// commit, applies it to that state and appends its transfer rows to rows,
// under opID. escrow is the escrow account of the held asset when op
// creates a hold. It returns the business failure (a *fanfare.Error) when
// op cannot commit, and then changes nothing; otherwise it returns undo,
// which takes op back out of the state (the rows are the caller's to cut).
func apply(op *Op, escrow AccountID, opID string, accts map[AccountID]*acct, holds map[string]*hold, rows []transferRow) ([]transferRow, func(), error) {
	legs, hs, err := legsOf(op, escrow, accts, holds)
	if err != nil {
		return rows, nil, err
	}
	changes, err := changesOf(op, legs, accts)
	if err != nil {
		return rows, nil, err
	}
	if err := checkChanges(changes, accts); err != nil {
		return rows, nil, err
	}
	undo := commitChanges(op, escrow, opID, changes, hs, accts, holds)
	for _, g := range legs {
		r := transferRow{opID: opID, debit: g.Debit, credit: g.Credit, amount: int64(g.Amount), kind: op.Kind, object: op.Object, actor: op.Actor, flags: g.flags}
		if g.holdID != "" {
			r.holdID = sql.NullString{String: g.holdID, Valid: true}
		}
		rows = append(rows, r)
	}
	return rows, undo, nil
}

// legsOf returns the legs op moves, its hold's included, and the hold it
// resolves (nil if none).
func legsOf(op *Op, escrow AccountID, accts map[AccountID]*acct, holds map[string]*hold) ([]legRow, *hold, error) {
	legs := make([]legRow, 0, len(op.Legs)+1)
	for _, g := range op.Legs {
		if a, b := accts[g.Debit], accts[g.Credit]; (a != nil && a.escrow) || (b != nil && b.escrow) {
			return nil, nil, fanfare.Errorf(fanfare.EInvalid, "escrow moves only through holds")
		}
		f := int64(0)
		if g.AllowNegative {
			f = FlagAllowNegative
		}
		legs = append(legs, legRow{Leg: g, flags: f})
	}
	h := op.Hold
	if h == nil {
		return legs, nil, nil
	}
	hs := holds[h.ID]
	switch h.Action {
	case HoldCreate:
		if hs != nil {
			return nil, nil, fanfare.Errorf(fanfare.EInvalidState, "hold %s already exists", h.ID)
		}
		payer, payee := accts[h.Debit], accts[h.Credit]
		switch {
		case payer == nil || payee == nil:
			return nil, nil, fanfare.Errorf(fanfare.ENotFound, "account not found")
		case payer.asset != payee.asset:
			return nil, nil, fanfare.Errorf(fanfare.EInvalid, "a hold of %s cannot pay a %s account", payer.asset, payee.asset)
		case payer.escrow || payee.escrow:
			return nil, nil, fanfare.Errorf(fanfare.EInvalid, "escrow cannot pay or receive a hold")
		}
		legs = append(legs, legRow{Leg: Leg{Debit: h.Debit, Credit: escrow, Amount: h.Amount}, flags: FlagHoldCreate, holdID: h.ID})
	case HoldPost, HoldVoid:
		if hs == nil {
			return nil, nil, fanfare.Errorf(fanfare.ENotFound, "hold %s not found", h.ID)
		}
		if hs.state != "pending" {
			return nil, nil, fanfare.Errorf(fanfare.EInvalidState, "hold %s is already %s", h.ID, hs.state)
		}
		to, f := hs.credit, int64(FlagHoldPost)
		if h.Action == HoldVoid {
			to, f = hs.debit, FlagHoldVoid
		}
		legs = append(legs, legRow{Leg: Leg{Debit: hs.escrow, Credit: to, Amount: fanfare.Amount(hs.amount)}, flags: f, holdID: h.ID})
	}
	return legs, hs, nil
}

// changesOf adds up legs per account, in the order the accounts first
// appear. A debit may go below zero only in a clawback (IsClawback): the
// flag on any other kind spends like any debit.
func changesOf(op *Op, legs []legRow, accts map[AccountID]*acct) ([]change, error) {
	var changes []change
	add := func(id AccountID, d int64, spends bool) error {
		i := slices.IndexFunc(changes, func(c change) bool { return c.id == id })
		if i < 0 {
			changes = append(changes, change{id: id})
			i = len(changes) - 1
		}
		sum := changes[i].delta + d
		if (d > 0 && sum < changes[i].delta) || (d < 0 && sum > changes[i].delta) {
			return fanfare.Errorf(fanfare.EInvalid, "amounts overflow")
		}
		changes[i].delta = sum
		changes[i].spends = changes[i].spends || spends
		return nil
	}
	clawback := IsClawback(op.Kind)
	for _, g := range legs {
		da, ca := accts[g.Debit], accts[g.Credit]
		if da == nil || ca == nil {
			return nil, fanfare.Errorf(fanfare.ENotFound, "account not found")
		}
		if da.asset != ca.asset {
			return nil, fanfare.Errorf(fanfare.EInvalid, "cannot move %s into a %s account", da.asset, ca.asset)
		}
		if err := add(g.Debit, -int64(g.Amount), !(g.AllowNegative && clawback)); err != nil {
			return nil, err
		}
		if err := add(g.Credit, int64(g.Amount), false); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

// checkChanges applies the balance rules: a spending user account must not
// be frozen (or below zero) and must cover its net debit, and no balance
// may overflow.
func checkChanges(changes []change, accts map[AccountID]*acct) error {
	for _, ch := range changes {
		a := accts[ch.id]
		if ch.delta < 0 && ch.spends && !a.system {
			if a.frozen || a.balance < 0 {
				return fanfare.Errorf(fanfare.EWalletFrozen, "this wallet is frozen until its balance is settled")
			}
			if a.balance+ch.delta < 0 {
				return fanfare.Errorf(fanfare.EInsufficientFunds, "not enough %s: %s available, %s needed", strings.ToLower(string(a.asset))+"s",
					fanfare.Amount(a.balance).Grouped(), fanfare.Amount(-ch.delta).Grouped())
			}
		}
		if nb := a.balance + ch.delta; (ch.delta > 0 && nb < a.balance) || (ch.delta < 0 && nb > a.balance) || nb > math.MaxInt64/2 || nb < math.MinInt64/2 {
			return fanfare.Errorf(fanfare.EInvalid, "amount would overflow the account balance")
		}
	}
	return nil
}

// commitChanges applies an operation that passed its checks to the batch's
// state and returns what takes it back out.
func commitChanges(op *Op, escrow AccountID, opID string, changes []change, hs *hold, accts map[AccountID]*acct, holds map[string]*hold) func() {
	for _, ch := range changes {
		a := accts[ch.id]
		a.balance += ch.delta
		a.delta += ch.delta
	}
	var prev hold
	if hs != nil {
		prev = *hs
	}
	if h := op.Hold; h != nil {
		switch h.Action {
		case HoldCreate:
			holds[h.ID] = &hold{id: h.ID, debit: h.Debit, credit: h.Credit, escrow: escrow, amount: int64(h.Amount),
				state: "pending", kind: op.Kind, object: op.Object, createdOp: opID}
		case HoldPost:
			hs.state, hs.resolvedOp = "posted", opID
		case HoldVoid:
			hs.state, hs.resolvedOp = "voided", opID
		}
	}
	return func() {
		for _, ch := range changes {
			a := accts[ch.id]
			a.balance -= ch.delta
			a.delta -= ch.delta
		}
		if h := op.Hold; h != nil {
			if h.Action == HoldCreate {
				delete(holds, h.ID)
			} else {
				*hs = prev
			}
		}
	}
}

// balancesAfter returns the running balances of the user accounts that
// rows (op's transfers) name: an operation's Result.Balances. The accounts
// op credits only through Leg.CreditLast legs are left out, however the
// batch read them: their balance is not the operation's to answer.
func balancesAfter(op *Op, rows []transferRow, accts map[AccountID]*acct) map[AccountID]fanfare.Amount {
	b := map[AccountID]fanfare.Amount{}
	for _, r := range rows {
		for _, id := range [2]AccountID{r.debit, r.credit} {
			if a := accts[id]; !a.system {
				b[id] = fanfare.Amount(a.balance)
			}
		}
	}
	for _, id := range creditedLast(op) {
		delete(b, id)
	}
	return b
}

// creditedLast returns the accounts op credits only through
// Leg.CreditLast legs: none if it moves a hold.
func creditedLast(op *Op) []AccountID {
	if op.Hold != nil {
		return nil
	}
	var out []AccountID
	for _, g := range op.Legs {
		if g.CreditLast && !slices.Contains(out, g.Credit) {
			out = append(out, g.Credit)
		}
	}
	return slices.DeleteFunc(out, func(id AccountID) bool {
		return slices.ContainsFunc(op.Legs, func(g Leg) bool { return g.Debit == id || g.Credit == id && !g.CreditLast })
	})
}
