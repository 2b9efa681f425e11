package ledger_test

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// The size of TestLedgerProperties, per store. The defaults keep it to a few
// seconds under -race; a longer run raises them, e.g.
// go test ./internal/ledger -run TestLedgerProperties -ledger.sequences=200.
var (
	propSeed      = flag.Uint64("ledger.seed", 0, "run TestLedgerProperties with this seed only (0: fresh random seeds)")
	propSequences = flag.Int("ledger.sequences", 10, "random sequences TestLedgerProperties runs per store")
	propOps       = flag.Int("ledger.ops", 120, "operations in each sequence of TestLedgerProperties")
)

// TestLedgerProperties runs random sequences of ledger operations, partly one
// at a time and partly in groups submitted at once from several goroutines
// (so that they share batches), against a model of what every balance must
// be. After each sequence the stored balances must equal the model, Verify
// must find nothing, no user account may be below zero but through a
// clawback, and no hold may have been resolved twice.
//
// A failure names its seed; rerun it alone with
// go test ./internal/ledger -run 'TestLedgerProperties/<store>' -ledger.seed=<seed>.
func TestLedgerProperties(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seeds := make([]uint64, *propSequences)
		for i := range seeds {
			seeds[i] = rand.Uint64() >> 20
		}
		if *propSeed != 0 {
			seeds = []uint64{*propSeed}
		}
		for i, seed := range seeds {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				t.Parallel()
				sdb := db
				if i > 0 {
					sdb = storetest.MustOpen(t, db.Dialect)
				}
				r := newPropRun(t, sdb, seed)
				t.Cleanup(func() {
					if t.Failed() {
						t.Logf("seed %d; replay with: go test ./internal/ledger -run 'TestLedgerProperties/%s' -ledger.seed=%d", seed, db.Dialect, seed)
						t.Logf("last operations:\n%s", strings.Join(r.history, "\n"))
					}
				})
				r.run(*propOps)
			})
		}
	})
}

// propRun is one random sequence: a ledger, its accounts, a generator and the
// model.
type propRun struct {
	t       *testing.T
	ctx     context.Context
	db      *store.DB
	l       *ledger.Ledger
	l2      *ledger.Ledger // a second committer on the same database, for groups
	rng     *rand.Rand
	f       *fixture
	m       *model
	fans    []ledger.AccountID // COIN
	frozen  ledger.AccountID   // COIN, frozen by an operator
	creator []ledger.AccountID // COIN accounts of the creators
	diams   []ledger.AccountID // DIAMOND accounts of the same creators
	escrow  ledger.AccountID   // COIN escrow
	unknown ledger.AccountID   // never created

	keys    int // idempotency keys handed out
	holdSeq int // explicit hold ids handed out
	effects int // effect rows handed out
	// written maps the row of each effect whose operation committed to the
	// operation's id.
	written map[string]string
	records []*record // operations sent with an idempotency key, in order
	history []string  // the last operations, for failure reports
	step    int
}

// record is an operation that reached the committer with an idempotency key,
// and what it answered.
type record struct {
	op   ledger.Op
	res  *ledger.Result
	code string
}

func newPropRun(t *testing.T, db *store.DB, seed uint64) *propRun {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// Some sequences commit small batches, so that a group spans several.
	opts := ledger.Options{MaxBatch: []int{0, 0, 3}[rng.IntN(3)]}
	f := setup(t, db, opts)
	r := &propRun{t: t, ctx: ctx, db: db, l: f.l, rng: rng, f: f, m: newModel(), unknown: 1 << 40, written: map[string]string{}}
	l2, err := ledger.Open(ctx, db, ledger.Options{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l2.Close() })
	r.l2 = l2

	m := r.m
	m.add(f.promo, "promotions", fanfare.Coin, true)
	m.add(f.revenue, "revenue:gift", fanfare.Coin, true)
	m.add(f.issue, "diamond_issuance", fanfare.Diamond, true)
	r.escrow = must(t)(f.l.SystemAccount(ctx, ledger.Escrow, fanfare.Coin))
	m.add(r.escrow, "escrow", fanfare.Coin, true)
	m.escrow = r.escrow
	r.fans = append(r.fans, f.fanCoins)
	m.add(f.fanCoins, "fan", fanfare.Coin, false)
	for i := 1; i < 4; i++ {
		name := fmt.Sprintf("fan-%d", i)
		id := must(t)(f.l.UserAccount(ctx, name, fanfare.Coin))
		r.fans = append(r.fans, id)
		m.add(id, name, fanfare.Coin, false)
	}
	r.creator = append(r.creator, must(t)(f.l.UserAccount(ctx, "creator", fanfare.Coin)))
	r.diams = append(r.diams, f.creatorDiams)
	m.add(r.creator[0], "creator", fanfare.Coin, false)
	m.add(f.creatorDiams, "creator", fanfare.Diamond, false)
	r.creator = append(r.creator, must(t)(f.l.UserAccount(ctx, "creator-1", fanfare.Coin)))
	r.diams = append(r.diams, must(t)(f.l.UserAccount(ctx, "creator-1", fanfare.Diamond)))
	m.add(r.creator[1], "creator-1", fanfare.Coin, false)
	m.add(r.diams[1], "creator-1", fanfare.Diamond, false)
	r.frozen = must(t)(f.l.UserAccount(ctx, "frozen-fan", fanfare.Coin))
	m.add(r.frozen, "frozen-fan", fanfare.Coin, false)

	// Start every fan with some coins, and freeze one wallet the way an
	// operator would.
	for _, id := range append(slices.Clone(r.fans), r.frozen) {
		r.sequential(r.grant(id, 100+r.rng.Int64N(300)), false)
	}
	if _, err := db.Write.ExecContext(ctx, `UPDATE accounts SET frozen = TRUE WHERE id = $1`, int64(r.frozen)); err != nil {
		t.Fatal(err)
	}
	m.frozen[r.frozen] = true
	return r
}

func (r *propRun) run(n int) {
	t := r.t
	check := 40
	for r.step < n {
		if r.rng.IntN(10) < 3 {
			r.group(2 + r.rng.IntN(9))
		} else {
			r.sequential(r.next(false), true)
		}
		if r.step >= check {
			r.checkBalances()
			check = r.step + 40
		}
	}
	r.checkBalances()
	mustVerify(t, r.l)
	r.checkHolds()
	r.checkEffects()
}

// --- operations -----------------------------------------------------------

// genOp is a generated operation and what the generator knows about it.
type genOp struct {
	name string
	op   ledger.Op
	// want, if set, is the only error code the operation may end with (""
	// for success), whatever the model says.
	want *string
	// replay, if set, is the record this operation replays (same key, same
	// request); conflict, if set, the record whose key it reuses for another
	// request.
	replay, conflict *record
	// effect names the row the operation's Effect writes; refuse says the
	// effect then refuses the operation (with code conflict).
	effect string
	refuse bool
}

// only returns a want for genOp.
func only(c string) *string { return &c }

// next draws an operation. In a group, operations that need the exact
// state (over-spends, spends from a negative wallet) are left out.
func (r *propRun) next(inGroup bool) genOp {
	for {
		var g genOp
		switch n := r.rng.IntN(100); {
		case n < 12:
			g = r.grant(r.anyUser(), 1+r.rng.Int64N(400))
		case n < 30:
			g = r.gift(r.pick(r.fans), 1+r.rng.Int64N(120))
		case n < 38:
			g = r.transfer()
		case n < 45:
			g = r.multi()
		case n < 55:
			g = r.holdCreate(inGroup)
		case n < 63:
			g = r.holdResolve(ledger.HoldPost)
		case n < 69:
			g = r.holdResolve(ledger.HoldVoid)
		case n < 74:
			g = r.clawback()
		case n < 84:
			g = r.mustFail(inGroup)
		case n < 93:
			g = r.replay()
		default:
			g = r.conflict()
		}
		if g.name == "" {
			continue // nothing to draw from yet
		}
		if g.replay == nil && g.conflict == nil && g.op.Idem == nil && r.rng.IntN(2) == 0 && r.m.passesChecks(g.op) {
			r.withKey(&g.op)
		}
		if g.replay == nil && g.conflict == nil && r.rng.IntN(8) == 0 {
			r.withEffect(&g)
		}
		return g
	}
}

func (r *propRun) pick(ids []ledger.AccountID) ledger.AccountID { return ids[r.rng.IntN(len(ids))] }

// anyUser is any user COIN account.
func (r *propRun) anyUser() ledger.AccountID {
	ids := append(append(slices.Clone(r.fans), r.creator...), r.frozen)
	return r.pick(ids)
}

func (r *propRun) grant(to ledger.AccountID, coins int64) genOp {
	return genOp{name: "grant", op: ledger.Op{Kind: "grant", Object: "promo", Actor: "ops",
		Legs: []ledger.Leg{{Debit: r.f.promo, Credit: to, Amount: fanfare.Amount(coins)}}}}
}

// gift sends coins to revenue and 50% of them as diamonds to a creator; a
// gift worth no diamond has no diamond leg.
func (r *propRun) gift(from ledger.AccountID, coins int64) genOp {
	c := r.rng.IntN(len(r.diams))
	op := ledger.Op{Kind: "gift", Object: "live:prop", Actor: r.m.name[from],
		Legs: []ledger.Leg{{Debit: from, Credit: r.f.revenue, Amount: fanfare.Amount(coins)}}}
	if d := fanfare.Share(fanfare.Amount(coins), 5000); d > 0 {
		op.Legs = append(op.Legs, ledger.Leg{Debit: r.f.issue, Credit: r.diams[c], Amount: d})
	}
	return genOp{name: "gift", op: op}
}

func (r *propRun) transfer() genOp {
	users := append(slices.Clone(r.fans), r.creator...)
	from := r.pick(users)
	to := r.pick(users)
	for to == from {
		to = r.pick(users)
	}
	return genOp{name: "transfer", op: ledger.Op{Kind: "transfer", Object: "p2p", Actor: r.m.name[from],
		Legs: []ledger.Leg{{Debit: from, Credit: to, Amount: fanfare.Amount(1 + r.rng.Int64N(150))}}}}
}

// multi is an operation of two to four legs between users and system
// accounts, of both assets.
func (r *propRun) multi() genOp {
	coins := append(append(slices.Clone(r.fans), r.creator...), r.f.promo, r.f.revenue)
	diams := append(slices.Clone(r.diams), r.f.issue)
	op := ledger.Op{Kind: "bundle", Object: "multi", Actor: "prop"}
	for range 2 + r.rng.IntN(3) {
		pool := coins
		if r.rng.IntN(3) == 0 {
			pool = diams
		}
		d, c := r.pick(pool), r.pick(pool)
		for c == d {
			c = r.pick(pool)
		}
		// Now and then a leg is a clawback, which may take its debit
		// below zero while the other legs of the operation may not.
		op.Legs = append(op.Legs, ledger.Leg{Debit: d, Credit: c, Amount: fanfare.Amount(1 + r.rng.Int64N(80)), AllowNegative: r.rng.IntN(8) == 0})
		if op.Legs[len(op.Legs)-1].AllowNegative {
			op.Kind = ledger.KindChargeback // only a clawback may set it
		}
	}
	return genOp{name: "multi", op: op}
}

// holdCreate reserves coins of a fan for a creator or another fan. The hold
// id is assigned by the ledger or chosen here, sometimes one in use.
func (r *propRun) holdCreate(inGroup bool) genOp {
	from := r.pick(r.fans)
	to := r.pick(append(slices.Clone(r.fans), r.creator...))
	for to == from {
		to = r.pick(append(slices.Clone(r.fans), r.creator...))
	}
	h := &ledger.HoldOp{Action: ledger.HoldCreate, Debit: from, Credit: to, Amount: fanfare.Amount(1 + r.rng.Int64N(100))}
	switch n := r.rng.IntN(10); {
	case n < 3:
		r.holdSeq++
		h.ID = fmt.Sprintf("hold-%d", r.holdSeq)
	case n < 4 && len(r.m.holdIDs) > 0 && !inGroup:
		h.ID = r.pickID(r.m.holdIDs) // already exists: invalid_state
	}
	return genOp{name: "hold create", op: ledger.Op{Kind: "shoutout_hold", Object: "shoutout:prop", Actor: r.m.name[from], Hold: h}}
}

func (r *propRun) pickID(ids []string) string { return ids[r.rng.IntN(len(ids))] }

// holdResolve posts or voids an existing hold (pending or not) or an unknown
// one. A post sometimes pays diamonds as well.
func (r *propRun) holdResolve(action ledger.HoldAction) genOp {
	id := fmt.Sprintf("missing-%d", r.rng.IntN(5))
	if len(r.m.holdIDs) > 0 && r.rng.IntN(8) > 0 {
		// Prefer pending holds, so that most resolutions can succeed.
		var pending []string
		for _, id := range r.m.holdIDs {
			if r.m.holds[id].state == "pending" {
				pending = append(pending, id)
			}
		}
		if len(pending) > 0 && r.rng.IntN(4) > 0 {
			id = r.pickID(pending)
		} else {
			id = r.pickID(r.m.holdIDs)
		}
	}
	op := ledger.Op{Kind: "shoutout_resolve", Object: "shoutout:prop", Actor: "creator", Hold: &ledger.HoldOp{Action: action, ID: id}}
	name := "hold void"
	if action == ledger.HoldPost {
		name = "hold post"
		if r.rng.IntN(2) == 0 {
			op.Legs = []ledger.Leg{{Debit: r.f.issue, Credit: r.pick(r.diams), Amount: fanfare.Amount(1 + r.rng.Int64N(50))}}
		}
	}
	return genOp{name: name, op: op}
}

// clawback takes coins back from a fan, possibly below zero.
func (r *propRun) clawback() genOp {
	from := r.pick(r.fans)
	amount := 1 + r.rng.Int64N(max(r.m.bal[from], 0)+60)
	return genOp{name: "clawback", op: ledger.Op{Kind: "chargeback", Object: "purchase:prop", Actor: "psp",
		Legs: []ledger.Leg{{Debit: from, Credit: r.f.promo, Amount: fanfare.Amount(amount), AllowNegative: true}}}}
}

// mustFail draws an operation that cannot commit, and the code it must fail
// with.
func (r *propRun) mustFail(inGroup bool) genOp {
	var g genOp
	n := r.rng.IntN(9)
	if inGroup && n < 2 {
		n += 2
	}
	switch n {
	case 0: // over-spend
		from := r.pick(r.fans)
		if r.m.bal[from] < 0 {
			return genOp{}
		}
		g = r.gift(from, r.m.bal[from]+1+r.rng.Int64N(50))
		g.name, g.want = "over-spend", only(fanfare.EInsufficientFunds)
	case 1: // spend from a wallet a clawback left negative
		var neg []ledger.AccountID
		for _, id := range r.fans {
			if r.m.bal[id] < 0 {
				neg = append(neg, id)
			}
		}
		if len(neg) == 0 {
			return genOp{}
		}
		g = r.gift(r.pick(neg), 1+r.rng.Int64N(5))
		g.name, g.want = "spend while negative", only(fanfare.EWalletFrozen)
	case 2: // operator-frozen wallet
		g = r.gift(r.frozen, 1+r.rng.Int64N(20))
		g.name, g.want = "spend from frozen wallet", only(fanfare.EWalletFrozen)
	case 3: // unknown account, on either side
		g = r.transfer()
		if r.rng.IntN(2) == 0 {
			g.op.Legs[0].Debit = r.unknown
		} else {
			g.op.Legs[0].Credit = r.unknown
		}
		g.name, g.want = "unknown account", only(fanfare.ENotFound)
	case 4: // coins into a diamond account
		g = r.gift(r.pick(r.fans), 1)
		g.op.Legs[0].Credit = r.pick(r.diams)
		g.name, g.want = "asset mismatch", only(fanfare.EInvalid)
	case 5: // hold from an unknown payer
		g = r.holdCreate(true)
		g.op.Hold.Debit = r.unknown
		g.name, g.want = "hold from unknown account", only(fanfare.ENotFound)
	case 6: // hold to an unknown payee
		g = r.holdCreate(true)
		g.op.Hold.Credit = r.unknown
		g.name, g.want = "hold to unknown account", only(fanfare.ENotFound)
	case 7: // hold of coins paying diamonds, or paying escrow
		g = r.holdCreate(true)
		g.op.Hold.Credit = r.pick(append(slices.Clone(r.diams), r.escrow))
		g.name, g.want = "hold to a wrong payee", only(fanfare.EInvalid)
	case 8: // a plain leg in or out of escrow
		g = r.grant(r.pick(r.fans), 1+r.rng.Int64N(20))
		if r.rng.IntN(2) == 0 {
			g.op.Legs[0].Credit = r.escrow
		} else {
			g.op.Legs[0].Debit = r.escrow
		}
		g.name, g.want = "plain leg on escrow", only(fanfare.EInvalid)
	}
	return g
}

// replay sends an earlier keyed operation again.
func (r *propRun) replay() genOp {
	if len(r.records) == 0 {
		return genOp{}
	}
	rec := r.records[r.rng.IntN(len(r.records))]
	return genOp{name: "replay", op: rec.op, replay: rec}
}

// conflict sends another request under an earlier key.
func (r *propRun) conflict() genOp {
	if len(r.records) == 0 {
		return genOp{}
	}
	rec := r.records[r.rng.IntN(len(r.records))]
	g := r.gift(r.pick(r.fans), 1+r.rng.Int64N(10))
	g.op.Idem = &ledger.Idempotency{Scope: rec.op.Idem.Scope, Key: rec.op.Idem.Key, Hash: requestHash(g.op)}
	if g.op.Idem.Hash == rec.op.Idem.Hash {
		return genOp{}
	}
	g.name, g.conflict, g.want = "conflict", rec, only(fanfare.EIdempotencyConflict)
	return g
}

// withEffect gives the operation an Effect that writes a row in the batch's
// transaction and, now and then, refuses the operation after writing it.
func (r *propRun) withEffect(g *genOp) {
	r.effects++
	id := fmt.Sprintf("effect-%d", r.effects)
	g.effect, g.refuse = id, r.rng.IntN(3) == 0
	var refusal error
	if g.refuse {
		refusal = fanfare.Errorf(fanfare.EConflict, "effect %s refused", id)
	}
	const insert = `INSERT INTO audit_log (id, actor, action, object, details, created_at) VALUES ($1, 'prop', 'effect', $2, '{}', 0)`
	if r.rng.IntN(2) == 0 {
		g.op.Effect = func(ctx context.Context, tx *sql.Tx, res *ledger.Result) error {
			_, err := tx.ExecContext(ctx, insert, id, res.OpID)
			if err != nil {
				return err
			}
			return refusal
		}
	} else {
		// The same as Writes: the row, then a check that changes nothing
		// when the operation is to be refused (after the row, which must
		// then go too).
		g.op.Writes = func(res *ledger.Result) []ledger.Write {
			ws := []ledger.Write{{SQL: insert, Args: []any{id, res.OpID}}}
			if refusal != nil {
				ws = append(ws, ledger.Write{
					SQL:  `UPDATE audit_log SET details = '{}' WHERE id = $1 AND action = 'none'`,
					Args: []any{id},
					Fail: func(context.Context, *sql.Tx) error { return refusal },
				})
			}
			return ws
		}
	}
	if g.want != nil && *g.want == "" && g.refuse {
		g.want = only(fanfare.EConflict)
	}
}

// withKey sends op under a new idempotency key.
func (r *propRun) withKey(op *ledger.Op) {
	r.keys++
	op.Idem = &ledger.Idempotency{Scope: op.Actor, Key: fmt.Sprintf("key-%d", r.keys), Hash: requestHash(*op)}
}

// requestHash hashes what a client would have sent.
func requestHash(op ledger.Op) string {
	var hold string
	if h := op.Hold; h != nil {
		hold = fmt.Sprintf("%d/%s/%d/%d/%d", h.Action, h.ID, h.Debit, h.Credit, h.Amount)
	}
	return ledger.HashRequest([]byte(op.Kind), []byte(op.Object), []byte(fmt.Sprint(op.Legs)), []byte(hold))
}

// submit sends a copy of op, so that nothing the ledger fills in leaks back
// into the generator's records.
func submit(ctx context.Context, l *ledger.Ledger, op ledger.Op) (*ledger.Result, error) {
	op.Legs = slices.Clone(op.Legs)
	if op.Hold != nil {
		h := *op.Hold
		op.Hold = &h
	}
	if op.Idem != nil {
		i := *op.Idem
		op.Idem = &i
	}
	return l.Submit(ctx, op)
}

// --- one at a time --------------------------------------------------------

// sequential submits one operation alone: the model predicts its outcome
// and the balances it reports.
func (r *propRun) sequential(g genOp, count bool) {
	t := r.t
	t.Helper()
	if count {
		r.step++
	}
	r.note(g, "")
	res, err := submit(r.ctx, r.l, g.op)
	got := fanfare.ErrorCode(err)
	r.history[len(r.history)-1] += " -> " + codeOrOK(got)
	if got == fanfare.EInternal {
		t.Fatalf("step %d: %s: internal error %v", r.step, g.name, err)
	}
	if g.want != nil && got != *g.want {
		t.Fatalf("step %d: %s: error = %v (code %q), want code %q", r.step, g.name, err, got, *g.want)
	}
	switch {
	case g.replay != nil:
		r.checkReplay(g.name, g.replay, res, err)
		return
	case g.conflict != nil:
		return
	}
	want := r.m.outcome(g.op)
	if g.refuse && slices.Equal(want, []string{""}) {
		want = []string{fanfare.EConflict} // the effect refuses what could commit
	}
	if !slices.Contains(want, got) {
		t.Fatalf("step %d: %s: error = %v (code %q), want one of %q", r.step, g.name, err, got, want)
	}
	if got == "" {
		r.wrote(g, res)
		r.m.apply(g.op, res.HoldID)
		if res.Replayed || res.OpID == "" {
			t.Fatalf("step %d: %s: result %+v, want a fresh operation", r.step, g.name, res)
		}
		if want := r.m.reported(g.op, res.HoldID); !maps.Equal(res.Balances, want) {
			t.Fatalf("step %d: %s: Result.Balances = %v, want %v", r.step, g.name, r.names(res.Balances), r.names(want))
		}
	}
	r.remember(g, res, err)
	r.checkNegative()
}

// checkReplay checks that a replay answered exactly what the original did.
func (r *propRun) checkReplay(name string, rec *record, res *ledger.Result, err error) {
	t := r.t
	t.Helper()
	if got := fanfare.ErrorCode(err); got != rec.code {
		t.Fatalf("step %d: %s of %s: error = %v (code %q), want the original code %q", r.step, name, rec.op.Idem.Key, err, got, rec.code)
	}
	if res == nil || !res.Replayed {
		t.Fatalf("step %d: %s of %s: result = %+v, want Replayed", r.step, name, rec.op.Idem.Key, res)
	}
	if d := diffResult(res, rec.res); d != "" {
		t.Fatalf("step %d: %s of %s: result differs from the original: %s", r.step, name, rec.op.Idem.Key, d)
	}
}

// diffResult describes how a replayed result differs from the original.
func diffResult(got, orig *ledger.Result) string {
	var d []string
	if got.OpID != orig.OpID {
		d = append(d, fmt.Sprintf("OpID = %q, want %q", got.OpID, orig.OpID))
	}
	if got.HoldID != orig.HoldID {
		d = append(d, fmt.Sprintf("HoldID = %q, want %q", got.HoldID, orig.HoldID))
	}
	if !got.CreatedAt.Equal(orig.CreatedAt) {
		d = append(d, fmt.Sprintf("CreatedAt = %v, want %v", got.CreatedAt, orig.CreatedAt))
	}
	if !maps.Equal(got.Balances, orig.Balances) {
		d = append(d, fmt.Sprintf("Balances = %v, want %v", got.Balances, orig.Balances))
	}
	if (got.Err == nil) != (orig.Err == nil) || got.Err != nil && (got.Err.Code != orig.Err.Code || got.Err.Message != orig.Err.Message) {
		d = append(d, fmt.Sprintf("Err = %v, want %v", got.Err, orig.Err))
	}
	return strings.Join(d, "; ")
}

// remember keeps a keyed operation that reached the committer, for replays.
func (r *propRun) remember(g genOp, res *ledger.Result, err error) {
	if g.op.Idem == nil || g.replay != nil || g.conflict != nil || res == nil || res.Replayed {
		return
	}
	r.records = append(r.records, &record{op: g.op, res: res, code: fanfare.ErrorCode(err)})
}

// note adds an operation to the history a failure prints.
func (r *propRun) note(g genOp, prefix string) {
	s := fmt.Sprintf("%3d %s%s %s", r.step, prefix, g.name, describe(g.op, r.m.name))
	r.history = append(r.history, s)
	if len(r.history) > 40 {
		r.history = r.history[1:]
	}
}

// describe prints op's legs, hold and key, naming the accounts it knows.
func describe(op ledger.Op, names map[ledger.AccountID]string) string {
	var b strings.Builder
	name := func(id ledger.AccountID) string {
		if n, ok := names[id]; ok {
			return n
		}
		return fmt.Sprint(id)
	}
	for _, g := range op.Legs {
		fmt.Fprintf(&b, "[%s->%s %d", name(g.Debit), name(g.Credit), g.Amount)
		if g.AllowNegative {
			b.WriteString(" allow-negative")
		}
		b.WriteString("]")
	}
	if h := op.Hold; h != nil {
		switch h.Action {
		case ledger.HoldCreate:
			fmt.Fprintf(&b, "[hold %q %s->%s %d]", h.ID, name(h.Debit), name(h.Credit), h.Amount)
		case ledger.HoldPost:
			fmt.Fprintf(&b, "[post %q]", h.ID)
		case ledger.HoldVoid:
			fmt.Fprintf(&b, "[void %q]", h.ID)
		}
	}
	if i := op.Idem; i != nil {
		fmt.Fprintf(&b, " key=%s", i.Key)
	}
	return b.String()
}

func codeOrOK(c string) string {
	if c == "" {
		return "ok"
	}
	return c
}

// --- groups -----------------------------------------------------------------

// group submits n operations at once from n goroutines, through both
// committers. The model cannot say in which order they commit, so it checks
// that each outcome is possible in some order, then adds up the effects of
// the operations that committed: commits are atomic, so the balances after
// the group are exact again.
func (r *propRun) group(n int) {
	t := r.t
	t.Helper()
	type slot struct {
		g        genOp
		l        *ledger.Ledger
		res      *ledger.Result
		err      error
		pair     int // index of the other half of a duplicated request, or -1
		samePair bool
	}
	var slots []*slot
	for len(slots) < n {
		g := r.next(true)
		s := &slot{g: g, l: r.l, pair: -1}
		if r.rng.IntN(2) == 0 {
			s.l = r.l2
		}
		slots = append(slots, s)
		// Sometimes the same key is sent twice at once: with the same
		// request, or with another one.
		if g.op.Idem != nil && g.replay == nil && g.conflict == nil && r.rng.IntN(3) == 0 {
			d := &slot{g: g, l: r.l, pair: len(slots) - 1, samePair: true}
			if r.rng.IntN(2) == 0 {
				d.l = r.l2
			}
			if r.rng.IntN(3) == 0 {
				o := r.gift(r.pick(r.fans), 1+r.rng.Int64N(10))
				o.op.Idem = &ledger.Idempotency{Scope: g.op.Idem.Scope, Key: g.op.Idem.Key, Hash: requestHash(o.op)}
				if o.op.Idem.Hash != g.op.Idem.Hash {
					d.g, d.samePair = o, false
				}
			}
			s.pair = len(slots)
			slots = append(slots, d)
		}
	}
	for i, s := range slots {
		r.step++
		prefix := fmt.Sprintf("group[%d] ", i)
		r.note(s.g, prefix)
	}

	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s.res, s.err = submit(r.ctx, s.l, s.g.op)
		}()
	}
	close(start)
	wg.Wait()
	for i, s := range slots {
		r.history[len(r.history)-len(slots)+i] += " -> " + codeOrOK(fanfare.ErrorCode(s.err))
	}

	// Which operations ran: replays and the loser of a key race did not.
	ran := make([]bool, len(slots))
	for i, s := range slots {
		c := fanfare.ErrorCode(s.err)
		if c == fanfare.EInternal || (s.err != nil && !errors.As(s.err, new(*fanfare.Error))) {
			t.Fatalf("step %d: group[%d] %s: internal error %v", r.step, i, s.g.name, s.err)
		}
		switch {
		case s.g.replay != nil:
			r.checkReplay("group "+s.g.name, s.g.replay, s.res, s.err)
		case s.g.conflict != nil:
			if c != fanfare.EIdempotencyConflict {
				t.Fatalf("step %d: group[%d] %s: error = %v (code %q), want code %q", r.step, i, s.g.name, s.err, c, fanfare.EIdempotencyConflict)
			}
		case s.pair >= 0 && s.pair < i:
			a, b := slots[s.pair], s
			if s.samePair {
				// One of the two ran; the other got its answer.
				if a.res == nil || b.res == nil || a.res.Replayed == b.res.Replayed {
					t.Fatalf("step %d: group[%d] and [%d], the same request at once: results %+v and %+v, want exactly one replayed", r.step, s.pair, i, a.res, b.res)
				}
				if d := diffResult(a.res, b.res); d != "" || fanfare.ErrorCode(a.err) != c {
					t.Fatalf("step %d: group[%d] and [%d], the same request at once, answered differently: %s (errors %v, %v)", r.step, s.pair, i, d, a.err, b.err)
				}
				ran[s.pair] = !a.res.Replayed
				ran[i] = !b.res.Replayed
			} else {
				// Two requests under one key: one ran, the other conflicts.
				ca := fanfare.ErrorCode(a.err)
				if (ca == fanfare.EIdempotencyConflict) == (c == fanfare.EIdempotencyConflict) {
					t.Fatalf("step %d: group[%d] and [%d], two requests under key %s: errors %v and %v, want exactly one idempotency_conflict", r.step, s.pair, i, s.g.op.Idem.Key, a.err, b.err)
				}
				ran[s.pair] = ca != fanfare.EIdempotencyConflict
				ran[i] = c != fanfare.EIdempotencyConflict
			}
		case s.pair < 0:
			ran[i] = true
		}
	}
	for i, s := range slots {
		if ran[i] && s.res != nil && s.res.Replayed {
			t.Fatalf("step %d: group[%d] %s: result replayed, want a fresh operation", r.step, i, s.g.name)
		}
	}

	// Each outcome must be possible in some order of the group.
	pre := r.m.clone()
	effects := make([]map[ledger.AccountID]int64, len(slots))
	for i, s := range slots {
		if ran[i] && s.err == nil {
			effects[i] = pre.effects(s.g.op, s.res.HoldID)
		}
	}
	for i, s := range slots {
		if !ran[i] {
			continue
		}
		got := fanfare.ErrorCode(s.err)
		if s.g.want != nil && got != *s.g.want {
			t.Fatalf("step %d: group[%d] %s: error = %v (code %q), want code %q", r.step, i, s.g.name, s.err, got, *s.g.want)
		}
		var others []map[ledger.AccountID]int64
		raced := false
		for j, e := range effects {
			if j != i && e != nil {
				others = append(others, e)
				if h := s.g.op.Hold; h != nil && h.Action != ledger.HoldCreate {
					if o := slots[j].g.op.Hold; o != nil && o.Action != ledger.HoldCreate && o.ID == h.ID {
						raced = true
					}
				}
			}
		}
		if s.g.refuse {
			// The effect refuses whatever could have committed.
			switch got {
			case "":
				t.Fatalf("step %d: group[%d] %s committed although its effect refused it", r.step, i, s.g.name)
			case fanfare.EConflict:
				got = ""
			}
		}
		if why := pre.possible(s.g.op, got, others, raced); why != "" {
			t.Fatalf("step %d: group[%d] %s: error = %v (code %q): %s", r.step, i, s.g.name, s.err, got, why)
		}
	}
	for i, s := range slots {
		if ran[i] {
			if s.err == nil {
				r.m.apply(s.g.op, s.res.HoldID)
				r.wrote(s.g, s.res)
			}
			r.remember(s.g, s.res, s.err)
		}
	}
	r.checkNegative()
	r.checkResolutions()
}

// --- checks -------------------------------------------------------------------

func (r *propRun) checkBalances() {
	t := r.t
	t.Helper()
	for _, id := range r.m.ids() {
		if got, want := balance(t, r.l, id), r.m.bal[id]; int64(got) != want {
			t.Fatalf("step %d: Balance(%s) = %d, want %d", r.step, r.m.label(id), got, want)
		}
	}
}

// checkNegative fails if a user account is below zero without a clawback
// having debited it.
func (r *propRun) checkNegative() {
	r.t.Helper()
	for _, id := range r.m.ids() {
		if b := r.m.bal[id]; b < 0 && !r.m.system[id] && !r.m.clawed[id] {
			r.t.Fatalf("step %d: Balance(%s) = %d without any clawback", r.step, r.m.label(id), b)
		}
	}
}

func (r *propRun) checkResolutions() {
	r.t.Helper()
	for _, id := range r.m.holdIDs {
		if n := r.m.holds[id].resolutions; n > 1 {
			r.t.Fatalf("step %d: hold %s was resolved %d times, want at most once", r.step, id, n)
		}
	}
}

// checkHolds compares the stored holds with the model.
func (r *propRun) checkHolds() {
	t := r.t
	t.Helper()
	r.checkResolutions()
	rows, err := r.db.Read.QueryContext(r.ctx, `SELECT id, state, amount FROM holds`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var id, state string
		var amount int64
		if err := rows.Scan(&id, &state, &amount); err != nil {
			t.Fatal(err)
		}
		seen++
		h := r.m.holds[id]
		if h == nil {
			t.Fatalf("stored hold %s (%s, %d) was never created", id, state, amount)
		}
		if state != h.state || amount != h.amount {
			t.Fatalf("hold %s is %s of %d, want %s of %d", id, state, amount, h.state, h.amount)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != len(r.m.holds) {
		t.Fatalf("%d holds stored, want %d", seen, len(r.m.holds))
	}
}

// wrote records the effect row of an operation that committed.
func (r *propRun) wrote(g genOp, res *ledger.Result) {
	if g.effect != "" {
		r.written[g.effect] = res.OpID
	}
}

// checkEffects compares the rows effects wrote with the operations that
// committed: a row exists exactly for each of them, written once, with the
// operation's final id.
func (r *propRun) checkEffects() {
	t := r.t
	t.Helper()
	rows, err := r.db.Read.QueryContext(r.ctx, `SELECT id, object FROM audit_log WHERE action = 'effect'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var id, opID string
		if err := rows.Scan(&id, &opID); err != nil {
			t.Fatal(err)
		}
		seen++
		want, ok := r.written[id]
		if !ok {
			t.Fatalf("effect row %s exists, but its operation did not commit", id)
		}
		if opID != want {
			t.Fatalf("effect row %s names operation %s, want %s", id, opID, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != len(r.written) {
		t.Fatalf("%d effect rows, want %d", seen, len(r.written))
	}
}

func (r *propRun) names(m map[ledger.AccountID]fanfare.Amount) string {
	var parts []string
	for id, b := range m {
		parts = append(parts, fmt.Sprintf("%s:%d", r.m.label(id), b))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, " ") + "}"
}

// --- the model ------------------------------------------------------------------

type model struct {
	bal    map[ledger.AccountID]int64
	asset  map[ledger.AccountID]fanfare.Asset
	name   map[ledger.AccountID]string
	system map[ledger.AccountID]bool
	frozen map[ledger.AccountID]bool // by an operator
	clawed map[ledger.AccountID]bool // debited by a clawback at least once
	escrow ledger.AccountID
	holds  map[string]*modelHold
	// holdIDs lists the holds in creation order.
	holdIDs []string
}

type modelHold struct {
	debit, credit ledger.AccountID
	amount        int64
	state         string
	resolutions   int
}

func newModel() *model {
	return &model{bal: map[ledger.AccountID]int64{}, asset: map[ledger.AccountID]fanfare.Asset{}, name: map[ledger.AccountID]string{},
		system: map[ledger.AccountID]bool{}, frozen: map[ledger.AccountID]bool{}, clawed: map[ledger.AccountID]bool{},
		holds: map[string]*modelHold{}}
}

func (m *model) add(id ledger.AccountID, name string, asset fanfare.Asset, system bool) {
	m.bal[id], m.asset[id], m.name[id], m.system[id] = 0, asset, name, system
}

func (m *model) label(id ledger.AccountID) string { return m.name[id] + " " + string(m.asset[id]) }

func (m *model) ids() []ledger.AccountID {
	ids := slices.Collect(maps.Keys(m.bal))
	slices.Sort(ids)
	return ids
}

// clone copies what a group's checks read.
func (m *model) clone() *model {
	c := *m
	c.bal = maps.Clone(m.bal)
	c.holds = map[string]*modelHold{}
	for id, h := range m.holds {
		hc := *h
		c.holds[id] = &hc
	}
	return &c
}

// passesChecks reports whether op gets past the checks made before the
// committer, so that a key sent with it is stored.
func (m *model) passesChecks(op ledger.Op) bool {
	for _, g := range op.Legs {
		if fanfare.CheckAmount("", g.Amount) != nil || g.Debit == g.Credit {
			return false
		}
	}
	if h := op.Hold; h != nil && h.Action == ledger.HoldCreate {
		if _, ok := m.asset[h.Debit]; !ok || fanfare.CheckAmount("", h.Amount) != nil || h.Debit == h.Credit {
			return false
		}
	}
	return true
}

// legs returns every transfer op makes, the hold's included. holdID is the
// id of a hold op creates.
func (m *model) legs(op ledger.Op, holdID string) []ledger.Leg {
	legs := slices.Clone(op.Legs)
	if h := op.Hold; h != nil {
		switch h.Action {
		case ledger.HoldCreate:
			legs = append(legs, ledger.Leg{Debit: h.Debit, Credit: m.escrow, Amount: h.Amount})
		case ledger.HoldPost:
			if mh := m.holds[h.ID]; mh != nil {
				legs = append(legs, ledger.Leg{Debit: m.escrow, Credit: mh.credit, Amount: fanfare.Amount(mh.amount)})
			}
		case ledger.HoldVoid:
			if mh := m.holds[h.ID]; mh != nil {
				legs = append(legs, ledger.Leg{Debit: m.escrow, Credit: mh.debit, Amount: fanfare.Amount(mh.amount)})
			}
		}
	}
	return legs
}

// effects is the net change op makes to each account.
func (m *model) effects(op ledger.Op, holdID string) map[ledger.AccountID]int64 {
	e := map[ledger.AccountID]int64{}
	for _, g := range m.legs(op, holdID) {
		e[g.Debit] -= int64(g.Amount)
		e[g.Credit] += int64(g.Amount)
	}
	return e
}

// spends returns, per user account that op spends from (a net debit not
// made by a clawback), the amount it needs.
func (m *model) spends(op ledger.Op) map[ledger.AccountID]int64 {
	spending := map[ledger.AccountID]bool{}
	for _, g := range m.legs(op, "") {
		if !g.AllowNegative {
			spending[g.Debit] = true
		}
	}
	need := map[ledger.AccountID]int64{}
	for id, d := range m.effects(op, "") {
		if d < 0 && spending[id] && !m.system[id] {
			need[id] = -d
		}
	}
	return need
}

// static returns the failures of op that do not depend on balances.
func (m *model) static(op ledger.Op) []string {
	if !m.passesChecks(op) {
		if h := op.Hold; h != nil && h.Action == ledger.HoldCreate {
			if _, ok := m.asset[h.Debit]; !ok {
				return []string{fanfare.ENotFound}
			}
		}
		return []string{fanfare.EInvalid}
	}
	var codes []string
	if h := op.Hold; h != nil {
		switch h.Action {
		case ledger.HoldCreate:
			if m.holds[h.ID] != nil {
				return []string{fanfare.EInvalidState}
			}
			if a, ok := m.asset[h.Credit]; !ok {
				codes = append(codes, fanfare.ENotFound)
			} else if a != m.asset[h.Debit] || h.Debit == m.escrow || h.Credit == m.escrow {
				codes = append(codes, fanfare.EInvalid)
			}
		default:
			mh := m.holds[h.ID]
			if mh == nil {
				return []string{fanfare.ENotFound}
			}
			if mh.state != "pending" {
				return []string{fanfare.EInvalidState}
			}
		}
	}
	for _, g := range op.Legs {
		da, dok := m.asset[g.Debit]
		ca, cok := m.asset[g.Credit]
		switch {
		case g.Debit == m.escrow || g.Credit == m.escrow:
			codes = append(codes, fanfare.EInvalid) // escrow moves only through holds
		case !dok || !cok:
			codes = append(codes, fanfare.ENotFound)
		case da != ca:
			codes = append(codes, fanfare.EInvalid)
		}
	}
	if len(codes) > 0 {
		return codes
	}
	for id := range m.spends(op) {
		if m.frozen[id] {
			codes = append(codes, fanfare.EWalletFrozen)
		}
	}
	return codes
}

// outcome returns the codes op may end with now ("" for success).
func (m *model) outcome(op ledger.Op) []string {
	codes := m.static(op)
	if len(codes) > 0 {
		return codes
	}
	for id, need := range m.spends(op) {
		switch b := m.bal[id]; {
		case b < 0:
			codes = append(codes, fanfare.EWalletFrozen)
		case b < need:
			codes = append(codes, fanfare.EInsufficientFunds)
		}
	}
	if len(codes) == 0 {
		codes = []string{""}
	}
	return codes
}

// possible explains why op cannot have ended with code when others (the
// effects of the rest of its group that committed) may have run before or
// after it in any order; "" when it could have.
func (m *model) possible(op ledger.Op, code string, others []map[ledger.AccountID]int64, raced bool) string {
	static := m.static(op)
	if len(static) > 0 {
		if raced && code == fanfare.EInvalidState {
			return ""
		}
		if slices.Contains(static, code) {
			return ""
		}
		return fmt.Sprintf("want one of %q", static)
	}
	// The balance op saw lies between these bounds.
	lo, hi := map[ledger.AccountID]int64{}, map[ledger.AccountID]int64{}
	need := m.spends(op)
	for id := range need {
		lo[id], hi[id] = m.bal[id], m.bal[id]
		for _, e := range others {
			if d := e[id]; d < 0 {
				lo[id] += d
			} else {
				hi[id] += d
			}
		}
	}
	switch code {
	case "":
		for id, n := range need {
			if hi[id] < n {
				return fmt.Sprintf("spent %d from %s, which never held more than %d", n, m.label(id), hi[id])
			}
		}
		return ""
	case fanfare.EInsufficientFunds:
		for id, n := range need {
			if lo[id] < n {
				return ""
			}
		}
		return fmt.Sprintf("every account it spends from held enough in any order: need %v, at least %v", need, lo)
	case fanfare.EWalletFrozen:
		for id := range need {
			if lo[id] < 0 {
				return ""
			}
		}
		return "no account it spends from can have been below zero"
	case fanfare.EInvalidState:
		if raced {
			return ""
		}
		return "no other operation of the group resolved the hold"
	}
	return "unexpected code"
}

// apply records the effect of op, which committed.
func (m *model) apply(op ledger.Op, holdID string) {
	for _, g := range m.legs(op, holdID) {
		m.bal[g.Debit] -= int64(g.Amount)
		m.bal[g.Credit] += int64(g.Amount)
		if g.AllowNegative {
			m.clawed[g.Debit] = true
		}
	}
	if h := op.Hold; h != nil {
		switch h.Action {
		case ledger.HoldCreate:
			m.holds[holdID] = &modelHold{debit: h.Debit, credit: h.Credit, amount: int64(h.Amount), state: "pending"}
			m.holdIDs = append(m.holdIDs, holdID)
		case ledger.HoldPost:
			m.holds[h.ID].state = "posted"
			m.holds[h.ID].resolutions++
		case ledger.HoldVoid:
			m.holds[h.ID].state = "voided"
			m.holds[h.ID].resolutions++
		}
	}
}

// reported returns the balances the Result of op must list: those of every
// user account it touched, after it (apply must have run).
func (m *model) reported(op ledger.Op, holdID string) map[ledger.AccountID]fanfare.Amount {
	want := map[ledger.AccountID]fanfare.Amount{}
	// A post or void reads the hold, which apply has resolved: its legs are
	// the same.
	for _, g := range m.legs(op, holdID) {
		for _, id := range [2]ledger.AccountID{g.Debit, g.Credit} {
			if !m.system[id] {
				want[id] = fanfare.Amount(m.bal[id])
			}
		}
	}
	return want
}

// --- regressions ----------------------------------------------------------------
//
// Each test below pins down, on its own and deterministically or nearly so,
// one failure found while writing the property and fuzz tests.

// TestReplayBesideConflictingRequest sends, at once, replays of a committed
// request and other requests under the same key. Whichever the batch meets
// first, every replay must get the original answer and every other request
// idempotency_conflict.
func TestReplayBesideConflictingRequest(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 10000)
		rng := rand.New(rand.NewPCG(1, 2))
		for round := range 20 {
			key := fmt.Sprintf("round-%d", round)
			orig, err := f.l.Submit(ctx, f.gift(f.fanCoins, 10, key))
			if err != nil {
				t.Fatal(err)
			}
			// Which of the requests reaches the committer first varies
			// from round to round.
			other := rng.Perm(16)[:8]
			var wg sync.WaitGroup
			errs := make([]error, 16)
			results := make([]*ledger.Result, 16)
			start := make(chan struct{})
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					coins := fanfare.Amount(10) // the original request
					if slices.Contains(other, i) {
						coins = 11 // another request
					}
					<-start
					results[i], errs[i] = f.l.Submit(ctx, f.gift(f.fanCoins, coins, key))
				}()
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if slices.Contains(other, i) {
					if fanfare.ErrorCode(err) != fanfare.EIdempotencyConflict {
						t.Fatalf("round %d: other request under the key: error = %v, want idempotency_conflict", round, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("round %d: replay of the original request: error = %v, want its original result", round, err)
				}
				if r := results[i]; !r.Replayed || r.OpID != orig.OpID {
					t.Fatalf("round %d: replay = %+v, want the original %+v", round, r, orig)
				}
			}
		}
		if got, want := balance(t, f.l, f.fanCoins), fanfare.Amount(10000-20*10); got != want {
			t.Fatalf("Balance(fan) = %d, want %d", got, want)
		}
		mustVerify(t, f.l)
	})
}

// TestHoldIDRaceAcrossCommitters creates one hold id through two committers
// on one database at once, as two nodes would when a client retries on
// another node: one creation wins, the other is a replay (same key) or
// invalid_state (another key), and nothing fails as internal.
func TestHoldIDRaceAcrossCommitters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		g := setup(t, db, ledger.Options{})
		creatorCoins := must(t)(f.l.UserAccount(ctx, "creator", fanfare.Coin))
		f.grant(t, f.fanCoins, 1000)
		created := 0
		for round := range 20 {
			id := fmt.Sprintf("race-%d", round)
			op := func(key string) ledger.Op {
				return ledger.Op{Kind: "shoutout_hold", Object: "shoutout:race", Actor: "fan",
					Hold: &ledger.HoldOp{Action: ledger.HoldCreate, ID: id, Debit: f.fanCoins, Credit: creatorCoins, Amount: 1},
					Idem: &ledger.Idempotency{Scope: "fan", Key: key, Hash: "create " + id}}
			}
			keys := [2]string{id, id} // a retry of one request
			if round%2 == 1 {
				keys = [2]string{id + "-a", id + "-b"} // two requests
			}
			var errs [2]error
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, l := range [2]*ledger.Ledger{f.l, g.l} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = l.Submit(ctx, op(keys[i]))
				}()
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch fanfare.ErrorCode(err) {
				case "":
					ok++
				case fanfare.EInvalidState:
				default:
					t.Fatalf("round %d: create hold %s from two nodes: error = %v, want success or invalid_state", round, id, err)
				}
			}
			if round%2 == 1 && ok != 1 {
				t.Fatalf("round %d: %d of two requests created hold %s, want exactly one", round, ok, id)
			}
			created++
		}
		if got, want := balance(t, f.l, f.fanCoins), fanfare.Amount(1000-created); got != want {
			t.Fatalf("Balance(fan) = %d, want %d", got, want)
		}
		mustVerify(t, f.l)
	})
}

// TestClawbackLegDoesNotCoverSpending puts a clawback leg and a spending
// leg on one account in one operation: the clawback may go below zero, the
// spending may not (rule 3).
func TestClawbackLegDoesNotCoverSpending(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 10)
		_, err := f.l.Submit(ctx, ledger.Op{Kind: ledger.KindChargeback, Actor: "fan", Legs: []ledger.Leg{
			{Debit: f.fanCoins, Credit: f.revenue, Amount: 100},
			{Debit: f.fanCoins, Credit: f.promo, Amount: 1, AllowNegative: true},
		}})
		wantCode(t, err, fanfare.EInsufficientFunds)
		if got := balance(t, f.l, f.fanCoins); got != 10 {
			t.Fatalf("Balance(fan) = %d, want 10", got)
		}
		mustVerify(t, f.l)
	})
}

// TestLegsCannotWrapBalances sends one operation whose legs add up to more
// than an int64 holds: it must be refused, not wrapped around into a small
// credit.
func TestLegsCannotWrapBalances(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		// 2048 * (2^53-1) = 2^64 - 2048: the fan "spends" that many coins
		// out of an empty wallet and, wrapped, is credited 2048.
		legs := make([]ledger.Leg, 2048)
		for i := range legs {
			legs[i] = ledger.Leg{Debit: f.fanCoins, Credit: f.revenue, Amount: fanfare.MaxAmount}
		}
		_, err := f.l.Submit(ctx, ledger.Op{Kind: "gift", Actor: "fan", Legs: legs})
		if err == nil {
			t.Errorf("an empty wallet spent 2048 * %d coins; Balance(fan) = %d, Balance(revenue) = %d", fanfare.MaxAmount,
				balance(t, f.l, f.fanCoins), balance(t, f.l, f.revenue))
		} else if c := fanfare.ErrorCode(err); c != fanfare.EInvalid && c != fanfare.EInsufficientFunds {
			t.Errorf("error = %v, want validation_failed or insufficient_funds", err)
		}
		if got := balance(t, f.l, f.fanCoins); got != 0 {
			t.Errorf("Balance(fan) = %d, want 0", got)
		}
		mustVerify(t, f.l)
	})
}

// TestHoldCreateChecksParties creates holds whose payee does not exist,
// holds another asset, or whose payer or payee is the escrow account itself:
// each is refused as a business failure when created, not accepted (to fail
// on every post) nor failed as internal.
func TestHoldCreateChecksParties(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 100)
		escrow := must(t)(f.l.SystemAccount(ctx, ledger.Escrow, fanfare.Coin))
		cases := []struct {
			name          string
			debit, credit ledger.AccountID
			code          string
		}{
			{"unknown payee", f.fanCoins, 1 << 40, fanfare.ENotFound},
			{"payee holds diamonds", f.fanCoins, f.creatorDiams, fanfare.EInvalid},
			{"escrow as payee", f.fanCoins, escrow, fanfare.EInvalid},
			{"escrow as payer", escrow, f.fanCoins, fanfare.EInvalid},
		}
		for _, tc := range cases {
			_, err := f.l.Submit(ctx, ledger.Op{Kind: "shoutout_hold", Actor: "fan",
				Hold: &ledger.HoldOp{Action: ledger.HoldCreate, Debit: tc.debit, Credit: tc.credit, Amount: 5}})
			if got := fanfare.ErrorCode(err); got != tc.code {
				t.Errorf("%s: error = %v (code %q), want code %q", tc.name, err, got, tc.code)
			}
		}
	})
}

// TestBadHoldFailsAlone sends a hold to an unknown payee in the same batch as
// good operations: it fails alone, and the others commit.
func TestBadHoldFailsAlone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 1000)
		var wg sync.WaitGroup
		errs := make([]error, 20)
		start := make(chan struct{})
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				op := f.gift(f.fanCoins, 10, fmt.Sprintf("gift-%d", i))
				if i == 0 {
					op = ledger.Op{Kind: "shoutout_hold", Actor: "fan",
						Hold: &ledger.HoldOp{Action: ledger.HoldCreate, Debit: f.fanCoins, Credit: 1 << 40, Amount: 5}}
				}
				<-start
				_, errs[i] = f.l.Submit(ctx, op)
			}()
		}
		close(start)
		wg.Wait()
		if c := fanfare.ErrorCode(errs[0]); c != fanfare.ENotFound {
			t.Errorf("hold to an unknown payee: error = %v, want not_found", errs[0])
		}
		failed := 0
		for _, err := range errs[1:] {
			if err != nil {
				failed++
				t.Logf("gift beside the bad hold: %v", err)
			}
		}
		if failed > 0 {
			t.Errorf("%d of %d gifts failed beside a bad hold, want 0", failed, len(errs)-1)
		}
		mustVerify(t, f.l)
	})
}

// TestEscrowMovesOnlyThroughHolds moves coins into and out of the escrow
// account with plain legs: escrow must keep exactly the pending holds
// (rule 5), so the ledger refuses them.
func TestEscrowMovesOnlyThroughHolds(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		escrow := must(t)(f.l.SystemAccount(ctx, ledger.Escrow, fanfare.Coin))
		_, err := f.l.Submit(ctx, ledger.Op{Kind: "grant", Actor: "ops", Legs: []ledger.Leg{{Debit: f.promo, Credit: escrow, Amount: 5}}})
		if got := fanfare.ErrorCode(err); got != fanfare.EInvalid {
			t.Errorf("grant into escrow: error = %v, want validation_failed", err)
		}
		_, err = f.l.Submit(ctx, ledger.Op{Kind: "grant", Actor: "ops", Legs: []ledger.Leg{{Debit: escrow, Credit: f.fanCoins, Amount: 5}}})
		if got := fanfare.ErrorCode(err); got != fanfare.EInvalid {
			t.Errorf("pay out of escrow: error = %v, want validation_failed", err)
		}
		mustVerify(t, f.l)
	})
}

// TestSubmitLeavesCallerHoldAlone submits one Op twice, as a caller reusing a
// template would: Submit takes the Op by value and must not write the hold
// id it assigns into the caller's HoldOp (which also races when one Op is
// submitted from two goroutines).
func TestSubmitLeavesCallerHoldAlone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		creatorCoins := must(t)(f.l.UserAccount(ctx, "creator", fanfare.Coin))
		f.grant(t, f.fanCoins, 100)
		op := ledger.Op{Kind: "shoutout_hold", Actor: "fan",
			Hold: &ledger.HoldOp{Action: ledger.HoldCreate, Debit: f.fanCoins, Credit: creatorCoins, Amount: 10}}
		first, err := f.l.Submit(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		if op.Hold.ID != "" {
			t.Errorf("after Submit, the caller's HoldOp.ID = %q, want it left empty", op.Hold.ID)
		}
		second, err := f.l.Submit(ctx, op)
		if err != nil {
			t.Fatalf("second hold from the same Op: %v", err)
		}
		if first.HoldID == second.HoldID {
			t.Fatalf("two holds got one id %s", first.HoldID)
		}
		mustVerify(t, f.l)
	})
}

// TestReplayDoesNotRunEffectAgain replays an operation whose effect writes a
// row named after the request, as a feature's effect does: the replay must
// answer the stored result, whether it comes alone, beside its original in
// one batch, or through another committer at the same time.
func TestReplayDoesNotRunEffectAgain(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db, ledger.Options{})
		g := setup(t, db, ledger.Options{})
		f.grant(t, f.fanCoins, 1000)
		gift := func(key string) ledger.Op {
			op := f.gift(f.fanCoins, 10, key)
			op.Effect = func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (id, actor, action, object, details, created_at) VALUES ($1, 'fan', 'gift', $2, '{}', 0)`, "gift:"+key, r.OpID)
				return err
			}
			return op
		}
		// Alone, after the original.
		orig, err := f.l.Submit(ctx, gift("alone"))
		if err != nil {
			t.Fatal(err)
		}
		again, err := f.l.Submit(ctx, gift("alone"))
		if err != nil {
			t.Errorf("replay after the original: error = %v, want the original result", err)
		} else if !again.Replayed || again.OpID != orig.OpID {
			t.Errorf("replay after the original = %+v, want the original %+v", again, orig)
		}
		// At once, through two committers. Each round's request commits
		// once, whatever its replay answers.
		const rounds = 10
		for round := range rounds {
			key := fmt.Sprintf("twice-%d", round)
			var res [2]*ledger.Result
			var errs [2]error
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, l := range [2]*ledger.Ledger{f.l, g.l} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					res[i], errs[i] = l.Submit(ctx, gift(key))
				}()
			}
			close(start)
			wg.Wait()
			if errs[0] != nil || errs[1] != nil {
				t.Errorf("round %d: one request through two committers at once: errors %v and %v, want both answered", round, errs[0], errs[1])
				continue
			}
			if res[0].OpID != res[1].OpID || res[0].Replayed == res[1].Replayed {
				t.Errorf("round %d: results %+v and %+v, want one operation, answered once fresh and once replayed", round, res[0], res[1])
			}
		}
		const committed = 1 + rounds
		if got, want := balance(t, f.l, f.fanCoins), fanfare.Amount(1000-10*committed); got != want {
			t.Errorf("Balance(fan) = %d, want %d", got, want)
		}
		var rows int
		if err := db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE action = 'gift'`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != committed {
			t.Errorf("%d effect rows, want %d (one per operation)", rows, committed)
		}
		mustVerify(t, f.l)
	})
}
