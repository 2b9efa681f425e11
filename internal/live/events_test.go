package live_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/outbox/outboxtest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// events returns the outbox's events of type typ.
func (f *fixture) events(t *testing.T, typ string) []outbox.Row {
	t.Helper()
	rows, err := outbox.List(context.Background(), f.db.Read, typ)
	require.NoError(t, err)
	return rows
}

func TestGiftSentEvent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		f := setup(t, db)
		ctx := context.Background()
		l, err := f.live.Start(ctx, f.users["ayla"], "LIVE")
		require.NoError(t, err)
		f.grant(t, "sam", 200)

		sent, err := f.live.SendGift(ctx, f.users["sam"], l.ID, "doughnut", 5, "g1") // 150 coins
		require.NoError(t, err)
		rows := f.events(t, outbox.GiftSent)
		require.Len(t, rows, 1)
		require.Equal(t, outbox.ID(outbox.GiftSent, sent.Payment.OpID), rows[0].ID)
		require.True(t, rows[0].CreatedAt.Equal(now))
		var got live.GiftSent
		require.NoError(t, rows[0].Data(&got))
		require.Equal(t, live.GiftSent{ID: sent.Payment.OpID, LiveID: l.ID,
			Sender:  outbox.User{ID: f.users["sam"].UserID, Handle: "sam", DisplayName: "sam"},
			Creator: outbox.User{ID: f.users["ayla"].UserID, Handle: "ayla", DisplayName: "ayla"},
			Gift:    live.GiftRef{ID: "doughnut", Name: "Doughnut", Coins: 30}, Count: 5, Coins: 150, Diamonds: 75,
			CreatedAt: now}, got)
		require.NotContains(t, rows[0].Body, "birth")

		// A replay writes no second event; refused gifts write none.
		_, err = f.live.SendGift(ctx, f.users["sam"], l.ID, "doughnut", 5, "g1")
		require.NoError(t, err)
		_, err = f.live.SendGift(ctx, f.users["sam"], l.ID, "galaxy", 1, "g2")
		requireCode(t, err, fanfare.EInsufficientFunds)
		_, err = f.live.SendGift(ctx, f.users["mia"], l.ID, "rose", 1, "g3")
		requireCode(t, err, fanfare.ENotEligible)
		_, err = f.live.End(ctx, f.users["ayla"], l.ID)
		require.NoError(t, err)
		_, err = f.live.SendGift(ctx, f.users["sam"], l.ID, "rose", 1, "g4")
		requireCode(t, err, fanfare.EInvalidState)
		require.Len(t, f.events(t, outbox.GiftSent), 1)
	})
}

// A gift whose LIVE ended before its transaction fails in the committer
// (the cached LIVE still reads as on air): its event is rolled back with
// it.
func TestGiftToAnEndedLiveWritesNoEvent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		f := setup(t, db)
		ctx := context.Background()
		l, err := f.live.Start(ctx, f.users["ayla"], "LIVE")
		require.NoError(t, err)
		f.grant(t, "sam", 200)
		_, err = f.live.SendGift(ctx, f.users["sam"], l.ID, "rose", 1, "g1") // caches the LIVE as on air
		require.NoError(t, err)
		_, err = db.Write.ExecContext(ctx, `UPDATE lives SET status = 'ended', ended_at = $1 WHERE id = $2`, now.UnixMicro(), l.ID)
		require.NoError(t, err)
		_, err = f.live.SendGift(ctx, f.users["sam"], l.ID, "rose", 1, "g2")
		requireCode(t, err, fanfare.EInvalidState)
		require.Len(t, f.events(t, outbox.GiftSent), 1)
	})
}

// TestGiftEventsUnderConcurrentFailures: gifts sent at once, while the
// LIVE ends under them (the cached LIVE still reads as on air, so gifts
// fail in the committer and their batches are sent again with
// savepoints), leave exactly one gift.sent per committed gift, whose id
// is that gift's ledger operation.
func TestGiftEventsUnderConcurrentFailures(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		f := setup(t, db)
		ctx := context.Background()
		l, err := f.live.Start(ctx, f.users["ayla"], "LIVE")
		require.NoError(t, err)
		f.grant(t, "sam", 10_000)
		f.grant(t, "omar", 10_000)
		var mu sync.Mutex
		ok := map[string]bool{}
		var wg sync.WaitGroup
		for _, who := range []string{"sam", "omar"} {
			for w := range 4 {
				wg.Go(func() {
					for i := range 25 {
						if who == "sam" && w == 0 && i == 10 {
							if _, err := db.Write.ExecContext(ctx, `UPDATE lives SET status = 'ended', ended_at = $1 WHERE id = $2`,
								now.UnixMicro(), l.ID); err != nil {
								t.Error(err)
							}
						}
						sent, err := f.live.SendGift(ctx, f.users[who], l.ID, "rose", 1, fmt.Sprint(who, w, "-", i))
						if err != nil {
							if fanfare.ErrorCode(err) != fanfare.EInvalidState {
								t.Errorf("gift: %v", err)
							}
							continue
						}
						mu.Lock()
						ok[sent.Payment.OpID] = true
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		require.NotEmpty(t, ok)

		var committed []string
		rows, err := db.Read.QueryContext(ctx, `SELECT DISTINCT op_id FROM transfers WHERE kind = 'gift'`)
		require.NoError(t, err)
		for rows.Next() {
			var id string
			require.NoError(t, rows.Scan(&id))
			committed = append(committed, id)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		var evented []string
		for _, r := range f.events(t, outbox.GiftSent) {
			var g live.GiftSent
			require.NoError(t, r.Data(&g))
			require.Equal(t, outbox.ID(outbox.GiftSent, g.ID), r.ID)
			evented = append(evented, g.ID)
		}
		require.ElementsMatch(t, committed, evented)
		require.Len(t, evented, len(ok))
		for _, id := range evented {
			require.True(t, ok[id], "event %s of a gift nobody was told was sent", id)
		}
	})
}

func TestLiveStartedAndEndedEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		f := setup(t, db)
		ctx := context.Background()
		l, err := f.live.Start(ctx, f.users["ayla"], "Sunday chat")
		require.NoError(t, err)
		// Refused starts write nothing.
		_, err = f.live.Start(ctx, f.users["ayla"], "again")
		requireCode(t, err, fanfare.EConflict)
		_, err = f.live.Start(ctx, f.users["mia"], "hi")
		requireCode(t, err, fanfare.ENotEligible)

		rows := f.events(t, outbox.LiveStarted)
		require.Len(t, rows, 1)
		require.Equal(t, outbox.ID(outbox.LiveStarted, l.ID), rows[0].ID)
		var got live.LiveEvent
		require.NoError(t, rows[0].Data(&got))
		ayla := outbox.User{ID: f.users["ayla"].UserID, Handle: "ayla", DisplayName: "ayla"}
		require.Equal(t, live.LiveEvent{ID: l.ID, Creator: ayla, Title: "Sunday chat", Status: live.StatusLive, StartedAt: now}, got)

		f.grant(t, "sam", 200)
		_, err = f.live.SendGift(ctx, f.users["sam"], l.ID, "doughnut", 2, "g1")
		require.NoError(t, err)
		_, err = f.live.End(ctx, f.users["omar"], l.ID)
		requireCode(t, err, fanfare.EForbidden)
		require.Empty(t, f.events(t, outbox.LiveEnded))
		_, err = f.live.End(ctx, f.users["ayla"], l.ID)
		require.NoError(t, err)
		_, err = f.live.End(ctx, f.users["ayla"], l.ID)
		requireCode(t, err, fanfare.EInvalidState)

		rows = f.events(t, outbox.LiveEnded)
		require.Len(t, rows, 1)
		require.Equal(t, outbox.ID(outbox.LiveEnded, l.ID), rows[0].ID)
		got = live.LiveEvent{}
		require.NoError(t, rows[0].Data(&got))
		end := now
		require.Equal(t, live.LiveEvent{ID: l.ID, Creator: ayla, Title: "Sunday chat", Status: live.StatusEnded, StartedAt: now,
			EndedAt: &end, Gifts: 2, Coins: 60, Diamonds: 30}, got)
	})
}

// BenchmarkGiftEvent is what gift.sent adds to a gift on its hot path:
// the event built and encoded into its statement (the statement itself
// goes out with the batch's other writes).
func BenchmarkGiftEvent(b *testing.B) {
	r := &ledger.Result{OpID: "0195a1c3-0000-7000-8000-000000000000", CreatedAt: now}
	fan := &fanfare.User{ID: "0195a1a0-0000-7000-8000-000000000000", Handle: "sam", DisplayName: "Sam"}
	creator := &fanfare.User{ID: "0195a19f-0000-7000-8000-000000000000", Handle: "ayla", DisplayName: "Ayla"}
	l := &live.Live{ID: "0195a1c0-0000-7000-8000-000000000000"}
	g := live.Gift{ID: "rose", Name: "Rose", Coins: 1}
	b.ReportAllocs()
	for b.Loop() {
		_ = live.GiftEventWrite(r, l, fan, creator, g, 1, 1, 0)
	}
}
