package web_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestFormsRefuseTextThatIsNotText sends text that is not text through
// every form that stores text, on both stores: each is refused with a
// sentence on the form naming the field, and nothing changes.
func TestFormsRefuseTextThatIsNotText(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)
		sam, ayla, ops := a.browser(t), a.browser(t), a.browser(t)
		sam.logIn("sam")
		ayla.logIn("ayla")
		ops.logIn("ops")

		// Sign-up: a NUL in the display name (a 500 on PostgreSQL before).
		b := a.browser(t)
		form := b.get("/signup").form(t, "/signup", 0)
		form.Set("handle", "nul")
		form.Set("display_name", "Fan\x00")
		form.Set("password", password)
		form.Set("region", "FR")
		form.Set("birth_date", "1990-05-17")
		form.Set("account_type", "personal")
		before := a.state(t)
		res := b.post("/signup", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "The display name must not contain control characters (U+0000 at character 4).")
		require.Contains(t, res.body, `value="nul"`, "what was typed stays")
		form.Set("display_name", "Fan \xff")
		res = b.post("/signup", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "The display name must be valid UTF-8.")
		require.Equal(t, before, a.state(t))

		// Log-in: a NUL in the handle.
		form = b.get("/login").form(t, "/login", 0)
		form.Set("handle", "sam\x00")
		form.Set("password", password)
		res = b.post("/login", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "The handle must not contain control characters")

		// A tip message is one line.
		form = sam.get("/creators/ayla").form(t, "/creators/ayla/tip", 0)
		form.Set("coins", "500")
		form.Set("message", "Thanks\r\nfor the LIVE")
		res = sam.post("/creators/ayla/tip", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "The message must be one line (a line break, U+000D, at character 7). No coins were taken.")
		form.Set("message", "hi\x00")
		res = sam.post("/creators/ayla/tip", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "The message must not contain control characters")
		require.Equal(t, before, a.state(t))

		// A LIVE's title.
		form = ayla.get("/studio").form(t, "/studio/start", 0)
		form.Set("title", "Evening\u202ejam")
		res = ayla.post("/studio/start", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "The title must not contain bidirectional formatting characters (U+202E at character 8).")
		require.Empty(t, a.lives(t))

		// The operator's rule form.
		p := ops.get("/ops/eligibility")
		form = p.ruleForm(t, "tips")
		form.Set("regions_off", "FR \x00")
		res = ops.post("/ops/eligibility/tips", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "The rule of Tips was not saved: The regions off must not contain control characters")

		// The wallet's forms: a hidden field that is not text.
		wallet := sam.get("/wallet")
		res = sam.buy(wallet, "eur-70\x00", "4242424242424242")
		require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
		res.requireText(t, "The pack id must not contain control characters")
		require.Equal(t, before, a.state(t))

		// Addresses that reach a store.
		for _, path := range []string{"/creators/%00", "/live/%00", "/live/%FF/summary", "/wallet?kind=%00", "/studio/monetization?cursor=%FF"} {
			res := sam.do("GET", path, nil)
			require.Equal(t, http.StatusBadRequest, res.status, "GET %s: %s", path, res.text())
			res.requireText(t, "This address holds characters that are not text")
		}
		require.Equal(t, before, a.state(t))
		a.requireVerified(t)
	})
}
