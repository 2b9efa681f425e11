// Package app builds Fanfare's object graph on an open database: the
// ledger, the services, the room hub, the HTTP API and the web app in front
// of it, each given its collaborators. It is the one place that builds
// them: `fanfare serve` calls Open, and the tests of httpapi, web and
// cmd/fanfare open the same graph (through apptest), so what they test is
// what serves.
//
// app may import every package of the module except cmd/fanfare; nothing
// but cmd/fanfare and tests imports app. Configuration is read in
// cmd/fanfare and arrives here as plain values (Config), with the payment
// providers already built.
package app

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/blob"
	brokerpkg "github.com/fanfarehq/fanfare/internal/broker"
	"github.com/fanfarehq/fanfare/internal/console"
	"github.com/fanfarehq/fanfare/internal/content"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/hostjwt"
	"github.com/fanfarehq/fanfare/internal/httpapi"
	"github.com/fanfarehq/fanfare/internal/jobs"
	"github.com/fanfarehq/fanfare/internal/ledger"
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
	"github.com/fanfarehq/fanfare/internal/web"
	"github.com/fanfarehq/fanfare/internal/webhook"
)

// Config is what the graph takes from the configuration. The zero value of
// a setting is its package's default.
type Config struct {
	// APIKey is the bootstrap operator key (stored keys are created with
	// it); empty disables it.
	APIKey string
	// HostJWT verifies the host app's JWTs as bearer tokens when its
	// Secret or JWKSURL is set (Now is the graph's clock unless set).
	HostJWT hostjwt.Options
	// NoPasswordSignUp switches off password sign-up (the API's and the
	// web app's): the host app creates the users.
	NoPasswordSignUp bool
	// Version is reported in the OpenAPI document.
	Version string
	// MaxBatch bounds the operations the ledger commits in one
	// transaction.
	MaxBatch int
	// Providers take payments, by name (the sandbox, Stripe when
	// configured).
	Providers map[string]wallet.Provider
	// Catalog is the coin packs on sale; Limits the spending and purchase
	// limits; ChargebackDelay the sandbox's delay before a flagged
	// purchase is charged back.
	Catalog         *wallet.Catalog
	Limits          *wallet.Limits
	ChargebackDelay time.Duration
	// Rules replace the built-in eligibility rules, feature by feature.
	Rules []eligibility.Rule
	// TipMinCoins, TipMaxCoins and TipShareBPS bound tips and give the
	// creator's share.
	TipMinCoins, TipMaxCoins fanfare.Amount
	TipShareBPS              int64
	// SecureCookies marks the web app's cookies Secure; CSRFKey signs its
	// forms; Demo shows the demo world's logins.
	SecureCookies bool
	CSRFKey       []byte
	Demo          bool
	// Guard limits log-ins and sign-ups (per client address and per
	// handle); nil limits nothing. Hashes bounds the password hashes
	// running and waiting; nil is the account package's default.
	Guard  *ratelimit.Guard
	Hashes *account.HashQueue
	// PasswordHashCost is the cost of new password hashes; zero is the
	// account package's default (the OWASP baseline).
	PasswordHashCost account.HashCost
	// MetricsToken, when set, also serves /metrics on the main listener
	// to requests that bear it.
	MetricsToken string
	// RoomTick is how often a room sends its viewers a frame.
	RoomTick time.Duration
	// MaxBodyBytes bounds an API request's body.
	MaxBodyBytes int64
	// CORSOrigins are the web origins whose pages may call the API from a
	// browser with a token (httpapi.ParseOrigins); none by default.
	CORSOrigins []string
	// BlobURL is the blob store's URL (blob.Open): file:///folder,
	// s3://bucket?... or mem://; required.
	BlobURL string
	// WarmingUp, when set, keeps /readyz at 503 with this reason until
	// API.Ready is called (the demo seeds its world first).
	WarmingUp string
	// Shoutouts are the Shoutouts' windows, share and bounds (Clock and
	// Scheduler are the graph's own); MaxVideoBytes bounds a delivered
	// video (0: DefaultMaxVideoBytes).
	Shoutouts     shoutout.Options
	MaxVideoBytes int64
	// Subscriptions are LIVE Subscription's period, grace, notice, share
	// and bounds (Clock and Scheduler are the graph's own).
	Subscriptions subscription.Options
	// Payouts are the payout rates, the hold window, the provider and the
	// bounds (the Clock and Scheduler are the graph's own).
	Payouts payout.Options
	// JobWorkers is the most background jobs run at once; 0 is the jobs
	// package's default.
	JobWorkers int
	// PostMaxMediaBytes bounds a subscriber-only post's media (0:
	// content.DefaultMaxMedia).
	PostMaxMediaBytes int64
	// SettingsPoll is how often the stored settings' version is read
	// (0: settings.PollInterval).
	SettingsPoll time.Duration
	// Members and Emotes, when set, answer who subscribes to a creator
	// and which exclusive emotes a creator has, in place of the graph's
	// own subscription and content services (tests set them).
	Members live.Members
	Emotes  live.Emotes
	// Webhooks configure the delivery of the outbox's events to the host
	// app's endpoints.
	Webhooks WebhookConfig
	// NATS, when set, joins this node to the others serving the same
	// PostgreSQL database: the rooms' events, viewer counts and chat
	// limits travel through NATS (the Logger is the graph's). Nil: one
	// node, in process.
	NATS *brokerpkg.Options
}

// WebhookConfig configures the outgoing webhooks. The zero value is the
// webhook package's defaults.
type WebhookConfig struct {
	// Workers and EndpointWorkers bound the deliveries sent at once, in
	// all and to one endpoint.
	Workers, EndpointWorkers int
	// Guard says which URLs and addresses endpoints may have (SSRF); nil
	// is the strict default.
	Guard *webhook.Guard
	// Poll is how long the delivery loop waits when idle (tests).
	Poll time.Duration
}

// DefaultMaxVideoBytes is the largest shoutout video unless configured:
// 200 MB.
const DefaultMaxVideoBytes = 200_000_000

// App is the graph: every service, the room hub, the API and the web app.
// Handler serves them all on one listener.
type App struct {
	Clock    fanfare.Clock
	Registry *prometheus.Registry // what /metrics gathers
	Metrics  *httpapi.Metrics

	Ledger *ledger.Ledger
	// Jobs is the durable job queue: features insert their deadlines
	// into it and register their handlers and sweeps while the graph is
	// built; Start starts its workers.
	Jobs     *jobs.Queue
	Accounts *account.Service
	Wallet   *wallet.Service
	Rules    *eligibility.Engine
	Live     *live.Service
	Tips     *tips.Service
	Profiles *profile.Service
	Hub      *room.Hub
	// Broker joins the nodes sharing the database (NATS); nil on one
	// node.
	Broker *brokerpkg.NATS

	// Blobs keeps the videos of Shoutouts, and the emotes and post media
	// of Content.
	Blobs         *blob.Store
	Shoutouts     *shoutout.Service
	Subscriptions *subscription.Service
	Payouts       *payout.Service
	// Settings keeps the operator's stored settings in force on the
	// services above.
	Settings *settings.Service
	// Content is LIVE Subscription's subscriber content: exclusive emotes
	// and subscriber-only posts.
	Content *content.Service
	// Webhooks keeps the host app's endpoints and delivers the outbox's
	// events to them; Start starts its delivery loop.
	Webhooks *webhook.Service
	// Console reads the operator's figures, jobs and audit trails;
	// Verifier runs verify from the console, one run at a time.
	Console  *console.Service
	Verifier *console.Verifier

	API *httpapi.Server // the HTTP API alone
	Web *web.Server     // the web app, handing the API's paths to API

	// HostTokens verifies host JWTs; nil when none are configured.
	HostTokens *hostjwt.Verifier
}

// Open builds the graph on db (migrated) with clock and log, and starts
// the ledger's committer. Start starts the background jobs. Close stops
// what they started; db stays open, its owner closes it after Close.
func Open(ctx context.Context, db *store.DB, clock fanfare.Clock, log *slog.Logger, cfg Config) (*App, error) {
	if db == nil || clock == nil || log == nil {
		return nil, errors.New("app: Open needs a database, a clock and a logger")
	}
	a := &App{Clock: clock, Registry: prometheus.NewRegistry()}
	if err := a.build(ctx, db, log, cfg); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// build builds the graph in the order of its dependencies.
func (a *App) build(ctx context.Context, db *store.DB, log *slog.Logger, cfg Config) (err error) {
	clock := a.Clock
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Metrics = httpapi.NewMetrics(a.Registry)
	if cfg.BlobURL == "" {
		return errors.New("app: Open needs a blob store URL")
	}
	if a.Blobs, err = blob.Open(ctx, cfg.BlobURL); err != nil {
		return fmt.Errorf("blob store %s: %w", blob.Redact(cfg.BlobURL), err)
	}
	if a.Jobs, err = jobs.New(db, jobs.Options{Logger: log.With("component", "jobs"), Workers: cfg.JobWorkers}); err != nil {
		return err
	}
	if a.Ledger, err = ledger.Open(ctx, db, ledger.Options{Clock: clock, MaxBatch: cfg.MaxBatch, Observer: a.Metrics, Jobs: a.Jobs}); err != nil {
		return err
	}
	a.Jobs.Every("janitor", janitorInterval, a.janitor(log))
	// The rooms' events reach this node's viewers in process; on a node
	// among several, the broker carries them to the others too (it is
	// connected first: accounts tell it what they change).
	local := room.NewLocal()
	if cfg.NATS != nil {
		opts := *cfg.NATS
		opts.Logger, opts.Clock, opts.Local = log.With("component", "broker"), clock, local
		if a.Broker, err = brokerpkg.Connect(opts); err != nil {
			return err
		}
	}
	a.Accounts = account.New(db, a.Ledger, account.Options{Clock: clock, Hashes: cfg.Hashes, HashCost: cfg.PasswordHashCost,
		Changed: a.forgetElsewhere,
		// Shoutouts and Subscriptions are built later; a creator
		// restricted or banned gets their open requests refunded, and
		// their subscriptions' renewals stopped, by jobs inserted with the
		// change.
		StandingChanged: func(ctx context.Context, tx *sql.Tx, userID string, to fanfare.Standing) error {
			if to != fanfare.StandingRestricted && to != fanfare.StandingBanned {
				return nil
			}
			if err := a.Shoutouts.StandingChanged(ctx, tx, userID); err != nil {
				return err
			}
			return a.Subscriptions.StandingChanged(ctx, tx, userID)
		}})
	a.Wallet = wallet.New(db, a.Ledger, a.Accounts, wallet.Options{
		Clock:           clock,
		Catalog:         cfg.Catalog,
		Providers:       cfg.Providers,
		ChargebackDelay: cfg.ChargebackDelay,
		Limits:          cfg.Limits,
		// The LIVE service is built next, on the wallet; the history asks
		// it only once the graph is built.
		GiftName: func(id string) (string, bool) { return a.Live.GiftName(id) },
	})
	if a.Rules, err = eligibility.New(db, clock, cfg.Rules); err != nil {
		return err
	}
	var broker room.Broker = local
	var elsewhere func(string) int
	var chatShare live.ChatShare
	if a.Broker != nil {
		broker, elsewhere, chatShare = a.Broker, a.Broker.Elsewhere, a.Broker
		a.Broker.OnForget(func(kind, key string) { a.Accounts.Forget(account.Change{Kind: kind, Key: key}) })
	}
	// The hub loads a room's state from the LIVE service, built next, which
	// asks the hub who watches; neither asks before the graph is built.
	a.Hub = room.NewHub(broker, room.Options{Tick: cfg.RoomTick, Now: clock.Now,
		Load: func(ctx context.Context, id string) (room.State, error) { return a.Live.RoomState(ctx, id) }, Dropped: a.Metrics.ViewerDropped,
		Viewers: func(id string, n int) {
			if err := a.Live.NoteViewers(context.Background(), id, n); err != nil {
				log.Warn("record peak viewers", "live", id, "err", err)
			}
		},
		Elsewhere: elsewhere,
		Logger:    log.With("component", "rooms")})
	var viewers live.Viewers = a.Hub
	if a.Broker != nil {
		a.Broker.OnResync(a.Hub.Resync)
		a.Broker.Start(a.Hub.Counts, a.Hub.Watching)
		viewers = watchers{a.Hub, a.Broker}
	}
	// LIVE Subscription's services come before the LIVE service: its chat
	// asks them for subscribers and emotes.
	sc := cfg.Subscriptions
	sc.Clock, sc.Scheduler = clock, a.Jobs
	if a.Subscriptions, err = subscription.New(db, a.Ledger, a.Accounts, a.Wallet, a.Rules, sc); err != nil {
		return err
	}
	a.Subscriptions.Register(a.Jobs)
	var members live.Members = a.Subscriptions
	if cfg.Members != nil {
		members = cfg.Members
	}
	if a.Content, err = content.New(db, a.Accounts, a.Rules, a.Blobs, content.Options{Clock: clock, Members: members, MaxMedia: cfg.PostMaxMediaBytes}); err != nil {
		return err
	}
	var emotes live.Emotes = a.Content
	if cfg.Emotes != nil {
		emotes = cfg.Emotes
	}
	if a.Live, err = live.New(db, a.Accounts, a.Wallet, live.Options{Clock: clock, Broker: broker, Rules: a.Rules,
		Members: members, Emotes: emotes, Viewers: viewers, ChatShare: chatShare}); err != nil {
		return err
	}
	if a.Tips, err = tips.New(db, a.Accounts, a.Wallet, a.Rules, tips.Options{
		MinCoins: cfg.TipMinCoins, MaxCoins: cfg.TipMaxCoins, ShareBPS: cfg.TipShareBPS,
		Clock: clock, Broker: broker, OnAir: a.Live,
	}); err != nil {
		return err
	}
	so := cfg.Shoutouts
	so.Clock, so.Scheduler = clock, a.Jobs
	if a.Shoutouts, err = shoutout.New(db, a.Ledger, a.Accounts, a.Wallet, a.Rules, so); err != nil {
		return err
	}
	a.Shoutouts.Register(a.Jobs)
	a.Profiles = profile.New(a.Rules, a.Tips, a.Live, a.Shoutouts, a.Subscriptions)
	po := cfg.Payouts
	po.Clock, po.Scheduler = clock, a.Jobs
	if po.CurrencyFor == nil {
		// The catalog in force when asked: the operator changes it.
		po.CurrencyFor = func(region string) string { return a.Wallet.Catalog().CurrencyFor(region) }
	}
	if a.Payouts, err = payout.New(a.Ledger, a.Accounts, po); err != nil {
		return err
	}
	a.Payouts.Register(a.Jobs)
	var hostTokens httpapi.HostTokens
	if len(cfg.HostJWT.Secret) > 0 || cfg.HostJWT.JWKSURL != "" {
		opts := cfg.HostJWT
		if opts.Now == nil {
			opts.Now = clock.Now
		}
		if a.HostTokens, err = hostjwt.Open(ctx, opts); err != nil {
			return err
		}
		hostTokens = a.HostTokens
	}
	// The operator's stored settings: what the services were just built
	// with (the environment's) is stored at the first start; afterwards
	// the stored document is applied over it, and polled for.
	if a.Settings, err = settings.Open(ctx, db, a.envSettings(), a.applySettings, settings.Options{Clock: clock,
		Logger: log.With("component", "settings"), Poll: cfg.SettingsPoll}); err != nil {
		return err
	}
	a.Settings.Start()
	if a.Webhooks, err = webhook.New(db, webhook.Options{Clock: clock, Logger: log.With("component", "webhooks"),
		Guard: cfg.Webhooks.Guard, Workers: cfg.Webhooks.Workers, EndpointWorkers: cfg.Webhooks.EndpointWorkers,
		Poll: cfg.Webhooks.Poll, Metrics: webhook.NewMetrics(a.Registry)}); err != nil {
		return err
	}
	a.Console = console.New(db, a.Ledger, a.Jobs, clock)
	a.Verifier = console.NewVerifier(a.Ledger, clock)
	a.API = httpapi.New(httpapi.Options{
		Accounts:         a.Accounts,
		Wallet:           a.Wallet,
		Live:             a.Live,
		Rules:            a.Rules,
		Tips:             a.Tips,
		Profiles:         a.Profiles,
		Shoutouts:        a.Shoutouts,
		Blobs:            a.Blobs,
		MaxVideo:         cmp.Or(cfg.MaxVideoBytes, DefaultMaxVideoBytes),
		Subscriptions:    a.Subscriptions,
		Payouts:          a.Payouts,
		Webhooks:         a.Webhooks,
		Content:          a.Content,
		Settings:         a.Settings,
		Hub:              a.Hub,
		DB:               db,
		Clock:            clock,
		APIKey:           cfg.APIKey,
		HostTokens:       hostTokens,
		NoPasswordSignUp: cfg.NoPasswordSignUp,
		Logger:           log,
		Registry:         a.Registry,
		Metrics:          a.Metrics,
		Version:          cfg.Version,
		MaxBodyBytes:     cfg.MaxBodyBytes,
		Guard:            cfg.Guard,
		MetricsToken:     cfg.MetricsToken,
		CORSOrigins:      cfg.CORSOrigins,
		WarmingUp:        cfg.WarmingUp,
		Broker:           brokerStatus(a.Broker),
	})
	a.Web = web.New(web.Options{
		Accounts:         a.Accounts,
		Wallet:           a.Wallet,
		Live:             a.Live,
		Rules:            a.Rules,
		Tips:             a.Tips,
		Profiles:         a.Profiles,
		Shoutouts:        a.Shoutouts,
		Subscriptions:    a.Subscriptions,
		Content:          a.Content,
		Payouts:          a.Payouts,
		Audit:            audit.NewLog(db),
		Settings:         a.Settings,
		Webhooks:         a.Webhooks,
		Console:          a.Console,
		Verifier:         a.Verifier,
		Blobs:            a.Blobs,
		API:              a.API,
		APISpec:          a.API.Spec(),
		Logger:           log,
		Clock:            clock,
		SecureCookies:    cfg.SecureCookies,
		CSRFKey:          cfg.CSRFKey,
		Guard:            cfg.Guard,
		Demo:             cfg.Demo,
		NoPasswordSignUp: cfg.NoPasswordSignUp,
	})
	return nil
}

// janitorInterval is how often expired sessions and idempotency records,
// and the chat of ended LIVEs, are deleted.
const janitorInterval = time.Hour

// janitor returns the periodic task that deletes expired idempotency
// records and sessions, and the stored chat of ended LIVEs (on one server
// of those sharing the database).
func (a *App) janitor(log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		n, err := a.Ledger.PurgeIdempotency(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			log.Info("purged idempotency keys", "count", n)
		}
		if n, err = a.Accounts.PurgeSessions(ctx); err != nil {
			return err
		}
		if n > 0 {
			log.Info("purged expired sessions", "count", n)
		}
		chat, err := a.Live.PurgeChat(ctx)
		if err != nil {
			return err
		}
		if chat > 0 {
			log.Info("purged the chat of ended LIVEs", "messages", chat)
		}
		hooks, err := a.Webhooks.Prune(ctx)
		if err != nil {
			return err
		}
		if hooks > 0 {
			log.Info("purged delivered events and old webhook deliveries", "rows", hooks)
		}
		return nil
	}
}

// Start starts the background jobs' workers and periodic sweeps (a sweep
// runs once at Start, applying any deadline that passed while no server
// ran).
func (a *App) Start(ctx context.Context) error {
	if err := a.Jobs.Start(ctx); err != nil {
		return err
	}
	return a.Webhooks.Start(ctx)
}

// StopJobs stops the background jobs: no new job starts, the running ones
// may finish until ctx ends, then they are cancelled (and run again
// later). The server calls it once the HTTP server has drained, before
// Close.
func (a *App) StopJobs(ctx context.Context) error {
	var err error
	if a.Webhooks != nil {
		// An attempt cut short is made again (the delivery's lease is
		// released), so nothing is lost.
		err = a.Webhooks.Stop(ctx)
	}
	if a.Jobs == nil {
		return err
	}
	return errors.Join(err, a.Jobs.Stop(ctx))
}

// closeJobsTimeout bounds the drain of the jobs when Close stops them
// itself (StopJobs was not called).
const closeJobsTimeout = 10 * time.Second

// Close stops the background jobs if StopJobs has not, disconnects the
// room feeds' viewers (their hijacked connections outlive an HTTP server's
// shutdown), then commits what the ledger accepted and stops its
// committer. Call it once the HTTP server has drained.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeJobsTimeout)
	defer cancel()
	err := a.StopJobs(ctx)
	if a.Settings != nil {
		a.Settings.Close()
	}
	if a.Live != nil {
		err = errors.Join(err, a.Live.Close()) // the chat messages sent are stored
	}
	if a.Hub != nil {
		a.Hub.Close()
	}
	if a.Broker != nil {
		err = errors.Join(err, a.Broker.Close())
		a.Broker = nil
	}
	if a.Verifier != nil {
		a.Verifier.Close() // before the ledger it reads
	}
	if a.Ledger != nil {
		err = errors.Join(err, a.Ledger.Close())
	}
	if a.Blobs != nil {
		err = errors.Join(err, a.Blobs.Close())
		a.Blobs = nil
	}
	if a.HostTokens != nil {
		a.HostTokens.Close()
		a.HostTokens = nil
	}
	return err
}

// watchers tells who watches a room on every node: this node's hub, and
// the others through the broker.
type watchers struct {
	hub    *room.Hub
	broker *brokerpkg.NATS
}

func (w watchers) Watching(id string) []string {
	ids := append(w.hub.Watching(id), w.broker.WatchingElsewhere(context.Background(), id)...)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// brokerStatus is b as httpapi.Options.Broker: nil on one node.
func brokerStatus(b *brokerpkg.NATS) interface{ Status() error } {
	if b == nil {
		return nil
	}
	return b
}

// forgetElsewhere tells the other nodes what this one changed that they
// cache (account.Options.Changed).
func (a *App) forgetElsewhere(c account.Change) {
	if a.Broker != nil {
		a.Broker.Forget(c.Kind, c.Key)
	}
}
