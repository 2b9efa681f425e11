package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// supporterRows returns the supporter table's rows as a reader sees them.
func supporterRows(t *testing.T, p *page) []string {
	t.Helper()
	table := regexp.MustCompile(`(?s)data-testid="supporters-table">.*?</table>`).FindString(p.body)
	require.NotEmpty(t, table, "page %s has no supporter table: %s", p.path, p.text())
	var out []string
	for _, row := range regexp.MustCompile(`(?s)<tbody>.*</tbody>`).FindAllString(table, 1) {
		for _, tr := range regexp.MustCompile(`(?s)<tr.*?</tr>`).FindAllString(row, -1) {
			s := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(tr, " ")
			out = append(out, strings.Join(strings.Fields(html.UnescapeString(s)), " "))
		}
	}
	return out
}

// TestSupportersPage checks the creator's supporter list: every fan who
// gave, by total or most recent, found by name, a page at a time, an
// anonymous fan hidden, and the CSV download.
func TestSupportersPage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// Three days ago: the session cookie lives on the wall clock.
		start := time.Now().UTC().Truncate(time.Hour).AddDate(0, 0, -3)
		clock := newTestClock(start)
		a := newAppWith(t, db, appOptions{clock: clock})
		w := a.seedWorld(t)
		ctx := context.Background()

		// Logged out: the page and its file lead to the login page.
		anon := a.browser(t)
		res := anon.do("GET", "/studio/supporters", nil)
		require.Equal(t, http.StatusSeeOther, res.status)
		require.Equal(t, "/login?next=%2Fstudio%2Fsupporters", res.location)
		res = anon.do("GET", "/studio/supporters.csv", nil)
		require.Equal(t, http.StatusSeeOther, res.status)
		require.True(t, strings.HasPrefix(res.location, "/login"), res.location)

		ayla := a.browser(t)
		ayla.logIn("ayla")
		p := ayla.get("/studio/supporters")
		require.Equal(t, http.StatusOK, p.status, p.text())
		p.requireText(t, "Supporters", "No one has supported you yet.")
		require.Contains(t, p.body, `<p class="empty">`)
		require.Contains(t, p.body, `aria-current="page" data-testid="nav-earnings"`, "a page of Earnings")
		require.Contains(t, ayla.get("/studio/earnings").body, `<a href="/studio/supporters" data-testid="supporters-link">`)
		require.Contains(t, p.body, `href="/studio/supporters.csv" download data-testid="supporters-csv"`)

		// sam gives 500 coins first (a tip of 300, a gift of 200), zoe 100
		// coins a day later.
		_, err := a.tips.Send(ctx, w.sam, w.ayla.UserID, 300, "", "tip-sam")
		require.NoError(t, err)
		l := a.goLive(t, w.ayla, "Supporters LIVE")
		_, err = a.live.SendGift(ctx, w.sam, l.ID, "hand-hearts", 2, "gift-sam")
		require.NoError(t, err)
		zoe := a.makeCreator(t, "zoe", "Zoe Martin", 0)
		a.grant(t, "zoe", 1000)
		clock.advance(24 * time.Hour)
		_, err = a.tips.Send(ctx, fanfare.Actor{UserID: zoe.ID, Handle: zoe.Handle, Role: fanfare.RoleFan}, w.ayla.UserID, 100, "", "tip-zoe")
		require.NoError(t, err)

		p = ayla.get("/studio/supporters")
		require.Equal(t, http.StatusOK, p.status, p.text())
		rows := supporterRows(t, p)
		require.Len(t, rows, 2)
		require.True(t, strings.HasPrefix(rows[0], "Sam Bernard @sam 500 Gifts 200 Tips 300 "+start.Format("Mon 2 Jan 2006")), rows[0])
		require.True(t, strings.HasSuffix(rows[0], "— 0"), "no subscription, no shoutout: %s", rows[0])
		require.True(t, strings.HasPrefix(rows[1], "Zoe Martin @zoe 100 Tips 100"), rows[1])
		require.Contains(t, p.body, `<a class="small" href="/creators/sam">@sam</a>`)
		require.Contains(t, p.body, `aria-current="page" data-testid="sort-total"`)
		require.NotContains(t, p.body, `data-testid="supporters-next"`)
		require.NotContains(t, p.body, `data-testid="supporters-first"`)

		// The most recent first.
		p = ayla.get("/studio/supporters?sort=recent")
		require.Equal(t, http.StatusOK, p.status, p.text())
		rows = supporterRows(t, p)
		require.Len(t, rows, 2)
		require.True(t, strings.HasPrefix(rows[0], "Zoe Martin @zoe"), rows[0])
		require.True(t, strings.HasPrefix(rows[1], "Sam Bernard @sam"), rows[1])
		require.Contains(t, p.body, `aria-current="page" data-testid="sort-recent"`)
		require.Contains(t, p.body, `<input type="hidden" name="sort" value="recent">`, "a search keeps the order")

		// A search by handle or name.
		for q, want := range map[string]string{"zoe": "Zoe Martin", "@ZOE": "Zoe Martin", "bernard": "Sam Bernard"} {
			p = ayla.get("/studio/supporters?q=" + url.QueryEscape(q))
			require.Equal(t, http.StatusOK, p.status, p.text())
			rows = supporterRows(t, p)
			require.Len(t, rows, 1, "q=%q", q)
			require.True(t, strings.HasPrefix(rows[0], want), "q=%q: %s", q, rows[0])
		}
		p = ayla.get("/studio/supporters?sort=recent&q=nobody")
		require.Equal(t, http.StatusOK, p.status, p.text())
		p.requireText(t, "No supporter matches “nobody”")
		require.Contains(t, p.body, `href="/studio/supporters?q=nobody&amp;sort=total"`, "the other order keeps the search")

		// A cursor or an order the list did not make shows the first page
		// (dDUvMQ is a cursor of the other order).
		for _, path := range []string{"/studio/supporters?cursor=nonsense", "/studio/supporters?sort=recent&cursor=dDUvMQ", "/studio/supporters?sort=best"} {
			p = ayla.get(path)
			require.Equal(t, http.StatusOK, p.status, "%s: %s", path, p.text())
			require.Len(t, supporterRows(t, p), 2, path)
		}
		p = ayla.get("/studio/supporters?cursor=nonsense")
		p.requireText(t, "That page of your supporters does not exist; here is the first page.")

		// sam chooses to support anonymously, in his settings.
		sam := a.browser(t)
		sam.logIn("sam")
		s := sam.get("/settings")
		require.Equal(t, http.StatusOK, s.status, s.text())
		s.requireText(t, "Support anonymously: creators see “Anonymous” instead of my name in their supporter lists")
		require.Contains(t, s.body, `<input type="checkbox" name="anonymous_support" value="true" data-testid="anonymous-support">`, "off by default")
		form := s.form(t, "/settings/anonymous-support", 0)
		form.Set("anonymous_support", "true")
		res = sam.post("/settings/anonymous-support", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, "/settings?anonymous=on#anonymous", res.location)
		s = sam.follow(res)
		s.requireText(t, "Saved. Creators you support now see “Anonymous” instead of your name in their supporter lists.")
		require.Contains(t, s.body, `value="true" checked data-testid="anonymous-support"`)
		form = s.form(t, "/settings/anonymous-support", 0)
		form.Set("anonymous_support", "true")
		form.Del("csrf_token")
		require.Equal(t, http.StatusForbidden, sam.post("/settings/anonymous-support", form).status, "a form without its token changes nothing")

		p = ayla.get("/studio/supporters")
		rows = supporterRows(t, p)
		require.Len(t, rows, 2)
		require.True(t, strings.HasPrefix(rows[0], "Anonymous 500 Gifts 200 Tips 300"), rows[0])
		require.NotContains(t, p.body, "@sam")
		require.NotContains(t, p.body, "Sam Bernard")
		p = ayla.get("/studio/supporters?q=sam")
		p.requireText(t, "No supporter matches “sam”")

		// The CSV: a header row, then a row per fan, sam without his name.
		res = ayla.do("GET", "/studio/supporters.csv", nil)
		require.Equal(t, http.StatusOK, res.status, res.body)
		require.Equal(t, "text/csv; charset=utf-8", res.header.Get("Content-Type"))
		require.Equal(t, `attachment; filename="supporters.csv"`, res.header.Get("Content-Disposition"))
		records, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
		require.NoError(t, err)
		require.Len(t, records, 3)
		require.Equal(t, []string{"user_id", "handle", "display_name", "anonymous", "coins"}, records[0][:5])
		require.Equal(t, []string{"", "", "Anonymous", "true", "500", "200", "300"}, records[1][:7])
		require.Equal(t, []string{zoe.ID, "zoe", "Zoe Martin", "false", "100", "0", "100"}, records[2][:7])

		// Turned off again, sam shows by name.
		form = s.form(t, "/settings/anonymous-support", 0)
		s = sam.follow(sam.post("/settings/anonymous-support", form))
		s.requireText(t, "Saved. Creators you support see your name and handle in their supporter lists.")
		require.NotContains(t, s.body, `checked data-testid="anonymous-support"`)
		require.True(t, strings.HasPrefix(supporterRows(t, ayla.get("/studio/supporters"))[0], "Sam Bernard @sam"))

		// More fans than a page: "Next page" keeps the order and the
		// search, and the last page links the first.
		for i := range 51 {
			handle := fmt.Sprintf("fan%02d", i)
			u := a.makeCreator(t, handle, "", 0)
			a.grant(t, handle, 100)
			clock.advance(time.Minute)
			_, err := a.tips.Send(ctx, fanfare.Actor{UserID: u.ID, Handle: handle, Role: fanfare.RoleFan}, w.ayla.UserID, 10, "", "tip-"+handle)
			require.NoError(t, err)
		}
		p = ayla.get("/studio/supporters?sort=recent&q=fan")
		require.Equal(t, http.StatusOK, p.status, p.text())
		rows = supporterRows(t, p)
		require.Len(t, rows, 50)
		require.True(t, strings.HasPrefix(rows[0], "fan50 @fan50"), rows[0])
		next := regexp.MustCompile(`href="([^"]+)" rel="next" data-testid="supporters-next"`).FindStringSubmatch(p.body)
		require.NotNil(t, next, "no next page")
		u, err := url.Parse(html.UnescapeString(next[1]))
		require.NoError(t, err)
		require.Equal(t, "/studio/supporters", u.Path)
		require.Equal(t, "recent", u.Query().Get("sort"))
		require.Equal(t, "fan", u.Query().Get("q"))
		require.NotEmpty(t, u.Query().Get("cursor"))
		p = ayla.get(u.RequestURI())
		require.Equal(t, http.StatusOK, p.status, p.text())
		rows = supporterRows(t, p)
		require.Len(t, rows, 1)
		require.True(t, strings.HasPrefix(rows[0], "fan00 @fan00"), rows[0])
		require.NotContains(t, p.body, `data-testid="supporters-next"`)
		require.Contains(t, p.body, `href="/studio/supporters?q=fan&amp;sort=recent" data-testid="supporters-first">First page</a>`)
	})
}
