package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

type stripeWebhookInput struct {
	Signature string `header:"Stripe-Signature" doc:"Stripe's signature of the body, t=<unix time>,v1=<HMAC-SHA256 hex>, made with the endpoint's signing secret"`
	// The signature covers the exact bytes Stripe sent: the body is read
	// raw, whatever its Content-Type's parameters (charset=utf-8).
	RawBody []byte `contentType:"application/json"`
}

type webhookBody struct {
	Received   bool               `json:"received" doc:"Always true: the event's signature was checked and the event taken into account"`
	Status     wallet.EventStatus `json:"status" enum:"applied,pending,duplicate,ignored" doc:"applied: the event moved its money or changed its purchase; pending: recorded, it waits for the payment it names to complete; duplicate: delivered before, nothing moved again; ignored: nothing to do"`
	PurchaseID string             `json:"purchase_id,omitempty" doc:"The purchase the event belongs to, once known"`
}

type webhookOutput struct {
	Body webhookBody
}

func (s *Server) registerWebhooks() {
	register(s, public, huma.Operation{
		OperationID: "stripeWebhook",
		Method:      http.MethodPost,
		Path:        "/v1/webhooks/stripe",
		Summary:     "Receive a Stripe event",
		Description: "The endpoint to give Stripe. The Stripe-Signature header must sign the body with the webhook signing secret within 5 minutes (400 signature_invalid otherwise, and nothing is written). " +
			"checkout.session.completed (paid) and checkout.session.async_payment_succeeded credit the purchase's coins; charge.dispute.created claws them back (the wallet may go negative and is frozen until settled); " +
			"charge.dispute.closed as won gives them back; charge.refunded (in full) claws them back. Each event applies once, whatever the replays or their order; other event types answer 200 ignored. " +
			"A completed checkout that is no purchase of this server is 404 not_found, as is this route when Stripe is not configured.",
		Tags:   []string{"wallet"},
		Errors: []int{http.StatusBadRequest, http.StatusNotFound},
		// The body is checked by its signature, then parsed by the
		// provider: huma neither validates nor decodes it.
		SkipValidateBody: true,
	}, func(ctx context.Context, in *stripeWebhookInput) (*webhookOutput, error) {
		r, err := s.wallet.ReceiveWebhook(ctx, wallet.ProviderStripe, in.RawBody, in.Signature)
		if fanfare.ErrorCode(err) == fanfare.ESignatureInvalid {
			// A wrong signing secret shows here first.
			loggerFrom(ctx).LogAttrs(ctx, slog.LevelWarn, "stripe webhook refused", slog.String("reason", fanfare.ErrorMessage(err)))
		}
		if err != nil {
			return nil, err
		}
		if r.Outcome == wallet.OutcomeMismatch {
			loggerFrom(ctx).LogAttrs(ctx, slog.LevelWarn, "stripe payment does not match its purchase: no coins credited",
				slog.String("purchase_id", r.PurchaseID))
		}
		return &webhookOutput{Body: webhookBody{Received: true, Status: r.Status, PurchaseID: r.PurchaseID}}, nil
	})
}
