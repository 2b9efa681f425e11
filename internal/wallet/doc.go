// Package wallet owns what a user holds and how coins reach them: the wallet
// view (coins, diamonds, frozen), the coin pack catalog, purchases through a
// payment provider, the provider's events (completions, refunds and
// disputes, each applied exactly once whatever their order), the
// operator's promotional grants, the transaction history and a LIVE's last
// gifts as their transfers record them (LiveGifts). It grows with refunds,
// chargebacks and spending limits.
//
// Every balance change goes through the ledger. The package imports the
// fanfare root package, internal/store, internal/ledger, internal/audit and
// internal/payment (for the types of a charge); it finds users through the
// Users interface rather than importing the account package, and takes
// payments through the Provider interface.
package wallet
