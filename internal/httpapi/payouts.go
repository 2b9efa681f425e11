package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payout"
)

type requestPayoutInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Required. A replay with the same key and body returns the payout and moves nothing; the same key with another body is refused (409 idempotency_conflict)."`
	Body           struct {
		Diamonds int64  `json:"diamonds" minimum:"1" doc:"Diamonds to withdraw: at least the minimum, at most the withdrawable ones and what is left of the day's maximum"`
		Currency string `json:"currency" minLength:"3" maxLength:"3" doc:"A currency with a payout rate (GET /v1/me/payout-account lists them)"`
	}
}

type payoutOutput struct {
	Replayed string `header:"Idempotent-Replayed" doc:"true when this answers an earlier request with the same Idempotency-Key"`
	Body     *payout.Payout
}

type payoutsInput struct {
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page; empty for the newest"`
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Payouts per page (default 20)"`
}

type payoutsOutput struct {
	Body *payout.PayoutPage
}

type payoutAccountOutput struct {
	Body *payout.PayoutAccount
}

type sandboxAccountInput struct {
	Body struct {
		AccountNumber string `json:"account_number" minLength:"4" maxLength:"17" doc:"The sandbox account number, 4 to 17 digits; 000111111116 fails every payout"`
	}
}

type onboardingOutput struct {
	Body *payout.PayoutOnboarding
}

type payoutHoldInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The user's id or handle"`
	Body struct {
		Held   bool   `json:"held" doc:"true holds the creator's payouts, false releases them"`
		Reason string `json:"reason" minLength:"1" maxLength:"200" doc:"Why; the creator reads it while held, and it is written to the audit log"`
	}
}

type payoutHoldOutput struct {
	Body *payout.PayoutHold
}

func (s *Server) registerPayouts() {
	if s.payouts == nil {
		return
	}
	register(s, user, huma.Operation{
		OperationID: "requestPayout",
		Method:      http.MethodPost,
		Path:        "/v1/me/payouts",
		Summary:     "Withdraw diamonds to money",
		Description: "Withdraws `diamonds` of the logged-in creator's withdrawable diamonds (those earned at least the hold window ago) " +
			"to money in `currency` at its payout rate, rounded down to the cent. The diamonds are set aside at once (state `requested`); " +
			"the payout provider is then called in the background, retried with backoff while it fails, and the payout becomes `paid`, " +
			"or `failed` with the diamonds given back. Refusals: below the minimum or a currency without a rate (`validation_failed`), " +
			"more than the withdrawable diamonds (`insufficient_funds`, saying how many are withdrawable and held), above what is left " +
			"of the daily maximum (`payout_limit_exceeded`), a restricted or banned creator (`not_eligible`), an operator's hold " +
			"(`payouts_held`), Stripe without a connected account (`payout_account_required`), diamonds below zero (`wallet_frozen`).",
		Tags:          []string{"payouts"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusConflict},
	}, func(ctx context.Context, in *requestPayoutInput) (*payoutOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r, err := s.payouts.RequestPayout(ctx, a, payout.Request{Diamonds: fanfare.Amount(in.Body.Diamonds), Currency: in.Body.Currency}, in.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		out := &payoutOutput{Body: r.Payout}
		if r.Replayed {
			out.Replayed = "true"
		}
		return out, nil
	})

	register(s, user, huma.Operation{
		OperationID: "myPayouts",
		Method:      http.MethodGet,
		Path:        "/v1/me/payouts",
		Summary:     "The logged-in creator's payouts",
		Description: "Newest first, paged with `cursor`: each payout's diamonds, money, state (`requested`, `paid`, `failed`) and, when failed, why.",
		Tags:        []string{"payouts"},
	}, func(ctx context.Context, in *payoutsInput) (*payoutsOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		p, err := s.payouts.Payouts(ctx, a, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		return &payoutsOutput{Body: p}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "myPayoutAccount",
		Method:      http.MethodGet,
		Path:        "/v1/me/payout-account",
		Summary:     "Where the logged-in creator's payouts go",
		Description: "The provider, whether payouts can be asked (with Stripe, once a connected account exists), the destination (masked), " +
			"an operator's hold and its reason, the minimum, the daily maximum and what is left of it today, the withdrawable and held " +
			"diamonds, and the currencies with their rates.",
		Tags: []string{"payouts"},
	}, func(ctx context.Context, _ *struct{}) (*payoutAccountOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		pa, err := s.payouts.PayoutAccount(ctx, a)
		if err != nil {
			return nil, err
		}
		return &payoutAccountOutput{Body: pa}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "setMyPayoutAccount",
		Method:      http.MethodPut,
		Path:        "/v1/me/payout-account",
		Summary:     "Set the logged-in creator's sandbox account number",
		Description: "With the sandbox provider, payouts go to this test account number (by default one that is paid). " +
			"`000111111116` fails every payout (`no_account`), which gives the diamonds back. With Stripe, use the onboarding instead.",
		Tags:   []string{"payouts"},
		Errors: []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *sandboxAccountInput) (*payoutAccountOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		pa, err := s.payouts.SetSandboxAccount(ctx, a, in.Body.AccountNumber)
		if err != nil {
			return nil, err
		}
		return &payoutAccountOutput{Body: pa}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "startPayoutOnboarding",
		Method:      http.MethodPost,
		Path:        "/v1/me/payout-account/onboarding",
		Summary:     "Connect a Stripe account for payouts",
		Description: "Creates the creator's Stripe Express connected account once and answers a fresh Account Link: the page where " +
			"they complete it, valid until `expires_at`. Stripe sends them back to the web app's /studio/earnings page. " +
			"With the sandbox provider it answers `validation_failed`.",
		Tags:          []string{"payouts"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest},
	}, func(ctx context.Context, _ *struct{}) (*onboardingOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		base := ""
		if st := stateFrom(ctx); st != nil {
			base = st.base
		}
		o, err := s.payouts.Onboard(ctx, a, base)
		if err != nil {
			return nil, err
		}
		return &onboardingOutput{Body: o}, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "setPayoutHold",
		Method:      http.MethodPut,
		Path:        "/v1/admin/users/{id}/payout-hold",
		Summary:     "Operator: hold or release a creator's payouts",
		Description: "While held the creator cannot withdraw (`payouts_held`, with the reason) and their payouts still requested wait; " +
			"a release sends them. The change and its reason are written to the audit log.",
		Tags:   []string{"payouts", "operator"},
		Errors: []int{http.StatusBadRequest, http.StatusNotFound},
	}, func(ctx context.Context, in *payoutHoldInput) (*payoutHoldOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		u, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		h, err := s.payouts.SetHold(ctx, a, u.ID, in.Body.Held, in.Body.Reason)
		if err != nil {
			return nil, err
		}
		return &payoutHoldOutput{Body: h}, nil
	})
}
