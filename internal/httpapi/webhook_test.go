package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/payment/stripetest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// newStripeEnv is newEnv with the Stripe provider on a fake Stripe API.
func newStripeEnv(t *testing.T, db *store.DB) (*env, *stripetest.Server) {
	t.Helper()
	fake := stripetest.New(t)
	st, err := payment.NewStripe(payment.StripeConfig{
		SecretKey:     stripetest.SecretKey,
		WebhookSecret: stripetest.WebhookSecret,
		APIBase:       fake.URL,
		SuccessURL:    "https://fanfare.test/wallet?purchase={purchase}",
		CancelURL:     "https://fanfare.test/wallet?purchase={purchase}&cancelled=1",
	})
	require.NoError(t, err)
	return newEnvWith(t, db, map[string]wallet.Provider{"stripe": st}), fake
}

type webhookReply struct {
	Received   bool   `json:"received"`
	Status     string `json:"status"`
	PurchaseID string `json:"purchase_id"`
}

// stripeEvent posts payload to the webhook as Stripe does, with the
// Stripe-Signature header sig.
func stripeEvent(payload []byte, sig string) request {
	h := map[string]string{"Content-Type": "application/json; charset=utf-8"}
	if sig != "" {
		h["Stripe-Signature"] = sig
	}
	return request{method: "POST", path: "/v1/webhooks/stripe", body: payload, header: h}
}

// deliver posts payload signed now and checks the answer's status.
func (e *env) deliver(t *testing.T, payload []byte, want string) webhookReply {
	t.Helper()
	res := e.do(t, stripeEvent(payload, stripetest.Sign(payload, time.Now())))
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	var r webhookReply
	res.json(t, &r)
	require.True(t, r.Received)
	require.Equal(t, want, r.Status, "%s", res.body)
	return r
}

type stripePurchaseReply struct {
	purchaseReply
	CheckoutURL *string `json:"checkout_url"`
}

func (e *env) buyStripe(t *testing.T, token, key, pack string) stripePurchaseReply {
	t.Helper()
	res := e.do(t, buy(token, key, map[string]any{"pack_id": pack, "provider": "stripe"}))
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	var p stripePurchaseReply
	res.json(t, &p)
	return p
}

func (e *env) sessionOf(t *testing.T, purchaseID string) string {
	t.Helper()
	var ref string
	require.NoError(t, e.db.Read.QueryRow(`SELECT provider_ref FROM purchases WHERE id = $1`, purchaseID).Scan(&ref))
	return ref
}

func (e *env) paymentEvents(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, e.db.Read.QueryRow(`SELECT COUNT(*) FROM payment_events`).Scan(&n))
	return n
}

func TestStripeWebhook(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, fake := newStripeEnv(t, db)
		_, token := e.signUp(t, "sam")

		// The purchase waits at Stripe's Checkout page.
		p := e.buyStripe(t, token, "buy-1", "eur-7000")
		require.Equal(t, "pending", p.Status)
		require.Equal(t, "stripe", p.Provider)
		require.Equal(t, int64(0), p.Balance)
		session := e.sessionOf(t, p.ID)
		require.NotNil(t, p.CheckoutURL)
		require.Equal(t, "https://checkout.stripe.test/c/pay/"+session, *p.CheckoutURL)
		res := e.do(t, buy(token, "buy-1", map[string]any{"pack_id": "eur-7000", "provider": "stripe", "payment_method": "checkout"}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		require.Equal(t, "true", res.header.Get("Idempotent-Replayed"))
		var again stripePurchaseReply
		res.json(t, &again)
		require.Equal(t, p, again)
		require.Equal(t, 1, fake.Created())
		require.Equal(t, walletBody{}, e.walletOf(t, token))

		// Stripe delivers the completion fifty times at once.
		paid := fake.Pay(session)
		payload := stripetest.Completed("evt_completed", paid)
		sig := stripetest.Sign(payload, time.Now())
		const n = 50
		statuses := make([]int, n)
		replies := make([]webhookReply, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				req, err := http.NewRequest(http.MethodPost, e.url+"/v1/webhooks/stripe", bytes.NewReader(payload))
				if err != nil {
					errs[i] = err
					return
				}
				req.Header.Set("Content-Type", "application/json; charset=utf-8")
				req.Header.Set("Stripe-Signature", sig)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				statuses[i] = resp.StatusCode
				errs[i] = json.Unmarshal(b, &replies[i])
			})
		}
		wg.Wait()
		count := map[string]int{}
		for i := range n {
			require.NoError(t, errs[i], "delivery %d", i)
			require.Equal(t, http.StatusOK, statuses[i], "delivery %d", i)
			require.True(t, replies[i].Received)
			require.Equal(t, p.ID, replies[i].PurchaseID)
			count[replies[i].Status]++
		}
		require.Equal(t, map[string]int{"applied": 1, "duplicate": n - 1}, count)
		require.Equal(t, walletBody{Coins: 7000}, e.walletOf(t, token))
		require.Equal(t, "paid", e.purchaseStatus(t, p.ID))
		var transfers int
		require.NoError(t, db.Read.QueryRow(`SELECT COUNT(*) FROM transfers`).Scan(&transfers))
		require.Equal(t, 1, transfers)
		e.requireVerified(t)

		// The purchase now reads paid, without a checkout page.
		res = e.do(t, buy(token, "buy-1", map[string]any{"pack_id": "eur-7000", "provider": "stripe"}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var done stripePurchaseReply
		res.json(t, &done)
		require.Equal(t, "paid", done.Status)
		require.Equal(t, int64(7000), done.Balance)
		require.Nil(t, done.CheckoutURL)

		// The fan asks for a cash refund: the coins go back, Stripe returns
		// the money, and the refund event Stripe sends next moves nothing.
		res = e.do(t, refund(token, p.ID, "r1"))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var refunded struct {
			Purchase struct{ Status string } `json:"purchase"`
			Balance  int64                   `json:"balance"`
			Cash     struct {
				Status      string `json:"status"`
				ProviderRef string `json:"provider_ref"`
			} `json:"cash_refund"`
		}
		res.json(t, &refunded)
		require.Equal(t, "refunded", refunded.Purchase.Status)
		require.Equal(t, int64(0), refunded.Balance)
		require.Equal(t, "sent", refunded.Cash.Status)
		require.True(t, strings.HasPrefix(refunded.Cash.ProviderRef, "re_"), refunded.Cash.ProviderRef)
		require.Equal(t, 1, fake.Refunds())
		e.deliver(t, stripetest.Refunded("evt_refunded", paid, paid.Amount), "ignored")
		require.Equal(t, "refunded", e.purchaseStatus(t, p.ID))
		require.Equal(t, walletBody{}, e.walletOf(t, token))
		e.requireVerified(t)
	})
}

func TestStripeWebhookRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, fake := newStripeEnv(t, db)
		_, token := e.signUp(t, "sam")
		p := e.buyStripe(t, token, "buy-1", "eur-350")
		paid := fake.Pay(e.sessionOf(t, p.ID))
		payload := stripetest.Completed("evt_completed", paid)
		before := e.snapshot(t)

		// Forged, stale, missing or mangled signatures: 400, nothing
		// written.
		for name, sig := range map[string]string{
			"forged":  stripetest.SignWith("whsec_forger", payload, time.Now()),
			"stale":   stripetest.Sign(payload, time.Now().Add(-10*time.Minute)),
			"missing": "",
			"mangled": "t=1,v1=00",
		} {
			pr := requireProblem(t, e.do(t, stripeEvent(payload, sig)), 400, "signature_invalid")
			require.Contains(t, pr.Detail, "Stripe-Signature", name)
		}
		// A signature of another body.
		requireProblem(t, e.do(t, stripeEvent(append(payload, ' '), stripetest.Sign(payload, time.Now()))), 400, "signature_invalid")
		// Signed, but not an event.
		junk := []byte(`{"object":"event","id":`)
		requireProblem(t, e.do(t, stripeEvent(junk, stripetest.Sign(junk, time.Now()))), 400, "validation_failed")
		require.Equal(t, before, e.snapshot(t))
		require.Equal(t, 0, e.paymentEvents(t))
		require.Equal(t, "pending", e.purchaseStatus(t, p.ID))

		// Event types Fanfare does not use: 200, nothing written.
		other := stripetest.Event("evt_other", "payment_intent.created", map[string]any{"id": "pi_1", "object": "payment_intent"})
		res := e.do(t, stripeEvent(other, stripetest.Sign(other, time.Now())))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.JSONEq(t, `{"received":true,"status":"ignored"}`, string(res.body))
		require.Equal(t, before, e.snapshot(t))
		require.Equal(t, 0, e.paymentEvents(t))

		// A completed checkout that is no purchase of ours.
		unknown := stripetest.Completed("evt_unknown", stripetest.Payment{Session: "cs_test_unknown", PaymentIntent: "pi_x", Amount: 549, Currency: "eur"})
		requireProblem(t, e.do(t, stripeEvent(unknown, stripetest.Sign(unknown, time.Now()))), 404, "not_found")
		require.Equal(t, 0, e.paymentEvents(t))

		// A payment of another amount credits nothing.
		wrong := paid
		wrong.Amount = 1
		r := e.deliver(t, stripetest.Completed("evt_wrong_amount", wrong), "ignored")
		require.Equal(t, p.ID, r.PurchaseID)
		require.Equal(t, "pending", e.purchaseStatus(t, p.ID))
		require.Equal(t, walletBody{}, e.walletOf(t, token))

		// The real one credits.
		e.deliver(t, payload, "applied")
		require.Equal(t, walletBody{Coins: 350}, e.walletOf(t, token))
		e.requireVerified(t)

		// Without Stripe configured, there is no such endpoint.
		plain := newEnvWith(t, db, nil)
		pr := requireProblem(t, plain.do(t, stripeEvent(payload, stripetest.Sign(payload, time.Now()))), 404, "not_found")
		require.Contains(t, pr.Detail, "not configured")
	})
}

func TestStripeWebhookChargeback(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, fake := newStripeEnv(t, db)
		userID, token := e.signUp(t, "sam")
		p := e.buyStripe(t, token, "buy-1", "eur-350")
		paid := fake.Pay(e.sessionOf(t, p.ID))

		// The dispute overtakes the completion: it waits.
		opened := stripetest.Dispute("evt_dispute", paid, "dp_1", "needs_response", false)
		r := e.deliver(t, opened, "pending")
		require.Empty(t, r.PurchaseID)
		r = e.deliver(t, stripetest.Completed("evt_completed", paid), "applied")
		require.Equal(t, p.ID, r.PurchaseID)
		require.Equal(t, "charged_back", e.purchaseStatus(t, p.ID))
		require.Equal(t, walletBody{}, e.walletOf(t, token))
		e.deliver(t, opened, "duplicate")

		// Won: the coins come back; the fan spends most of them.
		e.deliver(t, stripetest.Dispute("evt_won", paid, "dp_1", "won", true), "applied")
		require.Equal(t, walletBody{Coins: 350}, e.walletOf(t, token))
		require.NoError(t, e.spend(t, userID, 300, "spend-1"))

		// A second purchase is charged back after its coins were spent:
		// the wallet goes negative and is frozen.
		q := e.buyStripe(t, token, "buy-2", "eur-350")
		paidQ := fake.Pay(e.sessionOf(t, q.ID))
		e.deliver(t, stripetest.Completed("evt_completed_2", paidQ), "applied")
		require.NoError(t, e.spend(t, userID, 400, "spend-2"))
		e.deliver(t, stripetest.Dispute("evt_dispute_2", paidQ, "dp_2", "needs_response", false), "applied")
		require.Equal(t, walletBody{Coins: -350, Frozen: true}, e.walletOf(t, token))
		require.Equal(t, fanfare.EWalletFrozen, fanfare.ErrorCode(e.spend(t, userID, 1, "spend-3")))

		// The operator's grant settles it.
		res := e.do(t, request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
			header: map[string]string{"Idempotency-Key": "settle-1"},
			body:   map[string]any{"user_id": userID, "coins": 350, "reason": "settle the chargeback"}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		require.Equal(t, walletBody{}, e.walletOf(t, token))
		require.Equal(t, fanfare.EInsufficientFunds, fanfare.ErrorCode(e.spend(t, userID, 1, "spend-4")))
		e.requireVerified(t)
	})
}

func TestStripeWebhookOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	res := e.do(t, request{method: "GET", path: "/openapi.json"})
	require.Equal(t, http.StatusOK, res.status)
	var doc struct {
		Paths map[string]map[string]struct {
			Security  []map[string][]string `json:"security"`
			Responses map[string]any        `json:"responses"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	op, ok := doc.Paths["/v1/webhooks/stripe"]["post"]
	require.True(t, ok, "POST /v1/webhooks/stripe is described")
	require.Empty(t, op.Security, "Stripe authenticates by signature, not by token")
	for _, status := range []string{"200", "400", "404"} {
		require.Contains(t, op.Responses, status)
	}
}
