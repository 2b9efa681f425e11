package payment_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/payment/stripetest"
)

func newStripe(t *testing.T, fake *stripetest.Server) *payment.Stripe {
	t.Helper()
	st, err := payment.NewStripe(payment.StripeConfig{
		SecretKey:     stripetest.SecretKey,
		WebhookSecret: stripetest.WebhookSecret,
		APIBase:       fake.URL,
		SuccessURL:    "https://fanfare.test/wallet?purchase={purchase}",
		CancelURL:     "https://fanfare.test/wallet?purchase={purchase}&cancelled=1",
	})
	require.NoError(t, err)
	return st
}

func TestStripeCharge(t *testing.T) {
	t.Parallel()
	fake := stripetest.New(t)
	st := newStripe(t, fake)
	ctx := t.Context()
	require.Equal(t, "stripe", st.Name())

	charge := payment.Charge{PurchaseID: "p1", Amount: 10999, Currency: "EUR", Coins: 7000, Method: "checkout"}
	out, err := st.Charge(ctx, charge)
	require.NoError(t, err)
	require.Equal(t, payment.Pending, out.Status)
	require.Regexp(t, `^cs_test_`, out.Ref)
	require.Equal(t, "https://checkout.stripe.test/c/pay/"+out.Ref, out.CheckoutURL)
	require.False(t, out.ChargebackExpected)

	cs := fake.Session(out.Ref)
	require.NotNil(t, cs)
	require.Equal(t, "payment", cs.Mode)
	require.Equal(t, "p1", cs.ClientReferenceID)
	require.Equal(t, "eur", cs.Currency)
	require.Equal(t, int64(10999), cs.AmountTotal)
	require.Equal(t, int64(1), cs.Quantity)
	require.Equal(t, "7,000 coins", cs.ProductName)
	require.Equal(t, map[string]string{"purchase_id": "p1"}, cs.Metadata)
	require.Equal(t, map[string]string{"purchase_id": "p1"}, cs.PaymentIntentMetadata)
	require.Equal(t, "https://fanfare.test/wallet?purchase=p1", cs.SuccessURL)
	require.Equal(t, "https://fanfare.test/wallet?purchase=p1&cancelled=1", cs.CancelURL)
	require.Equal(t, "fanfare-purchase-p1", cs.IdempotencyKey)

	// Asking again for the same purchase gives the same session.
	again, err := st.Charge(ctx, payment.Charge{PurchaseID: "p1", Amount: 10999, Currency: "EUR", Coins: 7000})
	require.NoError(t, err)
	require.Equal(t, out, again)
	require.Equal(t, 1, fake.Created())

	// Card numbers never reach Stripe.
	calls := fake.Calls()
	_, err = st.Charge(ctx, payment.Charge{PurchaseID: "p2", Amount: 109, Currency: "EUR", Coins: 70, Method: payment.CardSucceeds})
	require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err), "error: %v", err)
	require.Equal(t, calls, fake.Calls())

	// An outage is unavailable, and a retry carries on.
	fake.FailNext(1)
	_, err = st.Charge(ctx, payment.Charge{PurchaseID: "p2", Amount: 109, Currency: "EUR", Coins: 70})
	require.Equal(t, fanfare.EUnavailable, fanfare.ErrorCode(err), "error: %v", err)
	out2, err := st.Charge(ctx, payment.Charge{PurchaseID: "p2", Amount: 109, Currency: "EUR", Coins: 70})
	require.NoError(t, err)
	require.Equal(t, "70 coins", fake.Session(out2.Ref).ProductName)
	require.Equal(t, 2, fake.Created())

	// Stripe unreachable is unavailable too.
	down, err := payment.NewStripe(payment.StripeConfig{SecretKey: stripetest.SecretKey, WebhookSecret: "whsec_x",
		APIBase: "http://127.0.0.1:1", SuccessURL: "https://s", CancelURL: "https://c"})
	require.NoError(t, err)
	_, err = down.Charge(ctx, charge)
	require.Equal(t, fanfare.EUnavailable, fanfare.ErrorCode(err), "error: %v", err)

	// A wrong key is a configuration to fix: an internal error.
	wrong, err := payment.NewStripe(payment.StripeConfig{SecretKey: "sk_test_wrong", WebhookSecret: "whsec_x",
		APIBase: fake.URL, SuccessURL: "https://s", CancelURL: "https://c"})
	require.NoError(t, err)
	_, err = wrong.Charge(ctx, charge)
	require.Error(t, err)
	require.Equal(t, fanfare.EInternal, fanfare.ErrorCode(err), "error: %v", err)
	require.Equal(t, 2, fake.Created())
}

func TestStripeConfig(t *testing.T) {
	t.Parallel()
	good := payment.StripeConfig{SecretKey: "sk", WebhookSecret: "whsec", SuccessURL: "https://s", CancelURL: "https://c"}
	_, err := payment.NewStripe(good)
	require.NoError(t, err, "APIBase defaults to Stripe")
	for name, mut := range map[string]func(*payment.StripeConfig){
		"no secret key":     func(c *payment.StripeConfig) { c.SecretKey = "" },
		"no webhook secret": func(c *payment.StripeConfig) { c.WebhookSecret = "" },
		"no success url":    func(c *payment.StripeConfig) { c.SuccessURL = "" },
		"no cancel url":     func(c *payment.StripeConfig) { c.CancelURL = "" },
		"bad api base":      func(c *payment.StripeConfig) { c.APIBase = "api.stripe.com" },
	} {
		c := good
		mut(&c)
		_, err := payment.NewStripe(c)
		require.Error(t, err, name)
	}
}

func TestStripeNormalizeMethod(t *testing.T) {
	t.Parallel()
	st, err := payment.NewStripe(payment.StripeConfig{SecretKey: "sk", WebhookSecret: "whsec", SuccessURL: "https://s", CancelURL: "https://c"})
	require.NoError(t, err)
	for _, m := range []string{"", "checkout", " checkout "} {
		got, err := st.NormalizeMethod(m)
		require.NoError(t, err, "%q", m)
		require.Equal(t, "checkout", got)
	}
	for _, m := range []string{payment.CardSucceeds, "card", "CHECKOUT"} {
		_, err := st.NormalizeMethod(m)
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err), "%q", m)
		require.Contains(t, fanfare.ErrorMessage(err), "Checkout page")
	}
}

func TestCoinsLabel(t *testing.T) {
	t.Parallel()
	for coins, want := range map[fanfare.Amount]string{
		1: "1 coin", 70: "70 coins", 350: "350 coins", 1400: "1,400 coins", 7000: "7,000 coins",
		17500: "17,500 coins", 1234567: "1,234,567 coins",
	} {
		require.Equal(t, want, payment.CoinsLabel(coins))
	}
}

func TestStripeParseWebhook(t *testing.T) {
	t.Parallel()
	fake := stripetest.New(t)
	st := newStripe(t, fake)
	out, err := st.Charge(t.Context(), payment.Charge{PurchaseID: "p1", Amount: 10999, Currency: "EUR", Coins: 7000})
	require.NoError(t, err)
	paid := fake.Pay(out.Ref)
	now := time.Now()

	parse := func(payload []byte) payment.Event {
		t.Helper()
		ev, err := st.ParseWebhook(payload, stripetest.Sign(payload, now))
		require.NoError(t, err)
		return ev
	}
	ev := parse(stripetest.Completed("evt_1", paid))
	require.Equal(t, "evt_1", ev.ID)
	require.Equal(t, payment.EventCompleted, ev.Type)
	require.Equal(t, "checkout.session.completed", ev.ProviderType)
	require.Equal(t, out.Ref, ev.Session)
	require.Equal(t, paid.PaymentIntent, ev.PaymentRef)
	require.Equal(t, "p1", ev.PurchaseID)
	require.Equal(t, fanfare.Amount(10999), ev.Amount)
	require.Equal(t, "EUR", ev.Currency)
	require.WithinDuration(t, now, ev.Created, 2*time.Second)

	ev = parse(stripetest.Refunded("evt_2", paid, 10999))
	require.Equal(t, payment.EventRefunded, ev.Type)
	require.True(t, ev.Refunded)
	require.Equal(t, paid.Charge, ev.ChargeID)
	require.Equal(t, paid.PaymentIntent, ev.PaymentRef)
	require.Empty(t, ev.PurchaseID)
	require.Equal(t, fanfare.Amount(10999), ev.Amount)
	ev = parse(stripetest.Refunded("evt_3", paid, 100))
	require.Equal(t, payment.EventRefunded, ev.Type)
	require.False(t, ev.Refunded, "a partial refund")

	ev = parse(stripetest.Dispute("evt_4", paid, "dp_1", "needs_response", false))
	require.Equal(t, payment.EventDisputeOpened, ev.Type)
	require.Equal(t, "dp_1", ev.DisputeID)
	require.Equal(t, "needs_response", ev.DisputeStatus)
	require.Equal(t, paid.Charge, ev.ChargeID)
	require.Equal(t, paid.PaymentIntent, ev.PaymentRef)
	ev = parse(stripetest.Dispute("evt_5", paid, "dp_1", "won", true))
	require.Equal(t, payment.EventDisputeClosed, ev.Type)
	require.Equal(t, "won", ev.DisputeStatus)
	require.True(t, payment.MerchantWon(ev.DisputeStatus))
	require.True(t, payment.MerchantWon("warning_closed"))
	require.False(t, payment.MerchantWon("lost"))

	// Events Fanfare has no use for, an unpaid completion among them.
	for _, payload := range [][]byte{
		stripetest.Event("evt_6", "customer.created", map[string]any{"id": "cus_1", "object": "customer"}),
		stripetest.Event("evt_7", "checkout.session.completed", map[string]any{"id": out.Ref, "object": "checkout.session", "payment_status": "unpaid"}),
		stripetest.Event("evt_8", "checkout.session.expired", map[string]any{"id": out.Ref, "object": "checkout.session"}),
	} {
		ev := parse(payload)
		require.Equal(t, payment.EventIgnored, ev.Type)
		require.NotEmpty(t, ev.ID)
	}
	// An asynchronous payment that succeeds later completes then.
	async := stripetest.Event("evt_9", "checkout.session.async_payment_succeeded", map[string]any{
		"id": out.Ref, "object": "checkout.session", "payment_status": "paid", "amount_total": 10999, "currency": "eur",
		"client_reference_id": "p1", "payment_intent": paid.PaymentIntent,
	})
	require.Equal(t, payment.EventCompleted, parse(async).Type)

	// Another API version is accepted.
	old := []byte(`{"id":"evt_10","object":"event","api_version":"2020-08-27","created":1,"type":"charge.refunded",
		"data":{"object":{"id":"ch_1","object":"charge","refunded":true,"amount_refunded":5,"currency":"eur","payment_intent":"pi_1"}}}`)
	ev = parse(old)
	require.Equal(t, payment.EventRefunded, ev.Type)
	require.Equal(t, "pi_1", ev.PaymentRef)
}

func TestStripeParseWebhookRefused(t *testing.T) {
	t.Parallel()
	st := newStripe(t, stripetest.New(t))
	payload := stripetest.Completed("evt_1", stripetest.Payment{Session: "cs_1", PaymentIntent: "pi_1", PurchaseID: "p1", Amount: 109, Currency: "eur"})
	now := time.Now()
	for name, header := range map[string]string{
		"forged":          stripetest.SignWith("whsec_someone_else", payload, now),
		"stale":           stripetest.Sign(payload, now.Add(-10*time.Minute)),
		"missing":         "",
		"garbage":         "not a signature",
		"no v1":           "t=" + time.Now().Format("20060102"),
		"other payload":   stripetest.Sign(append([]byte(" "), payload...), now),
		"other timestamp": stripetest.Sign(payload, now.Add(-time.Second))[:13] + stripetest.Sign(payload, now)[13:],
		"other scheme (v0)": func() string {
			h := stripetest.Sign(payload, now)
			return h[:len("t=1234567890,")] + "v0" + h[len("t=1234567890,v1"):]
		}(),
	} {
		_, err := st.ParseWebhook(payload, header)
		require.Equal(t, fanfare.ESignatureInvalid, fanfare.ErrorCode(err), "%s: %v", name, err)
	}
	for name, body := range map[string][]byte{
		"not json":      []byte(`{"id":`),
		"not an event":  []byte(`{"id":"cs_1","object":"checkout.session"}`),
		"no data":       []byte(`{"id":"evt_1","object":"event","type":"charge.refunded"}`),
		"bad object":    []byte(`{"id":"evt_1","object":"event","type":"charge.refunded","data":{"object":{"amount_refunded":"lots"}}}`),
		"bad timestamp": []byte(`{"id":"evt_1","object":"event","created":"yesterday","type":"charge.refunded","data":{"object":{}}}`),
	} {
		_, err := st.ParseWebhook(body, stripetest.Sign(body, now))
		require.Equal(t, fanfare.EInvalid, fanfare.ErrorCode(err), "%s: %v", name, err)
	}
}
