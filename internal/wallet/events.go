package wallet

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
)

// PurchaseEvent is the data of the purchase.completed, purchase.refunded
// and purchase.charged_back events: the purchase as the change left it.
type PurchaseEvent struct {
	ID     string      `json:"id"`
	User   outbox.User `json:"user"` // the buyer
	PackID string      `json:"pack_id"`
	Coins  int64       `json:"coins"`
	// Amount is the price paid, in minor units of Currency.
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Provider string `json:"provider"`
	// Status is the purchase's status after the change: paid,
	// refunded or charged_back.
	Status string `json:"status"`
	// OpID is the ledger operation that moved the coins.
	OpID      string     `json:"op_id"`
	CreatedAt time.Time  `json:"created_at"`
	PaidAt    *time.Time `json:"paid_at,omitempty"`
	UpdatedAt time.Time  `json:"updated_at"` // when the change happened
}

// enqueuePurchase writes the event typ about purchase id, as the ledger
// operation r left it, in r's transaction. The event's id is the
// operation's: of a batch retried under a new operation id only the
// committed one stays, and a replay, answered from the store, writes none.
func enqueuePurchase(ctx context.Context, tx *sql.Tx, typ, id string, r *ledger.Result) error {
	p, _, err := scanPurchase(tx.QueryRowContext(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE id = $1`, id))
	if err != nil {
		return fmt.Errorf("%s event: %w", typ, err)
	}
	d := &PurchaseEvent{ID: p.ID, PackID: p.PackID, Coins: int64(p.Coins), Amount: int64(p.Amount), Currency: p.Currency,
		Provider: p.Provider, Status: string(p.Status), OpID: r.OpID, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if !p.PaidAt.IsZero() {
		paid := p.PaidAt
		d.PaidAt = &paid
	}
	d.User.ID = p.UserID
	if err := tx.QueryRowContext(ctx, `SELECT handle, display_name FROM users WHERE id = $1`, p.UserID).
		Scan(&d.User.Handle, &d.User.DisplayName); err != nil {
		return fmt.Errorf("%s event: %w", typ, err)
	}
	return outbox.Enqueue(ctx, tx, outbox.Event{ID: outbox.ID(typ, r.OpID), Type: typ, At: r.CreatedAt, Data: d})
}
