package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

type purchaseInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Required. A replay with the same key and body returns the purchase and moves nothing; the same key with another body is refused (409 idempotency_conflict)."`
	Body           struct {
		PackID        string `json:"pack_id" minLength:"1" maxLength:"64" doc:"A pack id from GET /v1/coin-packs, e.g. eur-7000"`
		Provider      string `json:"provider,omitempty" maxLength:"32" doc:"sandbox (the default), or stripe when the server is configured for it (400 validation_failed otherwise)"`
		PaymentMethod string `json:"payment_method,omitempty" maxLength:"64" doc:"Sandbox: a test card, 4242424242424242 (succeeds), 4000000000000002 (declined, 402 payment_declined) or 4000000000000259 (succeeds, charged back later). Stripe: checkout, or nothing (the buyer pays on Stripe's page at checkout_url)"`
	}
}

type purchaseBody struct {
	ID        string                `json:"id"`
	PackID    string                `json:"pack_id"`
	Coins     fanfare.Amount        `json:"coins"`
	Currency  string                `json:"currency"`
	Amount    fanfare.Amount        `json:"amount" doc:"The price, in minor units of the currency"`
	Provider  string                `json:"provider"`
	Status    wallet.PurchaseStatus `json:"status" enum:"pending,paid,failed,refunded,charged_back"`
	CreatedAt time.Time             `json:"created_at"`
	Balance   fanfare.Amount        `json:"balance" doc:"The buyer's coins right after this purchase was credited"`
	// CheckoutURL is where the client sends the buyer of a pending
	// Stripe purchase.
	CheckoutURL string `json:"checkout_url,omitempty" doc:"Stripe: the Checkout page where the buyer pays this pending purchase; the coins are credited when Stripe reports the payment"`
}

type purchaseOutput struct {
	Replayed string `header:"Idempotent-Replayed" doc:"true when this answers an earlier request with the same Idempotency-Key"`
	Body     purchaseBody
}

type refundInput struct {
	ID             string `path:"id" maxLength:"64" doc:"The purchase id"`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Required. A replay with the same key returns the refund and moves nothing."`
}

type refundBody struct {
	Purchase refundedPurchaseBody `json:"purchase" doc:"The purchase, now refunded"`
	OpID     string               `json:"op_id" doc:"The ledger operation that took the coins back"`
	Balance  fanfare.Amount       `json:"balance" doc:"The buyer's coins right after the refund"`
	Cash     cashRefundBody       `json:"cash_refund" doc:"Where the money stands"`
}

// refundedPurchaseBody is a purchase as a refund's answer shows it: without
// the balance it left, which the refund's own balance replaces.
type refundedPurchaseBody struct {
	ID        string                `json:"id"`
	PackID    string                `json:"pack_id"`
	Coins     fanfare.Amount        `json:"coins"`
	Currency  string                `json:"currency"`
	Amount    fanfare.Amount        `json:"amount" doc:"The price, in minor units of the currency"`
	Provider  string                `json:"provider"`
	Status    wallet.PurchaseStatus `json:"status" enum:"pending,paid,failed,refunded,charged_back"`
	CreatedAt time.Time             `json:"created_at"`
}

type cashRefundBody struct {
	Status      string `json:"status" enum:"pending,sent" doc:"sent: the provider accepted the refund; pending: the provider could not be reached yet, it is asked again until it does"`
	ProviderRef string `json:"provider_ref,omitempty" doc:"The provider's refund, once sent"`
}

type refundOutput struct {
	Replayed string `header:"Idempotent-Replayed" doc:"true when this answers an earlier request with the same Idempotency-Key"`
	Body     refundBody
}

func newRefundedPurchaseBody(p *wallet.Purchase) refundedPurchaseBody {
	return refundedPurchaseBody{ID: p.ID, PackID: p.PackID, Coins: p.Coins, Currency: p.Currency, Amount: p.Amount,
		Provider: p.Provider, Status: p.Status, CreatedAt: p.CreatedAt}
}

func newPurchaseBody(p *wallet.Purchase) purchaseBody {
	return purchaseBody{
		ID:        p.ID,
		PackID:    p.PackID,
		Coins:     p.Coins,
		Currency:  p.Currency,
		Amount:    p.Amount,
		Provider:  p.Provider,
		Status:    p.Status,
		CreatedAt: p.CreatedAt,
		Balance:   p.Balance,
		// Once paid, the page has no use any more.
		CheckoutURL: checkoutURL(p),
	}
}

func checkoutURL(p *wallet.Purchase) string {
	if p.Status != wallet.PurchasePending {
		return ""
	}
	return p.CheckoutURL
}

func (s *Server) registerPurchases() {
	register(s, user, huma.Operation{
		OperationID: "buyCoins",
		Method:      http.MethodPost,
		Path:        "/v1/purchases",
		Summary:     "Buy a coin pack",
		Description: "Charges the pack's price through the provider and credits its coins once. A declined payment records a failed purchase and answers 402 payment_declined. " +
			"With provider stripe the purchase stays pending and checkout_url names Stripe's Checkout page, where the client sends the buyer; the coins are credited when Stripe's signed event arrives at POST /v1/webhooks/stripe.",
		Tags: []string{"wallet"},
		// 201 also for a purchase that a provider leaves pending (a hosted
		// checkout); the sandbox always settles at once.
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusPaymentRequired, http.StatusConflict},
	}, func(ctx context.Context, in *purchaseInput) (*purchaseOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		p, err := s.wallet.Buy(ctx, a, wallet.PurchaseInput{
			PackID:        in.Body.PackID,
			Provider:      in.Body.Provider,
			PaymentMethod: in.Body.PaymentMethod,
		}, in.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		out := &purchaseOutput{Body: newPurchaseBody(p)}
		if p.Replayed {
			out.Replayed = "true"
		}
		return out, nil
	})

	register(s, user, huma.Operation{
		OperationID: "refundPurchase",
		Method:      http.MethodPost,
		Path:        "/v1/purchases/{id}/refund",
		Summary:     "Refund a coin purchase in cash",
		Description: "Within 14 days of payment, and only while the pack's coins are unspent, takes the coins back and marks the purchase refunded. " +
			"409 deadline_passed after 14 days, 409 insufficient_funds when the coins were spent, 409 invalid_state when the purchase is not paid (for example already refunded); another user's purchase is 404 not_found.",
		Tags:   []string{"wallet"},
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *refundInput) (*refundOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, err := s.wallet.Refund(ctx, a, in.ID, in.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		out := &refundOutput{Body: refundBody{Purchase: newRefundedPurchaseBody(r.Purchase), OpID: r.OpID, Balance: r.Balance}}
		if r.Cash != nil {
			out.Body.Cash = cashRefundBody{Status: r.Cash.Status, ProviderRef: r.Cash.ProviderRef}
		}
		if r.Replayed {
			out.Replayed = "true"
		}
		return out, nil
	})
}
