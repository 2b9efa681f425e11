package audit

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/fanfarehq/fanfare/internal/store"
)

// Report is what Verify found.
type Report struct {
	Entries int64 // entries checked, in chain order
	// Problem says where the chain breaks, "" when it holds.
	Problem string
	// BrokenAt is the seq of the first entry that does not hold (0 when
	// the chain holds, or when the break is not at one entry: an entry
	// outside the chain, a head that does not match).
	BrokenAt int64
}

// OK reports whether the chain holds.
func (r Report) OK() bool { return r.Problem == "" }

// String is verify's line: "audit: N entries, chain ok" or where it breaks.
func (r Report) String() string {
	if r.OK() {
		return fmt.Sprintf("audit: %d entries, chain ok", r.Entries)
	}
	return fmt.Sprintf("audit: %d entries checked, chain broken: %s", r.Entries, r.Problem)
}

// Verify walks the whole log in chain order, in one consistent snapshot,
// and checks that the entries are numbered 1, 2, 3, ... without a gap,
// that each one's hash links it to the one before (an entry changed,
// removed or reordered breaks it), that every entry is in the chain, and
// that the chain's head is the last entry (a removed tail shows). It
// returns at the first break.
func Verify(ctx context.Context, db *store.DB) (Report, error) {
	var r Report
	opts := &sql.TxOptions{ReadOnly: true}
	if db.Dialect == store.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.Read.BeginTx(ctx, opts)
	if err != nil {
		return r, fmt.Errorf("verify audit log: %w", err)
	}
	defer tx.Rollback()

	var outside int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE seq IS NULL`).Scan(&outside); err != nil {
		return r, fmt.Errorf("verify audit log: %w", err)
	}
	var headSeq int64
	var headHash string
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_chain WHERE id = 'head'`).Scan(&headSeq, &headHash); err != nil {
		if err == sql.ErrNoRows {
			r.Problem = "the chain's head (audit_chain) is missing"
			return r, nil
		}
		return r, fmt.Errorf("verify audit log: %w", err)
	}

	rs, err := tx.QueryContext(ctx, `SELECT `+columns+` FROM audit_log WHERE seq IS NOT NULL ORDER BY seq`)
	if err != nil {
		return r, fmt.Errorf("verify audit log: %w", err)
	}
	defer rs.Close()
	prev := ""
	for rs.Next() {
		e, err := scan(rs)
		if err != nil {
			return r, fmt.Errorf("verify audit log: %w", err)
		}
		want := r.Entries + 1
		switch {
		case e.Seq != want:
			r.Problem, r.BrokenAt = fmt.Sprintf("entry %d is missing (the next is %d, id %s)", want, e.Seq, e.ID), want
		case Chain(prev, e) != e.Hash:
			r.Problem, r.BrokenAt = fmt.Sprintf("entry %d (id %s) does not match its hash: it or the chain before it was changed", e.Seq, e.ID), e.Seq
		}
		if r.Problem != "" {
			return r, nil
		}
		r.Entries, prev = e.Seq, e.Hash
	}
	if err := rs.Err(); err != nil {
		return r, fmt.Errorf("verify audit log: %w", err)
	}
	switch {
	case headSeq != r.Entries || headHash != prev:
		r.Problem = fmt.Sprintf("the chain's head says %d entries but the log holds %d: entries were removed or added outside the log", headSeq, r.Entries)
	case outside > 0:
		r.Problem = fmt.Sprintf("%d entries are outside the chain (written without a seq)", outside)
	}
	return r, nil
}
