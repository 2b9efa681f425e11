// Package ledgerbench drives the ledger with the shape of a crowded LIVE: many
// fans gifting one creator at once. Both `go test -bench` and
// `fanfare bench ledger` run it, so their figures are the same workload.
package ledgerbench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
)

// Config sizes a run.
type Config struct {
	Fans        int            // distinct fans gifting
	Gifts       int            // gifts to send in all
	Concurrency int            // goroutines sending at once
	Coins       fanfare.Amount // coins per gift
	ShareBPS    int64          // creator share of a gift, in basis points
	// CreatorFirst has the gifts lock the creator's account from the
	// start of their batch, as they did before they credited it last
	// (ledger.Leg.CreditLast): for comparison.
	CreatorFirst bool
	// Progress, if set, is called from time to time with the gifts done.
	Progress func(done int)
}

// Stats is the outcome of a run.
type Stats struct {
	Gifts       int
	Failed      int
	Elapsed     time.Duration
	CommitP50   time.Duration // time from Submit to its durable answer
	CommitP99   time.Duration
	GiftsPerSec float64
}

// String is the one-line summary, e.g.
// "24504 gifts/s, commit p50 9.8 ms p99 23.6 ms (200000 gifts, 0 failed)".
func (s Stats) String() string {
	return fmt.Sprintf("%.0f gifts/s, commit p50 %s p99 %s (%d gifts, %d failed)",
		s.GiftsPerSec, ms(s.CommitP50), ms(s.CommitP99), s.Gifts, s.Failed)
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + " ms"
}

// World is the accounts a run uses: funded fans, one creator, the gift
// revenue and diamond issuance accounts.
type World struct {
	Fans    []ledger.AccountID
	Creator ledger.AccountID
	Revenue ledger.AccountID
	Issue   ledger.AccountID
}

// Setup creates cfg.Fans fans on l, each funded with enough coins for its
// share of the gifts, and the creator.
func Setup(ctx context.Context, l *ledger.Ledger, cfg Config) (*World, error) {
	cfg = defaults(cfg)
	w := &World{}
	var err error
	if w.Creator, err = l.UserAccount(ctx, "bench-creator", fanfare.Diamond); err != nil {
		return nil, err
	}
	if w.Revenue, err = l.SystemAccount(ctx, ledger.Revenue("gift"), fanfare.Coin); err != nil {
		return nil, err
	}
	if w.Issue, err = l.SystemAccount(ctx, ledger.DiamondIssuance, fanfare.Diamond); err != nil {
		return nil, err
	}
	promo, err := l.SystemAccount(ctx, ledger.Promotions, fanfare.Coin)
	if err != nil {
		return nil, err
	}
	perFan := fanfare.Amount((cfg.Gifts/cfg.Fans + 1)) * cfg.Coins
	w.Fans = make([]ledger.AccountID, cfg.Fans)
	for i := range w.Fans {
		if w.Fans[i], err = l.UserAccount(ctx, "bench-fan-"+strconv.Itoa(i), fanfare.Coin); err != nil {
			return nil, err
		}
	}
	err = parallel(cfg.Fans, cfg.Concurrency, func(i int) error {
		_, err := l.Submit(ctx, ledger.Op{Kind: "grant", Object: "bench", Actor: "bench",
			Legs: []ledger.Leg{{Debit: promo, Credit: w.Fans[i], Amount: perFan}}})
		return err
	})
	return w, err
}

func defaults(cfg Config) Config {
	cfg.Fans = max(cfg.Fans, 1)
	cfg.Concurrency = max(cfg.Concurrency, 1)
	if cfg.Coins <= 0 {
		cfg.Coins = 5
	}
	if cfg.ShareBPS <= 0 {
		cfg.ShareBPS = 5000
	}
	return cfg
}

// Gift returns the ledger operation of gift number i: fan i%len(fans) sends
// cfg.Coins to gift revenue and the creator receives their share in
// diamonds (credited last, as the wallet's spends do, unless
// cfg.CreatorFirst), with an idempotency key of its own.
func (w *World) Gift(cfg Config, run string, i int) ledger.Op {
	cfg = defaults(cfg)
	fan := w.Fans[i%len(w.Fans)]
	key := run + "-" + strconv.Itoa(i)
	op := ledger.Op{Kind: "gift", Object: "live:bench", Actor: "bench", Legs: []ledger.Leg{
		{Debit: fan, Credit: w.Revenue, Amount: cfg.Coins},
	}}
	if d := fanfare.Share(cfg.Coins, cfg.ShareBPS); d > 0 {
		op.Legs = append(op.Legs, ledger.Leg{Debit: w.Issue, Credit: w.Creator, Amount: d, CreditLast: !cfg.CreatorFirst})
	}
	op.Idem = &ledger.Idempotency{Scope: "bench-fan-" + strconv.Itoa(i%len(w.Fans)), Key: key, Hash: "gift"}
	return op
}

// Run sends cfg.Gifts gifts from cfg.Concurrency goroutines and measures.
// run names the run, so that idempotency keys of two runs never collide.
func Run(ctx context.Context, l *ledger.Ledger, w *World, cfg Config, run string) (Stats, error) {
	cfg = defaults(cfg)
	lat := make([]time.Duration, cfg.Gifts)
	var failed atomic.Int64
	var done atomic.Int64
	stop := make(chan struct{})
	var pwg sync.WaitGroup
	if cfg.Progress != nil {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					cfg.Progress(int(done.Load()))
					return
				case <-t.C:
					cfg.Progress(int(done.Load()))
				}
			}
		}()
	}
	start := time.Now()
	err := parallel(cfg.Gifts, cfg.Concurrency, func(i int) error {
		t0 := time.Now()
		_, err := l.Submit(ctx, w.Gift(cfg, run, i))
		lat[i] = time.Since(t0)
		done.Add(1)
		if err != nil {
			if fanfare.ErrorCode(err) == fanfare.EInternal {
				return err
			}
			failed.Add(1)
		}
		return nil
	})
	elapsed := time.Since(start)
	close(stop)
	pwg.Wait()
	if err != nil {
		return Stats{}, err
	}
	slices.Sort(lat)
	return Stats{
		Gifts:       cfg.Gifts,
		Failed:      int(failed.Load()),
		Elapsed:     elapsed,
		CommitP50:   lat[len(lat)/2],
		CommitP99:   lat[len(lat)*99/100],
		GiftsPerSec: float64(cfg.Gifts) / elapsed.Seconds(),
	}, nil
}

// parallel calls fn(0..n-1) from c goroutines and returns the first error.
func parallel(n, c int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(c, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
