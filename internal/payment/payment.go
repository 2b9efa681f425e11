package payment

import (
	"time"

	"github.com/fanfarehq/fanfare"
)

// Charge asks a provider to take the payment of one purchase.
type Charge struct {
	PurchaseID string         // Fanfare's purchase id, the provider's reference to us
	Amount     fanfare.Amount // in minor units of Currency
	Currency   string         // ISO 4217
	Method     string         // provider-specific: a card number for the sandbox
	// Coins is what the buyer gets, for the line a hosted checkout page
	// shows ("7,000 coins").
	Coins fanfare.Amount
}

// Status is where a charge stands once the provider answered.
type Status string

// Charge statuses.
const (
	// Paid: the money is taken; the coins are due now.
	Paid Status = "paid"
	// Declined: the payment was refused; nothing is due.
	Declined Status = "declined"
	// Pending: the buyer still has to act (a hosted checkout page); the
	// provider reports the end later.
	Pending Status = "pending"
)

// Outcome is a provider's answer to a Charge.
type Outcome struct {
	Status Status
	// Ref is the provider's id of the payment (charge, checkout session).
	Ref string
	// Reason says why a charge was declined, in words safe to show.
	Reason string
	// ChargebackExpected marks a payment the provider will dispute later
	// (the sandbox's chargeback test card).
	ChargebackExpected bool
	// CheckoutURL is the page where the buyer pays a Pending charge (a
	// Stripe Checkout Session); empty otherwise.
	CheckoutURL string
}

// EventType is what a provider's event says about a payment, whatever the
// provider's own name for it.
type EventType string

// Event types.
const (
	// EventCompleted: the buyer paid a checkout; the coins are due.
	EventCompleted EventType = "completed"
	// EventRefunded: the payment was refunded (in full when Event.Refunded).
	EventRefunded EventType = "refunded"
	// EventDisputeOpened: the buyer's bank disputes the payment; the
	// money is withdrawn from the merchant meanwhile.
	EventDisputeOpened EventType = "dispute_opened"
	// EventDisputeClosed: a dispute ended, as Event.DisputeStatus says.
	EventDisputeClosed EventType = "dispute_closed"
	// EventIgnored: an event Fanfare has no use for.
	EventIgnored EventType = "ignored"
)

// Dispute statuses of a closed dispute that leave the money with the
// merchant: the dispute was won, or an inquiry closed without becoming a
// chargeback.
const (
	DisputeWon           = "won"
	DisputeWarningClosed = "warning_closed"
)

// Event is a provider's notification about a payment, signature checked,
// in provider-neutral terms. Which fields are set depends on Type.
type Event struct {
	ID           string    // the provider's event id, unique per provider
	Type         EventType //
	ProviderType string    // the provider's name of the event, e.g. checkout.session.completed
	Created      time.Time // when the provider created the event
	// Session is the checkout session (EventCompleted).
	Session string
	// PaymentRef is the provider's payment (a Stripe PaymentIntent): the
	// completion reveals it, refunds and disputes name it.
	PaymentRef string
	// PurchaseID is Fanfare's purchase id when the event carries it
	// (client_reference_id or metadata).
	PurchaseID string
	// Amount and Currency are the money the event is about, in minor
	// units and ISO 4217 (upper case): paid, refunded or disputed.
	Amount   fanfare.Amount
	Currency string
	// DisputeID and DisputeStatus describe the dispute of a dispute event.
	DisputeID     string
	DisputeStatus string
	// Refunded is set on EventRefunded when the payment is refunded in
	// full; a partial refund leaves it false.
	Refunded bool
	// ChargeID is the provider's charge of a refund or dispute.
	ChargeID string
}

// MerchantWon reports whether a closed dispute's status leaves the money
// with the merchant: the dispute was won, or an inquiry closed without
// becoming a chargeback. Lost (and prevented, which refunds the buyer)
// disputes do not.
func MerchantWon(disputeStatus string) bool {
	return disputeStatus == DisputeWon || disputeStatus == DisputeWarningClosed
}

// RefundRequest asks a provider to give a buyer back the money of a paid
// purchase, in full.
type RefundRequest struct {
	PurchaseID string
	// PaymentRef is the provider's payment (Stripe: the payment intent).
	PaymentRef string
	Amount     fanfare.Amount // minor units of Currency
	Currency   string
}

// RefundIdempotencyKey is the provider idempotency key of a purchase's
// refund: asking twice for the same purchase refunds once.
func RefundIdempotencyKey(purchaseID string) string { return "fanfare-refund-" + purchaseID }
