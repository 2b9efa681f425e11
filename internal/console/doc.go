// Package console holds what the operator's console (/ops) reads and runs
// beyond the features' own services: the headline figures per day, read
// from the ledger's daily totals (platform_days) and the purchases; the
// ledger's verification run in the background with its progress; and the
// background jobs by state and kind, with retry and cancel.
//
// console may import the root package, store, ledger, jobs and payout
// (for its check of the payouts against the ledger); internal/web shows
// it and internal/app builds it.
package console
