package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
)

// Entry is one audit log row.
type Entry struct {
	// Seq numbers the entries 1, 2, 3, ... in the order they were
	// appended; Write assigns it.
	Seq       int64
	ID        string // unique; a UUIDv7, or the ledger operation id of a money action
	Actor     string // fanfare.Actor.ID() of whoever acted
	ActorName string // the actor's handle when known; Write finds it when left empty
	Action    string // what was done, e.g. "user.update", "wallet.grant"
	Object    string // what it was done to, e.g. "user:<id>"
	// Details say what else the action carried (a reason, a note, an
	// idempotency key): a JSON object, {} when none.
	Details json.RawMessage
	// Before and After are the state of what the action changed, before
	// and after it (JSON; null when there is none: a creation has no
	// Before). An update records the fields it changed.
	Before, After json.RawMessage
	// RequestID is the X-Request-Id of the request that made the change;
	// Write takes it from the context when left empty ("" outside a
	// request).
	RequestID string
	CreatedAt time.Time
	// Hash is the entry's link in the chain: the hex SHA-256 of the
	// previous entry's hash and the entry's own fields (see Chain). Write
	// computes it.
	Hash string
}

// Execer runs statements: a *sql.Tx, or a *sql.DB, in which case Write
// runs in a transaction of its own.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Write appends e to the log through ex, in ex's transaction: it takes the
// chain's head (locking it until that transaction ends, so concurrent
// writers never fork the chain), numbers e and links it. Writing an entry
// whose ID is already logged does nothing, so a retried action is logged
// once. The request id and the actor's name come from ctx when e leaves
// them empty.
//
// Nothing in Fanfare updates or deletes an entry, and the database refuses
// it (triggers).
func Write(ctx context.Context, ex Execer, e Entry) error {
	if db, ok := ex.(*sql.DB); ok {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("write audit entry: %w", err)
		}
		defer tx.Rollback()
		if err := write(ctx, tx, e); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("write audit entry: %w", err)
		}
		return nil
	}
	return write(ctx, ex, e)
}

func write(ctx context.Context, ex Execer, e Entry) error {
	e.Details = orJSON(e.Details, "{}")
	e.Before = orJSON(e.Before, "null")
	e.After = orJSON(e.After, "null")
	for name, v := range map[string]json.RawMessage{"details": e.Details, "before": e.Before, "after": e.After} {
		if !json.Valid(v) {
			return fmt.Errorf("write audit entry %s: %s is not JSON", e.Action, name)
		}
	}
	if e.RequestID == "" {
		e.RequestID = fanfare.RequestIDFromContext(ctx)
	}
	if e.ActorName == "" {
		e.ActorName = actorName(ctx, ex, e.Actor)
	}
	e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Microsecond)

	// Taking the head: a no-op update locks its row until the transaction
	// ends (SQLite's write transaction already holds the only write lock).
	var prev string
	if err := ex.QueryRowContext(ctx, `UPDATE audit_chain SET seq = seq WHERE id = 'head' RETURNING seq, hash`).Scan(&e.Seq, &prev); err != nil {
		return fmt.Errorf("write audit entry: chain head: %w", err)
	}
	e.Seq++
	e.Hash = Chain(prev, e)
	res, err := ex.ExecContext(ctx, `INSERT INTO audit_log (id, seq, actor, actor_name, action, object, details,
		state_before, state_after, request_id, created_at, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING`,
		e.ID, e.Seq, e.Actor, e.ActorName, e.Action, e.Object, string(e.Details),
		string(e.Before), string(e.After), e.RequestID, e.CreatedAt.UnixMicro(), e.Hash)
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	} else if n == 0 {
		return nil // logged before: the head stays
	}
	if _, err := ex.ExecContext(ctx, `UPDATE audit_chain SET seq = $1, hash = $2 WHERE id = 'head'`, e.Seq, e.Hash); err != nil {
		return fmt.Errorf("write audit entry: chain head: %w", err)
	}
	return nil
}

// actorName returns the readable name of actor: the handle of the actor in
// ctx when it is the one, else the user's handle, else "" (the API key's
// id, apikey:..., reads as it is).
func actorName(ctx context.Context, ex Execer, actor string) string {
	if a, ok := fanfare.ActorFromContext(ctx); ok && a.ID() == actor && a.Handle != "" {
		return a.Handle
	}
	if actor == "" || strings.HasPrefix(actor, "apikey:") {
		return ""
	}
	var handle string
	if err := ex.QueryRowContext(ctx, `SELECT handle FROM users WHERE id = $1`, actor).Scan(&handle); err != nil {
		return ""
	}
	return handle
}

func orJSON(v json.RawMessage, empty string) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage(empty)
	}
	return v
}

// Chain returns e's hash in the chain after the entry whose hash is prev
// ("" for the first): the hex SHA-256 of prev followed by e's fields, each
// written as <byte length>:<bytes>, in this order: seq, id, created_at
// (Unix microseconds), actor, actor_name, action, object, details, before,
// after, request_id. Migration 00023 computes the same in SQL.
func Chain(prev string, e Entry) string {
	h := sha256.New()
	h.Write([]byte(prev))
	for _, f := range []string{
		strconv.FormatInt(e.Seq, 10), e.ID, strconv.FormatInt(e.CreatedAt.UnixMicro(), 10),
		e.Actor, e.ActorName, e.Action, e.Object, string(orJSON(e.Details, "{}")),
		string(orJSON(e.Before, "null")), string(orJSON(e.After, "null")), e.RequestID,
	} {
		h.Write([]byte(strconv.Itoa(len(f)) + ":" + f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Change is what an update changed, for an entry's Before and After: the
// fields that changed, each with its value before and after.
type Change struct {
	before, after map[string]any
}

// Set records that field went from before to after.
func (c *Change) Set(field string, before, after any) {
	if c.before == nil {
		c.before, c.after = map[string]any{}, map[string]any{}
	}
	c.before[field], c.after[field] = before, after
}

// JSON returns the entry's Before and After: {"field": value, ...} each.
func (c *Change) JSON() (before, after json.RawMessage, err error) {
	if before, err = json.Marshal(c.before); err != nil {
		return nil, nil, err
	}
	if after, err = json.Marshal(c.after); err != nil {
		return nil, nil, err
	}
	return before, after, nil
}

// Marshal returns v as JSON, for an entry's Before or After; nil stays
// null.
func Marshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

const columns = `seq, id, actor, actor_name, action, object, details, state_before, state_after, request_id, created_at, hash`

type scanner interface{ Scan(dest ...any) error }

func scan(sc scanner) (Entry, error) {
	var e Entry
	var seq sql.NullInt64
	var details, before, after string
	var at int64
	if err := sc.Scan(&seq, &e.ID, &e.Actor, &e.ActorName, &e.Action, &e.Object, &details, &before, &after,
		&e.RequestID, &at, &e.Hash); err != nil {
		return Entry{}, err
	}
	e.Seq = seq.Int64
	e.Details, e.Before, e.After = json.RawMessage(details), json.RawMessage(before), json.RawMessage(after)
	e.CreatedAt = time.UnixMicro(at).UTC()
	return e, nil
}

// List returns the entries about object, oldest first.
func List(ctx context.Context, db *store.DB, object string) ([]Entry, error) {
	rs, err := db.Read.QueryContext(ctx, `SELECT `+columns+`
		FROM audit_log WHERE object = $1 ORDER BY created_at, seq, id`, object)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	defer rs.Close()
	var out []Entry
	for rs.Next() {
		e, err := scan(rs)
		if err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return out, nil
}
