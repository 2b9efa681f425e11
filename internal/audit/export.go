package audit

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/fanfarehq/fanfare/internal/store"
)

// CSVHeader is the header row of Export.
var CSVHeader = []string{"seq", "id", "created_at", "actor", "actor_name", "action", "object", "request_id",
	"details", "before", "after", "hash"}

// Export writes every entry f selects (its cursor and limit aside) to w as
// CSV (RFC 4180): the header row, then one row per entry, newest first,
// read page by page so that memory stays flat. A cell that a spreadsheet
// would read as a formula (beginning with =, +, -, @, a tab or a carriage
// return) is written with a leading single quote.
//
// Codes: validation_failed (see Filter.Check), before anything is written.
func Export(ctx context.Context, db *store.DB, f Filter, w io.Writer) error {
	if _, err := f.Check(); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	row := make([]string, 0, len(CSVHeader))
	n := 0
	err := Each(ctx, db, f, func(e Entry) error {
		row = append(row[:0], strconv.FormatInt(e.Seq, 10), e.ID, e.CreatedAt.Format(time.RFC3339Nano), e.Actor, e.ActorName,
			e.Action, e.Object, e.RequestID, string(e.Details), string(e.Before), string(e.After), e.Hash)
		for i := range row {
			row[i] = SafeCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
		if n++; n%MaxLimit == 0 {
			cw.Flush()
			return cw.Error()
		}
		return nil
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// SafeCell defuses a cell that a spreadsheet would run as a formula
// (OWASP's advice on CSV injection): text beginning with =, +, -, @, a
// tab or a carriage return gets a leading single quote. Integers are
// written as they are.
func SafeCell(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return v
		}
		return "'" + v
	}
	return v
}
