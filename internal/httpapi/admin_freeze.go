package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
)

type freezeInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The user's id or handle"`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"200" doc:"Why; the user reads it on a freeze, and it is written to the audit log"`
	}
}

type freezeBody struct {
	UserID   string     `json:"user_id"`
	Frozen   bool       `json:"frozen" doc:"Whether an operator's freeze is in force now"`
	Reason   string     `json:"reason,omitempty" doc:"The freeze's reason, shown to the user"`
	FrozenBy string     `json:"frozen_by,omitempty" doc:"Who froze it: a user id, or the API key"`
	FrozenAt *time.Time `json:"frozen_at,omitempty"`
}

type freezeOutput struct {
	Body freezeBody
}

func (s *Server) registerFreeze() {
	register(s, operator, huma.Operation{
		OperationID: "freezeWallet",
		Method:      http.MethodPost,
		Path:        "/v1/admin/users/{id}/freeze",
		Summary:     "Operator: freeze a user's coin wallet",
		Description: "The wallet can no longer spend (wallet_frozen) until it is unfrozen; buying and receiving coins still work. " +
			"The user sees the reason; the freeze and its reason are written to the audit log. A wallet already frozen by an operator answers 409 conflict.",
		Tags:   []string{"wallet", "operator"},
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *freezeInput) (*freezeOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		u, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		f, err := s.wallet.Freeze(ctx, a, u.ID, in.Body.Reason)
		if err != nil {
			return nil, err
		}
		at := f.FrozenAt.UTC()
		return &freezeOutput{Body: freezeBody{UserID: f.UserID, Frozen: true, Reason: f.Reason, FrozenBy: f.Actor, FrozenAt: &at}}, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "unfreezeWallet",
		Method:      http.MethodPost,
		Path:        "/v1/admin/users/{id}/unfreeze",
		Summary:     "Operator: lift the freeze of a user's coin wallet",
		Description: "The reason for lifting it is written to the audit log. A wallet not frozen by an operator answers 409 conflict; " +
			"a wallet whose balance is below zero after a chargeback still cannot spend until it is settled.",
		Tags:   []string{"wallet", "operator"},
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *freezeInput) (*freezeOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		u, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		if err := s.wallet.Unfreeze(ctx, a, u.ID, in.Body.Reason); err != nil {
			return nil, err
		}
		return &freezeOutput{Body: freezeBody{UserID: u.ID, Frozen: false}}, nil
	})
}
