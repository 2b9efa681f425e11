package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/subscription"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// settingsPageData is the settings page: the daily spend limit and the
// account's details.
type settingsPageData struct {
	Layout
	Limit *wallet.SpendLimit
	// Value is what the limit field holds: the visitor's own limit, or
	// what they typed when it was refused.
	Value string
	// SpentPercent is the part of today's limit spent (0 to 100).
	SpentPercent int
	ResetsAt     time.Time
	RaiseDelay   string // "24 hours"
	// Preferences are the choices others' actions depend on (nil without
	// LIVE Subscription): whether others may gift the visitor a
	// subscription.
	Preferences *subscription.Preferences
	// AnonymousSupport shows the visitor as "Anonymous" in the supporter
	// lists of the creators they support.
	AnonymousSupport bool
}

func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, err := s.settingsData(r, v, "")
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if r.URL.Query().Has("saved") {
		l := d.Limit
		switch {
		case !l.PendingAt.IsZero():
			d.Notice = "Saved. Your higher limit (" + limitName(l.Pending, l.Default) + ") takes effect in " + d.RaiseDelay +
				"; until then " + limitName(l.Daily, 0) + " stays in force."
		default:
			d.Notice = "Saved. Your daily spend limit is now " + limitName(l.Daily, 0) + ", in force at once."
		}
	}
	switch r.URL.Query().Get("preferences") {
	case "gifts-on":
		d.Notice = "Saved. Viewers in a LIVE may now gift you a subscription to its creator."
	case "gifts-off":
		d.Notice = "Saved. Nobody can gift you a subscription."
	}
	switch r.URL.Query().Get("anonymous") {
	case "on":
		d.Notice = "Saved. Creators you support now see “Anonymous” instead of your name in their supporter lists."
	case "off":
		d.Notice = "Saved. Creators you support see your name and handle in their supporter lists."
	}
	s.render(w, r, http.StatusOK, "settings", d)
}

// settingsData gathers the settings page; value, when set, is what the
// limit field shows.
func (s *Server) settingsData(r *http.Request, v *visitor, value string) (*settingsPageData, error) {
	l, err := s.wallet.SpendLimit(r.Context(), v.User.ID)
	if err != nil {
		return nil, err
	}
	d := &settingsPageData{
		Layout:     Layout{Title: "Settings", Nav: "settings", Visitor: v, CSRF: s.sessionToken(v)},
		Limit:      l,
		Value:      value,
		ResetsAt:   l.Day.Add(24 * time.Hour),
		RaiseDelay: delayName(wallet.SpendLimitRaiseDelay),
	}
	if value == "" && l.Self {
		d.Value = strconv.FormatInt(int64(l.Daily), 10)
	}
	if s.subs != nil {
		if d.Preferences, err = s.subs.Preferences(r.Context(), v.User.ID); err != nil {
			return nil, err
		}
	}
	if d.AnonymousSupport, err = s.payouts.AnonymousSupport(r.Context(), v.User.ID); err != nil {
		return nil, err
	}
	if l.Daily > 0 {
		d.SpentPercent = int(min(100, l.SpentToday*100/l.Daily))
	}
	return d, nil
}

// limitName writes a daily limit for people; 0 is the platform's limit
// def, or none.
func limitName(daily, def fanfare.Amount) string {
	switch {
	case daily > 0:
		return formatCoins(daily) + " coins a day"
	case def > 0:
		return "the platform's limit of " + formatCoins(def) + " coins a day"
	}
	return "no limit"
}

// setSpendLimit sets the visitor's own daily spend limit: lower at once,
// higher after a day.
func (s *Server) setSpendLimit(w http.ResponseWriter, r *http.Request, v *visitor) {
	raw := r.PostForm.Get("daily_coins")
	daily, err := parseCoins(raw)
	if err == nil {
		_, err = s.wallet.SetSpendLimit(r.Context(), v.actor(), daily)
	}
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EInternal {
			s.internalError(w, r, err)
			return
		}
		d, derr := s.settingsData(r, v, raw)
		if derr != nil {
			s.internalError(w, r, derr)
			return
		}
		d.Error = sentence(strings.ReplaceAll(fanfare.ErrorMessage(err), "daily_coins", "the daily limit"))
		s.render(w, r, statusOf(err), "settings", d)
		return
	}
	http.Redirect(w, r, "/settings?saved=1", http.StatusSeeOther)
}

// parseCoins reads a whole number of coins as people type it: "5000",
// "5,000", "5 000".
func parseCoins(s string) (fanfare.Amount, error) {
	n, ok := wholeNumber(s)
	if !ok {
		return 0, fanfare.Errorf(fanfare.EInvalid, "enter the daily limit as a whole number of coins, such as 5000")
	}
	return fanfare.Amount(n), nil
}

// wholeNumber reads a non-negative whole number as people type it, with
// or without thousands separators.
func wholeNumber(s string) (int64, bool) {
	s = strings.NewReplacer(",", "", " ", "", "\u00a0", "", "_", "").Replace(strings.TrimSpace(s))
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// delayName writes a whole number of hours for people: "24 hours".
func delayName(d time.Duration) string {
	if h := int64(d / time.Hour); h == 1 {
		return "1 hour"
	} else if h > 1 {
		return strconv.FormatInt(h, 10) + " hours"
	}
	return d.String()
}
