package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/subscription"
)

type preferencesBody struct {
	AcceptGiftedSubscriptions bool `json:"accept_gifted_subscriptions" doc:"Others in a LIVE may gift this user a subscription to its creator (off by default)"`
	AnonymousSupport          bool `json:"anonymous_support" doc:"This user shows as \"Anonymous\" in the supporter lists of the creators they support (off by default)"`
}

type preferencesOutput struct {
	Body preferencesBody
}

type setPreferencesInput struct {
	Body struct {
		AcceptGiftedSubscriptions *bool `json:"accept_gifted_subscriptions,omitempty" doc:"Absent: unchanged"`
		AnonymousSupport          *bool `json:"anonymous_support,omitempty" doc:"Absent: unchanged"`
	}
}

// preferences reads the caller's preferences from the services that
// keep them.
func (s *Server) preferences(ctx context.Context, userID string) (*preferencesOutput, error) {
	out := &preferencesOutput{}
	if s.subs != nil {
		p, err := s.subs.Preferences(ctx, userID)
		if err != nil {
			return nil, err
		}
		out.Body.AcceptGiftedSubscriptions = p.AcceptGiftedSubscriptions
	}
	if s.payouts != nil {
		on, err := s.payouts.AnonymousSupport(ctx, userID)
		if err != nil {
			return nil, err
		}
		out.Body.AnonymousSupport = on
	}
	return out, nil
}

func (s *Server) registerPreferences() {
	if s.subs == nil && s.payouts == nil {
		return
	}
	register(s, user, huma.Operation{
		OperationID: "myPreferences",
		Method:      http.MethodGet,
		Path:        "/v1/me/preferences",
		Summary:     "The caller's preferences",
		Tags:        []string{"preferences"},
	}, func(ctx context.Context, _ *struct{}) (*preferencesOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		return s.preferences(ctx, a.UserID)
	})

	register(s, user, huma.Operation{
		OperationID: "setPreferences",
		Method:      http.MethodPut,
		Path:        "/v1/me/preferences",
		Summary:     "Change the caller's preferences; a field left out stays as it is",
		Description: "`accept_gifted_subscriptions` (off by default) lets other viewers of a LIVE gift the caller a subscription to its creator. " +
			"`anonymous_support` (off by default) shows the caller as \"Anonymous\", without id or handle, in the supporter lists of the creators they support.",
		Tags: []string{"preferences"},
	}, func(ctx context.Context, in *setPreferencesInput) (*preferencesOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		if v := in.Body.AcceptGiftedSubscriptions; v != nil {
			if s.subs == nil {
				return nil, fanfare.Errorf(fanfare.EInvalid, "accept_gifted_subscriptions: LIVE Subscription is off on this server")
			}
			if _, err := s.subs.SetPreferences(ctx, a, subscription.PreferencesInput{AcceptGiftedSubscriptions: v}); err != nil {
				return nil, err
			}
		}
		if v := in.Body.AnonymousSupport; v != nil {
			if s.payouts == nil {
				return nil, fanfare.Errorf(fanfare.EInvalid, "anonymous_support: earnings are off on this server")
			}
			if err := s.payouts.SetAnonymousSupport(ctx, a, *v); err != nil {
				return nil, err
			}
		}
		return s.preferences(ctx, a.UserID)
	})
}

type supportersInput struct {
	Sort   string `query:"sort" maxLength:"16" doc:"total (most coins given first, the default) or recent (most recent support first)"`
	Cursor string `query:"cursor" maxLength:"128" doc:"next_cursor of the previous page (of the same sort); empty for the first"`
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Supporters per page, 1 to 100 (default 50)"`
	Q      string `query:"q" maxLength:"64" doc:"Keeps the fans whose handle or display name contains this (anonymous fans never match)"`
}

type supportersOutput struct {
	Body *payout.SupportersPage
}

func (s *Server) registerSupporters() {
	if s.payouts == nil {
		return
	}
	register(s, user, huma.Operation{
		OperationID: "mySupporters",
		Method:      http.MethodGet,
		Path:        "/v1/me/supporters",
		Summary:     "The logged-in creator's supporters",
		Description: "Every fan who ever gave the creator coins, through any feature: total coins given and by feature " +
			"(a refunded shoutout taken off), the diamonds they earned the creator, first and last support, the fan's open subscription " +
			"(state, tier, since, tenure in months) and the shoutouts they ordered. A fan who chose `anonymous_support` shows as " +
			"\"Anonymous\" without id or handle. Read from the ledger's supporter totals, which `fanfare verify` checks against the transfers.",
		Tags:   []string{"earnings"},
		Errors: []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *supportersInput) (*supportersOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		p, err := s.payouts.Supporters(ctx, a, payout.SupportersInput{Sort: in.Sort, Cursor: in.Cursor, Limit: in.Limit, Query: in.Q})
		if err != nil {
			return nil, err
		}
		return &supportersOutput{Body: p}, nil
	})

	register(s, user, huma.Operation{
		OperationID: "mySupportersCSV",
		Method:      http.MethodGet,
		Path:        "/v1/me/supporters.csv",
		Summary:     "Every supporter of the logged-in creator, as CSV",
		Description: "One header row, then one row per fan by total given, with the fields of `GET /v1/me/supporters`. " +
			"A cell a spreadsheet would read as a formula (beginning with =, +, -, @, a tab or a carriage return) starts with a single quote.",
		Tags: []string{"earnings"},
		Responses: map[string]*huma.Response{
			"200": {Description: "The supporters, as a file to save", Content: map[string]*huma.MediaType{
				"text/csv": {Schema: &huma.Schema{Type: huma.TypeString}},
			}},
		},
	}, func(ctx context.Context, _ *struct{}) (*huma.StreamResponse, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		if a.UserID == "" {
			return nil, fanfare.Errorf(fanfare.EForbidden, "supporters are a logged-in user's")
		}
		return &huma.StreamResponse{Body: func(hc huma.Context) {
			hc.SetHeader("Content-Type", "text/csv; charset=utf-8")
			hc.SetHeader("Content-Disposition", `attachment; filename="supporters.csv"`)
			hc.SetStatus(http.StatusOK)
			// Once the first row is out, a failure can only cut the file
			// short: the client sees a truncated download.
			_ = s.payouts.ExportSupporters(hc.Context(), a, hc.BodyWriter())
		}}, nil
	})
}
