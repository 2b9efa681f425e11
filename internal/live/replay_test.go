package live_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// relaunched returns the LIVE service of f as a restart with another gift
// catalog and share would build it.
func (f *fixture) relaunched(t *testing.T, gifts []live.Gift, shareBPS int64) *live.Service {
	t.Helper()
	s, err := live.New(f.db, f.accounts, f.wallet, live.Options{Clock: fanfare.ClockFunc(func() time.Time { return now }),
		Broker: f.broker, Rules: f.rules, Gifts: gifts, GiftShareBPS: shareBPS})
	require.NoError(t, err)
	return s
}

// catalog returns the default catalog with gift id at price coins, or
// without it when coins is 0.
func catalog(id string, coins int64) []live.Gift {
	var out []live.Gift
	for _, g := range live.DefaultGifts() {
		if g.ID == id {
			if coins == 0 {
				continue
			}
			g.Coins = coins
		}
		out = append(out, g)
	}
	return out
}

// TestGiftReplayAnswersStored: a gift replayed after its price, the share or
// the catalog changed answers what the first request was answered (coins,
// diamonds, balance), moves nothing and shows nothing again; so does a
// replay once the LIVE ended.
func TestGiftReplayAnswersStored(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		l, err := f.live.Start(ctx, f.users["ayla"], "LIVE")
		require.NoError(t, err)
		f.grant(t, "sam", 1000)
		first, err := f.live.SendGift(ctx, f.users["sam"], l.ID, "doughnut", 5, "g1") // 150 coins, 75 diamonds
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(150), first.Payment.Coins)
		require.Equal(t, fanfare.Amount(75), first.Payment.Diamonds)
		require.Equal(t, fanfare.Amount(850), first.Payment.Balance)
		rec := &recorder{}
		cancel, err := f.broker.Subscribe(l.ID, rec.add)
		require.NoError(t, err)
		defer cancel()
		before := f.transfers(t)
		totals, err := f.live.Get(ctx, l.ID)
		require.NoError(t, err)

		requireFirst := func(what string, s *live.Service) {
			t.Helper()
			sent, err := s.SendGift(ctx, f.users["sam"], l.ID, "doughnut", 5, "g1")
			require.NoError(t, err, what)
			p := sent.Payment
			require.True(t, p.Replayed, what)
			require.Equal(t, first.Payment.OpID, p.OpID, what)
			require.Equal(t, first.Payment.Coins, p.Coins, "%s: coins", what)
			require.Equal(t, first.Payment.Diamonds, p.Diamonds, "%s: diamonds", what)
			require.Equal(t, first.Payment.Balance, p.Balance, "%s: balance", what)
			require.True(t, first.Payment.CreatedAt.Equal(p.CreatedAt), what)
			require.Equal(t, "doughnut", sent.Gift.ID, what)
			require.Equal(t, int64(5), sent.Count, what)
			require.Equal(t, l.ID, sent.LiveID, what)
		}
		requireFirst("price up", f.relaunched(t, catalog("doughnut", 40), 0))
		requireFirst("price down", f.relaunched(t, catalog("doughnut", 10), 0))
		requireFirst("price beyond the wallet", f.relaunched(t, catalog("doughnut", 1000), 0))
		requireFirst("share changed", f.relaunched(t, nil, 8000))
		requireFirst("price and share changed", f.relaunched(t, catalog("doughnut", 40), 2500))
		requireFirst("gift withdrawn", f.relaunched(t, catalog("doughnut", 0), 0))
		_, err = f.relaunched(t, catalog("doughnut", 0), 0).SendGift(ctx, f.users["sam"], l.ID, "doughnut", 5, "g2")
		requireCode(t, err, fanfare.EInvalid)

		_, err = f.live.End(ctx, f.users["ayla"], l.ID)
		require.NoError(t, err)
		requireFirst("LIVE ended, price changed", f.relaunched(t, catalog("doughnut", 40), 8000))

		require.Equal(t, before, f.transfers(t))
		coins, _ := f.coins(t, "sam")
		require.Equal(t, fanfare.Amount(850), coins)
		_, diamonds := f.coins(t, "ayla")
		require.Equal(t, fanfare.Amount(75), diamonds)
		got, err := f.live.Get(ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, totals.Coins, got.Coins)
		require.Equal(t, totals.Diamonds, got.Diamonds)
		require.Equal(t, totals.Gifts, got.Gifts)
		for _, e := range rec.all() {
			require.Nil(t, e.Gift, "a replay showed a gift again: %+v", e)
		}
		f.verify(t)
	})
}

// TestGiftReplayOfRefusal: a gift the ledger refused is answered the same
// refusal on replay, even once the fan could pay, and at another price.
func TestGiftReplayOfRefusal(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		l, err := f.live.Start(ctx, f.users["ayla"], "LIVE")
		require.NoError(t, err)
		_, err = f.live.SendGift(ctx, f.users["omar"], l.ID, "corgi", 1, "g1")
		requireCode(t, err, fanfare.EInsufficientFunds)
		f.grant(t, "omar", 1000)
		before := f.transfers(t)

		_, err = f.live.SendGift(ctx, f.users["omar"], l.ID, "corgi", 1, "g1")
		requireCode(t, err, fanfare.EInsufficientFunds)
		_, err = f.relaunched(t, catalog("corgi", 5), 8000).SendGift(ctx, f.users["omar"], l.ID, "corgi", 1, "g1")
		requireCode(t, err, fanfare.EInsufficientFunds)
		_, err = f.live.End(ctx, f.users["ayla"], l.ID)
		require.NoError(t, err)
		_, err = f.live.SendGift(ctx, f.users["omar"], l.ID, "corgi", 1, "g1")
		requireCode(t, err, fanfare.EInsufficientFunds)

		require.Equal(t, before, f.transfers(t))
		coins, _ := f.coins(t, "omar")
		require.Equal(t, fanfare.Amount(1000), coins)
		got, err := f.live.Get(ctx, l.ID)
		require.NoError(t, err)
		require.Zero(t, got.Gifts)
		f.verify(t)
	})
}
