package wallet

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
)

// DefaultChargebackDelay is how long after payment the sandbox charges back
// a purchase paid with its chargeback card, unless configured otherwise.
const DefaultChargebackDelay = time.Minute

// ChargebackActor is the actor and idempotency scope of chargebacks.
const ChargebackActor = "system:chargeback"

// ApplyDueChargebacks charges back every paid purchase that its provider
// flagged for a chargeback once ChargebackDelay has passed since payment.
// Each is one ledger operation that claws the pack's coins back to coin
// issuance, even below zero (the wallet is then frozen until settled), and
// moves the purchase from paid to charged_back in the same transaction. A
// purchase refunded first is left alone. The idempotency key is derived
// from the purchase id, so a rerun, or two runs at once, claw once. It
// returns how many purchases this call charged back.
func (s *Service) ApplyDueChargebacks(ctx context.Context) (int, error) {
	cutoff := s.clock.Now().Add(-s.chargebackDelay).UTC().UnixMicro()
	rows, err := s.db.Read.QueryContext(ctx, `SELECT id, user_id, coins FROM purchases
		WHERE status = 'paid' AND chargeback_expected AND paid_at <= $1 ORDER BY paid_at, id`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("find due chargebacks: %w", err)
	}
	type due struct {
		id, userID string
		coins      fanfare.Amount
	}
	var dues []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.userID, &d.coins); err != nil {
			rows.Close()
			return 0, fmt.Errorf("find due chargebacks: %w", err)
		}
		dues = append(dues, d)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("find due chargebacks: %w", err)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find due chargebacks: %w", err)
	}
	if len(dues) == 0 {
		return 0, nil
	}
	to, err := s.ledger.SystemAccount(ctx, ledger.CoinIssuance, fanfare.Coin)
	if err != nil {
		return 0, fmt.Errorf("charge back: %w", err)
	}
	n := 0
	for _, d := range dues {
		from, err := s.ledger.UserAccount(ctx, d.userID, fanfare.Coin)
		if err != nil {
			return n, fmt.Errorf("charge back %s: %w", d.id, err)
		}
		res, err := s.ledger.Submit(ctx, ledger.Op{
			Kind:   ledger.KindChargeback,
			Object: "purchase:" + d.id,
			Actor:  ChargebackActor,
			Legs:   []ledger.Leg{{Debit: from, Credit: to, Amount: d.coins, AllowNegative: true}},
			Idem: &ledger.Idempotency{
				Scope: ChargebackActor,
				Key:   "purchase:" + d.id,
				Hash:  ledger.HashRequest([]byte("chargeback"), []byte(d.id)),
			},
			Effect: func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
				return reverse(ctx, tx, d.id, PurchaseChargedBack, r)
			},
		})
		switch {
		case fanfare.ErrorCode(err) == fanfare.EInvalidState:
			// Refunded (or charged back) since it was read.
		case err != nil:
			return n, fmt.Errorf("charge back %s: %w", d.id, err)
		case !res.Replayed:
			n++
		}
	}
	return n, nil
}
