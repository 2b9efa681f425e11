// Package stripetest fakes the part of Stripe that Fanfare talks to, for
// tests that run the real stripe-go client and the real webhook signature
// check: an HTTP server answering POST /v1/checkout/sessions, POST
// /v1/refunds, and for payouts POST /v1/accounts, POST /v1/account_links
// and POST /v1/transfers as Stripe does (secret key, form parameters,
// Idempotency-Key, with failures on demand), and Stripe events
// signed with the webhook secret as Stripe signs them.
//
// It imports only stripe-go's webhook signing and the standard library.
package stripetest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"
)

// Test credentials of a fake.
const (
	SecretKey     = "sk_test_fanfare_fake"
	WebhookSecret = "whsec_fanfare_fake"
)

// Session is a Checkout Session the fake created, with the parameters it
// was created with.
type Session struct {
	ID                string
	URL               string
	Mode              string
	ClientReferenceID string
	SuccessURL        string
	CancelURL         string
	Currency          string // lower case, as sent
	AmountTotal       int64
	Quantity          int64
	ProductName       string
	Metadata          map[string]string
	// PaymentIntentMetadata is payment_intent_data[metadata].
	PaymentIntentMetadata map[string]string
	IdempotencyKey        string
	// PaymentIntent and Charge are set once the session is paid (Pay).
	PaymentIntent string
	Charge        string

	params string // the canonical form, to catch a reused key
}

// Server is a fake Stripe API.
type Server struct {
	URL string

	mu          sync.Mutex
	sessions    map[string]*Session
	byKey       map[string]*Session
	refunds     map[string]*Refund // by Idempotency-Key (or id without one)
	refundCount int
	created     int
	calls       int
	fail        int

	accounts      map[string]*Account  // by id
	accountsByKey map[string]*Account  // by Idempotency-Key
	transfers     map[string]*Transfer // by id
	transfersKey  map[string]*Transfer // by Idempotency-Key
	lost          int                  // transfers to make but answer 500
	links         int
}

// New starts a fake Stripe API, closed when tb ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{sessions: map[string]*Session{}, byKey: map[string]*Session{}, refunds: map[string]*Refund{},
		accounts: map[string]*Account{}, accountsByKey: map[string]*Account{}, transfers: map[string]*Transfer{}, transfersKey: map[string]*Transfer{}}
	ts := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// Created returns how many Checkout Sessions the fake created (replays of
// an Idempotency-Key excluded).
func (s *Server) Created() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// Calls returns how many API requests the fake answered.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// FailNext makes the next n API requests fail with a 500, as a Stripe
// outage would (telling the client not to retry on its own).
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

// Session returns a session the fake created, or nil.
func (s *Server) Session(id string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs, ok := s.sessions[id]; ok {
		c := *cs
		return &c
	}
	return nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_"+randomID(8))
	if r.Header.Get("Authorization") != "Bearer "+SecretKey {
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "", "Invalid API Key provided")
		return
	}
	if s.fail > 0 {
		s.fail--
		w.Header().Set("Stripe-Should-Retry", "false")
		writeError(w, http.StatusInternalServerError, "api_error", "", "An unknown error occurred")
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/v1/refunds" {
		s.refund(w, r)
		return
	}
	if r.Method == http.MethodPost {
		switch r.URL.Path {
		case "/v1/accounts":
			s.account(w, r)
			return
		case "/v1/account_links":
			s.accountLink(w, r)
			return
		case "/v1/transfers":
			s.transfer(w, r)
			return
		}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/checkout/sessions" {
		writeError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "Unrecognized request URL ("+r.Method+": "+r.URL.Path+")")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "Invalid form body")
		return
	}
	cs, msg := sessionFromForm(r.PostForm)
	if msg != "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid", msg)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key != "" {
		if prev, ok := s.byKey[key]; ok {
			if prev.params != cs.params {
				writeError(w, http.StatusBadRequest, "idempotency_error", "",
					"Keys for idempotent requests can only be used with the same parameters they were first used with.")
				return
			}
			w.Header().Set("Idempotent-Replayed", "true")
			writeSession(w, prev)
			return
		}
	}
	cs.ID = "cs_test_" + randomID(24)
	cs.URL = "https://checkout.stripe.test/c/pay/" + cs.ID
	cs.IdempotencyKey = key
	s.sessions[cs.ID] = cs
	if key != "" {
		s.byKey[key] = cs
	}
	s.created++
	writeSession(w, cs)
}

// Refund is a refund the fake made.
type Refund struct {
	ID             string
	PaymentIntent  string
	Amount         int64
	Currency       string
	Metadata       map[string]string
	IdempotencyKey string
}

// Refunds returns how many refunds the fake made (replays of an
// Idempotency-Key excluded).
func (s *Server) Refunds() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refundCount
}

// refund answers POST /v1/refunds for a paid session's payment intent, at
// most its amount; s.mu is held.
func (s *Server) refund(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "Invalid form body")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if prev, ok := s.refunds[key]; ok && key != "" {
		w.Header().Set("Idempotent-Replayed", "true")
		writeRefund(w, prev)
		return
	}
	pi := r.PostForm.Get("payment_intent")
	var paid *Session
	for _, cs := range s.sessions {
		if cs.PaymentIntent != "" && cs.PaymentIntent == pi {
			paid = cs
		}
	}
	if paid == nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "resource_missing", "No such payment_intent: '"+pi+"'")
		return
	}
	amount := paid.AmountTotal
	if a := r.PostForm.Get("amount"); a != "" {
		v, err := strconv.ParseInt(a, 10, 64)
		if err != nil || v <= 0 || v > paid.AmountTotal {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "amount_too_large", "Refund amount is greater than the charge")
			return
		}
		amount = v
	}
	for _, re := range s.refunds {
		if re.PaymentIntent == pi {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "charge_already_refunded", "Charge has already been refunded.")
			return
		}
	}
	re := &Refund{ID: "re_test_" + randomID(24), PaymentIntent: pi, Amount: amount, Currency: paid.Currency,
		Metadata: prefixed(r.PostForm, "metadata"), IdempotencyKey: key}
	if key == "" {
		key = re.ID
	}
	s.refunds[key] = re
	s.refundCount++
	writeRefund(w, re)
}

func writeRefund(w http.ResponseWriter, re *Refund) {
	json.NewEncoder(w).Encode(map[string]any{
		"id":             re.ID,
		"object":         "refund",
		"amount":         re.Amount,
		"currency":       re.Currency,
		"payment_intent": re.PaymentIntent,
		"metadata":       re.Metadata,
		"status":         "succeeded",
		"created":        time.Now().Unix(),
	})
}

// sessionFromForm reads the parameters Fanfare sends, or says what is
// wrong with them.
func sessionFromForm(f url.Values) (*Session, string) {
	cs := &Session{
		Mode:                  f.Get("mode"),
		ClientReferenceID:     f.Get("client_reference_id"),
		SuccessURL:            f.Get("success_url"),
		CancelURL:             f.Get("cancel_url"),
		Currency:              f.Get("line_items[0][price_data][currency]"),
		ProductName:           f.Get("line_items[0][price_data][product_data][name]"),
		Metadata:              prefixed(f, "metadata"),
		PaymentIntentMetadata: prefixed(f, "payment_intent_data[metadata]"),
	}
	var err error
	if cs.AmountTotal, err = strconv.ParseInt(f.Get("line_items[0][price_data][unit_amount]"), 10, 64); err != nil || cs.AmountTotal <= 0 {
		return nil, "Invalid integer: line_items[0][price_data][unit_amount]"
	}
	if cs.Quantity, err = strconv.ParseInt(f.Get("line_items[0][quantity]"), 10, 64); err != nil || cs.Quantity <= 0 {
		return nil, "Invalid integer: line_items[0][quantity]"
	}
	switch {
	case cs.Mode != "payment":
		return nil, "Invalid mode: must be payment here"
	case f.Has("line_items[1][quantity]"):
		return nil, "Only one line item is expected"
	case len(cs.Currency) != 3 || strings.ToLower(cs.Currency) != cs.Currency:
		return nil, "Invalid currency: " + cs.Currency
	case cs.ProductName == "":
		return nil, "Missing required param: line_items[0][price_data][product_data][name]"
	case cs.SuccessURL == "" || cs.CancelURL == "":
		return nil, "Missing required param: success_url or cancel_url"
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s&", k, strings.Join(f[k], ","))
	}
	cs.AmountTotal *= cs.Quantity
	cs.params = b.String()
	return cs, ""
}

// prefixed returns the map parameter name[key]=value of a form.
func prefixed(f url.Values, name string) map[string]string {
	m := map[string]string{}
	for k, v := range f {
		if strings.HasPrefix(k, name+"[") && strings.HasSuffix(k, "]") && !strings.Contains(k[len(name)+1:len(k)-1], "[") {
			m[k[len(name)+1:len(k)-1]] = v[0]
		}
	}
	return m
}

func writeSession(w http.ResponseWriter, cs *Session) {
	json.NewEncoder(w).Encode(map[string]any{
		"id":                  cs.ID,
		"object":              "checkout.session",
		"url":                 cs.URL,
		"mode":                cs.Mode,
		"status":              "open",
		"payment_status":      "unpaid",
		"amount_subtotal":     cs.AmountTotal,
		"amount_total":        cs.AmountTotal,
		"currency":            cs.Currency,
		"client_reference_id": cs.ClientReferenceID,
		"metadata":            cs.Metadata,
		"payment_intent":      nil, // created when the buyer pays
		"success_url":         cs.SuccessURL,
		"cancel_url":          cs.CancelURL,
		"livemode":            false,
		"created":             time.Now().Unix(),
		"expires_at":          time.Now().Add(24 * time.Hour).Unix(),
	})
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.WriteHeader(status)
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
	}
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

// Payment is a Checkout Session the buyer paid, as the events about it
// describe it.
type Payment struct {
	Session       string
	PaymentIntent string
	Charge        string
	PurchaseID    string // client_reference_id
	Amount        int64
	Currency      string // lower case
}

// Pay has the buyer pay session id: it gets a PaymentIntent and a charge.
// Paying again returns the same payment. It panics on an unknown session.
func (s *Server) Pay(id string) Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, ok := s.sessions[id]
	if !ok {
		panic("stripetest: no checkout session " + id)
	}
	if cs.PaymentIntent == "" {
		cs.PaymentIntent, cs.Charge = "pi_test_"+randomID(24), "ch_test_"+randomID(24)
	}
	return Payment{Session: cs.ID, PaymentIntent: cs.PaymentIntent, Charge: cs.Charge, PurchaseID: cs.ClientReferenceID,
		Amount: cs.AmountTotal, Currency: cs.Currency}
}

// Event returns the JSON of a Stripe event of type typ about object, as
// Stripe posts it to a webhook endpoint, with the library's API version.
func Event(id, typ string, object any) []byte {
	b, err := json.Marshal(map[string]any{
		"id":               id,
		"object":           "event",
		"api_version":      stripe.APIVersion,
		"created":          time.Now().Unix(),
		"livemode":         false,
		"pending_webhooks": 1,
		"request":          map[string]any{"id": nil, "idempotency_key": nil},
		"type":             typ,
		"data":             map[string]any{"object": object},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// Completed is the checkout.session.completed event of a paid session.
func Completed(id string, p Payment) []byte {
	return Event(id, "checkout.session.completed", map[string]any{
		"id":                  p.Session,
		"object":              "checkout.session",
		"mode":                "payment",
		"status":              "complete",
		"payment_status":      "paid",
		"amount_subtotal":     p.Amount,
		"amount_total":        p.Amount,
		"currency":            p.Currency,
		"client_reference_id": p.PurchaseID,
		"metadata":            map[string]string{"purchase_id": p.PurchaseID},
		"payment_intent":      p.PaymentIntent,
		"livemode":            false,
	})
}

// Refunded is the charge.refunded event of a payment refunded by amount
// (in full when amount is the payment's). The charge carries no metadata,
// so only its payment intent ties it to the purchase.
func Refunded(id string, p Payment, amount int64) []byte {
	return Event(id, "charge.refunded", map[string]any{
		"id":              p.Charge,
		"object":          "charge",
		"amount":          p.Amount,
		"amount_captured": p.Amount,
		"amount_refunded": amount,
		"currency":        p.Currency,
		"paid":            true,
		"captured":        true,
		"refunded":        amount == p.Amount,
		"status":          "succeeded",
		"payment_intent":  p.PaymentIntent,
		"metadata":        map[string]string{},
	})
}

// Dispute is a charge.dispute.created (closed false) or
// charge.dispute.closed event of dispute disputeID on a payment, with the
// dispute's status (needs_response, won, lost, ...).
func Dispute(id string, p Payment, disputeID, status string, closed bool) []byte {
	typ := "charge.dispute.created"
	if closed {
		typ = "charge.dispute.closed"
	}
	return Event(id, typ, map[string]any{
		"id":             disputeID,
		"object":         "dispute",
		"amount":         p.Amount,
		"currency":       p.Currency,
		"charge":         p.Charge,
		"payment_intent": p.PaymentIntent,
		"reason":         "fraudulent",
		"status":         status,
		"metadata":       map[string]string{},
	})
}

// Sign returns the Stripe-Signature header of payload signed with
// WebhookSecret at time at, as Stripe signs it.
func Sign(payload []byte, at time.Time) string {
	return SignWith(WebhookSecret, payload, at)
}

// SignWith signs payload with another secret (a forgery, for tests).
func SignWith(secret string, payload []byte, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

func randomID(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// Account is a connected account the fake created.
type Account struct {
	ID             string
	Type           string
	Metadata       map[string]string
	IdempotencyKey string
	// Transfers is whether transfers may reach it (the default; see
	// Disable).
	Transfers bool
}

// Transfer is a transfer to a connected account the fake made.
type Transfer struct {
	ID             string
	Amount         int64
	Currency       string // lower case, as sent
	Destination    string
	TransferGroup  string
	Metadata       map[string]string
	IdempotencyKey string

	params string
}

// Transfers returns the transfers the fake made (replays of an
// Idempotency-Key excluded).
func (s *Server) Transfers() []Transfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Transfer, 0, len(s.transfers))
	for _, t := range s.transfers {
		c := *t
		c.params = ""
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Accounts returns how many connected accounts the fake created.
func (s *Server) Accounts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.accounts)
}

// LoseNext makes the next n transfers happen but be answered with a 500,
// as when Stripe's answer is lost: only a retry with the same
// Idempotency-Key learns the transfer, and pays nothing twice.
func (s *Server) LoseNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost = n
}

// Disable makes connected account id refuse transfers (400, as Stripe
// does for an account whose transfers capability is inactive).
func (s *Server) Disable(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[id]; ok {
		a.Transfers = false
	}
}

// account answers POST /v1/accounts; s.mu is held.
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "Invalid form body")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if prev, ok := s.accountsByKey[key]; ok && key != "" {
		w.Header().Set("Idempotent-Replayed", "true")
		writeAccount(w, prev)
		return
	}
	typ := r.PostForm.Get("type")
	if typ != "express" && typ != "standard" && typ != "custom" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid", "Invalid type: must be one of express, standard or custom")
		return
	}
	a := &Account{ID: "acct_" + randomID(16), Type: typ, Metadata: prefixed(r.PostForm, "metadata"), IdempotencyKey: key, Transfers: true}
	s.accounts[a.ID] = a
	if key != "" {
		s.accountsByKey[key] = a
	}
	writeAccount(w, a)
}

func writeAccount(w http.ResponseWriter, a *Account) {
	json.NewEncoder(w).Encode(map[string]any{
		"id":                a.ID,
		"object":            "account",
		"type":              a.Type,
		"metadata":          a.Metadata,
		"charges_enabled":   false,
		"payouts_enabled":   false,
		"details_submitted": false,
		"created":           stamp().Unix(),
	})
}

// accountLink answers POST /v1/account_links; s.mu is held.
func (s *Server) accountLink(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "Invalid form body")
		return
	}
	f := r.PostForm
	if _, ok := s.accounts[f.Get("account")]; !ok {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "resource_missing", "No such account: '"+f.Get("account")+"'")
		return
	}
	if f.Get("type") != "account_onboarding" && f.Get("type") != "account_update" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid", "Invalid type")
		return
	}
	if f.Get("refresh_url") == "" || f.Get("return_url") == "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "parameter_missing", "Missing required param: refresh_url or return_url")
		return
	}
	s.links++
	json.NewEncoder(w).Encode(map[string]any{
		"object":     "account_link",
		"url":        "https://connect.stripe.test/setup/e/" + f.Get("account") + "/" + randomID(12),
		"created":    stamp().Unix(),
		"expires_at": stamp().Add(5 * time.Minute).Unix(),
	})
}

// transfer answers POST /v1/transfers; s.mu is held.
func (s *Server) transfer(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "Invalid form body")
		return
	}
	f := r.PostForm
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s&", k, strings.Join(f[k], ","))
	}
	key := r.Header.Get("Idempotency-Key")
	if prev, ok := s.transfersKey[key]; ok && key != "" {
		if prev.params != b.String() {
			writeError(w, http.StatusBadRequest, "idempotency_error", "",
				"Keys for idempotent requests can only be used with the same parameters they were first used with.")
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
		writeTransfer(w, prev)
		return
	}
	t := &Transfer{Currency: f.Get("currency"), Destination: f.Get("destination"), TransferGroup: f.Get("transfer_group"),
		Metadata: prefixed(f, "metadata"), IdempotencyKey: key, params: b.String()}
	var err error
	if t.Amount, err = strconv.ParseInt(f.Get("amount"), 10, 64); err != nil || t.Amount <= 0 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid", "Invalid integer: amount")
		return
	}
	if len(t.Currency) != 3 || strings.ToLower(t.Currency) != t.Currency {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid", "Invalid currency: "+t.Currency)
		return
	}
	a, ok := s.accounts[t.Destination]
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "resource_missing", "No such destination: '"+t.Destination+"'")
		return
	}
	if !a.Transfers {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "insufficient_capabilities_for_transfer",
			"Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments")
		return
	}
	t.ID = "tr_" + randomID(24)
	s.transfers[t.ID] = t
	if key != "" {
		s.transfersKey[key] = t
	}
	if s.lost > 0 {
		s.lost--
		w.Header().Set("Stripe-Should-Retry", "false")
		writeError(w, http.StatusInternalServerError, "api_error", "", "An unknown error occurred")
		return
	}
	writeTransfer(w, t)
}

func writeTransfer(w http.ResponseWriter, t *Transfer) {
	json.NewEncoder(w).Encode(map[string]any{
		"id":             t.ID,
		"object":         "transfer",
		"amount":         t.Amount,
		"currency":       t.Currency,
		"destination":    t.Destination,
		"transfer_group": t.TransferGroup,
		"metadata":       t.Metadata,
		"reversed":       false,
		"livemode":       false,
		"created":        stamp().Unix(),
	})
}

// stamp dates the connected accounts, account links and transfers.
func stamp() time.Time { return time.Now() }
