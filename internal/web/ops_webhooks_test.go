package web_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// The operator adds an endpoint (its secret shown once), sees its
// deliveries, replays one, pauses, resumes, rotates and deletes it; a bad
// URL is refused with its reason; nobody else may.
func TestWebhooksConsole(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := newApp(t, db)
		a.seedWorld(t)
		var got atomic.Int32
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got.Add(1)
			w.Write([]byte("ok"))
		}))
		t.Cleanup(recv.Close)
		count := func(q string) int {
			t.Helper()
			var n int
			require.NoError(t, a.db.Read.QueryRow(q).Scan(&n))
			return n
		}

		sam := a.browser(t)
		p := sam.logIn("sam")
		require.NotContains(t, p.body, `href="/ops/webhooks"`)
		require.Equal(t, http.StatusForbidden, sam.get("/ops/webhooks").status)
		res := sam.post("/ops/webhooks", url.Values{"csrf_token": {p.form(t, "/logout", 0).Get("csrf_token")}, "url": {recv.URL}, "all": {"on"}})
		require.Equal(t, http.StatusForbidden, res.status)

		ops := a.browser(t)
		p = ops.logIn("ops")
		require.Contains(t, ops.get("/ops").body, `href="/ops/webhooks" data-testid="ops-nav-webhooks">Webhooks</a>`, "the console's menu links it")
		p = ops.get("/ops/webhooks")
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "No endpoint yet.")

		// Refused: a private address, an http URL elsewhere, no event.
		form := p.form(t, "/ops/webhooks", 0)
		form.Set("url", "https://169.254.169.254/latest")
		form.Set("all", "on")
		res = ops.post("/ops/webhooks", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "169.254.169.254", "Nothing was changed.")
		require.Contains(t, res.body, `value="https://169.254.169.254/latest"`)
		form.Set("url", "http://93.184.216.34/")
		require.Equal(t, http.StatusUnprocessableEntity, ops.post("/ops/webhooks", form).status)
		form.Set("url", recv.URL)
		form.Del("all")
		require.Equal(t, http.StatusUnprocessableEntity, ops.post("/ops/webhooks", form).status)
		require.Zero(t, count(`SELECT COUNT(*) FROM webhook_endpoints`))

		// Added, with its secret shown once.
		form.Set("all", "on")
		form.Set("description", "the host app")
		p = ops.post("/ops/webhooks", form)
		require.Equal(t, http.StatusOK, p.status, p.text())
		p.requireText(t, "Added the endpoint", "Signing secret", "Active", "all events", "the host app")
		// The page escapes the secret's "+" (&#43;): read it as shown.
		secret := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`).FindString(html.UnescapeString(p.body))
		require.Regexp(t, `^whsec_[A-Za-z0-9+/]{32,}={0,2}$`, secret)
		require.Equal(t, "no-store", p.header.Get("Cache-Control"))
		p = ops.get("/ops/webhooks")
		require.NotContains(t, html.UnescapeString(p.body), secret)
		id := regexp.MustCompile(`data-id="(whe_[^"]+)"`).FindStringSubmatch(p.body)[1]

		// A delivery, in the log, replayed.
		tx, err := db.Write.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, outbox.Enqueue(ctx, tx, outbox.Event{ID: "msg_console", Type: outbox.TipSent, At: time.Now(), Data: map[string]any{}}))
		require.NoError(t, tx.Commit())
		_, sent, err := a.webhooks.Step(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, sent)
		p = ops.get("/ops/webhooks?endpoint=" + id)
		p.requireText(t, "Deliveries to "+recv.URL, "tip.sent", "msg_console", "200")
		form = p.form(t, "/ops/webhooks/"+id+"/replay", 0)
		p = ops.follow(ops.post("/ops/webhooks/"+id+"/replay", form))
		p.requireText(t, "The event is due to the endpoint again now.")
		_, sent, err = a.webhooks.Step(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, sent)
		require.EqualValues(t, 2, got.Load())

		// Pause, resume, rotate, delete.
		p = ops.follow(ops.post("/ops/webhooks/"+id+"/pause", p.form(t, "/ops/webhooks/"+id+"/pause", 0)))
		p.requireText(t, "Paused the endpoint", "Paused")
		p = ops.follow(ops.post("/ops/webhooks/"+id+"/resume", p.form(t, "/ops/webhooks/"+id+"/resume", 0)))
		p.requireText(t, "Resumed the endpoint", "Active")
		p = ops.post("/ops/webhooks/"+id+"/rotate", p.form(t, "/ops/webhooks/"+id+"/rotate", 0))
		require.Equal(t, http.StatusOK, p.status, p.text())
		p.requireText(t, "Rotated the signing secret")
		rotated := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`).FindString(html.UnescapeString(p.body))
		require.Regexp(t, `^whsec_[A-Za-z0-9+/]{32,}={0,2}$`, rotated)
		require.NotEqual(t, secret, rotated)
		require.Equal(t, http.StatusNotFound, ops.post("/ops/webhooks/whe_nothing/pause", p.form(t, "/ops/webhooks/"+id+"/pause", 0)).status)
		p = ops.follow(ops.post("/ops/webhooks/"+id+"/delete", p.form(t, "/ops/webhooks/"+id+"/delete", 0)))
		p.requireText(t, "Deleted the endpoint", "No endpoint yet.")
		require.Equal(t, 6, count(`SELECT COUNT(*) FROM audit_log WHERE object = 'webhook:`+id+`'`))
		require.True(t, strings.HasPrefix(id, "whe_"))
	})
}
