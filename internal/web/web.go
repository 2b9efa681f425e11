package web

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/console"
	"github.com/fanfarehq/fanfare/internal/content"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/httpx"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/profile"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
	"github.com/fanfarehq/fanfare/internal/settings"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/subscription"
	"github.com/fanfarehq/fanfare/internal/tips"
	"github.com/fanfarehq/fanfare/internal/wallet"
	"github.com/fanfarehq/fanfare/internal/webhook"
)

// SessionCookie is the cookie that holds a browser's session token. The
// API reads the same cookie (httpapi.SessionCookie), so a logged-in page's
// script may call the API too.
const SessionCookie = "fanfare_session"

// maxFormBytes bounds a form's body: the largest, sign-up, is far smaller.
const maxFormBytes = 64 << 10

// Options configure a Server. The services, the API, the logger and the
// clock are required (New panics without one); internal/app builds them.
type Options struct {
	Accounts *account.Service
	Wallet   *wallet.Service
	// Live runs the LIVE pages: who is on air, the rooms, the studio and
	// the summaries. Their feeds and gifts go through the API (/v1/lives).
	Live *live.Service
	// Rules are the eligibility rules (the operator's page); Tips sends
	// and lists tips; Profiles assembles creators' profiles and the
	// monetization checklist.
	Rules    *eligibility.Engine
	Tips     *tips.Service
	Profiles *profile.Service
	// Shoutouts runs the Shoutouts pages: the request form, the fan's
	// inbox, the creator's queue and settings, the operator's queue. The
	// video's upload and playback go through the API
	// (/v1/shoutouts/{id}/video).
	Shoutouts *shoutout.Service
	// Subscriptions runs the LIVE Subscription pages: the plan editor and
	// subscriber list, the Subscribe dialog, the fan's subscriptions and
	// the gifted-subscriptions consent in settings. Nil: none of them.
	Subscriptions *subscription.Service
	// Content runs the pages of LIVE Subscription's subscriber content:
	// the creator's emote editor and posts, and a creator's posts feed.
	// Their images and media are served by the API (/v1/emotes/{id}/image,
	// /v1/posts/{id}/media). Nil: none of them.
	Content *content.Service
	// Payouts runs the creator's earnings dashboard and supporter list,
	// and the choice to support anonymously in settings.
	Payouts *payout.Service
	// Audit shows the operators the audit log (/ops/audit). Nil: no
	// such page.
	Audit *audit.Log
	// Settings keeps the operator's stored settings (/ops/config). Nil:
	// no such page.
	Settings *settings.Service
	// Webhooks runs the operator's webhooks page. Nil: no page.
	Webhooks *webhook.Service
	// Console reads the operator console's figures, jobs and audit
	// trails, and Verifier runs verify from it; nil: the console's home,
	// users, payouts, verify and jobs pages are not served.
	Console  *console.Service
	Verifier *console.Verifier
	// Blobs deletes a video the operator rejects. Nil: the blob stays.
	Blobs Blobs
	// API serves the paths of the HTTP API: /v1/, /openapi.json,
	// /healthz, /readyz and /metrics.
	API http.Handler
	// APISpec is the API's OpenAPI document (JSON), which the API
	// reference page (/api) shows. Nil: no reference page.
	APISpec []byte
	Logger  *slog.Logger
	Clock   fanfare.Clock
	// SecureCookies marks cookies Secure: set it when the app is served
	// over HTTPS (behind a TLS-terminating proxy, for one).
	SecureCookies bool
	// CSRFKey signs the forms' anti-forgery tokens. Default: 32 random
	// bytes drawn at start, so a restart asks open forms to be reloaded;
	// nodes behind one load balancer must share a key.
	CSRFKey []byte
	// Guard limits the log-in and sign-up forms, with the same counts as
	// the API's. Nil limits nothing.
	Guard *ratelimit.Guard
	// Demo shows the demo world's logins (sam / fanfare-demo) on the home
	// and login pages.
	Demo bool
	// NoPasswordSignUp closes the sign-up page (403, saying so): the host
	// app creates the users.
	NoPasswordSignUp bool
}

// Server serves the web app's pages and static files and hands the API's
// paths to the API. It is an http.Handler.
type Server struct {
	accounts *account.Service
	wallet   *wallet.Service
	rules    *eligibility.Engine
	tips     *tips.Service
	profiles *profile.Service
	live     *live.Service
	// shoutouts and blobs: see Options.
	shoutouts *shoutout.Service
	subs      *subscription.Service
	content   *content.Service
	payouts   *payout.Service
	audit     *audit.Log
	settings  *settings.Service
	webhooks  *webhook.Service
	console   *console.Service
	verifier  *console.Verifier
	blobs     Blobs
	api       http.Handler
	log       *slog.Logger
	clock     fanfare.Clock
	secure    bool
	csrfKey   []byte
	guard     *ratelimit.Guard
	demo      bool
	noSignUp  bool
	apiDoc    *apiDoc // nil without a document

	pages   *templates
	handler http.Handler // the pages, behind their middleware
}

// New returns a Server with every page registered. It panics when a
// required option is missing.
func New(opts Options) *Server {
	for _, o := range []struct {
		name    string
		missing bool
	}{
		{"Accounts", opts.Accounts == nil}, {"Wallet", opts.Wallet == nil}, {"Live", opts.Live == nil},
		{"Rules", opts.Rules == nil}, {"Tips", opts.Tips == nil}, {"Profiles", opts.Profiles == nil}, {"Shoutouts", opts.Shoutouts == nil}, {"Payouts", opts.Payouts == nil},
		{"API", opts.API == nil}, {"Logger", opts.Logger == nil}, {"Clock", opts.Clock == nil},
	} {
		if o.missing {
			panic("web: New needs Options." + o.name)
		}
	}
	s := &Server{
		accounts:  opts.Accounts,
		wallet:    opts.Wallet,
		live:      opts.Live,
		rules:     opts.Rules,
		tips:      opts.Tips,
		profiles:  opts.Profiles,
		shoutouts: opts.Shoutouts,
		subs:      opts.Subscriptions,
		content:   opts.Content,
		payouts:   opts.Payouts,
		audit:     opts.Audit,
		settings:  opts.Settings,
		webhooks:  opts.Webhooks,
		console:   opts.Console,
		verifier:  opts.Verifier,
		blobs:     opts.Blobs,
		api:       opts.API,
		log:       opts.Logger,
		clock:     opts.Clock,
		secure:    opts.SecureCookies,
		csrfKey:   opts.CSRFKey,
		guard:     opts.Guard,
		demo:      opts.Demo,
		noSignUp:  opts.NoPasswordSignUp,
		pages:     parseTemplates(),
	}
	if opts.APISpec != nil {
		d, err := parseAPIDoc(opts.APISpec)
		if err != nil {
			panic("web: " + err.Error())
		}
		s.apiDoc = d
	}
	if len(s.csrfKey) == 0 {
		s.csrfKey = make([]byte, 32)
		rand.Read(s.csrfKey)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.anonymousForm(s.login))
	mux.HandleFunc("GET /signup", s.signupPage)
	mux.HandleFunc("POST /signup", s.anonymousForm(s.signup))
	mux.HandleFunc("POST /logout", s.userForm(s.logout))
	mux.HandleFunc("GET /wallet", s.userPage(s.walletPage))
	mux.HandleFunc("POST /wallet/buy", s.userForm(s.buy))
	mux.HandleFunc("POST /wallet/refund", s.userForm(s.refund))
	mux.HandleFunc("GET /settings", s.userPage(s.settingsPage))
	mux.HandleFunc("POST /settings/spend-limit", s.userForm(s.setSpendLimit))
	mux.HandleFunc("POST /settings/anonymous-support", s.userForm(s.setAnonymousSupport))
	mux.HandleFunc("GET /live", s.liveNow)
	mux.HandleFunc("GET /live/{id}", s.livePage)
	mux.HandleFunc("GET /live/{id}/summary", s.summaryPage)
	mux.HandleFunc("GET /studio", s.userPage(s.studioPage))
	mux.HandleFunc("POST /studio/start", s.userForm(s.goLive))
	mux.HandleFunc("POST /studio/end", s.userForm(s.endLive))
	mux.HandleFunc("POST /studio/chat-mode", s.userForm(s.setChatMode))
	mux.HandleFunc("GET /studio/monetization", s.userPage(s.monetizationPage))
	mux.HandleFunc("POST /studio/monetization/tips", s.userForm(s.setTips))
	mux.HandleFunc("GET /studio/earnings", s.userPage(s.earningsPage))
	mux.HandleFunc("POST /studio/earnings/payouts", s.userForm(s.withdraw))
	mux.HandleFunc("POST /studio/earnings/onboarding", s.userForm(s.onboard))
	mux.HandleFunc("GET /studio/supporters", s.userPage(s.supportersPage))
	mux.HandleFunc("GET /studio/supporters.csv", s.userPage(s.supportersCSV))
	mux.HandleFunc("GET /creators", s.creatorsPage)
	mux.HandleFunc("GET /leaderboard", s.leaderboardPage)
	mux.HandleFunc("GET /api", s.apiPage)
	// /docs is where many APIs keep their reference: send readers to ours.
	mux.Handle("GET /docs", http.RedirectHandler("/api", http.StatusMovedPermanently))
	mux.HandleFunc("GET /creators/{handle}", s.creatorPage)
	mux.HandleFunc("POST /creators/{handle}/tip", s.userForm(s.sendTip))
	mux.HandleFunc("GET /creators/{handle}/shoutout", s.userPage(s.requestPage))
	mux.HandleFunc("POST /creators/{handle}/shoutout", s.userForm(s.sendRequest))
	mux.HandleFunc("POST /studio/monetization/shoutouts", s.userForm(s.setShoutouts))
	mux.HandleFunc("GET /shoutouts", s.userPage(s.inboxPage))
	mux.HandleFunc("GET /shoutouts/{id}", s.userPage(s.detailPage))
	mux.HandleFunc("POST /shoutouts/{id}/{action}", s.userForm(s.fanAction))
	mux.HandleFunc("GET /studio/shoutouts", s.userPage(s.queuePage))
	mux.HandleFunc("POST /studio/shoutouts/{id}/{action}", s.userForm(s.creatorAction))
	if s.subs != nil {
		mux.HandleFunc("POST /studio/monetization/subscription", s.userForm(s.setPlan))
		mux.HandleFunc("GET /studio/subscribers", s.userPage(s.subscribersPage))
		mux.HandleFunc("GET /creators/{handle}/subscribe", s.userPage(s.subscribePage))
		mux.HandleFunc("POST /creators/{handle}/subscribe", s.userForm(s.subscribe))
		mux.HandleFunc("GET /subscriptions", s.userPage(s.subscriptionsPage))
		mux.HandleFunc("POST /subscriptions/{id}/{action}", s.userForm(s.subscriptionAction))
		mux.HandleFunc("POST /settings/preferences", s.userForm(s.setPreferences))
	}
	if s.content != nil {
		mux.HandleFunc("GET /studio/emotes", s.userPage(s.emotesPage))
		mux.HandleFunc("POST /studio/emotes", s.userUpload("image", content.MaxEmoteBytes, s.addEmote))
		mux.HandleFunc("POST /studio/emotes/{id}/delete", s.userForm(s.deleteEmote))
		mux.HandleFunc("GET /studio/posts", s.userPage(s.studioPostsPage))
		mux.HandleFunc("POST /studio/posts", s.userUpload("media", s.content.Options().MaxMedia, s.createPost))
		mux.HandleFunc("POST /studio/posts/{id}/delete", s.userForm(s.deletePost))
		mux.HandleFunc("GET /creators/{handle}/posts", s.postsPage)
	}
	mux.HandleFunc("GET /ops/shoutouts", s.userPage(s.operator(s.opsShoutoutsPage)))
	mux.HandleFunc("POST /ops/shoutouts/{id}/{action}", s.userForm(s.operator(s.opsShoutoutAction)))
	mux.HandleFunc("GET /ops/eligibility", s.userPage(s.operator(s.eligibilityPage)))
	mux.HandleFunc("POST /ops/eligibility/{feature}", s.userForm(s.operator(s.saveRule)))
	if s.settings != nil {
		mux.HandleFunc("GET /ops/config", s.userPage(s.operator(s.configPage)))
		mux.HandleFunc("POST /ops/config/{group}", s.userForm(s.operator(s.saveConfig)))
	}
	mux.HandleFunc("GET /ops/wallets", s.userPage(s.operator(s.walletsPage)))
	mux.HandleFunc("POST /ops/wallets/{handle}/{action}", s.userForm(s.operator(s.freezeWallet)))
	if s.audit != nil {
		mux.HandleFunc("GET /ops/audit", s.userPage(s.operator(s.auditPage)))
	}
	if s.webhooks != nil {
		mux.HandleFunc("GET /ops/webhooks", s.userPage(s.operator(s.webhooksPage)))
		mux.HandleFunc("POST /ops/webhooks", s.userForm(s.operator(s.addWebhook)))
		mux.HandleFunc("POST /ops/webhooks/{id}/{action}", s.userForm(s.operator(s.webhookAction)))
	}
	if s.console != nil && s.verifier != nil {
		mux.HandleFunc("GET /ops", s.userPage(s.operator(s.consoleHome)))
		mux.HandleFunc("GET /ops/users", s.userPage(s.operator(s.usersPage)))
		mux.HandleFunc("GET /ops/users/{handle}", s.userPage(s.operator(s.opsUserPage)))
		mux.HandleFunc("POST /ops/users/{handle}/standing", s.userForm(s.operator(s.setStanding)))
		mux.HandleFunc("POST /ops/users/{handle}/grant", s.userForm(s.operator(s.grantCoins)))
		mux.HandleFunc("POST /ops/users/{handle}/payout-hold", s.userForm(s.operator(s.setPayoutHold)))
		mux.HandleFunc("GET /ops/payouts", s.userPage(s.operator(s.payoutsPage)))
		mux.HandleFunc("POST /ops/payouts/hold", s.userForm(s.operator(s.holdByHandle)))
		mux.HandleFunc("GET /ops/verify", s.userPage(s.operator(s.verifyPage)))
		mux.HandleFunc("POST /ops/verify", s.userForm(s.operator(s.startVerify)))
		mux.HandleFunc("GET /ops/verify/status", s.userPage(s.operator(s.verifyStatus)))
		mux.HandleFunc("GET /ops/jobs", s.userPage(s.operator(s.jobsPage)))
		mux.HandleFunc("POST /ops/jobs/{id}/{action}", s.userForm(s.operator(s.jobAction)))
	}
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("GET /favicon.ico", favicon)
	mux.HandleFunc("/", s.notFound)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.forbidden(w, r, "This request came from another site, so it was refused. Nothing was changed.")
	}))
	s.handler = cop.Handler(mux)
	return s
}

// isAPIPath reports whether path belongs to the HTTP API rather than to
// the pages.
func isAPIPath(path string) bool {
	switch path {
	case "/v1", "/openapi.json", "/healthz", "/readyz", "/metrics":
		return true
	}
	return strings.HasPrefix(path, "/v1/")
}

// contentSecurityPolicy is the pages' policy: everything from this site
// only. The LIVE pages open their feed's WebSocket on this host, which
// connect-src names as well, since not every browser counts ws: and wss:
// as 'self'.
func contentSecurityPolicy(host string) string {
	connect := "connect-src 'self'"
	if validHost(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return "default-src 'self'; " + connect + "; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// validHost reports whether host is a plain host[:port] that can go into a
// header's source list as it is.
func validHost(host string) bool {
	if host == "" || len(host) > 255 {
		return false
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return false
		}
	}
	return true
}

// ServeHTTP hands the API's paths to the API and serves the pages, with
// their security headers, panic recovery and access log.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isAPIPath(r.URL.Path) {
		s.api.ServeHTTP(w, r)
		return
	}
	sw := fanfare.StartStopwatch()
	rec := httpx.NewRecorder(w)
	h := rec.Header()
	// Each page request has an id, as the API's have: the answer says it
	// and the audit log records it with what an operator's form changed.
	reqID := newRequestID()
	h.Set("X-Request-Id", reqID)
	r = r.WithContext(fanfare.NewContextWithRequestID(r.Context(), reqID))
	h.Set("Content-Security-Policy", contentSecurityPolicy(r.Host))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic", "panic", v, "stack", string(debug.Stack()))
			if !rec.Wrote() {
				s.errorPage(rec, r, http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side. Please try again.")
			}
		}
		level := slog.LevelInfo
		if rec.Status() >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "web request",
			slog.String("request_id", reqID),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.Status()),
			slog.Duration("duration", sw.Elapsed()),
		)
	}()
	if !addressText(r) {
		s.errorPage(rec, r, http.StatusBadRequest, "Bad address",
			"This address holds characters that are not text (control characters or invalid UTF-8), so it was refused. Nothing was changed. Check the link.")
		return
	}
	if r.Method == http.MethodPost && !(s.content != nil && uploadPaths[r.URL.Path]) {
		// The upload forms bound their own bodies (userUpload).
		r.Body = http.MaxBytesReader(rec, r.Body, maxFormBytes)
	}
	s.handler.ServeHTTP(rec, r)
}

// newRequestID returns a new request id, like the API's.
func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
