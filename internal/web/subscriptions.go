package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/profile"
	"github.com/fanfarehq/fanfare/internal/subscription"
)

// maxTierRows bounds the rows of the plan editor a form may send: more
// than subscription.MaxTiers reach the service, which refuses them with
// its sentence.
const maxTierRows = 10

// subscribersPageSize is how many subscribers the creator's list shows at
// once; subscriptionsPageSize how many subscriptions the fan's page does.
const (
	subscribersPageSize   = 20
	subscriptionsPageSize = 20
)

// tierRow is one tier of the plan editor: what its fields hold and each
// field's problem.
type tierRow struct {
	Index    int
	ID       string // kept across edits; empty for a new tier
	Name     string
	Price    string
	Perks    string // one a line
	Problems map[string]string
}

// planView is the monetization page's LIVE Subscription section.
type planView struct {
	Enabled     bool
	Rows        []tierRow
	Eligible    bool
	Reasons     []fanfare.Reason
	MinPrice    fanfare.Amount
	MaxPrice    fanfare.Amount
	Subscribers int
	MaxTiers    int
	MaxName     int
	MaxPerks    int
	Notice      string // the notice period of a price change: "7 days"
	CanAdd      bool
	// Problem is why the form was not saved, shown in the section.
	Problem string
}

// planRows are the editor's rows of a saved plan (one empty row when it
// has none).
func planRows(tiers []subscription.Tier) []tierRow {
	rows := make([]tierRow, 0, len(tiers))
	for i, t := range tiers {
		rows = append(rows, tierRow{Index: i, ID: t.ID, Name: t.Name, Price: itoa(t.Price), Perks: strings.Join(t.Perks, "\n")})
	}
	if len(rows) == 0 {
		rows = append(rows, tierRow{})
	}
	return rows
}

// planSection reads the visitor's plan for the monetization page; rows,
// when set, are what the form held.
func (s *Server) planSection(ctx context.Context, v *visitor, enabled *bool, rows []tierRow) (*planView, error) {
	if s.subs == nil || !eligibility.Released(eligibility.Subscriptions) {
		return nil, nil
	}
	p, err := s.subs.Plan(ctx, v.User.ID)
	if err != nil {
		return nil, err
	}
	opts := s.subs.Options()
	pv := &planView{Enabled: p.Enabled, Eligible: p.Eligible, Reasons: p.Reasons, MinPrice: p.MinPrice, MaxPrice: p.MaxPrice,
		Subscribers: p.Subscribers, MaxTiers: subscription.MaxTiers, MaxName: subscription.MaxTierName, MaxPerks: subscription.MaxPerks,
		Notice: windowName(opts.Notice)}
	if enabled != nil {
		pv.Enabled = *enabled
	}
	if rows == nil {
		rows = planRows(p.Tiers)
	}
	for i := range rows {
		rows[i].Index = i
	}
	pv.Rows = rows
	pv.CanAdd = len(rows) < subscription.MaxTiers
	return pv, nil
}

// readPlanForm reads the plan editor's rows: tier_count rows, each
// tierN_id, tierN_name, tierN_price and tierN_perks.
func readPlanForm(f url.Values) []tierRow {
	n, _ := strconv.Atoi(f.Get("tier_count"))
	n = max(0, min(n, maxTierRows))
	rows := make([]tierRow, 0, n)
	for i := range n {
		p := "tier" + itoa(i) + "_"
		rows = append(rows, tierRow{ID: strings.TrimSpace(f.Get(p + "id")), Name: f.Get(p + "name"), Price: f.Get(p + "price"), Perks: f.Get(p + "perks")})
	}
	return rows
}

// checkRows checks each row's fields, setting their problems, and returns
// the tiers they make and whether every field is right.
func checkRows(rows []tierRow, min, max fanfare.Amount) ([]subscription.TierInput, bool) {
	ok := true
	tiers := make([]subscription.TierInput, 0, len(rows))
	names := map[string]bool{}
	for i := range rows {
		r := &rows[i]
		r.Problems = map[string]string{}
		name := strings.TrimSpace(r.Name)
		switch n := utf8.RuneCountInString(name); {
		case n == 0:
			r.Problems["name"] = "Name this tier."
		case n > subscription.MaxTierName:
			r.Problems["name"] = "A tier's name is at most " + itoa(subscription.MaxTierName) + " characters; this one has " + itoa(n) + "."
		case names[strings.ToLower(name)]:
			r.Problems["name"] = "Another tier has this name; give each tier its own."
		}
		names[strings.ToLower(name)] = true
		price, isNumber := wholeNumber(r.Price)
		switch {
		case strings.TrimSpace(r.Price) == "":
			r.Problems["price"] = "Set the monthly price, in coins."
		case !isNumber:
			r.Problems["price"] = "Enter the price as a whole number of coins, such as 300."
		case fanfare.Amount(price) < min || fanfare.Amount(price) > max:
			r.Problems["price"] = "A monthly price is " + formatCoins(min) + " to " + formatCoins(max) + " coins."
		}
		var perks []string
		for _, line := range strings.Split(r.Perks, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				perks = append(perks, line)
				if n := utf8.RuneCountInString(line); n > subscription.MaxPerk {
					r.Problems["perks"] = "A perk is at most " + itoa(subscription.MaxPerk) + " characters; one has " + itoa(n) + "."
				}
			}
		}
		if len(perks) > subscription.MaxPerks {
			r.Problems["perks"] = "List at most " + itoa(subscription.MaxPerks) + " perks, one a line."
		}
		if len(r.Problems) > 0 {
			ok = false
		}
		tiers = append(tiers, subscription.TierInput{ID: r.ID, Name: name, Price: fanfare.Amount(price), Perks: perks})
	}
	return tiers, ok
}

// setPlan saves the plan editor, or adds or removes a row of it (the
// buttons "Add a tier" and "Remove", which save nothing).
func (s *Server) setPlan(w http.ResponseWriter, r *http.Request, v *visitor) {
	f := r.PostForm
	rows := readPlanForm(f)
	enabled := f.Get("enabled") == "true"
	err := formText(f, "tier0_perks", "tier1_perks", "tier2_perks", "tier3_perks", "tier4_perks", "tier5_perks", "tier6_perks",
		"tier7_perks", "tier8_perks", "tier9_perks")
	op := f.Get("op")
	if err == nil && (op == "add" || strings.HasPrefix(op, "remove-")) {
		if op == "add" && len(rows) < subscription.MaxTiers {
			rows = append(rows, tierRow{})
		} else if i, perr := strconv.Atoi(strings.TrimPrefix(op, "remove-")); perr == nil && i >= 0 && i < len(rows) {
			rows = append(rows[:i], rows[i+1:]...)
		}
		s.renderPlan(w, r, v, http.StatusOK, &enabled, rows, "", "")
		return
	}
	var tiers []subscription.TierInput
	changed := false
	if err == nil {
		min, max := s.subs.Options().MinPrice, s.subs.Options().MaxPrice
		var ok bool
		if tiers, ok = checkRows(rows, min, max); !ok {
			s.renderPlan(w, r, v, http.StatusUnprocessableEntity, &enabled, rows, "Your plan was not saved; check the tiers below.", "")
			return
		}
		old, perr := s.subs.Plan(r.Context(), v.User.ID)
		if perr != nil {
			s.internalError(w, r, perr)
			return
		}
		was := map[string]fanfare.Amount{}
		for _, t := range old.Tiers {
			was[t.ID] = t.Price
		}
		for _, t := range tiers {
			if p, ok := was[t.ID]; ok && p != t.Price {
				changed = true
			}
		}
		_, err = s.subs.SetPlan(r.Context(), v.actor(), subscription.PlanInput{Enabled: enabled, Tiers: tiers})
	}
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EInternal {
			s.internalError(w, r, err)
			return
		}
		msg := sentence(fanfare.ErrorMessage(err))
		s.renderPlan(w, r, v, statusOf(err), &enabled, rows, "Your plan was not saved: "+msg, msg+" Nothing was changed.")
		return
	}
	next := "/studio/monetization?subscription=saved"
	if changed {
		next += "&price=changed"
	}
	http.Redirect(w, r, next+"#subscription", http.StatusSeeOther)
}

// renderPlan shows the monetization page with the plan editor as sent.
func (s *Server) renderPlan(w http.ResponseWriter, r *http.Request, v *visitor, status int, enabled *bool, rows []tierRow, pageErr, problem string) {
	d, err := s.monetizationData(r, v, "")
	if err == nil {
		d.Plan, err = s.planSection(r.Context(), v, enabled, rows)
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if d.Plan != nil {
		d.Plan.Problem = problem
	}
	d.Error = pageErr
	s.render(w, r, status, "monetization", d)
}

// planNotice is the monetization page's message after the plan is saved.
func planNotice(p *planView, priceChanged bool) string {
	var msg string
	switch {
	case !p.Enabled:
		msg = "LIVE Subscription is off: fans see no Subscribe button on your profile. Paid periods run out; nothing renews."
	case !p.Eligible:
		msg = "Your plan is saved. Fans can subscribe once you meet every requirement of LIVE Subscription."
	default:
		msg = "Your plan is saved: fans can subscribe from your profile."
	}
	if priceChanged {
		msg += " A new price applies to new subscribers at once, and to your subscribers at their first renewal after " + p.Notice + "' notice; they are told on their subscriptions page."
	}
	return msg
}

// subscriberRow is one line of the creator's subscriber list.
type subscriberRow struct {
	subscription.Subscription
	Name  string // the fan's display name
	Step  int    // the tenure badge's step
	State string // "Active", "In grace", "Cancelled, until …"
}

// subscribersPageData is the creator's subscriber list.
type subscribersPageData struct {
	Layout
	Rows      []subscriberRow
	Count     int
	MoreURL   string
	NewestURL string
	Paged     bool
}

func (s *Server) subscribersPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	ctx := r.Context()
	cursor := r.URL.Query().Get("cursor")
	d := &subscribersPageData{Layout: Layout{Title: "Your subscribers", Nav: "monetization", Visitor: v, CSRF: s.sessionToken(v)}}
	page, err := s.subs.Subscribers(ctx, v.actor(), cursor, subscribersPageSize)
	if fanfare.ErrorCode(err) == fanfare.EInvalid {
		cursor = ""
		d.Error = "That page of your subscribers does not exist; here are the newest ones."
		page, err = s.subs.Subscribers(ctx, v.actor(), "", subscribersPageSize)
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	plan, err := s.subs.Plan(ctx, v.User.ID)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d.Count = plan.Subscribers
	for _, sub := range page.Subscriptions {
		row := subscriberRow{Subscription: sub, Step: fanfare.BadgeFor(sub.Months), State: s.subscriptionState(&sub)}
		if u, err := s.accounts.ByID(ctx, sub.FanID); err == nil {
			row.Name = u.DisplayName
		}
		d.Rows = append(d.Rows, row)
	}
	if page.Next != "" {
		d.MoreURL = "/studio/subscribers?cursor=" + url.QueryEscape(page.Next)
	}
	if cursor != "" {
		d.Paged, d.NewestURL = true, "/studio/subscribers"
	}
	s.render(w, r, http.StatusOK, "studio_subscribers", d)
}

// subscriptionState names a subscription's state for people.
func (s *Server) subscriptionState(sub *subscription.Subscription) string {
	switch {
	case sub.State == subscription.Grace:
		return "In grace"
	case sub.State == subscription.Ended:
		return endLabels[sub.EndReason]
	case !sub.AutoRenew && sub.GiftedBy != "":
		return "Gifted, until " + dayName(sub.PeriodEnd)
	case !sub.AutoRenew:
		return "Cancelled, until " + dayName(sub.PeriodEnd)
	}
	return "Active"
}

// endLabels name why a subscription ended.
var endLabels = map[string]string{
	subscription.EndCancelled: "Ended (cancelled)",
	subscription.EndLapsed:    "Ended: no renewal could be paid",
	subscription.EndGift:      "Ended: the gifted month ran out",
	subscription.EndCreator:   "Ended: the creator no longer offers it",
}

func dayName(t time.Time) string { return t.UTC().Format("Mon 2 Jan 2006") }

// badgeName writes a tenure badge's step: "1-month badge".
func badgeName(step int) string {
	if step == 0 {
		return "no badge"
	}
	return itoa(step) + "-month badge"
}

// tierCard is a tier of the Subscribe dialog.
type tierCard struct {
	subscription.Tier
	Fiat    fanfare.Amount
	Checked bool
}

// subscribeOffer is the Subscribe dialog: the tiers with their prices in
// the visitor's currency, and the form's key.
type subscribeOffer struct {
	Path     string // where the form posts
	Tiers    []tierCard
	Key      string
	Coins    fanfare.Amount
	Currency string
	Notice   string // how a price change reaches subscribers
	// Subscription is the visitor's open subscription to the creator.
	Subscription *subscription.Subscription
	CannotSpend  string
}

// subscribeOffer builds the Subscribe dialog of d's profile for v, with
// tier chosen (the first otherwise).
func (s *Server) subscribeOfferFor(d *creatorPageData, v *visitor, tier string) (*subscribeOffer, error) {
	p := d.Profile
	if s.subs == nil || p.Subscription == nil {
		return nil, nil
	}
	o := &subscribeOffer{Path: d.URL + "/subscribe", Key: newNonce(), Currency: d.Currency, Subscription: p.Subscription.Subscription,
		Notice: windowName(s.subs.Options().Notice)}
	if v != nil {
		o.Coins = v.Wallet.Coins
	}
	for _, t := range p.Subscription.Tiers {
		fiat, err := s.wallet.Catalog().FiatValue(d.Currency, t.Price)
		if err != nil {
			return nil, err
		}
		o.Tiers = append(o.Tiers, tierCard{Tier: t, Fiat: fiat, Checked: t.ID == tier})
	}
	if len(o.Tiers) > 0 && !anyTierChecked(o.Tiers) {
		o.Tiers[0].Checked = true
	}
	return o, nil
}

func anyTierChecked(ts []tierCard) bool {
	for _, t := range ts {
		if t.Checked {
			return true
		}
	}
	return false
}

// subscribeFormData is what the Subscribe form's template reads.
type subscribeFormData struct {
	Offer *subscribeOffer
	CSRF  string
}

// subscribePageData is the Subscribe page, the dialog without script.
type subscribePageData struct {
	Layout
	Creator *profile.Profile
	URL     string
	Action  profile.Action
	Offer   *subscribeOffer
	// Subscribed: the visitor subscribes already (the page says so and
	// links their subscriptions, without the reasons).
	Subscribed bool
}

func (s *Server) subscribePage(w http.ResponseWriter, r *http.Request, v *visitor) {
	creator, ok := s.creator(w, r)
	if !ok {
		return
	}
	d, err := s.subscribeData(w, r, v, creator, "")
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "subscribe", d)
}

func (s *Server) subscribeData(w http.ResponseWriter, r *http.Request, v *visitor, creator *fanfare.User, tier string) (*subscribePageData, error) {
	cd, err := s.creatorData(w, r, v, creator, tipInput{})
	if err != nil {
		return nil, err
	}
	d := &subscribePageData{
		Layout:  Layout{Title: "Subscribe to @" + creator.Handle, Visitor: v, CSRF: cd.CSRF, Currency: cd.Currency},
		Creator: cd.Profile,
		URL:     cd.URL,
		Action:  cd.Profile.Action(profile.ActionSubscribe),
	}
	if d.Offer, err = s.subscribeOfferFor(cd, v, tier); err != nil {
		return nil, err
	}
	d.Subscribed = d.Offer != nil && d.Offer.Subscription != nil
	if d.Offer != nil && cd.Subscribe != nil {
		d.Offer.CannotSpend = cd.Subscribe.CannotSpend
	}
	return d, nil
}

// subscribe sends the Subscribe form: the chosen tier's price pays the
// first month at once. Its idempotency key makes a second submission of
// the same form answer like the first without charging again.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request, v *visitor) {
	creator, ok := s.creator(w, r)
	if !ok {
		return
	}
	f := r.PostForm
	tier := strings.TrimSpace(f.Get("tier"))
	err := formText(f)
	var sub *subscription.Subscribed
	if err == nil {
		sub, err = s.subs.Subscribe(r.Context(), v.actor(), creator.ID, subscription.SubscribeInput{Tier: tier}, f.Get("idempotency_key"))
	}
	if err == nil {
		http.Redirect(w, r, "/subscriptions?subscribed="+url.QueryEscape(sub.Subscription.ID), http.StatusSeeOther)
		return
	}
	if fanfare.ErrorCode(err) == fanfare.EInternal {
		s.internalError(w, r, err)
		return
	}
	d, derr := s.subscribeData(w, r, v, creator, tier)
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	d.Error = s.subscribeMessage(err, creator, d)
	if fe, ok := errors.AsType[*fanfare.Error](err); ok && fanfare.ErrorCode(err) != fanfare.EConflict {
		d.Reasons = fe.Reasons
	}
	s.render(w, r, statusOf(err), "subscribe", d)
}

// subscribeMessage explains a subscription that was not taken.
func (s *Server) subscribeMessage(err error, creator *fanfare.User, d *subscribePageData) string {
	const nothing = " No coins were taken."
	switch fanfare.ErrorCode(err) {
	case fanfare.ENotEligible, fanfare.ERegionBlocked:
		return "You were not subscribed to @" + creator.Handle + ", and no coins were taken:"
	case fanfare.EConflict:
		return "You subscribe to @" + creator.Handle + " already: manage it on your subscriptions page." + nothing
	case fanfare.EInsufficientFunds:
		var price fanfare.Amount
		if d.Offer != nil {
			for _, t := range d.Offer.Tiers {
				if t.Checked {
					price = t.Price
				}
			}
		}
		return "You don't have enough coins for this subscription (" + coinsName(price) + " a month): you have " +
			coinsName(d.Offer.Coins) + ". Buy coins in your wallet, then try again."
	case fanfare.EIdempotencyConflict:
		return "This form was already sent with another tier. Choose again and confirm." + nothing
	case fanfare.EIdempotencyKeyRequired:
		return "This form is incomplete. Reload the page and try again." + nothing
	case fanfare.ENotFound:
		return "This tier is no longer offered. Choose another one." + nothing
	}
	return sentence(fanfare.ErrorMessage(err)) + nothing
}

// subscriptionView is a subscription on the fan's page, with what the fan
// may do with it.
type subscriptionView struct {
	subscription.Subscription
	StateLabel string
	Open       bool // not ended: the fan may cancel, renew again, change tier
	// Tiers are the creator's other tiers the fan may move to.
	Tiers []subscription.Tier
	Step  int
}

// subscriptionsPageData is the fan's subscriptions.
type subscriptionsPageData struct {
	Layout
	Open      []subscriptionView
	Past      []subscriptionView
	MoreURL   string
	NewestURL string
	Paged     bool
}

func (s *Server) subscriptionsPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.subscriptionsData(r, v, r.URL.Query().Get("cursor"))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	q := r.URL.Query()
	if id := q.Get("subscribed"); id != "" {
		// A link someone edited finds nothing and shows no message.
		if sub, err := s.subs.Get(r.Context(), v.actor(), id); err == nil && sub.FanID == v.User.ID {
			d.Notice = "You subscribe to @" + sub.Creator + "'s " + sub.Tier + ": " + coinsName(sub.Price) + " paid for the first month. " +
				"It renews on " + dayName(sub.PeriodEnd) + ". Your badge: " + badgeName(sub.Badge) + "."
		}
	}
	switch q.Get("done") {
	case "cancel":
		d.Notice = "Renewal is off. You keep the perks until the paid month ends; nothing more is charged."
	case "renew":
		d.Notice = "Renewal is back on: your subscription renews at the end of the paid month."
	case "tier":
		d.Notice = "Saved: your new tier starts at your next renewal."
	}
	s.render(w, r, http.StatusOK, "subscriptions", d)
}

func (s *Server) subscriptionsData(r *http.Request, v *visitor, cursor string) (*subscriptionsPageData, error) {
	ctx := r.Context()
	d := &subscriptionsPageData{Layout: Layout{Title: "Your subscriptions", Nav: "subscriptions", Visitor: v, CSRF: s.sessionToken(v)}}
	page, err := s.subs.List(ctx, v.actor(), cursor, subscriptionsPageSize)
	if fanfare.ErrorCode(err) == fanfare.EInvalid {
		cursor = ""
		d.Error = "That page of your subscriptions does not exist; here are the newest ones."
		page, err = s.subs.List(ctx, v.actor(), "", subscriptionsPageSize)
	}
	if err != nil {
		return nil, err
	}
	for _, sub := range page.Subscriptions {
		sv := subscriptionView{Subscription: sub, StateLabel: s.subscriptionState(&sub), Open: sub.State != subscription.Ended,
			Step: fanfare.BadgeFor(sub.Months)}
		if !sv.Open {
			d.Past = append(d.Past, sv)
			continue
		}
		creator, err := s.accounts.ByID(ctx, sub.CreatorID)
		if err != nil {
			return nil, err
		}
		o, err := s.subs.Decide(ctx, v.User, creator)
		if err != nil {
			return nil, err
		}
		if len(o.Tiers) > 1 {
			sv.Tiers = o.Tiers
		}
		d.Open = append(d.Open, sv)
	}
	if page.Next != "" {
		d.MoreURL = "/subscriptions?cursor=" + url.QueryEscape(page.Next)
	}
	if cursor != "" {
		d.Paged, d.NewestURL = true, "/subscriptions"
	}
	return d, nil
}

// subscriptionAction runs the fan's forms on a subscription: cancel,
// renew (turn renewal back on), tier (from the next renewal).
func (s *Server) subscriptionAction(w http.ResponseWriter, r *http.Request, v *visitor) {
	ctx, id, f := r.Context(), r.PathValue("id"), r.PostForm
	action := r.PathValue("action")
	err := formText(f)
	if err == nil {
		switch action {
		case "cancel":
			_, err = s.subs.Cancel(ctx, v.actor(), id)
		case "renew":
			on := true
			_, err = s.subs.Change(ctx, v.actor(), id, subscription.ChangeInput{AutoRenew: &on})
		case "tier":
			if tier := strings.TrimSpace(f.Get("tier")); tier == "" {
				err = fanfare.Errorf(fanfare.EInvalid, "choose a tier")
			} else {
				_, err = s.subs.Change(ctx, v.actor(), id, subscription.ChangeInput{Tier: tier})
			}
		default:
			s.notFound(w, r)
			return
		}
	}
	if err == nil {
		http.Redirect(w, r, "/subscriptions?done="+action, http.StatusSeeOther)
		return
	}
	switch fanfare.ErrorCode(err) {
	case fanfare.EInternal:
		s.internalError(w, r, err)
		return
	case fanfare.ENotFound:
		if action != "tier" {
			s.errorPage(w, r, http.StatusNotFound, "Subscription not found", "There is no subscription of yours at this address.")
			return
		}
	}
	d, derr := s.subscriptionsData(r, v, "")
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	d.Error = sentence(fanfare.ErrorMessage(err)) + " Nothing was changed."
	s.render(w, r, statusOf(err), "subscriptions", d)
}

// setPreferences saves the settings page's consent to gifted
// subscriptions.
func (s *Server) setPreferences(w http.ResponseWriter, r *http.Request, v *visitor) {
	on := r.PostForm.Get("accept_gifted_subscriptions") == "true"
	if _, err := s.subs.SetPreferences(r.Context(), v.actor(), subscription.PreferencesInput{AcceptGiftedSubscriptions: &on}); err != nil {
		s.internalError(w, r, err)
		return
	}
	state := "gifts-off"
	if on {
		state = "gifts-on"
	}
	http.Redirect(w, r, "/settings?preferences="+state+"#preferences", http.StatusSeeOther)
}
