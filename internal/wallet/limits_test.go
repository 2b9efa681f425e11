package wallet_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// user creates another user.
func (f *fixture) user(t *testing.T, handle, birth string) *fanfare.User {
	t.Helper()
	u, err := f.accounts.Create(context.Background(), account.CreateInput{
		Handle: handle, Password: "fanfare-demo", Region: "TR", BirthDate: birth,
	})
	require.NoError(t, err)
	return u
}

// pay spends coins of actor on creator through the wallet, as gifts do.
func (f *fixture) pay(actor fanfare.Actor, creator string, coins fanfare.Amount, key string) (*wallet.Payment, error) {
	return f.payWith(actor, nil, creator, coins, key)
}

func (f *fixture) spentToday(t *testing.T) fanfare.Amount {
	t.Helper()
	l, err := f.wallet.SpendLimit(context.Background(), f.fan.ID)
	require.NoError(t, err)
	return l.SpentToday
}

func TestPay(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupWith(t, db, fanfare.ClockFunc(func() time.Time { return now }), wallet.Options{Limits: &wallet.Limits{}})
		ctx := context.Background()
		ayla := f.user(t, "ayla", "1995-05-05")
		f.grant(t, 1000, "g1")

		p, err := f.pay(f.actor(), ayla.ID, 99, "k1")
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(99), p.Coins)
		require.Equal(t, fanfare.Amount(49), p.Diamonds) // floor(99 × 5000 / 10000)
		require.Equal(t, fanfare.Amount(901), p.Balance)
		require.False(t, p.Replayed)
		w, err := f.wallet.Wallet(ctx, ayla.ID)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(49), w.Diamonds)

		again, err := f.pay(f.actor(), ayla.ID, 99, "k1")
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, p.OpID, again.OpID)
		require.Equal(t, p.Balance, again.Balance)
		f.requireCoins(t, 901)
		require.Equal(t, fanfare.Amount(99), f.spentToday(t))

		// Bad input changes nothing.
		before := f.transfers(t)
		for _, c := range []struct {
			name  string
			actor fanfare.Actor
			to    string
			coins fanfare.Amount
			code  string
		}{
			{"zero", f.actor(), ayla.ID, 0, fanfare.EInvalid},
			{"negative", f.actor(), ayla.ID, -5, fanfare.EInvalid},
			{"overflow", f.actor(), ayla.ID, fanfare.MaxAmount + 1, fanfare.EInvalid},
			{"oneself", f.actor(), f.fan.ID, 5, fanfare.EInvalid},
			{"unknown creator", f.actor(), "no-such-user", 5, fanfare.ENotFound},
			{"not enough coins", f.actor(), ayla.ID, 902, fanfare.EInsufficientFunds},
			{"api key", operator, ayla.ID, 5, fanfare.EForbidden},
		} {
			_, err := f.pay(c.actor, c.to, c.coins, "bad-"+c.name)
			requireCode(t, err, c.code)
		}
		_, err = f.wallet.Pay(ctx, f.actor(), wallet.Spend{Feature: "gift", CreatorID: ayla.ID, Coins: 1})
		requireCode(t, err, fanfare.EIdempotencyKeyRequired)
		_, err = f.pay(f.actor(), ayla.ID, 98, "k1") // same key, another body
		requireCode(t, err, fanfare.EIdempotencyConflict)
		require.Equal(t, before, f.transfers(t))
		f.requireCoins(t, 901)
		require.Equal(t, fanfare.Amount(99), f.spentToday(t))
	})
}

func TestPayMinor(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// mia turns 18 on 2026-03-16.
		clock := newTestClock(time.Date(2026, 3, 15, 23, 59, 59, 999_999_000, time.UTC))
		f := setupWith(t, db, clock, wallet.Options{})
		ayla := f.user(t, "ayla", "1995-05-05")
		mia := f.user(t, "mia", "2008-03-16")
		miaActor := fanfare.Actor{UserID: mia.ID, Handle: mia.Handle, Role: fanfare.RoleFan}
		_, err := f.wallet.Grant(context.Background(), operator, wallet.GrantInput{UserID: mia.ID, Coins: 100, Reason: "gift card"}, "g-mia")
		require.NoError(t, err)
		before := f.transfers(t)

		_, err = f.pay(miaActor, ayla.ID, 10, "k1")
		requireCode(t, err, fanfare.ENotEligible)
		require.Contains(t, err.Error(), "18 or older")
		require.Equal(t, before, f.transfers(t))

		clock.set(time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC))
		p, err := f.pay(miaActor, ayla.ID, 10, "k1")
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(90), p.Balance)
	})
}

func TestPayFrozen(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := newTestClock(now)
		f := setupWith(t, db, clock, wallet.Options{})
		ayla := f.user(t, "ayla", "1995-05-05")
		p := f.buy(t, "eur-350", payment.CardChargeback, "buy-1")
		_, err := f.pay(f.actor(), ayla.ID, 300, "k1")
		require.NoError(t, err)
		clock.set(p.PaidAt.Add(wallet.DefaultChargebackDelay))
		_, err = f.wallet.ApplyDueChargebacks(context.Background())
		require.NoError(t, err)
		f.requireCoins(t, -300)
		before := f.transfers(t)

		_, err = f.pay(f.actor(), ayla.ID, 1, "k2")
		requireCode(t, err, fanfare.EWalletFrozen)
		require.Contains(t, err.Error(), "buy coins to settle")
		require.Equal(t, before, f.transfers(t))

		// Settled by a purchase, the wallet spends again.
		f.buy(t, "eur-350", payment.CardSucceeds, "buy-2")
		_, err = f.pay(f.actor(), ayla.ID, 50, "k2")
		require.NoError(t, err)
		f.requireCoins(t, 0)
	})
}

func TestDailySpendLimit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := newTestClock(time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC))
		f := setupWith(t, db, clock, wallet.Options{Limits: &wallet.Limits{DailySpend: 100}})
		ayla := f.user(t, "ayla", "1995-05-05")
		f.grant(t, 1000, "g1")

		_, err := f.pay(f.actor(), ayla.ID, 60, "k1")
		require.NoError(t, err)
		_, err = f.pay(f.actor(), ayla.ID, 40, "k2") // exactly the limit
		require.NoError(t, err)
		l, err := f.wallet.SpendLimit(context.Background(), f.fan.ID)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(100), l.Daily)
		require.Equal(t, fanfare.Amount(100), l.Default)
		require.False(t, l.Self)
		require.Equal(t, fanfare.Amount(100), l.SpentToday)
		require.Equal(t, fanfare.Amount(0), l.LeftToday)
		require.Equal(t, time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), l.Day)

		before := f.transfers(t)
		_, err = f.pay(f.actor(), ayla.ID, 1, "k3")
		requireCode(t, err, fanfare.ESpendLimit)
		require.Contains(t, err.Error(), "100 coins")
		// The replay of a spend that counted is still answered.
		again, err := f.pay(f.actor(), ayla.ID, 40, "k2")
		require.NoError(t, err)
		require.True(t, again.Replayed)

		// One microsecond before midnight (UTC) it is still today.
		clock.set(time.Date(2026, 3, 15, 23, 59, 59, 999_999_000, time.UTC))
		_, err = f.pay(f.actor(), ayla.ID, 1, "k3")
		requireCode(t, err, fanfare.ESpendLimit)
		require.Equal(t, before, f.transfers(t))
		f.requireCoins(t, 900)

		// A new day, a new count.
		clock.set(time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC))
		_, err = f.pay(f.actor(), ayla.ID, 100, "k3")
		require.NoError(t, err)
		_, err = f.pay(f.actor(), ayla.ID, 1, "k4")
		requireCode(t, err, fanfare.ESpendLimit)
		// More than a day's limit in one spend is refused outright.
		_, err = f.pay(f.actor(), ayla.ID, 101, "k5")
		requireCode(t, err, fanfare.ESpendLimit)
		f.requireCoins(t, 800)
	})
}

func TestSetSpendLimit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC)
		clock := newTestClock(t0)
		f := setupWith(t, db, clock, wallet.Options{Limits: &wallet.Limits{DailySpend: 1000}})
		ctx := context.Background()
		ayla := f.user(t, "ayla", "1995-05-05")
		f.grant(t, 5000, "g1")
		_, err := f.pay(f.actor(), ayla.ID, 50, "k1")
		require.NoError(t, err)

		// Lowering takes effect at once.
		l, err := f.wallet.SetSpendLimit(ctx, f.actor(), 80)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(80), l.Daily)
		require.True(t, l.Self)
		require.True(t, l.PendingAt.IsZero())
		require.Equal(t, fanfare.Amount(50), l.SpentToday)
		require.Equal(t, fanfare.Amount(30), l.LeftToday)
		_, err = f.pay(f.actor(), ayla.ID, 31, "k2")
		requireCode(t, err, fanfare.ESpendLimit)
		_, err = f.pay(f.actor(), ayla.ID, 30, "k2")
		require.NoError(t, err)

		// Raising waits 24 hours; the lower limit holds until then.
		l, err = f.wallet.SetSpendLimit(ctx, f.actor(), 500)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(80), l.Daily)
		require.Equal(t, fanfare.Amount(500), l.Pending)
		require.True(t, l.PendingAt.Equal(t0.Add(wallet.SpendLimitRaiseDelay)), "PendingAt = %v", l.PendingAt)

		clock.set(t0.Add(wallet.SpendLimitRaiseDelay - time.Microsecond))
		_, err = f.pay(f.actor(), ayla.ID, 81, "k3")
		requireCode(t, err, fanfare.ESpendLimit)
		l, err = f.wallet.SpendLimit(ctx, f.fan.ID)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(80), l.Daily)

		clock.set(t0.Add(wallet.SpendLimitRaiseDelay))
		l, err = f.wallet.SpendLimit(ctx, f.fan.ID)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(500), l.Daily)
		require.True(t, l.PendingAt.IsZero())
		_, err = f.pay(f.actor(), ayla.ID, 500, "k3")
		require.NoError(t, err)

		// Back to the operator's default (0) is a raise too; lowering
		// meanwhile cancels it.
		l, err = f.wallet.SetSpendLimit(ctx, f.actor(), 0)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(500), l.Daily)
		require.Equal(t, fanfare.Amount(0), l.Pending)
		require.False(t, l.PendingAt.IsZero())
		l, err = f.wallet.SetSpendLimit(ctx, f.actor(), 400)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(400), l.Daily)
		require.True(t, l.PendingAt.IsZero())
		clock.set(t0.Add(3 * wallet.SpendLimitRaiseDelay))
		l, err = f.wallet.SpendLimit(ctx, f.fan.ID)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(400), l.Daily)

		// Bad input changes nothing.
		for _, daily := range []fanfare.Amount{-1, 1001, fanfare.MaxAmount + 1} {
			_, err = f.wallet.SetSpendLimit(ctx, f.actor(), daily)
			requireCode(t, err, fanfare.EInvalid)
		}
		_, err = f.wallet.SetSpendLimit(ctx, operator, 10)
		requireCode(t, err, fanfare.EForbidden)
		l, err = f.wallet.SpendLimit(ctx, f.fan.ID)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(400), l.Daily)
		require.True(t, l.PendingAt.IsZero())
	})
}

// Concurrent spends never pass the limit together: with 100 coins a day
// and 7 per spend, 14 of 40 racing spends win.
func TestDailySpendLimitConcurrent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupWith(t, db, fanfare.ClockFunc(func() time.Time { return now }), wallet.Options{Limits: &wallet.Limits{DailySpend: 100}})
		ayla := f.user(t, "ayla", "1995-05-05")
		f.grant(t, 1000, "g1")
		var ok, limited atomic.Int64
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				_, err := f.pay(f.actor(), ayla.ID, 7, fmt.Sprint("k", i))
				switch fanfare.ErrorCode(err) {
				case "":
					ok.Add(1)
				case fanfare.ESpendLimit:
					limited.Add(1)
				default:
					t.Errorf("pay: %v", err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int64(14), ok.Load())
		require.Equal(t, int64(26), limited.Load())
		require.Equal(t, fanfare.Amount(98), f.spentToday(t))
		f.requireCoins(t, 1000-98)
	})
}

func TestPurchaseVelocity(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC)
		clock := newTestClock(t0)
		f := setupWith(t, db, clock, wallet.Options{Limits: &wallet.Limits{PurchasesPerHour: 3}})
		ctx := context.Background()
		f.buy(t, "eur-70", payment.CardSucceeds, "b1")
		clock.set(t0.Add(time.Minute))
		_, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-70", PaymentMethod: payment.CardDeclined}, "b2")
		requireCode(t, err, fanfare.EPaymentDeclined) // a declined attempt counts
		f.buy(t, "eur-70", payment.CardSucceeds, "b3")
		n := f.purchases(t)

		_, err = f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-70", PaymentMethod: payment.CardSucceeds}, "b4")
		requireCode(t, err, fanfare.EPurchaseLimit)
		require.Contains(t, err.Error(), "3 purchases an hour")
		// A replay of a purchase made is still answered.
		p, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-70", PaymentMethod: payment.CardSucceeds}, "b3")
		require.NoError(t, err)
		require.True(t, p.Replayed)

		clock.set(t0.Add(time.Hour - time.Microsecond))
		_, err = f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "eur-70", PaymentMethod: payment.CardSucceeds}, "b4")
		requireCode(t, err, fanfare.EPurchaseLimit)
		require.Equal(t, n, f.purchases(t))
		f.requireCoins(t, 140)

		// An hour after the first, it no longer counts.
		clock.set(t0.Add(time.Hour))
		f.buy(t, "eur-70", payment.CardSucceeds, "b4")
		f.requireCoins(t, 210)
	})
}

func TestPurchaseDailyFiatLimit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC)
		clock := newTestClock(t0)
		// The sums below are made of these prices, the SPEC's first
		// ladder, whatever the default catalog's.
		list := func(currency string, rate fanfare.Amount, prices ...fanfare.Amount) wallet.PriceList {
			l := wallet.PriceList{Currency: currency, ReferenceRate: rate}
			for i, coins := range []fanfare.Amount{70, 350, 1400} {
				l.Packs = append(l.Packs, wallet.Pack{ID: fmt.Sprintf("%s-%d", strings.ToLower(currency), coins), Coins: coins, Currency: currency, Price: prices[i]})
			}
			return l
		}
		catalog, err := wallet.NewCatalog(list("EUR", 157, 109, 549, 2199), list("USD", 157, 109, 549, 2199), list("TRY", 5714, 3999, 19999, 79999))
		require.NoError(t, err)
		f := setupWith(t, db, clock, wallet.Options{Catalog: catalog, Limits: &wallet.Limits{
			PurchaseDaily:      wallet.Money{Amount: 3000, Currency: "EUR"},
			MinorPurchaseDaily: wallet.Money{Amount: 549, Currency: "EUR"},
		}})
		ctx := context.Background()
		buy := func(u fanfare.Actor, pack, card, key string) error {
			_, err := f.wallet.Buy(ctx, u, wallet.PurchaseInput{PackID: pack, PaymentMethod: card}, key)
			return err
		}
		sam := f.actor()
		require.NoError(t, buy(sam, "eur-1400", payment.CardSucceeds, "b1")) // 21.99
		clock.set(t0.Add(time.Minute))
		requireCode(t, buy(sam, "eur-350", payment.CardDeclined, "b2"), fanfare.EPaymentDeclined)
		require.NoError(t, buy(sam, "eur-350", payment.CardSucceeds, "b3")) // 27.48: a declined one does not count
		require.NoError(t, buy(sam, "try-70", payment.CardSucceeds, "b4"))  // 39.99 TRY is 1.09 EUR at reference rates: 28.57
		n := f.purchases(t)
		err = buy(sam, "eur-350", payment.CardSucceeds, "b5") // 34.06
		requireCode(t, err, fanfare.EPurchaseLimit)
		require.Contains(t, err.Error(), "30.00 EUR a day")
		require.Contains(t, err.Error(), "1.43 EUR is left")
		require.Equal(t, n, f.purchases(t))
		require.NoError(t, buy(sam, "eur-70", payment.CardSucceeds, "b5")) // 29.66
		err = buy(sam, "usd-70", payment.CardSucceeds, "b6")               // 30.75: USD counts at its own rate
		requireCode(t, err, fanfare.EPurchaseLimit)
		require.Contains(t, err.Error(), "30.00 USD a day")
		require.Contains(t, err.Error(), "0.34 USD is left")

		// 24 hours after the first purchase, it no longer counts.
		clock.set(t0.Add(24*time.Hour - time.Microsecond))
		requireCode(t, buy(sam, "eur-1400", payment.CardSucceeds, "b6"), fanfare.EPurchaseLimit)
		clock.set(t0.Add(24 * time.Hour))
		require.NoError(t, buy(sam, "eur-1400", payment.CardSucceeds, "b6")) // 7.67 + 21.99 = 29.66
		f.requireCoins(t, 1400+350+70+70+1400)

		// Under 18, the lower cap applies, to its exact amount.
		mia := f.user(t, "mia", "2010-01-01")
		miaActor := fanfare.Actor{UserID: mia.ID, Handle: mia.Handle, Role: fanfare.RoleFan}
		require.NoError(t, buy(miaActor, "eur-350", payment.CardSucceeds, "m1")) // 5.49
		err = buy(miaActor, "eur-70", payment.CardSucceeds, "m2")
		requireCode(t, err, fanfare.EPurchaseLimit)
		require.Contains(t, err.Error(), "5.49 EUR a day for users under 18")
		w, err := f.wallet.Wallet(ctx, mia.ID)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(350), w.Coins)
	})
}

func TestPurchaseLimitsConcurrent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupWith(t, db, fanfare.ClockFunc(func() time.Time { return now }), wallet.Options{Limits: &wallet.Limits{PurchasesPerHour: 3}})
		var ok, limited atomic.Int64
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				_, err := f.wallet.Buy(context.Background(), f.actor(),
					wallet.PurchaseInput{PackID: "eur-70", PaymentMethod: payment.CardSucceeds}, fmt.Sprint("b", i))
				switch fanfare.ErrorCode(err) {
				case "":
					ok.Add(1)
				case fanfare.EPurchaseLimit:
					limited.Add(1)
				default:
					t.Errorf("buy: %v", err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int64(3), ok.Load())
		require.Equal(t, int64(9), limited.Load())
		require.Equal(t, 3, f.purchases(t))
		f.requireCoins(t, 210)
	})
}

// TestPurchaseLimitMessageGroupsThousands: the refusal writes its money
// with thousands separators ("36,394.90 TRY").
func TestPurchaseLimitMessageGroupsThousands(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t, store.SQLite)
	f := setupWith(t, db, newTestClock(time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC)), wallet.Options{Limits: &wallet.Limits{
		PurchaseDaily: wallet.Money{Amount: 100_000, Currency: "EUR"},
	}})
	ctx := context.Background()
	for i := range 3 {
		_, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "try-17500", PaymentMethod: payment.CardSucceeds}, fmt.Sprintf("b%d", i))
		require.NoError(t, err)
	}
	_, err := f.wallet.Buy(ctx, f.actor(), wallet.PurchaseInput{PackID: "try-17500", PaymentMethod: payment.CardSucceeds}, "b3")
	requireCode(t, err, fanfare.EPurchaseLimit)
	require.Equal(t, "coin purchases are limited to 36,394.90 TRY a day; 6,994.93 TRY is left in the last 24 hours", fanfare.ErrorMessage(err))
}

// The checks before the ledger reuse a fan's spending state for
// SpendStateTTL. Two wallet services on one store stand for two nodes:
// each node counts the fan's spends it made itself, a limit lowered on one
// node holds there at once and on the other once its state expires, and
// whatever each node's state says, the day's spend never passes the limit
// (the spending operation checks it again).
func TestSpendStateReusedAcrossNodes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := newTestClock(time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC))
		f := setupWith(t, db, clock, wallet.Options{Limits: &wallet.Limits{DailySpend: 100}})
		other := &fixture{wallet: wallet.New(db, f.ledger, f.accounts, wallet.Options{Clock: clock, Limits: &wallet.Limits{DailySpend: 100}}),
			ledger: f.ledger, accounts: f.accounts, db: db, fan: f.fan}
		ayla := f.user(t, "ayla", "1995-05-05")
		f.grant(t, 1000, "g1")

		// Both nodes read the fan's state (nothing spent yet).
		_, err := f.pay(f.actor(), ayla.ID, 10, "a1")
		require.NoError(t, err)
		_, err = other.pay(f.actor(), ayla.ID, 10, "b1")
		require.NoError(t, err)
		// This node counts its own spends: 20 + 70 would pass the limit
		// with the other node's 10, which it does not know of yet; the
		// spending operation refuses it.
		_, err = f.pay(f.actor(), ayla.ID, 70, "a2")
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(90), f.spentToday(t))
		_, err = f.pay(f.actor(), ayla.ID, 15, "a3")
		requireCode(t, err, fanfare.ESpendLimit)
		require.Contains(t, err.Error(), "10 are left")
		_, err = other.pay(f.actor(), ayla.ID, 15, "b2")
		requireCode(t, err, fanfare.ESpendLimit)
		require.Equal(t, fanfare.Amount(90), f.spentToday(t))

		// A limit lowered on one node holds there at once.
		_, err = f.wallet.SetSpendLimit(ctx, f.actor(), 95)
		require.NoError(t, err)
		_, err = f.pay(f.actor(), ayla.ID, 6, "a4")
		requireCode(t, err, fanfare.ESpendLimit)
		// The other node learns it when its state expires.
		clock.set(clock.Now().Add(wallet.SpendStateTTL))
		_, err = other.pay(f.actor(), ayla.ID, 6, "b3")
		requireCode(t, err, fanfare.ESpendLimit)
		require.Contains(t, err.Error(), "95 coins")
		_, err = other.pay(f.actor(), ayla.ID, 5, "b4")
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(95), f.spentToday(t))
		f.requireCoins(t, 905)
	})
}
