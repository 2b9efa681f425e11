package web

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payout"
)

// sortChoice is one order of a list: its value in the address, its name
// and the address of the list in that order.
type sortChoice struct{ Value, Name, URL string }

// supporterSorts are the supporter list's orders; the first is the
// default.
var supporterSorts = []sortChoice{
	{Value: payout.SortTotal, Name: "Most given"},
	{Value: payout.SortRecent, Name: "Most recent"},
}

// supportersPageData is the creator's supporter list.
type supportersPageData struct {
	Layout
	Sort  string
	Sorts []sortChoice
	Query string
	Rows  []supporterRow
	// AllURL is the list without the search. Paged says the page is not
	// the first; FirstURL and NextURL keep the sort and the search.
	AllURL   string
	Paged    bool
	FirstURL string
	NextURL  string
}

// supporterRow is one fan of the list, with the features they gave
// through.
type supporterRow struct {
	payout.Supporter
	Features []featureCoins
}

// featureCoins are the coins a fan gave through one feature.
type featureCoins struct {
	Name  string
	Coins fanfare.Amount
}

// supportersPage lists every fan who gave the creator coins, by total
// given or most recent (?sort=), found by handle or name (?q=), a page at
// a time (?cursor=).
func (s *Server) supportersPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	q := r.URL.Query()
	in := payout.SupportersInput{Sort: payout.SortTotal, Cursor: q.Get("cursor"), Query: supporterQuery(q.Get("q"))}
	if q.Get("sort") == payout.SortRecent {
		in.Sort = payout.SortRecent
	}
	d := &supportersPageData{
		Layout: Layout{Title: "Supporters", Nav: "earnings", Visitor: v, CSRF: s.sessionToken(v)},
		Sort:   in.Sort, Query: in.Query, AllURL: supportersURL(in.Sort, "", ""),
	}
	for _, c := range supporterSorts {
		c.URL = supportersURL(c.Value, in.Query, "")
		d.Sorts = append(d.Sorts, c)
	}
	page, err := s.payouts.Supporters(r.Context(), v.actor(), in)
	if fanfare.ErrorCode(err) == fanfare.EInvalid && in.Cursor != "" {
		in.Cursor = ""
		d.Error = "That page of your supporters does not exist; here is the first page."
		page, err = s.payouts.Supporters(r.Context(), v.actor(), in)
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	for _, sp := range page.Items {
		row := supporterRow{Supporter: sp}
		for i, c := range []fanfare.Amount{sp.ByFeature.Gifts, sp.ByFeature.Tips, sp.ByFeature.Shoutouts, sp.ByFeature.Subscriptions, sp.ByFeature.Other} {
			if c != 0 {
				row.Features = append(row.Features, featureCoins{Name: chartFeatures[i].name, Coins: c})
			}
		}
		d.Rows = append(d.Rows, row)
	}
	if in.Cursor != "" {
		d.Paged, d.FirstURL = true, supportersURL(in.Sort, in.Query, "")
	}
	if page.NextCursor != "" {
		d.NextURL = supportersURL(in.Sort, in.Query, page.NextCursor)
	}
	s.render(w, r, http.StatusOK, "supporters", d)
}

// supporterQuery is the search as the list takes it: without spaces
// around it or a leading @, and cut to the longest search allowed.
func supporterQuery(q string) string {
	q = strings.TrimPrefix(strings.TrimSpace(q), "@")
	for len(q) > payout.MaxSupporterQuery {
		_, n := utf8.DecodeLastRuneInString(q)
		q = q[:len(q)-n]
	}
	return q
}

// supportersURL is the address of a page of the supporter list.
func supportersURL(sort, query, cursor string) string {
	v := url.Values{"sort": {sort}}
	if query != "" {
		v.Set("q", query)
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	return "/studio/supporters?" + v.Encode()
}

// supportersCSV sends every supporter of the creator as a CSV file to
// save, written as it is read.
func (s *Server) supportersCSV(w http.ResponseWriter, r *http.Request, v *visitor) {
	out := &download{w: w, contentType: "text/csv; charset=utf-8", name: "supporters.csv"}
	if err := s.payouts.ExportSupporters(r.Context(), v.actor(), out); err != nil {
		if !out.started {
			s.internalError(w, r, err)
			return
		}
		// Part of the file is sent: break the connection so that the
		// browser reports a failed download, not a short file.
		s.log.ErrorContext(r.Context(), "web download failed", "path", r.URL.Path, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// download is a file sent as it is written: its headers go out with its
// first bytes, so a failure before them can still be an error page.
type download struct {
	w                 http.ResponseWriter
	contentType, name string
	started           bool
}

func (d *download) Write(p []byte) (int, error) {
	if !d.started {
		d.started = true
		h := d.w.Header()
		h.Set("Content-Type", d.contentType)
		h.Set("Content-Disposition", `attachment; filename="`+d.name+`"`)
		h.Set("Cache-Control", "no-store")
		d.w.WriteHeader(http.StatusOK)
	}
	return d.w.Write(p)
}

// setAnonymousSupport saves the settings page's choice to show as
// "Anonymous" in the supporter lists of the creators the visitor
// supports.
func (s *Server) setAnonymousSupport(w http.ResponseWriter, r *http.Request, v *visitor) {
	on := r.PostForm.Get("anonymous_support") == "true"
	if err := s.payouts.SetAnonymousSupport(r.Context(), v.actor(), on); err != nil {
		s.internalError(w, r, err)
		return
	}
	state := "off"
	if on {
		state = "on"
	}
	http.Redirect(w, r, "/settings?anonymous="+state+"#anonymous", http.StatusSeeOther)
}
