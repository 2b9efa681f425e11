package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/blob"
	"github.com/fanfarehq/fanfare/internal/broker"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/hostjwt"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/subscription"
	"github.com/fanfarehq/fanfare/internal/tips"
	"github.com/fanfarehq/fanfare/internal/wallet"
	"github.com/fanfarehq/fanfare/internal/webhook"
)

// Config is the configuration shared by the commands that open the
// database or serve. Every field has a flag and a FANFARE_* variable; flags
// win over variables, variables over defaults.
type Config struct {
	DB              string        // FANFARE_DB: sqlite:///path/file.db or postgres://...
	Data            string        // FANFARE_DATA: data directory (the default database lives here)
	Addr            string        // FANFARE_ADDR: listen address
	APIKey          string        // FANFARE_API_KEY: the bootstrap operator key
	LogLevel        string        // FANFARE_LOG_LEVEL: debug, info, warn, error
	LogFormat       string        // FANFARE_LOG_FORMAT: text or json
	MaxBatch        int           // FANFARE_LEDGER_MAX_BATCH: operations per ledger transaction
	ShutdownTimeout time.Duration // FANFARE_SHUTDOWN_TIMEOUT: how long to drain on SIGTERM
	DrainDelay      time.Duration // FANFARE_DRAIN_DELAY: how long /readyz answers 503 on SIGTERM before the shutdown
	Migrate         bool          // FANFARE_MIGRATE: apply migrations when serving
	JobWorkers      int           // FANFARE_JOB_WORKERS: background jobs run at once (0: the default)
	Jobs            bool          // FANFARE_JOBS: run the background jobs on this server
	// Outgoing webhooks: FANFARE_WEBHOOK_WORKERS (deliveries sent at
	// once), FANFARE_WEBHOOK_ENDPOINT_WORKERS (at once to one endpoint),
	// FANFARE_WEBHOOK_ALLOW_HTTP (plain http:// endpoints anywhere) and
	// FANFARE_WEBHOOK_ALLOW_PRIVATE (true, or CIDR prefixes endpoints may
	// reach though private).
	WebhookWorkers         int
	WebhookEndpointWorkers int
	WebhookAllowHTTP       bool
	WebhookAllowPrivate    string
	// FANFARE_SANDBOX_CHARGEBACK_DELAY: how long after payment the sandbox
	// charges back a purchase paid with its chargeback card
	ChargebackDelay time.Duration
	// The operator's limits: FANFARE_DAILY_SPEND_LIMIT (coins a day, 0 for
	// none), FANFARE_PURCHASES_PER_HOUR, FANFARE_PURCHASE_DAILY_LIMIT and
	// FANFARE_MINOR_PURCHASE_DAILY_LIMIT (money such as "1000 EUR", or 0).
	DailySpendLimit         int64
	PurchasesPerHour        int
	PurchaseDailyLimit      string
	MinorPurchaseDailyLimit string
	// Tips: FANFARE_TIP_MIN_COINS, FANFARE_TIP_MAX_COINS and
	// FANFARE_TIP_SHARE_BPS (the creator's share, in diamonds).
	TipMinCoins, TipMaxCoins int64
	TipShareBPS              int64
	// Shoutouts: FANFARE_SHOUTOUT_ACCEPT_WINDOW, _DELIVERY_WINDOW,
	// _SHARE_BPS, _MIN_PRICE, _MAX_PRICE, _MAX_VIDEO (a size such as
	// "200MB"), _BLOCKED_FAN_REGIONS (comma-separated ISO codes) and
	// _REVIEW (the operator approves each video before the fan sees it).
	ShoutoutAcceptWindow      time.Duration
	ShoutoutDeliveryWindow    time.Duration
	ShoutoutShareBPS          int64
	ShoutoutMinPrice          int64
	ShoutoutMaxPrice          int64
	ShoutoutMaxVideo          string
	ShoutoutBlockedFanRegions string
	ShoutoutReview            bool
	// LIVE Subscription: FANFARE_SUBSCRIPTION_PERIOD ("month": a calendar
	// month; or a duration such as 30s, for tests and demos),
	// _GRACE, _NOTICE (before a price change reaches subscribers),
	// _SHARE_BPS, _MIN_PRICE and _MAX_PRICE (a tier's monthly price).
	SubscriptionPeriod   string
	SubscriptionGrace    time.Duration
	SubscriptionNotice   time.Duration
	SubscriptionShareBPS int64
	SubscriptionMinPrice int64
	SubscriptionMaxPrice int64
	// FANFARE_POST_MAX_MEDIA: the largest media file of a subscriber-only
	// post (a size such as "200MB").
	PostMaxMedia string
	// Earnings and payouts: FANFARE_PAYOUT_RATES (what a diamond is paid
	// out per currency, "EUR=0.005,USD=0.005"), FANFARE_PAYOUT_HOLD (how
	// long earned diamonds are held before they may be withdrawn).
	PayoutRates string
	PayoutHold  time.Duration
	// FANFARE_PAYOUT_PROVIDER (sandbox or stripe), FANFARE_PAYOUT_MIN and
	// FANFARE_PAYOUT_DAILY_MAX (diamonds).
	PayoutProvider string
	PayoutMin      int64
	PayoutDailyMax int64
	// FANFARE_ELIGIBILITY_FILE: a JSON file of eligibility rules replacing
	// the built-in ones feature by feature (the operator's changes at run
	// time take precedence).
	EligibilityFile string
	// Stripe, on when StripeSecretKey is set.
	StripeSecretKey     string // FANFARE_STRIPE_SECRET_KEY: sk_test_... or sk_live_...
	StripeWebhookSecret string // FANFARE_STRIPE_WEBHOOK_SECRET: whsec_..., signs the events Stripe posts
	StripeAPIBase       string // FANFARE_STRIPE_API_BASE: the Stripe API's base URL
	// FANFARE_PUBLIC_URL: the server's public base URL, where Stripe
	// Checkout sends the buyer back; default http:// and the listen address
	PublicURL string
	// FANFARE_SECURE_COOKIES: mark the web app's cookies Secure; nil
	// (the default, "auto") marks them when PublicURL is https
	SecureCookies *bool
	// FANFARE_METRICS_ADDR: the metrics listener's address ("off" or
	// empty: none); FANFARE_METRICS_TOKEN: when set, /metrics is served on
	// the main listener too, to requests bearing it
	MetricsAddr  string
	MetricsToken string
	// The host app's JWTs: FANFARE_JWT_SECRET (HS256) or
	// FANFARE_JWT_JWKS_URL (RS256/ES256 keys), FANFARE_JWT_ISSUER and
	// FANFARE_JWT_AUDIENCE (checked when set).
	JWTSecret, JWTJWKSURL, JWTIssuer, JWTAudience string
	// FANFARE_PASSWORD_SIGNUP: password sign-up (API and web) is open
	PasswordSignUp bool
	// FANFARE_SECRET_KEY: signs the web forms' anti-forgery tokens, hex or
	// base64 of 32 bytes or more; default: generated once into
	// <data>/secret.key
	SecretKey string
	// Log-in and sign-up limits: FANFARE_AUTH_ATTEMPTS_PER_MINUTE and
	// FANFARE_AUTH_BURST per client address, FANFARE_LOGIN_FAILURES per
	// handle in FANFARE_LOGIN_FAILURE_WINDOW, FANFARE_TRUSTED_PROXIES
	// whose X-Forwarded-For names the client; FANFARE_PASSWORD_HASHES
	// running at once and FANFARE_PASSWORD_HASH_QUEUE waiting.
	AuthAttemptsPerMinute int
	AuthBurst             int
	LoginFailures         int
	LoginFailureWindow    time.Duration
	TrustedProxies        string
	PasswordHashes        int
	PasswordHashQueue     int
	// FANFARE_PASSWORD_HASH_MEMORY (KiB) and FANFARE_PASSWORD_HASH_TIME
	// (passes): the cost of new password hashes (argon2id), the OWASP
	// baseline by default; cheaper only for tests and load tests.
	PasswordHashMemory int
	PasswordHashTime   int
	// FANFARE_CORS_ORIGINS: comma-separated web origins
	// (https://app.example.com) whose pages may call the API from a
	// browser with a token; default none
	CORSOrigins string
	// FANFARE_BLOB_URL: where uploaded files (videos) are stored: a
	// gocloud.dev URL, file:///folder or s3://bucket?region=...; default
	// the folder blobs under the data directory
	BlobURL string
	// FANFARE_NATS_URL: the NATS servers that carry the rooms' events
	// between nodes sharing one PostgreSQL database; empty: one node, in
	// process. FANFARE_NATS_CREDS, FANFARE_NATS_TLS_CA,
	// FANFARE_NATS_TLS_CERT and FANFARE_NATS_TLS_KEY: its credentials
	// file, CAs and client certificate.
	NATSURL, NATSCreds, NATSTLSCA, NATSTLSCert, NATSTLSKey string
	// FANFARE_NODE: this node's name among those serving the database;
	// default the host name.
	Node string
	// Demo shows the demo world's logins on the web app's pages; set by
	// the demo command.
	Demo bool
}

// DefaultAddr is where Fanfare listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8080"

// DefaultMetricsAddr is where Fanfare serves its metrics unless told
// otherwise: loopback, for a scraper on the same machine.
const DefaultMetricsAddr = "127.0.0.1:9464"

// DefaultDrainDelay is how long serve drains on SIGTERM before it shuts
// down, unless told otherwise: a few of a load balancer's health checks.
const DefaultDrainDelay = 5 * time.Second

// defaultData is the data directory unless told otherwise.
const defaultData = "fanfare-data"

// env returns the variable's value or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envBool(name string, def bool) bool {
	if v, err := strconv.ParseBool(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// dbFlags registers the database flags.
func (c *Config) dbFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DB, "db", env("FANFARE_DB", ""), "database URL: sqlite:///path/file.db or postgres://user@host/db (env FANFARE_DB; default: fanfare.db under the data directory)")
	fs.StringVar(&c.Data, "data", env("FANFARE_DATA", defaultData), "data directory (env FANFARE_DATA)")
	fs.StringVar(&c.LogLevel, "log-level", env("FANFARE_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env FANFARE_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("FANFARE_LOG_FORMAT", "text"), "log format: text or json (env FANFARE_LOG_FORMAT)")
}

// serveFlags registers the flags of the commands that serve.
func (c *Config) serveFlags(fs *flag.FlagSet) {
	c.dbFlags(fs)
	fs.StringVar(&c.Addr, "addr", env("FANFARE_ADDR", DefaultAddr), "listen address (env FANFARE_ADDR)")
	c.APIKey = env("FANFARE_API_KEY", "")
	fs.Var(secretFlag{&c.APIKey}, "api-key", "the bootstrap operator key, sent as \"Authorization: Bearer <key>\" and recorded as apikey:operator: create named operator keys and the host app's scoped keys with it (POST /v1/admin/api-keys) (env FANFARE_API_KEY)")
	c.JWTSecret = env("FANFARE_JWT_SECRET", "")
	fs.Var(secretFlag{&c.JWTSecret}, "jwt-secret", "accept the host app's HS256 JWTs signed with this secret (32 bytes or more) as bearer tokens; their sub is the user's external id (env FANFARE_JWT_SECRET)")
	fs.StringVar(&c.JWTJWKSURL, "jwt-jwks-url", env("FANFARE_JWT_JWKS_URL", ""), "accept the host app's RS256/ES256 JWTs, verified with the keys of this JWKS URL (fetched at start, hourly, and on an unknown key id at most once a minute) (env FANFARE_JWT_JWKS_URL)")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", env("FANFARE_JWT_ISSUER", ""), "the iss a host JWT must carry; empty: not checked (env FANFARE_JWT_ISSUER)")
	fs.StringVar(&c.JWTAudience, "jwt-audience", env("FANFARE_JWT_AUDIENCE", ""), "an aud a host JWT must carry; empty: not checked (env FANFARE_JWT_AUDIENCE)")
	fs.BoolVar(&c.PasswordSignUp, "password-signup", envBool("FANFARE_PASSWORD_SIGNUP", true), "let people sign up with a password (POST /v1/users and the web sign-up page); false when the host app creates the users (env FANFARE_PASSWORD_SIGNUP)")
	fs.IntVar(&c.MaxBatch, "ledger-max-batch", envInt("FANFARE_LEDGER_MAX_BATCH", 1024), "most money operations committed in one database transaction; 1 turns group commit off (env FANFARE_LEDGER_MAX_BATCH)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDuration("FANFARE_SHUTDOWN_TIMEOUT", 30*time.Second), "how long to drain requests on SIGTERM (env FANFARE_SHUTDOWN_TIMEOUT)")
	fs.DurationVar(&c.DrainDelay, "drain-delay", envDuration("FANFARE_DRAIN_DELAY", DefaultDrainDelay), "on SIGTERM, how long /readyz answers 503 while every request is still served, so that a load balancer stops sending new clients, before the room feeds are closed with 1012 (their viewers reconnect to another node) and the shutdown starts; 0 in demo (env FANFARE_DRAIN_DELAY)")
	fs.DurationVar(&c.ChargebackDelay, "sandbox-chargeback-delay", envDuration("FANFARE_SANDBOX_CHARGEBACK_DELAY", wallet.DefaultChargebackDelay), "how long after payment the sandbox charges back a purchase paid with the card 4000000000000259 (env FANFARE_SANDBOX_CHARGEBACK_DELAY)")
	def := wallet.DefaultLimits()
	fs.Int64Var(&c.DailySpendLimit, "daily-spend-limit", int64(envInt("FANFARE_DAILY_SPEND_LIMIT", int(def.DailySpend))), "coins a user may spend on creators per UTC day unless they set a lower limit; also the most they may set; 0 for none (env FANFARE_DAILY_SPEND_LIMIT)")
	fs.IntVar(&c.PurchasesPerHour, "purchases-per-hour", envInt("FANFARE_PURCHASES_PER_HOUR", def.PurchasesPerHour), "coin purchases a user may start in any hour, declined ones included; 0 for no limit (env FANFARE_PURCHASES_PER_HOUR)")
	fs.StringVar(&c.PurchaseDailyLimit, "purchase-daily-limit", env("FANFARE_PURCHASE_DAILY_LIMIT", def.PurchaseDaily.String()), "money a user may spend on coins in any 24 hours, other currencies converted at the reference rates; 0 for no limit (env FANFARE_PURCHASE_DAILY_LIMIT)")
	fs.StringVar(&c.MinorPurchaseDailyLimit, "minor-purchase-daily-limit", env("FANFARE_MINOR_PURCHASE_DAILY_LIMIT", def.MinorPurchaseDaily.String()), "the same limit for users under 18, when lower; 0 for none (env FANFARE_MINOR_PURCHASE_DAILY_LIMIT)")
	fs.Int64Var(&c.TipMinCoins, "tip-min-coins", int64(envInt("FANFARE_TIP_MIN_COINS", tips.DefaultMinCoins)), "the smallest tip, in coins (env FANFARE_TIP_MIN_COINS)")
	fs.Int64Var(&c.TipMaxCoins, "tip-max-coins", int64(envInt("FANFARE_TIP_MAX_COINS", tips.DefaultMaxCoins)), "the largest tip, in coins (env FANFARE_TIP_MAX_COINS)")
	fs.Int64Var(&c.TipShareBPS, "tip-share-bps", int64(envInt("FANFARE_TIP_SHARE_BPS", tips.DefaultShareBPS)), "the creator's share of a tip's coins, in diamonds, in basis points: 10000 keeps no cut (env FANFARE_TIP_SHARE_BPS)")
	fs.DurationVar(&c.ShoutoutAcceptWindow, "shoutout-accept-window", envDuration("FANFARE_SHOUTOUT_ACCEPT_WINDOW", shoutout.DefaultAcceptWindow), "how long a creator has to accept or decline a shoutout request before the fan is refunded (env FANFARE_SHOUTOUT_ACCEPT_WINDOW)")
	fs.DurationVar(&c.ShoutoutDeliveryWindow, "shoutout-delivery-window", envDuration("FANFARE_SHOUTOUT_DELIVERY_WINDOW", shoutout.DefaultDeliveryWindow), "how long a creator has to deliver an accepted shoutout before the fan is refunded (env FANFARE_SHOUTOUT_DELIVERY_WINDOW)")
	fs.Int64Var(&c.ShoutoutShareBPS, "shoutout-share-bps", int64(envInt("FANFARE_SHOUTOUT_SHARE_BPS", shoutout.DefaultShareBPS)), "the creator's share of a shoutout's price, in diamonds, in basis points (env FANFARE_SHOUTOUT_SHARE_BPS)")
	fs.Int64Var(&c.ShoutoutMinPrice, "shoutout-min-price", int64(envInt("FANFARE_SHOUTOUT_MIN_PRICE", shoutout.DefaultMinPrice)), "the lowest price in coins a creator may set for a shoutout (env FANFARE_SHOUTOUT_MIN_PRICE)")
	fs.Int64Var(&c.ShoutoutMaxPrice, "shoutout-max-price", int64(envInt("FANFARE_SHOUTOUT_MAX_PRICE", shoutout.DefaultMaxPrice)), "the highest price in coins a creator may set for a shoutout (env FANFARE_SHOUTOUT_MAX_PRICE)")
	fs.StringVar(&c.ShoutoutMaxVideo, "shoutout-max-video", env("FANFARE_SHOUTOUT_MAX_VIDEO", "200MB"), "the largest shoutout video a creator may upload: bytes, or with a unit (KB, MB, GB; KiB, MiB, GiB) (env FANFARE_SHOUTOUT_MAX_VIDEO)")
	fs.StringVar(&c.PayoutRates, "payout-rates", env("FANFARE_PAYOUT_RATES", payout.DefaultRates), "what one diamond is paid out in each currency: CURRENCY=amount in the major unit, at most 6 decimals, comma-separated (env FANFARE_PAYOUT_RATES)")
	fs.StringVar(&c.PayoutProvider, "payout-provider", env("FANFARE_PAYOUT_PROVIDER", payout.SandboxName), "where payouts are paid: sandbox (instant; account 000111111116 fails) or stripe (Connect transfers; needs the Stripe secret key) (env FANFARE_PAYOUT_PROVIDER)")
	fs.Int64Var(&c.PayoutMin, "payout-min", int64(envInt("FANFARE_PAYOUT_MIN", int(payout.DefaultMin))), "the fewest diamonds one payout takes (env FANFARE_PAYOUT_MIN)")
	fs.Int64Var(&c.PayoutDailyMax, "payout-daily-max", int64(envInt("FANFARE_PAYOUT_DAILY_MAX", int(payout.DefaultDailyMax))), "the most diamonds a creator withdraws per UTC day (env FANFARE_PAYOUT_DAILY_MAX)")
	fs.DurationVar(&c.PayoutHold, "payout-hold", envDuration("FANFARE_PAYOUT_HOLD", payout.DefaultHold), "how long earned diamonds are held before they may be withdrawn, so that chargebacks and disputes can still take them back (env FANFARE_PAYOUT_HOLD)")
	fs.StringVar(&c.PostMaxMedia, "post-max-media", env("FANFARE_POST_MAX_MEDIA", "200MB"), "the largest image or video a creator may attach to a subscriber-only post: bytes, or with a unit (KB, MB, GB; KiB, MiB, GiB) (env FANFARE_POST_MAX_MEDIA)")
	fs.StringVar(&c.ShoutoutBlockedFanRegions, "shoutout-blocked-fan-regions", env("FANFARE_SHOUTOUT_BLOCKED_FAN_REGIONS", ""), "comma-separated regions (ISO 3166-1 alpha-2) whose fans cannot request shoutouts; default none (env FANFARE_SHOUTOUT_BLOCKED_FAN_REGIONS)")
	fs.StringVar(&c.SubscriptionPeriod, "subscription-period", env("FANFARE_SUBSCRIPTION_PERIOD", "month"), "a subscription period: month (a calendar month; the 31st renews on the last day of shorter months) or a fixed duration such as 30s for tests and demos (env FANFARE_SUBSCRIPTION_PERIOD)")
	fs.DurationVar(&c.SubscriptionGrace, "subscription-grace", envDuration("FANFARE_SUBSCRIPTION_GRACE", subscription.DefaultGrace), "how long a renewal that could not be paid is retried (daily, access kept) before the subscription lapses (env FANFARE_SUBSCRIPTION_GRACE)")
	fs.DurationVar(&c.SubscriptionNotice, "subscription-notice", envDuration("FANFARE_SUBSCRIPTION_NOTICE", subscription.DefaultNotice), "how long before a new price reaches existing subscribers: their first renewal at least this long after the change (env FANFARE_SUBSCRIPTION_NOTICE)")
	fs.Int64Var(&c.SubscriptionShareBPS, "subscription-share-bps", int64(envInt("FANFARE_SUBSCRIPTION_SHARE_BPS", subscription.DefaultShareBPS)), "the creator's share of each subscription period's price, in diamonds, in basis points (env FANFARE_SUBSCRIPTION_SHARE_BPS)")
	fs.Int64Var(&c.SubscriptionMinPrice, "subscription-min-price", int64(envInt("FANFARE_SUBSCRIPTION_MIN_PRICE", subscription.DefaultMinPrice)), "the lowest monthly price in coins of a subscription tier (env FANFARE_SUBSCRIPTION_MIN_PRICE)")
	fs.Int64Var(&c.SubscriptionMaxPrice, "subscription-max-price", int64(envInt("FANFARE_SUBSCRIPTION_MAX_PRICE", subscription.DefaultMaxPrice)), "the highest monthly price in coins of a subscription tier (env FANFARE_SUBSCRIPTION_MAX_PRICE)")
	fs.BoolVar(&c.ShoutoutReview, "shoutout-review", envBool("FANFARE_SHOUTOUT_REVIEW", false), "hold each delivered shoutout video for the operator's approval before the fan sees it (env FANFARE_SHOUTOUT_REVIEW)")
	fs.StringVar(&c.EligibilityFile, "eligibility-file", env("FANFARE_ELIGIBILITY_FILE", ""), "JSON file of eligibility rules ({\"rules\": [{\"feature\": \"tips\", ...}]}) replacing the built-in ones per feature; the operator's changes at run time take precedence (env FANFARE_ELIGIBILITY_FILE)")
	c.SecureCookies = nil
	if v, err := strconv.ParseBool(os.Getenv("FANFARE_SECURE_COOKIES")); err == nil {
		c.SecureCookies = &v
	}
	fs.Var(autoBool{&c.SecureCookies}, "secure-cookies", "mark the web app's cookies Secure, so browsers send them over HTTPS only: true, false, or auto, which marks them when --public-url is https (env FANFARE_SECURE_COOKIES)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("FANFARE_METRICS_ADDR", DefaultMetricsAddr), "listen address of the Prometheus metrics (GET /metrics, no authentication); off for none (env FANFARE_METRICS_ADDR)")
	c.MetricsToken = env("FANFARE_METRICS_TOKEN", "")
	fs.Var(secretFlag{&c.MetricsToken}, "metrics-token", "serve /metrics on the main listener too, to requests with \"Authorization: Bearer <token>\"; unset, it is not found there (env FANFARE_METRICS_TOKEN)")
	c.SecretKey = env("FANFARE_SECRET_KEY", "")
	fs.Var(secretFlag{&c.SecretKey}, "secret-key", "signs the web forms' anti-forgery tokens: 32 bytes or more, hex or base64 (openssl rand -hex 32); every node behind one load balancer needs the same; default: generated once into secret.key under the data directory (env FANFARE_SECRET_KEY)")
	fs.IntVar(&c.AuthAttemptsPerMinute, "auth-attempts-per-minute", envInt("FANFARE_AUTH_ATTEMPTS_PER_MINUTE", ratelimit.DefaultAttemptsPerMinute), "log-ins and sign-ups one client address may try per minute, API and web forms together; 0 for no limit (env FANFARE_AUTH_ATTEMPTS_PER_MINUTE)")
	fs.IntVar(&c.AuthBurst, "auth-burst", envInt("FANFARE_AUTH_BURST", ratelimit.DefaultBurst), "log-ins and sign-ups one client address may try at once before the per-minute rate applies (env FANFARE_AUTH_BURST)")
	fs.IntVar(&c.LoginFailures, "login-failures", envInt("FANFARE_LOGIN_FAILURES", ratelimit.DefaultLoginFailures), "failed log-ins one handle may have in --login-failure-window, from any address; a success clears them; 0 for no limit (env FANFARE_LOGIN_FAILURES)")
	fs.DurationVar(&c.LoginFailureWindow, "login-failure-window", envDuration("FANFARE_LOGIN_FAILURE_WINDOW", ratelimit.DefaultLoginFailureWindow), "the window of --login-failures (env FANFARE_LOGIN_FAILURE_WINDOW)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", env("FANFARE_TRUSTED_PROXIES", ""), "comma-separated addresses or networks (127.0.0.1,10.0.0.0/8) of the reverse proxies in front of Fanfare: the limits count their requests against the client X-Forwarded-For names; default none: the connection's address (env FANFARE_TRUSTED_PROXIES)")
	fs.IntVar(&c.PasswordHashes, "password-hashes", envInt("FANFARE_PASSWORD_HASHES", account.DefaultHashes()), "password hashes (argon2id, 19 MiB each) computed at once (env FANFARE_PASSWORD_HASHES)")
	fs.IntVar(&c.PasswordHashMemory, "password-hash-memory", envInt("FANFARE_PASSWORD_HASH_MEMORY", int(account.DefaultHashCost.Memory)), "memory of a new password hash (argon2id), in KiB; below the default (the OWASP baseline) only for tests and load tests (env FANFARE_PASSWORD_HASH_MEMORY)")
	fs.IntVar(&c.PasswordHashTime, "password-hash-time", envInt("FANFARE_PASSWORD_HASH_TIME", int(account.DefaultHashCost.Time)), "passes of a new password hash (argon2id); below the default only for tests and load tests (env FANFARE_PASSWORD_HASH_TIME)")
	fs.IntVar(&c.PasswordHashQueue, "password-hash-queue", envInt("FANFARE_PASSWORD_HASH_QUEUE", account.DefaultHashQueue), "log-ins and sign-ups that may wait for a password hash; beyond them the server answers 503 unavailable with Retry-After (env FANFARE_PASSWORD_HASH_QUEUE)")
	fs.BoolVar(&c.Migrate, "migrate", envBool("FANFARE_MIGRATE", true), "apply pending migrations at start (env FANFARE_MIGRATE)")
	fs.BoolVar(&c.Jobs, "jobs", envBool("FANFARE_JOBS", true), "run the background jobs (deadlines and their sweeps) on this server; with false it still schedules them, for another server sharing the PostgreSQL database to run (env FANFARE_JOBS)")
	fs.IntVar(&c.WebhookWorkers, "webhook-workers", envInt("FANFARE_WEBHOOK_WORKERS", 8), "webhook deliveries this server sends at once (env FANFARE_WEBHOOK_WORKERS)")
	fs.IntVar(&c.WebhookEndpointWorkers, "webhook-endpoint-workers", envInt("FANFARE_WEBHOOK_ENDPOINT_WORKERS", 4), "webhook deliveries this server sends at once to one endpoint (env FANFARE_WEBHOOK_ENDPOINT_WORKERS)")
	fs.BoolVar(&c.WebhookAllowHTTP, "webhook-allow-http", envBool("FANFARE_WEBHOOK_ALLOW_HTTP", false), "allow webhook endpoints with plain http:// URLs anywhere, not only to this machine's loopback interface (env FANFARE_WEBHOOK_ALLOW_HTTP)")
	fs.StringVar(&c.WebhookAllowPrivate, "webhook-allow-private", env("FANFARE_WEBHOOK_ALLOW_PRIVATE", ""), "let webhook endpoints reach private and special addresses: true for all, or comma-separated CIDR prefixes such as 10.20.0.0/16; default none (env FANFARE_WEBHOOK_ALLOW_PRIVATE)")
	fs.IntVar(&c.JobWorkers, "job-workers", envInt("FANFARE_JOB_WORKERS", 0), "background jobs (deadlines, sweeps) this server runs at once; 0 for the default: 4 on PostgreSQL, 2 on SQLite (env FANFARE_JOB_WORKERS)")
	c.StripeSecretKey = env("FANFARE_STRIPE_SECRET_KEY", "")
	fs.Var(secretFlag{&c.StripeSecretKey}, "stripe-secret-key", "Stripe secret API key; turns the stripe payment provider on (env FANFARE_STRIPE_SECRET_KEY)")
	c.StripeWebhookSecret = env("FANFARE_STRIPE_WEBHOOK_SECRET", "")
	fs.Var(secretFlag{&c.StripeWebhookSecret}, "stripe-webhook-secret", "signing secret of the Stripe webhook endpoint POST /v1/webhooks/stripe, required with the secret key (env FANFARE_STRIPE_WEBHOOK_SECRET)")
	fs.StringVar(&c.StripeAPIBase, "stripe-api-base", env("FANFARE_STRIPE_API_BASE", payment.DefaultStripeAPIBase), "base URL of the Stripe API (env FANFARE_STRIPE_API_BASE)")
	fs.StringVar(&c.CORSOrigins, "cors-origins", env("FANFARE_CORS_ORIGINS", ""), "comma-separated web origins (https://app.example.com, scheme and host only, no wildcard) whose pages may call the /v1/ API from a browser with a token in Authorization; the session cookie stays same-origin only; default none (env FANFARE_CORS_ORIGINS)")
	fs.StringVar(&c.BlobURL, "blob-url", env("FANFARE_BLOB_URL", ""), "where uploaded files (videos) are stored: file:///var/lib/fanfare/blobs, or an S3-compatible bucket such as s3://fanfare-media?region=eu-central-1&endpoint=https://s3.example.com&use_path_style=true (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the AWS shared files); default: the folder blobs under the data directory, created if missing (env FANFARE_BLOB_URL)")
	fs.StringVar(&c.NATSURL, "nats-url", env("FANFARE_NATS_URL", ""), "NATS servers carrying the LIVE rooms' events between the nodes that share one PostgreSQL database: nats://host:4222, comma-separated for a cluster, with user:password@ or a token in the URL if NATS asks for one, tls:// for TLS; default none: one node (env FANFARE_NATS_URL)")
	fs.StringVar(&c.NATSCreds, "nats-creds", env("FANFARE_NATS_CREDS", ""), "NATS credentials file (a user JWT and its NKey seed) (env FANFARE_NATS_CREDS)")
	fs.StringVar(&c.NATSTLSCA, "nats-tls-ca", env("FANFARE_NATS_TLS_CA", ""), "PEM file of the CAs that sign the NATS servers' certificates (env FANFARE_NATS_TLS_CA)")
	fs.StringVar(&c.NATSTLSCert, "nats-tls-cert", env("FANFARE_NATS_TLS_CERT", ""), "client certificate for NATS (mutual TLS), with --nats-tls-key (env FANFARE_NATS_TLS_CERT)")
	fs.StringVar(&c.NATSTLSKey, "nats-tls-key", env("FANFARE_NATS_TLS_KEY", ""), "the client certificate's key (env FANFARE_NATS_TLS_KEY)")
	fs.StringVar(&c.Node, "node", env("FANFARE_NODE", ""), "this node's name among the nodes sharing the database, in NATS and the logs; default the host name (env FANFARE_NODE)")
	fs.StringVar(&c.PublicURL, "public-url", env("FANFARE_PUBLIC_URL", ""), "public base URL of this server, where Stripe Checkout sends buyers back (env FANFARE_PUBLIC_URL; default http:// and the listen address)")
}

// secretFlag is a string flag whose value --help never prints, even when
// it comes from the environment.
type secretFlag struct{ p *string }

// String returns "": the value is secret.
func (secretFlag) String() string { return "" }

// Set stores v.
func (f secretFlag) Set(v string) error {
	*f.p = v
	return nil
}

// stripeConfig returns the Stripe provider's configuration, or ok false
// when Stripe is off. publicURL is the server's base URL. It fails when
// only one of the two secrets is set or the URLs are not http(s) URLs.
func (c *Config) stripeConfig(publicURL string) (cfg payment.StripeConfig, ok bool, err error) {
	switch {
	case c.StripeSecretKey == "" && c.StripeWebhookSecret == "":
		return payment.StripeConfig{}, false, nil
	case c.StripeSecretKey == "":
		return payment.StripeConfig{}, false, errors.New("--stripe-webhook-secret is set but --stripe-secret-key is not (FANFARE_STRIPE_SECRET_KEY): set both to take payments with Stripe")
	case c.StripeWebhookSecret == "":
		return payment.StripeConfig{}, false, errors.New("--stripe-secret-key is set but --stripe-webhook-secret is not (FANFARE_STRIPE_WEBHOOK_SECRET): without it no Stripe payment would ever be credited")
	}
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return payment.StripeConfig{}, false, fmt.Errorf("--public-url must be an http(s) base URL such as https://fanfare.example.com, not %q", publicURL)
	}
	base := strings.TrimRight(publicURL, "/")
	return payment.StripeConfig{
		SecretKey:     c.StripeSecretKey,
		WebhookSecret: c.StripeWebhookSecret,
		APIBase:       c.StripeAPIBase,
		SuccessURL:    base + "/wallet?purchase=" + payment.PurchasePlaceholder,
		CancelURL:     base + "/wallet?purchase=" + payment.PurchasePlaceholder + "&cancelled=1",
	}, true, nil
}

// limits returns the operator's limits, checked against catalog.
func (c *Config) limits(catalog *wallet.Catalog) (*wallet.Limits, error) {
	l := &wallet.Limits{DailySpend: fanfare.Amount(c.DailySpendLimit), PurchasesPerHour: c.PurchasesPerHour}
	if c.DailySpendLimit < 0 || fanfare.Amount(c.DailySpendLimit) > fanfare.MaxAmount {
		return nil, fmt.Errorf("--daily-spend-limit (FANFARE_DAILY_SPEND_LIMIT): %d is not a coin amount", c.DailySpendLimit)
	}
	if c.PurchasesPerHour < 0 {
		return nil, fmt.Errorf("--purchases-per-hour (FANFARE_PURCHASES_PER_HOUR) must be 0 or more")
	}
	for _, m := range []struct {
		dst        *wallet.Money
		value, set string
	}{
		{&l.PurchaseDaily, c.PurchaseDailyLimit, "--purchase-daily-limit (FANFARE_PURCHASE_DAILY_LIMIT)"},
		{&l.MinorPurchaseDaily, c.MinorPurchaseDailyLimit, "--minor-purchase-daily-limit (FANFARE_MINOR_PURCHASE_DAILY_LIMIT)"},
	} {
		v, err := wallet.ParseMoney(m.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.set, err)
		}
		if v.Amount > 0 {
			if _, err := catalog.List(v.Currency); err != nil {
				return nil, fmt.Errorf("%s: coins are not sold in %s", m.set, v.Currency)
			}
		}
		*m.dst = v
	}
	return l, nil
}

// dbURL returns the database URL, defaulting to name under the data
// directory.
func (c *Config) dbURL(name string) (string, error) {
	if c.DB != "" {
		return c.DB, nil
	}
	abs, err := filepath.Abs(filepath.Join(c.Data, name))
	if err != nil {
		return "", err
	}
	return "sqlite://" + abs, nil
}

// blobURL returns the blob store's URL: --blob-url, checked, or the folder
// blobs under the data directory, which it creates. Temporary files of
// uploads in progress stay in that folder (no_tmp_dir), so that finishing
// an upload is a rename on one file system.
func (c *Config) blobURL() (string, error) {
	if c.BlobURL != "" {
		if err := blob.CheckURL(c.BlobURL); err != nil {
			return "", fmt.Errorf("--blob-url (FANFARE_BLOB_URL): %w", err)
		}
		return c.BlobURL, nil
	}
	dir, err := filepath.Abs(filepath.Join(c.Data, "blobs"))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("create the blob folder: %w", err)
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir), RawQuery: "no_tmp_dir=true"}).String(), nil
}

// logger builds the process logger on w.
func (c *Config) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.LogFormat) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", c.LogFormat)
}

// newFlagSet returns a flag set whose --help prints the command's synopsis
// and its flags.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", strings.TrimSpace(synopsis))
		fs.PrintDefaults()
	}
	return fs
}

// noArgs fails when a command got positional arguments it does not take.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (see --help)", fs.Name(), fs.Arg(0))
	}
	return nil
}

// eligibilityRules reads the rules of --eligibility-file, if any, with
// the fan regions --shoutout-blocked-fan-regions blocks from Shoutouts.
func (c *Config) eligibilityRules() ([]eligibility.Rule, error) {
	rules, err := c.fileRules()
	if err != nil || strings.TrimSpace(c.ShoutoutBlockedFanRegions) == "" {
		return rules, err
	}
	var blocked []string
	for r := range strings.SplitSeq(c.ShoutoutBlockedFanRegions, ",") {
		if r = strings.ToUpper(strings.TrimSpace(r)); r != "" {
			blocked = append(blocked, r)
		}
	}
	i := slices.IndexFunc(rules, func(r eligibility.Rule) bool { return r.Feature == eligibility.Shoutouts })
	if i < 0 {
		for _, r := range eligibility.DefaultRules() {
			if r.Feature == eligibility.Shoutouts {
				rules, i = append(rules, r), len(rules)
			}
		}
	}
	rules[i].FanRegionsBlocked = append(rules[i].FanRegionsBlocked, blocked...)
	if err := rules[i].Normalize(); err != nil {
		return nil, fmt.Errorf("--shoutout-blocked-fan-regions (FANFARE_SHOUTOUT_BLOCKED_FAN_REGIONS): %w", err)
	}
	return rules, nil
}

// shoutoutMaxVideo is --shoutout-max-video in bytes (0 when unset: the
// default).
func (c *Config) shoutoutMaxVideo() (int64, error) {
	if c.ShoutoutMaxVideo == "" {
		return 0, nil
	}
	n, err := parseSize(c.ShoutoutMaxVideo)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("--shoutout-max-video (FANFARE_SHOUTOUT_MAX_VIDEO) %q: want a size such as 200MB", c.ShoutoutMaxVideo)
	}
	return n, nil
}

// postMaxMedia is --post-max-media in bytes (0 when unset: the default).
func (c *Config) postMaxMedia() (int64, error) {
	if c.PostMaxMedia == "" {
		return 0, nil
	}
	n, err := parseSize(c.PostMaxMedia)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("--post-max-media (FANFARE_POST_MAX_MEDIA) %q: want a size such as 200MB", c.PostMaxMedia)
	}
	return n, nil
}

// sizeUnits are the units parseSize knows, in bytes.
var sizeUnits = map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30}

// parseSize reads a size: a whole number of bytes, or with a unit ("200MB",
// "1.5 GB", "64 MiB").
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToUpper(strings.TrimSpace(s[i:]))
	}
	mult, ok := sizeUnits[unit]
	if !ok || num == "" {
		return 0, fmt.Errorf("unknown size %q", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || v*float64(mult) > float64(fanfare.MaxAmount) {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(v * float64(mult)), nil
}

// fileRules reads the rules of --eligibility-file, if any.
func (c *Config) fileRules() ([]eligibility.Rule, error) {
	if c.EligibilityFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.EligibilityFile)
	if err != nil {
		return nil, fmt.Errorf("--eligibility-file (FANFARE_ELIGIBILITY_FILE): %w", err)
	}
	var f struct {
		Rules []eligibility.Rule `json:"rules"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("--eligibility-file (FANFARE_ELIGIBILITY_FILE) %s: %w", c.EligibilityFile, err)
	}
	return f.Rules, nil
}

// subscriptionPeriod is --subscription-period as subscription.Options
// takes it: 0 for a calendar month, else the fixed duration.
func (c *Config) subscriptionPeriod() (time.Duration, error) {
	switch p := strings.TrimSpace(strings.ToLower(c.SubscriptionPeriod)); p {
	case "", "month":
		return 0, nil
	default:
		d, err := time.ParseDuration(p)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("--subscription-period (FANFARE_SUBSCRIPTION_PERIOD) %q: want month or a duration such as 30s", c.SubscriptionPeriod)
		}
		return d, nil
	}
}

// hashCost is the cost of new password hashes, checked.
func (c *Config) hashCost() (account.HashCost, error) {
	cost := account.HashCost{Memory: uint32(max(c.PasswordHashMemory, 0)), Time: uint32(max(c.PasswordHashTime, 0))}
	if !cost.Valid() {
		return cost, fmt.Errorf("--password-hash-memory %d and --password-hash-time %d: want at least %d KiB and %d pass, at most 4 GiB",
			c.PasswordHashMemory, c.PasswordHashTime, account.MinHashCost.Memory, account.MinHashCost.Time)
	}
	return cost, nil
}

// Stripe's payout provider is a payout.Provider and a payout.Connector.
var _ interface {
	payout.Provider
	payout.Connector
} = (*payment.StripePayouts)(nil)

// payouts is the payout configuration as payout.Options.
func (c *Config) payouts() (payout.Options, error) {
	rates, err := payout.ParseRates(c.PayoutRates)
	if err != nil {
		return payout.Options{}, fmt.Errorf("--payout-rates (FANFARE_PAYOUT_RATES): %w", err)
	}
	if c.PayoutHold <= 0 {
		return payout.Options{}, fmt.Errorf("--payout-hold (FANFARE_PAYOUT_HOLD) %s: want a positive duration, e.g. 168h", c.PayoutHold)
	}
	if c.PayoutMin <= 0 || fanfare.Amount(c.PayoutMin) > fanfare.MaxAmount {
		return payout.Options{}, fmt.Errorf("--payout-min (FANFARE_PAYOUT_MIN) %d: want a positive number of diamonds", c.PayoutMin)
	}
	if c.PayoutDailyMax < c.PayoutMin || fanfare.Amount(c.PayoutDailyMax) > fanfare.MaxAmount {
		return payout.Options{}, fmt.Errorf("--payout-daily-max (FANFARE_PAYOUT_DAILY_MAX) %d: want at least the minimum (%d)", c.PayoutDailyMax, c.PayoutMin)
	}
	o := payout.Options{Rates: rates, Hold: c.PayoutHold, Min: fanfare.Amount(c.PayoutMin), DailyMax: fanfare.Amount(c.PayoutDailyMax),
		PublicURL: strings.TrimRight(c.PublicURL, "/")}
	switch c.PayoutProvider {
	case payout.SandboxName:
	case payout.StripeName:
		if c.StripeSecretKey == "" {
			return payout.Options{}, errors.New("--payout-provider stripe needs --stripe-secret-key (FANFARE_STRIPE_SECRET_KEY)")
		}
		st, err := payment.NewStripePayouts(c.StripeSecretKey, c.StripeAPIBase, nil)
		if err != nil {
			return payout.Options{}, err
		}
		o.Provider = st
	default:
		return payout.Options{}, fmt.Errorf("--payout-provider (FANFARE_PAYOUT_PROVIDER) %q: want sandbox or stripe", c.PayoutProvider)
	}
	return o, nil
}

// hostJWT returns the options of the host JWT verifier; none set, none.
func (c *Config) hostJWT() (hostjwt.Options, error) {
	o := hostjwt.Options{Secret: []byte(c.JWTSecret), JWKSURL: c.JWTJWKSURL, Issuer: c.JWTIssuer, Audience: c.JWTAudience}
	if c.JWTSecret == "" {
		o.Secret = nil
	}
	if o.Secret != nil && len(o.Secret) < hostjwt.MinSecret {
		return o, fmt.Errorf("--jwt-secret (FANFARE_JWT_SECRET) must be at least %d bytes long", hostjwt.MinSecret)
	}
	if o.JWKSURL != "" {
		u, err := url.Parse(o.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return o, fmt.Errorf("--jwt-jwks-url (FANFARE_JWT_JWKS_URL) must be an http:// or https:// URL, got %q", o.JWKSURL)
		}
	}
	if o.Secret == nil && o.JWKSURL == "" && (o.Issuer != "" || o.Audience != "") {
		return o, errors.New("--jwt-issuer and --jwt-audience need --jwt-secret or --jwt-jwks-url (FANFARE_JWT_SECRET, FANFARE_JWT_JWKS_URL)")
	}
	return o, nil
}

// webhookGuard returns the webhook endpoints' SSRF guard the settings
// describe.
func (c *Config) webhookGuard() (*webhook.Guard, error) {
	all, prefixes, err := webhook.ParseAllowPrivate(c.WebhookAllowPrivate)
	if err != nil {
		return nil, fmt.Errorf("--webhook-allow-private (FANFARE_WEBHOOK_ALLOW_PRIVATE): %w", err)
	}
	return &webhook.Guard{AllowHTTP: c.WebhookAllowHTTP, AllowPrivate: all, Allow: prefixes}, nil
}

// nats returns the broker's options: nil without --nats-url. NATS carries
// events between nodes sharing one PostgreSQL database: on SQLite there is
// one node, and nothing to carry.
func (c *Config) nats(dialect store.Dialect) (*broker.Options, error) {
	if c.NATSURL == "" {
		if c.NATSCreds != "" || c.NATSTLSCA != "" || c.NATSTLSCert != "" || c.NATSTLSKey != "" {
			return nil, errors.New("--nats-creds and --nats-tls-* need --nats-url (FANFARE_NATS_URL)")
		}
		return nil, nil
	}
	if dialect != store.Postgres {
		return nil, errors.New("--nats-url (FANFARE_NATS_URL) joins nodes that share one PostgreSQL database; on SQLite one node serves alone: set FANFARE_DB=postgres://... or drop FANFARE_NATS_URL")
	}
	node := c.Node
	if node == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "fanfare"
		}
		node = h + "-" + strconv.Itoa(os.Getpid())
	}
	return &broker.Options{URL: c.NATSURL, Creds: c.NATSCreds, TLSCA: c.NATSTLSCA, TLSCert: c.NATSTLSCert, TLSKey: c.NATSTLSKey, Node: node}, nil
}
