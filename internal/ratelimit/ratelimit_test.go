package ratelimit_test

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
)

// clock is a clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestLimiterBurstThenRate(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := ratelimit.NewLimiter(c, 3, 10*time.Second, 0)
	for i := range 3 {
		_, ok := l.Allow("a")
		require.True(t, ok, "attempt %d within the burst", i+1)
	}
	wait, ok := l.Allow("a")
	require.False(t, ok, "4th attempt at once")
	require.Equal(t, 10*time.Second, wait)
	_, ok = l.Allow("b")
	require.True(t, ok, "another key has its own bucket")

	c.add(10*time.Second - time.Nanosecond)
	wait, ok = l.Allow("a")
	require.False(t, ok)
	require.Equal(t, time.Nanosecond, wait)
	c.add(time.Nanosecond)
	_, ok = l.Allow("a")
	require.True(t, ok, "one token earned back")
	_, ok = l.Allow("a")
	require.False(t, ok, "only one")

	c.add(30 * time.Second)
	for i := range 3 {
		_, ok := l.Allow("a")
		require.True(t, ok, "attempt %d after a full window", i+1)
	}
}

func TestLimiterRefundAndReset(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := ratelimit.NewLimiter(c, 2, time.Minute, 0)
	l.Allow("a")
	l.Allow("a")
	_, ok := l.Allow("a")
	require.False(t, ok)
	l.Refund("a")
	_, ok = l.Allow("a")
	require.True(t, ok, "a refunded token can be taken again")
	l.Reset("a")
	require.Equal(t, 0, l.Len())
	for range 2 {
		_, ok = l.Allow("a")
		require.True(t, ok, "a reset bucket is full")
	}
	l.Refund("unknown") // nothing to give back
	require.Equal(t, 1, l.Len())
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	t.Parallel()
	c := newClock()
	const maxKeys = 100
	l := ratelimit.NewLimiter(c, 5, time.Second, maxKeys)
	l.Allow("victim")
	for i := range 10 * maxKeys {
		_, ok := l.Allow(fmt.Sprintf("flood-%d", i))
		require.True(t, ok, "a new key always has its burst")
		require.LessOrEqual(t, l.Len(), maxKeys)
	}
	// Old entries expire: once every bucket is full again, one call
	// sweeps them all.
	c.add(5 * time.Second)
	l.Allow("late")
	require.Equal(t, 1, l.Len())
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	proxies, err := ratelimit.ParsePrefixes(" 10.0.0.0/8, 127.0.0.1 ,::1")
	require.NoError(t, err)
	require.Len(t, proxies, 3)
	for _, tc := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"198.51.100.7:5555", nil, "198.51.100.7"},
		{"198.51.100.7:5555", []string{"203.0.113.9"}, "198.51.100.7"}, // not a proxy: its claim is ignored
		{"127.0.0.1:5555", nil, "127.0.0.1"},
		{"127.0.0.1:5555", []string{"203.0.113.9"}, "203.0.113.9"},
		{"127.0.0.1:5555", []string{"1.2.3.4, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"}, // rightmost untrusted hop
		{"127.0.0.1:5555", []string{"1.2.3.4", "203.0.113.9"}, "203.0.113.9"},
		{"127.0.0.1:5555", []string{"nonsense, 10.1.2.3"}, "10.1.2.3"},
		{"[::1]:5555", []string{"2001:db8::1"}, "2001:db8::1"},
		{"[::ffff:198.51.100.7]:5555", nil, "198.51.100.7"},
	} {
		r := httptest.NewRequest("POST", "/v1/auth/login", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		require.Equal(t, tc.want, ratelimit.ClientAddr(r, proxies).String(), "%s %v", tc.remote, tc.xff)
	}
	for _, bad := range []string{"10.0.0.0/33", "localhost", "1.2.3"} {
		_, err := ratelimit.ParsePrefixes(bad)
		require.Error(t, err, bad)
	}
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, must(ratelimit.ParsePrefixes("10.1.2.3/8")))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestGuard(t *testing.T) {
	t.Parallel()
	c := newClock()
	g := ratelimit.NewGuard(ratelimit.GuardOptions{Clock: c, AttemptsPerMinute: 6, Burst: 2, LoginFailures: 3, LoginFailureWindow: 15 * time.Minute})
	from := func(addr string) error {
		r := httptest.NewRequest("POST", "/login", nil)
		r.RemoteAddr = addr
		return g.Attempt(r)
	}
	require.NoError(t, from("192.0.2.1:1"))
	require.NoError(t, from("192.0.2.1:2"))
	err := from("192.0.2.1:3")
	require.Equal(t, fanfare.ERateLimited, fanfare.ErrorCode(err))
	require.Equal(t, 10*time.Second, err.(*fanfare.Error).RetryAfter)
	require.Contains(t, fanfare.ErrorMessage(err), "try again in 10 seconds")
	require.NoError(t, from("192.0.2.2:1"), "another address")
	require.NoError(t, from("[2001:db8::1]:1"))
	require.NoError(t, from("[2001:db8::2]:1"))
	require.Error(t, from("[2001:db8::3]:1"), "one IPv6 /64 is one client")
	require.NoError(t, from("[2001:db8:0:1::1]:1"))

	fail := fanfare.Errorf(fanfare.EUnauthorized, "wrong handle or password")
	for range 3 {
		done, err := g.Login("Sam")
		require.NoError(t, err)
		done(fail)
	}
	_, err = g.Login("@sam")
	require.Equal(t, fanfare.ERateLimited, fanfare.ErrorCode(err))
	require.Equal(t, 5*time.Minute, err.(*fanfare.Error).RetryAfter)
	require.Contains(t, fanfare.ErrorMessage(err), "try again in 5 minutes")
	done, err := g.Login("mia")
	require.NoError(t, err, "another handle")
	done(nil)

	c.add(5 * time.Minute)
	done, err = g.Login("sam")
	require.NoError(t, err, "a failure forgiven after window/limit")
	done(fmt.Errorf("database down")) // does not count
	done, err = g.Login("sam")
	require.NoError(t, err)
	done(nil) // a success forgets the failures
	for range 3 {
		done, err := g.Login("sam")
		require.NoError(t, err)
		done(fail)
	}

	var off *ratelimit.Guard
	require.NoError(t, off.Attempt(httptest.NewRequest("POST", "/", nil)))
	done, err = off.Login("sam")
	require.NoError(t, err)
	done(fail)
}

func TestWait(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		time.Second: "1 second", 1500 * time.Millisecond: "2 seconds", 90 * time.Second: "90 seconds",
		3 * time.Minute: "3 minutes", 61 * time.Minute: "61 minutes", 91 * time.Second: "2 minutes",
	} {
		require.Equal(t, want, ratelimit.Wait(d), d)
	}
	require.Equal(t, "1", ratelimit.RetryAfter(time.Millisecond))
	require.Equal(t, "180", ratelimit.RetryAfter(3*time.Minute))
}
