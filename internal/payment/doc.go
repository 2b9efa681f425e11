// Package payment holds the payment providers that sell coin packs: the
// sandbox, instant and deterministic with Stripe's test card numbers, and
// (later) Stripe. It describes a charge and its outcome; the wallet package
// declares the Provider interface it consumes and decides what an outcome
// does to a purchase and to the ledger.
//
// It imports only the fanfare root package, so that one package per outside
// payment service can live here without the features knowing which.
package payment
