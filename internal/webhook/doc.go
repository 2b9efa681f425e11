// Package webhook delivers the outbox's events to the host app's endpoints
// in the Standard Webhooks format (https://www.standardwebhooks.com): it
// keeps the endpoints (their URLs, the event types they want, their
// signing secrets), dispatches each event written to the outbox into one
// delivery per subscribed endpoint, sends each delivery signed and retries
// it on a schedule, and keeps a log of every attempt.
//
// The work is in the database, so that several servers on one PostgreSQL
// share it and a server killed mid-way loses nothing: the dispatcher takes
// outbox rows with FOR UPDATE SKIP LOCKED (SQLite has one writer), and a
// server leases the deliveries it sends (locked_until) so that another
// takes them over if it dies. Delivery is at least once: a receiver may see
// an event twice, always with the same webhook-id.
//
// Guard keeps endpoints off private and special addresses (SSRF), both
// when an endpoint is registered and when its connection is dialled.
//
// webhook may import the root package, internal/store, internal/outbox and
// internal/audit.
package webhook
