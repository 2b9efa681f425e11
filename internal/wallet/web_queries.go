package wallet

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
)

// MaxPurchasesByID is the most purchases PurchasesByID reads at once: a
// page of history at its largest.
const MaxPurchasesByID = MaxHistoryLimit

// PurchasesByID returns the purchases of user userID among ids, keyed by
// id. Ids that name no purchase of that user are left out, so a caller may
// pass whatever ids a page of history mentions.
//
// Codes: validation_failed (more than MaxPurchasesByID ids).
func (s *Service) PurchasesByID(ctx context.Context, userID string, ids []string) (map[string]*Purchase, error) {
	out := map[string]*Purchase{}
	if len(ids) == 0 {
		return out, nil
	}
	if len(ids) > MaxPurchasesByID {
		return nil, fanfare.Errorf(fanfare.EInvalid, "at most %d purchases can be read at once, got %d", MaxPurchasesByID, len(ids))
	}
	args := []any{userID}
	marks := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id)
		marks[i] = "$" + strconv.Itoa(i+2)
	}
	rows, err := s.db.Read.QueryContext(ctx, `SELECT `+purchaseColumns+` FROM purchases
		WHERE user_id = $1 AND id IN (`+strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read purchases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, _, err := scanPurchase(rows)
		if err != nil {
			return nil, err
		}
		out[p.ID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read purchases: %w", err)
	}
	return out, nil
}

// RefundableUntil returns the last instant at which p may be refunded in
// cash, and false when p is not paid (pending, failed, refunded or charged
// back), or a Stripe purchase whose payment is not confirmed. Whether its
// coins are still unspent only Refund can tell.
func (p *Purchase) RefundableUntil() (time.Time, bool) {
	if p.Status != PurchasePaid || p.PaidAt.IsZero() || (p.Provider == ProviderStripe && p.PaymentRef == "") {
		return time.Time{}, false
	}
	return p.PaidAt.Add(RefundWindow), true
}
