package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
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

// PlatformDay is what one system account (coin_issuance, a revenue
// account, diamond_issuance, payouts_paid...) received (Credited) and gave
// (Debited) through operations of one kind on one UTC day.
type PlatformDay struct {
	Day time.Time // midnight UTC
	// Account is the system account's name, without "system:" (see
	// Revenue and the names of this package).
	Account  string
	Asset    fanfare.Asset
	Kind     string
	Credited fanfare.Amount
	Debited  fanfare.Amount
}

// PlatformDays returns the daily totals of the system accounts from the
// day of from to the day of to, both included, by day, account then
// kind. The committer keeps them in each batch's transaction and Verify
// checks them against the transfers, as it does Days; reading a month
// costs a row per account, day and kind, whatever the traffic.
func (l *Ledger) PlatformDays(ctx context.Context, from, to time.Time) ([]PlatformDay, error) {
	rs, err := l.db.Read.QueryContext(ctx, `SELECT d.day, a.owner, a.asset, d.kind, d.credited, d.debited
		FROM platform_days d JOIN accounts a ON a.id = d.account_id
		WHERE d.day >= $1 AND d.day <= $2 ORDER BY d.day, a.owner, a.asset, d.kind`, DayOf(from), DayOf(to))
	if err != nil {
		return nil, fmt.Errorf("read platform daily totals: %w", err)
	}
	defer rs.Close()
	var out []PlatformDay
	for rs.Next() {
		var d PlatformDay
		var day int64
		var asset string
		if err := rs.Scan(&day, &d.Account, &asset, &d.Kind, &d.Credited, &d.Debited); err != nil {
			return nil, fmt.Errorf("read platform daily totals: %w", err)
		}
		d.Day = time.UnixMicro(day * microsPerDay).UTC()
		d.Account = strings.TrimPrefix(d.Account, "system:")
		d.Asset = fanfare.Asset(asset)
		out = append(out, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read platform daily totals: %w", err)
	}
	return out, nil
}
