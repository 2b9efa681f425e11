package tips_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/outbox/outboxtest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/tips"
)

func TestTipSentEvent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		f := setup(t, db)
		ctx := context.Background()
		f.grant(t, 300, "grant")
		sent, err := f.tips.Send(ctx, f.fan, f.creator.UserID, 200, " thanks! ", "t1")
		require.NoError(t, err)

		// Replayed, refused (insufficient funds, too small, not offered)
		// tips write no event.
		_, err = f.tips.Send(ctx, f.fan, f.creator.UserID, 200, " thanks! ", "t1")
		require.NoError(t, err)
		_, err = f.tips.Send(ctx, f.fan, f.creator.UserID, 200, "again", "t2")
		requireCode(t, err, fanfare.EInsufficientFunds)
		_, err = f.tips.Send(ctx, f.fan, f.creator.UserID, 0, "", "t3")
		requireCode(t, err, fanfare.EInvalid)
		_, err = f.tips.SetEnabled(ctx, f.creator, false)
		require.NoError(t, err)
		_, err = f.tips.Send(ctx, f.fan, f.creator.UserID, 10, "", "t4")
		require.Error(t, err)

		rows, err := outbox.List(ctx, db.Read, outbox.TipSent)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.Equal(t, outbox.ID(outbox.TipSent, sent.Tip.ID), rows[0].ID)
		require.True(t, rows[0].CreatedAt.Equal(now))
		var got tips.TipSent
		require.NoError(t, rows[0].Data(&got))
		require.Equal(t, tips.TipSent{ID: sent.Tip.ID,
			Sender:  outbox.User{ID: f.fan.UserID, Handle: "sam", DisplayName: "sam"},
			Creator: outbox.User{ID: f.creator.UserID, Handle: "ayla", DisplayName: "ayla"},
			Coins:   200, Diamonds: int64(sent.Tip.Diamonds), Message: "thanks!", CreatedAt: now}, got)
		require.Positive(t, got.Diamonds)
	})
}
