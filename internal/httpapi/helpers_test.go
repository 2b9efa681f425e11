package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/app"
	"github.com/fanfarehq/fanfare/internal/app/apptest"
	"github.com/fanfarehq/fanfare/internal/blob/blobtest"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/hostjwt"
	"github.com/fanfarehq/fanfare/internal/httpapi"
	"github.com/fanfarehq/fanfare/internal/jobs"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/tips"
	"github.com/fanfarehq/fanfare/internal/wallet"
	"github.com/fanfarehq/fanfare/internal/webhook"
)

const testAPIKey = "test-api-key-0123456789"

// testMaxBody is small so that oversize bodies are cheap to build.
const testMaxBody = 4096

type env struct {
	url      string
	api      *httpapi.Server
	handler  http.Handler
	db       *store.DB
	ledger   *ledger.Ledger
	accounts *account.Service
	wallet   *wallet.Service
	live     *live.Service
	hub      *room.Hub
	rules    *eligibility.Engine
	tips     *tips.Service
	registry *prometheus.Registry
	blobDir  string // the blob store's folder
	jobs     *jobs.Queue
	webhooks *webhook.Service
}

// newEnv serves the API over HTTP on db, in the graph serve builds
// (apptest).
func newEnv(tb testing.TB, db *store.DB) *env {
	tb.Helper()
	return newEnvWith(tb, db, nil)
}

// newEnvWith is newEnv with payment providers besides the sandbox.
func newEnvWith(tb testing.TB, db *store.DB, providers map[string]wallet.Provider) *env {
	tb.Helper()
	return newEnvConfig(tb, db, envConfig{providers: providers})
}

// envConfig is what a test may set in its env beyond the defaults.
type envConfig struct {
	providers    map[string]wallet.Provider
	guard        *ratelimit.Guard
	hashes       *account.HashQueue
	metricsToken string
	corsOrigins  []string
	warmingUp    string
	maxVideo     int64
	maxPostMedia int64
	members      live.Members // who subscribes; nil: the app's own subscriptions
	emotes       live.Emotes
	payouts      payout.Options
	hostJWT      hostjwt.Options // the host app's JWTs; none by default
	noSignUp     bool            // password sign-up switched off
}

// newEnvConfig is newEnv configured by c.
func newEnvConfig(tb testing.TB, db *store.DB, c envConfig) *env {
	tb.Helper()
	providers := c.providers
	all := map[string]wallet.Provider{payment.SandboxName: payment.NewSandbox()}
	for name, p := range providers {
		all[name] = p
	}
	blobURL, blobDir := blobtest.File(tb)
	a := apptest.Open(tb, db, nil, app.Config{APIKey: testAPIKey, Version: "test", MaxBodyBytes: testMaxBody, Providers: all,
		Guard: c.guard, Hashes: c.hashes, MetricsToken: c.metricsToken, CORSOrigins: c.corsOrigins, WarmingUp: c.warmingUp,
		MaxVideoBytes: c.maxVideo, BlobURL: blobURL, PostMaxMediaBytes: c.maxPostMedia, Members: c.members, Emotes: c.emotes,
		Payouts: c.payouts, HostJWT: c.hostJWT, NoPasswordSignUp: c.noSignUp})
	e := &env{api: a.API, handler: a.API, db: db, ledger: a.Ledger, accounts: a.Accounts, wallet: a.Wallet, live: a.Live, hub: a.Hub, rules: a.Rules, tips: a.Tips,
		registry: a.Registry, blobDir: blobDir, jobs: a.Jobs, webhooks: a.Webhooks}
	if _, ok := tb.(*testing.T); ok {
		e.url = apptest.Serve(tb, a, a.API)
	}
	return e
}

// request is one HTTP call in a test.
type request struct {
	method, path string
	token        string // Authorization: Bearer
	body         any    // string and []byte are sent as they are, anything else as JSON
	header       map[string]string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

func encodeBody(t testing.TB, body any) io.Reader {
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return strings.NewReader(b)
	case []byte:
		return bytes.NewReader(b)
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	return bytes.NewReader(b)
}

func (e *env) do(t *testing.T, r request) *response {
	t.Helper()
	req, err := http.NewRequest(r.method, e.url+r.path, encodeBody(t, r.body))
	require.NoError(t, err)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

// problem is the problem+json body as a client reads it.
type problem struct {
	Type    string           `json:"type"`
	Title   string           `json:"title"`
	Status  int              `json:"status"`
	Detail  string           `json:"detail"`
	Code    string           `json:"code"`
	Errors  []map[string]any `json:"errors"`
	Reasons []struct{ Code, Message string }
}

// requireProblem checks that res is a well-formed problem with status and
// code, and returns it.
func requireProblem(t *testing.T, res *response, status int, code string) *problem {
	t.Helper()
	require.Equal(t, status, res.status, "status; body: %s", res.body)
	require.Equal(t, "application/problem+json", res.header.Get("Content-Type"), "body: %s", res.body)
	var p problem
	res.json(t, &p)
	var raw map[string]any
	res.json(t, &raw)
	for _, k := range []string{"type", "title", "status", "detail", "code"} {
		require.Contains(t, raw, k, "problem member %q; body: %s", k, res.body)
	}
	require.Equal(t, status, p.Status)
	require.Equal(t, code, p.Code, "code; body: %s", res.body)
	require.Equal(t, http.StatusText(status), p.Title)
	require.NotEmpty(t, p.Detail)
	return &p
}

func signUpBody(handle string) map[string]any {
	return map[string]any{
		"handle":     handle,
		"password":   "fanfare-demo",
		"region":     "FR",
		"birth_date": "1990-05-17",
	}
}

// signUp creates a fan through the API and logs them in.
func (e *env) signUp(t *testing.T, handle string) (userID, token string) {
	t.Helper()
	res := e.do(t, request{method: "POST", path: "/v1/users", body: signUpBody(handle)})
	require.Equal(t, http.StatusCreated, res.status, "sign-up: %s", res.body)
	var u struct{ ID string }
	res.json(t, &u)
	return u.ID, e.login(t, handle, "fanfare-demo")
}

func (e *env) login(t *testing.T, handle, password string) string {
	t.Helper()
	res := e.do(t, request{method: "POST", path: "/v1/auth/login", body: map[string]string{"handle": handle, "password": password}})
	require.Equal(t, http.StatusOK, res.status, "login: %s", res.body)
	var out struct{ Token string }
	res.json(t, &out)
	return out.Token
}

// operatorUser creates an operator user (as the demo seeder does) and logs
// them in.
func (e *env) operatorUser(t *testing.T) (userID, token string) {
	t.Helper()
	u, err := e.accounts.Create(context.Background(), account.CreateInput{
		Handle: "ops", Password: "fanfare-demo", Region: "FR", BirthDate: "1985-01-01", Role: fanfare.RoleOperator,
	})
	require.NoError(t, err)
	return u.ID, e.login(t, "ops", "fanfare-demo")
}

type walletBody struct {
	Coins    int64 `json:"coins"`
	Diamonds int64 `json:"diamonds"`
	Frozen   bool  `json:"frozen"`
}

func (e *env) walletOf(t *testing.T, token string) walletBody {
	t.Helper()
	res := e.do(t, request{method: "GET", path: "/v1/me/wallet", token: token})
	require.Equal(t, http.StatusOK, res.status, "wallet: %s", res.body)
	var w walletBody
	res.json(t, &w)
	return w
}

// snapshot is the state a refused request must leave alone: row counts,
// every balance and every user's operator-set fields.
type snapshot struct {
	Users, Transfers, Audit, IdempotencyKeys, Purchases, Tips int
	Subscriptions, Periods, Plans                             int
	State                                                     string
}

func (e *env) snapshot(t *testing.T) snapshot {
	t.Helper()
	var s snapshot
	for q, dst := range map[string]*int{
		`SELECT COUNT(*) FROM users`:                &s.Users,
		`SELECT COUNT(*) FROM transfers`:            &s.Transfers,
		`SELECT COUNT(*) FROM audit_log`:            &s.Audit,
		`SELECT COUNT(*) FROM idempotency_keys`:     &s.IdempotencyKeys,
		`SELECT COUNT(*) FROM purchases`:            &s.Purchases,
		`SELECT COUNT(*) FROM tips`:                 &s.Tips,
		`SELECT COUNT(*) FROM subscriptions`:        &s.Subscriptions,
		`SELECT COUNT(*) FROM subscription_periods`: &s.Periods,
		`SELECT COUNT(*) FROM subscription_tiers`:   &s.Plans,
	} {
		require.NoError(t, e.db.Read.QueryRow(q).Scan(dst))
	}
	var b strings.Builder
	rows, err := e.db.Read.Query(`SELECT owner, asset, balance, frozen FROM accounts ORDER BY owner, asset`)
	require.NoError(t, err)
	for rows.Next() {
		var owner, asset string
		var balance int64
		var frozen bool
		require.NoError(t, rows.Scan(&owner, &asset, &balance, &frozen))
		fmt.Fprintf(&b, "%s/%s=%d,%v;", owner, asset, balance, frozen)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	rows, err = e.db.Read.Query(`SELECT handle, display_name, region, followers, standing, role FROM users ORDER BY handle`)
	require.NoError(t, err)
	for rows.Next() {
		var h, d, r, st, role string
		var f int64
		require.NoError(t, rows.Scan(&h, &d, &r, &f, &st, &role))
		fmt.Fprintf(&b, "@%s:%s:%s:%d:%s:%s;", h, d, r, f, st, role)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	s.State = b.String()
	return s
}

// requireVerified checks that the ledger is sound.
func (e *env) requireVerified(t *testing.T) {
	t.Helper()
	r, err := e.ledger.Verify(t.Context(), nil)
	require.NoError(t, err)
	require.True(t, r.OK(), "ledger.Verify: %v", r.Problems)
}
