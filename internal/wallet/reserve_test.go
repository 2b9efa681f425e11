package wallet_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// TestReserve holds a fan's coins through the spending path: the hold
// counts against the daily limit, a replay answers the first hold and
// moves nothing, and the checks refuse what Pay would refuse.
func TestReserve(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupWith(t, db, fanfare.ClockFunc(func() time.Time { return now }), wallet.Options{Limits: &wallet.Limits{}})
		ctx := context.Background()
		ayla := f.user(t, "ayla", "1995-05-05")
		f.grant(t, 1000, "g1")
		rv := func(key string, coins fanfare.Amount) wallet.Reservation {
			return wallet.Reservation{Feature: "shoutout", What: "request shoutouts", Object: "shoutout:" + key,
				CreatorID: ayla.ID, Coins: coins,
				Idem: &ledger.Idempotency{Scope: f.actor().ID(), Key: key, Hash: ledger.HashRequest([]byte("shoutout"), []byte(key))}}
		}
		_, err := f.wallet.Reserve(ctx, f.actor(), rv("k0", 1500))
		requireCode(t, err, fanfare.EInsufficientFunds)
		require.Zero(t, f.spentToday(t), "a refused hold counts nothing")
		_, err = f.wallet.SetSpendLimit(ctx, f.actor(), 700)
		require.NoError(t, err)
		first, err := f.wallet.Reserve(ctx, f.actor(), rv("k1", 600))
		require.NoError(t, err)
		require.NotEmpty(t, first.HoldID)
		require.Equal(t, fanfare.Amount(600), first.Coins)
		require.Equal(t, fanfare.Amount(400), first.Balance)
		require.Equal(t, fanfare.Amount(600), f.spentToday(t))
		f.requireCoins(t, 400)
		before := f.transfers(t)

		// A replay, even one today's limit would now refuse.
		again, err := f.wallet.Reserve(ctx, f.actor(), rv("k1", 600))
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, first.HoldID, again.HoldID)
		require.Equal(t, first.Balance, again.Balance)
		require.Equal(t, before, f.transfers(t))

		// The limit counts the hold: 100 left today.
		_, err = f.wallet.Reserve(ctx, f.actor(), rv("k2", 200))
		requireCode(t, err, fanfare.ESpendLimit)
		// Oneself, and more than the wallet holds.
		_, err = f.wallet.Reserve(ctx, fanfare.Actor{UserID: ayla.ID, Role: fanfare.RoleFan}, wallet.Reservation{
			Feature: "shoutout", What: "request shoutouts", CreatorID: ayla.ID, Coins: 10,
			Idem: &ledger.Idempotency{Scope: ayla.ID, Key: "k3", Hash: "h"}})
		requireCode(t, err, fanfare.EInvalid)
		require.Equal(t, before, f.transfers(t))
		f.requireCoins(t, 400)
	})
}
