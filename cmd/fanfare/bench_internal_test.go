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

var ledgerLine = regexp.MustCompile(`^ledger (sqlite|postgres): \d+ gifts/s, commit p50 [\d.]+ ms p99 [\d.]+ ms \(200 gifts, c=16(, batch=1)?(, lanes=[1-9]\d*)?, (.+); verify ok\)$`)

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
	if (m[1] == "postgres" && m[2] == "") != (m[3] != "") {
		t.Fatalf("summary line %q: the lanes are stated on PostgreSQL with group commit only", lines[0])
	}
	return m[4]
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

func settings(kv ...string) []benchSetting {
	var s []benchSetting
	for i := 0; i < len(kv); i += 2 {
		s = append(s, benchSetting{Name: kv[i], Value: kv[i+1]})
	}
	return s
}

// TestJudgeDurability checks the verdict and the words of the summary line for the
// settings a run can meet.
func TestJudgeDurability(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d         store.Dialect
		settings  []benchSetting
		groupSync bool
		syncs     int64
		want      string
	}{
		{store.SQLite, settings("journal_mode", "wal", "synchronous", "full"), true, 812,
			"durable: WAL fsynced before answers in 812 fsyncs, journal_mode=wal, synchronous=FULL"},
		{store.SQLite, settings("journal_mode", "wal", "synchronous", "extra"), false, 300,
			"durable: each commit fsynced before its answer, journal_mode=wal, synchronous=EXTRA"},
		{store.SQLite, settings("journal_mode", "wal", "synchronous", "normal"), true, 812,
			"NOT durable: synchronous=NORMAL"},
		{store.SQLite, settings("journal_mode", "wal", "synchronous", "off"), false, 300,
			"NOT durable: synchronous=OFF"},
		{store.SQLite, settings("journal_mode", "delete", "synchronous", "full"), true, 812,
			"NOT durable: journal_mode=delete"},
		{store.SQLite, settings("journal_mode", "wal", "synchronous", "full"), true, 0,
			"NOT durable: no sync reported by the committer"},
		{store.Postgres, settings("synchronous_commit", "on", "fsync", "on"), false, 40,
			"durable: synchronous_commit=on, fsync=on"},
		{store.Postgres, settings("synchronous_commit", "local", "fsync", "on"), false, 40,
			"durable: synchronous_commit=local, fsync=on"},
		{store.Postgres, settings("synchronous_commit", "on", "fsync", "off"), false, 40,
			"NOT durable: fsync=off"},
		{store.Postgres, settings("synchronous_commit", "off", "fsync", "on"), false, 40,
			"NOT durable: synchronous_commit=off"},
		{store.Postgres, settings("synchronous_commit", "off", "fsync", "off"), false, 40,
			"NOT durable: fsync=off, synchronous_commit=off"},
		{store.Postgres, settings("synchronous_commit", "on"), false, 40,
			"NOT durable: fsync=unknown"},
	} {
		r := judgeDurability(tc.d, tc.settings, tc.groupSync, tc.syncs, 1000)
		if got := r.String(); got != tc.want {
			t.Errorf("Judge(%s, %v) = %q, want %q", tc.d, tc.settings, got, tc.want)
		}
		if r.Durable != (tc.want[:8] == "durable:") {
			t.Errorf("Judge(%s, %v).Durable = %v for %q", tc.d, tc.settings, r.Durable, tc.want)
		}
	}
}

// TestReadDurabilitySettings reads the settings from real databases: the store's
// own (durable), and a PostgreSQL session that turns synchronous_commit
// off, which must not be called durable.
func TestReadDurabilitySettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, err := readDurabilitySettings(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		r := judgeDurability(db.Dialect, s, false, 1, 1)
		switch db.Dialect {
		case store.SQLite:
			if got, want := r.String(), "durable: each commit fsynced before its answer, journal_mode=wal, synchronous=FULL"; got != want {
				t.Fatalf("SQLite settings: %q, want %q", got, want)
			}
		case store.Postgres:
			if len(s) != 2 || s[0].Name != "synchronous_commit" || s[1].Name != "fsync" {
				t.Fatalf("PostgreSQL settings = %v", s)
			}
			t.Logf("the test server: %s", r)
		}
	})
	t.Run("postgres synchronous_commit=off", func(t *testing.T) {
		t.Parallel()
		u, err := url.Parse(storetest.URL(t, store.Postgres))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("synchronous_commit", "off")
		u.RawQuery = q.Encode()
		db, err := store.Open(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		s, err := readDurabilitySettings(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		r := judgeDurability(db.Dialect, s, false, 1, 1)
		if r.Durable || r.Why[0] != "synchronous_commit=off" {
			t.Fatalf("a session with synchronous_commit off: %s", r)
		}
	})
}
