package httpapi_test

import (
	"context"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// loopback is the test server's proxy: the tests name their client with
// X-Forwarded-For.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}

// from is a request from the client at addr, behind the trusted proxy.
func from(addr string, r request) request {
	if r.header == nil {
		r.header = map[string]string{}
	}
	r.header["X-Forwarded-For"] = addr
	return r
}

func loginReq(handle, password string) request {
	return request{method: "POST", path: "/v1/auth/login", body: map[string]string{"handle": handle, "password": password}}
}

func signUpReq(handle string) request {
	return request{method: "POST", path: "/v1/users", body: signUpBody(handle)}
}

// requireLimited checks a 429 rate_limited answer asking to wait wait.
func requireLimited(t *testing.T, res *response, wait string) {
	t.Helper()
	p := requireProblem(t, res, http.StatusTooManyRequests, "rate_limited")
	require.Equal(t, wait, res.header.Get("Retry-After"), "Retry-After")
	require.Contains(t, p.Detail, "try again in")
}

func createUser(t *testing.T, e *env, handle string) {
	t.Helper()
	_, err := e.accounts.Create(context.Background(), account.CreateInput{Handle: handle, Password: "fanfare-demo", Region: "FR", BirthDate: "1990-05-17"})
	require.NoError(t, err)
}

func TestLoginAndSignUpLimitedPerAddress(t *testing.T) {
	t.Parallel()
	c := newTestClock()
	e := newEnvConfig(t, storetest.MustOpen(t, store.SQLite), envConfig{guard: ratelimit.NewGuard(ratelimit.GuardOptions{
		Clock: c, AttemptsPerMinute: 3, Burst: 3, TrustedProxies: loopback,
	})})
	createUser(t, e, "sam")

	const attacker, other = "203.0.113.7", "198.51.100.20"
	require.Equal(t, http.StatusOK, e.do(t, from(attacker, loginReq("sam", "fanfare-demo"))).status)
	require.Equal(t, http.StatusUnauthorized, e.do(t, from(attacker, loginReq("sam", "wrong-password"))).status)
	require.Equal(t, http.StatusCreated, e.do(t, from(attacker, signUpReq("mia"))).status, "sign-ups count with log-ins")
	// The 4th attempt within the minute: refused before the password is
	// checked, whatever it is.
	requireLimited(t, e.do(t, from(attacker, loginReq("sam", "fanfare-demo"))), "20")
	requireLimited(t, e.do(t, from(attacker, signUpReq("lea"))), "20")
	requireLimited(t, e.do(t, from(attacker, request{method: "POST", path: "/v1/auth/login", body: "not json"})), "20")
	_, err := e.accounts.ByHandle(context.Background(), "lea")
	require.Error(t, err, "a refused sign-up creates nothing")

	// Another address still works; so does the host app with its API key
	// (its backend signs up many users from one address).
	require.Equal(t, http.StatusOK, e.do(t, from(other, loginReq("sam", "fanfare-demo"))).status)
	res := e.do(t, from(attacker, request{method: "POST", path: "/v1/users", body: signUpBody("lea"), token: testAPIKey}))
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	requireLimited(t, e.do(t, from(attacker, request{method: "POST", path: "/v1/users", body: signUpBody("ayla"), token: "not-the-key"})), "20")

	// A token is earned back every 20 seconds.
	c.add(19 * time.Second)
	requireLimited(t, e.do(t, from(attacker, loginReq("sam", "fanfare-demo"))), "1")
	c.add(time.Second)
	require.Equal(t, http.StatusOK, e.do(t, from(attacker, loginReq("sam", "fanfare-demo"))).status)
	requireLimited(t, e.do(t, from(attacker, loginReq("sam", "fanfare-demo"))), "20")
	c.add(time.Minute)
	for range 3 {
		require.Equal(t, http.StatusOK, e.do(t, from(attacker, loginReq("sam", "fanfare-demo"))).status, "after the window")
	}

	// The OpenAPI document lists the refusals.
	doc := string(e.do(t, request{method: "GET", path: "/openapi.json"}).body)
	require.Contains(t, doc, `"429"`)
	require.Contains(t, doc, "Retry-After")
}

// TestForwardedForIgnoredFromUntrustedPeers: without trusted proxies, a
// client cannot escape its limit by claiming other addresses.
func TestForwardedForIgnoredFromUntrustedPeers(t *testing.T) {
	t.Parallel()
	e := newEnvConfig(t, storetest.MustOpen(t, store.SQLite), envConfig{guard: ratelimit.NewGuard(ratelimit.GuardOptions{
		Clock: newTestClock(), AttemptsPerMinute: 2,
	})})
	require.Equal(t, http.StatusUnauthorized, e.do(t, from("203.0.113.1", loginReq("sam", "wrong-password"))).status)
	require.Equal(t, http.StatusUnauthorized, e.do(t, from("203.0.113.2", loginReq("sam", "wrong-password"))).status)
	requireLimited(t, e.do(t, from("203.0.113.3", loginReq("sam", "wrong-password"))), "30")
}

func TestFailedLoginsLimitedPerHandle(t *testing.T) {
	t.Parallel()
	c := newTestClock()
	e := newEnvConfig(t, storetest.MustOpen(t, store.SQLite), envConfig{guard: ratelimit.NewGuard(ratelimit.GuardOptions{
		Clock: c, AttemptsPerMinute: 1000, LoginFailures: 3, LoginFailureWindow: 15 * time.Minute, TrustedProxies: loopback,
	})})
	createUser(t, e, "sam")
	createUser(t, e, "mia")

	// Failures from many addresses add up on the handle.
	for i, addr := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		res := e.do(t, from(addr, loginReq("SAM", "wrong-password")))
		requireProblem(t, res, http.StatusUnauthorized, "unauthorized")
		require.Empty(t, res.header.Get("Retry-After"), "failure %d", i+1)
	}
	// The 4th is refused, even with the right password, and so is an
	// unknown handle's 4th: the answer tells nothing about who exists.
	requireLimited(t, e.do(t, from("203.0.113.4", loginReq("sam", "fanfare-demo"))), "300")
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, e.do(t, loginReq("nobody", "wrong-password")).status)
	}
	requireLimited(t, e.do(t, loginReq("nobody", "wrong-password")), "300")
	// Another handle still logs in.
	require.Equal(t, http.StatusOK, e.do(t, from("203.0.113.4", loginReq("mia", "fanfare-demo"))).status)

	// One failure is forgiven every window/limit.
	c.add(5 * time.Minute)
	require.Equal(t, http.StatusOK, e.do(t, loginReq("sam", "fanfare-demo")).status)
	// A success clears the count.
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, e.do(t, loginReq("sam", "wrong-password")).status)
	}
	requireLimited(t, e.do(t, loginReq("sam", "wrong-password")), "300")
	c.add(15 * time.Minute)
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, e.do(t, loginReq("sam", "wrong-password")).status, "after the window")
	}
}

// TestPasswordQueueFull: with every hashing slot busy and the queue full,
// log-in and sign-up answer 503 unavailable with Retry-After at once.
func TestPasswordQueueFull(t *testing.T) {
	t.Parallel()
	q := account.NewHashQueue(1, 1)
	e := newEnvConfig(t, storetest.MustOpen(t, store.SQLite), envConfig{hashes: q})
	createUser(t, e, "sam")

	release := make(chan struct{})
	started := make(chan struct{})
	done := make(chan error, 2)
	go func() {
		done <- q.Do(context.Background(), func() { close(started); <-release })
	}()
	<-started
	go func() { done <- q.Do(context.Background(), func() {}) }()
	for q.Waiting() < 1 {
		runtime.Gosched()
	}

	res := e.do(t, loginReq("sam", "fanfare-demo"))
	requireProblem(t, res, http.StatusServiceUnavailable, "unavailable")
	require.Equal(t, "2", res.header.Get("Retry-After"))
	res = e.do(t, signUpReq("mia"))
	requireProblem(t, res, http.StatusServiceUnavailable, "unavailable")
	require.Equal(t, "2", res.header.Get("Retry-After"))

	close(release)
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	require.Equal(t, http.StatusOK, e.do(t, loginReq("sam", "fanfare-demo")).status)
	require.Equal(t, http.StatusCreated, e.do(t, signUpReq("mia")).status)
}

// TestSlowHandlerKeepsItsRequest: a sign-up whose password waits for its
// hash longer than the body's read deadline (huma's 5 s) still succeeds:
// the deadline is lifted once the body is read, so the server does not
// take the expired deadline for a client gone and cancel the request.
func TestSlowHandlerKeepsItsRequest(t *testing.T) {
	t.Parallel()
	q := account.NewHashQueue(1, 8)
	e := newEnvConfig(t, storetest.MustOpen(t, store.SQLite), envConfig{hashes: q})

	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- q.Do(context.Background(), func() { close(started); time.Sleep(6 * time.Second) })
	}()
	<-started
	res := e.do(t, signUpReq("mia"))
	require.Equal(t, http.StatusCreated, res.status, "sign-up behind a 6 s hash: %s", res.body)
	require.NoError(t, <-done)
}

func TestMetricsNeedTheirToken(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t, store.SQLite)
	t.Run("no token", func(t *testing.T) {
		e := newEnv(t, db)
		p := requireProblem(t, e.do(t, request{method: "GET", path: "/metrics"}), http.StatusNotFound, "not_found")
		require.Contains(t, p.Detail, "FANFARE_METRICS_ADDR")
		requireProblem(t, e.do(t, request{method: "GET", path: "/metrics", token: testAPIKey}), http.StatusNotFound, "not_found")
	})
	t.Run("token", func(t *testing.T) {
		const token = "metrics-token-0123456789"
		e := newEnvConfig(t, db, envConfig{metricsToken: token})
		for _, r := range []request{
			{method: "GET", path: "/metrics"},
			{method: "GET", path: "/metrics", token: "wrong"},
			{method: "GET", path: "/metrics", token: testAPIKey},
			{method: "GET", path: "/metrics", header: map[string]string{"Cookie": "fanfare_session=" + token}},
		} {
			res := e.do(t, r)
			requireProblem(t, res, http.StatusUnauthorized, "unauthorized")
			require.NotEmpty(t, res.header.Get("WWW-Authenticate"))
		}
		res := e.do(t, request{method: "GET", path: "/metrics", token: token})
		require.Equal(t, http.StatusOK, res.status)
		require.Contains(t, string(res.body), "fanfare_http_request_duration_seconds")
	})
}

// TestLiveEventsOrigin: a browser page of another site cannot open a room
// feed for its visitor; the site's own pages and clients that send no
// Origin (not browsers) can.
func TestLiveEventsOrigin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	_, ayla := e.signUp(t, "ayla")
	var l liveReply
	res := e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	res.json(t, &l)
	host := strings.TrimPrefix(e.url, "http://")

	dial := func(origin string) (*http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		conn, res, err := websocket.Dial(ctx, "ws://"+host+"/v1/lives/"+l.ID+"/events", &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			conn.CloseNow()
		}
		return res, err
	}
	for _, origin := range []string{"https://evil.example", "http://evil.example", "null",
		// Behind a proxy that rewrites the Host header, the public origin
		// differs from the Host Fanfare sees and is refused too: the proxy
		// must pass the Host header on.
		"https://fanfare.example.com"} {
		res, err := dial(origin)
		require.Error(t, err, origin)
		require.NotNil(t, res, origin)
		require.Equal(t, http.StatusForbidden, res.StatusCode, origin)
	}
	for _, origin := range []string{"", "http://" + host, "HTTP://" + strings.ToUpper(host)} {
		res, err := dial(origin)
		require.NoError(t, err, "origin %q", origin)
		require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	}
}
