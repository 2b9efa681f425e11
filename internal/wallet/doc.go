// Package wallet owns what a user holds and how coins reach them: the wallet
// view (coins, diamonds, frozen) and the operator's promotional grants. It
// grows with purchases, refunds and spending limits.
//
// Every balance change goes through the ledger. The package imports the
// fanfare root package, internal/store, internal/ledger and internal/audit;
// it finds users through the Users interface rather than importing the
// account package.
package wallet
