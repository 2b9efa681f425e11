package ledger_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/ledger/ledgerbench"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// BenchmarkGiftHotAccount sends gifts from many fans to one creator through
// the committer (durable commits) and reports gifts/s, per store.
func BenchmarkGiftHotAccount(b *testing.B) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			db := storetest.MustOpen(b, d)
			ctx := context.Background()
			obs := &batchObs{}
			l, err := ledger.Open(ctx, db, ledger.Options{Observer: obs})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			cfg := ledgerbench.Config{Fans: 10000, Gifts: max(b.N, 1), Concurrency: 256}
			w, err := ledgerbench.Setup(ctx, l, cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			s, err := ledgerbench.Run(ctx, l, w, cfg, fmt.Sprint("b", b.N))
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if s.Failed > 0 {
				b.Fatalf("%d gifts failed", s.Failed)
			}
			b.ReportMetric(s.GiftsPerSec, "gifts/s")
			b.ReportMetric(float64(s.CommitP99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(obs.ops)/float64(max(obs.batches, 1)), "ops/batch")
			r, err := l.Verify(ctx, nil)
			if err != nil || !r.OK() {
				b.Fatalf("Verify: %v %v", err, r.Problems)
			}
		})
	}
}

// batchObs counts the committer's batches.
type batchObs struct {
	mu      sync.Mutex
	batches int
	ops     int
	dur     time.Duration
}

func (o *batchObs) BatchCommitted(size, failed int, d time.Duration) {
	o.mu.Lock()
	o.batches++
	o.ops += size
	o.dur += d
	o.mu.Unlock()
}
