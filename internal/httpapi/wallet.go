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
		UserID string `json:"user_id" minLength:"1" maxLength:"64" doc:"The user's id or handle"`
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

type walletInput struct {
	Currency string `query:"currency" maxLength:"3" doc:"Currency of fiat_value (default: the user's region's, else EUR)"`
}

type spendLimitBody struct {
	DailyCoins        fanfare.Amount  `json:"daily_coins" doc:"The daily coin-spend limit in force; 0 when there is none"`
	DefaultDailyCoins fanfare.Amount  `json:"default_daily_coins" doc:"The platform's limit: the limit of those who set none, and the most anyone may set (0: none)"`
	SelfSet           bool            `json:"self_set" doc:"true when the user chose the limit in force"`
	PendingDailyCoins *fanfare.Amount `json:"pending_daily_coins,omitempty" doc:"A raise waiting 24 hours before it takes effect (0: back to the platform's limit)"`
	PendingAt         *time.Time      `json:"pending_at,omitempty" doc:"When the pending raise takes effect"`
	SpentToday        fanfare.Amount  `json:"spent_today" doc:"Coins spent on creators today (UTC)"`
	LeftToday         *fanfare.Amount `json:"left_today" doc:"Coins that may still be spent today; null without a limit"`
	ResetsAt          time.Time       `json:"resets_at" doc:"When today's count starts again (00:00 UTC)"`
}

func newSpendLimitBody(l *wallet.SpendLimit) spendLimitBody {
	b := spendLimitBody{
		DailyCoins:        l.Daily,
		DefaultDailyCoins: l.Default,
		SelfSet:           l.Self,
		SpentToday:        l.SpentToday,
		ResetsAt:          l.Day.Add(24 * time.Hour),
	}
	if !l.PendingAt.IsZero() {
		pending, at := l.Pending, l.PendingAt.UTC()
		b.PendingDailyCoins, b.PendingAt = &pending, &at
	}
	if !l.Unlimited() {
		left := l.LeftToday
		b.LeftToday = &left
	}
	return b
}

type walletOutput struct {
	Body struct {
		Coins     fanfare.Amount `json:"coins"`
		Diamonds  fanfare.Amount `json:"diamonds"`
		Frozen    bool           `json:"frozen" doc:"A frozen wallet cannot spend until its balance is settled"`
		Currency  string         `json:"currency" doc:"Currency of fiat_value"`
		FiatValue fanfare.Amount `json:"fiat_value" doc:"What the coins are worth at the platform's reference rate, in minor units of currency"`
		CanSpend  bool           `json:"can_spend" doc:"Whether the user may spend coins on creators now"`
		// Why not, when can_spend is false.
		CannotSpendCode string         `json:"cannot_spend_code,omitempty" doc:"not_eligible (under 18) or wallet_frozen"`
		CannotSpend     string         `json:"cannot_spend,omitempty" doc:"Why the user cannot spend, in words"`
		SpendLimit      spendLimitBody `json:"spend_limit"`
	}
}

type spendLimitOutput struct {
	Body spendLimitBody
}

type setSpendLimitInput struct {
	Body struct {
		DailyCoins fanfare.Amount `json:"daily_coins" minimum:"0" maximum:"9007199254740991" doc:"The new daily limit; 0 goes back to the platform's limit. Lower takes effect at once, higher after 24 hours."`
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
		// The handle is resolved first, so that a replay naming the user
		// by id or by handle is the same request.
		u, err := s.accounts.Resolve(ctx, in.Body.UserID)
		if err != nil {
			return nil, err
		}
		g, err := s.wallet.Grant(ctx, a, wallet.GrantInput{
			UserID: u.ID,
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
	}, func(ctx context.Context, in *walletInput) (*walletOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		o, err := s.wallet.Overview(ctx, a.UserID, in.Currency)
		if err != nil {
			return nil, err
		}
		out := &walletOutput{}
		b := &out.Body
		b.Coins, b.Diamonds, b.Frozen = o.Coins, o.Diamonds, o.Frozen
		b.Currency, b.FiatValue = o.Currency, o.FiatValue
		b.CanSpend, b.CannotSpendCode, b.CannotSpend = o.CannotSpendCode == "", o.CannotSpendCode, o.CannotSpend
		b.SpendLimit = newSpendLimitBody(o.Limit)
		return out, nil
	})

	register(s, user, huma.Operation{
		OperationID: "mySpendLimit",
		Method:      http.MethodGet,
		Path:        "/v1/me/spend-limit",
		Summary:     "The logged-in user's daily spend limit and what is left today",
		Tags:        []string{"wallet"},
	}, func(ctx context.Context, _ *struct{}) (*spendLimitOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		l, err := s.wallet.SpendLimit(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		return &spendLimitOutput{Body: newSpendLimitBody(l)}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "setMySpendLimit",
		Method:      http.MethodPut,
		Path:        "/v1/me/spend-limit",
		Summary:     "Set the logged-in user's daily coin-spend limit",
		Description: "A lower limit takes effect at once; a higher one (or 0, back to the platform's limit) after 24 hours. The limit can be at most the platform's.",
		Tags:        []string{"wallet"},
		Errors:      []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *setSpendLimitInput) (*spendLimitOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		l, err := s.wallet.SetSpendLimit(ctx, a, in.Body.DailyCoins)
		if err != nil {
			return nil, err
		}
		return &spendLimitOutput{Body: newSpendLimitBody(l)}, nil
	})
}
