package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

type grantInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Required. A replay with the same key and body returns the first answer and moves nothing; the same key with another body is refused (409 idempotency_conflict)."`
	Body           struct {
		UserID string `json:"user_id" minLength:"1" maxLength:"64"`
		// The schema bound is fanfare.MaxAmount (2^53-1): huma checks
		// numbers as float64, which hold every integer up to 2^53 exactly,
		// so anything larger, or with a fraction, fails validation.
		Coins  fanfare.Amount `json:"coins" minimum:"1" maximum:"9007199254740991" doc:"At most 1,000,000,000 per grant"`
		Reason string         `json:"reason" minLength:"1" maxLength:"200"`
	}
}

type grantBody struct {
	ID        string         `json:"id" doc:"The ledger operation id"`
	UserID    string         `json:"user_id"`
	Coins     fanfare.Amount `json:"coins"`
	Reason    string         `json:"reason"`
	Balance   fanfare.Amount `json:"balance" doc:"The user's coins right after the grant"`
	CreatedAt time.Time      `json:"created_at"`
}

type grantOutput struct {
	Replayed string `header:"Idempotent-Replayed" doc:"true when this answers an earlier request with the same Idempotency-Key"`
	Body     grantBody
}

type walletOutput struct {
	Body struct {
		Coins    fanfare.Amount `json:"coins"`
		Diamonds fanfare.Amount `json:"diamonds"`
		Frozen   bool           `json:"frozen" doc:"A frozen wallet cannot spend until its balance is settled"`
	}
}

func (s *Server) registerWallet() {
	register(s, operator, huma.Operation{
		OperationID:   "grantCoins",
		Method:        http.MethodPost,
		Path:          "/v1/admin/grants",
		Summary:       "Operator: grant promotional coins to a user",
		Description:   "Moves coins from the platform's promotions account to the user. The reason is written to the audit log.",
		Tags:          []string{"wallet", "operator"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *grantInput) (*grantOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		g, err := s.wallet.Grant(ctx, a, wallet.GrantInput{
			UserID: in.Body.UserID,
			Coins:  in.Body.Coins,
			Reason: in.Body.Reason,
		}, in.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		out := &grantOutput{Body: grantBody{
			ID:        g.ID,
			UserID:    g.UserID,
			Coins:     g.Coins,
			Reason:    g.Reason,
			Balance:   g.Balance,
			CreatedAt: g.CreatedAt.UTC(),
		}}
		if g.Replayed {
			out.Replayed = "true"
		}
		return out, nil
	})

	register(s, user, huma.Operation{
		OperationID: "myWallet",
		Method:      http.MethodGet,
		Path:        "/v1/me/wallet",
		Summary:     "The logged-in user's wallet",
		Tags:        []string{"wallet"},
	}, func(ctx context.Context, _ *struct{}) (*walletOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		w, err := s.wallet.Wallet(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		out := &walletOutput{}
		out.Body.Coins, out.Body.Diamonds, out.Body.Frozen = w.Coins, w.Diamonds, w.Frozen
		return out, nil
	})
}
