package web_test

import (
	"cmp"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	fanapp "github.com/fanfarehq/fanfare/internal/app"
	"github.com/fanfarehq/fanfare/internal/app/apptest"
	"github.com/fanfarehq/fanfare/internal/blob/blobtest"
	"github.com/fanfarehq/fanfare/internal/content"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/jobs"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/subscription"
	"github.com/fanfarehq/fanfare/internal/tips"
	"github.com/fanfarehq/fanfare/internal/wallet"
	"github.com/fanfarehq/fanfare/internal/web"
	"github.com/fanfarehq/fanfare/internal/webhook"
)

const password = "fanfare-demo"

// app is the web app served over HTTP on a real database, in the graph
// serve builds (apptest): the pages in front of the real API.
type app struct {
	url      string
	db       *store.DB
	ledger   *ledger.Ledger
	accounts *account.Service
	wallet   *wallet.Service
	live     *live.Service
	rules    *eligibility.Engine
	tips     *tips.Service
	shout    *shoutout.Service
	subs     *subscription.Service
	content  *content.Service
	webhooks *webhook.Service
	// jobs is the graph's job queue (not started: tests run what is due
	// with RunDue).
	jobs *jobs.Queue
	// web holds what builds another web server on the same app.
	web web.Options
	// blobDir is the blob store's folder.
	blobDir string
}

type appOptions struct {
	secure  bool
	demo    bool
	clock   fanfare.Clock
	guard   *ratelimit.Guard
	csrfKey []byte
	// shoutouts are the Shoutouts' options (Review: the operator's
	// moderation).
	shoutouts shoutout.Options
	// subscriptions are LIVE Subscription's options (Period: a fixed
	// period, so tests reach a renewal by moving the clock).
	subscriptions subscription.Options
	// blobs, when set, serves the pages of a web server built here with
	// it (the app does not wire a blob store into the pages yet).
	blobs web.Blobs
	// members answers who subscribes to whom (the LIVE chat's perks).
	members live.Members
	// postMaxMedia bounds a post's media (0: the default).
	postMaxMedia int64
	// noSignUp switches password sign-up off.
	noSignUp bool
}

func newApp(t *testing.T, db *store.DB) *app {
	t.Helper()
	return newAppWith(t, db, appOptions{})
}

func newAppWith(t *testing.T, db *store.DB, o appOptions) *app {
	t.Helper()
	blobURL, blobDir := blobtest.File(t)
	a := apptest.Open(t, db, o.clock, fanapp.Config{
		BlobURL:           blobURL,
		APIKey:            "web-test-key",
		Version:           "test",
		ChargebackDelay:   time.Nanosecond,
		SecureCookies:     o.secure,
		Demo:              o.demo,
		Guard:             o.guard,
		CSRFKey:           o.csrfKey,
		Shoutouts:         o.shoutouts,
		Subscriptions:     o.subscriptions,
		Members:           o.members,
		PostMaxMediaBytes: o.postMaxMedia,
		NoPasswordSignUp:  o.noSignUp,
	})
	opts := web.Options{Accounts: a.Accounts, Wallet: a.Wallet, Live: a.Live, Rules: a.Rules, Tips: a.Tips,
		Profiles: a.Profiles, Shoutouts: a.Shoutouts, Subscriptions: a.Subscriptions, Content: a.Content, Payouts: a.Payouts, Webhooks: a.Webhooks, API: a.API, Logger: slog.New(slog.DiscardHandler),
		Clock: cmp.Or[fanfare.Clock](o.clock, fanfare.SystemClock{}), CSRFKey: o.csrfKey}
	var pages http.Handler = a.Web
	if o.blobs != nil {
		withBlobs := opts
		withBlobs.Blobs = o.blobs
		pages = web.New(withBlobs)
	}
	return &app{url: apptest.Serve(t, a, pages), db: db, ledger: a.Ledger, accounts: a.Accounts, wallet: a.Wallet,
		live: a.Live, rules: a.Rules, tips: a.Tips, shout: a.Shoutouts, subs: a.Subscriptions, content: a.Content, webhooks: a.Webhooks, jobs: a.Jobs, web: opts, blobDir: blobDir}
}

// browser is one visitor: a cookie jar and a client that does not follow
// redirects by itself, so tests see each answer.
type browser struct {
	t      *testing.T
	app    *app
	client *http.Client
	header http.Header // sent with every request
}

func (a *app) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, app: a, header: http.Header{}, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

// page is one answer.
type page struct {
	status   int
	header   http.Header
	body     string
	location string // of a redirect
	path     string // the request's path and query
}

func (b *browser) do(method, path string, form url.Values) *page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.app.url+path, body)
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	res, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	return &page{status: res.StatusCode, header: res.Header, body: string(raw), location: res.Header.Get("Location"), path: path}
}

// get fetches path and follows redirects.
func (b *browser) get(path string) *page {
	b.t.Helper()
	return b.follow(b.do("GET", path, nil))
}

// post sends a form and returns the answer without following it.
func (b *browser) post(path string, form url.Values) *page {
	b.t.Helper()
	return b.do("POST", path, form)
}

// follow follows p's redirects, as a browser does after a form (GET).
func (b *browser) follow(p *page) *page {
	b.t.Helper()
	for range 5 {
		if p.status < 300 || p.status > 399 {
			return p
		}
		u, err := url.Parse(p.location)
		require.NoError(b.t, err)
		p = b.do("GET", u.RequestURI(), nil)
	}
	b.t.Fatalf("too many redirects, last to %s", p.location)
	return nil
}

// text returns the page's body with its tags removed and spaces folded,
// as a reader sees it.
func (p *page) text() string {
	s := regexp.MustCompile(`(?s)<script.*?</script>|<[^>]+>`).ReplaceAllString(p.body, " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

// requireText checks that the page reads each of want.
func (p *page) requireText(t *testing.T, want ...string) {
	t.Helper()
	text := p.text()
	for _, w := range want {
		require.Contains(t, text, w, "page %s (status %d) reads: %s", p.path, p.status, text)
	}
}

// form returns the hidden fields of the page's form that posts to action;
// index picks among several (refund buttons).
func (p *page) form(t *testing.T, action string, index int) url.Values {
	t.Helper()
	re := regexp.MustCompile(`(?s)<form method="post" action="` + regexp.QuoteMeta(action) + `"[^>]*>(.*?)</form>`)
	forms := re.FindAllStringSubmatch(p.body, -1)
	require.Greater(t, len(forms), index, "page %s has %d forms posting to %s", p.path, len(forms), action)
	v := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(forms[index][1], -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// hasForm reports whether the page has a form posting to action.
func (p *page) hasForm(action string) bool {
	return strings.Contains(p.body, `<form method="post" action="`+action+`"`)
}

// signUp creates an account through the sign-up form and returns its
// wallet page.
func (b *browser) signUp(handle, region string) *page {
	b.t.Helper()
	form := b.get("/signup").form(b.t, "/signup", 0)
	form.Set("handle", handle)
	form.Set("display_name", "Fan "+handle)
	form.Set("password", password)
	form.Set("region", region)
	form.Set("birth_date", "1990-05-17")
	form.Set("account_type", "personal")
	p := b.post("/signup", form)
	require.Equal(b.t, http.StatusSeeOther, p.status, "sign-up: %s", p.text())
	return b.follow(p)
}

// logIn logs in through the login form.
func (b *browser) logIn(handle string) *page {
	b.t.Helper()
	form := b.get("/login").form(b.t, "/login", 0)
	form.Set("handle", handle)
	form.Set("password", password)
	p := b.post("/login", form)
	require.Equal(b.t, http.StatusSeeOther, p.status, "login: %s", p.text())
	return b.follow(p)
}

// buy sends the wallet page's buy form for pack with card.
func (b *browser) buy(wallet *page, pack, card string) *page {
	b.t.Helper()
	form := wallet.form(b.t, "/wallet/buy", 0)
	form.Set("pack_id", pack)
	form.Set("card_number", card)
	return b.post("/wallet/buy", form)
}

// user returns the user of handle.
func (a *app) user(t *testing.T, handle string) *fanfare.User {
	t.Helper()
	u, err := a.accounts.ByHandle(context.Background(), handle)
	require.NoError(t, err)
	return u
}

// coins returns the coin balance of handle.
func (a *app) coins(t *testing.T, handle string) fanfare.Amount {
	t.Helper()
	w, err := a.wallet.Wallet(context.Background(), a.user(t, handle).ID)
	require.NoError(t, err)
	return w.Coins
}

// state is what a refused request must leave alone: row counts and every
// balance.
func (a *app) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"users", "sessions", "transfers", "purchases", "idempotency_keys", "audit_log"} {
		var n int
		require.NoError(t, a.db.Read.QueryRow(`SELECT COUNT(*) FROM `+table).Scan(&n))
		fmt.Fprintf(&b, "%s=%d;", table, n)
	}
	rows, err := a.db.Read.Query(`SELECT owner, asset, balance FROM accounts ORDER BY owner, asset`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var owner, asset string
		var balance int64
		require.NoError(t, rows.Scan(&owner, &asset, &balance))
		fmt.Fprintf(&b, "%s/%s=%d;", owner, asset, balance)
	}
	require.NoError(t, rows.Err())
	rows, err = a.db.Read.Query(`SELECT id, status FROM purchases ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var id, status string
		require.NoError(t, rows.Scan(&id, &status))
		fmt.Fprintf(&b, "%s:%s;", id, status)
	}
	require.NoError(t, rows.Err())
	return b.String()
}

// requireVerified checks that the ledger is sound.
func (a *app) requireVerified(t *testing.T) {
	t.Helper()
	r, err := a.ledger.Verify(context.Background(), nil)
	require.NoError(t, err)
	require.True(t, r.OK(), "ledger.Verify: %v", r.Problems)
}

// cookie returns the Set-Cookie of name in p, or nil.
func (p *page) cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// accountInput is a valid sign-up of handle.
func accountInput(handle string) account.CreateInput {
	return account.CreateInput{Handle: handle, Password: password, Region: "FR", BirthDate: "1990-05-17"}
}

// testClock is a clock that tests move.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *testClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

func (c *testClock) advance(d time.Duration) { c.ns.Add(int64(d)) }
