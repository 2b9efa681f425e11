package subscription

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
)

// Who stopped a subscription's renewal, on subscription.cancelled.
const (
	CancelledByFan    = "fan"    // the fan turned auto-renewal off
	CancelledBySystem = "system" // the creator can no longer offer the plan
)

// Event is the data of the subscription.* events: the subscription as the
// change left it.
type Event struct {
	ID      string      `json:"id"`
	Fan     outbox.User `json:"fan"`
	Creator outbox.User `json:"creator"`
	Tier    TierRef     `json:"tier"`
	// State is active, grace or ended.
	State     string `json:"state"`
	AutoRenew bool   `json:"auto_renew"`
	// GiftedBy is who gifted the current period, if anyone.
	GiftedBy *outbox.User `json:"gifted_by,omitempty"`
	// Period is the number of the current period (1 for the first), and
	// Coins its price.
	Period      int       `json:"period"`
	Coins       int64     `json:"coins"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	// OpID is the ledger operation that paid the period, on
	// subscription.started and subscription.renewed.
	OpID string `json:"op_id,omitempty"`
	// CancelledBy, on subscription.cancelled, is fan or system.
	CancelledBy string `json:"cancelled_by,omitempty"`
	// EndReason and EndedAt are set once the subscription ended.
	EndReason string     `json:"end_reason,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// TierRef names a tier in an event.
type TierRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// started is the subscription.started event of subscription id, paid by
// the operation r: by the fan, or gifted by gifter (nil otherwise). Its id
// is the subscription's: a subscription starts once.
func started(r *ledger.Result, id string, fan, creator, gifter *fanfare.User, tier Tier, start, end time.Time) outbox.Event {
	d := &Event{ID: id, Fan: outbox.UserOf(fan), Creator: outbox.UserOf(creator), Tier: TierRef{ID: tier.ID, Name: tier.Name},
		State: Active, AutoRenew: gifter == nil, Period: 1, Coins: int64(tier.Price), PeriodStart: start.UTC(), PeriodEnd: end.UTC(),
		OpID: r.OpID, CreatedAt: start.UTC()}
	if gifter != nil {
		g := outbox.UserOf(gifter)
		d.GiftedBy = &g
	}
	return outbox.Event{ID: outbox.ID(outbox.SubscriptionStarted, id), Type: outbox.SubscriptionStarted, At: r.CreatedAt, Data: d}
}

// renewed is the subscription.renewed event of sub's period n, paid by
// the operation res. Its id is the subscription's and the period's: a
// period is paid once.
func renewed(res *ledger.Result, sub *Subscription, n int, tierID string, price fanfare.Amount, start, end, now time.Time) outbox.Event {
	tier := TierRef{ID: tierID, Name: sub.Tier}
	if tierID == sub.nextTierID {
		tier.Name = sub.NextTier
	}
	d := &Event{ID: sub.ID, Fan: outbox.User{ID: sub.FanID, Handle: sub.Fan, DisplayName: sub.fanName},
		Creator: outbox.User{ID: sub.CreatorID, Handle: sub.Creator, DisplayName: sub.creatorName},
		Tier:    tier, State: Active, AutoRenew: true, Period: n, Coins: int64(price), PeriodStart: start.UTC(), PeriodEnd: end.UTC(),
		OpID: res.OpID, CreatedAt: sub.CreatedAt}
	return outbox.Event{ID: outbox.ID(outbox.SubscriptionRenewed, sub.ID+"_"+strconv.Itoa(n)), Type: outbox.SubscriptionRenewed, At: now, Data: d}
}

// enqueue writes the event typ about subscription id, as tx reads it
// after the change, in tx. suffix tells apart the events of one type
// about one subscription (a fan may cancel, renew and cancel again).
func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, typ, id, suffix, by string, at time.Time) error {
	sub, err := s.load(ctx, tx, id)
	if err != nil {
		return err
	}
	d := &Event{ID: sub.ID, Fan: outbox.User{ID: sub.FanID, Handle: sub.Fan, DisplayName: sub.fanName},
		Creator: outbox.User{ID: sub.CreatorID, Handle: sub.Creator, DisplayName: sub.creatorName},
		Tier:    TierRef{ID: sub.TierID, Name: sub.Tier}, State: sub.State, AutoRenew: sub.AutoRenew, Period: sub.Periods,
		Coins: int64(sub.Price), PeriodStart: sub.PeriodStart, PeriodEnd: sub.PeriodEnd, CancelledBy: by,
		EndReason: sub.EndReason, EndedAt: sub.EndedAt, CreatedAt: sub.CreatedAt}
	if sub.GiftedBy != "" {
		var g outbox.User
		if err := tx.QueryRowContext(ctx, `SELECT u.id, u.handle, u.display_name FROM subscriptions s JOIN users u ON u.id = s.gifted_by
			WHERE s.id = $1`, id).Scan(&g.ID, &g.Handle, &g.DisplayName); err != nil {
			return err
		}
		d.GiftedBy = &g
	}
	return outbox.Enqueue(ctx, tx, outbox.Event{ID: outbox.ID(typ, id+suffix), Type: typ, At: at, Data: d})
}
