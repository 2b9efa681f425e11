package main

import (
	"context"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// serve runs the background jobs: the janitor, a periodic task, runs once
// at start and deletes an expired idempotency record; with --jobs=false
// nothing runs it.
func TestServeRunsJobs(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "on", false: "off"}[on]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := storetest.URL(t, store.SQLite)
			db, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Write.Exec(`INSERT INTO idempotency_keys (scope, key, request_hash, result, created_at) VALUES ('test', 'old', 'h', '{}', 0)`); err != nil {
				t.Fatal(err)
			}
			db.Close()

			m := newTestMain(t)
			m.Config.DB, m.Config.APIKey, m.Config.Migrate, m.Config.Jobs = url, "k", true, on
			if err := m.Run(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			left := func() int {
				var n int
				if err := m.DB.Read.QueryRow(`SELECT count(*) FROM idempotency_keys WHERE key = 'old'`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			deadline := time.Now().Add(15 * time.Second)
			if !on {
				deadline = time.Now().Add(3 * time.Second)
			}
			for left() > 0 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if got, want := left(), map[bool]int{true: 0, false: 1}[on]; got != want {
				t.Fatalf("expired idempotency records left = %d with jobs %s, want %d", got, name, want)
			}
		})
	}
}
