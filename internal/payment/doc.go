// Package payment holds the payment providers that sell coin packs: the
// sandbox, instant and deterministic with Stripe's test card numbers, and
// Stripe, through Checkout Sessions and signed webhook events. It describes
// a charge, its outcome and a provider's events in provider-neutral terms;
// the wallet package declares the interfaces it consumes and decides what
// an outcome or an event does to a purchase and to the ledger.
//
// It imports only the fanfare root package and the providers' own client
// libraries (stripe-go), so that the features never know which provider
// took a payment.
package payment
