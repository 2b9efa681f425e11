package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestDatabaseUnavailable stops the server's PostgreSQL: every request that
// needs it, read or write, authenticated by session or by API key, answers
// 503 unavailable with Retry-After, never 500 internal (and TestMain holds
// each answer to the operation's declared codes). Once PostgreSQL is back
// the same server answers again, without a restart, and a grant retried
// with its Idempotency-Key is applied once.
func TestDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := storetest.StartCluster(t)
	db, err := store.Open(ctx, c.URL())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Migrate(ctx)
	require.NoError(t, err)
	e := newEnv(t, db)
	fanID, fan := e.signUp(t, "sam")
	grant := request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
		body:   map[string]any{"user_id": fanID, "coins": 100, "reason": "while down"},
		header: map[string]string{"Idempotency-Key": "grant-down"}}

	c.Stop()
	for _, r := range []request{
		grant,
		{method: "GET", path: "/v1/me/wallet", token: fan},
		{method: "GET", path: "/v1/me/transactions", token: fan},
		{method: "GET", path: "/v1/lives"},
		{method: "POST", path: "/v1/auth/login", body: map[string]string{"handle": "sam", "password": "fanfare-demo"}},
		grant,
	} {
		res := e.do(t, r)
		requireProblem(t, res, http.StatusServiceUnavailable, fanfare.EUnavailable)
		require.Equal(t, "2", res.header.Get("Retry-After"), "%s %s", r.method, r.path)
	}
	res := e.do(t, request{method: "GET", path: "/readyz"})
	requireProblem(t, res, http.StatusServiceUnavailable, fanfare.EUnavailable)
	require.Equal(t, http.StatusOK, e.do(t, request{method: "GET", path: "/healthz"}).status)

	c.Start()
	// A connection the pool kept from before the stop fails the first
	// request that takes it; the pool then dials anew.
	first := retryUnavailable(t, e, grant)
	require.Equal(t, http.StatusCreated, first.status, "%s", first.body)
	again := e.do(t, grant)
	require.Equal(t, http.StatusCreated, again.status, "%s", again.body)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(first.body), string(again.body))
	require.Equal(t, walletBody{Coins: 100}, e.walletOf(t, fan))
	e.requireVerified(t)
}

// retryUnavailable sends r until it is answered otherwise than 503
// unavailable, for a few seconds at most, and returns that answer.
func retryUnavailable(t *testing.T, e *env, r request) *response {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := e.do(t, r)
		if res.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return res
		}
		requireProblem(t, res, http.StatusServiceUnavailable, fanfare.EUnavailable)
		time.Sleep(50 * time.Millisecond)
	}
}
