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

// payWith is fixture.pay with the fan as Spenders read them (nil: as
// Pay reads them itself).
func (f *fixture) payWith(actor fanfare.Actor, read *wallet.Spender, creator string, coins fanfare.Amount, key string) (*wallet.Payment, error) {
	return f.wallet.Pay(context.Background(), actor, wallet.Spend{
		Feature:   "gift",
		What:      "send gifts",
		Object:    "live:test",
		CreatorID: creator,
		Coins:     coins,
		ShareBPS:  5000,
		Idem: &ledger.Idempotency{Scope: actor.ID(), Key: key,
			Hash: ledger.HashRequest([]byte("gift"), []byte(creator), fmt.Append(nil, coins))},
		Spender: read,
	})
}

// Spenders reads many fans at once; a spend carrying its fan's Spender is
// checked as one without: a minor, a frozen wallet and the day's limit are
// refused all the same, a stale read does not let a spend pass the limit,
// and a Spender of another user or of another day is not used.
func TestSpenders(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := newTestClock(time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC))
		f := setupWith(t, db, clock, wallet.Options{Limits: &wallet.Limits{DailySpend: 100}})
		ayla := f.user(t, "ayla", "1995-05-05")
		mia := f.user(t, "mia", "2010-01-01")
		zoe := f.user(t, "zoe", "1990-01-01")
		f.grant(t, 1000, "g1")
		for _, u := range []*fanfare.User{mia, zoe} {
			_, err := f.wallet.Grant(ctx, operator, wallet.GrantInput{UserID: u.ID, Coins: 100, Reason: "test"}, "g-"+u.Handle)
			require.NoError(t, err)
		}
		_, err := f.wallet.Freeze(ctx, operator, zoe.ID, "a test")
		require.NoError(t, err)
		actorOf := func(u *fanfare.User) fanfare.Actor {
			return fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}
		}

		read, err := f.wallet.Spenders(ctx, []string{f.fan.ID, mia.ID, zoe.ID, "no-such-user", f.fan.ID})
		require.NoError(t, err)
		require.Len(t, read, 3, "the users that exist, once each")
		require.NotContains(t, read, "no-such-user")

		before := f.transfers(t)
		_, err = f.payWith(actorOf(mia), read[mia.ID], ayla.ID, 10, "m1")
		requireCode(t, err, fanfare.ENotEligible)
		_, err = f.payWith(actorOf(zoe), read[zoe.ID], ayla.ID, 10, "z1")
		requireCode(t, err, fanfare.EWalletFrozen)
		// Another user's Spender is not used: sam's checks are his own.
		_, err = f.payWith(f.actor(), read[mia.ID], ayla.ID, 101, "k0")
		requireCode(t, err, fanfare.ESpendLimit)
		require.Equal(t, before, f.transfers(t))

		p, err := f.payWith(f.actor(), read[f.fan.ID], ayla.ID, 60, "k1")
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(940), p.Balance)
		// The read is stale now (it saw nothing spent today): the count in
		// the operation's transaction still refuses passing the limit.
		_, err = f.payWith(f.actor(), read[f.fan.ID], ayla.ID, 50, "k2")
		requireCode(t, err, fanfare.ESpendLimit)
		f.requireCoins(t, 940)
		require.Equal(t, fanfare.Amount(60), f.spentToday(t))

		// Read again, it knows the 60 spent: 41 more is refused early.
		read, err = f.wallet.Spenders(ctx, []string{f.fan.ID})
		require.NoError(t, err)
		_, err = f.payWith(f.actor(), read[f.fan.ID], ayla.ID, 41, "k3")
		requireCode(t, err, fanfare.ESpendLimit)
		require.Contains(t, err.Error(), "40 are left")

		// The next day, yesterday's read (60 spent) is not used: 100 pass.
		clock.set(time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC))
		_, err = f.payWith(f.actor(), read[f.fan.ID], ayla.ID, 100, "k4")
		require.NoError(t, err)
		f.requireCoins(t, 840)

	})
}
