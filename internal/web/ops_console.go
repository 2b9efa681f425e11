package web

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/console"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// The operator's console: its home (the headline figures), the users,
// one user's page with its forms, the payouts to review, verify and the
// background jobs. Every page and form is the operator's only
// (s.operator); each form goes through the same service call as its API
// route (docs/console.md lists them).

// figureDays is the window of the console's figures.
const figureDays = 30

// consoleChart is one chart of the console's home.
type consoleChart struct {
	ID, Title string
	Total     string // the window's total, written out
	Chart     *chartView
	Legend    []legendItem
}

// legendItem is one series of a stacked chart.
type legendItem struct{ Class, Name, Total string }

// consoleHomeData is the console's home.
type consoleHomeData struct {
	Layout
	Days    int
	Charts  []consoleChart
	Figures *console.Figures
	// Revenue is each day's revenue per feature, in Figures.Features'
	// order (the table).
	Revenue [][]fanfare.Amount
	Money   [][]fanfare.Amount // each day's money per currency
}

// featureClass is the chart colour of a feature's revenue.
func featureClass(feature string) string {
	switch feature {
	case "gift":
		return "f-gifts"
	case "tip":
		return "f-tips"
	case "shoutout":
		return "f-shoutouts"
	case "subscription":
		return "f-subscriptions"
	}
	return "f-other"
}

// featureTitle names a feature in the figures.
func featureTitle(feature string) string {
	switch feature {
	case "gift":
		return "Gifts"
	case "tip":
		return "Tips"
	case "shoutout":
		return "Shoutouts"
	case "subscription":
		return "Subscriptions"
	}
	return titleCase(strings.ReplaceAll(feature, "_", " "))
}

func (s *Server) consoleHome(w http.ResponseWriter, r *http.Request, v *visitor) {
	f, err := s.console.Figures(r.Context(), figureDays)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d := &consoleHomeData{Layout: Layout{Title: "Console", Nav: "ops-console", Visitor: v, CSRF: s.sessionToken(v)}, Days: figureDays, Figures: f}
	days := make([]time.Time, len(f.Days))
	one := func(get func(console.Day) fanfare.Amount) [][]fanfare.Amount {
		a := make([]fanfare.Amount, len(f.Days))
		for i, day := range f.Days {
			a[i] = get(day)
		}
		return [][]fanfare.Amount{a}
	}
	for i, day := range f.Days {
		days[i] = day.Day
	}
	span := f.Days[0].Day.Format("2 Jan") + " to " + f.Days[len(f.Days)-1].Day.Format("2 Jan 2006")
	d.Charts = append(d.Charts, consoleChart{ID: "coins-sold", Title: "Coins sold", Total: formatCoins(f.Total.CoinsSold) + " coins",
		Chart: barChart(days, one(func(d console.Day) fanfare.Amount { return d.CoinsSold }), []string{"f-gifts"}, "coins",
			"Coins sold each day from "+span+"; the same figures are in the table below.")})
	for _, c := range f.Currencies {
		d.Charts = append(d.Charts, consoleChart{ID: "money-" + strings.ToLower(c), Title: "Money taken (" + c + ")", Total: formatMoney(f.Total.Money[c], c),
			Chart: barChart(days, one(func(d console.Day) fanfare.Amount { return d.Money[c] }), []string{"f-tips"}, c+" minor units",
				"Money taken in "+c+" each day from "+span+", in minor units; the same figures are in the table below.")})
	}
	d.Charts = append(d.Charts,
		consoleChart{ID: "diamonds-earned", Title: "Diamonds earned by creators", Total: formatCoins(f.Total.DiamondsEarned) + " diamonds",
			Chart: barChart(days, one(func(d console.Day) fanfare.Amount { return d.DiamondsEarned }), []string{"f-subscriptions"}, "diamonds",
				"Diamonds earned by creators each day from "+span+"; the same figures are in the table below.")},
		consoleChart{ID: "diamonds-paid", Title: "Diamonds paid out", Total: formatCoins(f.Total.DiamondsPaid) + " diamonds",
			Chart: barChart(days, one(func(d console.Day) fanfare.Amount { return d.DiamondsPaid }), []string{"f-shoutouts"}, "diamonds",
				"Diamonds paid out each day from "+span+"; the same figures are in the table below.")})
	series := make([][]fanfare.Amount, len(f.Features))
	classes := make([]string, len(f.Features))
	var legend []legendItem
	var kept fanfare.Amount
	for j, feature := range f.Features {
		series[j] = make([]fanfare.Amount, len(f.Days))
		for i, day := range f.Days {
			series[j][i] = day.Revenue[feature]
		}
		classes[j] = featureClass(feature)
		legend = append(legend, legendItem{Class: classes[j], Name: featureTitle(feature), Total: formatSigned(f.Total.Revenue[feature])})
		kept += f.Total.Revenue[feature]
	}
	d.Charts = append(d.Charts, consoleChart{ID: "revenue", Title: "Platform revenue by feature", Total: formatCoins(kept) + " coins kept",
		Chart: barChart(days, series, classes, "coins kept",
			"Coins the platform kept each day from "+span+" (coins spent less diamonds credited), stacked by feature; the same figures are in the table below."),
		Legend: legend})
	for _, day := range f.Days {
		rev := make([]fanfare.Amount, len(f.Features))
		for j, feature := range f.Features {
			rev[j] = day.Revenue[feature]
		}
		d.Revenue = append(d.Revenue, rev)
		money := make([]fanfare.Amount, len(f.Currencies))
		for j, c := range f.Currencies {
			money[j] = day.Money[c]
		}
		d.Money = append(d.Money, money)
	}
	s.render(w, r, http.StatusOK, "ops_console", d)
}

// usersPageSize is how many users a page of the search lists.
const usersPageSize = 25

// usersPageData is the users' search.
type usersPageData struct {
	Layout
	Query string
	Users []*fanfare.User
	Next  string // the next page's address
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	q := r.URL.Query()
	d := &usersPageData{Layout: Layout{Title: "Users", Nav: "ops-c-users", Visitor: v, CSRF: s.sessionToken(v)}, Query: strings.TrimSpace(q.Get("q"))}
	p, err := s.accounts.Search(r.Context(), d.Query, q.Get("after"), usersPageSize)
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EInternal {
			s.internalError(w, r, err)
			return
		}
		d.Error = sentence(fanfare.ErrorMessage(err))
		s.render(w, r, statusOf(err), "ops_users", d)
		return
	}
	d.Users = p.Users
	if p.Next != "" {
		d.Next = "/ops/users?" + url.Values{"q": {d.Query}, "after": {p.Next}}.Encode()
	}
	s.render(w, r, http.StatusOK, "ops_users", d)
}

// userPageData is one user as the console shows them.
type userPageData struct {
	Layout
	U      *fanfare.User
	Wallet walletUser
	// History is the user's ledger history, as their wallet page lists it.
	History     []wallet.Transaction
	HistoryNext string
	// Hold is the payout hold.
	Held       bool
	HoldReason string
	Audit      []trailRow
	Standings  []string
	// GrantKey makes the grant form's submissions one grant.
	GrantKey string
	// What the operator typed when a form was refused.
	Form url.Values
}

// trailRow is an entry of a user's audit trail as the console lists it.
type trailRow struct {
	At      time.Time
	Who     string
	Action  string
	Details string
}

// userHistorySize is how many transactions the user's page lists at once.
const userHistorySize = 20

func (s *Server) opsUserPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, status, err := s.opsUserData(r, v, r.PathValue("handle"))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if d == nil {
		s.errorPage(w, r, http.StatusNotFound, "User not found", "No user has this handle.")
		return
	}
	switch r.URL.Query().Get("done") {
	case "standing":
		d.Notice = "Changed the standing of @" + d.U.Handle + " to " + string(d.U.Standing) + "."
		if d.U.Standing == fanfare.StandingRestricted || d.U.Standing == fanfare.StandingBanned {
			d.Notice += " Their open shoutouts are being refunded and their subscriptions will not renew."
		}
	case "granted":
		d.Notice = "Granted " + r.URL.Query().Get("coins") + " coins to @" + d.U.Handle + "."
	case "replayed":
		d.Notice = "This grant was made already: it was not made twice."
	case "held":
		d.Notice = "Held the payouts of @" + d.U.Handle + "."
	case "released":
		d.Notice = "Released the payouts of @" + d.U.Handle + "."
	}
	s.render(w, r, status, "ops_user", d)
}

// opsUserData gathers the user's page (nil when no user has the handle).
func (s *Server) opsUserData(r *http.Request, v *visitor, handle string) (*userPageData, int, error) {
	ctx := r.Context()
	u, err := s.accounts.ByHandle(ctx, handle)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		return nil, http.StatusNotFound, nil
	} else if err != nil {
		return nil, 0, err
	}
	d := &userPageData{Layout: Layout{Title: "@" + u.Handle, Nav: "ops-c-users", Visitor: v, CSRF: s.sessionToken(v)}, U: u,
		GrantKey: fanfare.NewID(s.clock), Form: url.Values{}}
	for _, st := range standingOptions {
		d.Standings = append(d.Standings, string(st))
	}
	wl, err := s.wallet.Wallet(ctx, u.ID)
	if err != nil {
		return nil, 0, err
	}
	d.Wallet = walletUser{Handle: u.Handle, DisplayName: u.DisplayName, Coins: wl.Coins, Diamonds: wl.Diamonds, Frozen: wl.Frozen, Negative: wl.Coins < 0}
	f, err := s.wallet.FreezeOf(ctx, u.ID)
	if err != nil {
		return nil, 0, err
	}
	names := map[string]string{}
	if f != nil {
		d.Wallet.FreezeReason, d.Wallet.FrozenAt = f.Reason, f.FrozenAt
		if d.Wallet.FrozenBy, err = s.actorName(ctx, names, f.Actor); err != nil {
			return nil, 0, err
		}
	}
	h, err := s.wallet.History(ctx, u.ID, wallet.HistoryQuery{Cursor: r.URL.Query().Get("history"), Limit: userHistorySize})
	if fanfare.ErrorCode(err) == fanfare.EInvalid {
		h, err = s.wallet.History(ctx, u.ID, wallet.HistoryQuery{Limit: userHistorySize})
	}
	if err != nil {
		return nil, 0, err
	}
	d.History = h.Transactions
	if h.NextCursor != "" {
		d.HistoryNext = "/ops/users/" + u.Handle + "?" + url.Values{"history": {h.NextCursor}}.Encode() + "#history"
	}
	hold, err := s.payouts.HoldOf(ctx, u.ID)
	if err != nil {
		return nil, 0, err
	}
	d.Held, d.HoldReason = hold.Held, hold.Reason
	entries, err := s.console.Audit(ctx, v.actor(), "user:"+u.ID)
	if err != nil {
		return nil, 0, err
	}
	for i := len(entries) - 1; i >= 0; i-- { // newest first
		e := entries[i]
		who, err := s.actorName(ctx, names, e.Actor)
		if err != nil {
			return nil, 0, err
		}
		d.Audit = append(d.Audit, trailRow{At: e.CreatedAt, Who: who, Action: e.Action, Details: auditDetails(e.Details)})
	}
	return d, http.StatusOK, nil
}

// auditDetails writes an audit entry's details for the page: its fields
// as "name: value", changes as "from → to".
func auditDetails(raw json.RawMessage) string {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return string(raw)
	}
	var parts []string
	for _, k := range keysOf(m) {
		val := m[k]
		if c, ok := val.(map[string]any); ok {
			if from, ok := c["from"]; ok {
				parts = append(parts, k+": "+jsonText(from)+" → "+jsonText(c["to"]))
				continue
			}
		}
		parts = append(parts, k+": "+jsonText(val))
	}
	return strings.Join(parts, "; ")
}

func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// refuseUserForm shows the user's page again with err and what was typed.
func (s *Server) refuseUserForm(w http.ResponseWriter, r *http.Request, v *visitor, handle string, err error) {
	if fanfare.ErrorCode(err) == fanfare.EInternal {
		s.internalError(w, r, err)
		return
	}
	d, _, derr := s.opsUserData(r, v, handle)
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	if d == nil {
		s.errorPage(w, r, http.StatusNotFound, "User not found", "No user has this handle. Nothing was changed.")
		return
	}
	d.Form = r.PostForm
	d.Form.Del("csrf_token")
	if k := r.PostForm.Get("key"); k != "" {
		d.GrantKey = k // the same grant, if sent again
	}
	d.Error = sentence(fanfare.ErrorMessage(err)) + " Nothing was changed."
	s.render(w, r, statusOf(err), "ops_user", d)
}

// formUser reads the user a console form is about (false: answered 404).
func (s *Server) formUser(w http.ResponseWriter, r *http.Request) (*fanfare.User, bool) {
	u, err := s.accounts.ByHandle(r.Context(), r.PathValue("handle"))
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		s.errorPage(w, r, http.StatusNotFound, "User not found", "No user has this handle. Nothing was changed.")
		return nil, false
	} else if err != nil {
		s.internalError(w, r, err)
		return nil, false
	}
	return u, true
}

// setStanding changes a user's standing with a reason, through the
// account update PATCH /v1/users/{id} makes.
func (s *Server) setStanding(w http.ResponseWriter, r *http.Request, v *visitor) {
	u, ok := s.formUser(w, r)
	if !ok {
		return
	}
	st := fanfare.Standing(r.PostForm.Get("standing"))
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	var err error
	switch {
	case !st.Valid():
		err = fanfare.Errorf(fanfare.EInvalid, "choose a standing: good, warned, restricted or banned")
	case reason == "":
		err = fanfare.Errorf(fanfare.EInvalid, "say why you change the standing")
	case len(reason) > wallet.MaxReason:
		err = fanfare.Errorf(fanfare.EInvalid, "the reason must be at most %d characters long", wallet.MaxReason)
	default:
		_, err = s.accounts.Update(r.Context(), v.actor(), u.ID, account.UpdateInput{Standing: &st, Reason: reason})
	}
	if err != nil {
		s.refuseUserForm(w, r, v, u.Handle, err)
		return
	}
	http.Redirect(w, r, "/ops/users/"+u.Handle+"?done=standing", http.StatusSeeOther)
}

// grantCoins grants promotional coins, as POST /v1/admin/grants does, with
// the form's key as the idempotency key: the form sent twice grants once.
func (s *Server) grantCoins(w http.ResponseWriter, r *http.Request, v *visitor) {
	u, ok := s.formUser(w, r)
	if !ok {
		return
	}
	key := r.PostForm.Get("key")
	coins, whole := wholeNumber(r.PostForm.Get("coins"))
	var err error
	var g *wallet.Grant
	switch {
	case !whole || coins < 1:
		err = fanfare.Errorf(fanfare.EInvalid, "enter the coins to grant as a whole number above zero")
	case key == "" || len(key) > 64:
		err = fanfare.Errorf(fanfare.EInvalid, "the form has no valid key: reload the page")
	default:
		g, err = s.wallet.Grant(r.Context(), v.actor(), wallet.GrantInput{UserID: u.ID, Coins: fanfare.Amount(coins), Reason: r.PostForm.Get("reason")}, key)
	}
	if err != nil {
		s.refuseUserForm(w, r, v, u.Handle, err)
		return
	}
	done := "granted&coins=" + url.QueryEscape(formatCoins(g.Coins))
	if g.Replayed {
		done = "replayed"
	}
	http.Redirect(w, r, "/ops/users/"+u.Handle+"?done="+done, http.StatusSeeOther)
}

// setPayoutHold holds or releases a creator's payouts, as POST
// /v1/admin/users/{id}/payout-hold does. From the payouts page, it
// returns there.
func (s *Server) setPayoutHold(w http.ResponseWriter, r *http.Request, v *visitor) {
	u, ok := s.formUser(w, r)
	if !ok {
		return
	}
	held := r.PostForm.Get("held")
	var err error
	if held != "true" && held != "false" {
		err = fanfare.Errorf(fanfare.EInvalid, "choose to hold or to release the payouts")
	} else {
		_, err = s.payouts.SetHold(r.Context(), v.actor(), u.ID, held == "true", r.PostForm.Get("reason"))
	}
	back := r.PostForm.Get("from") == "payouts"
	if err != nil {
		if back {
			s.refusePayouts(w, r, v, err)
			return
		}
		s.refuseUserForm(w, r, v, u.Handle, err)
		return
	}
	done := "held"
	if held == "false" {
		done = "released"
	}
	if back {
		http.Redirect(w, r, "/ops/payouts?"+url.Values{"done": {done}, "user": {u.Handle}}.Encode(), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/ops/users/"+u.Handle+"?done="+done, http.StatusSeeOther)
}

// payoutRow is a payout to review.
type payoutRow struct {
	Handle        string
	Diamonds      fanfare.Amount
	Fiat          string
	State         string
	FailureReason string
	Destination   string
	CreatedAt     time.Time
}

// heldRow is a creator whose payouts are held.
type heldRow struct {
	Handle, Reason string
	Since          time.Time
}

// payoutsPageData is the payouts to review and the holds.
type payoutsPageData struct {
	Layout
	Payouts []payoutRow
	Next    string
	Holds   []heldRow
	Form    url.Values
}

func (s *Server) payoutsPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.payoutsData(r, v)
	if fanfare.ErrorCode(err) == fanfare.EInvalid {
		http.Redirect(w, r, "/ops/payouts", http.StatusSeeOther) // a stale cursor
		return
	} else if err != nil {
		s.internalError(w, r, err)
		return
	}
	q := r.URL.Query()
	switch q.Get("done") {
	case "held":
		d.Notice = "Held the payouts of @" + q.Get("user") + "."
	case "released":
		d.Notice = "Released the payouts of @" + q.Get("user") + ": those waiting are sent now."
	}
	s.render(w, r, http.StatusOK, "ops_payouts", d)
}

func (s *Server) payoutsData(r *http.Request, v *visitor) (*payoutsPageData, error) {
	ctx := r.Context()
	d := &payoutsPageData{Layout: Layout{Title: "Payouts", Nav: "ops-c-payouts", Visitor: v, CSRF: s.sessionToken(v)}, Form: url.Values{}}
	p, err := s.payouts.Review(ctx, v.actor(), r.URL.Query().Get("cursor"), 20)
	if err != nil {
		return nil, err
	}
	handle := func(id string) (string, error) {
		u, err := s.accounts.ByID(ctx, id)
		if err != nil {
			return "", err
		}
		return u.Handle, nil
	}
	for _, po := range p.Payouts {
		h, err := handle(po.UserID)
		if err != nil {
			return nil, err
		}
		d.Payouts = append(d.Payouts, payoutRow{Handle: h, Diamonds: po.Diamonds, Fiat: formatMoney(po.Fiat.Amount, po.Fiat.Currency),
			State: string(po.State), FailureReason: po.FailureReason, Destination: po.Destination, CreatedAt: po.CreatedAt})
	}
	if p.Next != "" {
		d.Next = "/ops/payouts?" + url.Values{"cursor": {p.Next}}.Encode()
	}
	holds, err := s.payouts.Holds(ctx, v.actor())
	if err != nil {
		return nil, err
	}
	for _, hd := range holds {
		h, err := handle(hd.UserID)
		if err != nil {
			return nil, err
		}
		d.Holds = append(d.Holds, heldRow{Handle: h, Reason: hd.Reason, Since: hd.Since})
	}
	return d, nil
}

// refusePayouts shows the payouts page again with err.
func (s *Server) refusePayouts(w http.ResponseWriter, r *http.Request, v *visitor, err error) {
	if fanfare.ErrorCode(err) == fanfare.EInternal {
		s.internalError(w, r, err)
		return
	}
	d, derr := s.payoutsData(r, v)
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	d.Form = r.PostForm
	d.Error = sentence(fanfare.ErrorMessage(err)) + " Nothing was changed."
	s.render(w, r, statusOf(err), "ops_payouts", d)
}

// holdByHandle holds a creator named in the payouts page's form.
func (s *Server) holdByHandle(w http.ResponseWriter, r *http.Request, v *visitor) {
	h := strings.TrimPrefix(strings.TrimSpace(r.PostForm.Get("handle")), "@")
	u, err := s.accounts.ByHandle(r.Context(), h)
	if err == nil {
		_, err = s.payouts.SetHold(r.Context(), v.actor(), u.ID, true, r.PostForm.Get("reason"))
	}
	if err != nil {
		s.refusePayouts(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/ops/payouts?"+url.Values{"done": {"held"}, "user": {u.Handle}}.Encode(), http.StatusSeeOther)
}

// verifyPageData is the verify page.
type verifyPageData struct {
	Layout
	Run    *console.Run
	By     string
	Reload bool // the run is under way: the page reloads itself
}

func (s *Server) verifyPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d := &verifyPageData{Layout: Layout{Title: "Verify", Nav: "ops-c-verify", Visitor: v, CSRF: s.sessionToken(v)}}
	if run, ok := s.verifier.Last(); ok {
		d.Run, d.Reload = &run, run.Running
		by, err := s.actorName(r.Context(), map[string]string{}, run.By)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		d.By = by
	}
	if r.URL.Query().Get("started") != "" && d.Run != nil && d.Run.Running {
		d.Notice = "Verification started: this page shows its progress and then its result."
	}
	s.render(w, r, http.StatusOK, "ops_verify", d)
}

// startVerify starts a run (refused while one runs).
func (s *Server) startVerify(w http.ResponseWriter, r *http.Request, v *visitor) {
	if _, err := s.verifier.Start(v.actor()); err != nil {
		d := &verifyPageData{Layout: Layout{Title: "Verify", Nav: "ops-c-verify", Visitor: v, CSRF: s.sessionToken(v)}}
		if run, ok := s.verifier.Last(); ok {
			d.Run, d.Reload = &run, run.Running
		}
		d.Error = sentence(fanfare.ErrorMessage(err))
		s.render(w, r, statusOf(err), "ops_verify", d)
		return
	}
	http.Redirect(w, r, "/ops/verify?started=1", http.StatusSeeOther)
}

// verifyStatus is GET /ops/verify/status: the last run as JSON, for a
// page or a script that polls it.
func (s *Server) verifyStatus(w http.ResponseWriter, r *http.Request, v *visitor) {
	type status struct {
		State      string    `json:"state"` // none, running, ok, failed, error
		Done       int64     `json:"done"`
		Total      int64     `json:"total"`
		Percent    int       `json:"percent"`
		StartedAt  time.Time `json:"started_at,omitzero"`
		FinishedAt time.Time `json:"finished_at,omitzero"`
		Problems   int       `json:"problems"`
		Error      string    `json:"error,omitempty"`
	}
	out := status{State: "none"}
	if run, ok := s.verifier.Last(); ok {
		out = status{State: "running", Done: run.Done, Total: run.Total, Percent: run.Percent(), StartedAt: run.StartedAt, FinishedAt: run.FinishedAt, Error: run.Err}
		switch {
		case run.Running:
		case run.Err != "":
			out.State = "error"
		case run.Report.OK():
			out.State = "ok"
		default:
			out.State, out.Problems = "failed", run.Report.ProblemCount
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

// jobsPageData is the background jobs.
type jobsPageData struct {
	Layout
	States []stateCount
	Kinds  []kindCounts
	State  string // the list's
	Jobs   []jobRow
}

type stateCount struct {
	State   string
	N       int64
	Current bool
}

// kindCounts are a kind's jobs in each state, in jobStates' order.
type kindCounts struct {
	Kind   string
	Counts []int64
}

type jobRow struct {
	ID                   int64
	Kind, State, Args    string
	Attempt, MaxAttempts int
	ScheduledAt          time.Time
	LastError            string
	LastErrorAt          *time.Time
	CanRetry, CanCancel  bool
}

// jobStates are the states the jobs page counts, in its order.
var jobStates = []string{"available", "scheduled", "running", "retryable", "discarded", "cancelled", "completed"}

func (s *Server) jobsPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	ctx := r.Context()
	d := &jobsPageData{Layout: Layout{Title: "Jobs", Nav: "ops-c-jobs", Visitor: v, CSRF: s.sessionToken(v)}, State: r.URL.Query().Get("state")}
	if d.State == "" {
		d.State = "retryable"
	}
	counts, err := s.console.JobCounts(ctx, v.actor())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	byState := map[string]int64{}
	byKind := map[string]map[string]int64{}
	for _, c := range counts {
		byState[c.State] += c.N
		if byKind[c.Kind] == nil {
			byKind[c.Kind] = map[string]int64{}
		}
		byKind[c.Kind][c.State] += c.N
	}
	known := false
	for _, st := range jobStates {
		d.States = append(d.States, stateCount{State: st, N: byState[st], Current: st == d.State})
		known = known || st == d.State
	}
	for _, k := range keysOf(byKind) {
		kc := kindCounts{Kind: k}
		for _, st := range jobStates {
			kc.Counts = append(kc.Counts, byKind[k][st])
		}
		d.Kinds = append(d.Kinds, kc)
	}
	status := http.StatusOK
	if !known {
		d.Error = "There is no job state “" + d.State + "”: choose one of the states above."
		status = http.StatusUnprocessableEntity
	} else {
		list, err := s.console.Jobs(ctx, v.actor(), d.State, 50)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		for _, j := range list {
			d.Jobs = append(d.Jobs, jobRow{ID: j.ID, Kind: j.Kind, State: j.State, Args: j.Args, Attempt: j.Attempt, MaxAttempts: j.MaxAttempts,
				ScheduledAt: j.ScheduledAt, LastError: j.LastError, LastErrorAt: j.LastErrorAt,
				CanRetry:  j.State != "running" && j.State != "available",
				CanCancel: j.State != "completed" && j.State != "cancelled" && j.State != "discarded"})
		}
	}
	switch r.URL.Query().Get("done") {
	case "retry":
		d.Notice = "Job " + r.URL.Query().Get("job") + " will run again at once."
	case "cancel":
		d.Notice = "Job " + r.URL.Query().Get("job") + " was cancelled."
	}
	s.render(w, r, status, "ops_jobs", d)
}

// jobAction retries or cancels a job through River's client.
func (s *Server) jobAction(w http.ResponseWriter, r *http.Request, v *visitor) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.errorPage(w, r, http.StatusNotFound, "Job not found", "There is no job with this number. Nothing was changed.")
		return
	}
	action := r.PathValue("action")
	switch action {
	case "retry":
		_, err = s.console.RetryJob(r.Context(), v.actor(), id)
	case "cancel":
		_, err = s.console.CancelJob(r.Context(), v.actor(), id)
	default:
		s.notFound(w, r)
		return
	}
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		s.errorPage(w, r, http.StatusNotFound, "Job not found", "There is no job with this number. Nothing was changed.")
		return
	} else if err != nil {
		s.internalError(w, r, err)
		return
	}
	state := r.PostForm.Get("state")
	http.Redirect(w, r, "/ops/jobs?"+url.Values{"state": {state}, "done": {action}, "job": {strconv.FormatInt(id, 10)}}.Encode(), http.StatusSeeOther)
}

// keysOf returns m's keys, sorted.
func keysOf[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
