package webhook

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/store"
)

// The states of an endpoint.
const (
	Active     = "active"      // events are delivered
	Paused     = "paused"      // paused by the operator: deliveries wait
	AutoPaused = "auto_paused" // failing for AutoPauseAfter: deliveries wait
	Disabled   = "disabled"    // it answered 410 Gone: nothing more is sent
)

// AllEvents subscribes an endpoint to every event type.
const AllEvents = "*"

// EventTypes lists the event types an endpoint may subscribe to
// (outbox.Types).
var EventTypes = outbox.Types

// SecretOverlap is how long the secret replaced by a rotation keeps
// signing deliveries alongside the new one.
const SecretOverlap = 24 * time.Hour

// secretBytes is the length of a signing secret's key (Standard Webhooks
// asks for 24 to 64 bytes).
const secretBytes = 32

// Endpoint is where the host app receives events.
type Endpoint struct {
	ID          string
	URL         string
	Description string
	Events      []string // event types (outbox.Types), or ["*"]
	State       string   // Active, Paused, AutoPaused or Disabled
	StateReason string   // why it is paused or disabled
	// FailingSince is the first failed attempt since the last success
	// (zero when the last attempt succeeded).
	FailingSince time.Time
	// PreviousSecretUntil is when the secret replaced by the last rotation
	// stops signing (zero: no rotation in progress).
	PreviousSecretUntil time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time

	secret, oldSecret string
}

// Subscribes reports whether e wants events of type typ.
func (e Endpoint) Subscribes(typ string) bool {
	return slices.Contains(e.Events, AllEvents) || slices.Contains(e.Events, typ)
}

// view is what the audit log records of an endpoint (no secret).
func (e Endpoint) view() map[string]any {
	return map[string]any{"url": e.URL, "description": e.Description, "events": e.Events, "state": e.State, "state_reason": e.StateReason}
}

// Options configure a Service. Clock is required; the zero value of the
// others is their default.
type Options struct {
	Clock  fanfare.Clock
	Logger *slog.Logger
	// Guard decides which URLs and addresses endpoints may have; the zero
	// Guard refuses private addresses and plain http:// off loopback.
	Guard *Guard
	// Workers is the most deliveries this server sends at once (default
	// 8); EndpointWorkers the most to one endpoint at once (default 4).
	Workers, EndpointWorkers int
	// Batch is the most events dispatched, and deliveries sent, per round
	// (default 256).
	Batch int
	// Poll is how long the delivery loop waits when it found nothing to do
	// (default 50 ms).
	Poll time.Duration
	// Timeout bounds one attempt (default 15 s).
	Timeout time.Duration
	// Metrics receive the deliveries' counts, latencies and lag; nil
	// records nothing.
	Metrics *Metrics
	// Transport, when set, sends the deliveries in place of the guarded
	// transport (tests only: it bypasses the connection-time guard).
	Transport http.RoundTripper
}

// Service keeps the endpoints and delivers the outbox's events to them.
type Service struct {
	db     *store.DB
	clock  fanfare.Clock
	log    *slog.Logger
	guard  *Guard
	opts   Options
	client *http.Client

	mu      sync.Mutex
	running bool
	stop    context.CancelFunc // stops claiming new work
	abort   context.CancelFunc // cancels the attempts in flight
	done    chan struct{}
	epSem   map[string]chan struct{}
	sem     chan struct{} // the workers: one token per attempt in flight
	// leased counts, per event this server leased from the outbox, its
	// first attempts not yet recorded (see dispatch and record).
	leased map[string]int
}

// New returns the service on db (migrated).
func New(db *store.DB, opts Options) (*Service, error) {
	if db == nil || opts.Clock == nil {
		return nil, errors.New("webhook: New needs a database and a clock")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Guard == nil {
		opts.Guard = &Guard{}
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.EndpointWorkers <= 0 {
		opts.EndpointWorkers = 4
	}
	if opts.Batch <= 0 {
		opts.Batch = 256
	}
	if opts.Poll <= 0 {
		opts.Poll = 50 * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	rt := opts.Transport
	if rt == nil {
		rt = &http.Transport{
			DialContext:           opts.Guard.dialer(opts.Timeout),
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          4 * opts.Workers,
			MaxIdleConnsPerHost:   opts.EndpointWorkers,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   opts.Timeout,
			ResponseHeaderTimeout: opts.Timeout,
		}
	}
	return &Service{db: db, clock: opts.Clock, log: opts.Logger, guard: opts.Guard, opts: opts,
		client: &http.Client{Transport: rt, Timeout: opts.Timeout,
			// A redirect is an answer, not a success: following it
			// would let an endpoint send deliveries anywhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		epSem: map[string]chan struct{}{}, sem: make(chan struct{}, opts.Workers), leased: map[string]int{}}, nil
}

// Input is an endpoint's fields as given to Create and Update. In Update,
// a nil field is left as it is.
type Input struct {
	URL         *string
	Description *string
	Events      []string // nil: unchanged
	Paused      *bool
}

// checkEvents returns events cleaned (deduplicated, in the documented
// order), or a validation_failed error naming an unknown type.
func checkEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, fanfare.Errorf(fanfare.EInvalid, "events: give at least one event type, or \"*\" for all")
	}
	seen := map[string]bool{}
	for _, e := range events {
		if e == AllEvents {
			if len(events) > 1 {
				return nil, fanfare.Errorf(fanfare.EInvalid, "events: \"*\" already means every type; give it alone")
			}
			return []string{AllEvents}, nil
		}
		if !outbox.Known(e) {
			return nil, fanfare.Errorf(fanfare.EInvalid, "events: unknown event type %q (the types are %s)", e, strings.Join(outbox.Types, ", "))
		}
		seen[e] = true
	}
	var out []string
	for _, t := range outbox.Types {
		if seen[t] {
			out = append(out, t)
		}
	}
	return out, nil
}

func checkDescription(d string) error {
	if len(d) > 500 {
		return fanfare.Errorf(fanfare.EInvalid, "description: longer than 500 characters")
	}
	return nil
}

// NewSecret returns a new signing secret: "whsec_" and the base64 of 32
// random bytes.
func NewSecret() string {
	b := make([]byte, secretBytes)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// Create registers an endpoint for events at url and returns it with its
// signing secret, which is shown only here.
//
// Codes: validation_failed (a URL the guard refuses, an unknown event type,
// a description too long).
func (s *Service) Create(ctx context.Context, a fanfare.Actor, in Input) (Endpoint, string, error) {
	var e Endpoint
	if in.URL == nil {
		return e, "", fanfare.Errorf(fanfare.EInvalid, "url: required")
	}
	u, err := s.guard.CheckURL(ctx, *in.URL)
	if err != nil {
		return e, "", err
	}
	events, err := checkEvents(in.Events)
	if err != nil {
		return e, "", err
	}
	if in.Description != nil {
		if err := checkDescription(*in.Description); err != nil {
			return e, "", err
		}
		e.Description = *in.Description
	}
	now := s.clock.Now().UTC()
	e.ID, e.URL, e.Events, e.State = "whe_"+fanfare.NewID(s.clock), u, events, Active
	if in.Paused != nil && *in.Paused {
		e.State = Paused
	}
	e.CreatedAt, e.UpdatedAt, e.secret = now, now, NewSecret()
	ev, _ := json.Marshal(e.Events)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_endpoints (id, url, description, events, secret, state, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, e.ID, e.URL, e.Description, string(ev), e.secret, e.State, now.UnixMicro()); err != nil {
			return fmt.Errorf("create webhook endpoint: %w", err)
		}
		return s.audit(ctx, tx, a, "webhook.create", e.ID, nil, e.view())
	})
	if err != nil {
		return Endpoint{}, "", err
	}
	return e, e.secret, nil
}

const endpointColumns = `id, url, description, events, secret, old_secret, old_secret_until, state, state_reason, failing_since, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanEndpoint(r scanner) (Endpoint, error) {
	var e Endpoint
	var events string
	var until, failing, created, updated int64
	if err := r.Scan(&e.ID, &e.URL, &e.Description, &events, &e.secret, &e.oldSecret, &until, &e.State, &e.StateReason, &failing, &created, &updated); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(events), &e.Events); err != nil {
		return e, fmt.Errorf("endpoint %s: events: %w", e.ID, err)
	}
	e.PreviousSecretUntil = micros(until)
	e.FailingSince = micros(failing)
	e.CreatedAt, e.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return e, nil
}

// micros is the time of a Unix microseconds column, zero for 0.
func micros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// List returns every endpoint, oldest first (no secrets).
func (s *Service) List(ctx context.Context) ([]Endpoint, error) {
	rs, err := s.db.Read.QueryContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	defer rs.Close()
	out := []Endpoint{}
	for rs.Next() {
		e, err := scanEndpoint(rs)
		if err != nil {
			return nil, fmt.Errorf("list webhook endpoints: %w", err)
		}
		out = append(out, e)
	}
	return out, rs.Err()
}

// Get returns the endpoint id.
//
// Codes: not_found.
func (s *Service) Get(ctx context.Context, id string) (Endpoint, error) {
	return s.get(ctx, s.db.Read, id, "")
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Service) get(ctx context.Context, q querier, id, lock string) (Endpoint, error) {
	e, err := scanEndpoint(q.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fanfare.Errorf(fanfare.ENotFound, "no webhook endpoint %q", id)
	}
	if err != nil {
		return e, fmt.Errorf("get webhook endpoint: %w", err)
	}
	return e, nil
}

// Update changes the fields of in that are set. Paused true pauses the
// endpoint (its deliveries wait); false makes it active again, whatever
// paused or disabled it, and its waiting deliveries are sent.
//
// Codes: not_found, validation_failed.
func (s *Service) Update(ctx context.Context, a fanfare.Actor, id string, in Input) (Endpoint, error) {
	var u string
	var err error
	if in.URL != nil {
		if u, err = s.guard.CheckURL(ctx, *in.URL); err != nil {
			return Endpoint{}, err
		}
	}
	var events []string
	if in.Events != nil {
		if events, err = checkEvents(in.Events); err != nil {
			return Endpoint{}, err
		}
	}
	if in.Description != nil {
		if err := checkDescription(*in.Description); err != nil {
			return Endpoint{}, err
		}
	}
	var after Endpoint
	err = s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.get(ctx, tx, id, s.db.ForUpdate())
		if err != nil {
			return err
		}
		after = before
		if in.URL != nil {
			after.URL = u
		}
		if in.Events != nil {
			after.Events = events
		}
		if in.Description != nil {
			after.Description = *in.Description
		}
		now := s.clock.Now().UTC()
		if in.Paused != nil {
			switch {
			case *in.Paused && after.State != Paused:
				after.State, after.StateReason = Paused, "paused by "+a.ID()
			case !*in.Paused && after.State != Active:
				after.State, after.StateReason, after.FailingSince = Active, "", time.Time{}
			}
		}
		after.UpdatedAt = now
		ev, _ := json.Marshal(after.Events)
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = $1, description = $2, events = $3, state = $4, state_reason = $5,
			failing_since = $6, updated_at = $7 WHERE id = $8`,
			after.URL, after.Description, string(ev), after.State, after.StateReason, unixMicro(after.FailingSince), now.UnixMicro(), id); err != nil {
			return fmt.Errorf("update webhook endpoint: %w", err)
		}
		if before.State != Active && after.State == Active {
			// Deliveries that waited are due now, each with the rest
			// of its window.
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE endpoint_id = $2 AND state = 'pending' AND next_attempt_at > $1`,
				now.UnixMicro(), id); err != nil {
				return fmt.Errorf("resume webhook endpoint: %w", err)
			}
		}
		return s.audit(ctx, tx, a, "webhook.update", id, before.view(), after.view())
	})
	return after, err
}

func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// Rotate gives the endpoint a new signing secret, returned only here. The
// previous one keeps signing alongside it (two signatures in
// webhook-signature) for SecretOverlap, so the host can switch without
// missing an event.
//
// Codes: not_found.
func (s *Service) Rotate(ctx context.Context, a fanfare.Actor, id string) (Endpoint, string, error) {
	var e Endpoint
	secret := NewSecret()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if e, err = s.get(ctx, tx, id, s.db.ForUpdate()); err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		e.oldSecret, e.secret = e.secret, secret
		e.PreviousSecretUntil, e.UpdatedAt = now.Add(SecretOverlap), now
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET secret = $1, old_secret = $2, old_secret_until = $3, updated_at = $4 WHERE id = $5`,
			e.secret, e.oldSecret, e.PreviousSecretUntil.UnixMicro(), now.UnixMicro(), id); err != nil {
			return fmt.Errorf("rotate webhook secret: %w", err)
		}
		return s.audit(ctx, tx, a, "webhook.rotate", id, nil, map[string]any{"previous_secret_until": e.PreviousSecretUntil})
	})
	if err != nil {
		return Endpoint{}, "", err
	}
	return e, secret, nil
}

// Delete removes the endpoint, its waiting deliveries and its log.
//
// Codes: not_found.
func (s *Service) Delete(ctx context.Context, a fanfare.Actor, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.get(ctx, tx, id, s.db.ForUpdate())
		if err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM webhook_attempts WHERE endpoint_id = $1`, `DELETE FROM webhook_deliveries WHERE endpoint_id = $1`,
			`DELETE FROM webhook_endpoints WHERE id = $1`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete webhook endpoint: %w", err)
			}
		}
		return s.audit(ctx, tx, a, "webhook.delete", id, before.view(), nil)
	})
}

// audit writes the audit entry of a change to endpoint id in tx.
func (s *Service) audit(ctx context.Context, tx *sql.Tx, a fanfare.Actor, action, id string, before, after any) error {
	d, err := json.Marshal(map[string]any{"before": before, "after": after})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if after == nil {
		after = map[string]any{"deleted": true} // a deleted endpoint's state
	}
	return audit.Write(ctx, tx, audit.Entry{ID: fanfare.NewID(s.clock), Actor: a.ID(), Action: action, Object: "webhook:" + id,
		Details: d, Before: audit.Marshal(before), After: audit.Marshal(after), CreatedAt: s.clock.Now()})
}

// tx runs fn in a write transaction.
func (s *Service) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("webhook: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("webhook: commit: %w", err)
	}
	return nil
}
