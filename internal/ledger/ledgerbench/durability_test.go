package ledgerbench_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/fanfarehq/fanfare/internal/ledger/ledgerbench"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func settings(kv ...string) []ledgerbench.Setting {
	var s []ledgerbench.Setting
	for i := 0; i < len(kv); i += 2 {
		s = append(s, ledgerbench.Setting{Name: kv[i], Value: kv[i+1]})
	}
	return s
}

// TestJudge checks the verdict and the words of the summary line for the
// settings a run can meet.
func TestJudge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d         store.Dialect
		settings  []ledgerbench.Setting
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
		r := ledgerbench.Judge(tc.d, tc.settings, tc.groupSync, tc.syncs, 1000)
		if got := r.String(); got != tc.want {
			t.Errorf("Judge(%s, %v) = %q, want %q", tc.d, tc.settings, got, tc.want)
		}
		if r.Durable != (tc.want[:8] == "durable:") {
			t.Errorf("Judge(%s, %v).Durable = %v for %q", tc.d, tc.settings, r.Durable, tc.want)
		}
	}
}

// TestReadSettings reads the settings from real databases: the store's
// own (durable), and a PostgreSQL session that turns synchronous_commit
// off, which must not be called durable.
func TestReadSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, err := ledgerbench.ReadSettings(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		r := ledgerbench.Judge(db.Dialect, s, false, 1, 1)
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
		s, err := ledgerbench.ReadSettings(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		r := ledgerbench.Judge(db.Dialect, s, false, 1, 1)
		if r.Durable || r.Why[0] != "synchronous_commit=off" {
			t.Fatalf("a session with synchronous_commit off: %s", r)
		}
	})
}
