package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payout"
)

type earningsInput struct {
	From     string `query:"from" doc:"The first UTC day, YYYY-MM-DD (default: 29 days before to)"`
	To       string `query:"to" doc:"The last UTC day, YYYY-MM-DD (default: today)"`
	Currency string `query:"currency" maxLength:"3" doc:"Currency of the fiat values, one with a payout rate (default: the user's region's, else the first with a rate)"`
}

type earningsOutput struct {
	Body *payout.Earnings
}

// date reads a YYYY-MM-DD query parameter; empty is the zero time.
func date(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fanfare.Errorf(fanfare.EInvalid, "%s: want a date as YYYY-MM-DD, got %q", name, v)
	}
	return t, nil
}

func (s *Server) registerEarnings() {
	if s.payouts == nil {
		return
	}
	register(s, user, huma.Operation{
		OperationID: "myEarnings",
		Method:      http.MethodGet,
		Path:        "/v1/me/earnings",
		Summary:     "The logged-in creator's earnings",
		Description: "Diamonds by feature (gifts, tips, shoutouts, subscriptions, other) and by UTC day, with what was taken back " +
			"(refunded shoutouts, clawbacks), their value at the payout rate, the last 7, 30 and 90 days, " +
			"and the diamond balance split into withdrawable and held (each held part with the day it frees). " +
			"Read from the ledger's daily totals, which `fanfare verify` checks against the transfers. At most 366 days at once.",
		Tags: []string{"earnings"},
	}, func(ctx context.Context, in *earningsInput) (*earningsOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		from, err := date("from", in.From)
		if err != nil {
			return nil, err
		}
		to, err := date("to", in.To)
		if err != nil {
			return nil, err
		}
		e, err := s.payouts.Earnings(ctx, a, payout.EarningsInput{From: from, To: to, Currency: in.Currency})
		if err != nil {
			return nil, err
		}
		return &earningsOutput{Body: e}, nil
	})
}
