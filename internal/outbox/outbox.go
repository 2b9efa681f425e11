// Package outbox writes the events a change reports to the host app in the
// transaction of the change itself: an event exists if and only if its
// change committed and a webhook endpoint (not disabled) subscribed to its
// type then. internal/webhook reads the outbox and delivers each event to
// the endpoints subscribed to its type. With no endpoint, a change writes
// no event at all: a gift's event was a fifth of its cost.
//
// A change outside the ledger calls Enqueue with its *sql.Tx; a money
// operation returns Write from its ledger.Op.Writes (or calls Enqueue from
// its Effect), so the event commits with the money.
package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare/internal/ledger"
)

// The event types. docs/webhook-events.md describes each one's data.
const (
	PurchaseCompleted    = "purchase.completed"
	PurchaseRefunded     = "purchase.refunded"
	PurchaseChargedBack  = "purchase.charged_back"
	GiftSent             = "gift.sent"
	TipSent              = "tip.sent"
	ShoutoutRequested    = "shoutout.requested"
	ShoutoutAccepted     = "shoutout.accepted"
	ShoutoutDeclined     = "shoutout.declined"
	ShoutoutDelivered    = "shoutout.delivered"
	ShoutoutRefunded     = "shoutout.refunded"
	ShoutoutDisputed     = "shoutout.disputed"
	SubscriptionStarted  = "subscription.started"
	SubscriptionRenewed  = "subscription.renewed"
	SubscriptionLapsed   = "subscription.lapsed"
	SubscriptionCanceled = "subscription.cancelled"
	PayoutPaid           = "payout.paid"
	PayoutFailed         = "payout.failed"
	UserStandingChanged  = "user.standing_changed"
	LiveStarted          = "live.started"
	LiveEnded            = "live.ended"
)

// Types lists every event type, in the order the documentation gives them.
var Types = []string{
	PurchaseCompleted, PurchaseRefunded, PurchaseChargedBack,
	GiftSent, TipSent,
	ShoutoutRequested, ShoutoutAccepted, ShoutoutDeclined, ShoutoutDelivered, ShoutoutRefunded, ShoutoutDisputed,
	SubscriptionStarted, SubscriptionRenewed, SubscriptionLapsed, SubscriptionCanceled,
	PayoutPaid, PayoutFailed,
	UserStandingChanged,
	LiveStarted, LiveEnded,
}

// Known reports whether t is an event type.
func Known(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Event is one event to report.
type Event struct {
	// ID is the event's webhook-id: unique, and the same however often
	// the change that reports it is retried. Derive it from the change
	// (ID(type, key)), never from a fresh random value in code that may run
	// twice.
	ID   string
	Type string    // one of Types
	At   time.Time // when the change happened
	Data any       // the event's object, encoded as JSON
}

// ID returns the id of the event of type typ about key (an operation id, a
// shoutout id with its transition, ...): "msg_" and a readable suffix.
// Two changes that report the same type about the same key are the same
// event.
func ID(typ, key string) string { return "msg_" + key + "_" + typ }

// body is the payload delivered: the envelope Standard Webhooks
// recommends.
type body struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// Body returns the JSON delivered for e.
func (e Event) Body() ([]byte, error) {
	if e.ID == "" || !Known(e.Type) {
		return nil, fmt.Errorf("outbox: event %q of type %q: an event needs an id and a known type", e.ID, e.Type)
	}
	b, err := json.Marshal(body{Type: e.Type, Timestamp: e.At.UTC().Truncate(time.Microsecond), Data: e.Data})
	if err != nil {
		return nil, fmt.Errorf("outbox: encode %s: %w", e.Type, err)
	}
	return b, nil
}

// insert writes an event if a webhook endpoint that takes deliveries (any
// but a disabled one) subscribes to its type (events holds a JSON array of
// types, or ["*"]): an event nobody would receive is not written. The
// endpoints are read in the change's own transaction, so whether an event
// is written is decided with the change, at its commit on SQLite's one
// writer, at the statement on PostgreSQL. A type's quotes make the match
// exact but for LIKE's "_", which can only let a useless event through.
const insert = `INSERT INTO outbox (id, type, body, created_at) SELECT $1, $2, $3, $4
	WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE state <> 'disabled' AND (events LIKE '%"*"%' OR events LIKE '%"' || $2 || '"%'))
	ON CONFLICT (id) DO NOTHING`

// Execer runs a statement: a *sql.Tx.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Enqueue writes e through ex, in the transaction of the change it reports,
// if an endpoint subscribes to its type (see insert). Writing an event
// whose id is already there does nothing.
func Enqueue(ctx context.Context, ex Execer, e Event) error {
	b, err := e.Body()
	if err != nil {
		return err
	}
	if _, err := ex.ExecContext(ctx, insert, e.ID, e.Type, string(b), e.At.UTC().UnixMicro()); err != nil {
		return fmt.Errorf("outbox: enqueue %s: %w", e.Type, err)
	}
	return nil
}

// Write returns the statement that writes e, for a money operation's
// ledger.Op.Writes: the event commits with the operation. An event without
// an id, of an unknown type or whose data cannot be encoded is a
// programming error: Write panics on it (each feature's tests write each of
// its events).
func Write(e Event) ledger.Write {
	b, err := e.Body()
	if err != nil {
		panic(err)
	}
	return ledger.Write{SQL: insert, Args: []any{e.ID, e.Type, string(b), e.At.UTC().UnixMicro()}}
}
