// Package cache keeps values for a short time in memory: what a hot path
// reads on every request (a user, a LIVE) but that changes rarely, where a
// second of staleness is acceptable and the transaction that moves money
// checks the state that matters again.
package cache

import (
	"sync"
	"time"
)

// TTL maps keys to values that expire After their Put. It holds at most Max
// entries: when full, it starts over empty. The zero value is not usable;
// build one with New.
type TTL[K comparable, V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	m  map[K]entry[V]
}

type entry[V any] struct {
	v  V
	at time.Time
}

// New returns a cache whose values live ttl, of at most max entries; now is
// its clock (the owner's fanfare.Clock's Now), required: it panics on nil.
func New[K comparable, V any](ttl time.Duration, max int, now func() time.Time) *TTL[K, V] {
	if now == nil {
		panic("cache: New needs a clock")
	}
	return &TTL[K, V]{ttl: ttl, max: max, now: now, m: map[K]entry[V]{}}
}

// Get returns the value of k if it was put less than the TTL ago.
func (c *TTL[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || c.now().Sub(e.at) >= c.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put stores v under k.
func (c *TTL[K, V]) Put(k K, v V) {
	at := c.now()
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[k] = entry[V]{v: v, at: at}
	c.mu.Unlock()
}

// Delete forgets k.
func (c *TTL[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// Update replaces the value of k by fn's result if k is there and has not
// expired, keeping the time it was put: an update never makes a value live
// longer.
func (c *TTL[K, V]) Update(k K, fn func(V) V) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.Sub(e.at) >= c.ttl {
		return
	}
	e.v = fn(e.v)
	c.m[k] = e
}
