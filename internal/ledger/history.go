package ledger

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
)

// Movement is one transfer seen from one of the accounts it touched.
type Movement struct {
	ID      int64 // the transfer's id; ids grow with time
	OpID    string
	Kind    string
	Object  string
	Actor   string
	Account AccountID // the account of the query that the transfer touched
	Asset   fanfare.Asset
	// Amount is signed from Account's side: positive when it was credited.
	Amount fanfare.Amount
	// Counterparty is the owner of the other account: a user id, or
	// "system:<name>".
	Counterparty string
	CreatedAt    time.Time
}

// HistoryQuery selects movements of some accounts, newest first.
type HistoryQuery struct {
	Accounts []AccountID
	Before   int64  // only transfers with a smaller id; 0 for the newest
	Kind     string // only this kind, if set
	Limit    int    // at most this many; at least 1
}

// History returns the movements of q.Accounts, newest first. Each account
// and side is one range scan of the transfers' (account, id) indexes, so a
// page costs the same however long the history is.
func (l *Ledger) History(ctx context.Context, q HistoryQuery) ([]Movement, error) {
	if len(q.Accounts) == 0 || q.Limit <= 0 {
		return nil, nil
	}
	before := q.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	args := []any{before, q.Limit}
	kind := ""
	if q.Kind != "" {
		args = append(args, q.Kind)
		kind = " AND t.kind = $3"
	}
	var branches []string
	for _, id := range q.Accounts {
		for _, side := range [2][3]string{{"debit_account_id", "credit_account_id", "-1"}, {"credit_account_id", "debit_account_id", "1"}} {
			args = append(args, int64(id))
			n := strconv.Itoa(len(args))
			branches = append(branches, `SELECT * FROM (SELECT t.id, t.op_id, t.kind, t.object, t.actor, t.amount * `+side[2]+` AS amount,
				t.`+side[0]+` AS mine, t.`+side[1]+` AS other, t.created_at
				FROM transfers t WHERE t.`+side[0]+` = $`+n+` AND t.id < $1`+kind+`
				ORDER BY t.id DESC LIMIT $2) AS b`+n)
		}
	}
	rs, err := l.db.Read.QueryContext(ctx, `SELECT h.id, h.op_id, h.kind, h.object, h.actor, h.amount, h.mine, a.asset, a.owner, h.created_at
		FROM (`+strings.Join(branches, " UNION ALL ")+`) AS h JOIN accounts a ON a.id = h.other
		ORDER BY h.id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer rs.Close()
	var out []Movement
	for rs.Next() {
		var m Movement
		var asset string
		var at int64
		if err := rs.Scan(&m.ID, &m.OpID, &m.Kind, &m.Object, &m.Actor, &m.Amount, &m.Account, &asset, &m.Counterparty, &at); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		m.Asset = fanfare.Asset(asset)
		m.CreatedAt = time.UnixMicro(at).UTC()
		out = append(out, m)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return out, nil
}
