// Package ratelimit limits how often something may be tried: log-ins and
// sign-ups per client address, failed log-ins per handle. It keeps its state
// in memory, bounded, and reads the time from the clock it is given.
//
// It imports only the root package.
package ratelimit

import (
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
)

// DefaultMaxKeys is how many keys a Limiter keeps unless told otherwise.
const DefaultMaxKeys = 100_000

// Limiter is a token bucket per key: each key may take Burst tokens at once,
// and earns one back every Interval. It is the generic cell rate algorithm:
// a key's whole state is the time its bucket will be full again, so a key
// whose bucket is full is simply absent.
//
// Memory is bounded: a Limiter holds at most MaxKeys keys. Keys whose
// bucket has filled up are swept out as time passes; when the map is full
// of keys still counting, some of them are forgotten at random (their
// bucket starts full again), so a flood of distinct keys costs the flood's
// own limits, never memory or the other clients' service.
type Limiter struct {
	clock    fanfare.Clock
	interval time.Duration // to earn one token
	window   time.Duration // burst × interval: an empty bucket fills in window
	maxKeys  int

	mu    sync.Mutex
	full  map[string]time.Time // key → when its bucket is full again
	swept time.Time
}

// NewLimiter returns a Limiter of burst tokens per key, earning one back
// every interval, keeping at most maxKeys keys (0: DefaultMaxKeys). It
// panics unless burst and interval are positive.
func NewLimiter(clock fanfare.Clock, burst int, interval time.Duration, maxKeys int) *Limiter {
	if burst <= 0 || interval <= 0 {
		panic("ratelimit: burst and interval must be positive")
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Limiter{
		clock:    clock,
		interval: interval,
		window:   time.Duration(burst) * interval,
		maxKeys:  maxKeys,
		full:     map[string]time.Time{},
	}
}

// Allow takes a token of key if one is left. When none is, it takes
// nothing and returns how long until one is.
func (l *Limiter) Allow(key string) (wait time.Duration, ok bool) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tidy(now)
	next := l.full[key]
	if next.Before(now) {
		next = now
	}
	next = next.Add(l.interval)
	if over := next.Sub(now) - l.window; over > 0 {
		return over, false
	}
	if _, known := l.full[key]; !known && len(l.full) >= l.maxKeys {
		l.evict()
	}
	l.full[key] = next
	return 0, true
}

// Refund gives key back a token taken by Allow, for an attempt that turned
// out not to count.
func (l *Limiter) Refund(key string) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	next, ok := l.full[key]
	if !ok {
		return
	}
	if next = next.Add(-l.interval); next.After(now) {
		l.full[key] = next
	} else {
		delete(l.full, key)
	}
}

// Reset fills key's bucket.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	delete(l.full, key)
	l.mu.Unlock()
}

// Len returns how many keys are counting.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.full)
}

// tidy deletes the keys whose bucket is full again, at most once per
// window (no key lives longer than a window after its last token) and
// whenever the map is full.
func (l *Limiter) tidy(now time.Time) {
	if len(l.full) < l.maxKeys && now.Sub(l.swept) < l.window {
		return
	}
	l.swept = now
	for k, t := range l.full {
		if !t.After(now) {
			delete(l.full, k)
		}
	}
}

// evict forgets a quarter of the keys, chosen at random, to make room when
// every key kept is still counting.
func (l *Limiter) evict() {
	n := max(1, l.maxKeys/4)
	for k := range l.full { // map order is random
		if n == 0 {
			break
		}
		delete(l.full, k)
		n--
	}
}
