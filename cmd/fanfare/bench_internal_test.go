package main

import (
	"bytes"
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

var ledgerLine = regexp.MustCompile(`^ledger (sqlite|postgres): \d+ gifts/s, commit p50 [\d.]+ ms p99 [\d.]+ ms \(200 gifts, c=16(, batch=1)?, (.+); verify ok\)$`)

// benchLedger runs "bench ledger" and returns its summary line's
// durability part.
func benchLedger(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"bench", "ledger", "--fans", "20", "--gifts", "200", "--concurrency", "16", "--quiet"}, args...)
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("bench ledger: %v\nstderr:\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one summary line, got:\n%s", out.String())
	}
	m := ledgerLine.FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("summary line %q", lines[0])
	}
	t.Log(lines[0])
	return m[3]
}

// TestBenchLedgerDurability checks that the summary line states what made
// the answers durable, read from the database, and refuses the word when a
// setting says otherwise.
func TestBenchLedgerDurability(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		got := benchLedger(t)
		if !regexp.MustCompile(`^durable: WAL fsynced before answers in [1-9]\d* fsyncs, journal_mode=wal, synchronous=FULL$`).MatchString(got) {
			t.Fatalf("durability = %q", got)
		}
		if got := benchLedger(t, "--batch", "1"); got != "durable: each commit fsynced before its answer, journal_mode=wal, synchronous=FULL" {
			t.Fatalf("durability with --batch 1 = %q", got)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		base := storetest.PostgresURL(t)
		if base == "" {
			storetest.URL(t, store.Postgres) // skips
		}
		got := benchLedger(t, "--store", "postgres", "--db", base)
		if !strings.HasPrefix(got, "durable: synchronous_commit=") && !strings.HasPrefix(got, "NOT durable: ") {
			t.Fatalf("durability = %q", got)
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("synchronous_commit", "off")
		u.RawQuery = q.Encode()
		if got := benchLedger(t, "--store", "postgres", "--db", u.String()); !strings.HasPrefix(got, "NOT durable: ") || !strings.Contains(got, "synchronous_commit=off") {
			t.Fatalf("durability with synchronous_commit=off = %q", got)
		}
	})
}
