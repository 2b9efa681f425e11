package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Statement is the SQL that Enqueue and Write run, with the arguments (id,
// type, body, created_at): a hot path prepares it once (store.PrepareWrite).
func Statement() string { return insert }

// Row is an event as the outbox holds it.
type Row struct {
	ID        string
	Type      string
	Body      string // the JSON delivered: {"type", "timestamp", "data"}
	CreatedAt time.Time
	// DispatchedAt is when the event was given to its endpoints (zero:
	// not yet).
	DispatchedAt time.Time
}

// Data decodes the row's data object into v.
func (r Row) Data(v any) error {
	var b struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil {
		return fmt.Errorf("outbox: decode %s: %w", r.ID, err)
	}
	if err := json.Unmarshal(b.Data, v); err != nil {
		return fmt.Errorf("outbox: decode the data of %s: %w", r.ID, err)
	}
	return nil
}

// Querier runs a query: a *sql.DB or a *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// List returns the events of the outbox in the order they were written,
// only those of the given types when types are given. It reads the whole
// table: it is for tests and small consoles, not for dispatch.
func List(ctx context.Context, q Querier, types ...string) ([]Row, error) {
	query := `SELECT id, type, body, created_at, dispatched_at FROM outbox`
	args := make([]any, len(types))
	if len(types) > 0 {
		ph := make([]string, len(types))
		for i, t := range types {
			ph[i] = fmt.Sprintf("$%d", i+1)
			args[i] = t
		}
		query += ` WHERE type IN (` + strings.Join(ph, ", ") + `)`
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: list: %w", err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var r Row
		var created int64
		var dispatched sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Type, &r.Body, &created, &dispatched); err != nil {
			return nil, fmt.Errorf("outbox: list: %w", err)
		}
		r.CreatedAt = time.UnixMicro(created).UTC()
		if dispatched.Valid {
			r.DispatchedAt = time.UnixMicro(dispatched.Int64).UTC()
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: list: %w", err)
	}
	return out, nil
}
