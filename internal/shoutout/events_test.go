package shoutout_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/outbox/outboxtest"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// events returns the outbox's events about request id, in order (the
// tests move the clock between changes: events of one microsecond are
// listed by id).
func (f *fixture) events(t *testing.T, id string) ([]string, []shoutout.Event) {
	t.Helper()
	rows, err := outbox.List(context.Background(), f.db.Read)
	require.NoError(t, err)
	var types []string
	var data []shoutout.Event
	for _, r := range rows {
		var d shoutout.Event
		require.NoError(t, r.Data(&d))
		if d.ID != id {
			continue
		}
		require.Equal(t, outbox.ID(r.Type, id), r.ID)
		types = append(types, r.Type)
		data = append(data, d)
	}
	return types, data
}

func TestShoutoutEventsLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{})
		p, err := f.s.Request(ctx, f.fan, f.creator.UserID, input(), "req-1")
		require.NoError(t, err)
		r := p.Request
		_, err = f.s.Request(ctx, f.fan, f.creator.UserID, input(), "req-1") // a replay
		require.NoError(t, err)
		types, data := f.events(t, r.ID)
		require.Equal(t, []string{outbox.ShoutoutRequested}, types)
		require.Equal(t, shoutout.Event{ID: r.ID,
			Fan:     outbox.User{ID: f.fan.UserID, Handle: "sam", DisplayName: "sam"},
			Creator: outbox.User{ID: f.creator.UserID, Handle: "ayla", DisplayName: "ayla"},
			State:   shoutout.Requested, Coins: price, Diamonds: 800, Occasion: shoutout.Birthday, Public: true,
			AcceptBy: r.AcceptBy, CreatedAt: start, UpdatedAt: start}, data[0])
		body, err := json.Marshal(data[0])
		require.NoError(t, err)
		require.NotContains(t, string(body), "Lea", "the recipient's name stays out")

		f.clock.add(time.Hour)
		_, err = f.s.Accept(ctx, f.creator, r.ID)
		require.NoError(t, err)
		_, err = f.s.Accept(ctx, f.creator, r.ID)
		requireCode(t, err, fanfare.EInvalidState)
		f.clock.add(time.Second)
		_, err = f.s.Deliver(ctx, f.creator, r.ID, video)
		require.NoError(t, err)
		f.clock.add(time.Second)
		_, err = f.s.Dispute(ctx, f.fan, r.ID, "")
		requireCode(t, err, fanfare.EInvalid)
		_, err = f.s.Dispute(ctx, f.fan, r.ID, "Wrong name")
		require.NoError(t, err)
		f.clock.add(time.Second)
		_, err = f.s.Resolve(ctx, operator, r.ID, shoutout.OutcomeRefund, "wrong name")
		require.NoError(t, err)
		_, err = f.s.Resolve(ctx, operator, r.ID, shoutout.OutcomeRefund, "again")
		requireCode(t, err, fanfare.EInvalidState)

		types, data = f.events(t, r.ID)
		require.Equal(t, []string{outbox.ShoutoutRequested, outbox.ShoutoutAccepted, outbox.ShoutoutDelivered,
			outbox.ShoutoutDisputed, outbox.ShoutoutRefunded}, types)
		require.Equal(t, shoutout.Accepted, data[1].State)
		require.NotNil(t, data[1].DeliverBy)
		require.Equal(t, shoutout.Delivered, data[2].State)
		require.NotNil(t, data[2].DisputeBy)
		require.Equal(t, "Wrong name", data[3].DisputeReason)
		require.Equal(t, shoutout.Refunded, data[4].State)
		require.Equal(t, "dispute", data[4].Reason)
		require.True(t, data[4].UpdatedAt.Equal(start.Add(time.Hour+3*time.Second)))

		// A request the fan cannot pay for writes nothing.
		_, err = f.s.SetSettings(ctx, f.creator, shoutout.SettingsInput{Enabled: true, Price: 50_000, Capacity: 5})
		require.NoError(t, err)
		rows, err := outbox.List(ctx, db.Read)
		require.NoError(t, err)
		_, err = f.s.Request(ctx, f.fan, f.creator.UserID, input(), "req-2")
		requireCode(t, err, fanfare.EInsufficientFunds)
		after, err := outbox.List(ctx, db.Read)
		require.NoError(t, err)
		require.Len(t, after, len(rows))
	})
}

// TestShoutoutRefundedEvents: every refund path reports shoutout.refunded
// with its reason; a decline reports shoutout.declined too.
func TestShoutoutRefundedEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{Review: true})

		declined := f.request(t)
		f.clock.add(time.Second)
		_, err := f.s.Decline(ctx, f.creator, declined.ID, "Not this week")
		require.NoError(t, err)
		_, err = f.s.Decline(ctx, f.creator, declined.ID, "Not this week")
		requireCode(t, err, fanfare.EInvalidState)
		types, data := f.events(t, declined.ID)
		require.Equal(t, []string{outbox.ShoutoutRequested, outbox.ShoutoutDeclined, outbox.ShoutoutRefunded}, types)
		require.Equal(t, shoutout.Declined, data[1].State)
		require.Equal(t, "declined", data[2].Reason)

		cancelled := f.request(t)
		f.clock.add(time.Second)
		_, err = f.s.Cancel(ctx, f.fan, cancelled.ID)
		require.NoError(t, err)
		types, data = f.events(t, cancelled.ID)
		require.Equal(t, []string{outbox.ShoutoutRequested, outbox.ShoutoutRefunded}, types)
		require.Equal(t, "cancelled", data[1].Reason)

		expired := f.request(t)
		j := f.sched.last(t, shoutout.JobAcceptDeadline)
		f.clock.set(expired.AcceptBy)
		f.run(t, shoutout.JobAcceptDeadline, j)
		f.run(t, shoutout.JobAcceptDeadline, j)
		types, data = f.events(t, expired.ID)
		require.Equal(t, []string{outbox.ShoutoutRequested, outbox.ShoutoutRefunded}, types)
		require.Equal(t, "expired", data[1].Reason)
		require.Equal(t, shoutout.Expired, data[1].State)

		// A video in review past the delivery deadline, rejected.
		rejected := f.request(t)
		f.clock.add(time.Second)
		_, err = f.s.Accept(ctx, f.creator, rejected.ID)
		require.NoError(t, err)
		got, err := f.s.Deliver(ctx, f.creator, rejected.ID, video)
		require.NoError(t, err)
		require.Equal(t, shoutout.InReview, got.State)
		f.clock.set(got.DeliverBy.Add(time.Minute))
		_, _, err = f.s.Reject(ctx, operator, rejected.ID, "not a shoutout")
		require.NoError(t, err)
		types, data = f.events(t, rejected.ID)
		require.Equal(t, []string{outbox.ShoutoutRequested, outbox.ShoutoutAccepted, outbox.ShoutoutRefunded}, types)
		require.Equal(t, "rejected", data[2].Reason)

		// The creator banned: the open requests refunded by the job.
		open := f.request(t)
		f.clock.add(time.Second)
		banned := fanfare.StandingBanned
		_, err = f.accounts.Update(ctx, operator, f.creator.UserID, account.UpdateInput{Standing: &banned})
		require.NoError(t, err)
		for range 2 {
			require.NoError(t, f.s.Handlers()[shoutout.JobCreatorStanding](ctx, json.RawMessage(`{"creator_id":"`+f.creator.UserID+`"}`)))
		}
		types, data = f.events(t, open.ID)
		require.Equal(t, []string{outbox.ShoutoutRequested, outbox.ShoutoutRefunded}, types)
		require.Equal(t, "creator_standing", data[1].Reason)
		require.Equal(t, shoutout.Cancelled, data[1].State)
	})
}

// TestShoutoutDeliveredAfterReview: with moderation, delivered is written
// when the video is released to the fan, not when it is uploaded.
func TestShoutoutDeliveredAfterReview(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		outboxtest.Subscribe(t, db)
		ctx := context.Background()
		f := setup(t, db, shoutout.Options{Review: true})
		r := f.request(t)
		f.clock.add(time.Second)
		_, err := f.s.Accept(ctx, f.creator, r.ID)
		require.NoError(t, err)
		_, err = f.s.Deliver(ctx, f.creator, r.ID, video)
		require.NoError(t, err)
		f.clock.add(time.Second)
		types, _ := f.events(t, r.ID)
		require.Equal(t, []string{outbox.ShoutoutRequested, outbox.ShoutoutAccepted}, types)
		_, err = f.s.Approve(ctx, operator, r.ID)
		require.NoError(t, err)
		_, err = f.s.Approve(ctx, operator, r.ID)
		requireCode(t, err, fanfare.EInvalidState)
		types, data := f.events(t, r.ID)
		require.Equal(t, []string{outbox.ShoutoutRequested, outbox.ShoutoutAccepted, outbox.ShoutoutDelivered}, types)
		require.Equal(t, shoutout.Delivered, data[2].State)
	})
}
