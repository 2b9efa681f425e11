package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/webhook"
)

// BenchmarkDeliveryLoop delivers b.N gift.sent events, written to the
// outbox beforehand, to one loopback endpoint with the server's delivery
// loop (default workers and batch), and reports the events delivered a
// second and the process's CPU per event (getrusage, user and system:
// the loop, its database driver and the receiver, which runs in this
// process and answers 204 at once).
func BenchmarkDeliveryLoop(b *testing.B) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.MustOpen(b, d)
			var got atomic.Int64
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.Add(1)
				w.WriteHeader(http.StatusNoContent)
			}))
			b.Cleanup(recv.Close)
			svc, err := webhook.New(db, webhook.Options{Clock: fanfare.SystemClock{}})
			if err != nil {
				b.Fatal(err)
			}
			u := recv.URL
			if _, _, err := svc.Create(ctx, operator, webhook.Input{URL: &u, Events: []string{"*"}}); err != nil {
				b.Fatal(err)
			}
			tx, err := db.Write.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			for i := range b.N {
				ev := outbox.Event{ID: outbox.ID(outbox.GiftSent, fmt.Sprint(i)), Type: outbox.GiftSent, At: now,
					Data: map[string]any{"gift_id": "rose", "count": 1, "n": i}}
				if err := outbox.Enqueue(ctx, tx, ev); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			cpu0 := cpuTime()
			b.ResetTimer()
			start := time.Now()
			if err := svc.Start(ctx); err != nil {
				b.Fatal(err)
			}
			for got.Load() < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			cpu := cpuTime() - cpu0
			if err := svc.Stop(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
		})
	}
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
