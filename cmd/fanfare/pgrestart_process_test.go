package main_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestPostgresRestart takes the server's PostgreSQL away twice in the
// middle of a load of LIVE gifts and tips, once as pg_ctl stop -m fast does
// and once as -m immediate does, and starts it again each time. While it is
// down, requests answer 503 unavailable with Retry-After; the clients
// retry each one with the same Idempotency-Key until it is answered 201;
// the server, never restarted, serves new requests once PostgreSQL is
// back; and every acknowledged spend is in the ledger exactly once
// (checkSpendsRecovered: wallets, the LIVE's totals and leaderboard, the
// tips, replays that move nothing, fanfare verify).
func TestPostgresRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := storetest.StartCluster(t)
	s := startServer(t, c.URL())
	w := newSpendWorld(t, s.url, 6)
	const n, workers = 600, 24
	load := w.startRetryingLoad(s.url, n, workers)
	for _, outage := range []struct {
		afterAcks int64
		stop      func()
	}{{150, c.Stop}, {350, c.Crash}} {
		load.waitFor(t, "acknowledged spends", &load.acks, outage.afterAcks)
		outage.stop()
		// Requests keep coming while PostgreSQL is down.
		load.waitFor(t, "answers 503 unavailable", &load.refused, load.refused.Load()+4*workers)
		c.Start()
	}
	acked := load.wait(t)
	if load.refused.Load() == 0 {
		t.Fatal("no request was answered 503 unavailable while PostgreSQL was down")
	}

	// New requests are served at once, by the server that never
	// restarted.
	const fresh = 20
	for i := n; i < n+fresh; i++ {
		code, h, r, err := w.spend(ctx, s.url, i)
		if err != nil || code != http.StatusCreated || h.Get("Idempotent-Replayed") != "" {
			t.Fatalf("spend %d after the restarts: %d %v (replayed %q)\n%s", i, code, err, h.Get("Idempotent-Replayed"), s.logs)
		}
		acked[i] = r
	}
	t.Logf("%d spends acknowledged, %d answers 503 unavailable on the way", n, load.refused.Load())
	w.checkSpendsRecovered(t, s, c.URL(), n+fresh, acked)
}

// retryingLoad is spends sent by clients that retry a spend answered 503
// unavailable, with the same Idempotency-Key, until it is answered 201, as
// the API asks of them.
type retryingLoad struct {
	acks    atomic.Int64 // spends answered 201
	refused atomic.Int64 // answers 503 unavailable, with Retry-After
	done    chan struct{}

	mu     sync.Mutex
	acked  map[int]spendReply
	failed []string // any other answer
}

// startRetryingLoad sends spends 0..n-1 from workers goroutines until each
// is acknowledged, or a minute has passed.
func (w *spendWorld) startRetryingLoad(url string, n, workers int) *retryingLoad {
	l := &retryingLoad{done: make(chan struct{}), acked: map[int]spendReply{}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				l.send(ctx, w, url, i)
			}
		})
	}
	go func() {
		wg.Wait()
		cancel()
		close(l.done)
	}()
	return l
}

// send sends spend i until it is acknowledged, retrying it while it is
// answered 503 unavailable; any other answer is a failure.
func (l *retryingLoad) send(ctx context.Context, w *spendWorld, url string, i int) {
	for {
		var r struct {
			spendReply
			Code string `json:"code"`
		}
		code, h, err := w.spendInto(ctx, url, i, &r)
		switch {
		case err == nil && code == http.StatusCreated:
			l.mu.Lock()
			l.acked[i] = r.spendReply
			l.mu.Unlock()
			l.acks.Add(1)
			return
		case err == nil && code == http.StatusServiceUnavailable && r.Code == "unavailable" && h.Get("Retry-After") != "" && ctx.Err() == nil:
			l.refused.Add(1)
			// A client waits Retry-After; the test, a little less.
			time.Sleep(50 * time.Millisecond)
		default:
			l.mu.Lock()
			l.failed = append(l.failed, fmt.Sprintf("spend %d: %d %q (Retry-After %q) %v", i, code, r.Code, h.Get("Retry-After"), err))
			l.mu.Unlock()
			return
		}
	}
}

// waitFor waits until counter reaches want.
func (l *retryingLoad) waitFor(t *testing.T, what string, counter *atomic.Int64, want int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for counter.Load() < want {
		select {
		case <-l.done:
			l.check(t)
			t.Fatalf("the load ended with %d %s, before %d", counter.Load(), what, want)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s after 30s, want %d", counter.Load(), what, want)
		}
	}
}

// wait waits for the load to end and returns the acknowledged spends by
// number; it fails t on any answer but 201 and 503 unavailable.
func (l *retryingLoad) wait(t *testing.T) map[int]spendReply {
	t.Helper()
	<-l.done
	l.check(t)
	return l.acked
}

// check fails t on any answer but 201 and 503 unavailable so far.
func (l *retryingLoad) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failed) > 0 {
		t.Fatalf("%d spends answered otherwise than 201 or 503 unavailable, among them:\n%s",
			len(l.failed), strings.Join(l.failed[:min(len(l.failed), 10)], "\n"))
	}
}
