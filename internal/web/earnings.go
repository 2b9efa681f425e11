package web

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/payout"
)

// earningsWindows are the dashboard's windows, in days; the first is the
// default.
var earningsWindows = []int{30, 7, 90}

// recentLives is how many LIVE summaries the dashboard shows.
const recentLives = 5

// earningsPageData is the creator's dashboard.
type earningsPageData struct {
	Layout
	E        *payout.Earnings
	Chart    *chartView
	Days     int
	Hold     string // the hold window: "7 days"
	Windows  []int
	Features []featureTotal
	// Rows are the chart's days as a table, the newest first.
	Rows  []earningsRow
	Lives []*live.Live
	// The withdraw form, the last payouts and the top supporters.
	Account  *payout.PayoutAccount
	Rates    []withdrawRate
	Withdraw withdrawForm
	Payouts  []payout.Payout
	Top      []payout.Supporter
}

// withdrawRate is a currency the creator may be paid in, with what a
// million diamonds are worth in its minor units (the form's preview
// multiplies by it) and what the withdrawable diamonds are worth.
type withdrawRate struct {
	Currency, Rate    string
	PerMillion, Worth fanfare.Amount
}

// withdrawForm is what the withdraw form shows: what was typed, and the
// idempotency key that makes submitting it twice one payout.
type withdrawForm struct {
	Diamonds, Currency, Key string
}

// featureTotal is one feature's diamonds over the window and their share.
type featureTotal struct {
	Class, Name string
	Diamonds    fanfare.Amount
	Percent     int
}

type earningsRow struct {
	Day      time.Time
	Amounts  []fanfare.Amount // in chartFeatures' order
	TakenBak fanfare.Amount
	Net      fanfare.Amount
}

func (s *Server) earningsPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.earningsData(r, v)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if id := r.URL.Query().Get("payout"); id != "" {
		for _, p := range d.Payouts {
			if p.ID == id {
				d.Notice = fmt.Sprintf("Payout of %s diamonds asked: %s to %s.", formatCoins(p.Diamonds), formatMoney(p.Fiat.Amount, p.Fiat.Currency), p.Destination)
			}
		}
	}
	switch r.URL.Query().Get("onboarding") {
	case "done":
		d.Notice = "Back from Stripe: once your account is complete, payouts go to it."
	case "refresh":
		d.Error = "The Stripe link expired before you finished: set up payouts again to get a new one."
	}
	s.render(w, r, http.StatusOK, "earnings", d)
}

// topSupporters is how many supporters the dashboard shows; recentPayouts
// how many payouts.
const (
	topSupporters = 5
	recentPayouts = 10
)

// earningsData reads everything the dashboard shows.
func (s *Server) earningsData(r *http.Request, v *visitor) (*earningsPageData, error) {
	ctx := r.Context()
	days := earningsWindows[0]
	if n, err := strconv.Atoi(r.URL.Query().Get("days")); err == nil {
		for _, w := range earningsWindows {
			if n == w {
				days = n
			}
		}
	}
	to := s.clock.Now().UTC()
	e, err := s.payouts.Earnings(ctx, v.actor(), payout.EarningsInput{From: to.AddDate(0, 0, -(days - 1)), To: to})
	if err != nil {
		return nil, err
	}
	d := &earningsPageData{
		Layout: Layout{Title: "Earnings", Nav: "earnings", Visitor: v, CSRF: s.sessionToken(v), Currency: e.Currency},
		E:      e, Chart: earningsChart(e), Days: days, Windows: earningsWindows, Hold: windowName(time.Duration(e.HoldHours) * time.Hour),
	}
	totals := featureAmounts(e.Total)
	var sum fanfare.Amount
	for _, t := range totals {
		sum += t
	}
	for i, f := range chartFeatures {
		if totals[i] == 0 && f.key == "other" {
			continue
		}
		ft := featureTotal{Class: "f-" + f.key, Name: f.name, Diamonds: totals[i]}
		if sum > 0 {
			ft.Percent = int((totals[i]*100 + sum/2) / sum)
		}
		d.Features = append(d.Features, ft)
	}
	for i := len(e.Days) - 1; i >= 0; i-- {
		day := e.Days[i]
		t, _ := time.Parse(time.DateOnly, day.Day)
		d.Rows = append(d.Rows, earningsRow{Day: t, Amounts: featureAmounts(day.Diamonds), TakenBak: day.TakenBack, Net: day.Net})
	}
	if d.Lives, err = s.live.Recent(ctx, v.User.ID, recentLives); err != nil {
		return nil, err
	}
	if d.Account, err = s.payouts.PayoutAccount(ctx, v.actor()); err != nil {
		return nil, err
	}
	for _, c := range d.Account.Currencies {
		rate, ok := s.payouts.Rate(c.Currency)
		if !ok {
			continue
		}
		d.Rates = append(d.Rates, withdrawRate{Currency: c.Currency, Rate: rate.String(),
			PerMillion: rate.Value(1_000_000), Worth: rate.Value(d.Account.Withdrawable)})
	}
	d.Withdraw = withdrawForm{Currency: e.Currency, Key: rand.Text()}
	if d.Account.Withdrawable >= d.Account.Minimum {
		d.Withdraw.Diamonds = strconv.FormatInt(int64(min(d.Account.Withdrawable, d.Account.LeftToday)), 10)
	}
	ps, err := s.payouts.Payouts(ctx, v.actor(), "", recentPayouts)
	if err != nil {
		return nil, err
	}
	d.Payouts = ps.Payouts
	top, err := s.payouts.Supporters(ctx, v.actor(), payout.SupportersInput{Sort: payout.SortTotal, Limit: topSupporters})
	if err != nil {
		return nil, err
	}
	d.Top = top.Items
	return d, nil
}

// withdraw asks a payout from the dashboard's form. Its idempotency key
// was written in the form, so a form submitted twice pays once.
func (s *Server) withdraw(w http.ResponseWriter, r *http.Request, v *visitor) {
	raw := r.PostForm.Get("diamonds")
	in := payout.Request{Currency: r.PostForm.Get("currency")}
	n, ok := wholeNumber(raw)
	var asked *payout.Asked
	var err error = fanfare.Errorf(fanfare.EInvalid, "enter the diamonds to withdraw as a whole number, such as 10000")
	if ok {
		in.Diamonds = fanfare.Amount(n)
		asked, err = s.payouts.RequestPayout(r.Context(), v.actor(), in, "web:"+r.PostForm.Get("key"))
	}
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EInternal {
			s.internalError(w, r, err)
			return
		}
		d, derr := s.earningsData(r, v)
		if derr != nil {
			s.internalError(w, r, derr)
			return
		}
		d.Withdraw.Diamonds, d.Withdraw.Currency = raw, in.Currency
		d.Error = sentence(fanfare.ErrorMessage(err))
		s.render(w, r, statusOf(err), "earnings", d)
		return
	}
	http.Redirect(w, r, "/studio/earnings?payout="+url.QueryEscape(asked.Payout.ID)+"#payouts", http.StatusSeeOther)
}

// onboard sends the creator to the payout provider's onboarding (a Stripe
// Account Link), which brings them back to the dashboard.
func (s *Server) onboard(w http.ResponseWriter, r *http.Request, v *visitor) {
	o, err := s.payouts.Onboard(r.Context(), v.actor(), siteBase(r))
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EInternal {
			s.internalError(w, r, err)
			return
		}
		d, derr := s.earningsData(r, v)
		if derr != nil {
			s.internalError(w, r, derr)
			return
		}
		d.Error = sentence(fanfare.ErrorMessage(err))
		s.render(w, r, statusOf(err), "earnings", d)
		return
	}
	http.Redirect(w, r, o.URL, http.StatusSeeOther)
}

// siteBase is the scheme and host r came to.
func siteBase(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}
