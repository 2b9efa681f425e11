package shoutout

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare/internal/outbox"
)

// Event is the data of the shoutout.* events: the request as the change
// left it. The recipient's name and the fan's instructions are not in it:
// they are the fan's words to the creator, read through the API.
type Event struct {
	ID      string      `json:"id"`
	Fan     outbox.User `json:"fan"`
	Creator outbox.User `json:"creator"`
	// State is the request's state after the change.
	State State `json:"state"`
	// Reason, on shoutout.refunded, says why the coins went back:
	// declined, cancelled, expired, rejected, creator_standing or
	// dispute.
	Reason   string   `json:"reason,omitempty"`
	Coins    int64    `json:"coins"`    // the price, held from the fan's wallet
	Diamonds int64    `json:"diamonds"` // the creator's share on delivery
	Occasion Occasion `json:"occasion"`
	Public   bool     `json:"public"`
	// DisputeReason is the fan's report, on shoutout.disputed.
	DisputeReason string     `json:"dispute_reason,omitempty"`
	AcceptBy      time.Time  `json:"accept_by"`
	DeliverBy     *time.Time `json:"deliver_by,omitempty"`
	DisputeBy     *time.Time `json:"dispute_by,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// refundReason says why request r, refunded, gave the coins back.
func refundReason(r *Request) string {
	switch {
	case r.State == Refunded:
		return "dispute"
	case r.State == Cancelled && r.Resolution == "creator_standing":
		return "creator_standing"
	}
	return string(r.State)
}

// enqueue writes the event typ about request id, as tx now reads it, in
// tx, at at. A request goes through each of its transitions once, so the
// event's id is the request's: a transition retried in a new batch
// writes the same event, once.
func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, typ, id string, at time.Time) error {
	r, err := s.load(ctx, tx, id)
	if err != nil {
		return err
	}
	d := &Event{ID: r.ID, Fan: outbox.User{ID: r.FanID, Handle: r.Fan}, Creator: outbox.User{ID: r.CreatorID, Handle: r.Creator},
		State: r.State, Coins: int64(r.Price), Diamonds: int64(r.Diamonds), Occasion: r.Occasion, Public: r.Public,
		DisputeReason: r.DisputeReason, AcceptBy: r.AcceptBy, DeliverBy: r.DeliverBy, DisputeBy: r.DisputeBy,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if typ == outbox.ShoutoutRefunded {
		d.Reason = refundReason(r)
	}
	if err := tx.QueryRowContext(ctx, `SELECT f.display_name, c.display_name FROM users f, users c WHERE f.id = $1 AND c.id = $2`,
		r.FanID, r.CreatorID).Scan(&d.Fan.DisplayName, &d.Creator.DisplayName); err != nil {
		return fmt.Errorf("%s event: %w", typ, err)
	}
	return outbox.Enqueue(ctx, tx, outbox.Event{ID: outbox.ID(typ, r.ID), Type: typ, At: at, Data: d})
}

// enqueueRefund writes the shoutout.refunded event of request id, and
// before it shoutout.declined when the creator declined it: a host hears
// both that the creator said no and that the coins went back.
func (s *Service) enqueueRefund(ctx context.Context, tx *sql.Tx, id string, at time.Time) error {
	var state State
	if err := tx.QueryRowContext(ctx, `SELECT state FROM shoutout_requests WHERE id = $1`, id).Scan(&state); err != nil {
		return fmt.Errorf("refund event: %w", err)
	}
	if state == Declined {
		if err := s.enqueue(ctx, tx, outbox.ShoutoutDeclined, id, at); err != nil {
			return err
		}
	}
	return s.enqueue(ctx, tx, outbox.ShoutoutRefunded, id, at)
}
