package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The viewers of "bench live": their sockets, what they receive, and the
// accounting of it against what the fans were told.

// liveViewer is a viewer's socket and what it saw.
type liveViewer struct {
	conn    *websocket.Conn
	node    int // the node it watches on (index in bases)
	shard   *latencyShard
	hooks   liveHooks    // tampering left to do; owned by the reader
	fans    []fanTally   // by fan; owned by the reader
	lastSeq int64        // the seq of the last frame; owned by the reader
	again   int64        // gifts in frames received twice; owned by the reader
	bad     int64        // malformed or unexplainable events; owned by the reader
	seen    atomic.Int64 // distinct gifts seen in all
	closing atomic.Bool  // the bench is closing it
	done    chan struct{}
	// Read after done: why the reader ended, and whether it ended before
	// the bench closed the socket.
	err   error
	early bool
}

// connect opens the viewers' sockets; each is connected once its first
// frame (the room's state) has arrived, and then read by its own goroutine
// until ctx ends or the bench closes it.
func (b *liveBench) connect(ctx context.Context, n int) error {
	b.shards = make([]latencyShard, latencyShards)
	b.viewers = make([]*liveViewer, n)
	bar := newProgress(b.stderr, "viewers", b.quiet)
	defer bar.done()
	var done atomic.Int64
	readCtx := ctx
	return b.parallel(ctx, n, dialWorkers, func(ctx context.Context, i int) error {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		node := i % len(b.bases)
		u := "ws" + strings.TrimPrefix(b.bases[node], "http") + "/v1/lives/" + b.liveID + "/events"
		conn, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: b.dial})
		if err != nil {
			return fmt.Errorf("viewer %d: %w", i+1, err)
		}
		conn.SetReadLimit(16 << 20)
		_, first, err := conn.Read(dctx)
		if err != nil {
			conn.CloseNow()
			return fmt.Errorf("viewer %d: first frame: %w", i+1, err)
		}
		if !bytes.HasPrefix(first, stateFrameS) {
			conn.CloseNow()
			return fmt.Errorf("viewer %d: first frame is not the room's state: %.80s", i+1, first)
		}
		v := &liveViewer{conn: conn, node: node, shard: &b.shards[i%len(b.shards)], fans: make([]fanTally, len(b.fans)), done: make(chan struct{})}
		// The state frame holds the room's seq so far: frames follow on.
		v.lastSeq, _, _ = scanInt(first, 0, seqKey)
		if i == 0 {
			v.hooks = b.hooks
		}
		b.viewers[i] = v
		go b.watch(readCtx, v)
		bar.set(done.Add(1), int64(n))
		return nil
	})
}

// framePool holds the buffers frames are read into, while they are read.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// watch reads a viewer's frames until its socket ends.
func (b *liveBench) watch(ctx context.Context, v *liveViewer) {
	defer close(v.done)
	// Each read without a deadline context: the library would register a
	// callback on ctx for every frame (an allocation and the shared
	// parent's lock, thousands of times a second); the socket is closed
	// once instead when ctx ends.
	stop := context.AfterFunc(ctx, func() { v.conn.CloseNow() })
	defer stop()
	rctx := context.WithoutCancel(ctx)
	for {
		_, r, err := v.conn.Reader(rctx)
		if err != nil {
			v.err, v.early = err, !v.closing.Load()
			return
		}
		bp := framePool.Get().(*[]byte)
		data, err := readAllInto(r, (*bp)[:0])
		if err != nil {
			v.err, v.early = err, !v.closing.Load()
			return
		}
		at := time.Since(b.t0)
		b.frames.Add(1)
		p := b.parse(v.node, data)
		b.frame(v, p, at)
		if v.hooks.dupOne && p.hasSeq {
			// One gift event of this frame comes again, in a frame of the
			// same seq.
			if i := slices.IndexFunc(p.events, func(e giftEvent) bool { return e.count == 1 }); i >= 0 {
				v.hooks.dupOne = false
				b.frame(v, &parsedFrame{seq: p.seq, hasSeq: true, events: p.events[i : i+1]}, at)
			}
		}
		*bp = data[:0]
		framePool.Put(bp)
	}
}

func readAllInto(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// frame accounts a frame that arrived at a viewer at time at. A frame whose
// seq the viewer already had is received again: its gifts are over. Each
// gift event of a fan of the bench stands for the fan's gifts since the
// last one this viewer saw, and each of them took from its scheduled send
// until now.
func (b *liveBench) frame(v *liveViewer, p *parsedFrame, at time.Duration) {
	if p.hasSeq {
		if p.seq <= v.lastSeq {
			for _, e := range p.events {
				v.again += max(e.count, 0)
			}
			return
		}
		v.lastSeq = p.seq
	}
	if p.bad {
		v.bad++
	}
	sh := v.shard
	sh.mu.Lock()
	for _, e := range p.events {
		if e.fan < 0 {
			// A fan of this run that the bench does not know: a gift no
			// sender sent.
			v.again += max(e.count, 0)
			continue
		}
		if v.hooks.dropOne && e.count == 1 {
			v.hooks.dropOne = false
			continue
		}
		from, to, bad := v.fans[e.fan].take(e.combo, e.count)
		if bad {
			v.bad++
			continue
		}
		f := b.fans[e.fan]
		cross := f.node != v.node
		for k := from; k <= to; k++ {
			switch t := f.sent.at(k); {
			case t == 0:
				// Never sent, or not yet known to be: over at the end,
				// unless its fan learns of it meanwhile.
			case t <= at:
				sh.h.record(at - t)
				if cross {
					sh.cross.record(at - t)
				}
			default:
				v.bad++ // arrived before it was due
			}
		}
		if to >= from {
			v.seen.Add(to - from + 1)
		}
	}
	sh.mu.Unlock()
}

// parsedFrame is what a frame says about the bench's fans.
type parsedFrame struct {
	seq    int64
	hasSeq bool
	size   int
	events []giftEvent
	bad    bool // a gift event could not be read
}

type giftEvent struct {
	fan          int // index in fans; -1 for a handle of the run no fan has
	count, combo int64
}

// parse reads the gift events of the bench's fans in a frame from a node.
// The room encodes each frame once for all its viewers on the node, so a
// frame is parsed by the first viewer to get it and the others find it by
// its seq.
func (b *liveBench) parse(node int, data []byte) *parsedFrame {
	seq, ok := frameSeq(data)
	slot := &b.parsed[node][uint64(seq)%uint64(len(b.parsed[node]))]
	if ok {
		if p := slot.Load(); p != nil && p.seq == seq && p.size == len(data) {
			return p
		}
	}
	p := &parsedFrame{seq: seq, hasSeq: ok, size: len(data)}
	prefix := b.run + "_"
	sc := giftScanner{data: data}
	for sc.next() {
		if i, mine := b.handles[string(sc.gifter)]; mine {
			p.events = append(p.events, giftEvent{fan: i, count: sc.count, combo: sc.combo})
		} else if b.run != "" && strings.HasPrefix(string(sc.gifter), prefix) {
			p.events = append(p.events, giftEvent{fan: -1, count: sc.count, combo: sc.combo})
		}
	}
	p.bad = sc.bad
	if ok {
		slot.Store(p)
	}
	return p
}

var seqKey = []byte(`"seq":`)

// frameSeq reads the seq a room frame starts with ({"seq":N,...}).
func frameSeq(data []byte) (int64, bool) {
	const prefix = `{"seq":`
	if !bytes.HasPrefix(data, []byte(prefix)) {
		return 0, false
	}
	seq, _, ok := scanInt(data, 0, seqKey)
	return seq, ok
}

// drain gives the viewers up to liveBenchDrain to receive the acked gifts.
func (b *liveBench) drain(acked int64) {
	deadline := time.Now().Add(liveBenchDrain)
	for time.Now().Before(deadline) {
		behind := false
		for _, v := range b.viewers {
			select {
			case <-v.done:
				continue
			default:
			}
			if v.seen.Load() < acked {
				behind = true
				break
			}
		}
		if !behind {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closeViewers closes every socket and waits for the readers to end.
func (b *liveBench) closeViewers() {
	for _, v := range b.viewers {
		if v != nil {
			v.closing.Store(true)
			v.conn.CloseNow()
		}
	}
	for _, v := range b.viewers {
		if v != nil {
			<-v.done
		}
	}
}

// liveTally is what the viewers saw of the fans' gifts, once the readers
// have ended.
type liveTally struct {
	missed  int64 // acked gifts a viewer connected to the end never received
	over    int64 // gifts received again, or never acknowledged to a fan
	dropped int64 // viewers the server closed as too slow (1008)
	lost    int64 // viewers whose socket ended otherwise before the bench closed it
	bad     int64 // events that could not be read or placed
}

// tally compares what each viewer saw with what the fans were told.
func (b *liveBench) tally() liveTally {
	var t liveTally
	for _, v := range b.viewers {
		t.bad += v.bad
		t.over += v.again
		stayed := false
		switch {
		case websocket.CloseStatus(v.err) == websocket.StatusPolicyViolation:
			t.dropped++
		case v.early:
			t.lost++
		default:
			stayed = true
		}
		for i, f := range b.fans {
			missed, over := v.fans[i].result(f.acked.Load(), f.unsure)
			t.over += over
			if stayed {
				t.missed += missed
			}
		}
	}
	return t
}
