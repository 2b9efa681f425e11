package web_test

import (
	"context"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/ratelimit"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

var accessStart = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// loginForm sends the login form as handle with pw, from the client at
// addr behind the trusted proxy.
func (b *browser) loginForm(addr, handle, pw string) *page {
	b.t.Helper()
	form := b.get("/login").form(b.t, "/login", 0)
	form.Set("handle", handle)
	form.Set("password", pw)
	b.header.Set("X-Forwarded-For", addr)
	defer b.header.Del("X-Forwarded-For")
	return b.post("/login", form)
}

func TestLoginFormLimited(t *testing.T) {
	t.Parallel()
	c := newTestClock(accessStart)
	a := newAppWith(t, storetest.MustOpen(t, store.SQLite), appOptions{clock: c, guard: ratelimit.NewGuard(ratelimit.GuardOptions{
		Clock: c, AttemptsPerMinute: 3, LoginFailures: 2, LoginFailureWindow: 10 * time.Minute,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	})})
	_, err := a.accounts.Create(context.Background(), accountInput("sam"))
	require.NoError(t, err)
	b := a.browser(t)

	// Failed log-ins per handle, from any address.
	require.Equal(t, http.StatusUnauthorized, b.loginForm("203.0.113.1", "sam", "wrong-password").status)
	require.Equal(t, http.StatusUnauthorized, b.loginForm("203.0.113.2", "@Sam", "wrong-password").status)
	p := b.loginForm("203.0.113.3", "sam", password)
	require.Equal(t, http.StatusTooManyRequests, p.status)
	require.Equal(t, "300", p.header.Get("Retry-After"))
	p.requireText(t, "Too many failed log-ins for this handle; try again in 5 minutes.")
	require.Nil(t, p.cookie("fanfare_session"), "no session")
	require.True(t, p.hasForm("/login"), "the form is shown again")

	// Per address: the 4th attempt from one address within the minute.
	require.Equal(t, http.StatusUnauthorized, b.loginForm("203.0.113.9", "mia", "wrong-password").status)
	require.Equal(t, http.StatusUnauthorized, b.loginForm("203.0.113.9", "lea", "wrong-password").status)
	require.Equal(t, http.StatusUnauthorized, b.loginForm("203.0.113.9", "ayla", "wrong-password").status)
	p = b.loginForm("203.0.113.9", "omar", "wrong-password")
	require.Equal(t, http.StatusTooManyRequests, p.status)
	require.Equal(t, "20", p.header.Get("Retry-After"))
	p.requireText(t, "Too many log-in and sign-up attempts from your network; try again in 20 seconds.")

	// The sign-up form shares the count.
	form := b.get("/signup").form(t, "/signup", 0)
	for k, v := range map[string]string{"handle": "newfan", "password": password, "region": "FR", "birth_date": "1990-05-17", "account_type": "personal"} {
		form.Set(k, v)
	}
	b.header.Set("X-Forwarded-For", "203.0.113.9")
	p = b.post("/signup", form)
	b.header.Del("X-Forwarded-For")
	require.Equal(t, http.StatusTooManyRequests, p.status)
	require.Equal(t, "20", p.header.Get("Retry-After"))
	p.requireText(t, "Too many log-in and sign-up attempts from your network")
	_, err = a.accounts.ByHandle(context.Background(), "newfan")
	require.Error(t, err, "nothing created")

	// Time heals both.
	c.advance(5 * time.Minute)
	p = b.loginForm("203.0.113.9", "sam", password)
	require.Equal(t, http.StatusSeeOther, p.status, "%s", p.text())
}

// TestCSRFKeySharedByNodes: two nodes with the same key (behind one load
// balancer) accept each other's forms; with different keys, they refuse
// them.
func TestCSRFKeySharedByNodes(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	a := newAppWith(t, storetest.MustOpen(t, store.SQLite), appOptions{csrfKey: key})
	same := newAppWith(t, storetest.MustOpen(t, store.SQLite), appOptions{csrfKey: key})
	other := newAppWith(t, storetest.MustOpen(t, store.SQLite), appOptions{csrfKey: []byte("another key of thirty-two bytes!")})
	for _, n := range []*app{same, other} {
		_, err := n.accounts.Create(context.Background(), accountInput("sam"))
		require.NoError(t, err)
	}

	b := a.browser(t)
	form := b.get("/login").form(t, "/login", 0) // node a draws the form
	form.Set("handle", "sam")
	form.Set("password", password)
	b.app = same // the balancer sends the post elsewhere; the browser's cookies follow (same host)
	p := b.post("/login", form)
	require.Equal(t, http.StatusSeeOther, p.status, "%s", p.text())
	require.NotNil(t, p.cookie("fanfare_session"))

	b = a.browser(t)
	form = b.get("/login").form(t, "/login", 0)
	form.Set("handle", "sam")
	form.Set("password", password)
	b.app = other
	p = b.post("/login", form)
	require.Equal(t, http.StatusForbidden, p.status)
	p.requireText(t, "CSRF token")
}
