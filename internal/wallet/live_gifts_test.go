package wallet_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// TestLiveGifts reads a LIVE's last gifts from their ledger transfers:
// newest first, with the gift, the count, the diamonds and the sender,
// and nothing else the creator received (another LIVE's gifts, a tip, a
// gift whose object does not name it, one worth no diamond).
func TestLiveGifts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		at := now
		f := setupWith(t, db, fanfare.ClockFunc(func() time.Time { return at }), wallet.Options{Limits: &wallet.Limits{}})
		ctx := context.Background()
		ayla := f.user(t, "ayla", "1995-05-05")
		f.grant(t, 10_000, "g1")
		keys := 0
		pay := func(feature, object string, coins fanfare.Amount) *wallet.Payment {
			t.Helper()
			keys++
			p, err := f.wallet.Pay(ctx, f.actor(), wallet.Spend{Feature: feature, What: "send gifts", Object: object,
				CreatorID: ayla.ID, Coins: coins, ShareBPS: 5000,
				Idem: &ledger.Idempotency{Scope: f.actor().ID(), Key: fmt.Sprint("k", keys), Hash: ledger.HashRequest([]byte(object))}})
			require.NoError(t, err)
			at = at.Add(time.Second)
			return p
		}

		got, err := f.wallet.LiveGifts(ctx, ayla.ID, "L1", now, 10)
		require.NoError(t, err)
		require.Empty(t, got, "a creator without diamonds")

		pay("gift", wallet.GiftObject("L0", "rose", 10), 10) // an earlier LIVE
		started := at
		first := pay("gift", wallet.GiftObject("L1", "doughnut", 2), 60)
		pay("gift", wallet.GiftObject("L1", "rose", 1), 1) // no diamond
		pay("gift", "live:L1", 30)                         // an object that does not name the gift
		pay("tip", "creator:"+ayla.ID, 100)
		pay("gift", wallet.GiftObject("L10", "rose", 4), 4) // another LIVE whose id starts alike
		last := pay("gift", wallet.GiftObject("L1", "finger-heart", 3), 15)

		got, err = f.wallet.LiveGifts(ctx, ayla.ID, "L1", started, 10)
		require.NoError(t, err)
		require.Equal(t, []wallet.LiveGift{
			{OpID: last.OpID, GiftID: "finger-heart", Count: 3, Diamonds: 7, FanID: f.fan.ID, Handle: "sam", DisplayName: "sam", SentAt: last.CreatedAt},
			{OpID: first.OpID, GiftID: "doughnut", Count: 2, Diamonds: 30, FanID: f.fan.ID, Handle: "sam", DisplayName: "sam", SentAt: first.CreatedAt},
		}, got)

		got, err = f.wallet.LiveGifts(ctx, ayla.ID, "L1", started, 1)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "finger-heart", got[0].GiftID)

		got, err = f.wallet.LiveGifts(ctx, ayla.ID, "L0", started.Add(-time.Second), 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "rose", got[0].GiftID)
		require.EqualValues(t, 10, got[0].Count)
	})
}
