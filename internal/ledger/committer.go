package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
)

// The committer is the ledger's single writer per process. Callers hand it
// operations; it groups whatever is waiting into one database transaction
// (group commit), checks each operation's debits on its own against the
// batch's running balances, writes the balances once per account, inserts the
// transfer and idempotency rows in bulk, commits, makes the commit durable,
// and only then answers.
//
// This file is the batching loop: it takes operations in, forms batches,
// retries a batch that must run again, answers, and owns the durability of
// the answers. One batch's transaction is in batch.go, the money rules in
// rules.go, and what differs between SQLite and PostgreSQL behind writer
// (writer.go).
//
// On PostgreSQL several processes may run committers on one database; see
// postgresWriter for how their batches serialize. Idempotency keys are unique
// in the database, and a key that another batch committed first sends its
// operation down the replay path. The same rules let one process keep
// several batches in flight there (Options.Lanes): each lane is a loop
// with its own connection that takes the next batch while the others'
// COMMITs wait for the server's WAL flush, and lanes serialize on the rows
// they share exactly as two nodes' committers do.
type committer struct {
	l     *Ledger
	lanes []writer
	in    chan *pending
	done  chan struct{}
	mu    sync.RWMutex
	shut  bool
	// seqMu orders the batches' sequence numbers (seq, from 1 in commit
	// order) with the OnSync calls that report them.
	seqMu sync.Mutex
	seq   uint64
	// SQLite: committed batches waiting for the WAL fsync (see syncLoop).
	toSync chan synced
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
	// replay says its idempotency key was committed before its batch: the
	// caller reads the stored answer (lookupIdempotency), so that the
	// committer never waits for a read.
	replay bool
	batch  uint64 // the sequence number of the batch that answered it
}

// synced is a committed batch handed to the sync loop: its sequence number
// and the operations to answer once it is on disk.
type synced struct {
	seq    uint64
	answer []*pending
}

// maxDeadlocks is how many times a batch runs again after PostgreSQL ended
// it to break a deadlock.
const maxDeadlocks = 20

// escrowOwner owns the escrow accounts.
const escrowOwner = "system:" + Escrow

// errShutdown is returned to operations submitted after Close.
var errShutdown = fanfare.Errorf(fanfare.EUnavailable, "the server is shutting down; retry with the same Idempotency-Key")

func newCommitter(ctx context.Context, l *Ledger) (*committer, error) {
	c := &committer{
		l:    l,
		in:   make(chan *pending, 4*l.opts.MaxBatch),
		done: make(chan struct{}),
	}
	// With group commit off (MaxBatch 1) every operation waits for its own
	// fsync, one at a time, as the baseline it is meant to be.
	groupSync := l.db.Dialect == store.SQLite && l.opts.MaxBatch > 1
	lanes := 1
	if l.db.Dialect == store.Postgres && l.opts.MaxBatch > 1 {
		lanes = l.opts.Lanes
	}
	for range lanes {
		c.lanes = append(c.lanes, newWriter(l.db, groupSync))
	}
	if groupSync {
		c.toSync, c.synced = make(chan synced), make(chan struct{})
		go c.syncLoop()
	}
	go c.run()
	return c, nil
}

func (c *committer) submit(ctx context.Context, op *Op) (*Result, error) {
	p, err := c.enqueue(ctx, op)
	if err != nil {
		return nil, err
	}
	// Once accepted, an operation is committed or failed by the committer
	// even if the caller goes away; the caller waits for the answer so that
	// an acknowledged request is always a durable one.
	return c.wait(ctx, p)
}

// wait waits for p's answer. A replay's answer is read here, by its
// caller, from the read pool (on SQLite the write connection is the
// committer's), so that the committer never waits for a read: the key's
// batch committed before p's, so it is there to read.
func (c *committer) wait(ctx context.Context, p *pending) (*Result, error) {
	<-p.done
	if !p.replay {
		return p.res, p.err
	}
	res, err := c.l.lookupIdempotency(context.WithoutCancel(ctx), c.l.db.Read, p.op.Idem)
	if res == nil && err == nil {
		err = fmt.Errorf("idempotency key vanished during commit")
	}
	return res, err
}

// enqueue hands op to the committer; its answer is ready once p.done is
// closed.
func (c *committer) enqueue(ctx context.Context, op *Op) (*pending, error) {
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
	defer c.mu.RUnlock()
	if c.shut {
		return nil, errShutdown
	}
	select {
	case c.in <- p:
		return p, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *committer) close() error {
	c.mu.Lock()
	if !c.shut {
		c.shut = true
		close(c.in)
	}
	c.mu.Unlock()
	<-c.done
	var err error
	for _, w := range c.lanes {
		err = errors.Join(err, w.close())
	}
	return err
}

// run runs the lanes until the queue is closed and drained.
func (c *committer) run() {
	defer close(c.done)
	if c.toSync != nil {
		defer func() {
			close(c.toSync)
			<-c.synced
		}()
	}
	var wg sync.WaitGroup
	for _, w := range c.lanes {
		wg.Go(func() { c.lane(w) })
	}
	wg.Wait()
}

// lane forms batches from the queue and commits them on w, one at a time.
func (c *committer) lane(w writer) {
	max := c.l.opts.MaxBatch
	batch := make([]*pending, 0, max)
	for {
		p, ok := <-c.in
		if !ok {
			return
		}
		batch = append(batch[:0], p)
		c.drain(&batch, max)
		c.commit(w, batch)
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

// commit commits one batch, makes it durable and answers every operation
// in it.
func (c *committer) commit(w writer, batch []*pending) {
	sw := fanfare.StartStopwatch()
	leaders := leadersOf(batch)
	ctx := context.Background()
	leaders, replays, err := c.settle(ctx, w, leaders)
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
		p.res, p.err, p.replay = nil, nil, true
	}
	if o := c.l.opts.Observer; o != nil {
		o.BatchCommitted(len(batch), failed, sw.Elapsed())
	}
	answer := c.answers(leaders, replays, len(batch))
	// The batch is numbered once its transaction has ended, so that the
	// numbers follow the commits when lanes commit side by side.
	c.seqMu.Lock()
	c.seq++
	seq := c.seq
	for _, p := range answer {
		p.batch = seq
	}
	if c.toSync != nil {
		c.seqMu.Unlock()
		c.toSync <- synced{seq, answer} // answered once the WAL is on disk
		return
	}
	// The commit itself was durable (synchronous=FULL on SQLite; on
	// PostgreSQL, as the server's settings make it).
	if f := c.l.opts.OnSync; f != nil {
		f(seq)
	}
	c.seqMu.Unlock()
	for _, p := range answer {
		close(p.done)
	}
}

// leadersOf returns the operations of batch that run: of those sharing an
// idempotency key, the first runs and the others (its dups) get its answer,
// or a conflict if their request differs.
func leadersOf(batch []*pending) []*pending {
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
	return leaders
}

// settle runs the batch's transaction until it commits or fails. A batch
// is run again when another node created one of its holds first, once
// with savepoints when one of its writes failed, and without the
// operations whose key turned out to be committed already (a replay that
// raced its original), which it returns as replays.
func (c *committer) settle(ctx context.Context, w writer, leaders []*pending) (ran, replays []*pending, err error) {
	savepoints := false
	deadlocks := 0
	for attempt := 0; ; attempt++ {
		var conflicted []*pending
		conflicted, err = c.try(ctx, w, leaders, savepoints)
		// Another node's batch created one of this batch's holds first,
		// or PostgreSQL broke a deadlock with one (an account this batch
		// credits last that the other locked first, and the reverse):
		// nothing was written, run it again.
		if errors.Is(err, errRaced) && attempt < 8 {
			continue
		}
		// After a deadlock the batch waits a random while, longer each
		// time, before it runs again: run at once, the same batches of
		// the same nodes' (and lanes') met again the same way.
		if store.IsDeadlock(err) && deadlocks < maxDeadlocks {
			deadlocks++
			time.Sleep(rand.N(time.Duration(1<<min(deadlocks, 7)) * time.Millisecond))
			continue
		}
		if errors.Is(err, errEffectFailed) && !savepoints {
			savepoints = true
			continue
		}
		if err != nil || len(conflicted) == 0 {
			return leaders, replays, err
		}
		replays = append(replays, conflicted...)
		leaders = slices.DeleteFunc(leaders, func(p *pending) bool { return slices.Contains(conflicted, p) })
		if attempt > 8 {
			return leaders, replays, fmt.Errorf("commit batch: idempotency conflicts did not settle")
		}
	}
}

// answers gives every duplicate its leader's answer and returns all the
// operations of the batch to answer.
func (c *committer) answers(leaders, replays []*pending, n int) []*pending {
	answer := make([]*pending, 0, n)
	for _, p := range replays {
		// The key was committed before this batch: every request that
		// carries it is answered from the store, each against its own body
		// (by its caller: see wait).
		for _, d := range p.dups {
			d.replay = true
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
	return answer
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
	for s := range c.toSync {
		group := s.answer
	more:
		for {
			select {
			case g, ok := <-c.toSync:
				if !ok {
					break more
				}
				s.seq = g.seq
				group = append(group, g.answer...)
			default:
				break more
			}
		}
		err := c.l.db.SyncWAL()
		if f := c.l.opts.OnSync; f != nil && err == nil {
			f(s.seq)
		}
		for _, p := range group {
			if err != nil && p.err == nil {
				p.res, p.err = nil, fmt.Errorf("make commit durable: %w", err)
			}
			close(p.done)
		}
	}
}
