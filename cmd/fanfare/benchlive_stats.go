package main

import (
	"bytes"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// The bookkeeping of "bench live": latency histograms, the scheduled send
// times of each fan's gifts, the combo streaks a viewer follows, what each
// viewer saw of each fan (missed and over-delivered gifts) and the room
// frame scanner.

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

// sendLog keeps when each of a fan's gifts was scheduled to be sent (its
// actual send in a closed loop), by the gift's place in the fan's sequence
// (1-based), for the viewers to look up. One goroutine
// (the fan's sender) writes; any number read, without locks.
type sendLog struct {
	chunks [sendLogChunks]atomic.Pointer[sendChunk]
}

const (
	sendChunkSize = 4096
	sendLogChunks = 1024 // 4 Mi gifts a fan
)

type sendChunk [sendChunkSize]atomic.Int64

// set records that gift i was scheduled at t (a duration since the run
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

// at returns when gift i was scheduled, or 0 when it is not known.
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

// fanTally is what one viewer saw of one fan's gifts: the places it
// received, so that a gift received twice, or one the fan never had
// acknowledged, counts as over-delivered, and one never received as
// missed. Events arrive in order on a socket, so the places seen are
// followed by the highest one and a count.
type fanTally struct {
	streak streak
	high   int64 // the highest place seen
	seen   int64 // distinct places seen
	again  int64 // places seen more than once
}

// take accounts a gift event of combo c standing for n gifts and returns
// the places it brings that this viewer had not seen (none when to <
// from). bad reports a malformed event.
func (t *fanTally) take(c, n int64) (from, to int64, bad bool) {
	if n <= 0 || c <= 0 {
		return 0, -1, true
	}
	// A gap (see's odd) is not an error of the event: the gifts in
	// between count as missed at the end.
	from, to, _ = t.streak.see(c, n)
	if from <= t.high {
		t.again += min(t.high, to) - from + 1
		from = t.high + 1
	}
	if to >= from {
		t.seen += to - from + 1
		t.high = to
	}
	return from, to, false
}

// result compares what the viewer saw with the fan's acked gifts. A fan
// that stopped on a gift whose outcome it never learnt (unsure) may have
// had one more gift committed and published: it is neither missed nor
// over. Places beyond the acknowledged ones are over-delivered: no fan
// was told they were sent.
func (t *fanTally) result(acked int64, unsure bool) (missed, over int64) {
	limit := acked
	if unsure {
		limit++
	}
	seenAcked := t.seen - max(0, t.high-acked) // places up to acked seen
	return max(0, acked-seenAcked), t.again + max(0, t.high-limit)
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

// latencyShard is a histogram that a group of viewers share.
type latencyShard struct {
	mu sync.Mutex
	h  histogram
	// cross counts the deliveries to viewers on another node than the
	// fan's (several nodes).
	cross histogram
	_     [64]byte // keep shards' locks off each other's cache lines
}
