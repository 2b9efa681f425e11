package web_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestSignupClosed: with password sign-up switched off the page says so
// (403), no page links to it, and a form posted anyway creates nobody.
func TestSignupClosed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newAppWith(t, db, appOptions{noSignUp: true})
		b := a.browser(t)
		p := b.get("/signup")
		require.Equal(t, http.StatusForbidden, p.status)
		p.requireText(t, "Sign-up is closed")
		require.False(t, p.hasForm("/signup"))
		// No page leads to it: not the menu, the home page or the login page.
		for _, path := range []string{"/", "/login", "/signup"} {
			require.NotContains(t, b.get(path).body, `href="/signup"`, "page %s links to the closed sign-up", path)
		}

		form := b.get("/login").form(t, "/login", 0)
		form.Set("handle", "newbie")
		form.Set("password", "a-long-password")
		form.Set("region", "FR")
		form.Set("birth_date", "1990-05-17")
		p = b.post("/signup", form)
		require.Equal(t, http.StatusForbidden, p.status)
		var n int
		require.NoError(t, db.Read.QueryRow(`SELECT COUNT(*) FROM users`).Scan(&n))
		require.Zero(t, n)
	})
}
