package payment

import "github.com/fanfarehq/fanfare"

// Charge asks a provider to take the payment of one purchase.
type Charge struct {
	PurchaseID string         // Fanfare's purchase id, the provider's reference to us
	Amount     fanfare.Amount // in minor units of Currency
	Currency   string         // ISO 4217
	Method     string         // provider-specific: a card number for the sandbox
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
}
