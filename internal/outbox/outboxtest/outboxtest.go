// Package outboxtest helps tests read the outbox: the outbox holds only
// the events some webhook endpoint subscribes to (see outbox.Enqueue), so
// a test of a feature's events first registers one.
package outboxtest

import (
	"context"
	"testing"

	"github.com/fanfarehq/fanfare/internal/store"
)

// Subscribe registers a paused webhook endpoint subscribed to every event
// type, straight in db: the changes made after it write their events to
// the outbox, and nothing is ever sent (a paused endpoint's deliveries
// wait).
func Subscribe(tb testing.TB, db *store.DB) {
	tb.Helper()
	if _, err := db.Write.ExecContext(context.Background(), `INSERT INTO webhook_endpoints (id, url, events, secret, state, created_at, updated_at)
		VALUES ('whe_outboxtest', 'https://receiver.invalid/', '["*"]', 'whsec_dGVzdA==', 'paused', 0, 0)
		ON CONFLICT (id) DO NOTHING`); err != nil {
		tb.Fatalf("outboxtest: subscribe: %v", err)
	}
}
