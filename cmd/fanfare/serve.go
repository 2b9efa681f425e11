package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/app"
	"github.com/fanfarehq/fanfare/internal/blob"
	"github.com/fanfarehq/fanfare/internal/httpapi"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/subscription"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

var (
	_ wallet.Provider        = (*payment.Sandbox)(nil)
	_ wallet.WebhookProvider = (*payment.Stripe)(nil)
)

// Main is a running Fanfare server: the database, the graph internal/app
// builds on it (the ledger, the services, the API and the web app: m.Ledger,
// m.Accounts...) and the HTTP server. Tests build one, set Config.Addr to
// 127.0.0.1:0, call Run and then Close; serve calls Drain before Close, to
// leave a load balancer's rotation first.
type Main struct {
	Config Config
	Logger *slog.Logger
	Clock  fanfare.Clock

	DB *store.DB
	*app.App
	HTTP *http.Server
	// MetricsHTTP serves /metrics on Config.MetricsAddr; nil when off.
	MetricsHTTP *http.Server

	ln        net.Listener
	served    chan error
	stopLoops context.CancelFunc
	loops     sync.WaitGroup

	metricsLn     net.Listener
	metricsServed chan error
}

// NewMain returns a Main configured from the environment's defaults.
func NewMain() *Main {
	m := &Main{}
	fs := newFlagSet("serve", "", io.Discard)
	m.Config.serveFlags(fs)
	return m
}

// Run opens the database (applying migrations if configured), starts the
// ledger and the HTTP server, and returns once the server listens.
func (m *Main) Run(ctx context.Context) (err error) {
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	if m.Clock == nil {
		m.Clock = fanfare.SystemClock{}
	}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	url, err := m.Config.dbURL("fanfare.db")
	if err != nil {
		return err
	}
	if m.DB, err = store.Open(ctx, url); err != nil {
		return err
	}
	if m.Config.Migrate {
		n, err := m.DB.Migrate(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			m.Logger.Info("applied migrations", "count", n)
		}
	}

	// Listen first: the public URL defaults to the address actually
	// bound (a port 0 becomes a real one).
	if m.ln, err = net.Listen("tcp", m.Config.Addr); err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Addr, err)
	}
	providers, err := m.providers()
	if err != nil {
		return err
	}
	guard, err := m.Config.guard(m.Clock)
	if err != nil {
		return err
	}
	catalog := wallet.DefaultCatalog()
	limits, err := m.Config.limits(catalog)
	if err != nil {
		return err
	}
	rules, err := m.Config.eligibilityRules()
	if err != nil {
		return err
	}
	if m.Config.APIKey == "" {
		m.Logger.Warn("no bootstrap API key configured: stored API keys still work, and operators reach operator routes with their own sessions (set FANFARE_API_KEY to create the first keys)")
	}
	csrfKey, err := m.Config.secretKey(m.Logger)
	if err != nil {
		return err
	}
	origins, err := httpapi.ParseOrigins(m.Config.CORSOrigins)
	if err != nil {
		return fmt.Errorf("--cors-origins (FANFARE_CORS_ORIGINS): %w", err)
	}
	if len(origins) > 0 {
		m.Logger.Info("cross-origin API calls allowed", "origins", strings.Join(origins, ","))
	}
	maxVideo, err := m.Config.shoutoutMaxVideo()
	if err != nil {
		return err
	}
	maxPostMedia, err := m.Config.postMaxMedia()
	if err != nil {
		return err
	}
	payouts, err := m.Config.payouts()
	if err != nil {
		return err
	}
	blobURL, err := m.Config.blobURL()
	if err != nil {
		return err
	}
	period, err := m.Config.subscriptionPeriod()
	if err != nil {
		return err
	}
	if period > 0 {
		m.Logger.Warn("subscription periods are a fixed duration, not a calendar month", "period", period)
	}
	hashCost, err := m.Config.hashCost()
	if err != nil {
		return err
	}
	if hashCost.Below() {
		m.Logger.Warn("password hashes are cheaper than the OWASP baseline: fine for tests, not for production",
			"memory_kib", hashCost.Memory, "passes", hashCost.Time)
	}
	hookGuard, err := m.Config.webhookGuard()
	if err != nil {
		return err
	}
	warmingUp := ""
	if m.Config.Demo {
		warmingUp = "seeding the demo world"
	}
	hostJWT, err := m.Config.hostJWT()
	if err != nil {
		return err
	}
	natsOpts, err := m.Config.nats(m.DB.Dialect)
	if err != nil {
		return err
	}
	if m.App, err = app.Open(ctx, m.DB, m.Clock, m.Logger, app.Config{
		APIKey:           m.Config.APIKey,
		HostJWT:          hostJWT,
		NoPasswordSignUp: !m.Config.PasswordSignUp,
		Version:          Version,
		MaxBatch:         m.Config.MaxBatch,
		Providers:        providers,
		Catalog:          catalog,
		Limits:           limits,
		ChargebackDelay:  m.Config.ChargebackDelay,
		Rules:            rules,
		TipMinCoins:      fanfare.Amount(m.Config.TipMinCoins),
		TipMaxCoins:      fanfare.Amount(m.Config.TipMaxCoins),
		TipShareBPS:      m.Config.TipShareBPS,
		SecureCookies:    m.Config.secureCookies(),
		CSRFKey:          csrfKey,
		Guard:            guard,
		Hashes:           account.NewHashQueue(m.Config.PasswordHashes, m.Config.PasswordHashQueue),
		MetricsToken:     m.Config.MetricsToken,
		Demo:             m.Config.Demo,
		CORSOrigins:      origins,
		WarmingUp:        warmingUp,
		Shoutouts: shoutout.Options{
			AcceptWindow:   m.Config.ShoutoutAcceptWindow,
			DeliveryWindow: m.Config.ShoutoutDeliveryWindow,
			ShareBPS:       m.Config.ShoutoutShareBPS,
			MinPrice:       fanfare.Amount(m.Config.ShoutoutMinPrice),
			MaxPrice:       fanfare.Amount(m.Config.ShoutoutMaxPrice),
			Review:         m.Config.ShoutoutReview,
		},
		MaxVideoBytes: maxVideo,
		Subscriptions: subscription.Options{
			Period:   period,
			Grace:    m.Config.SubscriptionGrace,
			Notice:   m.Config.SubscriptionNotice,
			ShareBPS: m.Config.SubscriptionShareBPS,
			MinPrice: fanfare.Amount(m.Config.SubscriptionMinPrice),
			MaxPrice: fanfare.Amount(m.Config.SubscriptionMaxPrice),
		},
		Payouts:           payouts,
		PasswordHashCost:  hashCost,
		PostMaxMediaBytes: maxPostMedia,
		BlobURL:           blobURL,
		NATS:              natsOpts,
		JobWorkers:        m.Config.JobWorkers,
		Webhooks: app.WebhookConfig{
			Workers:         m.Config.WebhookWorkers,
			EndpointWorkers: m.Config.WebhookEndpointWorkers,
			Guard:           hookGuard,
		},
	}); err != nil {
		return err
	}
	if err := m.serveMetrics(m.API.MetricsHandler()); err != nil {
		return err
	}
	m.HTTP = m.httpServer(m.Web, 64<<10)
	m.served = make(chan error, 1)
	go func() { m.served <- m.HTTP.Serve(m.ln) }()

	if m.Config.Jobs {
		if err := m.App.Start(ctx); err != nil {
			return err
		}
	} else {
		m.Logger.Warn("background jobs are off on this server (--jobs=false): deadlines wait for a server that runs them")
	}
	loops, stop := context.WithCancel(context.Background())
	m.stopLoops = stop
	m.loops.Go(func() { m.chargebacks(loops) })
	m.Logger.Info("fanfare listening", "url", m.URL(), "db", store.Redact(url), "dialect", m.DB.Dialect, "blobs", blob.Redact(blobURL), "version", Version)
	return nil
}

// httpServer returns a server of h with the timeouts every listener of
// Fanfare uses, headers up to maxHeader bytes, and its errors in the log.
func (m *Main) httpServer(h http.Handler, maxHeader int) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeader,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
}

// providers builds the payment providers: the sandbox always, Stripe when
// its secret key is configured. It logs which are on, never their secrets.
func (m *Main) providers() (map[string]wallet.Provider, error) {
	providers := map[string]wallet.Provider{payment.SandboxName: payment.NewSandbox()}
	public := m.Config.PublicURL
	if public == "" {
		public = m.URL()
	}
	cfg, ok, err := m.Config.stripeConfig(public)
	if err != nil {
		return nil, err
	}
	if ok {
		st, err := payment.NewStripe(cfg)
		if err != nil {
			return nil, err
		}
		providers[payment.StripeName] = st
		m.Logger.Info("payment providers", "providers", "sandbox,stripe", "stripe_api", cfg.APIBase,
			"stripe_webhook", strings.TrimRight(public, "/")+"/v1/webhooks/stripe", "checkout_return", cfg.SuccessURL)
	} else {
		m.Logger.Info("payment providers", "providers", "sandbox", "stripe", "off (set FANFARE_STRIPE_SECRET_KEY and FANFARE_STRIPE_WEBHOOK_SECRET)")
	}
	return providers, nil
}

// URL is the server's base URL.
func (m *Main) URL() string {
	if m.ln == nil {
		return ""
	}
	return "http://" + m.ln.Addr().String()
}

// Drain takes the server out of service ahead of Close: /readyz answers
// 503 unavailable ("draining") at once, so that load balancers send its
// new clients to other nodes, while every route (/healthz, the API, the
// pages, the room feeds) goes on answering; after Config.DrainDelay, long
// enough for them to notice, every room feed is closed with 1012 (Service
// Restart), so that its viewers reconnect through the load balancer to
// another node and read the room's state there. Close then shuts down.
func (m *Main) Drain() {
	if m.App == nil {
		return
	}
	m.API.Drain()
	if d := m.Config.DrainDelay; d > 0 {
		m.Logger.Info("draining: /readyz answers 503, requests are still served", "delay", d)
		time.Sleep(d)
	}
	m.Logger.Info("closing the room feeds: their viewers reconnect to another node")
	m.Hub.Drain()
}

// Close shuts down gracefully: it tells every room feed the server is
// going (1012 after Drain, else 1001), stops accepting connections, lets
// in-flight requests finish and the feeds' last frames go out, then lets
// the running background jobs finish (all within Config.ShutdownTimeout;
// jobs still running then are cancelled and run again after a restart, on
// this node or another), commits whatever the ledger accepted, then closes
// the database. Every request answered before or during shutdown is
// durable.
func (m *Main) Close() error {
	var errs []error
	if m.HTTP != nil && m.ln != nil {
		timeout := m.Config.ShutdownTimeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		// Room feeds are hijacked connections, which Shutdown leaves
		// open: closing the hub tells each viewer why, and WaitFeeds
		// waits until each has been told.
		m.Hub.Close()
		if err := m.HTTP.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("drain requests: %w", err))
		}
		if err := <-m.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
		m.ln = nil
		errs = append(errs, m.API.WaitFeeds(ctx))
		errs = append(errs, m.closeMetrics(ctx))
		errs = append(errs, m.App.StopJobs(ctx))
		cancel()
	} else {
		if m.ln != nil {
			// Run failed between listening and serving.
			errs = append(errs, m.ln.Close())
			m.ln = nil
		}
		errs = append(errs, m.closeMetrics(context.Background()))
	}
	if m.stopLoops != nil {
		m.stopLoops()
		m.loops.Wait()
		m.stopLoops = nil
	}
	if m.App != nil {
		// Closing the app closes the hub, if Run failed before serving,
		// then commits what the ledger accepted.
		errs = append(errs, m.App.Close())
		m.App = nil
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
		m.DB = nil
	}
	return errors.Join(errs...)
}

// chargebackInterval is how often purchases due for a sandbox chargeback
// are looked for.
const chargebackInterval = 2 * time.Second

// chargebacks applies due sandbox chargebacks until ctx ends.
func (m *Main) chargebacks(ctx context.Context) {
	t := time.NewTicker(chargebackInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := m.Wallet.ApplyDueChargebacks(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Error("apply chargebacks", "err", err)
		} else if n > 0 {
			m.Logger.Info("applied chargebacks", "count", n)
		}
		if n, err := m.Wallet.RetryCashRefunds(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Error("retry cash refunds", "err", err)
		} else if n > 0 {
			m.Logger.Info("sent cash refunds that had waited for the provider", "count", n)
		}
	}
}

// ServeCommand runs the server until SIGINT or SIGTERM.
type ServeCommand struct {
	stdout, stderr io.Writer
}

const serveSynopsis = `Usage: fanfare serve [flags]

Runs the web app, the HTTP API (with /openapi.json, /healthz, /readyz)
and the background jobs until SIGINT or SIGTERM. Then /readyz answers 503
for --drain-delay while requests are still served, the room feeds are
closed with 1012 so that their viewers reconnect to another node, and the
server drains in-flight requests and commits every accepted money
operation before exiting.

Prometheus metrics are served on their own listener, --metrics-addr
(loopback by default), and on the main listener only to requests bearing
--metrics-token. Behind a reverse proxy, pass the Host header on, and name
the proxy in --trusted-proxies so that the log-in limits count each client
by its X-Forwarded-For address rather than all of them as the proxy.`

// Run parses args and serves.
func (c *ServeCommand) Run(ctx context.Context, args []string) error {
	m := NewMain()
	fs := newFlagSet("serve", serveSynopsis, c.stderr)
	m.Config.serveFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	log, err := m.Config.logger(c.stderr)
	if err != nil {
		return err
	}
	m.Logger = log
	if err := m.Run(ctx); err != nil {
		return err
	}
	return m.wait(ctx)
}

// wait blocks until ctx ends or the server fails, then shuts down.
func (m *Main) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		m.Drain()
		m.Logger.Info("shutting down: draining requests and committing accepted operations")
	case err := <-m.served:
		m.served <- err
		m.Logger.Error("server stopped", "err", err)
	case err := <-m.metricsServed: // nil when off: never ready
		m.metricsServed <- err
		m.Logger.Error("metrics server stopped", "err", err)
	}
	if err := m.Close(); err != nil {
		return err
	}
	m.Logger.Info("shutdown complete")
	return nil
}
