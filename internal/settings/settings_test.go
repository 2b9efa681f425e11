package settings_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/settings"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// doc is a valid document: the shape of the built-in defaults.
func doc() settings.Settings {
	return settings.Settings{
		Packs: []settings.ConfigPackList{
			{Currency: "EUR", ReferenceRate: 157, Packs: []settings.ConfigPackPrice{{Coins: 70, Price: 119}, {Coins: 7000, Price: 10999}}},
			{Currency: "TRY", ReferenceRate: 5714, Packs: []settings.ConfigPackPrice{{Coins: 70, Price: 4499}}},
		},
		Shares:        settings.ConfigShares{GiftsBPS: 5000, TipsBPS: 10000, ShoutoutsBPS: 8000, SubscriptionsBPS: 7000},
		Tips:          settings.ConfigTips{MinCoins: 10, MaxCoins: 100_000},
		Limits:        settings.ConfigLimits{DailySpendCoins: 100_000, PurchasesPerHour: 10, PurchaseDaily: "1000.00 EUR", MinorPurchaseDaily: "50.00 EUR"},
		Payouts:       settings.ConfigPayouts{Rates: map[string]string{"EUR": "0.005", "TRY": "0.18"}, MinDiamonds: 1000, DailyMaxDiamonds: 2_000_000, Hold: "168h"},
		Shoutouts:     settings.ConfigShoutouts{AcceptWindow: "72h", DeliveryWindow: "168h", MinPrice: 100, MaxPrice: 1_000_000},
		Subscriptions: settings.ConfigSubscriptions{MinPrice: 100, MaxPrice: 100_000, Grace: "72h"},
	}
}

// Every bound of Validate refuses the document and names its field.
func TestValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, doc().Validate())
	cases := []struct {
		name, path string
		change     func(s *settings.Settings)
	}{
		{"no price list", "packs", func(s *settings.Settings) { s.Packs = nil }},
		{"no EUR", "packs", func(s *settings.Settings) { s.Packs = s.Packs[1:] }},
		{"bad currency", "packs[1].currency", func(s *settings.Settings) { s.Packs[1].Currency = "tr" }},
		{"two lists of a currency", "packs[1].currency", func(s *settings.Settings) { s.Packs[1].Currency = "EUR" }},
		{"empty pack list", "packs[1].packs", func(s *settings.Settings) { s.Packs[1].Packs = nil }},
		{"zero reference rate", "packs[0].reference_rate", func(s *settings.Settings) { s.Packs[0].ReferenceRate = 0 }},
		{"negative price", "packs[0].packs[1].price", func(s *settings.Settings) { s.Packs[0].Packs[1].Price = -1 }},
		{"zero price", "packs[0].packs[0].price", func(s *settings.Settings) { s.Packs[0].Packs[0].Price = 0 }},
		{"zero coins", "packs[0].packs[0].coins", func(s *settings.Settings) { s.Packs[0].Packs[0].Coins = 0 }},
		{"two packs of the same coins", "packs[0].packs[1].coins", func(s *settings.Settings) { s.Packs[0].Packs[1].Coins = 70 }},
		{"gift share above 10000", "shares.gifts_bps", func(s *settings.Settings) { s.Shares.GiftsBPS = 10_001 }},
		{"tip share below 0", "shares.tips_bps", func(s *settings.Settings) { s.Shares.TipsBPS = -1 }},
		{"shoutout share above 10000", "shares.shoutouts_bps", func(s *settings.Settings) { s.Shares.ShoutoutsBPS = 20_000 }},
		{"subscription share below 0", "shares.subscriptions_bps", func(s *settings.Settings) { s.Shares.SubscriptionsBPS = -5 }},
		{"tip min 0", "tips.min_coins", func(s *settings.Settings) { s.Tips.MinCoins = 0 }},
		{"tip min above max", "tips.min_coins", func(s *settings.Settings) { s.Tips.MinCoins = 200_000 }},
		{"negative daily spend", "limits.daily_spend_coins", func(s *settings.Settings) { s.Limits.DailySpendCoins = -1 }},
		{"negative purchases per hour", "limits.purchases_per_hour", func(s *settings.Settings) { s.Limits.PurchasesPerHour = -1 }},
		{"bad money", "limits.purchase_daily", func(s *settings.Settings) { s.Limits.PurchaseDaily = "lots" }},
		{"money in a currency not sold", "limits.minor_purchase_daily", func(s *settings.Settings) { s.Limits.MinorPurchaseDaily = "10.00 GBP" }},
		{"no payout rate", "payouts.rates", func(s *settings.Settings) { s.Payouts.Rates = nil }},
		{"bad rate currency", "payouts.rates.eu", func(s *settings.Settings) { s.Payouts.Rates["eu"] = "0.1" }},
		{"zero rate", "payouts.rates.EUR", func(s *settings.Settings) { s.Payouts.Rates["EUR"] = "0" }},
		{"negative rate", "payouts.rates.EUR", func(s *settings.Settings) { s.Payouts.Rates["EUR"] = "-0.005" }},
		{"payout min 0", "payouts.min_diamonds", func(s *settings.Settings) { s.Payouts.MinDiamonds = 0 }},
		{"payout min above the daily max", "payouts.min_diamonds", func(s *settings.Settings) { s.Payouts.DailyMaxDiamonds = 10 }},
		{"hold below 0", "payouts.hold", func(s *settings.Settings) { s.Payouts.Hold = "-1h" }},
		{"hold not a duration", "payouts.hold", func(s *settings.Settings) { s.Payouts.Hold = "a week" }},
		{"accept window 0", "shoutouts.accept_window", func(s *settings.Settings) { s.Shoutouts.AcceptWindow = "0s" }},
		{"delivery window too long", "shoutouts.delivery_window", func(s *settings.Settings) { s.Shoutouts.DeliveryWindow = "9000h" }},
		{"shoutout min above max", "shoutouts.min_price", func(s *settings.Settings) { s.Shoutouts.MinPrice = 2_000_000 }},
		{"shoutout max 0", "shoutouts.max_price", func(s *settings.Settings) { s.Shoutouts.MaxPrice = 0 }},
		{"subscription min 0", "subscriptions.min_price", func(s *settings.Settings) { s.Subscriptions.MinPrice = 0 }},
		{"subscription max above its bound", "subscriptions.max_price", func(s *settings.Settings) { s.Subscriptions.MaxPrice = settings.MaxSubscriptionPrice + 1 }},
		{"grace not positive", "subscriptions.grace", func(s *settings.Settings) { s.Subscriptions.Grace = "0h" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := doc()
			c.change(&s)
			err := s.Validate()
			var inv *settings.Invalid
			require.True(t, errors.As(err, &inv), "%v", err)
			_, ok := inv.Field(c.path)
			require.True(t, ok, "the error names %s: %v", c.path, inv)
		})
	}
}

// applied records what a Service applied.
type applied struct {
	mu   sync.Mutex
	docs []settings.Settings
}

func (a *applied) apply(s settings.Settings) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.docs = append(a.docs, s)
	return nil
}

func (a *applied) last() settings.Settings {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.docs[len(a.docs)-1]
}

var (
	ctx      = context.Background()
	operator = fanfare.Actor{Role: fanfare.RoleOperator, UserID: "ops-1"}
)

func open(t *testing.T, db *store.DB, defaults settings.Settings, a *applied) *settings.Service {
	t.Helper()
	s, err := settings.Open(ctx, db, defaults, a.apply, settings.Options{Clock: fanfare.SystemClock{}, Poll: 20 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// The environment's values are stored at the first start; afterwards the
// stored ones win, whatever the environment says.
func TestEnvironmentDefaultsThenStored(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var a1 applied
		s := open(t, db, doc(), &a1)
		c := s.Current()
		require.EqualValues(t, 1, c.Version)
		require.Equal(t, settings.EnvActor, c.UpdatedBy)
		require.Equal(t, doc(), a1.last(), "the environment's values are in force")

		// A restart with another environment value: the stored one wins.
		env := doc()
		env.Shares.TipsBPS = 9000
		var a2 applied
		s2 := open(t, db, env, &a2)
		require.EqualValues(t, 10_000, s2.Current().Settings.Shares.TipsBPS)
		require.EqualValues(t, 10_000, a2.last().Shares.TipsBPS)

		// A change, then a restart: the change wins over the environment.
		next := doc()
		next.Shares.TipsBPS = 8500
		_, err := s.Update(ctx, operator, 1, next)
		require.NoError(t, err)
		var a3 applied
		s3 := open(t, db, doc(), &a3)
		require.EqualValues(t, 8500, s3.Current().Settings.Shares.TipsBPS)
		require.EqualValues(t, 2, s3.Current().Version)
	})
}

// An update is in force at once on its node, on another within the poll,
// and is audited with the changed fields before and after.
func TestUpdate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var a, b applied
		s := open(t, db, doc(), &a)
		other := open(t, db, doc(), &b)
		other.Start()

		next := doc()
		next.Shares.TipsBPS = 9000
		next.Packs[0].Packs[1].Price = 9999
		c, err := s.Update(ctx, operator, 1, next)
		require.NoError(t, err)
		require.EqualValues(t, 2, c.Version)
		require.Equal(t, "ops-1", c.UpdatedBy)
		require.EqualValues(t, 9000, a.last().Shares.TipsBPS, "in force on this node when Update returns")
		require.EqualValues(t, 9000, s.Current().Settings.Shares.TipsBPS)

		require.Eventually(t, func() bool { return other.Current().Version == 2 }, 2*time.Second, 10*time.Millisecond,
			"in force on the other node within 2 s")
		require.EqualValues(t, 9000, b.last().Shares.TipsBPS)
		require.EqualValues(t, 9999, b.last().Packs[0].Packs[1].Price)

		es, err := audit.List(ctx, db, settings.Object)
		require.NoError(t, err)
		require.Len(t, es, 1)
		require.Equal(t, settings.Action, es[0].Action)
		require.Equal(t, "ops-1", es[0].Actor)
		var d struct {
			Version int64
			Before  map[string]any
			After   map[string]any
		}
		require.NoError(t, json.Unmarshal(es[0].Details, &d))
		require.EqualValues(t, 2, d.Version)
		require.EqualValues(t, 10_000, d.Before["shares.tips_bps"])
		require.EqualValues(t, 9000, d.After["shares.tips_bps"])
		require.Contains(t, d.After, "packs")
		require.Len(t, d.After, 2, "only the changed fields")

		hist, err := s.History(ctx, 10)
		require.NoError(t, err)
		require.Len(t, hist, 1)
		require.Equal(t, []string{"packs", "shares.tips_bps"}, hist[0].Fields)

		// The same document again changes nothing.
		c, err = s.Update(ctx, operator, 2, next)
		require.NoError(t, err)
		require.EqualValues(t, 2, c.Version)
		es, _ = audit.List(ctx, db, settings.Object)
		require.Len(t, es, 1)
	})
}

// Stale versions, invalid documents and non-operators change nothing.
func TestUpdateRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var a applied
		s := open(t, db, doc(), &a)
		next := doc()
		next.Shares.GiftsBPS = 6000
		_, err := s.Update(ctx, fanfare.Actor{Role: fanfare.RoleFan, UserID: "u1"}, 1, next)
		require.Equal(t, fanfare.EForbidden, fanfare.ErrorCode(err))

		bad := doc()
		bad.Shares.GiftsBPS = 10_001
		_, err = s.Update(ctx, operator, 1, bad)
		var inv *settings.Invalid
		require.True(t, errors.As(err, &inv))
		_, ok := inv.Field("shares.gifts_bps")
		require.True(t, ok)

		_, err = s.Update(ctx, operator, 7, next)
		require.Equal(t, fanfare.EConflict, fanfare.ErrorCode(err))
		require.EqualValues(t, 1, s.Current().Version)
		require.Len(t, a.docs, 1, "nothing applied")
		es, _ := audit.List(ctx, db, settings.Object)
		require.Empty(t, es)

		// Two operators change version 1 at once: one wins, the other is
		// told of the conflict.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				n := doc()
				n.Shares.GiftsBPS = int64(6000 + i)
				_, errs[i] = s.Update(ctx, operator, 1, n)
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else {
				require.Equal(t, fanfare.EConflict, fanfare.ErrorCode(err), "%v", err)
			}
		}
		require.Equal(t, 1, won)
		require.EqualValues(t, 2, s.Current().Version)
		es, _ = audit.List(ctx, db, settings.Object)
		require.Len(t, es, 1)
	})
}

// Normalize writes durations and money the one way, so that the same
// settings typed differently are no change.
func TestNormalize(t *testing.T) {
	t.Parallel()
	s := doc()
	s.Payouts.Hold = "168h0m0s"
	s.Limits.PurchaseDaily = "1000 eur"
	s.Packs[1].Currency = "try"
	s.Normalize()
	require.Equal(t, doc(), s)
	require.Equal(t, "1h30m", settings.FormatDuration(90*time.Minute))
	require.Equal(t, "30s", settings.FormatDuration(30*time.Second))
}
