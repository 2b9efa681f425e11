package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/blob"
	"github.com/fanfarehq/fanfare/internal/content"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/httpx"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/profile"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/settings"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/subscription"
	"github.com/fanfarehq/fanfare/internal/tips"
	"github.com/fanfarehq/fanfare/internal/wallet"
	"github.com/fanfarehq/fanfare/internal/webhook"
)

// DefaultMaxBodyBytes is the largest request body accepted unless Options
// says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Options configure a Server. The services, the clock, the logger and the
// metrics are required (New panics without one); internal/app builds them.
type Options struct {
	Accounts *account.Service
	Wallet   *wallet.Service
	Live     *live.Service
	// Rules are the eligibility rules (profiles, checklists, the
	// operator's edits); Tips sends and lists tips; Profiles assembles
	// creators' profiles and checklists.
	Rules    *eligibility.Engine
	Tips     *tips.Service
	Profiles *profile.Service
	// Shoutouts runs the paid personalized videos; Blobs stores their
	// videos.
	Shoutouts *shoutout.Service
	Blobs     *blob.Store
	MaxVideo  int64 // bytes; a larger upload is refused (413)
	// Subscriptions runs LIVE Subscription.
	Subscriptions *subscription.Service
	// Payouts answers creators' earnings. Nil: no earnings routes.
	Payouts *payout.Service
	// Webhooks keeps the host app's webhook endpoints and their delivery
	// log. Nil: no webhook routes.
	Webhooks *webhook.Service
	// Content runs the subscriber content: exclusive emotes and
	// subscriber-only posts (its files are in Blobs too).
	Content *content.Service
	// Settings keeps the operator's stored settings (GET and PUT
	// /v1/admin/config). Nil: no such routes.
	Settings *settings.Service
	// Hub fans LIVE events out to this node's room feeds.
	Hub *room.Hub
	DB  *store.DB // readiness: ping and pending migrations
	// Clock gives "this week" to the weekly leaderboards.
	Clock fanfare.Clock
	// APIKey is the bootstrap operator key (Authorization: Bearer <key>),
	// recorded as apikey:operator; stored keys are the account service's.
	// Empty disables it.
	APIKey string
	// HostTokens, when set, verifies the host app's JWTs sent as bearer
	// tokens; their subject is the user's external id.
	HostTokens HostTokens
	// NoPasswordSignUp switches off POST /v1/users (403 forbidden): the
	// host app creates the users.
	NoPasswordSignUp bool
	Logger           *slog.Logger
	// Registry is where /metrics gathers from.
	Registry *prometheus.Registry
	// Metrics are the server's collectors. Build them with NewMetrics on
	// Registry before opening the ledger, so the ledger's committer can
	// report to them too (ledger.Options.Observer).
	Metrics      *Metrics
	Version      string // reported in the OpenAPI document
	MaxBodyBytes int64  // default DefaultMaxBodyBytes
	// Guard limits log-ins and sign-ups (POST /v1/auth/login, POST
	// /v1/users). Nil limits nothing.
	Guard *ratelimit.Guard
	// MetricsToken, when set, serves /metrics on this handler to
	// requests bearing it (Authorization: Bearer <token>). Empty: /metrics
	// is not found here; serve MetricsHandler on a listener of its own.
	MetricsToken string
	// CORSOrigins are the web origins (https://app.example.com, see
	// ParseOrigins) whose pages may call the /v1/ API from a browser with
	// a token in Authorization: their preflights are answered and the
	// answers name them (see cors.go). None by default. New panics on one
	// that ParseOrigins refuses.
	CORSOrigins []string
	// WarmingUp, when set, says why the server is not ready yet: /readyz
	// answers 503 unavailable with it until Ready is called. Empty: ready
	// as soon as the database is.
	WarmingUp string
	// Broker, on a node among several, says whether the rooms' events
	// reach the other nodes (nil when connected): /readyz reports it.
	// Nil: one node.
	Broker interface{ Status() error }
}

// HostTokens verifies a host app's JWT (internal/hostjwt).
type HostTokens interface {
	// Subject returns the verified token's subject.
	//
	// Codes: unauthorized.
	Subject(ctx context.Context, token string) (string, error)
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	accounts  *account.Service
	wallet    *wallet.Service
	rules     *eligibility.Engine
	tips      *tips.Service
	profiles  *profile.Service
	shoutouts *shoutout.Service
	subs      *subscription.Service
	payouts   *payout.Service
	settings  *settings.Service
	webhooks  *webhook.Service
	content   *content.Service
	blobs     *blob.Store
	maxVideo  int64
	live      *live.Service
	hub       *room.Hub
	db        *store.DB
	clock     fanfare.Clock
	log       *slog.Logger
	registry  *prometheus.Registry
	metrics   *Metrics
	maxBody   int64
	apiKey    [sha256.Size]byte
	hasAPIKey bool
	// hostTokens verifies host JWTs (nil: none accepted); noSignUp
	// switches off password sign-up.
	hostTokens HostTokens
	noSignUp   bool
	cop        *http.CrossOriginProtection
	guard      *ratelimit.Guard
	cors       *cors // nil: no cross-origin calls

	// warmingUp is why the server is not ready yet (Options.WarmingUp),
	// until warm is set.
	warmingUp string
	warm      atomic.Bool
	broker    interface{ Status() error }
	// draining is set once the node is going (Drain): /readyz answers
	// 503 from then on.
	draining atomic.Bool
	// feeds counts the room feeds running (WaitFeeds).
	feeds sync.WaitGroup

	metricsToken    [sha256.Size]byte
	hasMetricsToken bool

	mux  *routeMux
	api  huma.API
	spec []byte // the OpenAPI document, built once
	// contract is what each route declares it answers, and breach is told
	// of answers that break it (see contract.go).
	contract contract
	breach   func(op, what string)
}

// New returns a Server with every route registered. It panics when a
// required option is missing.
func New(opts Options) *Server {
	for _, o := range []struct {
		name    string
		missing bool
	}{
		{"Accounts", opts.Accounts == nil}, {"Wallet", opts.Wallet == nil}, {"Live", opts.Live == nil},
		{"Rules", opts.Rules == nil}, {"Tips", opts.Tips == nil}, {"Profiles", opts.Profiles == nil},
		{"Hub", opts.Hub == nil}, {"DB", opts.DB == nil}, {"Clock", opts.Clock == nil},
		{"Logger", opts.Logger == nil}, {"Registry", opts.Registry == nil}, {"Metrics", opts.Metrics == nil},
	} {
		if o.missing {
			panic("httpapi: New needs Options." + o.name)
		}
	}
	return newServer(opts)
}

// newServer is New without the check of the options, for white-box tests
// that exercise the middleware alone.
func newServer(opts Options) *Server {
	s := &Server{
		accounts:  opts.Accounts,
		wallet:    opts.Wallet,
		live:      opts.Live,
		rules:     opts.Rules,
		tips:      opts.Tips,
		shoutouts: opts.Shoutouts,
		subs:      opts.Subscriptions,
		payouts:   opts.Payouts,
		settings:  opts.Settings,
		webhooks:  opts.Webhooks,
		content:   opts.Content,
		blobs:     opts.Blobs,
		maxVideo:  opts.MaxVideo,
		profiles:  opts.Profiles,
		hub:       opts.Hub,
		db:        opts.DB,
		clock:     opts.Clock,
		log:       opts.Logger,
		registry:  opts.Registry,
		metrics:   opts.Metrics,
		maxBody:   opts.MaxBodyBytes,
		cop:       http.NewCrossOriginProtection(),
		guard:     opts.Guard,
		mux:       newRouteMux(),

		hostTokens: opts.HostTokens,
		noSignUp:   opts.NoPasswordSignUp,
		breach:     onBreach,

		warmingUp: opts.WarmingUp,
		broker:    opts.Broker,
	}
	s.warm.Store(opts.WarmingUp == "")
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if opts.APIKey != "" {
		s.apiKey, s.hasAPIKey = sha256.Sum256([]byte(opts.APIKey)), true
	}
	if opts.MetricsToken != "" {
		s.metricsToken, s.hasMetricsToken = sha256.Sum256([]byte(opts.MetricsToken)), true
	}
	s.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, newProblem(http.StatusForbidden, fanfare.EForbidden, "cross-origin request refused"))
	}))

	version := opts.Version
	if version == "" {
		version = "dev"
	}
	cfg := huma.Config{
		OpenAPI: &huma.OpenAPI{
			OpenAPI: "3.1.0",
			Info: &huma.Info{
				Title:       "Fanfare API",
				Version:     version,
				Description: "Creator monetization: coins, LIVE gifts and tips on one double-entry ledger.",
			},
			// Public by default: an operation that needs credentials says
			// which (see access.security).
			Security: []map[string][]string{{}},
			Servers: []*huma.Server{{
				URL: "/",
				Description: "The host that serves this document. A client generated from it takes the server's base URL " +
					"(e.g. https://fanfare.example.com); every path is absolute from there.",
			}},
			Components: &huma.Components{
				Schemas:         huma.NewMapRegistry("#/components/schemas/", schemaName),
				SecuritySchemes: securitySchemes(),
			},
		},
		Formats: map[string]huma.Format{
			"application/json":             huma.DefaultJSONFormat,
			"application/merge-patch+json": huma.DefaultJSONFormat,
			"json":                         huma.DefaultJSONFormat,
		},
		DefaultFormat: "application/json",
	}
	s.api = humago.New(s.mux, cfg)
	s.api.UseMiddleware(s.authenticate, s.checkBody)

	s.registerHealth()
	s.registerAccount()
	s.registerIdentity()
	s.registerWallet()
	s.registerFreeze()
	s.registerConfig()
	s.registerPacks()
	s.registerPurchases()
	s.registerWebhooks()
	s.registerHistory()
	s.registerLive()
	s.registerTips()
	s.registerShoutouts()
	s.registerSubscriptions()
	s.registerGiftedSubscriptions()
	s.registerContent()
	s.registerEarnings()
	s.registerPayouts()
	s.registerWebhookEndpoints()
	s.registerSupporters()
	s.registerPreferences()
	s.registerAudit()
	s.finishSpec()
	s.cors = newCORS(opts.CORSOrigins, apiMethods(s.contract))
	return s
}

// ServeHTTP runs the request through the server's middleware (request id,
// access log, metrics, panic recovery, CORS, body limit) and its routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := fanfare.StartStopwatch()
	st := &requestState{id: requestID(r), conn: w, base: requestBase(r)}
	st.log = s.log.With(slog.String("request_id", st.id))
	// The request id goes with the context, for the audit log.
	ctx := fanfare.NewContextWithRequestID(context.WithValue(r.Context(), stateKey{}, st), st.id)
	r = r.WithContext(ctx)
	rec := httpx.NewRecorder(w)
	rec.Header().Set("X-Request-Id", st.id)
	sniff := &problemSniffer{ResponseWriter: rec}

	// The route pattern labels logs and metrics. Every route is registered
	// with its method; a pattern without one is a path the router redirects
	// a CONNECT request to, as varied as the paths clients send. A redirect
	// to a cleaned path that matches nothing is a miss (404).
	h, pattern := s.mux.Handler(r)
	route := pattern
	underCORS := s.cors.applies(r)
	preflight := underCORS && isPreflight(r)
	switch {
	case preflight:
		route = "preflight"
	case pattern == "":
		route = "unmatched"
	case !strings.Contains(pattern, " "):
		route = "redirect"
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			st.log.LogAttrs(ctx, slog.LevelError, "panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			if !rec.Wrote() {
				writeProblem(rec, newProblem(http.StatusInternalServerError, fanfare.EInternal, "internal error"))
			} else {
				rec.SetStatus(http.StatusInternalServerError)
			}
		}
		d := sw.Elapsed()
		status := rec.Status()
		if status >= 400 {
			s.checkProblem(ctx, pattern, status, sniff.code())
		}
		s.metrics.observeRequest(route, status, d)
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		st.log.LogAttrs(ctx, level, "http request",
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Duration("duration", d),
			slog.String("actor", st.actor),
		)
	}()

	if underCORS {
		s.cors.annotate(rec.Header(), r)
	}
	if preflight {
		s.cors.preflight(sniff, r)
		return
	}
	if pattern == "" {
		s.miss(rec, r, h)
		return
	}
	if !streamed[pattern] && r.ContentLength > s.maxBody {
		writeProblem(sniff, newProblem(http.StatusRequestEntityTooLarge, fanfare.ETooLarge,
			fmt.Sprintf("the request body is larger than %d bytes", s.maxBody)))
		return
	}
	if r.Body != nil && r.Body != http.NoBody && !streamed[pattern] {
		// An upload's size is its route's own limit (see streamed). One byte over the limit lets huma tell "too large" from "exactly
		// the limit".
		r.Body = http.MaxBytesReader(sniff, r.Body, s.maxBody+1)
	}
	s.mux.ServeHTTP(sniff, r)
}

// streamed are the routes whose bodies are uploads streamed to the blob
// store: each applies its own limit (a video's s.maxVideo, an emote's
// content.MaxEmoteBytes, a post's media limit and, for a post in JSON,
// s.maxBody) rather than the API's body limit.
var streamed = map[string]bool{
	"PUT /v1/shoutouts/{id}/video": true,
	"POST /v1/me/emotes":           true,
	"POST /v1/me/posts":            true,
}

// miss answers a request that matches no route: 405 when the path exists
// with other methods, 404 otherwise.
func (s *Server) miss(w http.ResponseWriter, r *http.Request, h http.Handler) {
	p := &probe{header: http.Header{}}
	h.ServeHTTP(p, r)
	if p.status == http.StatusMethodNotAllowed {
		if allow := p.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeProblem(w, newProblem(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			fmt.Sprintf("method %s is not allowed here", r.Method)))
		return
	}
	writeProblem(w, newProblem(http.StatusNotFound, fanfare.ENotFound, "no such route"))
}

// probe records what the router would answer without writing it.
type probe struct {
	header http.Header
	status int
}

// Header returns the headers the router set.
func (p *probe) Header() http.Header { return p.header }

// Write discards the router's plain-text body.
func (p *probe) Write(b []byte) (int, error) { return len(b), nil }

// WriteHeader records the router's status.
func (p *probe) WriteHeader(status int) { p.status = status }

// requestState is what the middleware learns about a request as it runs.
type requestState struct {
	id    string
	log   *slog.Logger
	actor string // fanfare.Actor.ID(), once authenticated
	// conn is the connection's own writer, whose read deadline the
	// handler lifts once the body is read (see register).
	conn http.ResponseWriter
	// base is the request's own base URL (scheme and host), where links
	// back to the web app go when no public URL is configured.
	base string
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	if ctx == nil {
		return nil
	}
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// detached returns a context for work that outlives the request of ctx
// (a room feed): the request's id and logger, without its cancellation
// and without the request itself, which it would keep in memory.
func detached(ctx context.Context) context.Context {
	out := context.Background()
	if st := stateFrom(ctx); st != nil {
		out = context.WithValue(out, stateKey{}, &requestState{id: st.id, log: st.log, actor: st.actor, base: st.base})
		out = fanfare.NewContextWithRequestID(out, st.id)
	}
	return out
}

// loggerFrom returns the request's logger, which carries its id.
func loggerFrom(ctx context.Context) *slog.Logger {
	if st := stateFrom(ctx); st != nil {
		return st.log
	}
	return slog.Default()
}

// requestID returns the client's X-Request-Id if it is reasonable, or a new
// one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 && strings.IndexFunc(id, func(c rune) bool {
		return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.')
	}) < 0 {
		return id
	}
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// access says who may call an operation.
type access int

const (
	public   access = iota
	user            // a logged-in user (session token or cookie)
	operator        // the API key, or a logged-in user with role operator
	apiKey          // the API key only
	optional        // anyone; a logged-in user is known (answers for them)
	party           // a logged-in user or the API key: the parties to an object and the operator
)

const accessKey = "fanfare.access"

// scopeKey is the metadata of an operator route a host key may call: the
// scope it needs (see scoped).
const scopeKey = "fanfare.scope"

// scoped is the metadata that lets host keys holding scope call an
// operator route.
func scoped(scope string) map[string]any { return map[string]any{scopeKey: scope} }

// register adds an operation with the server's defaults: who may call it
// (documented as its security requirement), the body size limit, the
// errors it documents, and the input rules (see decode.go): its input's
// text is checked before h runs.
func register[I, O any](s *Server, a access, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	md := map[string]any{accessKey: a}
	for k, v := range op.Metadata {
		md[k] = v
	}
	op.Metadata = md
	if _, raw := reflect.TypeFor[I]().FieldByName("RawBody"); raw {
		op.Metadata[rawBodyKey] = true
	}
	scope, _ := op.Metadata[scopeKey].(string)
	op.Security = a.security(scope)
	switch {
	case a == operator && scope != "":
		op.Description = strings.TrimSpace(op.Description + "\n\nOperators, and host app keys with the scope `" + scope + "`.")
	case a == operator || a == apiKey:
		op.Description = strings.TrimSpace(op.Description + "\n\nOperators only: host app keys are refused.")
	}
	op.MaxBodyBytes = s.maxBody + 1
	switch a {
	case user, operator, apiKey:
		op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
	case optional:
		op.Errors = append(op.Errors, http.StatusUnauthorized)
	}
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		// huma bounds the body's read with a deadline on the connection
		// (BodyReadTimeout) and leaves it there. Once the body is read it
		// must go: when it passes while the handler still works (a
		// password waiting for its hash under load), the server's
		// background read fails and cancels the request's context, and a
		// sign-up that was going to succeed answers 500.
		if st := stateFrom(ctx); st != nil && st.conn != nil {
			_ = http.NewResponseController(st.conn).SetReadDeadline(time.Time{})
		}
		if errs := checkInputText(in); len(errs) > 0 {
			return nil, humaError(ctx, http.StatusBadRequest, "validation failed", errs...)
		}
		out, err := h(ctx, in)
		if body := outputBody(out); body.IsValid() {
			emptySlices(body)
			// The deeper walk, for what emptySlices may not mend, is the
			// tests' (see breach).
			if s.breach != nil {
				if p := nilSlicePath(body, "body", 0); p != "" {
					s.reportBreach(ctx, op.OperationID, "null array at "+p)
				}
			}
		}
		return out, err
	})
}

// liveEventsDoc describes the room feed (internal/room's events), which the
// document cannot type: it is a WebSocket.
const liveEventsDoc = "Upgrades to a WebSocket. Anyone may watch; a session token or cookie identifies the viewer, who may then chat.\n\n" +
	"**Server frames** (text, JSON objects):\n\n" +
	"- First the room's state: `{\"type\":\"state\", \"seq\", \"viewers\", \"leaderboard\": [gifter], \"recent\": [event], \"ended\", \"subscribers_only\"}`; " +
	"`recent` holds the room's latest `gift`, `tip`, `chat` and `gifted_subscriptions` events, each with its `at`; " +
	"`subscribers_only` is the chat mode.\n" +
	"- Then at most one frame per tick while something happens: `{\"seq\", \"at\", \"events\": [event]}`, with events:\n" +
	"  - `{\"type\":\"gift\", \"gifter\", \"gifter_name\", \"gift_id\", \"count\", \"combo\"}`: `count` gifts sent since the last frame, " +
	"`combo` the streak's total so far; the gift's name, tier and coins are in GET /v1/gifts, its time is the frame's `at`;\n" +
	"  - `{\"type\":\"tip\", \"at\", \"tipper\", \"tipper_name\", \"coins\", \"message\"}`;\n" +
	"  - `{\"type\":\"chat\", \"at\", \"author\", \"author_name\", \"text\", \"badges\", \"subscriber\", \"emotes\"}`: " +
	"`badges` (absent when none) holds `creator` or `subscriber`; `subscriber` (an active subscriber's only) is " +
	"`{\"badge\", \"months\"}`, `badge` being the tenure step reached (1, 3, 6, 12 or 24 months) and `months` the months paid in all; " +
	"`emotes` (absent when none) lists the creator's exclusive emotes the text uses, `[{\"name\", \"url\"}]`, each once: " +
	"`:name:` in `text` shows the picture at `url`. Only a subscriber's (and the creator's) message has emotes; anyone else's `:name:` is plain text;\n" +
	"  - `{\"type\":\"chat_mode\", \"subscribers_only\"}`: the creator switched subscriber-only chat on or off;\n" +
	"  - `{\"type\":\"gifted_subscriptions\", \"at\", \"gifter_id\", \"gifter\", \"gifter_name\", \"count\", \"tier_name\", \"recipients\"}`: " +
	"a viewer gifted `count` subscriptions of the tier named `tier_name` to the viewers whose handles `recipients` lists;\n" +
	"  - `{\"type\":\"viewers\", \"count\"}`;\n" +
	"  - `{\"type\":\"leaderboard\", \"top\": [gifter]}`, a gifter being `{\"handle\", \"display_name\", \"coins\"}`;\n" +
	"  - `{\"type\":\"live_ended\", \"at\"}`, after which the server closes the socket (1000).\n" +
	"- `{\"type\":\"error\", \"code\", \"detail\"}`, on this socket only, refuses a chat frame with a problem code, as POST /v1/lives/{id}/chat would " +
	"(`unauthorized`, `validation_failed`, `forbidden`, `invalid_state`, `rate_limited`, `subscribers_only`).\n\n" +
	"**Client frames**: `{\"type\":\"chat\", \"text\"}` posts a chat message; other types are ignored. " +
	"A frame that is not a JSON object with a type closes the socket with 1008, one over 4 KiB with 1009; " +
	"a viewer too slow to keep up is closed with 1008. A server that drains on its way down (SIGTERM) closes every feed with 1012 " +
	"(Service Restart): reconnect at once, after a short random delay, and the load balancer's next node sends the room's state; " +
	"one that stops without draining closes them with 1001, and one that is shutting down refuses a new feed with 1013."

// Spec returns the OpenAPI document the server serves at /openapi.json.
// The caller must not change it.
func (s *Server) Spec() []byte { return s.spec }

// finishSpec settles the OpenAPI document: validation failures are
// documented as 400 (see Status), every body may be refused as too large,
// the Idempotency-Key header is marked
// required (the handler enforces it, to answer with its own code), and the
// routes served outside huma are described. Then it is encoded once.
func (s *Server) finishSpec() {
	oapi := s.api.OpenAPI()
	oapi.AddOperation(&huma.Operation{
		OperationID: "metrics",
		Method:      http.MethodGet,
		Path:        "/metrics",
		Summary:     "Prometheus metrics",
		Description: "Served without authentication on the metrics listener (FANFARE_METRICS_ADDR, loopback by default). " +
			"On the main listener only when FANFARE_METRICS_TOKEN is set, to requests bearing it; otherwise 404.",
		Tags:     []string{"operations"},
		Security: []map[string][]string{{schemeMetrics: {}}},
		Responses: map[string]*huma.Response{
			"200": {Description: "Metrics in the Prometheus text format", Content: map[string]*huma.MediaType{
				"text/plain": {Schema: &huma.Schema{Type: huma.TypeString}},
			}},
			"401": {Description: "The metrics token is missing or wrong", Content: map[string]*huma.MediaType{
				"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}},
			}},
			"404": {Description: "No metrics token is configured: metrics are served on the metrics listener only", Content: map[string]*huma.MediaType{
				"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}},
			}},
		},
	})
	oapi.AddOperation(&huma.Operation{
		OperationID: "openapi",
		Method:      http.MethodGet,
		Path:        "/openapi.json",
		Summary:     "This OpenAPI 3.1 document",
		Tags:        []string{"operations"},
		Responses: map[string]*huma.Response{
			"200": {Description: "The OpenAPI document", Content: map[string]*huma.MediaType{
				"application/openapi+json": {Schema: &huma.Schema{Type: huma.TypeObject}},
			}},
		},
	})
	idParam := []*huma.Param{{Name: "id", In: "path", Required: true, Description: "The request's id", Schema: &huma.Schema{Type: huma.TypeString}}}
	oapi.AddOperation(&huma.Operation{
		OperationID: "uploadShoutoutVideo",
		Method:      http.MethodPut,
		Path:        "/v1/shoutouts/{id}/video",
		Summary:     "The creator delivers the video of an accepted request",
		Description: "The body is the video itself (MP4, QuickTime or WebM, decided from its content, never from a name or header), streamed to storage up to FANFARE_SHOUTOUT_MAX_VIDEO (200 MB by default). " +
			"Only while the request is `accepted` and before `deliver_by`. The request becomes `delivered` (or `in_review` with operator review on) only once the video is stored whole; " +
			"a refused or cut-short upload keeps nothing and changes nothing. Delivery pays the creator their share in diamonds.",
		Tags:       []string{"shoutouts"},
		Parameters: idParam,
		Security:   []map[string][]string{{schemeSession: {}}, {schemeCookie: {}}},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"video/mp4":       {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}},
			"video/webm":      {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}},
			"video/quicktime": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}},
		}},
		Responses: map[string]*huma.Response{
			"200": {Description: "The request, delivered", Content: map[string]*huma.MediaType{
				"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/Shoutout"}},
			}},
		},
	})
	oapi.AddOperation(&huma.Operation{
		OperationID: "shoutoutVideo",
		Method:      http.MethodGet,
		Path:        "/v1/shoutouts/{id}/video",
		Summary:     "Watch or download a shoutout video",
		Description: "To the request's fan (once delivered to them), its creator and the operator; to anyone when the fan made it public. " +
			"HTTP Range requests are answered 206 (416 outside the file), with ETag and Last-Modified; `?download=1` answers it as a file to save.",
		Tags: []string{"shoutouts"},
		Parameters: append(idParam, &huma.Param{Name: "download", In: "query", Description: "1: Content-Disposition attachment",
			Schema: &huma.Schema{Type: huma.TypeString, Enum: []any{"1"}}}),
		Security: []map[string][]string{{}, {schemeSession: {}}, {schemeCookie: {}}, {schemeAPIKey: {}}},
		Responses: map[string]*huma.Response{
			"200": {Description: "The whole video", Content: map[string]*huma.MediaType{"video/mp4": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}},
			"206": {Description: "The range asked", Content: map[string]*huma.MediaType{"video/mp4": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}},
			"304": {Description: "Not modified (If-None-Match, If-Modified-Since)"},
		},
	})
	s.specContent(oapi)
	if s.live != nil && s.hub != nil {
		oapi.AddOperation(&huma.Operation{
			OperationID: "liveEvents",
			Method:      http.MethodGet,
			Path:        "/v1/lives/{id}/events",
			Summary:     "The room feed of a LIVE (WebSocket)",
			Description: liveEventsDoc,
			Tags:        []string{"live"},
			Parameters:  []*huma.Param{{Name: "id", In: "path", Required: true, Schema: &huma.Schema{Type: huma.TypeString}}},
			Security:    []map[string][]string{{}, {schemeSession: {}}, {schemeCookie: {}}},
			Responses: map[string]*huma.Response{
				"101": {Description: "Switching to the WebSocket protocol"},
				"400": {Description: "A LIVE id that is not text, or a handshake without Sec-WebSocket-Version 13 or a valid Sec-WebSocket-Key", Content: map[string]*huma.MediaType{
					"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}},
				}},
				"403": {Description: "An Origin other than this host", Content: map[string]*huma.MediaType{
					"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}},
				}},
				"404": {Description: "No such LIVE", Content: map[string]*huma.MediaType{
					"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}},
				}},
				"426": {Description: "Not a WebSocket handshake (upgrade_required)", Content: map[string]*huma.MediaType{
					"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}},
				}},
			},
		})
	}
	for _, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op == nil {
				continue
			}
			if r, ok := op.Responses["422"]; ok {
				delete(op.Responses, "422")
				if _, ok := op.Responses["400"]; !ok {
					r.Description = http.StatusText(http.StatusBadRequest)
					op.Responses["400"] = r
				}
			}
			if op.RequestBody != nil && op.Responses["413"] == nil {
				op.Responses["413"] = &huma.Response{
					Description: http.StatusText(http.StatusRequestEntityTooLarge),
					Content: map[string]*huma.MediaType{
						"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}},
					},
				}
			}
			for _, p := range op.Parameters {
				if p.In == "header" && p.Name == "Idempotency-Key" {
					p.Required = true
				}
			}
		}
	}
	s.contract = buildContract(oapi)
	b, err := json.Marshal(oapi)
	if err != nil {
		panic(fmt.Sprintf("httpapi: encode OpenAPI document: %v", err))
	}
	s.spec = b
	s.mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/openapi+json")
		w.Write(s.spec)
	})
}

// requestBase returns r's scheme and host: https://host or http://host.
func requestBase(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}
