package payout

import (
	"context"
	"fmt"

	"github.com/fanfarehq/fanfare/internal/store"
)

// Verify checks the payouts against the ledger and returns what does not
// match: the diamonds of the payouts requested are payouts_pending's
// balance and those of the payouts paid payouts_paid's; per currency the
// money of the payouts requested is fiat_payable's balance and of those
// paid fiat_paid's; every payout's operations exist. Read in one snapshot
// of db, it expects no payout to move meanwhile (verify runs on a quiet
// database).
func Verify(ctx context.Context, db *store.DB) ([]string, error) {
	tx, err := db.Read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("verify payouts: %w", err)
	}
	defer tx.Rollback()
	var problems []string
	balance := func(owner, asset string) (int64, error) {
		var b int64
		err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(balance), 0) FROM accounts WHERE owner = $1 AND asset = $2`, owner, asset).Scan(&b)
		return b, err
	}
	type sum struct{ diamonds, fiat int64 }
	sums := map[string]map[string]*sum{} // state → currency → sums
	rs, err := tx.QueryContext(ctx, `SELECT state, currency, SUM(diamonds), SUM(fiat_amount) FROM payouts GROUP BY state, currency`)
	if err != nil {
		return nil, fmt.Errorf("verify payouts: %w", err)
	}
	for rs.Next() {
		var state, cur string
		var sm sum
		if err := rs.Scan(&state, &cur, &sm.diamonds, &sm.fiat); err != nil {
			rs.Close()
			return nil, fmt.Errorf("verify payouts: %w", err)
		}
		if sums[state] == nil {
			sums[state] = map[string]*sum{}
		}
		sums[state][cur] = &sm
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("verify payouts: %w", err)
	}
	currencies := map[string]bool{}
	crs, err := tx.QueryContext(ctx, `SELECT DISTINCT asset FROM accounts WHERE owner LIKE 'system:fiat_payable:%' OR owner LIKE 'system:fiat_paid:%'`)
	if err != nil {
		return nil, fmt.Errorf("verify payouts: %w", err)
	}
	for crs.Next() {
		var c string
		if err := crs.Scan(&c); err != nil {
			crs.Close()
			return nil, fmt.Errorf("verify payouts: %w", err)
		}
		currencies[c] = true
	}
	crs.Close()
	for _, st := range sums {
		for c := range st {
			currencies[c] = true
		}
	}
	for _, check := range []struct {
		state   State
		account string
		fiat    func(string) string
	}{
		{Requested, "system:payouts_pending", func(c string) string { return "system:fiat_payable:" + c }},
		{Paid, "system:payouts_paid", func(c string) string { return "system:fiat_paid:" + c }},
	} {
		var diamonds int64
		for _, sm := range sums[string(check.state)] {
			diamonds += sm.diamonds
		}
		got, err := balance(check.account, "DIAMOND")
		if err != nil {
			return nil, fmt.Errorf("verify payouts: %w", err)
		}
		if got != diamonds {
			problems = append(problems, fmt.Sprintf("payouts: %s holds %d diamonds, the %s payouts %d", check.account, got, check.state, diamonds))
		}
		for c := range currencies {
			var fiat int64
			if sm := sums[string(check.state)][c]; sm != nil {
				fiat = sm.fiat
			}
			got, err := balance(check.fiat(c), c)
			if err != nil {
				return nil, fmt.Errorf("verify payouts: %w", err)
			}
			if got != fiat {
				problems = append(problems, fmt.Sprintf("payouts: %s holds %d, the %s payouts %d", check.fiat(c), got, check.state, fiat))
			}
		}
	}
	var orphans int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM payouts p
		WHERE p.op_id NOT IN (SELECT op_id FROM transfers WHERE kind = 'payout')
		OR (p.state <> 'requested' AND (p.settle_op_id IS NULL
			OR p.settle_op_id NOT IN (SELECT op_id FROM transfers WHERE kind IN ('payout_paid', 'payout_failed'))))`).Scan(&orphans); err != nil {
		return nil, fmt.Errorf("verify payouts: %w", err)
	}
	if orphans > 0 {
		problems = append(problems, fmt.Sprintf("payouts: %d payouts without their ledger operations", orphans))
	}
	return problems, nil
}
