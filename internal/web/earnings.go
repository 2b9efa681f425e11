package web

import (
	"net/http"
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
		s.internalError(w, r, err)
		return
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
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "earnings", d)
}
