package wallet

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
)

// RefundWindow is how long after payment a fan may ask for a cash refund of
// a purchase. A refund exactly RefundWindow after paid_at is still allowed.
const RefundWindow = 14 * 24 * time.Hour

// RefundOperation names a refund request in its idempotency hash.
const RefundOperation = "POST /v1/purchases/{id}/refund"

// Refund is a purchase refunded in cash, its coins taken back.
type Refund struct {
	Purchase *Purchase
	OpID     string         // the ledger operation that took the coins back
	Balance  fanfare.Amount // the buyer's coins right after the refund
	// Replayed is set when this answers an earlier request with the same
	// idempotency key.
	Replayed bool
}

// Refund refunds a paid purchase of the actor in cash: one ledger operation
// takes the pack's coins back to coin issuance and, in the same
// transaction, moves the purchase from paid to refunded. The coins must
// still be unspent: the debit may not take the wallet below zero, which the
// ledger checks atomically with every other spend. A replay of the key
// returns the first answer.
//
// Codes: forbidden (the actor is not a logged-in user),
// idempotency_key_required, validation_failed, not_found (no such purchase
// of the actor), deadline_passed (paid more than RefundWindow ago),
// invalid_state (not paid: pending, failed, already refunded or charged
// back; or paid through Stripe, which refunds it), insufficient_funds (the
// coins were already spent), wallet_frozen, idempotency_conflict (the key
// was used for another request).
func (s *Service) Refund(ctx context.Context, actor fanfare.Actor, purchaseID, idemKey string) (*Refund, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "a purchase is refunded by its logged-in buyer")
	}
	if err := ledger.CheckKey(idemKey, "refund a purchase"); err != nil {
		return nil, err
	}
	p, err := s.Purchase(ctx, actor.UserID, purchaseID)
	if err != nil {
		return nil, err
	}
	if p.Provider == ProviderStripe {
		// Fanfare does not send the money back through Stripe: the
		// refund is made on Stripe, whose charge.refunded event then
		// takes the coins back (ApplyPaymentEvent).
		return nil, fanfare.Errorf(fanfare.EInvalidState,
			"purchase %s was paid through Stripe: it is refunded on Stripe, which then takes the coins back", p.ID)
	}
	from, err := s.ledger.UserAccount(ctx, p.UserID, fanfare.Coin)
	if err != nil {
		return nil, fmt.Errorf("refund: %w", err)
	}
	idem := ledger.Idempotency{
		Scope: actor.ID(),
		Key:   idemKey,
		Hash:  ledger.HashRequest([]byte(RefundOperation), []byte(p.ID)),
	}
	if p.Status != PurchasePaid {
		// The purchase may have been refunded by this very key: answer the
		// replay rather than the state it left behind.
		res, err := s.ledger.Replay(ctx, idem)
		if res != nil || err != nil {
			return s.refundResult(ctx, p.ID, from, res, err)
		}
		return nil, fanfare.Errorf(fanfare.EInvalidState, "purchase %s is %s; only a paid purchase can be refunded", p.ID, p.Status)
	}
	if deadline := p.PaidAt.Add(RefundWindow); s.clock.Now().After(deadline) {
		return nil, fanfare.Errorf(fanfare.EDeadlinePassed, "a purchase can be refunded within %d days of payment; this one could be until %s",
			int(RefundWindow/(24*time.Hour)), deadline.UTC().Format(time.RFC3339))
	}
	to, err := s.ledger.SystemAccount(ctx, ledger.CoinIssuance, fanfare.Coin)
	if err != nil {
		return nil, fmt.Errorf("refund: %w", err)
	}
	res, err := s.ledger.Submit(ctx, ledger.Op{
		Kind:   "refund",
		Object: "purchase:" + p.ID,
		Actor:  actor.ID(),
		Legs:   []ledger.Leg{{Debit: from, Credit: to, Amount: p.Coins}},
		Idem:   &idem,
		Effect: func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
			return reverse(ctx, tx, p.ID, PurchaseRefunded, r.CreatedAt)
		},
	})
	return s.refundResult(ctx, p.ID, from, res, err)
}

// refundResult turns a ledger answer into the refund, with the purchase as
// it now stands.
func (s *Service) refundResult(ctx context.Context, purchaseID string, from ledger.AccountID, res *ledger.Result, err error) (*Refund, error) {
	if err != nil && fanfare.ErrorCode(err) != fanfare.EInsufficientFunds {
		return nil, err
	}
	row := s.db.Read.QueryRowContext(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE id = $1`, purchaseID)
	p, _, rerr := scanPurchase(row)
	if rerr != nil {
		return nil, fmt.Errorf("refund: %w", rerr)
	}
	if err != nil {
		// A chargeback that took the coins first also leaves too few
		// of them: the purchase's state is the better answer then.
		if p.Status != PurchasePaid {
			return nil, fanfare.Errorf(fanfare.EInvalidState, "purchase %s is %s; only a paid purchase can be refunded", p.ID, p.Status)
		}
		return nil, fanfare.Errorf(fanfare.EInsufficientFunds,
			"coins already spent: a purchase can be refunded only while its coins are still in the wallet")
	}
	return &Refund{Purchase: p, OpID: res.OpID, Balance: res.Balance(from), Replayed: res.Replayed}, nil
}

// reverse moves a paid purchase to a clawback status (refunded or
// charged_back) in the ledger operation's transaction, and fails with
// invalid_state when it is no longer paid: of a refund and a chargeback of
// the same purchase, exactly one commits.
func reverse(ctx context.Context, tx *sql.Tx, id string, status PurchaseStatus, at time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE purchases SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'paid'`,
		string(status), at.UTC().UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("mark purchase %s: %w", status, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("mark purchase %s: %w", status, err)
	} else if n == 0 {
		return fanfare.Errorf(fanfare.EInvalidState, "purchase %s is no longer paid", id)
	}
	return nil
}
