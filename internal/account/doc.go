// Package account owns users, their passwords and their sessions: sign-up
// with its rules (handle, password, region, birth date), login and logout,
// token authentication, and the operator's changes to a user (followers,
// standing, region), each written to the audit log in the same transaction.
// It also owns what a host app needs: users it creates by its own id
// (Upsert, ByExternalID; no password), sessions it mints for them
// (MintSession), and the stored API keys (CreateKey, Keys, RevokeKey,
// AuthenticateKey): operator keys tied to a person and host keys limited
// to scopes, kept as hashes of secrets shown once.
//
// A user's COIN and DIAMOND ledger accounts are opened at sign-up. The
// package imports the fanfare root package, internal/store, internal/ledger
// and internal/audit.
package account
