package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The clients of "bench live": the setup through the API, the viewers'
// sockets and what they receive, the fans sending gifts on their schedule,
// and the accounting that compares the two.

// Bench live's client parameters.
const (
	liveBenchCoins = 1_000_000 // coins granted to each fan
	liveBenchGift  = "rose"
	liveBenchDrain = 2 * time.Second // how long the viewers get after the last gift
	liveBenchPass  = "bench-live-password"
	setupWorkers   = 8  // fans set up at once (each costs two argon2id hashes)
	dialWorkers    = 32 // viewers connecting at once
	latencyShards  = 64
)

var giftBody = []byte(`{"gift_id":"` + liveBenchGift + `","count":1}`)

// liveBench is the clients of one run of "bench live".
type liveBench struct {
	stderr io.Writer
	quiet  bool
	base   string // the server's base URL
	apiKey string
	run    string       // makes handles and keys unique to the run
	http   *http.Client // setup and gifts
	dial   *http.Client // the viewers' handshakes
	t0     time.Time    // send times are durations since t0
	hooks  liveHooks

	liveID  string
	fans    []*liveFan
	handles map[string]int // handle → index in fans
	viewers []*liveViewer
	shards  []latencyShard
	parsed  [256]atomic.Pointer[parsedFrame] // by seq
}

// liveHooks tamper with what the viewers receive, so that tests can show
// the accounting catches it.
type liveHooks struct {
	dropOne bool // the first viewer discards one gift event of count 1
	dupOne  bool // the first viewer takes one frame with one gift twice
}

// liveFan is a fan sending gifts, and what came of them.
type liveFan struct {
	id, handle, token string
	sent              sendLog      // when each gift was scheduled
	acked             atomic.Int64 // gifts answered 201: the n-th is the fan's n-th gift
	// Owned by the fan's sender until it ends.
	attempts int64 // gifts sent (a retry with the same key is the same gift)
	due      int64 // gifts scheduled before the sending stopped (rate > 0)
	http     histogram
	errs     map[string]int
	unsure   bool // gave up on a gift whose outcome is unknown
}

// liveViewer is a viewer's socket and what it saw.
type liveViewer struct {
	conn    *websocket.Conn
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

// newLiveBench returns the clients of a run against the server at base.
func newLiveBench(stderr io.Writer, quiet bool, base, apiKey string, senders int, hooks liveHooks) *liveBench {
	return &liveBench{
		stderr: stderr, quiet: quiet, base: base, apiKey: apiKey, run: "bl" + randomHex(4), hooks: hooks,
		http: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				MaxIdleConns:        senders + 64,
				MaxIdleConnsPerHost: senders + 64,
				IdleConnTimeout:     time.Minute,
				DisableCompression:  true,
			},
		},
		dial: &http.Client{Transport: &http.Transport{
			Proxy:       nil,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		}},
		t0: time.Now(),
	}
}

// close releases the clients' idle connections.
func (b *liveBench) close() {
	b.http.CloseIdleConnections()
	b.dial.CloseIdleConnections()
}

// health checks that the server answers.
func (b *liveBench) health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return fmt.Errorf("bench live: the server at %s does not answer: %w", b.base, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench live: GET %s/healthz = %d, want 200", b.base, resp.StatusCode)
	}
	return nil
}

// call sends a JSON request and decodes a 2xx answer into out; anything
// else is an error that quotes the problem's detail.
func (b *liveBench) call(ctx context.Context, method, path, token, idemKey string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var p struct{ Code, Detail, Title string }
		json.Unmarshal(data, &p)
		return fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, cmpOr(p.Code, p.Title), cmpOr(p.Detail, strings.TrimSpace(string(data))))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// user signs a user up and logs it in.
func (b *liveBench) user(ctx context.Context, handle string) (id, token string, err error) {
	var u struct{ ID string }
	err = b.call(ctx, http.MethodPost, "/v1/users", "", "", map[string]string{
		"handle": handle, "password": liveBenchPass, "region": "FR", "birth_date": "1990-01-01",
	}, &u)
	if err != nil {
		return "", "", err
	}
	var s struct{ Token string }
	err = b.call(ctx, http.MethodPost, "/v1/auth/login", "", "", map[string]string{"handle": handle, "password": liveBenchPass}, &s)
	if err != nil {
		return "", "", err
	}
	return u.ID, s.Token, nil
}

// setup makes the creator, its LIVE and the funded fans.
func (b *liveBench) setup(ctx context.Context, senders int) error {
	_, creator, err := b.user(ctx, b.run+"_c")
	if err != nil {
		return fmt.Errorf("creator: %w", err)
	}
	var l struct{ ID string }
	if err := b.call(ctx, http.MethodPost, "/v1/lives", creator, "", map[string]string{"title": "bench live " + b.run}, &l); err != nil {
		return fmt.Errorf("go LIVE: %w", err)
	}
	b.liveID = l.ID

	b.fans = make([]*liveFan, senders)
	b.handles = make(map[string]int, senders)
	for i := range b.fans {
		f := &liveFan{handle: fmt.Sprintf("%s_f%d", b.run, i), errs: map[string]int{}}
		b.fans[i] = f
		b.handles[f.handle] = i
	}
	bar := newProgress(b.stderr, "fans", b.quiet)
	var done atomic.Int64
	err = b.parallel(ctx, senders, setupWorkers, func(ctx context.Context, i int) error {
		f := b.fans[i]
		var err error
		if f.id, f.token, err = b.user(ctx, f.handle); err != nil {
			return fmt.Errorf("fan %d: %w", i+1, err)
		}
		err = b.call(ctx, http.MethodPost, "/v1/admin/grants", b.apiKey, b.run+"-grant-"+strconv.Itoa(i),
			map[string]any{"user_id": f.id, "coins": liveBenchCoins, "reason": "bench live"}, nil)
		if err != nil {
			return fmt.Errorf("grant fan %d coins: %w", i+1, err)
		}
		bar.set(done.Add(1), int64(senders))
		return nil
	})
	bar.done()
	return err
}

// parallel runs fn for 0..n-1 on workers goroutines and returns the first
// error, after which the others stop.
func (b *liveBench) parallel(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// connect opens the viewers' sockets; each is connected once its first
// frame (the room's state) has arrived, and then read by its own goroutine
// until ctx ends or the bench closes it.
func (b *liveBench) connect(ctx context.Context, n int) error {
	u := "ws" + strings.TrimPrefix(b.base, "http") + "/v1/lives/" + b.liveID + "/events"
	b.shards = make([]latencyShard, latencyShards)
	b.viewers = make([]*liveViewer, n)
	bar := newProgress(b.stderr, "viewers", b.quiet)
	defer bar.done()
	var done atomic.Int64
	readCtx := ctx
	return b.parallel(ctx, n, dialWorkers, func(ctx context.Context, i int) error {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
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
		v := &liveViewer{conn: conn, shard: &b.shards[i%len(b.shards)], fans: make([]fanTally, len(b.fans)), done: make(chan struct{})}
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
		p := b.parse(data)
		b.frame(v, p, at)
		if v.hooks.dupOne && len(p.events) == 1 && p.events[0].count == 1 {
			v.hooks.dupOne = false
			b.frame(v, p, at)
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
		for k := from; k <= to; k++ {
			switch t := f.sent.at(k); {
			case t == 0:
				// Never sent, or not yet known to be: over at the end,
				// unless its fan learns of it meanwhile.
			case t <= at:
				sh.h.record(at - t)
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

// parse reads the gift events of the bench's fans in a frame. The room
// encodes each frame once for all its viewers, so a frame is parsed by
// the first viewer to get it and the others find it by its seq.
func (b *liveBench) parse(data []byte) *parsedFrame {
	seq, ok := frameSeq(data)
	slot := &b.parsed[uint64(seq)%uint64(len(b.parsed))]
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

// send runs the fans for d and returns how long the sending took, from
// the first gift to the last answer.
func (b *liveBench) send(ctx context.Context, rate float64, d time.Duration) time.Duration {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	u := b.base + "/v1/lives/" + b.liveID + "/gifts"
	for i, f := range b.fans {
		wg.Go(func() { b.sender(ctx, i, f, u, start, end, rate, stop) })
	}
	bar := newProgress(b.stderr, "gifts", b.quiet)
	tick := time.NewTicker(100 * time.Millisecond)
	stopAt := time.NewTimer(d)
loop:
	for {
		select {
		case <-tick.C:
			var acked int64
			for _, f := range b.fans {
				acked += f.acked.Load()
			}
			total := int64(rate * d.Seconds())
			if rate == 0 {
				total = int64(float64(acked) * d.Seconds() / max(time.Since(start).Seconds(), 0.001))
			}
			bar.set(acked, max(total, acked))
		case <-stopAt.C:
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	tick.Stop()
	stopAt.Stop()
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	bar.done()
	return elapsed
}

// sender is fan i sending gifts until stop. At rate > 0 its gifts have a
// schedule: its share of rate, spread evenly among the other fans' (the
// k-th gift of all at start + k/rate); a gift late on its schedule is
// sent at once, and its latencies count from when it was due, so a slow
// answer that holds the next gifts back shows in theirs too. At rate 0
// each gift is sent as soon as the last is answered, and is due when
// sent.
func (b *liveBench) sender(ctx context.Context, i int, f *liveFan, u string, start, end time.Time, rate float64, stop <-chan struct{}) {
	var every time.Duration
	if rate > 0 {
		every = time.Duration(float64(len(b.fans)) / rate * float64(time.Second))
		start = start.Add(every * time.Duration(i) / time.Duration(len(b.fans)))
		defer func() {
			// The gifts due before the end, sent or not.
			if d := end.Sub(start); d > 0 {
				f.due = int64((d + every - 1) / every)
			}
		}()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for n := int64(0); ; n++ {
		var due time.Duration
		if every > 0 {
			at := start.Add(every * time.Duration(n))
			if wait := time.Until(at); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-stop:
					return
				}
			}
			due = at.Sub(b.t0)
		}
		select {
		case <-stop:
			return
		default:
		}
		if every == 0 {
			due = time.Since(b.t0)
		}
		place := f.acked.Load() + 1
		if !f.sent.set(place, max(due, 1)) {
			return
		}
		f.attempts++
		switch b.gift(ctx, f, u, fmt.Sprintf("%s-%d-%d", b.run, i, n), due) {
		case giftAcked:
			f.acked.Add(1)
		case giftUnknown:
			// Its place in the fan's sequence is unknown: stop here, so
			// that the fan's acknowledged gifts keep their places.
			f.unsure = true
			return
		}
	}
}

type giftOutcome int

const (
	giftAcked   giftOutcome = iota // 201: committed and published
	giftRefused                    // 4xx: nothing happened
	giftUnknown                    // no answer, or 5xx even when asked again
)

// gift sends one gift, due at due (since t0), and records the time from
// then to its 201. A 5xx or no answer may hide a committed gift: it is
// asked again with the same key, which answers the first outcome (and
// publishes nothing twice).
func (b *liveBench) gift(ctx context.Context, f *liveFan, u, key string, due time.Duration) giftOutcome {
	for try := range 3 {
		if try > 0 {
			select {
			case <-ctx.Done():
				return giftUnknown
			case <-time.After(time.Duration(try) * 50 * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(giftBody))
		if err != nil {
			return giftUnknown
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+f.token)
		req.Header.Set("Idempotency-Key", key)
		resp, err := b.http.Do(req)
		if err != nil {
			f.errs["net"]++
			if ctx.Err() != nil {
				return giftUnknown
			}
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusCreated:
			f.http.record(time.Since(b.t0) - due)
			return giftAcked
		case resp.StatusCode < 500:
			f.errs[strconv.Itoa(resp.StatusCode)]++
			return giftRefused
		}
		f.errs[strconv.Itoa(resp.StatusCode)]++
	}
	return giftUnknown
}

// acked returns the gifts answered 201 so far, by all the fans.
func (b *liveBench) acked() int64 {
	var n int64
	for _, f := range b.fans {
		n += f.acked.Load()
	}
	return n
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
