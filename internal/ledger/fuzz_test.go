package ledger_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// The operations of FuzzLedgerOps. Each op code byte is followed by its
// operands, one byte each: an account (an index into fuzzRun.accounts), an
// amount (fuzzAmount), a hold (fuzzRun.hold), a key (fuzzKey).
const (
	fzGrant      = iota // to, amount, key: promotions -> to
	fzGift              // from, amount, key: from -> revenue, 50% as diamonds to the creator
	fzTransfer          // from, to, amount, key
	fzMulti             // n (1 to 4), then n x (from, to, amount, flags: 1 = allow negative), key
	fzHoldCreate        // from, to, amount, hold, key
	fzHoldPost          // hold, diamonds paid with it (0: none), key
	fzHoldVoid          // hold, key
	fzHoldRace          // hold: post and void at once
	fzClawback          // from, amount, key: from -> promotions, allowed below zero
	fzReplay            // key: send the last request under key (or under the last key used) again
	fzFreeze            // account: an operator freezes or unfreezes it
	fzEffect            // from, amount, mode (odd: refuse), key: a gift with an effect
	fzOps
)

// The accounts an operand picks from.
const (
	fzFan = iota
	fzFanB
	fzCreatorCoins
	fzCreatorDiamonds
	fzPromo
	fzRevenue
	fzDiamondIssuance
	fzEscrow
	fzUnknown
	fzZero
	fzAccounts
)

// fuzzAmount decodes an amount operand: 0 to 199 as such, and from 200 on
// the edges of the amount range.
func fuzzAmount(b byte) fanfare.Amount {
	if b < 200 {
		return fanfare.Amount(b)
	}
	edges := [...]fanfare.Amount{-1, -100, math.MinInt64, 0, fanfare.MaxAmount - 1, fanfare.MaxAmount, fanfare.MaxAmount + 1,
		1 << 53, 1 << 62, math.MaxInt64, 1 << 31, 1_000_000}
	return edges[int(b-200)%len(edges)]
}

// fuzzKey decodes a key operand: one of seven idempotency keys, or none.
func fuzzKey(b byte) string {
	if b%8 == 0 {
		return ""
	}
	return fmt.Sprintf("k%d", b%8)
}

// fuzzKnownCodes are the codes an operation may fail with; anything else,
// and above all an internal error, is a bug.
var fuzzKnownCodes = map[string]bool{
	fanfare.EInvalid:             true,
	fanfare.EInsufficientFunds:   true,
	fanfare.EWalletFrozen:        true,
	fanfare.EInvalidState:        true,
	fanfare.ENotFound:            true,
	fanfare.EIdempotencyConflict: true,
}

// FuzzLedgerOps runs a short program of ledger operations decoded from its
// input against a fresh SQLite ledger. Every operation must succeed or fail
// with a known business code, a replay must answer what its original did, a
// hold must be resolved at most once, and Verify must find nothing wrong at
// the end.
func FuzzLedgerOps(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		fuzzProgram(
			[]byte{fzGrant, fzFan, 100, 0},
			[]byte{fzGift, fzFan, 30, 1},
			[]byte{fzGift, fzFan, 30, 1},
		),
		fuzzProgram(
			[]byte{fzGrant, fzFanB, 40, 0},
			[]byte{fzMulti, 3, fzFanB, fzRevenue, 30, 0, fzFanB, fzPromo, 20, 1, fzDiamondIssuance, fzCreatorDiamonds, 15, 0, 2},
			[]byte{fzMulti, 2, fzFanB, fzRevenue, 5, 0, fzFanB, fzPromo, 1, 1, 0},
		),
		fuzzProgram(
			[]byte{fzGrant, fzFan, 20, 0},
			[]byte{fzFreeze, fzFan},
			[]byte{fzGift, fzFan, 5, 0},
			[]byte{fzFreeze, fzFan},
			[]byte{fzGift, fzFan, 5, 0},
		),
		fuzzProgram(
			[]byte{fzGrant, fzFan, 60, 0},
			[]byte{fzEffect, fzFan, 10, 0, 3},
			[]byte{fzEffect, fzFan, 10, 1, 4},
			[]byte{fzEffect, fzFan, 10, 1, 4},
		),
		fuzzProgram(
			[]byte{fzGrant, fzEscrow, 10, 0},
			[]byte{fzTransfer, fzEscrow, fzFan, 10, 0},
			[]byte{fzHoldCreate, fzFan, fzEscrow, 1, 1, 0},
			[]byte{fzHoldCreate, fzEscrow, fzFan, 1, 2, 0},
			[]byte{fzHoldCreate, fzFan, fzUnknown, 1, 3, 0},
			[]byte{fzHoldCreate, fzFan, fzCreatorDiamonds, 1, 3, 0},
		),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		t.Parallel()
		r := newFuzzRun(t, storetest.MustOpen(t, store.SQLite))
		r.run(data)
		mustVerify(t, r.f.l)
	})
}

// TestMustOpenUnderNamesWithHash opens a database in subtests whose names
// hold a '#', as f.Add seeds ("seed#0") and repeated subtest names do ("x",
// "x#01", "x#02"): each must get a fresh database of its own.
func TestMustOpenUnderNamesWithHash(t *testing.T) {
	t.Parallel()
	for range 3 {
		t.Run("x", func(t *testing.T) {
			db := storetest.MustOpen(t, store.SQLite)
			var n int
			if err := db.Read.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_log`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("test %s: fresh database holds %d audit rows, want 0", t.Name(), n)
			}
			_, err := db.Write.ExecContext(context.Background(), `INSERT INTO audit_log (id, actor, action, object, details, created_at) VALUES ('mark', 'test', 'mark', 'test', '{}', 0)`)
			if err != nil {
				t.Fatalf("test %s: mark a fresh database: %v", t.Name(), err)
			}
		})
	}
}

// fuzzProgram joins encoded operations.
func fuzzProgram(ops ...[]byte) []byte {
	var p []byte
	for _, op := range ops {
		p = append(p, op...)
	}
	return p
}

// fuzzRun is one program run: its ledger, accounts and what it has seen.
type fuzzRun struct {
	t        *testing.T
	ctx      context.Context
	db       *store.DB
	f        *fixture
	accounts [fzAccounts]ledger.AccountID
	created  []string           // ids of the holds created, in order
	resolved map[string]int     // successful posts and voids per hold
	pending  map[string]bool    // holds created and not resolved
	sent     map[string]*record // the last request under each key, if stored
	lastKey  string
	effects  int
	data     []byte
	step     int
}

func newFuzzRun(t *testing.T, db *store.DB) *fuzzRun {
	t.Helper()
	ctx := context.Background()
	f := setup(t, db, ledger.Options{})
	r := &fuzzRun{t: t, ctx: ctx, db: db, f: f, resolved: map[string]int{}, pending: map[string]bool{}, sent: map[string]*record{}}
	r.accounts = [fzAccounts]ledger.AccountID{
		fzFan:             f.fanCoins,
		fzFanB:            must(t)(f.l.UserAccount(ctx, "fan-b", fanfare.Coin)),
		fzCreatorCoins:    must(t)(f.l.UserAccount(ctx, "creator", fanfare.Coin)),
		fzCreatorDiamonds: f.creatorDiams,
		fzPromo:           f.promo,
		fzRevenue:         f.revenue,
		fzDiamondIssuance: f.issue,
		fzEscrow:          must(t)(f.l.SystemAccount(ctx, ledger.Escrow, fanfare.Coin)),
		fzUnknown:         1 << 40,
		fzZero:            0,
	}
	return r
}

// next returns the next operand byte, 0 once the input is used up.
func (r *fuzzRun) next() byte {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

func (r *fuzzRun) account() ledger.AccountID { return r.accounts[int(r.next())%fzAccounts] }

// hold decodes a hold operand: one of four fixed ids (which may or may not
// exist), or a hold created earlier (none yet: the empty id).
func (r *fuzzRun) hold() string {
	b := r.next()
	if b < 128 {
		return fmt.Sprintf("h%d", b%4)
	}
	if len(r.created) == 0 {
		return ""
	}
	return r.created[int(b)%len(r.created)]
}

// withKey sets op's idempotency key from the next operand.
func (r *fuzzRun) withKey(op *ledger.Op) {
	if k := fuzzKey(r.next()); k != "" {
		op.Idem = &ledger.Idempotency{Scope: "fuzz", Key: k, Hash: requestHash(*op)}
	}
}

// run decodes and runs at most 24 operations.
func (r *fuzzRun) run(data []byte) {
	r.data = data
	for r.step = 0; r.step < 24 && len(r.data) > 0; r.step++ {
		var op ledger.Op
		switch code := r.next() % fzOps; code {
		case fzGrant:
			op = ledger.Op{Kind: "grant", Object: "fuzz", Actor: "ops", Legs: []ledger.Leg{{Debit: r.f.promo, Credit: r.account(), Amount: fuzzAmount(r.next())}}}
		case fzGift:
			op = r.gift(r.account(), fuzzAmount(r.next()))
		case fzTransfer:
			op = ledger.Op{Kind: "transfer", Object: "fuzz", Actor: "fan", Legs: []ledger.Leg{{Debit: r.account(), Credit: r.account(), Amount: fuzzAmount(r.next())}}}
		case fzMulti:
			op = ledger.Op{Kind: "bundle", Object: "fuzz", Actor: "fan"}
			for range max(1, int(r.next())%5) {
				op.Legs = append(op.Legs, ledger.Leg{Debit: r.account(), Credit: r.account(), Amount: fuzzAmount(r.next()), AllowNegative: r.next()&1 == 1})
			}
			// A bundle with an odd number of legs that allows a negative
			// balance is a clawback; with an even number it is refused.
			if len(op.Legs)%2 == 1 && slices.ContainsFunc(op.Legs, func(g ledger.Leg) bool { return g.AllowNegative }) {
				op.Kind = ledger.KindChargeback
			}
		case fzHoldCreate:
			op = ledger.Op{Kind: "shoutout_hold", Object: "fuzz", Actor: "fan", Hold: &ledger.HoldOp{Action: ledger.HoldCreate,
				Debit: r.account(), Credit: r.account(), Amount: fuzzAmount(r.next()), ID: r.hold()}}
		case fzHoldPost:
			op = ledger.Op{Kind: "shoutout_post", Object: "fuzz", Actor: "creator", Hold: &ledger.HoldOp{Action: ledger.HoldPost, ID: r.hold()}}
			if d := fuzzAmount(r.next()); d != 0 {
				op.Legs = []ledger.Leg{{Debit: r.f.issue, Credit: r.f.creatorDiams, Amount: d}}
			}
		case fzHoldVoid:
			op = ledger.Op{Kind: "shoutout_void", Object: "fuzz", Actor: "creator", Hold: &ledger.HoldOp{Action: ledger.HoldVoid, ID: r.hold()}}
		case fzHoldRace:
			r.race(r.hold())
			continue
		case fzClawback:
			op = ledger.Op{Kind: "chargeback", Object: "fuzz", Actor: "psp", Legs: []ledger.Leg{{Debit: r.account(), Credit: r.f.promo, Amount: fuzzAmount(r.next()), AllowNegative: true}}}
		case fzReplay:
			rec := r.sent[fuzzKey(r.next())]
			if rec == nil {
				rec = r.sent[r.lastKey]
			}
			if rec != nil {
				r.submit("replay", rec.op)
			}
			continue
		case fzFreeze:
			if _, err := r.db.Write.ExecContext(r.ctx, `UPDATE accounts SET frozen = NOT frozen WHERE id = $1`, int64(r.account())); err != nil {
				r.t.Fatal(err)
			}
			continue
		case fzEffect:
			op = r.gift(r.account(), fuzzAmount(r.next()))
			op.Object = "fuzz:effect"
			r.withEffect(&op, r.next()%2 == 1)
		}
		r.withKey(&op)
		r.submit(op.Kind, op)
	}
}

// gift is the ledger shape of a gift of coins from an account; a gift worth
// no diamond (or not a valid amount) has no diamond leg.
func (r *fuzzRun) gift(from ledger.AccountID, coins fanfare.Amount) ledger.Op {
	op := ledger.Op{Kind: "gift", Object: "fuzz", Actor: "fan", Legs: []ledger.Leg{{Debit: from, Credit: r.f.revenue, Amount: coins}}}
	if fanfare.CheckAmount("coins", coins) == nil {
		if d := fanfare.Share(coins, 5000); d > 0 {
			op.Legs = append(op.Legs, ledger.Leg{Debit: r.f.issue, Credit: r.f.creatorDiams, Amount: d})
		}
	}
	return op
}

// withEffect gives op an effect that writes a row named after the
// operation, then refuses it if refuse is set.
func (r *fuzzRun) withEffect(op *ledger.Op, refuse bool) {
	r.effects++
	id := fmt.Sprintf("fuzz-effect-%d", r.effects)
	op.Object += ":" + id
	op.Effect = func(ctx context.Context, tx *sql.Tx, res *ledger.Result) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (id, actor, action, object, details, created_at) VALUES ($1, 'fuzz', 'effect', $2, '{}', 0)`, id, res.OpID); err != nil {
			return err
		}
		if refuse {
			return fanfare.Errorf(fanfare.EInvalidState, "effect %s refused", id)
		}
		return nil
	}
}

// submit sends op and checks its answer against what was sent before under
// its key.
func (r *fuzzRun) submit(name string, op ledger.Op) {
	t := r.t
	t.Helper()
	res, err := submit(r.ctx, r.f.l, op)
	if !ledger.IsClawback(op.Kind) && slices.ContainsFunc(op.Legs, func(g ledger.Leg) bool { return g.AllowNegative }) {
		// Refused before the committer: nothing moved, nothing stored.
		if res != nil || !errors.Is(err, ledger.ErrNegativeNotAllowed) {
			t.Fatalf("op %d: %s allows a negative balance: result %+v, error %v; want ErrNegativeNotAllowed", r.step, name, res, err)
		}
		return
	}
	r.checkErr(name, err)
	code := fanfare.ErrorCode(err)
	if i := op.Idem; i != nil {
		rec := r.sent[i.Key]
		switch {
		case rec != nil && rec.op.Idem.Hash == i.Hash:
			if code != rec.code || res == nil || !res.Replayed {
				t.Fatalf("op %d: %s replaying %s: result %+v, error %v; want the original %+v (code %q), replayed", r.step, name, i.Key, res, err, rec.res, rec.code)
			}
			if d := diffResult(res, rec.res); d != "" {
				t.Fatalf("op %d: %s replaying %s: %s", r.step, name, i.Key, d)
			}
			return
		case rec != nil:
			// Checks made before the committer may answer first.
			if code != fanfare.EIdempotencyConflict && (res != nil || (code != fanfare.EInvalid && code != fanfare.ENotFound)) {
				t.Fatalf("op %d: %s under used key %s with another request: error = %v, want idempotency_conflict", r.step, name, i.Key, err)
			}
			return
		case res != nil:
			r.sent[i.Key] = &record{op: op, res: res, code: code}
			r.lastKey = i.Key
		}
	}
	if err == nil && res.Replayed {
		t.Fatalf("op %d: %s: result replayed, want a fresh operation", r.step, name)
	}
	if err == nil {
		r.track(op, res)
	}
}

// track follows the holds an operation created or resolved.
func (r *fuzzRun) track(op ledger.Op, res *ledger.Result) {
	h := op.Hold
	if h == nil {
		return
	}
	if h.Action == ledger.HoldCreate {
		r.created = append(r.created, res.HoldID)
		r.pending[res.HoldID] = true
		return
	}
	r.resolved[h.ID]++
	delete(r.pending, h.ID)
	if n := r.resolved[h.ID]; n > 1 {
		r.t.Fatalf("op %d: hold %s resolved %d times", r.step, h.ID, n)
	}
}

// race posts and voids one hold at once: if it was pending exactly one of
// the two wins, otherwise neither does.
func (r *fuzzRun) race(id string) {
	t := r.t
	t.Helper()
	wasPending := r.pending[id]
	var wg sync.WaitGroup
	var res [2]*ledger.Result
	var errs [2]error
	ops := [2]ledger.Op{
		{Kind: "shoutout_post", Object: "fuzz", Actor: "creator", Hold: &ledger.HoldOp{Action: ledger.HoldPost, ID: id}},
		{Kind: "shoutout_void", Object: "fuzz", Actor: "fan", Hold: &ledger.HoldOp{Action: ledger.HoldVoid, ID: id}},
	}
	start := make(chan struct{})
	for i := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res[i], errs[i] = submit(r.ctx, r.f.l, ops[i])
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		r.checkErr(ops[i].Kind, err)
		if err == nil {
			won++
			r.track(ops[i], res[i])
		}
	}
	if wasPending && won != 1 {
		t.Fatalf("op %d: post and void of pending hold %q at once: errors %v and %v, want exactly one to win", r.step, id, errs[0], errs[1])
	}
	if !wasPending && won != 0 {
		t.Fatalf("op %d: post and void of hold %q, which was not pending: %d won, want none", r.step, id, won)
	}
}

// checkErr fails on any error that is not a business failure with a known
// code.
func (r *fuzzRun) checkErr(name string, err error) {
	r.t.Helper()
	if err == nil {
		return
	}
	var fe *fanfare.Error
	if !errors.As(err, &fe) {
		r.t.Fatalf("op %d: %s: internal error %v", r.step, name, err)
	}
	if !fuzzKnownCodes[fe.Code] {
		r.t.Fatalf("op %d: %s: error = %v, want one of the ledger's business codes", r.step, name, err)
	}
}
