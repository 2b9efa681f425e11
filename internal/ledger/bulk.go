package ledger

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fanfarehq/fanfare/internal/store"
)

// batchTx is the transaction of one batch, on a connection the committer
// holds for the length of the batch.
type batchTx struct {
	*sql.Tx
	conn *sql.Conn
	db   *store.DB
	// last, while set, collects the statements exec is given instead of
	// running them: the batch sends them in its last round trip.
	last *[]store.Stmt
}

// exec runs a statement of the batch, or keeps it for the last round trip
// (last).
func (tx *batchTx) exec(ctx context.Context, query string, args ...any) error {
	if tx.last != nil {
		*tx.last = append(*tx.last, store.Stmt{SQL: query, Args: args})
		return nil
	}
	_, err := tx.ExecContext(ctx, query, args...)
	return err
}

// stmtCache keeps the multi-row INSERT statements of the SQLite write
// connection prepared from batch to batch. Parsing a statement of a thousand
// placeholders costs more than running it, and database/sql cannot keep a
// statement across transactions on a one-connection pool, so the cache holds
// driver statements of the driver connection they were prepared on and
// starts over if that connection is ever replaced.
type stmtCache struct {
	conn  driver.Conn
	stmts map[string]driver.Stmt
}

func (c *stmtCache) get(dc driver.Conn, ctx context.Context, query string) (driver.Stmt, error) {
	if c.conn != dc {
		c.conn, c.stmts = dc, map[string]driver.Stmt{} // the old statements died with their connection
	}
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	p, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, errors.New("driver cannot prepare with a context")
	}
	st, err := p.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

func (c *stmtCache) close(db *store.DB) error {
	if len(c.stmts) == 0 {
		return nil
	}
	conn, err := db.Write.Conn(context.Background())
	if err != nil {
		return nil // the database is closed: so are its statements
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		if dc == c.conn {
			for _, st := range c.stmts {
				st.Close()
			}
		}
		c.stmts = nil
		return nil
	})
}

// bulkSQL returns prefix followed by n groups of cols placeholders and
// suffix.
func bulkSQL(prefix string, cols, n int, suffix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	group := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(group)
	}
	b.WriteString(suffix)
	return b.String()
}

// bulkExec runs a multi-row statement of n rows on the batch's connection,
// inside its transaction, prepared once in c.
func (c *stmtCache) bulkExec(ctx context.Context, tx *batchTx, prefix string, cols, n int, suffix string, args []driver.NamedValue) error {
	q := bulkSQL(prefix, cols, n, suffix)
	return tx.conn.Raw(func(dc any) error {
		st, err := c.get(dc.(driver.Conn), ctx, q)
		if err != nil {
			return err
		}
		_, err = st.(driver.StmtExecContext).ExecContext(ctx, args)
		return err
	})
}

// bulkQuery is bulkExec for a statement that returns rows, passed to fn one
// by one.
func (c *stmtCache) bulkQuery(ctx context.Context, tx *batchTx, prefix string, cols, n int, suffix string, args []driver.NamedValue, fn func([]driver.Value)) error {
	q := bulkSQL(prefix, cols, n, suffix)
	return tx.conn.Raw(func(dc any) error {
		st, err := c.get(dc.(driver.Conn), ctx, q)
		if err != nil {
			return err
		}
		rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
		if err != nil {
			return err
		}
		defer rows.Close()
		row := make([]driver.Value, len(rows.Columns()))
		for {
			if err := rows.Next(row); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			fn(row)
		}
	})
}

func appendArgs(args []driver.NamedValue, vs ...any) []driver.NamedValue {
	for _, v := range vs {
		args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
	}
	return args
}

func asString(v driver.Value) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return fmt.Sprint(v)
}
