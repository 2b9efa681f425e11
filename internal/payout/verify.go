package payout

import (
	"context"
	"fmt"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
)

// Verify checks the payouts against the ledger and returns what does not
// match: the diamonds of the payouts requested are payouts_pending's
// balance and those of the payouts paid payouts_paid's; per currency the
// money of the payouts requested is fiat_payable's balance and of those
// paid fiat_paid's; every payout's operations exist. It expects no payout
// to move meanwhile (verify runs on a quiet database).
func Verify(ctx context.Context, l *ledger.Ledger) ([]string, error) {
	db := l.DB()
	type sum struct{ diamonds, fiat int64 }
	sums := map[State]map[string]*sum{} // state → currency → sums
	currencies := map[string]bool{}
	rs, err := db.Read.QueryContext(ctx, `SELECT state, currency, SUM(diamonds), SUM(fiat_amount) FROM payouts GROUP BY state, currency`)
	if err != nil {
		return nil, fmt.Errorf("verify payouts: %w", err)
	}
	for rs.Next() {
		var state State
		var cur string
		var sm sum
		if err := rs.Scan(&state, &cur, &sm.diamonds, &sm.fiat); err != nil {
			rs.Close()
			return nil, fmt.Errorf("verify payouts: %w", err)
		}
		if sums[state] == nil {
			sums[state] = map[string]*sum{}
		}
		sums[state][cur] = &sm
		currencies[cur] = true
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("verify payouts: %w", err)
	}
	for _, prefix := range []string{ledger.FiatPayable(""), ledger.FiatPaid("")} {
		as, err := l.SystemAssets(ctx, prefix)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			currencies[string(a)] = true
		}
	}
	var problems []string
	for _, check := range []struct {
		state   State
		account string
		fiat    func(string) string
	}{
		{Requested, ledger.PayoutsPending, ledger.FiatPayable},
		{Paid, ledger.PayoutsPaid, ledger.FiatPaid},
	} {
		var diamonds int64
		for _, sm := range sums[check.state] {
			diamonds += sm.diamonds
		}
		got, err := l.SystemBalance(ctx, check.account, fanfare.Diamond)
		if err != nil {
			return nil, err
		}
		if int64(got) != diamonds {
			problems = append(problems, fmt.Sprintf("payouts: %s holds %d diamonds, the %s payouts %d", check.account, got, check.state, diamonds))
		}
		for c := range currencies {
			var fiat int64
			if sm := sums[check.state][c]; sm != nil {
				fiat = sm.fiat
			}
			got, err := l.SystemBalance(ctx, check.fiat(c), fanfare.Asset(c))
			if err != nil {
				return nil, err
			}
			if int64(got) != fiat {
				problems = append(problems, fmt.Sprintf("payouts: %s holds %d, the %s payouts %d", check.fiat(c), got, check.state, fiat))
			}
		}
	}
	ops, err := l.OpIDs(ctx, ledger.KindPayout, ledger.KindPayoutPaid, ledger.KindPayoutFailed)
	if err != nil {
		return nil, err
	}
	rs, err = db.Read.QueryContext(ctx, `SELECT id, state, op_id, COALESCE(settle_op_id, '') FROM payouts`)
	if err != nil {
		return nil, fmt.Errorf("verify payouts: %w", err)
	}
	defer rs.Close()
	missing := 0
	for rs.Next() {
		var id, op, settle string
		var state State
		if err := rs.Scan(&id, &state, &op, &settle); err != nil {
			return nil, fmt.Errorf("verify payouts: %w", err)
		}
		if !ops[op] || (state != Requested && !ops[settle]) {
			missing++
			if missing <= 10 {
				problems = append(problems, fmt.Sprintf("payouts: payout %s (%s) without its ledger operations", id, state))
			}
		}
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("verify payouts: %w", err)
	}
	if missing > 10 {
		problems = append(problems, fmt.Sprintf("payouts: %d payouts in all without their ledger operations", missing))
	}
	return problems, nil
}
