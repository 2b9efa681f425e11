// Package audit records operator actions: who changed what, when, and with
// which details. Feature packages write an Entry in the same database
// transaction as the change it describes, so the log and the data never
// disagree. A money action, which the ledger commits in its own batch, is
// logged right after under the ledger operation's id: a retry of the
// request writes the entry if it is missing and never twice.
//
// It imports internal/store only.
package audit
