// Package audit records operator actions: who changed what, when, with
// which details, the state before and after, and the request that did it. Feature packages write an Entry in the same database
// transaction as the change it describes, so the log and the data never
// disagree. A money action, which the ledger commits in its own batch, is
// logged right after under the ledger operation's id: a retry of the
// request writes the entry if it is missing and never twice.
//
// The log is append-only: nothing updates or deletes an entry, and the
// database refuses it (triggers, migration 00023). Entries form a hash
// chain in the order they were appended (seq): Write links each one to the
// one before under a lock on the chain's head, and Verify walks the chain
// (fanfare verify runs it). Find and Each read it back, newest first,
// filtered by actor, action and object.
//
// It imports the root package, internal/store and internal/paging.
package audit
