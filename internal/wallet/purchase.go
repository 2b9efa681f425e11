package wallet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/payment"
)

// Provider takes the payments of coin purchases. *payment.Sandbox and
// *payment.Stripe implement it.
type Provider interface {
	// NormalizeMethod checks a request's payment_method before anything is
	// written and returns its canonical form. Codes: validation_failed.
	NormalizeMethod(method string) (string, error)
	// Charge asks for the payment of a purchase. Asking again for the same
	// purchase id must not take the money twice.
	Charge(ctx context.Context, c payment.Charge) (payment.Outcome, error)
	// RefundPayment gives the buyer the money of a paid purchase back, in
	// full, and returns the provider's reference of the refund. Asking
	// again for the same purchase must not refund twice. Codes:
	// unavailable (worth asking again later).
	RefundPayment(ctx context.Context, r payment.RefundRequest) (string, error)
}

// PurchaseStatus is where a purchase stands. A purchase starts pending and
// ends paid or failed; a paid purchase may later be refunded or charged
// back.
type PurchaseStatus string

// Purchase statuses.
const (
	PurchasePending     PurchaseStatus = "pending"
	PurchasePaid        PurchaseStatus = "paid"
	PurchaseFailed      PurchaseStatus = "failed"
	PurchaseRefunded    PurchaseStatus = "refunded"
	PurchaseChargedBack PurchaseStatus = "charged_back"
)

// PurchaseOperation names a purchase request in its idempotency hash.
const PurchaseOperation = "POST /v1/purchases"

// ProviderStripe is the name of the Stripe provider in requests.
const ProviderStripe = "stripe"

// PurchaseInput is a fan's order of one coin pack.
type PurchaseInput struct {
	PackID        string `json:"pack_id"`
	Provider      string `json:"provider"`       // default "sandbox"
	PaymentMethod string `json:"payment_method"` // the sandbox: a test card number
}

// Purchase is a coin pack bought, or being bought, by a user.
type Purchase struct {
	ID       string
	UserID   string
	PackID   string
	Coins    fanfare.Amount
	Currency string
	Amount   fanfare.Amount // the price paid, in minor units of Currency
	Provider string
	Status   PurchaseStatus
	// ProviderRef is the provider's id of the payment.
	ProviderRef string
	// CheckoutURL is the page where the buyer pays a purchase its
	// provider left pending (Stripe Checkout); empty otherwise.
	CheckoutURL string
	// PaymentRef is the provider's payment learnt when a checkout
	// completed (a Stripe PaymentIntent); refunds and disputes name it.
	PaymentRef string
	// ChargebackExpected marks a payment the provider said it will
	// dispute (the sandbox's chargeback card).
	ChargebackExpected bool
	// Balance is the buyer's coins right after this purchase was credited;
	// zero until it is paid.
	Balance   fanfare.Amount
	CreatedAt time.Time
	UpdatedAt time.Time
	PaidAt    time.Time // zero until paid
	// Replayed is set when this answers an earlier request with the same
	// idempotency key.
	Replayed bool
}

// Buy sells a coin pack to the actor. The purchase is recorded pending,
// charged through the provider, then either paid, its coins credited by one
// ledger operation that also marks it paid in the same transaction, or
// failed. Everything is keyed by the idempotency key: a replay with the same
// input returns the purchase and moves nothing; a replay of a purchase left
// pending (a crash between the steps) carries it on.
//
// On payment_declined the failed purchase is returned along with the error.
//
// Codes: forbidden (the actor is not a logged-in user),
// idempotency_key_required, validation_failed (unknown pack, unknown or
// unconfigured provider, a payment method the provider refuses),
// idempotency_conflict (the key was used for another request),
// purchase_limit_exceeded (the velocity limits), payment_declined.
func (s *Service) Buy(ctx context.Context, actor fanfare.Actor, in PurchaseInput, idemKey string) (*Purchase, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "coins are bought by a logged-in user")
	}
	if err := ledger.CheckKey(idemKey, "buy coins"); err != nil {
		return nil, err
	}
	pack, err := s.catalog.Pack(in.PackID)
	if err != nil {
		return nil, err
	}
	if in.Provider == "" {
		in.Provider = payment.SandboxName
	}
	prov, ok := s.providers[in.Provider]
	switch {
	case !ok && in.Provider == ProviderStripe:
		return nil, fanfare.Errorf(fanfare.EInvalid, "the stripe provider is not configured on this server; use provider sandbox")
	case !ok:
		return nil, fanfare.Errorf(fanfare.EInvalid, "unknown provider %q; use provider sandbox", in.Provider)
	}
	if in.PaymentMethod, err = prov.NormalizeMethod(in.PaymentMethod); err != nil {
		return nil, err
	}
	canonical, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("buy: %w", err)
	}
	hash := ledger.HashRequest([]byte(PurchaseOperation), canonical)

	// The purchase row is the request's idempotency record: the first
	// request with a key creates it, every other one finds it.
	if err := s.recordPurchase(ctx, actor.UserID, pack, in.Provider, idemKey, hash); err != nil {
		return nil, err
	}
	p, storedHash, err := s.purchaseByKey(ctx, actor.UserID, idemKey)
	if err != nil {
		return nil, err
	}
	if storedHash != hash {
		return nil, fanfare.Errorf(fanfare.EIdempotencyConflict, "this Idempotency-Key was already used for a different request")
	}
	if p.Status != PurchasePending {
		p.Replayed = true
		return p, purchaseError(p)
	}

	out, err := prov.Charge(ctx, payment.Charge{PurchaseID: p.ID, Amount: p.Amount, Currency: p.Currency, Method: in.PaymentMethod, Coins: p.Coins})
	if err != nil {
		return nil, fmt.Errorf("buy: charge: %w", err)
	}
	replayed := false
	switch out.Status {
	case payment.Paid:
		// The ledger record is keyed by the purchase, not the request's
		// key: the purchase row already answers the request's replays,
		// and a key the user also gave another money route must not
		// stop a paid purchase from being credited.
		if replayed, err = s.credit(ctx, actor, p, out, &ledger.Idempotency{Scope: actor.ID(), Key: "purchase:" + p.ID, Hash: hash}); err != nil {
			return nil, err
		}
	case payment.Declined:
		n, err := s.settle(ctx, p.ID, PurchaseFailed, out)
		if err != nil {
			return nil, err
		}
		replayed = n == 0
	case payment.Pending:
		n, err := s.settle(ctx, p.ID, PurchasePending, out)
		if err != nil {
			return nil, err
		}
		replayed = n == 0
	default:
		return nil, fmt.Errorf("buy: provider answered %q", out.Status)
	}
	if p, _, err = s.purchaseByKey(ctx, actor.UserID, idemKey); err != nil {
		return nil, err
	}
	p.Replayed = replayed
	return p, purchaseError(p)
}

// recordPurchase inserts a pending purchase for the key unless one exists,
// after the velocity limits; the user's row is locked first, so two
// purchases of a user cannot pass the limits together.
func (s *Service) recordPurchase(ctx context.Context, userID string, pack Pack, provider, idemKey, hash string) error {
	u, err := s.users.ByID(ctx, userID)
	if err != nil {
		return err
	}
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("buy: record purchase: %w", err)
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = $1`+s.db.ForUpdate(), userID).Scan(&one); err != nil {
		return fmt.Errorf("buy: lock user: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM purchases WHERE user_id = $1 AND idempotency_key = $2`, userID, idemKey).Scan(&one)
	if err == nil {
		return nil // a replay: answered from the stored purchase
	} else if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("buy: record purchase: %w", err)
	}
	now := s.clock.Now().UTC()
	if err := s.checkPurchaseLimits(ctx, tx, u, pack.Price, pack.Currency, now); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO purchases
		(id, user_id, pack_id, coins, currency, amount, provider, status, idempotency_key, request_hash, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $10)`,
		fanfare.NewID(s.clock), userID, pack.ID, int64(pack.Coins), pack.Currency, int64(pack.Price), provider,
		idemKey, hash, now.UnixMicro())
	if err != nil {
		return fmt.Errorf("buy: record purchase: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("buy: record purchase: %w", err)
	}
	return nil
}

// purchaseError is the business failure a purchase in its state answers
// with: payment_declined for a failed one.
func purchaseError(p *Purchase) error {
	if p.Status == PurchaseFailed {
		return fanfare.Errorf(fanfare.EPaymentDeclined, "the payment was declined; purchase %s failed and no coins were credited", p.ID)
	}
	return nil
}

// credit pays out a purchase's coins from coin issuance and marks it paid
// in the same transaction. The idempotency record and the pending-only
// update both guard against crediting a purchase twice. It reports whether
// the ledger answered from an earlier request.
func (s *Service) credit(ctx context.Context, actor fanfare.Actor, p *Purchase, out payment.Outcome, idem *ledger.Idempotency) (bool, error) {
	from, err := s.ledger.SystemAccount(ctx, ledger.CoinIssuance, fanfare.Coin)
	if err != nil {
		return false, fmt.Errorf("credit purchase: %w", err)
	}
	to, err := s.ledger.UserAccount(ctx, p.UserID, fanfare.Coin)
	if err != nil {
		return false, fmt.Errorf("credit purchase: %w", err)
	}
	res, err := s.ledger.Submit(ctx, ledger.Op{
		Kind:   "purchase",
		Object: "purchase:" + p.ID,
		Actor:  actor.ID(),
		Legs:   []ledger.Leg{{Debit: from, Credit: to, Amount: p.Coins}},
		Idem:   idem,
		Effect: func(ctx context.Context, tx *sql.Tx, r *ledger.Result) error {
			at := r.CreatedAt.UTC().UnixMicro()
			res, err := tx.ExecContext(ctx, `UPDATE purchases
				SET status = 'paid', provider_ref = $1, chargeback_expected = $2, balance_after = $3, paid_at = $4, updated_at = $4
				WHERE id = $5 AND status = 'pending'`,
				out.Ref, out.ChargebackExpected, int64(r.Balance(to)), at, p.ID)
			if err != nil {
				return fmt.Errorf("mark purchase paid: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("mark purchase paid: %w", err)
			} else if n == 0 {
				return fanfare.Errorf(fanfare.EInvalidState, "purchase %s is no longer pending", p.ID)
			}
			return enqueuePurchase(ctx, tx, outbox.PurchaseCompleted, p.ID, r)
		},
	})
	if err != nil {
		return false, err
	}
	return res.Replayed, nil
}

// settle ends a pending purchase without money (failed), or records the
// provider's reference (and checkout page) of one that stays pending. It
// returns how many rows changed: 0 when another request settled it first.
func (s *Service) settle(ctx context.Context, id string, status PurchaseStatus, out payment.Outcome) (int64, error) {
	res, err := s.db.Write.ExecContext(ctx, `UPDATE purchases SET status = $1, provider_ref = $2, checkout_url = $3, updated_at = $4
		WHERE id = $5 AND status = 'pending' AND (status <> $1 OR provider_ref <> $2 OR checkout_url <> $3)`,
		string(status), out.Ref, out.CheckoutURL, s.clock.Now().UTC().UnixMicro(), id)
	if err != nil {
		return 0, fmt.Errorf("settle purchase: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("settle purchase: %w", err)
	}
	return n, nil
}

const purchaseColumns = `id, user_id, pack_id, coins, currency, amount, provider, status, provider_ref,
	chargeback_expected, balance_after, created_at, updated_at, paid_at, request_hash, checkout_url, payment_ref`

func (s *Service) purchaseByKey(ctx context.Context, userID, key string) (*Purchase, string, error) {
	row := s.db.Read.QueryRowContext(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE user_id = $1 AND idempotency_key = $2`, userID, key)
	return scanPurchase(row)
}

// Purchase returns a purchase of user userID.
//
// Codes: not_found (no such purchase of that user).
func (s *Service) Purchase(ctx context.Context, userID, id string) (*Purchase, error) {
	row := s.db.Read.QueryRowContext(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE id = $1 AND user_id = $2`, id, userID)
	p, _, err := scanPurchase(row)
	return p, err
}

// scanPurchase reads one row of purchaseColumns, from a *sql.Row or a
// *sql.Rows.
func scanPurchase(row interface{ Scan(...any) error }) (*Purchase, string, error) {
	var p Purchase
	var status, hash string
	var balance, paidAt sql.NullInt64
	var created, updated int64
	err := row.Scan(&p.ID, &p.UserID, &p.PackID, &p.Coins, &p.Currency, &p.Amount, &p.Provider, &status, &p.ProviderRef,
		&p.ChargebackExpected, &balance, &created, &updated, &paidAt, &hash, &p.CheckoutURL, &p.PaymentRef)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", fanfare.Errorf(fanfare.ENotFound, "purchase not found")
	} else if err != nil {
		return nil, "", fmt.Errorf("read purchase: %w", err)
	}
	p.Status = PurchaseStatus(status)
	p.Balance = fanfare.Amount(balance.Int64)
	p.CreatedAt = time.UnixMicro(created).UTC()
	p.UpdatedAt = time.UnixMicro(updated).UTC()
	if paidAt.Valid {
		p.PaidAt = time.UnixMicro(paidAt.Int64).UTC()
	}
	return &p, hash, nil
}
