package web

import (
	"math"
	"strconv"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payout"
)

// The earnings chart: diamonds by day, one bar a day stacked by feature,
// drawn as SVG on the server (no script, no library). Its numbers are in
// the page's table too, for readers who cannot see it.

// chartFeatures are the stacked features, bottom first: their key (the
// CSS class of their colour, f-<key>) and name.
var chartFeatures = []struct{ key, name string }{
	{"gifts", "Gifts"}, {"tips", "Tips"}, {"shoutouts", "Shoutouts"}, {"subscriptions", "Subscriptions"}, {"other", "Other"},
}

// featureAmounts are d's diamonds in chartFeatures' order.
func featureAmounts(d payout.Diamonds) []fanfare.Amount {
	return []fanfare.Amount{d.Gifts, d.Tips, d.Shoutouts, d.Subscriptions, d.Other}
}

// The chart's geometry, in SVG user units (the SVG scales to its box).
const (
	chartWidth  = 720
	chartHeight = 240
	chartLeft   = 56 // room for the axis labels
	chartRight  = 24 // room for the last date
	chartTop    = 12
	chartBottom = 28 // room for the dates
)

// chartView is what the template draws.
type chartView struct {
	Width, Height int
	Bars          []chartBar
	Grid          []chartLine // horizontal lines with their values
	Dates         []chartDate // a date under some bars
	Baseline      float64
	Left, Right   float64
	Empty         bool // nothing was earned in the window
	Summary       string
}

type chartBar struct {
	X, Width float64
	Title    string // the bar's tooltip: the day and its total
	Segments []chartSegment
}

type chartSegment struct {
	Y, Height float64
	Class     string
}

type chartLine struct {
	Y     float64
	Label string
}

type chartDate struct {
	X     float64
	Label string
}

// earningsChart lays out e's days as stacked bars.
func earningsChart(e *payout.Earnings) *chartView {
	c := &chartView{Width: chartWidth, Height: chartHeight, Baseline: chartHeight - chartBottom, Left: chartLeft, Right: chartWidth - chartRight}
	var top fanfare.Amount
	for _, d := range e.Days {
		var sum fanfare.Amount
		for _, a := range featureAmounts(d.Diamonds) {
			sum += a
		}
		top = max(top, sum)
	}
	c.Empty = top == 0
	step := niceStep(top)
	scaleTop := fanfare.Amount(math.Ceil(float64(max(top, 1))/float64(step))) * step
	plot := float64(chartHeight - chartTop - chartBottom)
	for v := fanfare.Amount(0); v <= scaleTop; v += step {
		c.Grid = append(c.Grid, chartLine{Y: round1(c.Baseline - plot*float64(v)/float64(scaleTop)), Label: shortNumber(v)})
	}
	n := len(e.Days)
	slot := (c.Right - c.Left) / float64(max(n, 1))
	width := max(slot*0.72, 1)
	labelEvery := max(1, int(math.Ceil(float64(n)/8)))
	for i, d := range e.Days {
		x := c.Left + slot*float64(i) + (slot-width)/2
		b := chartBar{X: round1(x), Width: round1(width)}
		y := c.Baseline
		var sum fanfare.Amount
		for j, a := range featureAmounts(d.Diamonds) {
			if a <= 0 {
				continue
			}
			sum += a
			h := plot * float64(a) / float64(scaleTop)
			y -= h
			b.Segments = append(b.Segments, chartSegment{Y: round1(y), Height: round1(h), Class: "f-" + chartFeatures[j].key})
		}
		t, _ := time.Parse(time.DateOnly, d.Day)
		b.Title = t.Format("Mon 2 Jan") + ": " + formatCoins(sum) + " diamonds"
		c.Bars = append(c.Bars, b)
		if (n-1-i)%labelEvery == 0 {
			c.Dates = append(c.Dates, chartDate{X: round1(x + width/2), Label: t.Format("2 Jan")})
		}
	}
	c.Summary = "Diamonds earned each day from " + e.From + " to " + e.To + ", stacked by feature; the same figures are in the table below."
	return c
}

// niceStep is a round step for about four grid lines up to top: 1, 2 or 5
// times a power of ten.
func niceStep(top fanfare.Amount) fanfare.Amount {
	if top <= 4 {
		return 1
	}
	raw := float64(top) / 4
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return fanfare.Amount(m * p)
		}
	}
	return fanfare.Amount(10 * p)
}

// shortNumber writes an axis value: 950, 12k, 1.5M.
func shortNumber(v fanfare.Amount) string {
	switch {
	case v >= 1_000_000:
		return strconv.FormatFloat(float64(v)/1e6, 'f', -1, 64) + "M"
	case v >= 10_000:
		return strconv.FormatFloat(float64(v)/1e3, 'f', -1, 64) + "k"
	}
	return formatCoins(v)
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// barChart lays out one bar a day, stacked by series (bottom first, each
// drawn with its CSS class; negative amounts are left out), for days
// (midnight UTC); unit names the amounts in each bar's tooltip.
func barChart(days []time.Time, series [][]fanfare.Amount, classes []string, unit, summary string) *chartView {
	c := &chartView{Width: chartWidth, Height: chartHeight, Baseline: chartHeight - chartBottom, Left: chartLeft, Right: chartWidth - chartRight, Summary: summary}
	var top fanfare.Amount
	for i := range days {
		var sum fanfare.Amount
		for _, s := range series {
			sum += max(s[i], 0)
		}
		top = max(top, sum)
	}
	c.Empty = top == 0
	step := niceStep(top)
	scaleTop := fanfare.Amount(math.Ceil(float64(max(top, 1))/float64(step))) * step
	plot := float64(chartHeight - chartTop - chartBottom)
	for v := fanfare.Amount(0); v <= scaleTop; v += step {
		c.Grid = append(c.Grid, chartLine{Y: round1(c.Baseline - plot*float64(v)/float64(scaleTop)), Label: shortNumber(v)})
	}
	n := len(days)
	slot := (c.Right - c.Left) / float64(max(n, 1))
	width := max(slot*0.72, 1)
	labelEvery := max(1, int(math.Ceil(float64(n)/8)))
	for i, d := range days {
		x := c.Left + slot*float64(i) + (slot-width)/2
		b := chartBar{X: round1(x), Width: round1(width)}
		y := c.Baseline
		var sum fanfare.Amount
		for j, s := range series {
			a := s[i]
			if a <= 0 {
				continue
			}
			sum += a
			h := plot * float64(a) / float64(scaleTop)
			y -= h
			b.Segments = append(b.Segments, chartSegment{Y: round1(y), Height: round1(h), Class: classes[j]})
		}
		b.Title = d.Format("Mon 2 Jan") + ": " + formatCoins(sum) + " " + unit
		c.Bars = append(c.Bars, b)
		if (n-1-i)%labelEvery == 0 {
			c.Dates = append(c.Dates, chartDate{X: round1(x + width/2), Label: d.Format("2 Jan")})
		}
	}
	return c
}
