package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/app"
	"github.com/fanfarehq/fanfare/internal/app/apptest"
	"github.com/fanfarehq/fanfare/internal/httpapi"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func TestFlow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)

		// Sign up: 201 with the user, never the password or its hash.
		res := e.do(t, request{method: "POST", path: "/v1/users", body: map[string]any{
			"handle": "Sam", "display_name": "Sam", "password": "fanfare-demo",
			"region": "fr", "birth_date": "1990-05-17", "account_type": "personal",
		}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		require.Equal(t, "application/json", res.header.Get("Content-Type"))
		require.NotContains(t, string(res.body), "password")
		require.NotContains(t, string(res.body), "argon2")
		var u map[string]any
		res.json(t, &u)
		require.Equal(t, "sam", u["handle"])
		require.Equal(t, "FR", u["region"])
		require.Equal(t, "good", u["standing"])
		require.Equal(t, "fan", u["role"])
		userID := u["id"].(string)

		// Log in.
		res = e.do(t, request{method: "POST", path: "/v1/auth/login", body: map[string]string{"handle": "sam", "password": "fanfare-demo"}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var login struct {
			Token     string         `json:"token"`
			ExpiresAt string         `json:"expires_at"`
			User      map[string]any `json:"user"`
		}
		res.json(t, &login)
		require.NotEmpty(t, login.Token)
		require.NotEmpty(t, login.ExpiresAt)
		require.Equal(t, userID, login.User["id"])

		// Me.
		res = e.do(t, request{method: "GET", path: "/v1/me", token: login.Token})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var me map[string]any
		res.json(t, &me)
		require.Equal(t, userID, me["id"])
		require.Equal(t, map[string]any{"coins": float64(0), "diamonds": float64(0), "frozen": false,
			"currency": "EUR", "fiat_value": float64(0), "can_spend": true,
			"spend_limit": map[string]any{"daily_coins": float64(100000), "default_daily_coins": float64(100000),
				"self_set": false, "spent_today": float64(0), "left_today": float64(100000)},
		}, func() map[string]any {
			var w map[string]any
			e.do(t, request{method: "GET", path: "/v1/me/wallet", token: login.Token}).json(t, &w)
			limit := w["spend_limit"].(map[string]any)
			resets, err := time.Parse(time.RFC3339, limit["resets_at"].(string))
			require.NoError(t, err)
			require.True(t, resets.After(time.Now()) && !resets.After(time.Now().Add(24*time.Hour)), "resets_at = %v", resets)
			delete(limit, "resets_at")
			return w
		}())

		// Grant through the API key: 201, and a replay gives the same body
		// and status, marked replayed.
		grant := request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
			body:   map[string]any{"user_id": userID, "coins": 7000, "reason": "welcome"},
			header: map[string]string{"Idempotency-Key": "grant-1"}}
		first := e.do(t, grant)
		require.Equal(t, http.StatusCreated, first.status, "%s", first.body)
		require.Empty(t, first.header.Get("Idempotent-Replayed"))
		var g map[string]any
		first.json(t, &g)
		require.Equal(t, float64(7000), g["coins"])
		require.Equal(t, float64(7000), g["balance"])
		require.Equal(t, "welcome", g["reason"])
		require.Equal(t, userID, g["user_id"])
		require.NotEmpty(t, g["id"])
		require.NotEmpty(t, g["created_at"])

		again := e.do(t, grant)
		require.Equal(t, http.StatusCreated, again.status)
		require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(first.body), string(again.body))

		require.Equal(t, walletBody{Coins: 7000}, e.walletOf(t, login.Token))

		// An operator user may grant too.
		_, opsToken := e.operatorUser(t)
		res = e.do(t, request{method: "POST", path: "/v1/admin/grants", token: opsToken,
			body:   map[string]any{"user_id": userID, "coins": 5, "reason": "thanks"},
			header: map[string]string{"Idempotency-Key": "grant-1"}}) // keys are per actor
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		require.Equal(t, walletBody{Coins: 7005}, e.walletOf(t, login.Token))

		// An operator user may change a user too.
		res = e.do(t, request{method: "PATCH", path: "/v1/users/" + userID, token: opsToken,
			body: map[string]any{"followers": 10}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)

		// The host app sets followers; the change is visible to the user.
		res = e.do(t, request{method: "PATCH", path: "/v1/users/" + userID, token: testAPIKey,
			body: map[string]any{"followers": 250000, "standing": "warned", "region": "tr"}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res = e.do(t, request{method: "GET", path: "/v1/me", token: login.Token})
		res.json(t, &me)
		require.Equal(t, float64(250000), me["followers"])
		require.Equal(t, "warned", me["standing"])
		require.Equal(t, "TR", me["region"])

		// Log out: the token is dead.
		res = e.do(t, request{method: "POST", path: "/v1/auth/logout", token: login.Token})
		require.Equal(t, http.StatusNoContent, res.status, "%s", res.body)
		require.Empty(t, res.body)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/me", token: login.Token}), 401, "unauthorized")

		r, err := e.ledger.Verify(t.Context(), nil)
		require.NoError(t, err)
		require.True(t, r.OK(), "%v", r.Problems)
	})
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		fanID, fanToken := e.signUp(t, "sam")
		e.operatorUser(t)

		// One grant to hold a key that a different body then reuses.
		res := e.do(t, request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
			body:   map[string]any{"user_id": fanID, "coins": 100, "reason": "start"},
			header: map[string]string{"Idempotency-Key": "used"}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)

		before := e.snapshot(t)

		n := 0
		grant := func(body any) request {
			n++
			return request{method: "POST", path: "/v1/admin/grants", token: testAPIKey, body: body,
				header: map[string]string{"Idempotency-Key": "bad-" + string(rune('a'+n%26)) + strings.Repeat("x", n)}}
		}
		grantCoins := func(coins string) request {
			return grant(`{"user_id":"` + fanID + `","coins":` + coins + `,"reason":"r"}`)
		}
		oversize := `{"user_id":"` + fanID + `","coins":1,"reason":"` + strings.Repeat("x", testMaxBody) + `"}`
		signUp := func(edit func(map[string]any)) request {
			b := signUpBody("newbie")
			edit(b)
			return request{method: "POST", path: "/v1/users", body: b}
		}
		patch := func(token string, body any) request {
			return request{method: "PATCH", path: "/v1/users/" + fanID, token: token, body: body}
		}

		tests := []struct {
			name   string
			req    request
			status int
			code   string
		}{
			// Amounts.
			{"zero coins", grantCoins("0"), 400, "validation_failed"},
			{"negative coins", grantCoins("-1"), 400, "validation_failed"},
			{"2^53 coins", grantCoins("9007199254740992"), 400, "validation_failed"},
			{"2^53+1 coins", grantCoins("9007199254740993"), 400, "validation_failed"},
			{"int64 overflow", grantCoins("10000000000000000000"), 400, "validation_failed"},
			{"1e19 coins", grantCoins("1e19"), 400, "validation_failed"},
			{"2^64 coins", grantCoins("18446744073709551616"), 400, "validation_failed"},
			{"1e400 coins", grantCoins("1e400"), 400, "validation_failed"},
			{"fractional coins", grantCoins("1.5"), 400, "validation_failed"},
			{"almost-integer coins", grantCoins("9007199254740990.9"), 400, "validation_failed"},
			{"string coins", grantCoins(`"12"`), 400, "validation_failed"},
			{"null coins", grantCoins("null"), 400, "validation_failed"},
			{"coins over the grant limit", grantCoins("1000000001"), 400, "validation_failed"},
			{"coins at MaxAmount", grantCoins("9007199254740991"), 400, "validation_failed"},
			// Grant bodies.
			{"unknown user", grant(map[string]any{"user_id": "nobody", "coins": 1, "reason": "r"}), 404, "not_found"},
			{"malformed JSON", grant(`{"user_id":`), 400, "validation_failed"},
			{"not an object", grant(`[1,2,3]`), 400, "validation_failed"},
			{"empty body", grant(""), 400, "validation_failed"},
			{"unknown field", grant(map[string]any{"user_id": fanID, "coins": 1, "reason": "r", "bonus": true}), 400, "validation_failed"},
			{"wrong-case field", grant(map[string]any{"user_id": fanID, "Coins": 1, "reason": "r"}), 400, "validation_failed"},
			{"missing reason", grant(map[string]any{"user_id": fanID, "coins": 1}), 400, "validation_failed"},
			{"blank reason", grant(map[string]any{"user_id": fanID, "coins": 1, "reason": "  "}), 400, "validation_failed"},
			{"oversize body", grant(oversize), 413, "payload_too_large"},
			{"missing Idempotency-Key", request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
				body: map[string]any{"user_id": fanID, "coins": 1, "reason": "r"}}, 400, "idempotency_key_required"},
			{"same key, other body", request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
				body:   map[string]any{"user_id": fanID, "coins": 101, "reason": "start"},
				header: map[string]string{"Idempotency-Key": "used"}}, 409, "idempotency_conflict"},
			{"text/plain body", request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
				body:   map[string]any{"user_id": fanID, "coins": 1, "reason": "r"},
				header: map[string]string{"Idempotency-Key": "plain", "Content-Type": "text/plain"}}, 415, "unsupported_media_type"},
			// Who may call.
			{"grant by a fan", request{method: "POST", path: "/v1/admin/grants", token: fanToken,
				body: map[string]any{"user_id": fanID, "coins": 1, "reason": "r"}, header: map[string]string{"Idempotency-Key": "fan"}}, 403, "forbidden"},
			{"grant without token", request{method: "POST", path: "/v1/admin/grants",
				body: map[string]any{"user_id": fanID, "coins": 1, "reason": "r"}, header: map[string]string{"Idempotency-Key": "anon"}}, 401, "unauthorized"},
			{"grant with a wrong API key", request{method: "POST", path: "/v1/admin/grants", token: testAPIKey + "x",
				body: map[string]any{"user_id": fanID, "coins": 1, "reason": "r"}, header: map[string]string{"Idempotency-Key": "wrong"}}, 401, "unauthorized"},
			{"me with a wrong token", request{method: "GET", path: "/v1/me", token: "not-a-token"}, 401, "unauthorized"},
			{"me with a forged token", request{method: "GET", path: "/v1/me", token: strings.Repeat("A", 43)}, 401, "unauthorized"},
			{"me without token", request{method: "GET", path: "/v1/me"}, 401, "unauthorized"},
			{"basic auth", request{method: "GET", path: "/v1/me", header: map[string]string{"Authorization": "Basic c2FtOmZhbmZhcmUtZGVtbw=="}}, 401, "unauthorized"},
			{"me with the API key", request{method: "GET", path: "/v1/me", token: testAPIKey}, 403, "forbidden"},
			{"wallet with the API key", request{method: "GET", path: "/v1/me/wallet", token: testAPIKey}, 403, "forbidden"},
			{"patch by a fan", patch(fanToken, map[string]any{"followers": 1}), 403, "forbidden"},
			{"patch without token", patch("", map[string]any{"followers": 1}), 401, "unauthorized"},
			{"patch unknown user", request{method: "PATCH", path: "/v1/users/nobody", token: testAPIKey,
				body: map[string]any{"followers": 1}}, 404, "not_found"},
			{"patch negative followers", patch(testAPIKey, map[string]any{"followers": -1}), 400, "validation_failed"},
			{"patch too many followers", patch(testAPIKey, map[string]any{"followers": 1000000000001}), 400, "validation_failed"},
			{"patch bad standing", patch(testAPIKey, map[string]any{"standing": "excellent"}), 400, "validation_failed"},
			{"patch bad region", patch(testAPIKey, map[string]any{"region": "XX"}), 400, "validation_failed"},
			{"patch unknown field", patch(testAPIKey, map[string]any{"role": "operator"}), 400, "validation_failed"},
			// Sign-up.
			{"bad handle", signUp(func(b map[string]any) { b["handle"] = "no spaces" }), 400, "validation_failed"},
			{"reserved handle", signUp(func(b map[string]any) { b["handle"] = "admin" }), 400, "validation_failed"},
			{"doubled dot", signUp(func(b map[string]any) { b["handle"] = "a..b" }), 400, "validation_failed"},
			{"weak password", signUp(func(b map[string]any) { b["password"] = "short" }), 400, "validation_failed"},
			{"future birth date", signUp(func(b map[string]any) { b["birth_date"] = "2999-01-01" }), 400, "validation_failed"},
			{"ancient birth date", signUp(func(b map[string]any) { b["birth_date"] = "1800-01-01" }), 400, "validation_failed"},
			{"impossible birth date", signUp(func(b map[string]any) { b["birth_date"] = "1990-02-30" }), 400, "validation_failed"},
			{"bad region", signUp(func(b map[string]any) { b["region"] = "ZZ" }), 400, "validation_failed"},
			{"bad account type", signUp(func(b map[string]any) { b["account_type"] = "creator" }), 400, "validation_failed"},
			{"role in sign-up", signUp(func(b map[string]any) { b["role"] = "operator" }), 400, "validation_failed"},
			{"missing password", signUp(func(b map[string]any) { delete(b, "password") }), 400, "validation_failed"},
			{"taken handle", signUp(func(b map[string]any) { b["handle"] = "SAM" }), 409, "conflict"},
			{"malformed sign-up", request{method: "POST", path: "/v1/users", body: `{"handle":"x",}`}, 400, "validation_failed"},
			// Login.
			{"wrong password", request{method: "POST", path: "/v1/auth/login", body: map[string]string{"handle": "sam", "password": "wrong-password"}}, 401, "unauthorized"},
			{"unknown handle", request{method: "POST", path: "/v1/auth/login", body: map[string]string{"handle": "nobody", "password": "fanfare-demo"}}, 401, "unauthorized"},
			// Routing.
			{"unknown route", request{method: "GET", path: "/v1/nothing"}, 404, "not_found"},
			{"wrong method", request{method: "DELETE", path: "/v1/users"}, 405, "method_not_allowed"},
			{"GET on a POST route", request{method: "GET", path: "/v1/admin/grants", token: testAPIKey}, 405, "method_not_allowed"},
		}
		for _, tt := range tests {
			res := e.do(t, tt.req)
			p := requireProblem(t, res, tt.status, tt.code)
			t.Logf("%s: %d %s: %s", tt.name, p.Status, p.Code, p.Detail)
			require.NotContains(t, string(res.body), "fanfare-demo", "%s: the password is echoed", tt.name)
			require.Equal(t, before, e.snapshot(t), "%s changed the database", tt.name)
		}
		require.Equal(t, walletBody{Coins: 100}, e.walletOf(t, fanToken))

		// The problem names the field and tells what is wrong.
		p := requireProblem(t, e.do(t, grantCoins("0")), 400, "validation_failed")
		require.Contains(t, p.Detail, "coins")
		require.NotEmpty(t, p.Errors)
		require.Equal(t, "body.coins", p.Errors[0]["location"])
		require.NotContains(t, p.Errors[0], "value")

		res = e.do(t, request{method: "GET", path: "/v1/me"})
		require.Equal(t, `Bearer realm="fanfare"`, res.header.Get("WWW-Authenticate"))
		res = e.do(t, request{method: "DELETE", path: "/v1/users"})
		require.Equal(t, "POST", res.header.Get("Allow"))
	})
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	fanID, _ := e.signUp(t, "sam")
	// A body of exactly the limit is read; one byte more is refused.
	body := func(size int) string {
		b := `{"user_id":"` + fanID + `","coins":1,"reason":"`
		return b + strings.Repeat("x", size-len(b)-2) + `"}`
	}
	res := e.do(t, request{method: "POST", path: "/v1/admin/grants", token: testAPIKey, body: body(testMaxBody),
		header: map[string]string{"Idempotency-Key": "at-limit"}})
	requireProblem(t, res, 400, "validation_failed") // read, then the reason is too long
	res = e.do(t, request{method: "POST", path: "/v1/admin/grants", token: testAPIKey, body: body(testMaxBody + 1),
		header: map[string]string{"Idempotency-Key": "over-limit"}})
	requireProblem(t, res, 413, "payload_too_large")

	// Without a Content-Length the limit holds while reading.
	req, err := http.NewRequest("POST", e.url+"/v1/users", &endless{})
	require.NoError(t, err)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, 413, r.StatusCode)
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	_, token := e.signUp(t, "sam")
	cookie := map[string]string{"Cookie": httpapi.SessionCookie + "=" + token}

	res := e.do(t, request{method: "GET", path: "/v1/me", header: cookie})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)

	// A cross-site browser request that changes something is refused.
	res = e.do(t, request{method: "POST", path: "/v1/auth/logout", header: map[string]string{
		"Cookie": cookie["Cookie"], "Sec-Fetch-Site": "cross-site"}})
	requireProblem(t, res, 403, "forbidden")
	require.Equal(t, http.StatusOK, e.do(t, request{method: "GET", path: "/v1/me", header: cookie}).status)

	// A same-origin logout ends the session and clears the cookie.
	res = e.do(t, request{method: "POST", path: "/v1/auth/logout", header: map[string]string{
		"Cookie": cookie["Cookie"], "Sec-Fetch-Site": "same-origin"}})
	require.Equal(t, http.StatusNoContent, res.status, "%s", res.body)
	require.Contains(t, res.header.Get("Set-Cookie"), httpapi.SessionCookie+"=;")
	require.Contains(t, res.header.Get("Set-Cookie"), "Max-Age=0")
	requireProblem(t, e.do(t, request{method: "GET", path: "/v1/me", header: cookie}), 401, "unauthorized")
}

func TestHealth(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		res := e.do(t, request{method: "GET", path: "/healthz"})
		require.Equal(t, http.StatusOK, res.status)
		require.JSONEq(t, `{"status":"ok"}`, string(res.body))
		res = e.do(t, request{method: "GET", path: "/readyz"})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.JSONEq(t, `{"status":"ready"}`, string(res.body))
	})
}

func TestReadyzPendingMigrations(t *testing.T) {
	t.Parallel()
	db, err := store.Open(t.Context(), storetest.URL(t, store.SQLite))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	a := apptest.Open(t, db, nil, app.Config{})
	e := &env{handler: a.API, url: apptest.Serve(t, a, a.API)}
	requireProblem(t, e.do(t, request{method: "GET", path: "/readyz"}), 503, "unavailable")
	res := e.do(t, request{method: "GET", path: "/healthz"})
	require.Equal(t, http.StatusOK, res.status)
}

// River's migrations count too: the database misses the last one.
func TestReadyzPendingRiverMigrations(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t, store.SQLite)
	_, err := db.Write.Exec(`DELETE FROM river_migration WHERE version = (SELECT max(version) FROM river_migration)`)
	require.NoError(t, err)
	a := apptest.Open(t, db, nil, app.Config{})
	e := &env{handler: a.API, url: apptest.Serve(t, a, a.API)}
	p := requireProblem(t, e.do(t, request{method: "GET", path: "/readyz"}), 503, "unavailable")
	require.Contains(t, p.Detail, "migrations are pending")
}

func TestReadyzWarmingUp(t *testing.T) {
	t.Parallel()
	e := newEnvConfig(t, storetest.MustOpen(t, store.SQLite), envConfig{warmingUp: "seeding the demo world"})
	for range 2 {
		p := requireProblem(t, e.do(t, request{method: "GET", path: "/readyz"}), 503, "unavailable")
		require.Contains(t, p.Detail, "seeding the demo world")
	}
	// The process is alive and the API answers meanwhile.
	require.Equal(t, http.StatusOK, e.do(t, request{method: "GET", path: "/healthz"}).status)
	e.signUp(t, "sam")

	e.api.Ready()
	res := e.do(t, request{method: "GET", path: "/readyz"})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	require.JSONEq(t, `{"status":"ready"}`, string(res.body))
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	res := e.do(t, request{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "abc-123"}})
	require.Equal(t, "abc-123", res.header.Get("X-Request-Id"))
	res = e.do(t, request{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "bad id; with spaces"}})
	require.Len(t, res.header.Get("X-Request-Id"), 24)
	res = e.do(t, request{method: "GET", path: "/nowhere"})
	require.Len(t, res.header.Get("X-Request-Id"), 24, "errors carry a request id too")
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	const metricsToken = "metrics-token-0123456789"
	e := newEnvConfig(t, storetest.MustOpen(t, store.SQLite), envConfig{metricsToken: metricsToken})
	fanID, _ := e.signUp(t, "sam")
	e.do(t, request{method: "GET", path: "/healthz"})
	e.do(t, request{method: "GET", path: "/v1/users/" + fanID}) // 405, counted under its own label
	res := e.do(t, request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
		body: map[string]any{"user_id": fanID, "coins": 1, "reason": "r"}, header: map[string]string{"Idempotency-Key": "m"}})
	require.Equal(t, http.StatusCreated, res.status)
	e.do(t, request{method: "PATCH", path: "/v1/users/" + fanID, token: testAPIKey, body: map[string]any{"followers": 3}})
	e.do(t, request{method: "GET", path: "/v1//me/../" + fanID + "/../me"}) // redirected to /v1/me

	res = e.do(t, request{method: "GET", path: "/metrics", token: metricsToken})
	require.Equal(t, http.StatusOK, res.status)
	text := string(res.body)
	for _, want := range []string{
		`fanfare_http_request_duration_seconds_bucket{code="200",route="GET /healthz",le="+Inf"} 1`,
		`fanfare_http_request_duration_seconds_count{code="201",route="POST /v1/users"} 1`,
		`fanfare_http_request_duration_seconds_count{code="200",route="PATCH /v1/users/{id}"} 1`,
		`fanfare_http_request_duration_seconds_count{code="405",route="unmatched"} 1`,
		`fanfare_http_request_duration_seconds_count{code="307",route="GET /v1/me"} 1`,
		`fanfare_http_request_duration_seconds_count{code="401",route="GET /v1/me"} 1`,
		`fanfare_ledger_batch_size_count`,
		`fanfare_ledger_commit_duration_seconds_count`,
		`fanfare_ledger_balance_check_failures_total 0`,
	} {
		require.Contains(t, text, want)
	}
	require.NotContains(t, text, fanID, "raw paths are not labels")
}

func TestOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	res := e.do(t, request{method: "GET", path: "/openapi.json"})
	require.Equal(t, http.StatusOK, res.status)
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Security    []map[string][]string `json:"security"`
			Parameters  []map[string]any      `json:"parameters"`
			RequestBody *struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas         map[string]map[string]any `json:"schemas"`
			SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3.1."), "openapi = %q", doc.OpenAPI)
	for _, route := range []string{
		"POST /v1/users", "POST /v1/auth/login", "POST /v1/auth/logout", "GET /v1/me",
		"PATCH /v1/users/{id}", "POST /v1/admin/grants", "GET /v1/me/wallet",
		"GET /v1/me/spend-limit", "PUT /v1/me/spend-limit",
		"GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json",
	} {
		method, path, _ := strings.Cut(route, " ")
		_, ok := doc.Paths[path][strings.ToLower(method)]
		require.True(t, ok, "%s is not described", route)
	}
	require.Equal(t, "bearer", doc.Components.SecuritySchemes["session"]["scheme"])
	require.Equal(t, "http", doc.Components.SecuritySchemes["session"]["type"])
	require.Equal(t, "cookie", doc.Components.SecuritySchemes["sessionCookie"]["in"])
	require.Equal(t, "bearer", doc.Components.SecuritySchemes["apiKey"]["scheme"])

	grant := doc.Paths["/v1/admin/grants"]["post"]
	require.NotEmpty(t, grant.Security)
	require.Contains(t, grant.Responses, "201")
	require.Contains(t, grant.Responses, "400")
	require.Contains(t, grant.Responses, "409")
	require.NotContains(t, grant.Responses, "422")
	var keyRequired bool
	for _, p := range grant.Parameters {
		if p["name"] == "Idempotency-Key" {
			keyRequired = p["required"] == true
		}
	}
	require.True(t, keyRequired, "Idempotency-Key is documented as required")
	require.Empty(t, doc.Paths["/v1/users"]["post"].Security, "sign-up is public")
	require.Equal(t, []map[string][]string{{"apiKey": {}}, {"session": {}}, {"sessionCookie": {}}}, doc.Paths["/v1/admin/grants"]["post"].Security,
		"grants take the operator: an operator key or an operator session; no host key")
	require.Equal(t, []map[string][]string{{"apiKey": {"users:write"}}, {"session": {}}, {"sessionCookie": {}}}, doc.Paths["/v1/users/{id}"]["patch"].Security,
		"PATCH takes the operator (an operator key or session) or a host key with users:write")

	ref := grant.RequestBody.Content["application/json"].Schema["$ref"].(string)
	body := doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
	require.Equal(t, false, body["additionalProperties"])
	coins := body["properties"].(map[string]any)["coins"].(map[string]any)
	require.Equal(t, "integer", coins["type"])
	require.Equal(t, float64(1), coins["minimum"])
	require.Equal(t, float64(fanfare.MaxAmount), coins["maximum"])

	problem := doc.Components.Schemas["Problem"]
	require.NotNil(t, problem)
	for _, member := range []string{"type", "title", "status", "detail", "code", "errors"} {
		require.Contains(t, problem["properties"], member)
	}
	for _, p := range doc.Paths {
		for _, op := range p {
			if op.RequestBody != nil {
				for _, c := range op.RequestBody.Content {
					if ref, ok := c.Schema["$ref"].(string); ok {
						s := doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
						require.Equal(t, false, s["additionalProperties"], "%s allows unknown fields", ref)
					}
				}
			}
		}
	}
}

func TestStatusTable(t *testing.T) {
	t.Parallel()
	want := map[string]int{
		fanfare.EInvalid: 400, fanfare.EIdempotencyKeyRequired: 400, fanfare.ESignatureInvalid: 400,
		fanfare.EUnauthorized: 401,
		fanfare.EForbidden:    403, fanfare.ENotEligible: 403, fanfare.ERegionBlocked: 403, fanfare.ESubscribersOnly: 403,
		fanfare.ENotFound: 404,
		fanfare.EConflict: 409, fanfare.EIdempotencyConflict: 409, fanfare.EInvalidState: 409,
		fanfare.EDeadlinePassed: 409, fanfare.EInsufficientFunds: 409, fanfare.EWalletFrozen: 409,
		fanfare.ESpendLimit: 409, fanfare.ECapacityFull: 409, fanfare.EPaused: 409, fanfare.ENotEnoughRecipients: 409, fanfare.EPurchaseLimit: 429,
		fanfare.ETooLarge:                413,
		fanfare.EInternal:                500,
		fanfare.EUnavailable:             503,
		httpapi.CodeMethodNotAllowed:     405,
		httpapi.CodeUnsupportedMediaType: 415,
		"no_such_code":                   500,
	}
	for code, status := range want {
		require.Equal(t, status, httpapi.Status(code), "Status(%q)", code)
	}
}
