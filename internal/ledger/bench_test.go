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

// BenchmarkNodesHotCreator sends gifts from many fans to one creator
// through two ledgers on one PostgreSQL database, each with its own pool
// and committer, as two nodes hold them: every batch of both credits the
// same creator. "credit_last" is what the wallet does (the creator, the
// revenue and the issuance accounts are locked only in the batch's last
// round trip, with its COMMIT); "creator_first" locks the creator's
// account from the batch's first statement, as gifts did before. Both
// report the two nodes' gifts/s together.
func BenchmarkNodesHotCreator(b *testing.B) {
	for _, c := range []struct {
		name  string
		first bool
	}{{"credit_last", false}, {"creator_first", true}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.MustOpen(b, store.Postgres)
			var ls [2]*ledger.Ledger
			for i, h := range []*store.DB{db, storetest.Reopen(b, db)} {
				l, err := ledger.Open(ctx, h, ledger.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				ls[i] = l
			}
			cfg := ledgerbench.Config{Fans: 2000, Gifts: max(b.N/2, 1), Concurrency: 64, CreatorFirst: c.first}
			w, err := ledgerbench.Setup(ctx, ls[0], cfg)
			if err != nil {
				b.Fatal(err)
			}
			// The second node finds the same accounts (Setup creates what
			// is missing and funds each fan again: twice the coins).
			w2, err := ledgerbench.Setup(ctx, ls[1], cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			var stats [2]ledgerbench.Stats
			var errs [2]error
			var wg sync.WaitGroup
			for i, ww := range []*ledgerbench.World{w, w2} {
				wg.Go(func() { stats[i], errs[i] = ledgerbench.Run(ctx, ls[i], ww, cfg, fmt.Sprint("n", i, "-", b.N)) })
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			for i := range 2 {
				if errs[i] != nil || stats[i].Failed > 0 {
					b.Fatalf("node %d: %v, %d gifts failed", i, errs[i], stats[i].Failed)
				}
			}
			b.ReportMetric(float64(2*cfg.Gifts)/elapsed.Seconds(), "gifts/s")
			b.ReportMetric(float64(max(stats[0].CommitP99, stats[1].CommitP99).Microseconds())/1000, "p99-ms")
			r, err := ls[0].Verify(ctx, nil)
			if err != nil || !r.OK() {
				b.Fatalf("Verify: %v %v", err, r.Problems)
			}
		})
	}
}
