package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// The operator changes a creator share at /ops/config: a value out of
// bounds is refused next to its field and changes nothing; a good one is
// saved, in force, and listed in the recent changes; a stale form is
// refused; nobody else may see the page.
func TestConfigConsole(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)
		version := func() int64 {
			t.Helper()
			var v int64
			require.NoError(t, a.db.Read.QueryRow(`SELECT version FROM settings`).Scan(&v))
			return v
		}

		sam := a.browser(t)
		p := sam.logIn("sam")
		require.NotContains(t, p.body, `href="/ops/config"`)
		res := sam.get("/ops/config")
		require.Equal(t, http.StatusForbidden, res.status)
		res = sam.post("/ops/config/shares", url.Values{"csrf_token": {p.form(t, "/logout", 0).Get("csrf_token")}, "version": {"1"},
			"shares.tips_bps": {"1"}})
		require.Equal(t, http.StatusForbidden, res.status)
		require.EqualValues(t, 1, version())

		ops := a.browser(t)
		p = ops.logIn("ops")
		require.Contains(t, ops.get("/ops").body, `href="/ops/config"`, "the console's menu links it")
		p = ops.get("/ops/config")
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "Configuration", "Version 1", "by the environment at first start", "Coin packs and prices", "Creator shares",
			"Tips", "Spending and purchase limits", "Payouts", "Shoutouts", "LIVE Subscription", "Region switches",
			"No change yet")
		require.Contains(t, p.body, `name="shares.tips_bps" type="text" value="10000"`)
		require.Contains(t, p.body, "EUR 157: 70=119, 350=569, 1400=2249, 7000=10999, 17500=26999")

		shares := func(tips string) url.Values {
			f := p.form(t, "/ops/config/shares", 0)
			f.Set("shares.gifts_bps", "5000")
			f.Set("shares.tips_bps", tips)
			f.Set("shares.shoutouts_bps", "8000")
			f.Set("shares.subscriptions_bps", "5000")
			return f
		}
		// Out of bounds, or not a number: refused next to the field.
		res = ops.post("/ops/config/shares", shares("20000"))
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "The change was not saved; nothing was changed.", "Must be between 0 and 10000, not 20000")
		require.Contains(t, res.body, `data-testid="field-error-shares.tips_bps"`)
		require.Contains(t, res.body, `value="20000"`, "the value as typed")
		res = ops.post("/ops/config/shares", shares("lots"))
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "Enter a whole number")
		packs := p.form(t, "/ops/config/packs", 0)
		packs.Set("packs", "EUR 157: 70=-1")
		res = ops.post("/ops/config/packs", packs)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		packs.Set("packs", "")
		res = ops.post("/ops/config/packs", packs)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "At least one price list, in EUR")
		f := shares("8000")
		f.Del("csrf_token")
		require.Equal(t, http.StatusForbidden, ops.post("/ops/config/shares", f).status)
		require.Equal(t, http.StatusNotFound, ops.post("/ops/config/nothing", shares("8000")).status)
		require.EqualValues(t, 1, version())

		// Saved: in force, and in the recent changes.
		res = ops.post("/ops/config/shares", shares("8000"))
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, "/ops/config?saved=shares#group-shares", res.location)
		p2 := ops.follow(res)
		p2.requireText(t, "Saved creator shares: in force now on every server.", "Version 2", "by @ops",
			"shares.tips_bps : 10000 → 8000")
		require.NotContains(t, p2.text(), "shares.subscriptions_bps", "only the changed fields")
		require.EqualValues(t, 2, version())
		require.EqualValues(t, 8000, a.tips.ShareBPS())

		// The first page's form is stale now.
		res = ops.post("/ops/config/shares", shares("7000"))
		require.Equal(t, http.StatusConflict, res.status, res.text())
		res.requireText(t, "Another change was saved meanwhile")
		require.EqualValues(t, 2, version())
		require.EqualValues(t, 8000, a.tips.ShareBPS())
	})
}
