package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare/internal/live"
)

// directoryPageSize is how many creators a page of the directory lists.
const directoryPageSize = 20

// maxDirectoryPage bounds the page number a directory address may ask for.
const maxDirectoryPage = 10_000

// directoryEntry is a creator of the directory, with their initials.
type directoryEntry struct {
	live.DirectoryEntry
	Initials string
}

// creatorsPageData is the creators' directory.
type creatorsPageData struct {
	Layout
	Query    string
	Page     int
	Creators []directoryEntry
	PrevURL  string
	NextURL  string
}

// creatorsPage lists the creators, LIVE first, then by followers, found by
// handle or name with ?q=, 20 a page (?page=).
func (s *Server) creatorsPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.visitor(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	q := r.URL.Query()
	query := strings.TrimSpace(q.Get("q"))
	if r := []rune(query); len(r) > live.MaxDirectoryQuery {
		query = string(r[:live.MaxDirectoryQuery])
	}
	page := 1
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > maxDirectoryPage {
			s.errorPage(w, r, http.StatusBadRequest, "Bad page number", "The page number must be a whole number from 1 to 10,000. Go back to the first page of creators.")
			return
		}
		page = n
	}
	list, more, err := s.live.Directory(r.Context(), query, directoryPageSize, (page-1)*directoryPageSize)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d := &creatorsPageData{Layout: Layout{Title: "Creators", Nav: "creators", Visitor: v, CSRF: s.formToken(w, r, v)}, Query: query, Page: page}
	for _, e := range list {
		d.Creators = append(d.Creators, directoryEntry{DirectoryEntry: e, Initials: initials(e.DisplayName, e.Handle)})
	}
	if page > 1 {
		d.PrevURL = directoryURL(query, page-1)
	}
	if more {
		d.NextURL = directoryURL(query, page+1)
	}
	s.render(w, r, http.StatusOK, "creators", d)
}

// directoryURL is the address of page of the directory's search query.
func directoryURL(query string, page int) string {
	v := url.Values{}
	if query != "" {
		v.Set("q", query)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/creators"
	}
	return "/creators?" + v.Encode()
}

// leaderboardPageData is the weekly leaderboard of creators.
type leaderboardPageData struct {
	Layout
	Week     live.Week
	Creators []live.CreatorRank
	// Current says the week is this week; PrevURL and NextURL page
	// through the weeks (none after this one).
	Current bool
	PrevURL string
	NextURL string
}

// LastDay is the week's last day (its end is the next Monday).
func (d *leaderboardPageData) LastDay() time.Time { return d.Week.End.AddDate(0, 0, -1) }

// leaderboardPage shows the week's creators by diamonds earned from gifts,
// as the API's weeklyLeaderboard does (?week= any date of the week).
func (s *Server) leaderboardPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.visitor(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	now := live.WeekOf(s.clock.Now())
	week := now
	if raw := r.URL.Query().Get("week"); raw != "" {
		t, err := time.Parse(time.DateOnly, raw)
		if err != nil {
			s.errorPage(w, r, http.StatusBadRequest, "Bad week", "The week must be a date written YYYY-MM-DD, such as 2026-12-07. See this week's leaderboard instead.")
			return
		}
		week = live.WeekOf(t)
	}
	top, err := s.live.WeeklyCreators(r.Context(), week, 10)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d := &leaderboardPageData{Layout: Layout{Title: "Leaderboard", Nav: "leaderboard", Visitor: v, CSRF: s.formToken(w, r, v)},
		Week: week, Creators: top, Current: week.Start.Equal(now.Start)}
	d.PrevURL = "/leaderboard?week=" + week.Start.AddDate(0, 0, -7).Format(time.DateOnly)
	if week.Start.Before(now.Start) {
		d.NextURL = "/leaderboard?week=" + week.End.Format(time.DateOnly)
	}
	s.render(w, r, http.StatusOK, "leaderboard", d)
}
