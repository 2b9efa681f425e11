package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/outbox/outboxtest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func TestEnqueueCommitsWithTheChange(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		ctx := context.Background()
		at := time.Date(2026, 3, 15, 12, 0, 0, 123456789, time.UTC)
		ev := outbox.Event{ID: outbox.ID(outbox.GiftSent, "op1"), Type: outbox.GiftSent, At: at,
			Data: map[string]any{"coins": 5}}

		// A rolled-back change leaves no event.
		tx, err := db.Write.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, outbox.Enqueue(ctx, tx, ev))
		require.NoError(t, tx.Rollback())
		var n int
		require.NoError(t, db.Write.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n))
		require.Zero(t, n)

		// A committed one leaves exactly one, however often it is written.
		tx, err = db.Write.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, outbox.Enqueue(ctx, tx, ev))
		w := outbox.Write(ev)
		_, err = tx.ExecContext(ctx, w.SQL, w.Args...)
		require.NoError(t, err)
		require.NoError(t, tx.Commit())

		var id, typ, body string
		var created int64
		require.NoError(t, db.Write.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n))
		require.Equal(t, 1, n)
		require.NoError(t, db.Write.QueryRowContext(ctx, `SELECT id, type, body, created_at FROM outbox`).Scan(&id, &typ, &body, &created))
		require.Equal(t, "msg_op1_gift.sent", id)
		require.Equal(t, outbox.GiftSent, typ)
		require.Equal(t, at.UnixMicro(), created)
		var got struct {
			Type      string         `json:"type"`
			Timestamp time.Time      `json:"timestamp"`
			Data      map[string]int `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		require.Equal(t, outbox.GiftSent, got.Type)
		require.True(t, got.Timestamp.Equal(at.Truncate(time.Microsecond)), "timestamp %v", got.Timestamp)
		require.Equal(t, map[string]int{"coins": 5}, got.Data)
	})
}

func TestBadEventsAreRefused(t *testing.T) {
	t.Parallel()
	at := time.Now()
	_, err := outbox.Event{ID: "x", Type: "gift.exploded", At: at}.Body()
	require.Error(t, err)
	_, err = outbox.Event{Type: outbox.GiftSent, At: at}.Body()
	require.Error(t, err)
	require.Panics(t, func() { outbox.Write(outbox.Event{ID: "x", Type: "nope", At: at}) })
	for _, typ := range outbox.Types {
		require.True(t, outbox.Known(typ))
	}
	require.Len(t, outbox.Types, 20)
}

func TestList(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		ctx := context.Background()
		at := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
		for i, typ := range []string{outbox.GiftSent, outbox.TipSent, outbox.GiftSent} {
			ev := outbox.Event{ID: outbox.ID(typ, fmt.Sprint("op", i)), Type: typ, At: at.Add(time.Duration(i) * time.Second),
				Data: map[string]any{"n": i}}
			require.NoError(t, outbox.Enqueue(ctx, db.Write, ev))
		}
		all, err := outbox.List(ctx, db.Read)
		require.NoError(t, err)
		require.Len(t, all, 3)
		gifts, err := outbox.List(ctx, db.Read, outbox.GiftSent)
		require.NoError(t, err)
		require.Len(t, gifts, 2)
		require.Equal(t, "msg_op2_gift.sent", gifts[1].ID)
		require.True(t, gifts[1].CreatedAt.Equal(at.Add(2*time.Second)))
		require.True(t, gifts[1].DispatchedAt.IsZero())
		var data struct{ N int }
		require.NoError(t, gifts[1].Data(&data))
		require.Equal(t, 2, data.N)
		both, err := outbox.List(ctx, db.Read, outbox.TipSent, outbox.GiftSent)
		require.NoError(t, err)
		require.Len(t, both, 3)
	})
}

// An event is written only if an endpoint that takes deliveries subscribes
// to its type when the change commits: none, a disabled one or one
// subscribed to other types write nothing; a paused one, "*" or the type
// itself do.
func TestEventsOnlyForSubscribers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		n := 0
		write := func(typ string) int {
			t.Helper()
			n++
			tx, err := db.Write.BeginTx(ctx, nil)
			require.NoError(t, err)
			require.NoError(t, outbox.Enqueue(ctx, tx, outbox.Event{ID: outbox.ID(typ, fmt.Sprint(n)), Type: typ, At: time.Now(), Data: map[string]any{}}))
			require.NoError(t, tx.Commit())
			rows, err := outbox.List(ctx, db.Read)
			require.NoError(t, err)
			return len(rows)
		}
		endpoint := func(id, events, state string) {
			t.Helper()
			_, err := db.Write.ExecContext(ctx, `INSERT INTO webhook_endpoints (id, url, events, secret, state, created_at, updated_at)
				VALUES ($1, 'https://receiver.invalid/', $2, 'whsec_dGVzdA==', $3, 0, 0)`, id, events, state)
			require.NoError(t, err)
		}
		require.Zero(t, write(outbox.GiftSent))
		endpoint("whe_gone", `["*"]`, "disabled")
		require.Zero(t, write(outbox.GiftSent))
		endpoint("whe_tips", `["tip.sent","purchase.charged_back"]`, "active")
		require.Zero(t, write(outbox.GiftSent))
		require.Equal(t, 1, write(outbox.TipSent))
		require.Equal(t, 2, write(outbox.PurchaseChargedBack))
		require.Equal(t, 2, write(outbox.PurchaseRefunded))
		endpoint("whe_gifts", `["gift.sent"]`, "paused")
		require.Equal(t, 3, write(outbox.GiftSent))
		endpoint("whe_all", `["*"]`, "auto_paused")
		require.Equal(t, 4, write(outbox.PayoutPaid))
	})
}
