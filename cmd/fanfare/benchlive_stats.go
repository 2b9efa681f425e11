package main

import (
	"bufio"
	"bytes"
	"io"
	"math/bits"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The bookkeeping of "bench live": latency histograms, the send times of
// each fan's gifts, the combo streaks a viewer follows, the room frame
// scanner and the attribution of memory to the server.

// histSubBits sets the histogram's precision: 2^histSubBits buckets per
// power of two, so a value is known within 1/32 (about 3%).
const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	// histMaxExp bounds the values: up to 2^histMaxExp µs (19 hours);
	// larger ones count in the last bucket.
	histMaxExp  = 36
	histBuckets = (histMaxExp-histSubBits)*histSub + histSub
)

// histogram counts durations in log-linear buckets of microseconds, as
// HdrHistogram does: values under 2^histSubBits µs exactly, larger ones
// within 1/2^histSubBits. Its size is fixed (about 8 KiB) whatever it
// counts. The zero value is empty; it is not safe for concurrent use.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
}

// histBucket returns the bucket of v µs.
func histBucket(v int64) int {
	if v < 0 {
		v = 0
	}
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - histSubBits - 1 // v>>e is in [histSub, 2*histSub)
	i := e*histSub + int(v>>e)
	return min(i, histBuckets-1)
}

// histValue returns the middle of bucket i, in µs.
func histValue(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	e := i/histSub - 1
	low := int64(i%histSub+histSub) << e
	return low + int64(1)<<e/2
}

// record counts d.
func (h *histogram) record(d time.Duration) {
	h.counts[histBucket(d.Microseconds())]++
	h.n++
}

// merge adds o's counts.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// count returns how many values were recorded.
func (h *histogram) count() uint64 { return h.n }

// quantile returns the value at or below which a fraction q of the
// values fall (0 when empty).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = max(1, min(rank, h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(histValue(i)) * time.Microsecond
		}
	}
	return time.Duration(histValue(histBuckets-1)) * time.Microsecond
}

// sendLog keeps when a fan sent each of its gifts, by the gift's place in
// the fan's sequence (1-based), for the viewers to look up. One goroutine
// (the fan's sender) writes; any number read, without locks.
type sendLog struct {
	chunks [sendLogChunks]atomic.Pointer[sendChunk]
}

const (
	sendChunkSize = 4096
	sendLogChunks = 1024 // 4 Mi gifts a fan
)

type sendChunk [sendChunkSize]atomic.Int64

// set records that gift i was sent at t (a duration since the run
// began, more than zero). It reports false when i is beyond the log's
// capacity.
func (l *sendLog) set(i int64, t time.Duration) bool {
	i--
	c := i / sendChunkSize
	if i < 0 || c >= sendLogChunks {
		return false
	}
	ch := l.chunks[c].Load()
	if ch == nil {
		ch = new(sendChunk)
		l.chunks[c].Store(ch)
	}
	ch[i%sendChunkSize].Store(int64(t))
	return true
}

// at returns when gift i was sent, or 0 when it is not known.
func (l *sendLog) at(i int64) time.Duration {
	i--
	c := i / sendChunkSize
	if i < 0 || c >= sendLogChunks {
		return 0
	}
	ch := l.chunks[c].Load()
	if ch == nil {
		return 0
	}
	return time.Duration(ch[i%sendChunkSize].Load())
}

// streak follows one fan's gifts as one viewer sees them. The room
// coalesces a fan's gifts of one tick into one event whose count is how
// many it stands for and whose combo is the fan's running total in its
// current streak; a pause of more than the combo window (3 s) starts a new
// streak, whose combo starts again from its count. Each fan of the bench
// sends its gifts one after the other, so its n-th acknowledged gift is
// the n-th it ever sent, and an event tells which of them arrived.
type streak struct {
	base int64 // the fan's gifts before its current streak
	last int64 // the combo last seen in the current streak
	got  int64 // gifts seen in all
}

// see takes a gift event of combo c standing for n gifts and returns the
// places (1-based, inclusive) of the fan's gifts it brings. odd reports an
// event that does not follow from the ones before (gifts in between never
// arrived, or the event is malformed); the range is then the best guess.
func (s *streak) see(c, n int64) (from, to int64, odd bool) {
	if n <= 0 || c <= 0 {
		return 0, -1, true
	}
	switch {
	case c == s.last+n:
		// The streak goes on (or the first one begins).
		from = s.base + s.last + 1
	case c == n:
		// The combo went back to its count: a new streak.
		s.base += s.last
		from = s.base + 1
	case c < n:
		// A streak ended and the next began within one tick: n-c gifts
		// closed the old streak, the last c opened the new one.
		from = s.base + s.last + 1
		s.base += s.last + n - c
	case c > s.last+n:
		// The streak went on, but some of its gifts never showed.
		from = s.base + c - n + 1
		odd = true
	default:
		// The combo went down, not to its count: a new streak whose
		// beginning never showed.
		s.base += s.last
		from = s.base + c - n + 1
		odd = true
	}
	s.last = c
	s.got += n
	return from, from + n - 1, odd
}

// giftScanner walks the gift events of a room frame without decoding the
// rest: the room encodes a gift event with fixed members in a fixed order
// ({"type":"gift","at":...,"gifter":"<handle>",...,"count":N,"coins":N,
// "combo":N}) and JSON escapes every quote inside strings, so the member
// names found after an event's start are its own. Handles are plain
// [a-z0-9_.].
type giftScanner struct {
	data   []byte
	pos    int
	bad    bool
	gifter []byte
	count  int64
	combo  int64
}

var (
	giftStart   = []byte(`{"type":"gift"`)
	gifterKey   = []byte(`"gifter":"`)
	countKey    = []byte(`"count":`)
	comboKey    = []byte(`"combo":`)
	stateFrameS = []byte(`{"type":"state"`)
)

// next moves to the next gift event; false at the end, or on a malformed
// one (then bad is set).
func (sc *giftScanner) next() bool {
	i := bytes.Index(sc.data[sc.pos:], giftStart)
	if i < 0 {
		return false
	}
	p := sc.pos + i + len(giftStart)
	var ok bool
	if sc.gifter, p, ok = scanString(sc.data, p, gifterKey); !ok {
		sc.bad = true
		return false
	}
	if sc.count, p, ok = scanInt(sc.data, p, countKey); !ok {
		sc.bad = true
		return false
	}
	if sc.combo, p, ok = scanInt(sc.data, p, comboKey); !ok {
		sc.bad = true
		return false
	}
	sc.pos = p
	return true
}

func scanString(data []byte, p int, key []byte) ([]byte, int, bool) {
	i := bytes.Index(data[p:], key)
	if i < 0 {
		return nil, p, false
	}
	p += i + len(key)
	j := bytes.IndexByte(data[p:], '"')
	if j < 0 {
		return nil, p, false
	}
	return data[p : p+j], p + j + 1, true
}

func scanInt(data []byte, p int, key []byte) (int64, int, bool) {
	i := bytes.Index(data[p:], key)
	if i < 0 {
		return 0, p, false
	}
	p += i + len(key)
	var v int64
	start := p
	for p < len(data) && data[p] >= '0' && data[p] <= '9' && p-start < 18 {
		v = v*10 + int64(data[p]-'0')
		p++
	}
	return v, p, p > start
}

// memorySide splits what the process gained while the viewers connected
// between the server and the bench's own client ends, from a heap profile
// (exact while runtime.MemProfileRate is 1) and the goroutine profile.
type memorySide struct {
	// Live bytes allocated since the first snapshot: by the server, by
	// the clients, and for goroutines (runtime.malg, whose stacks do not
	// tell who started them).
	serverHeap, clientHeap, gHeap int64
	serverG, clientG              int // goroutines gained
}

// server returns the server's part of heap and stack bytes gained: the
// heap in proportion to the live bytes each side allocated (so each bears
// its share of the heap's fragmentation), the stacks and goroutine records
// in proportion to each side's goroutines.
func (m memorySide) server(heap, stack int64) float64 {
	gs := 1.0
	if g := m.serverG + m.clientG; g > 0 {
		gs = float64(max(m.serverG, 0)) / float64(g)
	}
	live := float64(m.serverHeap + m.clientHeap + m.gHeap)
	hs := 1.0
	if live > 0 {
		hs = (float64(m.serverHeap) + float64(m.gHeap)*gs) / live
	}
	return float64(heap)*hs + float64(stack)*gs
}

// Sides of a heap profile record.
const (
	sideServer = iota
	sideClient
	sideGoroutine // runtime.malg: a goroutine's record
	sideIgnore    // the profiling itself
)

// clientFrames are the function-name prefixes that mark a stack as the
// bench's client side: its own methods (the viewers' dialers and
// readers), the HTTP client that dials, and the progress bar.
func clientFrames() []string {
	fn := runtime.FuncForPC(reflect.ValueOf((*liveBench).marker).Pointer()).Name()
	own := strings.TrimSuffix(fn, "marker")
	return []string{own, "net/http.(*Transport)", "net/http.(*persistConn)", "net/http.(*Client)",
		"github.com/vbauerster/mpb"}
}

// profileSnapshot is the in-use bytes of the heap profile by stack and the
// goroutines by side at one moment.
type profileSnapshot struct {
	heap      map[string]heapSite
	serverG   int
	clientG   int
	clientPre []string
}

type heapSite struct {
	bytes int64
	side  int
}

// snapshotProfiles reads the heap (debug=1 text: raw, unscaled counts and
// whole stacks) and goroutine profiles.
func snapshotProfiles(client []string) (profileSnapshot, error) {
	s := profileSnapshot{heap: map[string]heapSite{}, clientPre: client}
	var buf bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&buf, 1); err != nil {
		return s, err
	}
	parseProfile(&buf, func(n int64, stack string, side int) {
		h := s.heap[stack]
		h.bytes += n
		h.side = side
		s.heap[stack] = h
	}, client, true)
	buf.Reset()
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return s, err
	}
	parseProfile(&buf, func(n int64, _ string, side int) {
		switch side {
		case sideClient:
			s.clientG += int(n)
		case sideServer:
			s.serverG += int(n)
		}
	}, client, false)
	return s, nil
}

// parseProfile reads the records of a debug=1 heap or goroutine profile:
// a header line ("<inuse objects>: <inuse bytes> [...] @ 0x..." for the
// heap, "<count> @ 0x..." for goroutines) followed by "#\t0x...\tfunc+0x..."
// frame lines. fn gets the record's value (in-use bytes or goroutines),
// its stack (the header's addresses) and its side: the client's when a
// frame starts with one of the client prefixes, the profiler's own, a
// goroutine's record, or else the server's.
func parseProfile(r io.Reader, fn func(n int64, stack string, side int), client []string, heap bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var (
		n     int64
		stack string
		side  int
		open  bool
	)
	flush := func() {
		if open {
			fn(n, stack, side)
		}
		open = false
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#\t"):
			if !open || side != sideServer {
				continue
			}
			f := strings.Split(line, "\t")
			if len(f) < 3 {
				continue
			}
			switch {
			case strings.HasPrefix(f[2], "runtime/pprof."), strings.Contains(f[2], ".snapshotProfiles"), strings.Contains(f[2], ".parseProfile"):
				side = sideIgnore
			case strings.HasPrefix(f[2], "runtime.malg+"):
				side = sideGoroutine
			default:
				for _, p := range client {
					if strings.HasPrefix(f[2], p) {
						side = sideClient
						break
					}
				}
			}
		case strings.Contains(line, " @ 0x"):
			flush()
			head, addrs, _ := strings.Cut(line, " @ ")
			var v string
			if heap {
				// "1: 4096 [2: 8192]"
				_, rest, ok := strings.Cut(head, ": ")
				if !ok {
					continue
				}
				v, _, _ = strings.Cut(rest, " ")
			} else {
				v = strings.TrimSpace(head)
			}
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			n, stack, side, open = x, addrs, sideServer, true
		case strings.HasPrefix(line, "# runtime.MemStats"):
			flush()
			return
		}
	}
	flush()
}

// split compares two snapshots: the heap growth of each stack goes to the
// client or the server side, and so do the goroutines.
func (s profileSnapshot) split(after profileSnapshot) memorySide {
	var m memorySide
	for stack, h := range after.heap {
		d := h.bytes - s.heap[stack].bytes
		switch h.side {
		case sideClient:
			m.clientHeap += d
		case sideServer:
			m.serverHeap += d
		case sideGoroutine:
			m.gHeap += d
		}
	}
	m.clientG = after.clientG - s.clientG
	m.serverG = after.serverG - s.serverG
	return m
}

// latencyShard is a histogram that a group of viewers share.
type latencyShard struct {
	mu sync.Mutex
	h  histogram
	_  [64]byte // keep shards' locks off each other's cache lines
}
