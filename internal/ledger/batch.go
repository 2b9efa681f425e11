package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
)

// One batch's transaction, in the order try runs its steps:
//
//  1. load: lock and read the holds, then the accounts, the batch touches;
//  2. storedKeys: find the replays among the operations with an effect;
//  3. applyAll: for each operation in turn, apply the money rules
//     (rules.go) to the batch's running state, then run its Writes (sent
//     in groups, see flush) or its Effect (on its own, in a savepoint),
//     and record its answer under its idempotency key (finish);
//  4. write: the balances, the transfers, the daily and supporter totals,
//     the holds and the idempotency records, each in bulk through the
//     dialect's writer;
//  5. commit.
//
// Where several processes share the database (writer.shared), a first
// attempt keeps its hot rows for last: load locks only the accounts whose
// balance matters (what the batch debits, and credits without
// Leg.CreditLast) and reads the others unlocked (the system accounts, the
// creators' earnings); step 4 writes the transfers, holds and idempotency
// records, then sendLast sends the balances (locking the rest in id
// order), the Write.Last statements, the daily and supporter totals and
// the COMMIT in one round trip. A batch of another node that credits the
// same creator then waits for that round trip's work on the server, not
// for this one's whole transaction.

// batch is one attempt at committing a set of operations in one
// transaction, and the state it builds on the way.
type batch struct {
	w   writer
	tx  *batchTx
	ops []*pending
	// savepoints puts each operation's Writes between a savepoint and its
	// release, so that a failing write fails its operation alone.
	savepoints bool
	// hotLast keeps the hot rows for the last round trip (see above);
	// lastWrites are the Write.Last statements it then sends.
	hotLast    bool
	lastWrites []store.Stmt
	system     func(AccountID) bool // Ledger.isSystem
	clock      fanfare.Clock        // makes the operations' ids
	now        time.Time
	nowJSON    []byte
	buf        []byte // reused to encode results

	accts map[AccountID]*acct
	holds map[string]*hold

	rows              []transferRow
	idems             []idemRow
	created, resolved []*hold
	jobs              []store.Job // the jobs of the operations that passed

	// Operations without an Effect wait in group, applied to the batch's
	// state, until flush sends all their Writes (stmts) at once.
	group []staged
	stmts []store.Stmt
}

// staged is an operation of the group flush sends next.
type staged struct {
	at     int    // index in ops
	rows   int    // len(rows) before it
	undo   func() // takes it back out of the batch's state
	first  int    // index of its first statement (SAVEPOINT) in stmts
	writes []Write
}

// idemRow is an idempotency record the batch inserts.
type idemRow struct {
	scope, key, hash, result string
}

// errRaced says another node's batch created a hold this batch meant to
// create, after this batch loaded its holds: the batch is run again.
var errRaced = errors.New("hold created concurrently")

// errEffectFailed says a write of the batch failed where no savepoint
// could take back its operation alone: the batch is run again with them.
var errEffectFailed = errors.New("an operation's write failed")

// try runs ops in one transaction. It returns the operations whose
// idempotency key turned out to be committed already (the transaction is then
// rolled back and nothing is answered), or an error that fails the whole
// batch. Otherwise it fills in every operation's result and commits.
func (c *committer) try(ctx context.Context, w writer, ops []*pending, savepoints bool) (conflicted []*pending, err error) {
	if len(ops) == 0 {
		return nil, nil
	}
	conn, err := w.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { w.release(conn, err) }()
	end, err := w.begin(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer end()
	sqlTx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			sqlTx.Rollback()
		}
	}()
	now := c.l.clock.Now().UTC()
	nowJSON, _ := now.MarshalJSON()
	b := &batch{
		w:          w,
		tx:         &batchTx{Tx: sqlTx, conn: conn, db: c.l.db},
		ops:        ops,
		savepoints: savepoints,
		hotLast:    !savepoints && w.shared(),
		system:     c.l.isSystem,
		clock:      c.l.clock,
		now:        now,
		nowJSON:    nowJSON,
		buf:        make([]byte, 0, 256),
	}
	if err := b.load(ctx); err != nil {
		return nil, err
	}
	// A replay whose original is already committed must not run its
	// effect again: answer it from the store instead.
	if done, err := b.storedKeys(ctx); err != nil {
		return nil, err
	} else if len(done) > 0 {
		return done, nil
	}
	if err := b.applyAll(ctx); err != nil {
		return nil, err
	}
	if conflicted, err := b.write(ctx); err != nil || len(conflicted) > 0 {
		return conflicted, err
	}
	if len(b.jobs) > 0 {
		if err := c.l.opts.Jobs.InsertManyTx(ctx, sqlTx, b.jobs); err != nil {
			return nil, fmt.Errorf("schedule the batch's jobs: %w", err)
		}
	}
	if b.hotLast {
		if err := b.sendLast(ctx); err != nil {
			return nil, err
		}
		committed = true
		// The COMMIT went with the hot rows: this only ends database/sql's
		// transaction (PostgreSQL answers with a warning, no transaction
		// in progress). The batch is committed whatever it answers.
		sqlTx.Commit()
		return nil, nil
	}
	if err := sqlTx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil, nil
}

// load locks and reads the batch's holds, then its accounts (lock order:
// holds, then accounts, each by id; idempotency keys last).
func (b *batch) load(ctx context.Context) error {
	var err error
	if b.holds, err = b.loadHolds(ctx); err != nil {
		return err
	}
	b.accts, err = b.loadAccounts(ctx)
	return err
}

func (b *batch) loadHolds(ctx context.Context) (map[string]*hold, error) {
	holds := map[string]*hold{}
	var ids []string
	for _, p := range b.ops {
		if h := p.op.Hold; h != nil {
			ids = append(ids, h.ID)
		}
	}
	if len(ids) == 0 {
		return holds, nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	rs, err := b.w.lockHolds(ctx, b.tx, ids)
	if err != nil {
		return nil, fmt.Errorf("load holds: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		h := &hold{}
		if err := rs.Scan(&h.id, &h.debit, &h.credit, &h.escrow, &h.amount, &h.state); err != nil {
			return nil, fmt.Errorf("load holds: %w", err)
		}
		holds[h.id] = h
	}
	return holds, rs.Err()
}

func (b *batch) loadAccounts(ctx context.Context) (map[AccountID]*acct, error) {
	ids := make([]int64, 0, 2*len(b.ops)+8)
	for _, p := range b.ops {
		for _, g := range p.op.Legs {
			ids = append(ids, int64(g.Debit), int64(g.Credit))
		}
		if h := p.op.Hold; h != nil {
			if h.Action == HoldCreate {
				ids = append(ids, int64(h.Debit), int64(h.Credit), int64(p.escrow))
			} else if hs := b.holds[h.ID]; hs != nil {
				ids = append(ids, int64(hs.debit), int64(hs.credit), int64(hs.escrow))
			}
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	accts := make(map[AccountID]*acct, len(ids))
	locked, last := ids, []int64(nil)
	if b.hotLast {
		locked, last = b.splitLast(ids)
	}
	for _, part := range []struct {
		ids  []int64
		lock bool
	}{{locked, true}, {last, false}} {
		if len(part.ids) == 0 {
			continue
		}
		if err := b.readAccounts(ctx, part.ids, part.lock, accts); err != nil {
			return nil, err
		}
	}
	return accts, nil
}

// splitLast splits the batch's accounts (ids) into those it locks now and
// those it credits last (see the top of this file): the system accounts
// and the Leg.CreditLast credits, unless the batch also debits them (a
// user account), credits them otherwise, or its holds name them.
func (b *batch) splitLast(ids []int64) (now, last []int64) {
	early := map[AccountID]bool{}
	for _, p := range b.ops {
		for _, g := range p.op.Legs {
			if !b.system(g.Debit) {
				early[g.Debit] = true
			}
			if !g.CreditLast && !b.system(g.Credit) {
				early[g.Credit] = true
			}
		}
		if h := p.op.Hold; h != nil {
			early[h.Debit], early[h.Credit], early[p.escrow] = true, true, true
			if hs := b.holds[h.ID]; hs != nil {
				early[hs.debit], early[hs.credit], early[hs.escrow] = true, true, true
			}
		}
	}
	for _, id := range ids {
		if early[AccountID(id)] {
			now = append(now, id)
		} else {
			last = append(last, id)
		}
	}
	return now, last
}

// readAccounts reads the accounts of ids into accts, locking them if lock.
func (b *batch) readAccounts(ctx context.Context, ids []int64, lock bool, accts map[AccountID]*acct) error {
	rs, err := b.w.lockAccounts(ctx, b.tx, ids, lock)
	if err != nil {
		return fmt.Errorf("load accounts: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id AccountID
		var owner, asset string
		a := &acct{last: !lock}
		if err := rs.Scan(&id, &owner, &asset, &a.system, &a.balance, &a.frozen); err != nil {
			return fmt.Errorf("load accounts: %w", err)
		}
		a.asset = fanfare.Asset(asset)
		a.escrow = owner == escrowOwner
		accts[id] = a
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("load accounts: %w", err)
	}
	return nil
}

// storedKeys returns the operations with an effect whose idempotency key
// is already stored. Operations without an effect need no such query: the
// key's unique index catches their replays when the batch inserts it.
func (b *batch) storedKeys(ctx context.Context) ([]*pending, error) {
	var scopes, keys []string
	for _, p := range b.ops {
		if p.op.hasEffect() && p.op.Idem != nil {
			scopes, keys = append(scopes, p.op.Idem.Scope), append(keys, p.op.Idem.Key)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	rs, err := b.w.storedKeys(ctx, b.tx, scopes, keys)
	if err != nil {
		return nil, fmt.Errorf("look up idempotency keys: %w", err)
	}
	defer rs.Close()
	found := map[[2]string]bool{}
	for rs.Next() {
		var k [2]string
		if err := rs.Scan(&k[0], &k[1]); err != nil {
			return nil, fmt.Errorf("look up idempotency keys: %w", err)
		}
		found[k] = true
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("look up idempotency keys: %w", err)
	}
	var done []*pending
	for _, p := range b.ops {
		if i := p.op.Idem; p.op.hasEffect() && i != nil && found[[2]string{i.Scope, i.Key}] {
			done = append(done, p)
		}
	}
	return done, nil
}

// applyAll decides every operation of the batch in order. Operations
// without an Effect are staged in a group whose Writes flush sends at
// once; an operation with an Effect flushes the group first and runs on its
// own. Writes rarely fail, so a first attempt sends them bare, and a write
// that fails sends the whole batch round again with savepoints set.
func (b *batch) applyAll(ctx context.Context) error {
	for i := 0; ; {
		if i == len(b.ops) || (b.ops[i].op.Effect != nil && len(b.group) > 0) {
			next, err := b.flush(ctx)
			if err != nil {
				return err
			}
			if next >= 0 {
				i = next
				continue
			}
			if i == len(b.ops) {
				return nil
			}
		}
		p := b.ops[i]
		n, undo := b.decide(p)
		if p.op.Effect == nil {
			b.stage(i, n, undo)
			i++
			continue
		}
		if err := b.runAlone(ctx, p, n, undo); err != nil {
			return err
		}
		i++
	}
}

// decide applies the money rules to p. On success it appends p's transfer
// rows, sets its result and returns the rows' start and what takes p back
// out; on failure it sets p.err and returns a nil undo.
func (b *batch) decide(p *pending) (n int, undo func()) {
	p.stored = false
	opID := fanfare.NewID(b.clock)
	n = len(b.rows)
	b.rows, undo, p.err = apply(p.op, p.escrow, opID, b.accts, b.holds, b.rows)
	if p.err == nil {
		p.res = &Result{OpID: opID, CreatedAt: b.now, Balances: balancesAfter(p.op, b.rows[n:], b.accts)}
	}
	return n, undo
}

// stage adds the operation at index i (without an Effect) to the group,
// failed or not: whether it fails may depend on the operations before it,
// which flush may still fail.
func (b *batch) stage(i, n int, undo func()) {
	p := b.ops[i]
	st := staged{at: i, rows: n, undo: undo, first: len(b.stmts)}
	if st.undo == nil {
		st.undo = func() {}
	}
	if p.err == nil && p.op.Writes != nil {
		st.writes = p.op.Writes(p.res)
		if b.savepoints {
			b.stmts = append(b.stmts, store.Stmt{SQL: sqlSavepoint})
		}
		for _, w := range st.writes {
			s := store.Stmt{SQL: w.SQL, Args: w.Args, Check: w.Fail != nil}
			if w.Last && b.hotLast {
				b.lastWrites = append(b.lastWrites, s)
				continue
			}
			b.stmts = append(b.stmts, s)
		}
		if b.savepoints {
			b.stmts = append(b.stmts, store.Stmt{SQL: sqlReleaseSavepoint})
		}
	}
	b.group = append(b.group, st)
}

// runAlone runs p's Writes and Effect, if p passed the rules, and records
// its outcome.
func (b *batch) runAlone(ctx context.Context, p *pending, n int, undo func()) error {
	if p.err == nil {
		if p.err = runEffect(ctx, b.tx, p); p.err != nil {
			undo()
		}
	}
	if p.err != nil {
		b.rows = b.rows[:n]
	}
	return b.finish(p)
}

// flush runs the group's statements. If an operation's write fails, the
// operations before it are done, it fails, and the ones after it (whose
// statements never ran) are taken back from the batch's state: flush
// returns the index in ops to go on from, or -1.
func (b *batch) flush(ctx context.Context) (int, error) {
	if len(b.group) == 0 {
		return -1, nil
	}
	defer func() { b.group, b.stmts = b.group[:0], b.stmts[:0] }()
	tx := b.tx
	at, werr := tx.db.Pipeline(ctx, tx.conn, tx.Tx, b.stmts)
	if at < 0 && werr != nil {
		return -1, werr
	}
	if at >= 0 && !b.savepoints {
		return -1, errEffectFailed
	}
	j := len(b.group)
	if at >= 0 {
		j = sort.Search(len(b.group), func(k int) bool { return b.group[k].first > at }) - 1
	}
	for _, g := range b.group[:j] {
		if err := b.finish(b.ops[g.at]); err != nil {
			return -1, err
		}
	}
	if j == len(b.group) {
		return -1, nil
	}
	for k := len(b.group) - 1; k >= j; k-- {
		b.group[k].undo()
	}
	g := b.group[j]
	b.rows = b.rows[:g.rows]
	if _, err := tx.db.TxExec(ctx, tx.Tx, sqlRollbackSavepoint); err != nil {
		return -1, fmt.Errorf("roll back an effect: %w", errors.Join(werr, err))
	}
	if _, err := tx.db.TxExec(ctx, tx.Tx, sqlReleaseSavepoint); err != nil {
		return -1, fmt.Errorf("roll back an effect: %w", err)
	}
	p := b.ops[g.at]
	p.err = werr
	if w := at - g.first - 1; errors.Is(werr, store.ErrNoRow) && w >= 0 && w < len(g.writes) && g.writes[w].Fail != nil {
		if p.err = g.writes[w].Fail(ctx, tx.Tx); p.err == nil {
			p.err = fmt.Errorf("write %d of a %s operation changed no row", w, p.op.Kind)
		}
	}
	if err := b.finish(p); err != nil {
		return -1, err
	}
	return g.at + 1, nil
}

// finish records p's outcome in the batch: its holds, and its result
// under its idempotency key.
func (b *batch) finish(p *pending) error {
	if p.err != nil {
		p.res = &Result{CreatedAt: b.now, Err: asError(p.err)}
		if p.res.Err.Code == fanfare.EInternal {
			return nil // not a business answer: a retry must run again
		}
	} else {
		if p.op.Jobs != nil {
			b.jobs = append(b.jobs, p.op.Jobs(p.res)...)
		}
		if h := p.op.Hold; h != nil {
			p.res.HoldID = h.ID
			hs := b.holds[h.ID]
			if h.Action == HoldCreate {
				b.created = append(b.created, hs)
			} else {
				b.resolved = append(b.resolved, hs)
			}
		}
	}
	if i := p.op.Idem; i != nil {
		enc, err := p.res.appendJSON(b.buf[:0], b.nowJSON)
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		b.buf = enc
		b.idems = append(b.idems, idemRow{i.Scope, i.Key, i.Hash, string(enc)})
		p.stored = true
	}
	return nil
}

// write writes what the batch decided: balances, transfers, holds and
// idempotency records. It returns the operations whose idempotency key
// another batch committed first (then nothing is answered and the caller
// rolls back).
func (b *batch) write(ctx context.Context) (conflicted []*pending, err error) {
	if !b.hotLast {
		if err := b.writeBalances(ctx); err != nil {
			return nil, err
		}
	}
	if len(b.rows) > 0 {
		if err := b.w.insertTransfers(ctx, b.tx, b.rows, b.now.UnixMicro()); err != nil {
			return nil, fmt.Errorf("insert transfers: %w", err)
		}
		if !b.hotLast {
			if err := b.writeTotals(ctx); err != nil {
				return nil, err
			}
		}
	}
	if err := b.writeHolds(ctx); errors.Is(err, errRaced) {
		for _, p := range b.ops {
			p.res, p.err = nil, nil
		}
		return nil, err
	} else if err != nil {
		return nil, err
	}
	inserted, err := b.insertIdempotency(ctx)
	if err != nil {
		return nil, err
	}
	if len(inserted) < len(b.idems) {
		for _, p := range b.ops {
			if i := p.op.Idem; p.stored && !inserted[[2]string{i.Scope, i.Key}] {
				conflicted = append(conflicted, p)
			}
		}
		for _, p := range b.ops {
			p.res, p.err = nil, nil
		}
		return conflicted, nil
	}
	return nil, nil
}

// writeTotals adds the batch's transfers to the daily and supporter
// totals.
func (b *batch) writeTotals(ctx context.Context) error {
	if err := b.writeDays(ctx); err != nil {
		return err
	}
	return b.writeSupporters(ctx)
}

// sendLast sends the hot rows' statements and the COMMIT in one round
// trip: the balances (the accounts read unlocked are locked first, in id
// order), the Write.Last statements, the daily and supporter totals. The
// locks are thus held for as long as PostgreSQL takes to run them and
// commit, however long this process then takes to read the answer. A Last
// write whose check fails (the transaction then stops there, uncommitted)
// runs the batch again with savepoints and every write in place
// (errEffectFailed).
func (b *batch) sendLast(ctx context.Context) error {
	var stmts []store.Stmt
	b.tx.last = &stmts
	err := b.writeBalances(ctx)
	if err == nil {
		stmts = append(stmts, b.lastWrites...)
		if len(b.rows) > 0 {
			err = b.writeTotals(ctx)
		}
	}
	b.tx.last = nil
	if err != nil {
		return err
	}
	stmts = append(stmts, store.Stmt{SQL: "COMMIT"})
	at, err := b.tx.db.Pipeline(ctx, b.tx.conn, b.tx.Tx, stmts)
	switch {
	case err == nil:
		return nil
	case at >= 0 && errors.Is(err, store.ErrNoRow):
		return errEffectFailed
	default:
		return fmt.Errorf("write the hot rows: %w", err)
	}
}

// writeDays adds the batch's transfers to the daily totals of the users'
// diamond accounts (a creator's earnings; see Days) and of the system
// accounts (the platform's figures; see PlatformDays), one row per
// account and kind.
func (b *batch) writeDays(ctx context.Context) error {
	type key struct {
		account AccountID
		kind    string
	}
	var users, system map[key]*dayRow
	add := func(id AccountID, kind string, credited, debited int64) {
		a := b.accts[id]
		var sums *map[key]*dayRow
		switch {
		case a == nil:
			return
		case a.system:
			sums = &system
		case a.asset == fanfare.Diamond:
			sums = &users
		default:
			return
		}
		if *sums == nil {
			*sums = map[key]*dayRow{}
		}
		k := key{id, kind}
		r := (*sums)[k]
		if r == nil {
			r = &dayRow{account: int64(id), kind: kind}
			(*sums)[k] = r
		}
		r.credited += credited
		r.debited += debited
	}
	for _, r := range b.rows {
		add(r.credit, r.kind, r.amount, 0)
		add(r.debit, r.kind, 0, r.amount)
	}
	for _, t := range []struct {
		table string
		sums  map[key]*dayRow
	}{{userDays, users}, {platformDays, system}} {
		if len(t.sums) == 0 {
			continue
		}
		rows := make([]dayRow, 0, len(t.sums))
		for _, r := range t.sums {
			rows = append(rows, *r)
		}
		slices.SortFunc(rows, func(x, y dayRow) int { // one order for every batch: no deadlock between nodes
			return cmp.Or(cmp.Compare(x.account, y.account), cmp.Compare(x.kind, y.kind))
		})
		if err := b.w.addDays(ctx, b.tx, t.table, rows, DayOf(b.now), b.now.UnixMicro()); err != nil {
			return fmt.Errorf("add daily totals: %w", err)
		}
	}
	return nil
}

// DayOf is the day of t as account_days counts it: days since 1970-01-01,
// UTC.
func DayOf(t time.Time) int64 {
	return t.UnixMicro() / microsPerDay
}

const microsPerDay = 86_400_000_000

// writeBalances adds each account's net change of the batch, in id order.
func (b *batch) writeBalances(ctx context.Context) error {
	ids := make([]int64, 0, len(b.accts))
	for id, a := range b.accts {
		if a.delta != 0 {
			ids = append(ids, int64(id))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	deltas := make([]int64, len(ids))
	for i, id := range ids {
		deltas[i] = b.accts[AccountID(id)].delta
	}
	if err := b.w.addBalances(ctx, b.tx, ids, deltas); err != nil {
		return fmt.Errorf("update balances: %w", err)
	}
	return nil
}

// writeHolds inserts the holds the batch created and resolves the ones it
// posted or voided. Holds are inserted pending; one resolved in the same
// batch is updated right after, like any other. A hold id that another
// node's batch created since this one loaded its holds is not inserted: the
// batch is run again (errRaced) and sees it.
func (b *batch) writeHolds(ctx context.Context) error {
	at := b.now.UnixMicro()
	for _, h := range b.created {
		res, err := b.tx.ExecContext(ctx, `INSERT INTO holds (id, debit_account_id, credit_account_id, escrow_account_id, amount, state, kind, object, created_op_id, created_at)
			VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
			h.id, int64(h.debit), int64(h.credit), int64(h.escrow), h.amount, h.kind, h.object, h.createdOp, at)
		if err != nil {
			return fmt.Errorf("insert hold: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("insert hold: %w", err)
		} else if n == 0 {
			return errRaced
		}
	}
	for _, h := range b.resolved {
		res, err := b.tx.ExecContext(ctx, `UPDATE holds SET state = $1, resolved_op_id = $2, resolved_at = $3 WHERE id = $4 AND state = 'pending'`,
			h.state, h.resolvedOp, at, h.id)
		if err != nil {
			return fmt.Errorf("resolve hold: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("resolve hold %s: %d rows changed", h.id, n)
		}
	}
	return nil
}

// insertIdempotency inserts the batch's idempotency records and returns the
// keys it inserted; a key missing from the answer was committed before.
func (b *batch) insertIdempotency(ctx context.Context) (map[[2]string]bool, error) {
	inserted := make(map[[2]string]bool, len(b.idems))
	if len(b.idems) == 0 {
		return inserted, nil
	}
	slices.SortFunc(b.idems, func(x, y idemRow) int { return cmp.Or(cmp.Compare(x.scope, y.scope), cmp.Compare(x.key, y.key)) })
	if err := b.w.insertIdempotency(ctx, b.tx, b.idems, b.now.UnixMicro(), inserted); err != nil {
		return nil, fmt.Errorf("insert idempotency keys: %w", err)
	}
	return inserted, nil
}

// The savepoint statements around every effect, prepared once (Open).
const (
	sqlSavepoint         = `SAVEPOINT op_effect`
	sqlRollbackSavepoint = `ROLLBACK TO SAVEPOINT op_effect`
	sqlReleaseSavepoint  = `RELEASE SAVEPOINT op_effect`
)

// runEffect runs the operation's Writes and Effect inside a savepoint of
// the batch, so that an effect that fails undoes only its own writes.
func runEffect(ctx context.Context, tx *batchTx, p *pending) error {
	if _, err := tx.db.TxExec(ctx, tx.Tx, sqlSavepoint); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	err := runWrites(ctx, tx, p)
	if err == nil {
		err = p.op.Effect(ctx, tx.Tx, p.res)
	}
	if err != nil {
		if _, rerr := tx.db.TxExec(ctx, tx.Tx, sqlRollbackSavepoint); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	if _, rerr := tx.db.TxExec(ctx, tx.Tx, sqlReleaseSavepoint); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// runWrites runs p's Writes, if any, in tx (inside runEffect's savepoint).
func runWrites(ctx context.Context, tx *batchTx, p *pending) error {
	if p.op.Writes == nil {
		return nil
	}
	ws := p.op.Writes(p.res)
	stmts := make([]store.Stmt, len(ws))
	for i, w := range ws {
		stmts[i] = store.Stmt{SQL: w.SQL, Args: w.Args, Check: w.Fail != nil}
	}
	at, err := tx.db.Pipeline(ctx, tx.conn, tx.Tx, stmts)
	if err == nil {
		return nil
	}
	if at >= 0 && errors.Is(err, store.ErrNoRow) && ws[at].Fail != nil {
		// Explain from the state before the operation's writes.
		if _, rerr := tx.db.TxExec(ctx, tx.Tx, sqlRollbackSavepoint); rerr != nil {
			return errors.Join(err, rerr)
		}
		return ws[at].Fail(ctx, tx.Tx)
	}
	return err
}

// asError returns err's business error, or internal for any other error.
func asError(err error) *fanfare.Error {
	var e *fanfare.Error
	if errors.As(err, &e) {
		return e
	}
	return fanfare.Errorf(fanfare.EInternal, "internal error")
}
