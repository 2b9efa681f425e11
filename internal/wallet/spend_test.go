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

// TestPayReplayAnswersStored: a replay of a spend answers the first payment
// as stored (coins, diamonds, balance, time), whatever price and share the
// replaying request comes with, and whether it passes today's checks or
// not; it moves nothing.
func TestPayReplayAnswersStored(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupWith(t, db, fanfare.ClockFunc(func() time.Time { return now }), wallet.Options{Limits: &wallet.Limits{}})
		ctx := context.Background()
		ayla := f.user(t, "ayla", "1995-05-05")
		f.grant(t, 1000, "g1")
		idem := func(key string) *ledger.Idempotency {
			return &ledger.Idempotency{Scope: f.actor().ID(), Key: key, Hash: ledger.HashRequest([]byte("gift"), []byte("doughnut×5"))}
		}
		spend := func(key string, coins fanfare.Amount, share int64) wallet.Spend {
			return wallet.Spend{Feature: "gift", What: "send gifts", Object: "live:test", CreatorID: ayla.ID,
				Coins: coins, ShareBPS: share, Idem: idem(key)}
		}
		first, err := f.wallet.Pay(ctx, f.actor(), spend("k1", 150, 5000))
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(150), first.Coins)
		require.Equal(t, fanfare.Amount(75), first.Diamonds)
		require.Equal(t, fanfare.Amount(850), first.Balance)
		before := f.transfers(t)
		requireFirst := func(p *wallet.Payment, err error) {
			t.Helper()
			require.NoError(t, err)
			require.True(t, p.Replayed)
			require.Equal(t, first.OpID, p.OpID)
			require.Equal(t, first.Coins, p.Coins, "Coins")
			require.Equal(t, first.Diamonds, p.Diamonds, "Diamonds")
			require.Equal(t, first.Balance, p.Balance, "Balance")
			require.True(t, first.CreatedAt.Equal(p.CreatedAt), "CreatedAt = %v, want %v", p.CreatedAt, first.CreatedAt)
		}

		// The price and the share changed since: through Pay (the checks
		// pass) and through Replay (a feature's own checks refused).
		requireFirst(f.wallet.Pay(ctx, f.actor(), spend("k1", 400, 8000)))
		requireFirst(f.wallet.Replay(ctx, *idem("k1"), 400, 8000))
		// A price the wallet could not pay now.
		requireFirst(f.wallet.Pay(ctx, f.actor(), spend("k1", 5000, 8000)))
		// A limit below what the first payment spent: the checks refuse,
		// the replay is answered.
		_, err = f.wallet.SetSpendLimit(ctx, f.actor(), 100)
		require.NoError(t, err)
		_, err = f.wallet.Pay(ctx, f.actor(), spend("k2", 1, 5000))
		requireCode(t, err, fanfare.ESpendLimit)
		requireFirst(f.wallet.Pay(ctx, f.actor(), spend("k1", 400, 8000)))

		require.Equal(t, before, f.transfers(t))
		f.requireCoins(t, 850)
		w, err := f.wallet.Wallet(ctx, ayla.ID)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(75), w.Diamonds)
		require.Equal(t, fanfare.Amount(150), f.spentToday(t))
	})
}

// TestPayReplayOfRefusal: a spend the ledger refused (insufficient_funds)
// is answered the same refusal on replay, even once the wallet could pay,
// and the replay moves nothing.
func TestPayReplayOfRefusal(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupWith(t, db, fanfare.ClockFunc(func() time.Time { return now }), wallet.Options{Limits: &wallet.Limits{}})
		ctx := context.Background()
		ayla := f.user(t, "ayla", "1995-05-05")
		f.grant(t, 100, "g1")
		_, err := f.pay(f.actor(), ayla.ID, 150, "k1")
		requireCode(t, err, fanfare.EInsufficientFunds)
		f.grant(t, 1000, "g2")
		before := f.transfers(t)

		_, err = f.pay(f.actor(), ayla.ID, 150, "k1")
		requireCode(t, err, fanfare.EInsufficientFunds)
		_, err = f.wallet.Replay(ctx, ledger.Idempotency{Scope: f.actor().ID(), Key: "k1",
			Hash: ledger.HashRequest([]byte("gift"), []byte(ayla.ID), []byte("150"))}, 150, 5000)
		requireCode(t, err, fanfare.EInsufficientFunds)
		require.Equal(t, before, f.transfers(t))
		f.requireCoins(t, 1100)
		require.Equal(t, fanfare.Amount(0), f.spentToday(t))
	})
}

// TestReplayOfOlderResult: a result stored before spends stored their
// amounts is answered with the amounts of the replaying request.
func TestReplayOfOlderResult(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		f.grant(t, 100, "g1")
		from, err := f.ledger.FindUserAccount(ctx, f.fan.ID, fanfare.Coin)
		require.NoError(t, err)
		revenue, err := f.ledger.SystemAccount(ctx, ledger.Revenue("gift"), fanfare.Coin)
		require.NoError(t, err)
		idem := ledger.Idempotency{Scope: f.actor().ID(), Key: "old", Hash: "h"}
		res, err := f.ledger.Submit(ctx, ledger.Op{Kind: "gift", Object: "live:old", Actor: f.actor().ID(),
			Legs: []ledger.Leg{{Debit: from, Credit: revenue, Amount: 10}}, Idem: &idem})
		require.NoError(t, err)
		require.Empty(t, res.Amounts)

		p, err := f.wallet.Replay(ctx, idem, 10, 5000)
		require.NoError(t, err)
		require.True(t, p.Replayed)
		require.Equal(t, res.OpID, p.OpID)
		require.Equal(t, fanfare.Amount(10), p.Coins)
		require.Equal(t, fanfare.Amount(5), p.Diamonds)
		require.Equal(t, fanfare.Amount(90), p.Balance)
	})
}
