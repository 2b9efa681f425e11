package audit

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/paging"
	"github.com/fanfarehq/fanfare/internal/store"
)

// Page sizes of Find.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Filter selects entries. Empty fields select everything.
type Filter struct {
	Actor  string // exactly this actor id
	Action string // exactly this action, or every action it begins when it ends with "." (user.)
	Object string // exactly this object (user:<id>)
	Cursor string // where the previous page ended ("" for the first)
	Limit  int    // at most this many; 0 is DefaultLimit
}

// Page is one page of entries, newest first, and the cursor of the next
// ("" on the last).
type Page struct {
	Entries []Entry
	Next    string
}

// maxFilter bounds each filter's length.
const maxFilter = 200

// Check validates f and returns it with its limit settled.
//
// Codes: validation_failed (a limit out of 1..MaxLimit, a filter too long or
// not text, a cursor this log did not make).
func (f Filter) Check() (Filter, error) {
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	if f.Limit < 1 || f.Limit > MaxLimit {
		return f, fanfare.Errorf(fanfare.EInvalid, "limit must be between 1 and %d", MaxLimit)
	}
	for name, v := range map[string]string{"actor": f.Actor, "action": f.Action, "object": f.Object} {
		if len(v) > maxFilter || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd }) {
			return f, fanfare.Errorf(fanfare.EInvalid, "%s must be at most %d characters of text", name, maxFilter)
		}
	}
	if _, _, err := paging.Decode(f.Cursor); err != nil {
		return f, err
	}
	return f, nil
}

// Find returns a page of the entries f selects, newest first.
//
// Codes: validation_failed (see Filter.Check).
func Find(ctx context.Context, db *store.DB, f Filter) (*Page, error) {
	f, err := f.Check()
	if err != nil {
		return nil, err
	}
	where, args := f.where()
	if f.Cursor != "" {
		seq, _, _ := paging.Decode(f.Cursor)
		args = append(args, seq)
		where = append(where, "seq < $"+strconv.Itoa(len(args)))
	}
	args = append(args, f.Limit+1)
	rs, err := db.Read.QueryContext(ctx, `SELECT `+columns+` FROM audit_log WHERE `+strings.Join(where, " AND ")+
		` ORDER BY seq DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("find audit entries: %w", err)
	}
	defer rs.Close()
	p := &Page{Entries: []Entry{}}
	for rs.Next() {
		e, err := scan(rs)
		if err != nil {
			return nil, fmt.Errorf("find audit entries: %w", err)
		}
		p.Entries = append(p.Entries, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("find audit entries: %w", err)
	}
	if len(p.Entries) > f.Limit {
		p.Entries = p.Entries[:f.Limit]
		last := p.Entries[len(p.Entries)-1]
		p.Next = paging.Encode(last.Seq, last.ID)
	}
	return p, nil
}

// Each calls fn with every entry f selects (its cursor and limit aside),
// newest first, reading them a page at a time; it stops at fn's first
// error.
//
// Codes: validation_failed (see Filter.Check).
func Each(ctx context.Context, db *store.DB, f Filter, fn func(Entry) error) error {
	f.Cursor, f.Limit = "", MaxLimit
	for {
		p, err := Find(ctx, db, f)
		if err != nil {
			return err
		}
		for _, e := range p.Entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		if p.Next == "" {
			return nil
		}
		f.Cursor = p.Next
	}
}

// where returns f's conditions (only chained entries: seq is set) and
// their arguments.
func (f Filter) where() ([]string, []any) {
	where := []string{"seq IS NOT NULL"}
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Object != "" {
		add("object = ?", f.Object)
	}
	switch {
	case strings.HasSuffix(f.Action, "."):
		add("substr(action, 1, "+strconv.Itoa(len(f.Action))+") = ?", f.Action)
	case f.Action != "":
		add("action = ?", f.Action)
	}
	return where, args
}

// Log reads the audit log of one database, for the pages that show it.
type Log struct{ db *store.DB }

// NewLog returns the log of db.
func NewLog(db *store.DB) *Log { return &Log{db: db} }

// Find returns a page of the entries f selects, newest first (see Find).
func (l *Log) Find(ctx context.Context, f Filter) (*Page, error) { return Find(ctx, l.db, f) }
