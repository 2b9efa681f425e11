package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
)

// RecentCredits returns the last credits of account id whose object starts
// with prefix, newest first: at most limit of them, and none from before
// since. It walks the account's credits from the newest down the transfers'
// (credit account, id) index and stops at the first credit dated before
// since, whatever its object, so that it reads what the account received
// since then, never its whole history. Ids grow with time, so that credit
// ends the walk even if an older id bears a later date (a node whose clock
// runs behind another's could stamp one so): a caller that allows for
// clocks apart passes an earlier since. Each Movement's Amount is positive
// and its Counterparty is the debited account's owner.
func (l *Ledger) RecentCredits(ctx context.Context, id AccountID, prefix string, since time.Time, limit int) ([]Movement, error) {
	if limit <= 0 {
		return nil, nil
	}
	// Most of what a creator receives during a LIVE is its gifts: a page
	// twice the limit is usually the only one.
	page := min(max(2*limit, 64), 1000)
	from := since.UnixMicro()
	before := int64(math.MaxInt64)
	var out []Movement
	for {
		ms, err := l.credits(ctx, id, before, page)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.CreatedAt.UnixMicro() < from {
				return out, nil
			}
			if strings.HasPrefix(m.Object, prefix) {
				out = append(out, m)
				if len(out) == limit {
					return out, nil
				}
			}
		}
		if len(ms) < page {
			return out, nil
		}
		before = ms[len(ms)-1].ID
	}
}

// credits reads a page of account id's credits with an id below before,
// newest first: one range scan of the transfers_credit index.
func (l *Ledger) credits(ctx context.Context, id AccountID, before int64, page int) ([]Movement, error) {
	rs, err := l.db.Read.QueryContext(ctx, `SELECT t.id, t.op_id, t.kind, t.object, t.actor, t.amount, a.asset, a.owner, t.created_at
		FROM (SELECT id, op_id, kind, object, actor, amount, debit_account_id, created_at FROM transfers
			WHERE credit_account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3) AS t
		JOIN accounts a ON a.id = t.debit_account_id
		ORDER BY t.id DESC`, int64(id), before, page)
	if err != nil {
		return nil, fmt.Errorf("recent credits: %w", err)
	}
	defer rs.Close()
	var out []Movement
	for rs.Next() {
		m := Movement{Account: id}
		var asset string
		var at int64
		if err := rs.Scan(&m.ID, &m.OpID, &m.Kind, &m.Object, &m.Actor, &m.Amount, &asset, &m.Counterparty, &at); err != nil {
			return nil, fmt.Errorf("recent credits: %w", err)
		}
		m.Asset = fanfare.Asset(asset)
		m.CreatedAt = time.UnixMicro(at).UTC()
		out = append(out, m)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("recent credits: %w", err)
	}
	return out, nil
}

// ClawedBackSince sums what clawbacks (IsClawback kinds: a refunded
// shoutout, a chargeback) debited from account id since since. It walks
// the account's debits from the newest down the transfers' (debit
// account, id) index and stops at the first dated before since, as
// RecentCredits does.
func (l *Ledger) ClawedBackSince(ctx context.Context, id AccountID, since time.Time) (fanfare.Amount, error) {
	const page = 500
	from := since.UnixMicro()
	before := int64(math.MaxInt64)
	var sum fanfare.Amount
	for {
		rs, err := l.db.Read.QueryContext(ctx, `SELECT id, kind, amount, created_at FROM transfers
			WHERE debit_account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, int64(id), before, page)
		if err != nil {
			return 0, fmt.Errorf("recent clawbacks: %w", err)
		}
		n, done := 0, false
		for rs.Next() {
			var tid, at int64
			var kind string
			var amount fanfare.Amount
			if err := rs.Scan(&tid, &kind, &amount, &at); err != nil {
				rs.Close()
				return 0, fmt.Errorf("recent clawbacks: %w", err)
			}
			n++
			before = tid
			if at < from {
				done = true
				break
			}
			if IsClawback(kind) {
				sum += amount
			}
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return 0, fmt.Errorf("recent clawbacks: %w", err)
		}
		if done || n < page {
			return sum, nil
		}
	}
}

// CreditDay is what an account was credited in the credits CreditsByDay
// puts on one day.
type CreditDay struct {
	Day    time.Time      // midnight UTC: the day of the credits' time plus the shift
	Amount fanfare.Amount // their sum
	Last   time.Time      // the newest credit's time, unshifted
}

// CreditsByDay sums account id's credits dated from from (included) to to
// (excluded; zero: no end), but those of the kinds in except, by the UTC
// day of their time plus shift (a hold window's end: the day they free),
// the newest day first. The database sums them in one range scan of the
// transfers' (credit account, id) index, between the ids dated from and
// to (see idRange), so a creator credited a million times in a year costs
// the rows of the window, not of the year, and none of them crosses into
// Go.
func (l *Ledger) CreditsByDay(ctx context.Context, id AccountID, from, to time.Time, shift time.Duration, except ...string) ([]CreditDay, error) {
	lo, hi, err := l.idRange(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("credits by day: %w", err)
	}
	args := []any{int64(id), lo, hi, from.UnixMicro(), endMicros(to), shift.Microseconds()}
	rs, err := l.db.Read.QueryContext(ctx, `SELECT (created_at + $6) / `+fmt.Sprint(microsPerDay)+` AS d,
			CAST(SUM(amount) AS BIGINT), MAX(created_at)
		FROM transfers
		WHERE credit_account_id = $1 AND id >= $2 AND id < $3 AND created_at >= $4 AND created_at < $5`+notKinds(&args, except)+`
		GROUP BY d ORDER BY d DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("credits by day: %w", err)
	}
	defer rs.Close()
	var out []CreditDay
	for rs.Next() {
		var d CreditDay
		var day, last int64
		if err := rs.Scan(&day, &d.Amount, &last); err != nil {
			return nil, fmt.Errorf("credits by day: %w", err)
		}
		d.Day = time.UnixMicro(day * microsPerDay).UTC()
		d.Last = time.UnixMicro(last).UTC()
		out = append(out, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("credits by day: %w", err)
	}
	return out, nil
}

// Credit is one credit CreditsBetween returns.
type Credit struct {
	ID     int64
	Amount fanfare.Amount
	At     time.Time
}

// CreditsBetween returns account id's credits dated from from (included)
// to to (excluded; zero: no end), but those of the kinds in except, newest first: the
// rows behind one day of CreditsByDay, when a caller needs them one by
// one.
func (l *Ledger) CreditsBetween(ctx context.Context, id AccountID, from, to time.Time, except ...string) ([]Credit, error) {
	lo, hi, err := l.idRange(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("credits between: %w", err)
	}
	args := []any{int64(id), lo, hi, from.UnixMicro(), endMicros(to)}
	rs, err := l.db.Read.QueryContext(ctx, `SELECT id, amount, created_at FROM transfers
		WHERE credit_account_id = $1 AND id >= $2 AND id < $3 AND created_at >= $4 AND created_at < $5`+notKinds(&args, except)+`
		ORDER BY id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("credits between: %w", err)
	}
	defer rs.Close()
	var out []Credit
	for rs.Next() {
		var c Credit
		var at int64
		if err := rs.Scan(&c.ID, &c.Amount, &at); err != nil {
			return nil, fmt.Errorf("credits between: %w", err)
		}
		c.At = time.UnixMicro(at).UTC()
		out = append(out, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("credits between: %w", err)
	}
	return out, nil
}

// notKinds is the condition leaving out the kinds in except, its
// parameters appended to args.
func notKinds(args *[]any, except []string) string {
	if len(except) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(" AND kind NOT IN (")
	for i, k := range except {
		if i > 0 {
			b.WriteString(", ")
		}
		*args = append(*args, k)
		fmt.Fprintf(&b, "$%d", len(*args))
	}
	b.WriteString(")")
	return b.String()
}

// IDClockSkew is how far apart the clocks stamping transfers may run:
// idRange widens the ids it gives by that much, so that a transfer
// committed by a node whose clock ran behind another's is not missed.
const IDClockSkew = 5 * time.Minute

// idRange returns ids lo and hi such that every transfer dated from from
// to to (excluded; zero: no end) has an id from lo to hi (excluded): the
// first ids dated IDClockSkew before from and after to. Ids grow with
// time, give or take the skew between clocks, so a range scan between
// them reads those transfers and few others, whatever the table's size.
func (l *Ledger) idRange(ctx context.Context, from, to time.Time) (lo, hi int64, err error) {
	var first, last sql.NullInt64
	if err := l.db.Read.QueryRowContext(ctx, `SELECT (SELECT MIN(id) FROM transfers), (SELECT MAX(id) FROM transfers)`).Scan(&first, &last); err != nil {
		return 0, 0, err
	}
	if !first.Valid {
		return 0, 0, nil
	}
	end := last.Int64 + 1
	if lo, err = l.firstIDAt(ctx, from.Add(-IDClockSkew).UnixMicro(), first.Int64, end); err != nil {
		return 0, 0, err
	}
	if to.IsZero() {
		return lo, end, nil
	}
	hi, err = l.firstIDAt(ctx, to.Add(IDClockSkew).UnixMicro(), lo, end)
	return lo, hi, err
}

// firstIDAt bisects the transfers' primary key between ids lo and hi
// (excluded) for the first id dated at or later, hi if none: some twenty
// point reads.
func (l *Ledger) firstIDAt(ctx context.Context, at, lo, hi int64) (int64, error) {
	// Every id below lo is dated before at; none from hi on is read.
	for lo < hi {
		mid := lo + (hi-lo)/2
		var id, created int64
		err := l.db.Read.QueryRowContext(ctx, `SELECT id, created_at FROM transfers WHERE id >= $1 AND id < $2 ORDER BY id LIMIT 1`, mid, hi).Scan(&id, &created)
		if errors.Is(err, sql.ErrNoRows) {
			hi = mid
			continue
		} else if err != nil {
			return 0, err
		}
		if created < at {
			lo = id + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// endMicros is to in microseconds, the largest time for zero (no end).
func endMicros(to time.Time) int64 {
	if to.IsZero() {
		return math.MaxInt64
	}
	return to.UnixMicro()
}
