package wallet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/payment"
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
	// Cash is where the money stands: sent by the provider, or pending
	// (asked again later).
	Cash *CashRefund
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
// back), insufficient_funds (the coins were already spent), wallet_frozen,
// idempotency_conflict (the key was used for another request).
//
// The money goes back through the purchase's provider after the coins are
// taken: the same transaction records a pending cash refund, which the
// provider is then asked for (keyed by the purchase, so asking twice
// refunds once). If the provider cannot be reached, the refund stays
// pending (Refund.Cash says so) and RetryCashRefunds asks again later: the
// money is owed, never lost. The provider's own refund event that follows
// finds the purchase refunded already and moves nothing.
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
	if p.Provider == ProviderStripe && p.PaymentRef == "" {
		return nil, fanfare.Errorf(fanfare.EInvalidState, "purchase %s has no confirmed payment to refund yet", p.ID)
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
		Kind:   ledger.KindRefund,
		Object: "purchase:" + p.ID,
		Actor:  actor.ID(),
		Legs:   []ledger.Leg{{Debit: from, Credit: to, Amount: p.Coins}},
		Idem:   &idem,
		Effect: func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
			if err := reverse(ctx, tx, p.ID, PurchaseRefunded, r); err != nil {
				return err
			}
			at := r.CreatedAt.UTC().UnixMicro()
			_, err := tx.ExecContext(ctx, `INSERT INTO cash_refunds (purchase_id, provider, status, next_at, created_at)
				VALUES ($1, $2, 'pending', $3, $3)`, p.ID, p.Provider, at)
			if err != nil {
				return fmt.Errorf("record cash refund: %w", err)
			}
			return nil
		},
	})
	return s.refundResult(ctx, p.ID, from, res, err)
}

// Cash refund statuses.
const (
	// CashPending: the coins are back; the provider still has to return
	// the money (it is asked again until it does).
	CashPending = "pending"
	// CashSent: the provider accepted the refund.
	CashSent = "sent"
)

// CashRefund is where the money of a refunded purchase stands.
type CashRefund struct {
	Status      string // CashPending or CashSent
	ProviderRef string // the provider's refund, once sent
	Attempts    int
	LastError   string
}

// cashRetryDelay is how long a failed provider refund waits before it is
// asked again: 1 minute, doubling, at most an hour.
func cashRetryDelay(attempts int) time.Duration {
	d := time.Minute << min(attempts-1, 6)
	return min(d, time.Hour)
}

// sendCash asks the provider for a pending cash refund of purchase p and
// returns where it stands. A provider failure is recorded on the refund
// (retried later), not returned.
func (s *Service) sendCash(ctx context.Context, p *Purchase) (*CashRefund, error) {
	c, err := s.cashRefund(ctx, p.ID)
	if err != nil || c == nil || c.Status != CashPending {
		return c, err
	}
	prov, ok := s.providers[p.Provider]
	if !ok {
		return c, fmt.Errorf("cash refund of %s: provider %q is not configured", p.ID, p.Provider)
	}
	ref, perr := prov.RefundPayment(ctx, payment.RefundRequest{PurchaseID: p.ID, PaymentRef: p.PaymentRef, Amount: p.Amount, Currency: p.Currency})
	now := s.clock.Now().UTC()
	if perr != nil {
		c.Attempts++
		c.LastError = perr.Error()
		_, err = s.db.Write.ExecContext(ctx, `UPDATE cash_refunds SET attempts = $1, last_error = $2, next_at = $3
			WHERE purchase_id = $4 AND status = 'pending'`,
			c.Attempts, truncateError(c.LastError), now.Add(cashRetryDelay(c.Attempts)).UnixMicro(), p.ID)
		if err != nil {
			return nil, fmt.Errorf("cash refund of %s: %w", p.ID, err)
		}
		return c, nil
	}
	if _, err = s.db.Write.ExecContext(ctx, `UPDATE cash_refunds SET status = 'sent', provider_ref = $1, sent_at = $2, last_error = ''
		WHERE purchase_id = $3 AND status = 'pending'`, ref, now.UnixMicro(), p.ID); err != nil {
		return nil, fmt.Errorf("cash refund of %s: %w", p.ID, err)
	}
	return s.cashRefund(ctx, p.ID)
}

func truncateError(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}

// cashRefund reads the cash refund of a purchase, or nil.
func (s *Service) cashRefund(ctx context.Context, purchaseID string) (*CashRefund, error) {
	var c CashRefund
	err := s.db.Read.QueryRowContext(ctx, `SELECT status, provider_ref, attempts, last_error FROM cash_refunds WHERE purchase_id = $1`,
		purchaseID).Scan(&c.Status, &c.ProviderRef, &c.Attempts, &c.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read cash refund: %w", err)
	}
	return &c, nil
}

// RetryCashRefunds asks the providers again for the cash refunds they
// could not make yet, once each one's wait is over. It returns how many
// were sent now.
func (s *Service) RetryCashRefunds(ctx context.Context) (int, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT `+prefixed("p.", purchaseColumns)+` FROM cash_refunds c
		JOIN purchases p ON p.id = c.purchase_id
		WHERE c.status = 'pending' AND c.next_at <= $1 ORDER BY c.next_at LIMIT 100`, s.clock.Now().UTC().UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("find cash refunds due: %w", err)
	}
	var due []*Purchase
	for rows.Next() {
		p, _, err := scanPurchase(rows)
		if err != nil {
			rows.Close()
			return 0, err
		}
		due = append(due, p)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("find cash refunds due: %w", err)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find cash refunds due: %w", err)
	}
	sent := 0
	for _, p := range due {
		c, err := s.sendCash(ctx, p)
		if err != nil {
			return sent, err
		}
		if c != nil && c.Status == CashSent {
			sent++
		}
	}
	return sent, nil
}

// prefixed qualifies every column of a list with a table alias.
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, c := range parts {
		parts[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
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
	cash, err := s.sendCash(ctx, p)
	if err != nil {
		return nil, err
	}
	return &Refund{Purchase: p, OpID: res.OpID, Balance: res.Balance(from), Replayed: res.Replayed, Cash: cash}, nil
}

// reverse moves a paid purchase to a clawback status (refunded or
// charged_back) in the ledger operation's transaction, and fails with
// invalid_state when it is no longer paid: of a refund and a chargeback of
// the same purchase, exactly one commits. Its purchase.refunded or
// purchase.charged_back event commits with it.
func reverse(ctx context.Context, tx *sql.Tx, id string, status PurchaseStatus, r *ledger.Result) error {
	res, err := tx.ExecContext(ctx, `UPDATE purchases SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'paid'`,
		string(status), r.CreatedAt.UTC().UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("mark purchase %s: %w", status, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("mark purchase %s: %w", status, err)
	} else if n == 0 {
		return fanfare.Errorf(fanfare.EInvalidState, "purchase %s is no longer paid", id)
	}
	typ := outbox.PurchaseRefunded
	if status == PurchaseChargedBack {
		typ = outbox.PurchaseChargedBack
	}
	return enqueuePurchase(ctx, tx, typ, id, r)
}
