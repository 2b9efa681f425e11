package payment

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/fanfarehq/fanfare"
)

// StripePayouts pays creators through Stripe Connect: a transfer from the
// platform's balance to the creator's connected (Express) account, which
// the creator opens through an Account Link.
type StripePayouts struct {
	client *stripe.Client
}

// NewStripePayouts returns Stripe's payout provider on the API at apiBase
// (DefaultStripeAPIBase if empty) with secretKey; httpClient may be nil.
func NewStripePayouts(secretKey, apiBase string, httpClient *http.Client) (*StripePayouts, error) {
	if secretKey == "" {
		return nil, errors.New("stripe payouts: the secret key is required")
	}
	if apiBase == "" {
		apiBase = DefaultStripeAPIBase
	}
	if u, err := url.Parse(apiBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("stripe payouts: the API base %q is not an http(s) URL", apiBase)
	}
	cfg := &stripe.BackendConfig{
		URL:           stripe.String(strings.TrimRight(apiBase, "/")),
		HTTPClient:    httpClient,
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	return &StripePayouts{client: stripe.NewClient(secretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(cfg)))}, nil
}

// Name returns "stripe".
func (*StripePayouts) Name() string { return StripeName }

// PayoutIdempotencyKey is the Stripe Idempotency-Key of a payout's
// transfer: sending the same payout again returns the same transfer.
func PayoutIdempotencyKey(payoutID string) string { return "payout-" + payoutID }

// Send transfers amount minor units of currency to the connected account
// destination for payout id, keyed by PayoutIdempotencyKey(id), and
// returns the transfer's id.
//
// Codes: payment_declined (Stripe refused the transfer: a permanent
// failure, its message the reason), unavailable (Stripe could not be
// reached, failed or limited the rate: try again with the same payout).
func (s *StripePayouts) Send(ctx context.Context, id string, amount fanfare.Amount, currency, destination string) (string, error) {
	params := &stripe.TransferCreateParams{
		Amount:        stripe.Int64(int64(amount)),
		Currency:      stripe.String(strings.ToLower(currency)),
		Destination:   stripe.String(destination),
		TransferGroup: stripe.String("payout-" + id),
		Metadata:      map[string]string{"payout_id": id},
	}
	params.SetIdempotencyKey(PayoutIdempotencyKey(id))
	tr, err := s.client.V1Transfers.Create(ctx, params)
	if err != nil {
		return "", payoutError("create transfer", err)
	}
	if tr.ID == "" {
		return "", fmt.Errorf("stripe: create transfer: the answer has no transfer id")
	}
	return tr.ID, nil
}

// CreateAccount opens an Express connected account for userID, keyed by
// the user, so that a second call returns the same account.
//
// Codes: unavailable. Other refusals are internal errors.
func (s *StripePayouts) CreateAccount(ctx context.Context, userID string) (string, error) {
	params := &stripe.AccountCreateParams{
		Type:     stripe.String("express"),
		Metadata: map[string]string{"user_id": userID},
		Capabilities: &stripe.AccountCreateCapabilitiesParams{
			Transfers: &stripe.AccountCreateCapabilitiesTransfersParams{Requested: stripe.Bool(true)},
		},
	}
	params.SetIdempotencyKey("fanfare-account-" + userID)
	a, err := s.client.V1Accounts.Create(ctx, params)
	if err != nil {
		return "", apiError("create account", err)
	}
	if a.ID == "" {
		return "", fmt.Errorf("stripe: create account: the answer has no account id")
	}
	return a.ID, nil
}

// AccountLink returns a fresh onboarding link of connected account
// accountID and when it expires.
//
// Codes: unavailable. Other refusals are internal errors.
func (s *StripePayouts) AccountLink(ctx context.Context, accountID, refreshURL, returnURL string) (string, time.Time, error) {
	l, err := s.client.V1AccountLinks.Create(ctx, &stripe.AccountLinkCreateParams{
		Account:    stripe.String(accountID),
		RefreshURL: stripe.String(refreshURL),
		ReturnURL:  stripe.String(returnURL),
		Type:       stripe.String("account_onboarding"),
	})
	if err != nil {
		return "", time.Time{}, apiError("create account link", err)
	}
	if l.URL == "" {
		return "", time.Time{}, fmt.Errorf("stripe: create account link: the answer has no url")
	}
	return l.URL, time.Unix(l.ExpiresAt, 0).UTC(), nil
}

// payoutError classifies a failed transfer: Stripe's refusals (4xx but
// 429) are permanent, payment_declined; anything else may pass on a retry
// with the same key, unavailable.
func payoutError(what string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) && se.HTTPStatusCode > 0 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != http.StatusTooManyRequests {
		return fanfare.Errorf(fanfare.EPaymentDeclined, "%s: stripe refused the transfer (%d %s): %s", firstNonEmpty(string(se.Code), string(se.Type)), se.HTTPStatusCode, se.Type, se.Msg)
	}
	return fmt.Errorf("stripe: %s: %v: %w", what, err, fanfare.Errorf(fanfare.EUnavailable, "the payout provider is unavailable"))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
