package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare/internal/store"
)

// Entry is one audit log row.
type Entry struct {
	ID        string          // unique; a UUIDv7, or the ledger operation id of a money action
	Actor     string          // fanfare.Actor.ID() of whoever acted
	Action    string          // what was done, e.g. "user.update", "wallet.grant"
	Object    string          // what it was done to, e.g. "user:<id>"
	Details   json.RawMessage // a JSON object
	CreatedAt time.Time
}

// Execer runs a statement: a *sql.Tx, or a *sql.DB outside a transaction.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Write inserts e through ex. Writing an entry whose ID is already logged
// does nothing, so a retried action is logged once.
func Write(ctx context.Context, ex Execer, e Entry) error {
	details := e.Details
	if len(details) == 0 {
		details = json.RawMessage("{}")
	}
	_, err := ex.ExecContext(ctx, `INSERT INTO audit_log (id, actor, action, object, details, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
		e.ID, e.Actor, e.Action, e.Object, string(details), e.CreatedAt.UTC().UnixMicro())
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// List returns the entries about object, oldest first.
func List(ctx context.Context, db *store.DB, object string) ([]Entry, error) {
	rs, err := db.Read.QueryContext(ctx, `SELECT id, actor, action, object, details, created_at
		FROM audit_log WHERE object = $1 ORDER BY created_at, id`, object)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	defer rs.Close()
	var out []Entry
	for rs.Next() {
		var e Entry
		var details string
		var at int64
		if err := rs.Scan(&e.ID, &e.Actor, &e.Action, &e.Object, &details, &at); err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		e.Details = json.RawMessage(details)
		e.CreatedAt = time.UnixMicro(at).UTC()
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return out, nil
}
