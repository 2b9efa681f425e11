package web

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// historyPageSize is how many transactions the wallet page lists at once.
const historyPageSize = 10

// walletPageData is the wallet page: the balance, the pack grid with the
// card form, and the history.
type walletPageData struct {
	Layout
	Coins    fanfare.Amount
	Diamonds fanfare.Amount
	Frozen   bool
	// FreezeReason is the operator's reason when an operator froze the
	// wallet (empty: frozen, if at all, by a clawback).
	FreezeReason string
	CoinsValue   fanfare.Amount // the coins' reference value in Currency
	// CannotSpend says why the visitor cannot spend on creators, when
	// that is not a frozen wallet (which has its own banner).
	CannotSpend string
	// Limit is the daily spending limit; nil for a minor, who has no
	// spending to limit.
	Limit        *wallet.SpendLimit
	PackCurrency string // the currency of the pack grid
	Currencies   []string
	Packs        []packView
	Card         string // what the card field holds
	TestCards    []testCard
	// BuyKey is the purchase's idempotency key, new with every rendering
	// of the form, so a form sent twice buys once.
	BuyKey string

	History   []txView
	Kind      string
	Kinds     []option
	Paged     bool   // showing an older page
	OlderURL  string // the next, older page; empty on the last one
	NewestURL string
}

// packView is one pack of the grid.
type packView struct {
	wallet.Pack
	PricePer100 fanfare.Amount
	Best        bool // the lowest price per coin (PriceList.BestValue)
	Selected    bool
}

// testCard is one of the sandbox's test cards, shown as a hint.
type testCard struct {
	Number, Label, Outcome string
}

// testCards are the sandbox's cards, spaced as people type them.
var testCards = []testCard{
	{"4242 4242 4242 4242", "Success", "the payment succeeds"},
	{"4000 0000 0000 0002", "Declined", "the card is declined"},
	{"4000 0000 0000 0259", "Chargeback", "the payment succeeds, then is charged back later"},
}

// txView is one history row, with the refund it allows.
type txView struct {
	wallet.Transaction
	Refund *refundView // nil unless the row is a purchase
}

// refundView is a purchase row's refund button or why there is none.
type refundView struct {
	PurchaseID string
	Key        string // the refund's idempotency key
	Allowed    bool
	Until      time.Time // the end of the refund window
	Reason     string    // why not, when not allowed
}

// option is a choice of a select field.
type option struct{ Value, Label string }

// historyKinds are the kind filter's choices.
var historyKinds = []option{
	{"", "All activity"},
	{"purchase", "Purchases"},
	{"refund", "Refunds"},
	{"chargeback", "Chargebacks"},
	{"grant", "Bonus coins"},
	{"gift", "Gifts"},
	{"tip", "Tips"},
}

// walletForm is what a re-rendered wallet page keeps of a sent form.
type walletForm struct {
	currency, pack, card string
	err                  string
}

// walletPage shows the wallet, with a message when it follows a purchase
// or a refund.
func (s *Server) walletPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	q := r.URL.Query()
	d, err := s.walletData(r, v, walletForm{currency: q.Get("currency")}, q.Get("kind"), q.Get("cursor"))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	ctx := r.Context()
	switch {
	case q.Has("welcome"):
		d.Notice = "Welcome to Fanfare, @" + v.User.Handle + "! Buy your first coins below to start supporting creators."
	case q.Get("bought") != "":
		if p, err := s.wallet.Purchase(ctx, v.User.ID, q.Get("bought")); err == nil && p.Status != wallet.PurchaseFailed && p.Status != wallet.PurchasePending {
			d.Notice = "Payment accepted: " + formatCoins(p.Coins) + " coins added for " + formatMoney(p.Amount, p.Currency) +
				". Your balance is now " + formatCoins(d.Coins) + " coins."
			if p.ChargebackExpected {
				d.Notice += " This test card will be charged back in a moment: the coins will then be taken back."
			}
		}
	case q.Get("refunded") != "":
		if p, err := s.wallet.Purchase(ctx, v.User.ID, q.Get("refunded")); err == nil && p.Status == wallet.PurchaseRefunded {
			d.Notice = "Refund complete: " + formatCoins(p.Coins) + " coins were taken back and " + formatMoney(p.Amount, p.Currency) +
				" goes back to your card."
		}
	}
	s.render(w, r, http.StatusOK, "wallet", d)
}

// walletData gathers the wallet page for v.
func (s *Server) walletData(r *http.Request, v *visitor, f walletForm, kind, cursor string) (*walletPageData, error) {
	ctx := r.Context()
	cat := s.wallet.Catalog()
	o, err := s.wallet.Overview(ctx, v.User.ID, "")
	if err != nil {
		return nil, err
	}
	// The page's figures all come from this one reading.
	v.Wallet = &o.Wallet
	cur := o.Currency
	d := &walletPageData{
		Layout:     Layout{Title: "Wallet", Nav: "wallet", Visitor: v, CSRF: s.sessionToken(v), Currency: cur, Error: f.err},
		Coins:      o.Coins,
		Diamonds:   o.Diamonds,
		Frozen:     o.Frozen,
		CoinsValue: o.FiatValue,
		Limit:      o.Limit,
		Currencies: cat.Currencies(),
		Card:       f.card,
		TestCards:  testCards,
		BuyKey:     newNonce(),
		Kind:       kind,
		Kinds:      historyKinds,
	}
	if o.Freeze != nil {
		d.FreezeReason = strings.TrimRight(o.Freeze.Reason, ".")
	}
	if o.CannotSpendCode != "" && o.CannotSpendCode != fanfare.EWalletFrozen {
		d.CannotSpend = o.CannotSpend
	}
	if o.CannotSpendCode == fanfare.ENotEligible {
		d.Limit = nil // an allowance they cannot use
	}

	d.PackCurrency = cur
	if c := strings.ToUpper(f.currency); slices.Contains(d.Currencies, c) {
		d.PackCurrency = c
	}
	list, err := cat.List(d.PackCurrency)
	if err != nil {
		return nil, err
	}
	best := ""
	if len(list.Packs) > 1 {
		best = list.BestValue()
	}
	for _, p := range list.Packs {
		d.Packs = append(d.Packs, packView{Pack: p, PricePer100: p.PricePer100(), Best: p.ID == best, Selected: p.ID == f.pack})
	}

	if kind != "" && !slices.ContainsFunc(d.Kinds, func(o option) bool { return o.Value == kind }) {
		d.Kinds = append(slices.Clip(d.Kinds), option{kind, kindName(kind)})
	}
	h, err := s.wallet.History(ctx, v.User.ID, wallet.HistoryQuery{Cursor: cursor, Kind: kind, Limit: historyPageSize, Currency: cur})
	if fanfare.ErrorCode(err) == fanfare.EInvalid {
		// A hand-edited link: show the newest page and say so.
		d.Kind, cursor = "", ""
		d.Error = cmp.Or(d.Error, "That page of your history does not exist; here is the newest one.")
		h, err = s.wallet.History(ctx, v.User.ID, wallet.HistoryQuery{Limit: historyPageSize, Currency: cur})
	}
	if err != nil {
		return nil, err
	}
	s.historyRows(v, d, h)
	link := func(cursor string) string {
		q := url.Values{}
		if d.Kind != "" {
			q.Set("kind", d.Kind)
		}
		if d.PackCurrency != cur {
			q.Set("currency", d.PackCurrency)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if len(q) == 0 {
			return "/wallet#history"
		}
		return "/wallet?" + q.Encode() + "#history"
	}
	if h.NextCursor != "" {
		d.OlderURL = link(h.NextCursor)
	}
	if cursor != "" {
		d.Paged = true
		d.NewestURL = link("")
	}
	return d, nil
}

// historyRows turns a page of history into rows, with a refund button on
// the purchases that can still be refunded.
func (s *Server) historyRows(v *visitor, d *walletPageData, h *wallet.History) {
	now := s.clock.Now()
	for _, t := range h.Transactions {
		row := txView{Transaction: t}
		if _, ok := purchaseOf(t); ok && t.Purchase != nil {
			row.Refund = refundOf(t.Purchase, v.Wallet, now)
		}
		d.History = append(d.History, row)
	}
}

// purchaseOf returns the purchase id of a purchase's credit.
func purchaseOf(t wallet.Transaction) (string, bool) {
	if t.Kind != "purchase" || t.Asset != fanfare.Coin || t.Amount <= 0 {
		return "", false
	}
	return strings.CutPrefix(t.Object, "purchase:")
}

// refundOf says whether p can be refunded now from a wallet that holds w,
// and why not. The service decides in the end; this only spares people a
// button that cannot work.
func refundOf(p *wallet.Purchase, w *wallet.Wallet, now time.Time) *refundView {
	rv := &refundView{PurchaseID: p.ID}
	until, ok := p.RefundableUntil()
	switch {
	case p.Status == wallet.PurchaseRefunded:
		rv.Reason = "Refunded"
	case p.Status == wallet.PurchaseChargedBack:
		rv.Reason = "Charged back"
	case !ok:
		rv.Reason = ""
	case now.After(until):
		rv.Reason = "Refund window closed"
	case w.Frozen:
		rv.Reason = "Wallet frozen"
	case w.Coins < p.Coins:
		rv.Reason = "Coins already spent"
	default:
		rv.Allowed, rv.Until, rv.Key = true, until, newNonce()
	}
	return rv
}

// buy sells the chosen pack through the sandbox provider. The form's
// idempotency key makes a second submission of the same form answer like
// the first without charging again.
func (s *Server) buy(w http.ResponseWriter, r *http.Request, v *visitor) {
	f := r.PostForm
	form := walletForm{currency: f.Get("currency"), pack: f.Get("pack_id"), card: strings.TrimSpace(f.Get("card_number"))}
	err := formText(f)
	var p *wallet.Purchase
	switch {
	case err != nil:
	case form.pack == "":
		err = fanfare.Errorf(fanfare.EInvalid, "choose a coin pack first")
	case form.card == "":
		err = fanfare.Errorf(fanfare.EInvalid, "enter a card number: this server takes test cards only, listed under the field")
	default:
		p, err = s.wallet.Buy(r.Context(), v.actor(), wallet.PurchaseInput{
			PackID:        form.pack,
			Provider:      payment.SandboxName,
			PaymentMethod: form.card,
		}, f.Get("idempotency_key"))
	}
	if err != nil {
		s.walletError(w, r, v, form, err, buyMessage)
		return
	}
	q := url.Values{"bought": {p.ID}}
	if form.currency != "" {
		q.Set("currency", form.currency)
	}
	http.Redirect(w, r, "/wallet?"+q.Encode(), http.StatusSeeOther)
}

// buyMessage explains a failed purchase.
func buyMessage(err error) string {
	switch fanfare.ErrorCode(err) {
	case fanfare.EPaymentDeclined:
		return "Your card was declined. No coins were taken."
	case fanfare.EIdempotencyConflict:
		return "This form was already sent with other details. Check the pack and card below and send it again."
	case fanfare.EIdempotencyKeyRequired:
		return "This form is incomplete. Reload the page and try again."
	}
	return sentence(fanfare.ErrorMessage(err))
}

// refund refunds one of the visitor's purchases in cash.
func (s *Server) refund(w http.ResponseWriter, r *http.Request, v *visitor) {
	f := r.PostForm
	id := f.Get("purchase_id")
	err := formText(f)
	if err == nil {
		_, err = s.wallet.Refund(r.Context(), v.actor(), id, f.Get("idempotency_key"))
	}
	if err != nil {
		s.walletError(w, r, v, walletForm{currency: f.Get("currency")}, err, refundMessage)
		return
	}
	http.Redirect(w, r, "/wallet?refunded="+url.QueryEscape(id), http.StatusSeeOther)
}

// refundMessage explains a refused refund.
func refundMessage(err error) string {
	switch fanfare.ErrorCode(err) {
	case fanfare.EInsufficientFunds:
		return "Those coins were already spent, so this purchase can no longer be refunded: a refund takes back the coins it gave."
	case fanfare.EWalletFrozen:
		return "Your wallet is frozen, so no coins can be taken back for a refund until it is settled."
	case fanfare.ENotFound:
		return "That purchase was not found in your wallet."
	case fanfare.EIdempotencyKeyRequired, fanfare.EIdempotencyConflict:
		return "This refund button is out of date. Reload the page and try again."
	}
	return sentence(fanfare.ErrorMessage(err))
}

// walletError shows the wallet page again with what went wrong; internal
// errors get the error page.
func (s *Server) walletError(w http.ResponseWriter, r *http.Request, v *visitor, form walletForm, err error, message func(error) string) {
	if fanfare.ErrorCode(err) == fanfare.EInternal {
		s.internalError(w, r, err)
		return
	}
	// The wallet may have changed (a declined card changes nothing, a
	// refund refused for spent coins neither), but read it again anyway.
	fresh, verr := s.visitor(r)
	if verr != nil {
		s.internalError(w, r, verr)
		return
	}
	if fresh != nil {
		v = fresh
	}
	form.err = message(err)
	d, derr := s.walletData(r, v, form, "", "")
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	s.render(w, r, statusOf(err), "wallet", d)
}
