package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/httpapi"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// hostOrigin is the origin of the host's web client in the CORS tests.
const hostOrigin = "https://host.example"

// preflight is the OPTIONS request a browser sends before a cross-origin
// call of method on path from origin.
func preflight(origin, method, path, headers string) request {
	return request{method: "OPTIONS", path: path, header: map[string]string{
		"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers,
	}}
}

// requireNoCORS checks that res grants no cross-origin access.
func requireNoCORS(t *testing.T, res *response) {
	t.Helper()
	for k := range res.header {
		require.False(t, strings.HasPrefix(k, "Access-Control-"), "header %s: %s", k, res.header.Get(k))
	}
}

// requireVaryOrigin checks that res says it depends on Origin.
func requireVaryOrigin(t *testing.T, res *response) {
	t.Helper()
	require.Contains(t, strings.Join(res.header.Values("Vary"), ","), "Origin", "Vary")
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	e := newEnvConfig(t, storetest.MustOpen(t, store.SQLite), envConfig{
		corsOrigins: []string{hostOrigin, "http://localhost:3000"},
		// Preflights are not log-ins: they must not use up the limit.
		guard: ratelimit.NewGuard(ratelimit.GuardOptions{Clock: newTestClock(), AttemptsPerMinute: 2, Burst: 2}),
	})
	createUser(t, e, "sam")

	for _, r := range []request{
		preflight(hostOrigin, "GET", "/v1/me/wallet", "authorization"),
		preflight(hostOrigin, "POST", "/v1/lives/some-live/gifts", "authorization, content-type, idempotency-key"),
		preflight(hostOrigin, "PATCH", "/v1/users/some-user", "authorization, content-type"),
		preflight("http://localhost:3000", "PUT", "/v1/me/tip-settings", "authorization, content-type"),
		preflight(hostOrigin, "POST", "/v1/auth/login", "content-type"),
		preflight(hostOrigin, "DELETE", "/v1/posts/some-post", "authorization"),
	} {
		res := e.do(t, r)
		require.Equal(t, http.StatusNoContent, res.status, "%s %s: %s", r.method, r.path, res.body)
		require.Empty(t, res.body)
		require.Equal(t, r.header["Origin"], res.header.Get("Access-Control-Allow-Origin"))
		require.Equal(t, "DELETE, GET, PATCH, POST, PUT", res.header.Get("Access-Control-Allow-Methods"))
		allowHeaders := strings.ToLower(res.header.Get("Access-Control-Allow-Headers"))
		for _, h := range []string{"authorization", "content-type", "idempotency-key", "x-request-id"} {
			require.Contains(t, allowHeaders, h)
		}
		require.Equal(t, "600", res.header.Get("Access-Control-Max-Age"))
		require.Empty(t, res.header.Get("Access-Control-Allow-Credentials"), "the session cookie is never allowed cross-origin")
		requireVaryOrigin(t, res)
	}
	for range 5 {
		require.Equal(t, http.StatusNoContent, e.do(t, preflight(hostOrigin, "POST", "/v1/auth/login", "content-type")).status)
	}
	require.Equal(t, http.StatusOK, e.do(t, loginReq("sam", "fanfare-demo")).status, "preflights count as log-in attempts")

	// Origins not listed, however close, get no leave.
	for _, origin := range []string{"https://evil.example", "http://host.example", "https://host.example:8443", "https://sub.host.example", "null"} {
		res := e.do(t, preflight(origin, "GET", "/v1/me/wallet", "authorization"))
		p := requireProblem(t, res, http.StatusForbidden, "forbidden")
		require.Contains(t, p.Detail, origin)
		requireNoCORS(t, res)
		requireVaryOrigin(t, res)
	}

	// A plain OPTIONS, which is no preflight, is answered as before.
	res := e.do(t, request{method: "OPTIONS", path: "/v1/me/wallet", header: map[string]string{"Origin": hostOrigin}})
	requireProblem(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
	require.Equal(t, hostOrigin, res.header.Get("Access-Control-Allow-Origin"), "the page may read the refusal")

	// Paths outside the API's /v1/ are not open to other origins.
	res = e.do(t, preflight(hostOrigin, "GET", "/readyz", ""))
	requireProblem(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
	requireNoCORS(t, res)
}

func TestCORSCalls(t *testing.T) {
	t.Parallel()
	e := newEnvConfig(t, storetest.MustOpen(t, store.SQLite), envConfig{corsOrigins: []string{hostOrigin}})
	_, token := e.signUp(t, "sam")
	fromHost := map[string]string{"Origin": hostOrigin, "Sec-Fetch-Site": "cross-site"}

	// A call with a token from a listed origin is answered, and says the
	// page may read the answer, without credentials.
	res := e.do(t, request{method: "GET", path: "/v1/me/wallet", token: token, header: fromHost})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	require.Equal(t, hostOrigin, res.header.Get("Access-Control-Allow-Origin"))
	expose := res.header.Get("Access-Control-Expose-Headers")
	for _, h := range []string{"Retry-After", "X-Request-Id", "Idempotent-Replayed", "WWW-Authenticate"} {
		require.Contains(t, expose, h)
	}
	require.Empty(t, res.header.Get("Access-Control-Allow-Credentials"))
	require.Empty(t, res.header.Get("Access-Control-Allow-Methods"), "for preflights only")
	requireVaryOrigin(t, res)

	// Errors are readable too.
	res = e.do(t, request{method: "GET", path: "/v1/me/wallet", header: fromHost})
	requireProblem(t, res, http.StatusUnauthorized, "unauthorized")
	require.Equal(t, hostOrigin, res.header.Get("Access-Control-Allow-Origin"))

	// An unsafe call with a token from a listed origin works: the token is
	// no ambient credential.
	res = e.do(t, request{method: "PUT", path: "/v1/me/spend-limit", token: token, header: fromHost, body: map[string]any{"daily_coins": 500}})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	require.Equal(t, hostOrigin, res.header.Get("Access-Control-Allow-Origin"))

	// Another origin's page gets the answer the server gives anyone, but
	// nothing that lets its browser show it to the page.
	res = e.do(t, request{method: "GET", path: "/v1/me/wallet", token: token, header: map[string]string{"Origin": "https://evil.example"}})
	require.Equal(t, http.StatusOK, res.status)
	requireNoCORS(t, res)
	requireVaryOrigin(t, res)

	// The session cookie stays same-origin: an unsafe call with it from a
	// listed origin is refused, and a safe one never allows credentials.
	cookie := httpapi.SessionCookie + "=" + token
	res = e.do(t, request{method: "POST", path: "/v1/auth/logout", header: map[string]string{
		"Cookie": cookie, "Origin": hostOrigin, "Sec-Fetch-Site": "cross-site"}})
	requireProblem(t, res, http.StatusForbidden, "forbidden")
	res = e.do(t, request{method: "POST", path: "/v1/auth/logout", header: map[string]string{"Cookie": cookie, "Origin": hostOrigin}})
	requireProblem(t, res, http.StatusForbidden, "forbidden")
	res = e.do(t, request{method: "GET", path: "/v1/me", header: map[string]string{"Cookie": cookie, "Origin": hostOrigin, "Sec-Fetch-Site": "cross-site"}})
	require.Empty(t, res.header.Get("Access-Control-Allow-Credentials"))
	require.Equal(t, http.StatusOK, e.do(t, request{method: "GET", path: "/v1/me", token: token}).status, "the session is still open")
}

func TestCORSOffByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	_, token := e.signUp(t, "sam")

	res := e.do(t, preflight(hostOrigin, "GET", "/v1/me/wallet", "authorization"))
	requireProblem(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
	requireNoCORS(t, res)
	require.Empty(t, res.header.Values("Vary"))

	res = e.do(t, request{method: "GET", path: "/v1/me/wallet", token: token, header: map[string]string{"Origin": hostOrigin}})
	require.Equal(t, http.StatusOK, res.status)
	requireNoCORS(t, res)
	require.Empty(t, res.header.Values("Vary"))
}

func TestParseOrigins(t *testing.T) {
	t.Parallel()
	for list, want := range map[string][]string{
		"":                        nil,
		" , ":                     nil,
		"https://host.example":    {"https://host.example"},
		" HTTPS://Host.Example/ ": {"https://host.example"},
		"https://a.example:443,http://b.example:80": {"https://a.example", "http://b.example"},
		"http://localhost:3000, http://[::1]:8080":  {"http://localhost:3000", "http://[::1]:8080"},
		"https://a.example,https://a.example:443":   {"https://a.example"},
		"https://a.example:8443":                    {"https://a.example:8443"},
	} {
		got, err := httpapi.ParseOrigins(list)
		require.NoError(t, err, "%q", list)
		require.Equal(t, want, got, "ParseOrigins(%q)", list)
	}
	for _, bad := range []string{
		"*", "https://*.example.com", "host.example", "ftp://host.example", "https://host.example/app",
		"https://host.example?x=1", "https://host.example#top", "https://user@host.example", "null",
		"https://host.example:0", "https://host.example:99999", "https://", "https://good.example, nope",
	} {
		_, err := httpapi.ParseOrigins(bad)
		require.Error(t, err, "ParseOrigins(%q)", bad)
	}
	_, err := httpapi.ParseOrigins("*")
	require.ErrorContains(t, err, "wildcard")
}
