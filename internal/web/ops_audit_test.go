package web_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestAuditLogPage: the operator reads the audit log, newest first, with
// who, what, before and after and the request; filters it, pages it and
// downloads it; nobody else sees it.
func TestAuditLogPage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)

		// The operator freezes sam's wallet from the console: the answer
		// names its request, which the entry records.
		ops := a.browser(t)
		p := ops.logIn("ops")
		require.Contains(t, p.body, `data-testid="nav-console"`, "the operator's menu links the console")
		require.Contains(t, ops.get("/ops").body, `href="/ops/audit"`, "the console's menu links the log")
		p = ops.get("/ops/wallets?user=sam")
		form := p.form(t, "/ops/wallets/sam/freeze", 0)
		form.Set("reason", "Chargeback pattern")
		res := ops.post("/ops/wallets/sam/freeze", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		reqID := res.header.Get("X-Request-Id")
		require.NotEmpty(t, reqID)

		p = ops.get("/ops/audit")
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "Audit log", "@ops", "wallet.freeze", "frozen: false → true", "reason: — → Chargeback pattern", reqID,
			"user.update", "followers: 0 → 250000")
		rows := regexp.MustCompile(`data-testid="audit-(\d+)"`).FindAllStringSubmatch(p.body, -1)
		require.GreaterOrEqual(t, len(rows), 4)
		require.Equal(t, "1", rows[len(rows)-1][1], "newest first: the first entry last")

		// Filters: the action's prefix, the object, the actor.
		p = ops.get("/ops/audit?action=wallet.")
		require.Len(t, regexp.MustCompile(`data-testid="audit-\d+"`).FindAllString(p.body, -1), 3, "two grants and the freeze")
		p = ops.get("/ops/audit?action=wallet.freeze")
		require.Len(t, regexp.MustCompile(`data-testid="audit-\d+"`).FindAllString(p.body, -1), 1)
		sam := a.user(t, "sam")
		p = ops.get("/ops/audit?object=" + url.QueryEscape("user:"+sam.ID))
		require.Len(t, regexp.MustCompile(`data-testid="audit-\d+"`).FindAllString(p.body, -1), 2, "sam's grant and freeze")
		p = ops.get("/ops/audit?actor=nobody")
		p.requireText(t, "No entry matches these filters.")
		// The CSV link keeps the filters and downloads with the session.
		p = ops.get("/ops/audit?action=wallet.")
		link := regexp.MustCompile(`href="(/v1/admin/audit\.csv[^"]*)"`).FindStringSubmatch(p.body)
		require.NotNil(t, link)
		csvURL := strings.ReplaceAll(link[1], "&amp;", "&")
		require.Equal(t, "/v1/admin/audit.csv?action=wallet.", csvURL)
		file := ops.do("GET", csvURL, nil)
		require.Equal(t, http.StatusOK, file.status, file.body)
		recs, err := csv.NewReader(bytes.NewReader([]byte(file.body))).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, 4)
		require.Equal(t, "wallet.freeze", recs[1][5])
		require.Equal(t, reqID, recs[1][7])

		// Paging: entries appear a page at a time with a link to the
		// older ones (more than a page of them).
		for i := range 60 {
			p = ops.get("/ops/wallets?user=sam")
			action := "unfreeze"
			if i%2 == 1 {
				action = "freeze"
			}
			form = p.form(t, "/ops/wallets/sam/"+action, 0)
			form.Set("reason", "round "+action)
			require.Equal(t, http.StatusSeeOther, ops.post("/ops/wallets/sam/"+action, form).status)
		}
		p = ops.get("/ops/audit")
		require.Len(t, regexp.MustCompile(`data-testid="audit-\d+"`).FindAllString(p.body, -1), 50)
		next := regexp.MustCompile(`href="(/ops/audit\?cursor=[^"]+)"`).FindStringSubmatch(p.body)
		require.NotNil(t, next, "a link to the older entries")
		p = ops.get(strings.ReplaceAll(next[1], "&amp;", "&"))
		require.Equal(t, http.StatusOK, p.status)
		require.Contains(t, p.body, `data-testid="audit-1"`)
		require.Contains(t, p.body, `data-testid="audit-first"`)

		// A cursor the log did not make: 400, said in words.
		before := a.state(t)
		p = ops.get("/ops/audit?cursor=bogus")
		require.Equal(t, http.StatusBadRequest, p.status)
		p.requireText(t, "Cursor is not one this API returned. Nothing was changed.")
		require.Equal(t, before, a.state(t))

		// A fan is refused; nobody logged in is sent to log in.
		fan := a.browser(t)
		fp := fan.logIn("sam")
		require.NotContains(t, fp.body, `href="/ops/audit"`)
		require.Equal(t, http.StatusForbidden, fan.get("/ops/audit").status)
		res = a.browser(t).do("GET", "/ops/audit", nil)
		require.Equal(t, http.StatusSeeOther, res.status)
		require.Equal(t, "/login?next=%2Fops%2Faudit", res.location)
	})
}

// TestOpsPagesWalk walks every operator page the web app registers (GET
// /ops/...): nobody logged in is sent to log in, a fan and a creator are
// refused (403), the operator sees it (200). A new /ops page is walked the
// day it is registered.
func TestOpsPagesWalk(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("web.go")
	require.NoError(t, err)
	routes := regexp.MustCompile(`mux\.Handle(?:Func)?\("GET (/ops(?:/[^"]*)?)"`).FindAllStringSubmatch(string(src), -1)
	require.GreaterOrEqual(t, len(routes), 4, "the pattern reads web.go's /ops pages")
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	a.seedWorld(t)
	fan, creator, ops := a.browser(t), a.browser(t), a.browser(t)
	fan.logIn("sam")
	creator.logIn("ayla")
	ops.logIn("ops")
	fill := regexp.MustCompile(`\{[a-z]+\}`)
	for _, r := range routes {
		// A page about a user is walked on a real one; any other id is
		// a placeholder.
		path := strings.ReplaceAll(strings.TrimSuffix(r[1], "{$}"), "{handle}", "ayla")
		path = fill.ReplaceAllString(path, "walk")
		res := a.browser(t).do("GET", path, nil)
		require.Equal(t, http.StatusSeeOther, res.status, "GET %s as nobody", path)
		require.Equal(t, "/login?next="+url.QueryEscape(path), res.location, "GET %s as nobody", path)
		require.Equal(t, http.StatusForbidden, fan.do("GET", path, nil).status, "GET %s as a fan", path)
		require.Equal(t, http.StatusForbidden, creator.do("GET", path, nil).status, "GET %s as a creator", path)
		require.Equal(t, http.StatusOK, ops.do("GET", path, nil).status, "GET %s as the operator", path)
	}
}
