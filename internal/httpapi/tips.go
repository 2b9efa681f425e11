package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/profile"
	"github.com/fanfarehq/fanfare/internal/tips"
)

type creatorRefInput struct {
	ID string `path:"id" maxLength:"64" doc:"The creator's id or handle"`
}

type profileOutput struct {
	Body *profile.Profile
}

type checklistOutput struct {
	Body struct {
		Features []eligibility.FeatureChecklist `json:"features"`
	}
}

type tipSettingsInput struct {
	Body struct {
		Enabled bool `json:"enabled"`
	}
}

type tipSettingsOutput struct {
	Body *tips.Settings
}

type sendTipInput struct {
	ID             string `path:"id" maxLength:"64" doc:"The creator's id or handle"`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Required. A replay with the same key and body returns the first answer and moves nothing."`
	Body           struct {
		Coins   int64  `json:"coins" minimum:"1" maximum:"9007199254740991" doc:"Between the configured minimum and maximum (10 to 100,000 by default)"`
		Message string `json:"message,omitempty" maxLength:"2000" doc:"At most 150 characters"`
	}
}

type sendTipOutput struct {
	Replayed string `header:"Idempotent-Replayed"`
	Body     struct {
		tips.Tip
		OpID      string         `json:"op_id"`
		FiatValue moneyBody      `json:"fiat_value" doc:"What the coins are worth at the reference rate of the fan's currency"`
		Balance   fanfare.Amount `json:"balance" doc:"The fan's coins right after"`
	}
}

type tipPageInput struct {
	Cursor string `query:"cursor" maxLength:"200"`
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"1 to 100; default 20"`
}

type tipPageOutput struct {
	Body *tips.Page
}

type rulesOutput struct {
	Body struct {
		Rules   []eligibility.Rule            `json:"rules"`
		Changes map[string]eligibility.Change `json:"changes" doc:"The last change of each rule the operator changed: when and by whom"`
	}
}

type setRuleInput struct {
	Feature string `path:"feature" maxLength:"32"`
	Body    eligibility.Rule
}

type ruleOutput struct {
	Body eligibility.Rule
}

// fiatValue is what coins are worth at the reference rate of fan's
// currency.
func (s *Server) fiatValue(fan *fanfare.User, coins fanfare.Amount) (moneyBody, error) {
	cur := s.wallet.Catalog().CurrencyFor(fan.Region)
	v, err := s.wallet.Catalog().FiatValue(cur, coins)
	if err != nil {
		return moneyBody{}, err
	}
	return moneyBody{Currency: cur, Amount: v}, nil
}

func (s *Server) registerTips() {
	register(s, optional, huma.Operation{
		OperationID: "creatorProfile",
		Method:      http.MethodGet,
		Path:        "/v1/creators/{id}",
		Summary:     "A creator's public profile, and what the caller may do there",
		Description: "`id` is the creator's id or handle. `actions` lists tip, shoutout, subscribe and join_live for the caller (logged in or not): `available`, `unavailable` with the reasons (each a code and a sentence), or `hidden` (one's own profile, a feature the creator does not offer, a feature not in this release: reason `not_released`, no LIVE). The creator's standing and age are private: other callers read one reason `unavailable` in their place; the creator and the operator read them.",
		Tags:        []string{"creators"},
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *creatorRefInput) (*profileOutput, error) {
		c, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		var viewer profile.Viewer
		if a, ok := fanfare.ActorFromContext(ctx); ok {
			viewer.Operator = a.IsOperator()
			if a.UserID != "" {
				if viewer.User, err = s.accounts.ByID(ctx, a.UserID); err != nil {
					return nil, err
				}
			}
		}
		p, err := s.profiles.For(ctx, viewer, c)
		if err != nil {
			return nil, err
		}
		return &profileOutput{Body: p}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "myEligibility",
		Method:      http.MethodGet,
		Path:        "/v1/me/eligibility",
		Summary:     "The logged-in creator's monetization checklist",
		Description: "Every feature (live, gifts, tips, shoutouts, subscriptions) with each requirement, met or not, and where the creator stands when not. A feature not in this release has `released: false` and is never `eligible`.",
		Tags:        []string{"creators"},
	}, func(ctx context.Context, _ *struct{}) (*checklistOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		u, err := s.accounts.ByID(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		cl, err := s.profiles.Checklist(ctx, u)
		if err != nil {
			return nil, err
		}
		out := &checklistOutput{}
		out.Body.Features = cl
		return out, nil
	})

	register(s, user, huma.Operation{
		OperationID: "myTipSettings",
		Method:      http.MethodGet,
		Path:        "/v1/me/tip-settings",
		Summary:     "The logged-in creator's Tips switch, and whether they meet the rules",
		Tags:        []string{"tips"},
	}, func(ctx context.Context, _ *struct{}) (*tipSettingsOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		st, err := s.tips.Settings(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		return &tipSettingsOutput{Body: st}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "setMyTipSettings",
		Method:      http.MethodPut,
		Path:        "/v1/me/tip-settings",
		Summary:     "Turn the logged-in creator's Tips on or off",
		Description: "A creator who does not meet the rules yet may turn Tips on; fans can tip once the rules allow (the answer says what is missing).",
		Tags:        []string{"tips"},
		Errors:      []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *tipSettingsInput) (*tipSettingsOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		st, err := s.tips.SetEnabled(ctx, a, in.Body.Enabled)
		if err != nil {
			return nil, err
		}
		return &tipSettingsOutput{Body: st}, nil
	})

	register(s, user, huma.Operation{
		OperationID:   "sendTip",
		Method:        http.MethodPost,
		Path:          "/v1/creators/{id}/tips",
		Summary:       "Tip a creator",
		Description:   "Spends `coins` (within the configured range) with an optional message of up to 150 characters; the creator receives diamonds at the tips share (all of it by default). If the creator is LIVE, the room sees the tip. Refusals by the rules are `not_eligible` or `region_blocked`, with `reasons`.",
		Tags:          []string{"tips"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *sendTipInput) (*sendTipOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		c, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		sent, err := s.tips.Send(ctx, a, c.ID, fanfare.Amount(in.Body.Coins), in.Body.Message, in.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		out := &sendTipOutput{}
		if sent.Payment.Replayed {
			out.Replayed = "true"
		}
		out.Body.Tip, out.Body.OpID, out.Body.Balance = sent.Tip, sent.Payment.OpID, sent.Payment.Balance
		fan, err := s.accounts.ByID(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		if out.Body.FiatValue, err = s.fiatValue(fan, sent.Tip.Coins); err != nil {
			return nil, err
		}
		return out, nil
	})

	register(s, user, huma.Operation{
		OperationID: "myTipsReceived",
		Method:      http.MethodGet,
		Path:        "/v1/me/tips/received",
		Summary:     "Tips the logged-in creator received, newest first",
		Tags:        []string{"tips"},
		Errors:      []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *tipPageInput) (*tipPageOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		p, err := s.tips.Received(ctx, a.UserID, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		return &tipPageOutput{Body: p}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "myTipsSent",
		Method:      http.MethodGet,
		Path:        "/v1/me/tips/sent",
		Summary:     "Tips the logged-in fan sent, newest first",
		Tags:        []string{"tips"},
		Errors:      []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *tipPageInput) (*tipPageOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		p, err := s.tips.SentBy(ctx, a.UserID, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		return &tipPageOutput{Body: p}, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "eligibilityRules",
		Method:      http.MethodGet,
		Path:        "/v1/admin/eligibility",
		Summary:     "The eligibility rules in force, per feature",
		Tags:        []string{"operator"},
	}, func(ctx context.Context, _ *struct{}) (*rulesOutput, error) {
		rules, err := s.rules.Rules(ctx)
		if err != nil {
			return nil, err
		}
		changes, err := s.rules.Changes(ctx)
		if err != nil {
			return nil, err
		}
		out := &rulesOutput{}
		out.Body.Rules, out.Body.Changes = rules, changes
		return out, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "setEligibilityRule",
		Method:      http.MethodPut,
		Path:        "/v1/admin/eligibility/{feature}",
		Summary:     "Replace a feature's eligibility rule",
		Description: "Takes effect at once on this node and within seconds on the others, without a restart; recorded in the audit log with who, when, and the rule before and after. Empty lists allow everyone.",
		Tags:        []string{"operator"},
		Errors:      []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *setRuleInput) (*ruleOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		r := in.Body
		if r.Feature == "" {
			r.Feature = in.Feature
		}
		if r.Feature != in.Feature {
			return nil, fanfare.Errorf(fanfare.EInvalid, "the body's feature %q is not the path's %q", r.Feature, in.Feature)
		}
		set, err := s.rules.SetRule(ctx, a, r)
		if err != nil {
			return nil, err
		}
		return &ruleOutput{Body: set}, nil
	})
}
