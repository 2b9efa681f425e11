package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/fanfarehq/fanfare"
)

// StripeName is the Stripe provider's name in requests.
const StripeName = "stripe"

// StripeMethod is the Stripe provider's only payment method: Stripe's
// hosted Checkout page.
const StripeMethod = "checkout"

// DefaultStripeAPIBase is where the Stripe API lives unless configured
// otherwise.
const DefaultStripeAPIBase = "https://api.stripe.com"

// PurchasePlaceholder is replaced by the purchase id in the success and
// cancel URLs.
const PurchasePlaceholder = "{purchase}"

// StripeConfig configures the Stripe provider.
type StripeConfig struct {
	// SecretKey authenticates the API calls (sk_test_... or sk_live_...).
	SecretKey string
	// WebhookSecret checks the signature of the events Stripe posts to
	// the webhook endpoint (whsec_...).
	WebhookSecret string
	// APIBase is the API's base URL. Default: DefaultStripeAPIBase.
	APIBase string
	// SuccessURL and CancelURL are where Checkout sends the buyer after
	// paying or giving up; PurchasePlaceholder in them is replaced by the
	// purchase id.
	SuccessURL string
	CancelURL  string
	// HTTPClient makes the API calls. Default: stripe-go's client.
	HTTPClient *http.Client
}

// Stripe takes payments through Stripe Checkout: a charge creates a
// Checkout Session and stays pending until Stripe's signed events (see
// ParseWebhook) report its end.
type Stripe struct {
	client        *stripe.Client
	webhookSecret string
	successURL    string
	cancelURL     string
}

// NewStripe returns the Stripe provider, or an error naming the setting
// that is missing.
func NewStripe(c StripeConfig) (*Stripe, error) {
	switch {
	case c.SecretKey == "":
		return nil, errors.New("stripe: the secret key is required")
	case c.WebhookSecret == "":
		return nil, errors.New("stripe: the webhook signing secret is required")
	case c.SuccessURL == "" || c.CancelURL == "":
		return nil, errors.New("stripe: the success and cancel URLs are required")
	}
	if c.APIBase == "" {
		c.APIBase = DefaultStripeAPIBase
	}
	if u, err := url.Parse(c.APIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("stripe: the API base %q is not an http(s) URL", c.APIBase)
	}
	cfg := &stripe.BackendConfig{
		URL:        stripe.String(strings.TrimRight(c.APIBase, "/")),
		HTTPClient: c.HTTPClient,
		// Failures are returned to the caller, who reports them; the
		// library's own logger would print them a second time.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	return &Stripe{
		client:        stripe.NewClient(c.SecretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(cfg))),
		webhookSecret: c.WebhookSecret,
		successURL:    c.SuccessURL,
		cancelURL:     c.CancelURL,
	}, nil
}

// Name returns "stripe".
func (*Stripe) Name() string { return StripeName }

// NormalizeMethod returns "checkout" for "" or "checkout", or a
// validation_failed error: Stripe is paid on its hosted Checkout page,
// never with card numbers sent to Fanfare.
func (*Stripe) NormalizeMethod(method string) (string, error) {
	switch strings.TrimSpace(method) {
	case "", StripeMethod:
		return StripeMethod, nil
	}
	return "", fanfare.Errorf(fanfare.EInvalid,
		"the stripe provider takes payment_method %q (or none): the buyer pays on Stripe's Checkout page, card numbers are never sent to Fanfare", StripeMethod)
}

// IdempotencyKey is the Stripe Idempotency-Key of the Checkout Session of
// a purchase: asking twice for the same purchase gives the same session.
func IdempotencyKey(purchaseID string) string { return "fanfare-purchase-" + purchaseID }

// Charge creates the Checkout Session of a purchase, keyed by the purchase
// id so that a repeated charge returns the same session, and answers
// Pending with the session id and the page where the buyer pays.
//
// Codes: validation_failed (a payment method other than checkout),
// unavailable (Stripe could not be reached or failed; a retry with the same
// purchase carries on). Other Stripe refusals (a wrong key, a currency
// Stripe does not take) are internal errors.
func (s *Stripe) Charge(ctx context.Context, c Charge) (Outcome, error) {
	if _, err := s.NormalizeMethod(c.Method); err != nil {
		return Outcome{}, err
	}
	meta := map[string]string{"purchase_id": c.PurchaseID}
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		ClientReferenceID: stripe.String(c.PurchaseID),
		SuccessURL:        stripe.String(purchaseURL(s.successURL, c.PurchaseID)),
		CancelURL:         stripe.String(purchaseURL(s.cancelURL, c.PurchaseID)),
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:   stripe.String(strings.ToLower(c.Currency)),
				UnitAmount: stripe.Int64(int64(c.Amount)),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{
					Name: stripe.String(CoinsLabel(c.Coins)),
				},
			},
		}},
		Metadata:          meta,
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{Metadata: meta},
	}
	params.SetIdempotencyKey(IdempotencyKey(c.PurchaseID))
	cs, err := s.client.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return Outcome{}, apiError("create checkout session", err)
	}
	if cs.ID == "" || cs.URL == "" {
		return Outcome{}, fmt.Errorf("stripe: create checkout session: the answer has no session id or url")
	}
	return Outcome{Status: Pending, Ref: cs.ID, CheckoutURL: cs.URL}, nil
}

// RefundPayment refunds a purchase's payment intent in full, with the
// Stripe Idempotency-Key RefundIdempotencyKey(purchase id): asking again
// returns the same refund. It returns the refund's id.
//
// Codes: unavailable (Stripe could not be reached or failed; ask again
// later). Other refusals (a payment already refunded on Stripe, a wrong
// key) are internal errors.
func (s *Stripe) RefundPayment(ctx context.Context, r RefundRequest) (string, error) {
	if r.PaymentRef == "" {
		return "", fmt.Errorf("stripe: refund purchase %s: no payment intent", r.PurchaseID)
	}
	params := &stripe.RefundCreateParams{
		PaymentIntent: stripe.String(r.PaymentRef),
		Amount:        stripe.Int64(int64(r.Amount)),
		Metadata:      map[string]string{"purchase_id": r.PurchaseID},
	}
	params.SetIdempotencyKey(RefundIdempotencyKey(r.PurchaseID))
	re, err := s.client.V1Refunds.Create(ctx, params)
	if err != nil {
		return "", apiError("create refund", err)
	}
	if re.ID == "" {
		return "", fmt.Errorf("stripe: create refund: the answer has no refund id")
	}
	return re.ID, nil
}

// apiError classifies a failed API call: Stripe unreachable, rate
// limiting or Stripe's own failures are unavailable (worth a retry);
// anything else is an internal error (a configuration to fix).
func apiError(what string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) && se.HTTPStatusCode > 0 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != http.StatusTooManyRequests {
		return fmt.Errorf("stripe: %s: %d %s %s: %s", what, se.HTTPStatusCode, se.Type, se.Code, se.Msg)
	}
	return fmt.Errorf("stripe: %s: %v: %w", what, err, fanfare.Errorf(fanfare.EUnavailable,
		"the payment provider is unavailable; retry with the same Idempotency-Key"))
}

// purchaseURL fills the purchase id into a URL template.
func purchaseURL(template, purchaseID string) string {
	return strings.ReplaceAll(template, PurchasePlaceholder, url.QueryEscape(purchaseID))
}

// CoinsLabel names a pack on the checkout page: "7,000 coins".
func CoinsLabel(coins fanfare.Amount) string {
	digits := strconv.FormatInt(int64(coins), 10)
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if coins == 1 {
		return b.String() + " coin"
	}
	return b.String() + " coins"
}

// ParseWebhook checks the Stripe-Signature header of an event Stripe
// posted (signed with the webhook secret, at most webhook.DefaultTolerance
// old; the event's API version may differ from the library's) and
// translates the event: a checkout.session.completed or
// checkout.session.async_payment_succeeded whose payment_status is paid is
// EventCompleted, charge.refunded EventRefunded, charge.dispute.created
// EventDisputeOpened, charge.dispute.closed EventDisputeClosed; any other
// event (an unpaid completion included) is EventIgnored.
//
// Codes: signature_invalid (missing, forged or stale signature),
// validation_failed (a signed body that is not a Stripe event).
func (s *Stripe) ParseWebhook(payload []byte, sigHeader string) (Event, error) {
	ev, err := webhook.ConstructEventWithOptions(payload, sigHeader, s.webhookSecret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	switch {
	case errors.Is(err, webhook.ErrNotSigned):
		return Event{}, fanfare.Errorf(fanfare.ESignatureInvalid, "the Stripe-Signature header is missing")
	case errors.Is(err, webhook.ErrTooOld):
		return Event{}, fanfare.Errorf(fanfare.ESignatureInvalid, "the Stripe-Signature timestamp is older than %s", webhook.DefaultTolerance)
	case errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		return Event{}, fanfare.Errorf(fanfare.ESignatureInvalid, "the Stripe-Signature header does not sign this payload with the webhook secret")
	case err != nil:
		return Event{}, fanfare.Errorf(fanfare.EInvalid, "the signed payload is not a Stripe event")
	case ev.ID == "" || ev.Type == "" || ev.Data == nil || len(ev.Data.Raw) == 0:
		return Event{}, fanfare.Errorf(fanfare.EInvalid, "the Stripe event has no id, type or data object")
	}
	out := Event{ID: ev.ID, Type: EventIgnored, ProviderType: string(ev.Type), Created: time.Unix(ev.Created, 0).UTC()}
	bad := func() (Event, error) {
		return Event{}, fanfare.Errorf(fanfare.EInvalid, "the data object of the Stripe event %s (%s) is malformed", ev.ID, ev.Type)
	}
	switch ev.Type {
	case stripe.EventTypeCheckoutSessionCompleted, stripe.EventTypeCheckoutSessionAsyncPaymentSucceeded:
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &cs); err != nil {
			return bad()
		}
		if cs.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid {
			// An asynchronous payment method completes unpaid and
			// reports checkout.session.async_payment_succeeded later.
			return out, nil
		}
		out.Type = EventCompleted
		out.Session = cs.ID
		out.PaymentRef = paymentIntentID(cs.PaymentIntent)
		out.PurchaseID = cs.ClientReferenceID
		if out.PurchaseID == "" {
			out.PurchaseID = cs.Metadata["purchase_id"]
		}
		out.Amount, out.Currency = fanfare.Amount(cs.AmountTotal), strings.ToUpper(string(cs.Currency))
	case stripe.EventTypeChargeRefunded:
		var ch stripe.Charge
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
			return bad()
		}
		out.Type = EventRefunded
		out.ChargeID = ch.ID
		out.PaymentRef = paymentIntentID(ch.PaymentIntent)
		out.PurchaseID = ch.Metadata["purchase_id"]
		out.Refunded = ch.Refunded
		out.Amount, out.Currency = fanfare.Amount(ch.AmountRefunded), strings.ToUpper(string(ch.Currency))
	case stripe.EventTypeChargeDisputeCreated, stripe.EventTypeChargeDisputeClosed:
		var d stripe.Dispute
		if err := json.Unmarshal(ev.Data.Raw, &d); err != nil {
			return bad()
		}
		out.Type = EventDisputeOpened
		if ev.Type == stripe.EventTypeChargeDisputeClosed {
			out.Type = EventDisputeClosed
		}
		out.DisputeID, out.DisputeStatus = d.ID, string(d.Status)
		if d.Charge != nil {
			out.ChargeID = d.Charge.ID
		}
		out.PaymentRef = paymentIntentID(d.PaymentIntent)
		out.PurchaseID = d.Metadata["purchase_id"]
		out.Amount, out.Currency = fanfare.Amount(d.Amount), strings.ToUpper(string(d.Currency))
	}
	return out, nil
}

func paymentIntentID(pi *stripe.PaymentIntent) string {
	if pi == nil {
		return ""
	}
	return pi.ID
}
