package ledger

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
)

// The committer is the ledger's single writer per process. Callers hand it
// operations; it groups whatever is waiting into one database transaction
// (group commit), checks each operation's debits on its own against the
// batch's running balances, writes the balances once per account, inserts the
// transfer and idempotency rows in bulk, commits, and only then answers.
//
// On PostgreSQL several processes may run committers on one database: each
// batch locks its holds and then its accounts in id order (FOR NO KEY UPDATE)
// before reading them, so batches of different nodes serialize per account
// and cannot deadlock; idempotency keys are unique in the database, and a key
// that another batch committed first sends its operation down the replay path.
type committer struct {
	l    *Ledger
	in   chan *pending
	done chan struct{}
	mu   sync.RWMutex
	shut bool
	// stmts keeps SQLite's bulk statements prepared; only the committer
	// goroutine uses it.
	stmts stmtCache
	// own is the committer goroutine's own connection (PostgreSQL).
	own *sql.Conn
	// SQLite: committed batches waiting for the WAL fsync (see syncLoop).
	toSync chan []*pending
	synced chan struct{}
}

type pending struct {
	op     *Op
	escrow AccountID // HoldCreate: the escrow account of the held asset
	res    *Result
	err    error
	done   chan struct{}
	dups   []*pending // later operations of the batch with the same idempotency key
	stored bool       // its idempotency record is in the batch
}

// escrowOwner owns the escrow accounts.
const escrowOwner = "system:" + Escrow

// errRaced says another node's batch created a hold this batch meant to
// create, after this batch loaded its holds: the batch is run again.
var errRaced = errors.New("hold created concurrently")

// errEffectFailed says a write of the batch failed where no savepoint
// could take back its operation alone: the batch is run again with them.
var errEffectFailed = errors.New("an operation's write failed")

// errShutdown is returned to operations submitted after Close.
var errShutdown = fanfare.Errorf(fanfare.EUnavailable, "the server is shutting down; retry with the same Idempotency-Key")

func newCommitter(ctx context.Context, l *Ledger) (*committer, error) {
	c := &committer{
		l:    l,
		in:   make(chan *pending, 4*l.opts.MaxBatch),
		done: make(chan struct{}),
	}
	// With group commit off (MaxBatch 1) every operation waits for its own
	// fsync, as the baseline it is meant to be.
	if l.db.Dialect == store.SQLite && l.opts.MaxBatch > 1 {
		c.toSync, c.synced = make(chan []*pending), make(chan struct{})
		go c.syncLoop()
	}
	go c.run()
	return c, nil
}

func (c *committer) submit(ctx context.Context, op *Op) (*Result, error) {
	p := &pending{op: op, done: make(chan struct{})}
	if h := op.Hold; h != nil && h.Action == HoldCreate {
		a, err := c.l.Account(ctx, h.Debit)
		if err != nil {
			return nil, err
		}
		if p.escrow, err = c.l.SystemAccount(ctx, Escrow, a.Asset); err != nil {
			return nil, err
		}
	}
	c.mu.RLock()
	if c.shut {
		c.mu.RUnlock()
		return nil, errShutdown
	}
	select {
	case c.in <- p:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return nil, ctx.Err()
	}
	// Once accepted, an operation is committed or failed by the committer
	// even if the caller goes away; the caller waits for the answer so that
	// an acknowledged request is always a durable one.
	<-p.done
	return p.res, p.err
}

func (c *committer) close() error {
	c.mu.Lock()
	if !c.shut {
		c.shut = true
		close(c.in)
	}
	c.mu.Unlock()
	<-c.done
	if c.own != nil {
		c.own.Close()
		c.own = nil
	}
	return c.stmts.close(c.l.db)
}

func (c *committer) run() {
	defer close(c.done)
	if c.toSync != nil {
		defer func() {
			close(c.toSync)
			<-c.synced
		}()
	}
	max := c.l.opts.MaxBatch
	batch := make([]*pending, 0, max)
	for {
		p, ok := <-c.in
		if !ok {
			return
		}
		batch = append(batch[:0], p)
		c.drain(&batch, max)
		c.commit(batch)
	}
}

// drain moves the queued operations into batch, up to max, without waiting.
// It reports false once the queue is closed.
func (c *committer) drain(batch *[]*pending, max int) bool {
	for len(*batch) < max {
		select {
		case p, ok := <-c.in:
			if !ok {
				return false
			}
			*batch = append(*batch, p)
		default:
			return true
		}
	}
	return true
}

// commit commits one batch and answers every operation in it.
func (c *committer) commit(batch []*pending) {
	start := time.Now()
	// Operations sharing an idempotency key: the first one runs, the others
	// get its answer (or a conflict if their request differs).
	leaders := make([]*pending, 0, len(batch))
	seen := map[[2]string]*pending{}
	for _, p := range batch {
		if i := p.op.Idem; i != nil {
			k := [2]string{i.Scope, i.Key}
			if first, ok := seen[k]; ok {
				first.dups = append(first.dups, p)
				continue
			}
			seen[k] = p
		}
		leaders = append(leaders, p)
	}

	ctx := context.Background()
	var replays []*pending
	var err error
	savepoints := false
	for attempt := 0; ; attempt++ {
		var conflicted []*pending
		conflicted, err = c.try(ctx, leaders, savepoints)
		if errors.Is(err, errRaced) && attempt < 8 {
			continue
		}
		if errors.Is(err, errEffectFailed) && !savepoints {
			savepoints = true
			continue
		}
		if err != nil || len(conflicted) == 0 {
			break
		}
		// Keys committed earlier (a replay that raced its original): run
		// the batch again without them and answer them from the store.
		replays = append(replays, conflicted...)
		leaders = slices.DeleteFunc(leaders, func(p *pending) bool { return slices.Contains(conflicted, p) })
		if attempt > 8 {
			err = fmt.Errorf("commit batch: idempotency conflicts did not settle")
			break
		}
	}
	failed := 0
	for _, p := range leaders {
		if err != nil {
			p.res, p.err = nil, fmt.Errorf("commit batch: %w", err)
		}
		if p.err != nil {
			failed++
		}
	}
	for _, p := range replays {
		p.res, p.err = c.l.lookupIdempotency(ctx, c.l.db.Write, p.op.Idem)
		if p.res == nil && p.err == nil {
			p.err = fmt.Errorf("idempotency key vanished during commit")
		}
	}
	if o := c.l.opts.Observer; o != nil {
		o.BatchCommitted(len(batch), failed, time.Since(start))
	}
	answer := make([]*pending, 0, len(batch))
	for _, p := range replays {
		// The key was committed before this batch: every request that
		// carries it is answered from the store, each against its own body.
		for _, d := range p.dups {
			d.res, d.err = c.l.lookupIdempotency(ctx, c.l.db.Write, d.op.Idem)
			answer = append(answer, d)
		}
		p.dups = nil
	}
	for _, p := range append(leaders, replays...) {
		for _, d := range p.dups {
			switch {
			case d.op.Idem.Hash != p.op.Idem.Hash:
				d.err = conflictError()
			case p.res != nil:
				r := *p.res
				r.Replayed = true
				d.res, d.err = &r, p.err
			default:
				d.err = p.err
			}
			answer = append(answer, d)
		}
		answer = append(answer, p)
	}
	if c.toSync != nil {
		c.toSync <- answer // answered once the WAL is on disk
		return
	}
	for _, p := range answer {
		close(p.done)
	}
}

// syncLoop makes committed batches durable and answers them (SQLite). The
// committer commits with synchronous=NORMAL, which writes the WAL without
// waiting for the disk, and goes on with the next batch while this loop
// fsyncs the WAL: one fsync covers every batch committed before it, and no
// caller hears back before its batch is on disk. A crash before the fsync
// loses only batches nobody was told about, and the WAL's checksums keep
// the database consistent.
func (c *committer) syncLoop() {
	defer close(c.synced)
	for group := range c.toSync {
	more:
		for {
			select {
			case g, ok := <-c.toSync:
				if !ok {
					break more
				}
				group = append(group, g...)
			default:
				break more
			}
		}
		err := c.l.db.SyncWAL()
		for _, p := range group {
			if err != nil && p.err == nil {
				p.res, p.err = nil, fmt.Errorf("make commit durable: %w", err)
			}
			close(p.done)
		}
	}
}

// acct is an account as the batch sees it.
type acct struct {
	asset   fanfare.Asset
	system  bool
	escrow  bool
	frozen  bool
	balance int64 // running balance within the batch
	delta   int64 // net change of the batch
}

type hold struct {
	id                    string
	debit, credit, escrow AccountID
	amount                int64
	state                 string
	kind, object          string
	createdOp, resolvedOp string
}

type transferRow struct {
	opID          string
	debit, credit AccountID
	amount        int64
	kind, object  string
	actor         string
	holdID        sql.NullString
	flags         int64
}

type idemRow struct {
	scope, key, hash, result string
}

// conn returns the connection for a batch. On PostgreSQL the committer
// keeps one for itself, so that a batch never waits for the pool the
// requests' reads share; on SQLite it takes the write pool's only
// connection, which other writers use between batches.
func (c *committer) conn(ctx context.Context) (*sql.Conn, error) {
	if c.l.db.Dialect != store.Postgres {
		return c.l.db.Write.Conn(ctx)
	}
	if c.own == nil {
		conn, err := c.l.db.Write.Conn(ctx)
		if err != nil {
			return nil, err
		}
		c.own = conn
	}
	return c.own, nil
}

// release gives back conn after a batch that ended with err. The
// committer's own connection is kept unless the batch failed for another
// reason than its operations: it may be broken, and the next batch starts
// on a fresh one.
func (c *committer) release(conn *sql.Conn, err error) {
	if conn == c.own && (err == nil || errors.Is(err, errRaced) || errors.Is(err, errEffectFailed)) {
		return
	}
	conn.Close()
	if conn == c.own {
		c.own = nil
	}
}

// try runs ops in one transaction. It returns the operations whose
// idempotency key turned out to be committed already (the transaction is then
// rolled back and nothing is answered), or an error that fails the whole
// batch. Otherwise it fills in every operation's result and commits.
func (c *committer) try(ctx context.Context, ops []*pending, savepoints bool) (conflicted []*pending, err error) {
	if len(ops) == 0 {
		return nil, nil
	}
	db := c.l.db
	conn, err := c.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { c.release(conn, err) }()
	if c.toSync != nil {
		// The sync loop fsyncs the WAL before anyone is answered; every
		// other writer on this connection keeps synchronous=FULL.
		if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		}
		defer conn.ExecContext(ctx, `PRAGMA synchronous = FULL`)
	}
	sqlTx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	tx := &batchTx{Tx: sqlTx, conn: conn, cache: &c.stmts, db: db}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()
	now := c.l.clock.Now().UTC()

	// Lock order: holds, then accounts, each by id; idempotency keys last.
	holds, err := c.loadHolds(ctx, tx, ops)
	if err != nil {
		return nil, err
	}
	accts, err := c.loadAccounts(ctx, tx, ops, holds)
	if err != nil {
		return nil, err
	}

	// A replay whose original is already committed must not run its
	// effect again: answer it from the store instead.
	if done, err := c.committedKeys(ctx, tx, ops); err != nil {
		return nil, err
	} else if len(done) > 0 {
		return done, nil
	}

	var rows []transferRow
	var idems []idemRow
	nowJSON, _ := now.MarshalJSON()
	buf := make([]byte, 0, 256)
	var newHolds, resolved []*hold

	// finish records p's outcome in the batch: its holds, and its result
	// under its idempotency key.
	finish := func(p *pending) error {
		if p.err != nil {
			p.res = &Result{CreatedAt: now, Err: asError(p.err)}
			if p.res.Err.Code == fanfare.EInternal {
				return nil // not a business answer: a retry must run again
			}
		} else if h := p.op.Hold; h != nil {
			p.res.HoldID = h.ID
			hs := holds[h.ID]
			if h.Action == HoldCreate {
				newHolds = append(newHolds, hs)
			} else {
				resolved = append(resolved, hs)
			}
		}
		if i := p.op.Idem; i != nil {
			b, err := p.res.appendJSON(buf[:0], nowJSON)
			if err != nil {
				return fmt.Errorf("encode result: %w", err)
			}
			buf = b
			idems = append(idems, idemRow{i.Scope, i.Key, i.Hash, string(b)})
			p.stored = true
		}
		return nil
	}

	// Operations without an Effect wait in group, applied to the batch's
	// state, until flush sends all their Writes at once; an operation with
	// an Effect flushes the group first and runs on its own. Writes rarely
	// fail, so a first attempt sends them bare, and a write that fails
	// sends the whole batch round again with each operation's writes
	// between a savepoint and its release (savepoints), where a failure
	// fails its own operation alone.
	type staged struct {
		at     int // index in ops
		rows   int // len(rows) before it
		undo   func()
		first  int // index of its first statement (SAVEPOINT) in stmts
		writes []Write
	}
	var group []staged
	var stmts []store.Stmt
	// flush runs the group's statements. If an operation's write fails,
	// the operations before it are done, it fails, and the ones after it
	// (whose statements never ran) are taken back from the batch's state:
	// flush returns the index in ops to go on from, or -1.
	flush := func() (int, error) {
		if len(group) == 0 {
			return -1, nil
		}
		defer func() { group, stmts = group[:0], stmts[:0] }()
		at, werr := db.Pipeline(ctx, tx.conn, tx.Tx, stmts)
		if at < 0 && werr != nil {
			return -1, werr
		}
		if at >= 0 && !savepoints {
			return -1, errEffectFailed
		}
		j := len(group)
		if at >= 0 {
			j = sort.Search(len(group), func(k int) bool { return group[k].first > at }) - 1
		}
		for _, g := range group[:j] {
			if err := finish(ops[g.at]); err != nil {
				return -1, err
			}
		}
		if j == len(group) {
			return -1, nil
		}
		for k := len(group) - 1; k >= j; k-- {
			group[k].undo()
		}
		g := group[j]
		rows = rows[:g.rows]
		if _, err := tx.db.TxExec(ctx, tx.Tx, sqlRollbackSavepoint); err != nil {
			return -1, fmt.Errorf("roll back an effect: %w", errors.Join(werr, err))
		}
		if _, err := tx.db.TxExec(ctx, tx.Tx, sqlReleaseSavepoint); err != nil {
			return -1, fmt.Errorf("roll back an effect: %w", err)
		}
		p := ops[g.at]
		p.err = werr
		if w := at - g.first - 1; errors.Is(werr, store.ErrNoRow) && w >= 0 && w < len(g.writes) && g.writes[w].Fail != nil {
			if p.err = g.writes[w].Fail(ctx, tx.Tx); p.err == nil {
				p.err = fmt.Errorf("write %d of a %s operation changed no row", w, p.op.Kind)
			}
		}
		if err := finish(p); err != nil {
			return -1, err
		}
		return g.at + 1, nil
	}

	for i := 0; ; {
		if i == len(ops) || (ops[i].op.Effect != nil && len(group) > 0) {
			next, err := flush()
			if err != nil {
				return nil, err
			}
			if next >= 0 {
				i = next
				continue
			}
			if i == len(ops) {
				break
			}
		}
		p := ops[i]
		p.stored = false
		opID := fanfare.NewID(c.l.clock)
		n := len(rows)
		var undo func()
		rows, undo, p.err = apply(p, opID, accts, holds, rows)
		if p.err == nil {
			p.res = &Result{OpID: opID, CreatedAt: now, Balances: map[AccountID]fanfare.Amount{}}
			for _, r := range rows[n:] {
				for _, id := range [2]AccountID{r.debit, r.credit} {
					if a := accts[id]; !a.system {
						p.res.Balances[id] = fanfare.Amount(a.balance)
					}
				}
			}
		}
		if p.op.Effect == nil {
			// Staged, failed or not: whether it fails may depend on the
			// operations before it, which flush may still fail.
			st := staged{at: i, rows: n, undo: undo, first: len(stmts)}
			if st.undo == nil {
				st.undo = func() {}
			}
			if p.err == nil && p.op.Writes != nil {
				st.writes = p.op.Writes(p.res)
				if savepoints {
					stmts = append(stmts, store.Stmt{SQL: sqlSavepoint})
				}
				for _, w := range st.writes {
					stmts = append(stmts, store.Stmt{SQL: w.SQL, Args: w.Args, Check: w.Fail != nil})
				}
				if savepoints {
					stmts = append(stmts, store.Stmt{SQL: sqlReleaseSavepoint})
				}
			}
			group = append(group, st)
			i++
			continue
		}
		if p.err == nil {
			if p.err = runEffect(ctx, tx, p); p.err != nil {
				undo()
			}
		}
		if p.err != nil {
			rows = rows[:n]
		}
		if err := finish(p); err != nil {
			return nil, err
		}
		i++
	}

	if err := c.writeBalances(ctx, tx, accts); err != nil {
		return nil, err
	}
	if err := c.insertTransfers(ctx, tx, rows, now); err != nil {
		return nil, err
	}
	if err := c.writeHolds(ctx, tx, newHolds, resolved, now); errors.Is(err, errRaced) {
		for _, p := range ops {
			p.res, p.err = nil, nil
		}
		return nil, err
	} else if err != nil {
		return nil, err
	}
	inserted, err := c.insertIdempotency(ctx, tx, idems, now)
	if err != nil {
		return nil, err
	}
	if len(inserted) < len(idems) {
		for _, p := range ops {
			if i := p.op.Idem; p.stored && !inserted[[2]string{i.Scope, i.Key}] {
				conflicted = append(conflicted, p)
			}
		}
		for _, p := range ops {
			p.res, p.err = nil, nil
		}
		return conflicted, nil
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil, nil
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

func asError(err error) *fanfare.Error {
	var e *fanfare.Error
	if errors.As(err, &e) {
		return e
	}
	return fanfare.Errorf(fanfare.EInternal, "internal error")
}

// apply checks p against the batch's state and, if it can commit, applies it
// to accts and holds and appends its transfer rows. On failure it changes
// nothing.
func apply(p *pending, opID string, accts map[AccountID]*acct, holds map[string]*hold, rows []transferRow) ([]transferRow, func(), error) {
	op := p.op
	type legRow struct {
		Leg
		flags  int64
		holdID string
	}
	legs := make([]legRow, 0, len(op.Legs)+1)
	for _, g := range op.Legs {
		if a, b := accts[g.Debit], accts[g.Credit]; (a != nil && a.escrow) || (b != nil && b.escrow) {
			return rows, nil, fanfare.Errorf(fanfare.EInvalid, "escrow moves only through holds")
		}
		f := int64(0)
		if g.AllowNegative {
			f = FlagAllowNegative
		}
		legs = append(legs, legRow{Leg: g, flags: f})
	}
	var hs *hold
	if h := op.Hold; h != nil {
		hs = holds[h.ID]
		switch h.Action {
		case HoldCreate:
			if hs != nil {
				return rows, nil, fanfare.Errorf(fanfare.EInvalidState, "hold %s already exists", h.ID)
			}
			payer, payee := accts[h.Debit], accts[h.Credit]
			switch {
			case payer == nil || payee == nil:
				return rows, nil, fanfare.Errorf(fanfare.ENotFound, "account not found")
			case payer.asset != payee.asset:
				return rows, nil, fanfare.Errorf(fanfare.EInvalid, "a hold of %s cannot pay a %s account", payer.asset, payee.asset)
			case payer.escrow || payee.escrow:
				return rows, nil, fanfare.Errorf(fanfare.EInvalid, "escrow cannot pay or receive a hold")
			}
			legs = append(legs, legRow{Leg: Leg{Debit: h.Debit, Credit: p.escrow, Amount: h.Amount}, flags: FlagHoldCreate, holdID: h.ID})
		case HoldPost, HoldVoid:
			if hs == nil {
				return rows, nil, fanfare.Errorf(fanfare.ENotFound, "hold %s not found", h.ID)
			}
			if hs.state != "pending" {
				return rows, nil, fanfare.Errorf(fanfare.EInvalidState, "hold %s is already %s", h.ID, hs.state)
			}
			to, f := hs.credit, int64(FlagHoldPost)
			if h.Action == HoldVoid {
				to, f = hs.debit, FlagHoldVoid
			}
			legs = append(legs, legRow{Leg: Leg{Debit: hs.escrow, Credit: to, Amount: fanfare.Amount(hs.amount)}, flags: f, holdID: h.ID})
		}
	}

	// Net change per account for this operation. spends marks an account
	// that a non-clawback leg debits: such an operation must leave it at
	// zero or above and cannot draw on a frozen wallet, whatever clawback
	// legs it also carries (rule 3, as Verify checks it).
	type change struct {
		id     AccountID
		delta  int64
		spends bool
	}
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
	for _, g := range legs {
		da, ca := accts[g.Debit], accts[g.Credit]
		if da == nil || ca == nil {
			return rows, nil, fanfare.Errorf(fanfare.ENotFound, "account not found")
		}
		if da.asset != ca.asset {
			return rows, nil, fanfare.Errorf(fanfare.EInvalid, "cannot move %s into a %s account", da.asset, ca.asset)
		}
		if err := add(g.Debit, -int64(g.Amount), !g.AllowNegative); err != nil {
			return rows, nil, err
		}
		if err := add(g.Credit, int64(g.Amount), false); err != nil {
			return rows, nil, err
		}
	}
	for _, ch := range changes {
		a := accts[ch.id]
		if ch.delta < 0 && ch.spends && !a.system {
			if a.frozen || a.balance < 0 {
				return rows, nil, fanfare.Errorf(fanfare.EWalletFrozen, "this wallet is frozen until its balance is settled")
			}
			if a.balance+ch.delta < 0 {
				return rows, nil, fanfare.Errorf(fanfare.EInsufficientFunds, "not enough %s: %d available, %d needed", strings.ToLower(string(a.asset))+"s", a.balance, -ch.delta)
			}
		}
		if nb := a.balance + ch.delta; (ch.delta > 0 && nb < a.balance) || (ch.delta < 0 && nb > a.balance) || nb > math.MaxInt64/2 || nb < math.MinInt64/2 {
			return rows, nil, fanfare.Errorf(fanfare.EInvalid, "amount would overflow the account balance")
		}
	}

	// Commit to the batch state, keeping what undo needs.
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
			holds[h.ID] = &hold{id: h.ID, debit: h.Debit, credit: h.Credit, escrow: p.escrow, amount: int64(h.Amount),
				state: "pending", kind: op.Kind, object: op.Object, createdOp: opID}
		case HoldPost:
			hs.state, hs.resolvedOp = "posted", opID
		case HoldVoid:
			hs.state, hs.resolvedOp = "voided", opID
		}
	}
	undo := func() {
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
	for _, g := range legs {
		r := transferRow{opID: opID, debit: g.Debit, credit: g.Credit, amount: int64(g.Amount), kind: op.Kind, object: op.Object, actor: op.Actor, flags: g.flags}
		if g.holdID != "" {
			r.holdID = sql.NullString{String: g.holdID, Valid: true}
		}
		rows = append(rows, r)
	}
	return rows, undo, nil
}

// committedKeys returns the operations with an effect whose idempotency key
// is already stored. Operations without an effect need no such query: the
// key's unique index catches their replays when the batch inserts it.
func (c *committer) committedKeys(ctx context.Context, tx *batchTx, ops []*pending) ([]*pending, error) {
	var scopes, keys []string
	for _, p := range ops {
		if (p.op.Effect != nil || p.op.Writes != nil) && p.op.Idem != nil {
			scopes, keys = append(scopes, p.op.Idem.Scope), append(keys, p.op.Idem.Key)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	var rs *sql.Rows
	var err error
	if c.l.db.Dialect == store.Postgres {
		// One index probe per key, whatever the plan cache thinks of the
		// table's size (a semi-join planned while it was small scans it).
		rs, err = tx.QueryContext(ctx, `SELECT u.scope, u.key FROM unnest($1::text[], $2::text[]) AS u (scope, key),
			LATERAL (SELECT 1 FROM idempotency_keys k WHERE k.scope = u.scope AND k.key = u.key LIMIT 1) AS found`, scopes, keys)
	} else {
		pairs := make([][2]string, len(keys))
		for i := range keys {
			pairs[i] = [2]string{scopes[i], keys[i]}
		}
		b, _ := json.Marshal(pairs)
		rs, err = tx.QueryContext(ctx, `SELECT scope, key FROM idempotency_keys
			WHERE (scope, key) IN (SELECT value->>0, value->>1 FROM json_each($1))`, string(b))
	}
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
	for _, p := range ops {
		if i := p.op.Idem; (p.op.Effect != nil || p.op.Writes != nil) && i != nil && found[[2]string{i.Scope, i.Key}] {
			done = append(done, p)
		}
	}
	return done, nil
}

func (c *committer) loadHolds(ctx context.Context, tx *batchTx, ops []*pending) (map[string]*hold, error) {
	holds := map[string]*hold{}
	var ids []string
	for _, p := range ops {
		if h := p.op.Hold; h != nil {
			ids = append(ids, h.ID)
		}
	}
	if len(ids) == 0 {
		return holds, nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	q := `SELECT id, debit_account_id, credit_account_id, escrow_account_id, amount, state FROM holds WHERE id `
	var arg any
	if c.l.db.Dialect == store.Postgres {
		q += `= ANY($1) ORDER BY id FOR NO KEY UPDATE`
		arg = ids
	} else {
		q += `IN (SELECT value FROM json_each($1))`
		b, _ := json.Marshal(ids)
		arg = string(b)
	}
	rs, err := tx.QueryContext(ctx, q, arg)
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

func (c *committer) loadAccounts(ctx context.Context, tx *batchTx, ops []*pending, holds map[string]*hold) (map[AccountID]*acct, error) {
	ids := make([]int64, 0, 2*len(ops)+8)
	for _, p := range ops {
		for _, g := range p.op.Legs {
			ids = append(ids, int64(g.Debit), int64(g.Credit))
		}
		if h := p.op.Hold; h != nil {
			if h.Action == HoldCreate {
				ids = append(ids, int64(h.Debit), int64(h.Credit), int64(p.escrow))
			} else if hs := holds[h.ID]; hs != nil {
				ids = append(ids, int64(hs.debit), int64(hs.credit), int64(hs.escrow))
			}
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	q := `SELECT id, owner, asset, system, balance, frozen FROM accounts WHERE id `
	var arg any
	if c.l.db.Dialect == store.Postgres {
		q += `= ANY($1) ORDER BY id FOR NO KEY UPDATE`
		arg = ids
	} else {
		q += `IN (SELECT value FROM json_each($1))`
		arg = jsonInts(ids)
	}
	rs, err := tx.QueryContext(ctx, q, arg)
	if err != nil {
		return nil, fmt.Errorf("load accounts: %w", err)
	}
	defer rs.Close()
	accts := make(map[AccountID]*acct, len(ids))
	for rs.Next() {
		var id AccountID
		var owner, asset string
		a := &acct{}
		if err := rs.Scan(&id, &owner, &asset, &a.system, &a.balance, &a.frozen); err != nil {
			return nil, fmt.Errorf("load accounts: %w", err)
		}
		a.asset = fanfare.Asset(asset)
		a.escrow = owner == escrowOwner
		accts[id] = a
	}
	return accts, rs.Err()
}

func jsonInts(ids []int64) string {
	b := make([]byte, 0, 12*len(ids)+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

func (c *committer) writeBalances(ctx context.Context, tx *batchTx, accts map[AccountID]*acct) error {
	ids := make([]int64, 0, len(accts))
	for id, a := range accts {
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
		deltas[i] = accts[AccountID(id)].delta
	}
	var err error
	if c.l.db.Dialect == store.Postgres {
		_, err = tx.ExecContext(ctx, `UPDATE accounts AS a SET balance = a.balance + d.delta
			FROM unnest($1::bigint[], $2::bigint[]) AS d(id, delta) WHERE a.id = d.id`, ids, deltas)
	} else {
		b := make([]byte, 0, 24*len(ids))
		b = append(b, '[')
		for i, id := range ids {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = strconv.AppendInt(b, id, 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, deltas[i], 10)
			b = append(b, ']')
		}
		b = append(b, ']')
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET balance = balance + d.value->>1
			FROM json_each($1) AS d WHERE accounts.id = d.value->>0`, string(b))
	}
	if err != nil {
		return fmt.Errorf("update balances: %w", err)
	}
	return nil
}

const transferCols = "op_id, debit_account_id, credit_account_id, amount, kind, object, actor, hold_id, flags, created_at"

func (c *committer) insertTransfers(ctx context.Context, tx *batchTx, rows []transferRow, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	at := now.UnixMicro()
	if c.l.db.Dialect == store.Postgres {
		n := len(rows)
		opIDs, kinds, objects, actors := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		debits, credits, amounts, flags := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		holdIDs := make([]*string, n)
		for i, r := range rows {
			opIDs[i], kinds[i], objects[i], actors[i] = r.opID, r.kind, r.object, r.actor
			debits[i], credits[i], amounts[i], flags[i] = int64(r.debit), int64(r.credit), r.amount, r.flags
			if r.holdID.Valid {
				s := r.holdID.String
				holdIDs[i] = &s
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO transfers (`+transferCols+`)
			SELECT o, d, c, a, k, ob, ac, h, f, $10 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],
				$5::text[], $6::text[], $7::text[], $8::text[], $9::smallint[]) AS t(o, d, c, a, k, ob, ac, h, f)`,
			opIDs, debits, credits, amounts, kinds, objects, actors, holdIDs, flags, at)
		if err != nil {
			return fmt.Errorf("insert transfers: %w", err)
		}
		return nil
	}
	const chunk = 100
	args := make([]driver.NamedValue, 0, 10*min(chunk, len(rows)))
	for len(rows) > 0 {
		n := min(chunk, len(rows))
		args = args[:0]
		for _, r := range rows[:n] {
			var hold any
			if r.holdID.Valid {
				hold = r.holdID.String
			}
			args = appendArgs(args, r.opID, int64(r.debit), int64(r.credit), r.amount, r.kind, r.object, r.actor, hold, r.flags, at)
		}
		if err := tx.bulkExec(ctx, `INSERT INTO transfers (`+transferCols+`) VALUES `, 10, n, "", args); err != nil {
			return fmt.Errorf("insert transfers: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

func (c *committer) writeHolds(ctx context.Context, tx *batchTx, created, resolved []*hold, now time.Time) error {
	at := now.UnixMicro()
	for _, h := range created {
		// Holds are inserted pending; one resolved in the same batch is
		// updated right after, like any other. A hold id that another
		// node's batch created since this one loaded its holds is not
		// inserted: the batch is run again and sees it.
		res, err := tx.ExecContext(ctx, `INSERT INTO holds (id, debit_account_id, credit_account_id, escrow_account_id, amount, state, kind, object, created_op_id, created_at)
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
	for _, h := range resolved {
		res, err := tx.ExecContext(ctx, `UPDATE holds SET state = $1, resolved_op_id = $2, resolved_at = $3 WHERE id = $4 AND state = 'pending'`,
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
func (c *committer) insertIdempotency(ctx context.Context, tx *batchTx, rows []idemRow, now time.Time) (map[[2]string]bool, error) {
	inserted := make(map[[2]string]bool, len(rows))
	if len(rows) == 0 {
		return inserted, nil
	}
	slices.SortFunc(rows, func(a, b idemRow) int { return cmp.Or(cmp.Compare(a.scope, b.scope), cmp.Compare(a.key, b.key)) })
	at := now.UnixMicro()
	collect := func(rs *sql.Rows, err error) error {
		if err != nil {
			return fmt.Errorf("insert idempotency keys: %w", err)
		}
		defer rs.Close()
		for rs.Next() {
			var k [2]string
			if err := rs.Scan(&k[0], &k[1]); err != nil {
				return err
			}
			inserted[k] = true
		}
		return rs.Err()
	}
	if c.l.db.Dialect == store.Postgres {
		n := len(rows)
		scopes, keys, hashes, results := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, r := range rows {
			scopes[i], keys[i], hashes[i], results[i] = r.scope, r.key, r.hash, r.result
		}
		err := collect(tx.QueryContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, result, created_at)
			SELECT s, k, h, r, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(s, k, h, r)
			ON CONFLICT (scope, key) DO NOTHING RETURNING scope, key`, scopes, keys, hashes, results, at))
		return inserted, err
	}
	const chunk = 100
	args := make([]driver.NamedValue, 0, 5*min(chunk, len(rows)))
	for len(rows) > 0 {
		n := min(chunk, len(rows))
		args = args[:0]
		for _, r := range rows[:n] {
			args = appendArgs(args, r.scope, r.key, r.hash, r.result, at)
		}
		err := tx.bulkQuery(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, result, created_at) VALUES `, 5, n,
			` ON CONFLICT (scope, key) DO NOTHING RETURNING scope, key`, args, func(row []driver.Value) {
				inserted[[2]string{asString(row[0]), asString(row[1])}] = true
			})
		if err != nil {
			return nil, fmt.Errorf("insert idempotency keys: %w", err)
		}
		rows = rows[n:]
	}
	return inserted, nil
}
