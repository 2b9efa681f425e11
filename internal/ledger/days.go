package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare"
)

// DayTotal is what a user's diamond account received (Credited) and gave
// back (Debited) through operations of one kind on one UTC day.
type DayTotal struct {
	Day      time.Time // midnight UTC
	Kind     string
	Credited fanfare.Amount
	Debited  fanfare.Amount
	// LastCredit is when the last of the day's credits of that kind was
	// made; zero if none.
	LastCredit time.Time
}

// Days returns the daily totals of user account id (a diamond account:
// other accounts have none) from the day of from to the day of to, both
// included, by day then kind. They are kept by the committer in each
// batch's transaction and checked by Verify against the transfers, so they
// are the transfers' sums, read in one row per day and kind.
func (l *Ledger) Days(ctx context.Context, id AccountID, from, to time.Time) ([]DayTotal, error) {
	rs, err := l.db.Read.QueryContext(ctx, `SELECT day, kind, credited, debited, last_credit_at FROM account_days
		WHERE account_id = $1 AND day >= $2 AND day <= $3 ORDER BY day, kind`, int64(id), DayOf(from), DayOf(to))
	if err != nil {
		return nil, fmt.Errorf("read daily totals: %w", err)
	}
	defer rs.Close()
	var out []DayTotal
	for rs.Next() {
		var d DayTotal
		var day int64
		var last sql.NullInt64
		if err := rs.Scan(&day, &d.Kind, &d.Credited, &d.Debited, &last); err != nil {
			return nil, fmt.Errorf("read daily totals: %w", err)
		}
		d.Day = time.UnixMicro(day * microsPerDay).UTC()
		if last.Valid {
			d.LastCredit = time.UnixMicro(last.Int64).UTC()
		}
		out = append(out, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read daily totals: %w", err)
	}
	return out, nil
}
