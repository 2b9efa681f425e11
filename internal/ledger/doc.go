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
// commits. A debit may take a user balance below zero only in a clawback
// (IsClawback: chargeback, refund, shoutout_refund); Submit refuses Leg.AllowNegative on any
// other kind, and Verify reports such a transfer whatever its flag says.
//
// An answer is given only once its batch is durable: on SQLite after the
// fsync of the WAL that follows the batch's commit, on PostgreSQL after
// COMMIT returns. Options.OnSync reports each such sync.
//
// Payouts are three kinds of operation (KindPayout, KindPayoutPaid,
// KindPayoutFailed) on the system accounts PayoutsPending, PayoutsPaid,
// FiatPayable(currency) and FiatPaid(currency): the fiat legs make the money
// owed to creators part of the ledger, so that verify balances it too.
//
// The files:
//   - ledger.go: the vocabulary (Op, Leg, HoldOp, Result, Options), accounts,
//     Submit's checks before the committer, idempotency look-ups;
//   - committer.go: the batching loop: takes operations in, forms batches,
//     runs a batch again when it must, makes it durable (the SQLite sync
//     loop) and answers;
//   - batch.go: one batch's transaction as named steps: load and lock,
//     find replays, apply every operation (its Writes sent in groups, its
//     Effect in a savepoint), write in bulk, commit;
//   - rules.go: the money rules, a pure function (apply) from the batch's
//     accounts and holds and one operation to its transfer rows or its
//     business failure;
//   - writer.go, writer_sqlite.go, writer_postgres.go: the one interface
//     behind which the two SQL dialects differ in a batch (connection,
//     locking reads, bulk writes), and its two implementations;
//   - bulk.go: SQLite's multi-row statements, kept prepared across batches;
//   - verify.go: Verify, from the transfers alone;
//   - history.go: the movements of an account;
//   - credits.go: an account's recent credits of one object prefix (a
//     LIVE's gifts to its creator).
//
// It imports the fanfare root package and internal/store only.
package ledger
