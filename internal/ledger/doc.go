// Package ledger is Fanfare's double-entry ledger: accounts per (owner, asset),
// multi-leg operations committed atomically, holds (pending transfers) that
// are posted or voided exactly once, idempotency records, the batching
// committer that groups concurrent operations into one database transaction,
// and Verify, which recomputes every balance from the transfers.
//
// Nothing else in Fanfare changes a balance. Features describe what should
// move (an Op) and the ledger decides, in the committer, whether each Op can
// commit: debits are checked one operation at a time against the balances of
// the batch, so one failing request fails alone while the rest of its batch
// commits.
//
// It imports the fanfare root package and internal/store only.
package ledger
