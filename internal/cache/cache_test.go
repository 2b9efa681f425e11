package cache_test

import (
	"sync"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare/internal/cache"
)

func TestTTL(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := cache.New[string, int](time.Second, 3, clock)
	if _, ok := c.Get("a"); ok {
		t.Fatal("empty cache answered")
	}
	c.Put("a", 1)
	mu.Lock()
	now = now.Add(time.Second - time.Nanosecond)
	mu.Unlock()
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a) = %d, %v within the TTL", v, ok)
	}
	mu.Lock()
	now = now.Add(time.Nanosecond)
	mu.Unlock()
	if _, ok := c.Get("a"); ok {
		t.Fatal("Get(a) answered at the TTL")
	}
	c.Put("a", 2)
	c.Delete("a")
	if _, ok := c.Get("a"); ok {
		t.Fatal("Get(a) answered after Delete")
	}
	for i, k := range []string{"a", "b", "c", "d"} {
		c.Put(k, i)
	}
	if _, ok := c.Get("a"); ok {
		t.Fatal("a full cache kept its old entries")
	}
	if v, ok := c.Get("d"); !ok || v != 3 {
		t.Fatalf("Get(d) = %d, %v", v, ok)
	}
}
