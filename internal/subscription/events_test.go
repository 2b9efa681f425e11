package subscription_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/outbox/outboxtest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/subscription"
)

// events returns the outbox's events about subscription id, in order.
func (f *fixture) events(t *testing.T, id string) ([]string, []subscription.Event) {
	t.Helper()
	rows, err := outbox.List(context.Background(), f.db.Read)
	require.NoError(t, err)
	var types []string
	var data []subscription.Event
	for _, r := range rows {
		var d subscription.Event
		require.NoError(t, r.Data(&d))
		if d.ID == id {
			types = append(types, r.Type)
			data = append(data, d)
		}
	}
	return types, data
}

func TestSubscriptionEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		ctx := context.Background()
		f := setup(t, db, subscription.Options{})
		f.grant(t, f.fan, 1_000)
		k := key()
		s, err := f.s.Subscribe(ctx, f.fan, f.creator.UserID, subscription.SubscribeInput{Tier: f.basic.ID}, k)
		require.NoError(t, err)
		sub := s.Subscription
		_, err = f.s.Subscribe(ctx, f.fan, f.creator.UserID, subscription.SubscribeInput{Tier: f.basic.ID}, k) // a replay
		require.NoError(t, err)
		_, err = f.s.Subscribe(ctx, f.fan, f.creator.UserID, subscription.SubscribeInput{Tier: f.basic.ID}, key())
		requireCode(t, err, fanfare.EConflict)

		types, data := f.events(t, sub.ID)
		require.Equal(t, []string{outbox.SubscriptionStarted}, types)
		rows, err := outbox.List(ctx, db.Read, outbox.SubscriptionStarted)
		require.NoError(t, err)
		require.Equal(t, outbox.ID(outbox.SubscriptionStarted, sub.ID), rows[0].ID)
		require.NotEmpty(t, data[0].OpID)
		data[0].OpID = ""
		require.Equal(t, subscription.Event{ID: sub.ID,
			Fan:     outbox.User{ID: f.fan.UserID, Handle: "sam", DisplayName: "sam"},
			Creator: outbox.User{ID: f.creator.UserID, Handle: "ayla", DisplayName: "ayla"},
			Tier:    subscription.TierRef{ID: f.basic.ID, Name: "Fan club"}, State: subscription.Active, AutoRenew: true,
			Period: 1, Coins: basicPrice, PeriodStart: start, PeriodEnd: sub.PeriodEnd, CreatedAt: start}, data[0])

		// Renewed at the period's end, once however often the sweep runs.
		require.Equal(t, 1, f.at(t, sub.PeriodEnd))
		require.Equal(t, 0, f.at(t, sub.PeriodEnd))
		types, data = f.events(t, sub.ID)
		require.Equal(t, []string{outbox.SubscriptionStarted, outbox.SubscriptionRenewed}, types)
		require.Equal(t, 2, data[1].Period)
		require.Equal(t, int64(basicPrice), data[1].Coins)
		require.True(t, data[1].PeriodStart.Equal(sub.PeriodEnd))

		// Cancelled by the fan: once, however often they cancel; again
		// after turning renewal back on and off.
		f.clock.set(f.clock.Now().Add(time.Hour))
		_, err = f.s.Cancel(ctx, f.fan, sub.ID)
		require.NoError(t, err)
		_, err = f.s.Cancel(ctx, f.fan, sub.ID)
		require.NoError(t, err)
		_, err = f.s.Cancel(ctx, f.creator, sub.ID)
		requireCode(t, err, fanfare.ENotFound)
		types, data = f.events(t, sub.ID)
		require.Equal(t, []string{outbox.SubscriptionStarted, outbox.SubscriptionRenewed, outbox.SubscriptionCanceled}, types)
		require.Equal(t, subscription.CancelledByFan, data[2].CancelledBy)
		require.False(t, data[2].AutoRenew)
		require.Equal(t, subscription.Active, data[2].State)
		yes := true
		f.clock.set(f.clock.Now().Add(time.Hour))
		_, err = f.s.Change(ctx, f.fan, sub.ID, subscription.ChangeInput{AutoRenew: &yes})
		require.NoError(t, err)
		f.clock.set(f.clock.Now().Add(time.Hour))
		_, err = f.s.Cancel(ctx, f.fan, sub.ID)
		require.NoError(t, err)
		types, _ = f.events(t, sub.ID)
		require.Len(t, types, 4)

		// The period ends without renewal: reported when it was cancelled.
		end := f.get(t, sub.ID).PeriodEnd
		require.Equal(t, 1, f.at(t, end))
		require.Equal(t, subscription.Ended, f.get(t, sub.ID).State)
		types, _ = f.events(t, sub.ID)
		require.Len(t, types, 4)
		_, err = f.s.Cancel(ctx, f.fan, sub.ID)
		requireCode(t, err, fanfare.EInvalidState)
		types, _ = f.events(t, sub.ID)
		require.Len(t, types, 4)
	})
}

func TestSubscriptionLapsedEvent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		f := setup(t, db, subscription.Options{})
		f.grant(t, f.fan, basicPrice)
		sub := f.subscribe(t, f.fan, f.basic.ID)
		// The renewal cannot be paid: grace, no event; then lapsed.
		require.Equal(t, 1, f.at(t, sub.PeriodEnd))
		types, _ := f.events(t, sub.ID)
		require.Equal(t, []string{outbox.SubscriptionStarted}, types)
		grace := *f.get(t, sub.ID).GraceUntil
		for f.get(t, sub.ID).State != subscription.Ended {
			f.at(t, *f.get(t, sub.ID).RetryAt)
			require.False(t, f.clock.Now().After(grace))
		}
		f.at(t, grace.Add(time.Hour))
		types, data := f.events(t, sub.ID)
		require.Equal(t, []string{outbox.SubscriptionStarted, outbox.SubscriptionLapsed}, types)
		require.Equal(t, subscription.Ended, data[1].State)
		require.Equal(t, subscription.EndLapsed, data[1].EndReason)
		require.NotNil(t, data[1].EndedAt)
	})
}

// TestSubscriptionCancelledBySystem: a creator banned can no longer offer
// the plan; the renewal is stopped and reported as cancelled by the system.
func TestSubscriptionCancelledBySystem(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		ctx := context.Background()
		f := setup(t, db, subscription.Options{})
		f.grant(t, f.fan, 5_000)
		sub := f.subscribe(t, f.fan, f.basic.ID)
		banned := fanfare.StandingBanned
		_, err := f.accounts.Update(ctx, operator, f.creator.UserID, account.UpdateInput{Standing: &banned})
		require.NoError(t, err)
		f.at(t, sub.PeriodEnd)
		f.at(t, sub.PeriodEnd)
		types, data := f.events(t, sub.ID)
		require.Equal(t, []string{outbox.SubscriptionStarted, outbox.SubscriptionCanceled}, types)
		require.Equal(t, subscription.CancelledBySystem, data[1].CancelledBy)
		require.Equal(t, subscription.EndCreator, data[1].EndReason)
		require.Equal(t, subscription.Ended, data[1].State)
	})
}

func TestGiftedSubscriptionStartedEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		ctx := context.Background()
		f := setup(t, db, subscription.Options{})
		f.grant(t, f.fan, 5_000)
		yes := true
		ids := []string{f.fan.UserID}
		for i := range 2 {
			v := f.user(t, fmt.Sprint("viewer", i), "FR", "1990-01-01", 0, "")
			_, err := f.s.SetPreferences(ctx, v, subscription.PreferencesInput{AcceptGiftedSubscriptions: &yes})
			require.NoError(t, err)
			ids = append(ids, v.UserID)
		}
		k := key()
		g, err := f.s.Gift(ctx, f.fan, f.creator.UserID, "live:1", ids, subscription.GiftInput{Count: 2, Tier: f.basic.ID}, k, true)
		require.NoError(t, err)
		_, err = f.s.Gift(ctx, f.fan, f.creator.UserID, "live:1", ids, subscription.GiftInput{Count: 2, Tier: f.basic.ID}, k, true)
		require.NoError(t, err)
		_, err = f.s.Gift(ctx, f.fan, f.creator.UserID, "live:1", ids, subscription.GiftInput{Count: 1, Tier: f.basic.ID}, key(), true)
		requireCode(t, err, fanfare.ENotEnoughRecipients)
		rows, err := outbox.List(ctx, db.Read, outbox.SubscriptionStarted)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		for _, r := range g.Recipients {
			types, data := f.events(t, r.SubscriptionID)
			require.Equal(t, []string{outbox.SubscriptionStarted}, types)
			require.Equal(t, r.UserID, data[0].Fan.ID)
			require.Equal(t, &outbox.User{ID: f.fan.UserID, Handle: "sam", DisplayName: "sam"}, data[0].GiftedBy)
			require.False(t, data[0].AutoRenew)
			require.Equal(t, g.OpID, data[0].OpID)
		}
	})
}
