package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/app"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
)

const benchEarningsSynopsis = `Usage: fanfare bench earnings [flags]

Seeds ONE creator with --transfers earning operations (gifts, tips and
subscriptions, in the ledger shape of each) from --supporters fans, spread
over --days days: every operation goes through the ledger's committer with
the clock moved day by day, so the daily and supporter totals and the hold
window see real dates. Then it serves the HTTP API on loopback and measures,
with --requests requests per route from --concurrency clients:
GET /v1/me/earnings (the default 30 days and a 365-day window) and
GET /v1/me/supporters (sort=total first page and a deep page, sort=recent).
One line per route:

  earnings sqlite (synchronous=full): GET /v1/me/earnings p50 1.2 ms p99 3.4 ms (1000000 transfers, 100000 supporters, 365 days, 500 requests, c=4)`

// benchClock is the seeding's clock, moved day by day.
type benchClock struct{ ns atomic.Int64 }

func (c *benchClock) Now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *benchClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

func (c *BenchCommand) earnings(ctx context.Context, args []string) error {
	fs := newFlagSet("bench earnings", benchEarningsSynopsis, c.stderr)
	dbURL := fs.String("db", "", "database: empty for a fresh SQLite file, or a PostgreSQL server URL (a fresh schema is used)")
	transfers := fs.Int("transfers", 1_000_000, "earning operations to seed")
	supporters := fs.Int("supporters", 100_000, "distinct fans giving")
	days := fs.Int("days", 365, "days the operations are spread over, ending today")
	requests := fs.Int("requests", 500, "requests per route")
	conc := fs.Int("concurrency", 4, "concurrent clients")
	senders := fs.Int("senders", 256, "concurrent operations while seeding")
	keep := fs.Bool("keep", false, "keep the database afterwards")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *transfers < 1 || *supporters < 1 || *days < 1 || *requests < 1 || *conc < 1 || *senders < 1 {
		return errors.New("bench earnings: every count must be positive")
	}
	kind := "sqlite"
	if strings.HasPrefix(*dbURL, "postgres") {
		kind = "postgres"
	}
	u, cleanup, err := benchDB("bench earnings", kind, *dbURL, *keep)
	if err != nil {
		return err
	}
	defer cleanup()
	db, err := store.Open(ctx, u)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	blobDir, err := os.MkdirTemp("", "fanfare-bench-blobs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(blobDir)
	clock := &benchClock{}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(*days - 1))
	clock.set(first.Add(time.Hour))
	a, err := app.Open(ctx, db, clock, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Config{APIKey: "bench-key-bench-key-bench-key-00", Version: "bench",
		PasswordHashCost: account.MinHashCost, BlobURL: "file://" + blobDir})
	if err != nil {
		return err
	}
	defer a.Close()

	creator, err := a.Accounts.Create(ctx, account.CreateInput{Handle: "creator", Password: "fanfare-bench", Region: "FR", BirthDate: "1990-01-01"})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "setting up %d fans on %s...\n", *supporters, db.Dialect)
	fans, err := benchFans(ctx, db, a.Ledger, clock, *supporters)
	if err != nil {
		return err
	}
	to, err := a.Ledger.UserAccount(ctx, creator.ID, fanfare.Diamond)
	if err != nil {
		return err
	}
	issue, err := a.Ledger.SystemAccount(ctx, ledger.DiamondIssuance, fanfare.Diamond)
	if err != nil {
		return err
	}
	kinds := []string{"gift", "gift", "gift", "tip", "subscription"}
	revenue := map[string]ledger.AccountID{}
	for _, k := range kinds {
		if revenue[k], err = a.Ledger.SystemAccount(ctx, ledger.Revenue(k), fanfare.Coin); err != nil {
			return err
		}
	}
	bar := newProgress(c.stderr, "seed", *quiet)
	var done atomic.Int64
	n := 0
	for d := range *days {
		clock.set(first.AddDate(0, 0, d).Add(12 * time.Hour))
		count := (*transfers)*(d+1) / *days - n
		var wg sync.WaitGroup
		var firstErr error
		var mu sync.Mutex
		next := atomic.Int64{}
		for range *senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= count {
						return
					}
					j := n + i
					k := kinds[j%len(kinds)]
					coins := fanfare.Amount(1 + j%97)
					op := ledger.Op{Kind: k, Object: "bench", Actor: "bench", Legs: []ledger.Leg{
						{Debit: fans[j%len(fans)], Credit: revenue[k], Amount: coins},
						{Debit: issue, Credit: to, Amount: coins}}}
					if _, err := a.Ledger.Submit(ctx, op); err != nil {
						mu.Lock()
						firstErr = cmpOr(firstErr, err)
						mu.Unlock()
						return
					}
					bar.set(done.Add(1), int64(*transfers))
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		n += count
	}
	bar.done()
	clock.set(time.Now())

	s, err := a.Accounts.Login(ctx, "creator", "fanfare-bench")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.API}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc}}
	get := func(path string) ([]byte, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		res, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %s", path, res.StatusCode, b)
		}
		return b, err
	}
	// A deep page: the cursor after half the supporters.
	deep := "/v1/me/supporters?sort=total&limit=100"
	cursor := ""
	for range min(*supporters/2/100, 500) {
		b, err := get(deep + "&cursor=" + cursor)
		if err != nil {
			return err
		}
		var p struct {
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return err
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	settings, err := readDurabilitySettings(ctx, db)
	if err != nil {
		return err
	}
	var said []string
	for _, st := range settings {
		said = append(said, st.String())
	}
	routes := []struct{ name, path string }{
		{"GET /v1/me/earnings", "/v1/me/earnings"},
		{"GET /v1/me/earnings (365 days)", "/v1/me/earnings?from=" + today.AddDate(0, 0, -364).Format(time.DateOnly)},
		{"GET /v1/me/supporters?sort=total", "/v1/me/supporters?sort=total"},
		{"GET /v1/me/supporters?sort=total (deep page)", "/v1/me/supporters?sort=total&cursor=" + cursor},
		{"GET /v1/me/supporters?sort=recent", "/v1/me/supporters?sort=recent"},
	}
	for _, r := range routes {
		lat, err := benchGets(*requests, *conc, func() error { _, err := get(r.path); return err })
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "earnings %s (%s): %s p50 %s p99 %s (%d transfers, %d supporters, %d days, %d requests, c=%d)\n",
			db.Dialect, strings.Join(said, ", "), r.name, fmtMS(lat[len(lat)/2]), fmtMS(lat[len(lat)*99/100]),
			*transfers, *supporters, *days, *requests, *conc)
	}
	return nil
}

// benchFans creates n fans (users and coin accounts, funded by grants)
// and returns their coin accounts.
func benchFans(ctx context.Context, db *store.DB, l *ledger.Ledger, clock fanfare.Clock, n int) ([]ledger.AccountID, error) {
	ids := make([]string, n)
	at := clock.Now().UnixMicro()
	const chunk = 500
	for from := 0; from < n; from += chunk {
		var b strings.Builder
		args := []any{at}
		for i := from; i < min(from+chunk, n); i++ {
			ids[i] = fanfare.NewID(clock)
			if i > from {
				b.WriteString(", ")
			}
			p := len(args) + 1
			fmt.Fprintf(&b, "($%d, $%d, $%d, '-', 'FR', '1990-01-01', 'personal', $1, $1)", p, p+1, p+2)
			args = append(args, ids[i], "fan"+strconv.Itoa(i), "Fan "+strconv.Itoa(i))
		}
		if _, err := db.Write.ExecContext(ctx, `INSERT INTO users (id, handle, display_name, password_hash, region, birth_date, account_type, created_at, updated_at) VALUES `+b.String(), args...); err != nil {
			return nil, fmt.Errorf("insert fans: %w", err)
		}
	}
	accts, err := l.UserAccounts(ctx, ids, fanfare.Coin)
	if err != nil {
		return nil, err
	}
	promo, err := l.SystemAccount(ctx, ledger.Promotions, fanfare.Coin)
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	next := atomic.Int64{}
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(accts) {
					return
				}
				if _, err := l.Submit(ctx, ledger.Op{Kind: "grant", Object: "bench", Actor: "bench",
					Legs: []ledger.Leg{{Debit: promo, Credit: accts[i], Amount: 1_000_000}}}); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return accts, nil
}

// benchGets runs n calls of get from conc goroutines and returns their
// latencies, sorted.
func benchGets(n, conc int, get func() error) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				if err := get(); err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	return lat, firstErr
}
