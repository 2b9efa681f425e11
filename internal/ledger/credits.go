package ledger

import (
	"context"
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
