package settings

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/store"
)

// PollInterval is how often a Service reads the stored version to apply a
// change made on another node: a change is in force on every node within
// PollInterval and the time to apply it, well under 2 seconds.
const PollInterval = 500 * time.Millisecond

// Object is the audit log's object of the settings' changes; Action the
// action of a change.
const (
	Object = "settings"
	Action = "settings.update"
)

// EnvActor is the updated_by of the document the first server wrote from
// its environment and flags.
const EnvActor = "config:environment"

// Current is the document in force and its version.
type Current struct {
	Settings  Settings
	Version   int64
	UpdatedAt time.Time
	UpdatedBy string
}

// Apply puts a document in force on this node's services. It is given
// valid documents only; an error leaves the node on the document it had.
type Apply func(Settings) error

// Options configure a Service.
type Options struct {
	Clock  fanfare.Clock // required
	Logger *slog.Logger  // default: discarded
	// Poll is how often the stored version is read (default
	// PollInterval).
	Poll time.Duration
}

// Service keeps the stored settings in force on this node: it writes the
// defaults at first start, applies the stored document at start, applies
// an operator's change at once on the node that made it and polls for the
// changes made elsewhere.
type Service struct {
	db    *store.DB
	clock fanfare.Clock
	log   *slog.Logger
	apply Apply
	poll  time.Duration

	defaults Settings    // the environment's, stored at the first start
	unstored atomic.Bool // the table is not there yet: pending migrations
	cur      atomic.Pointer[Current]
	mu       sync.Mutex // serializes applying, so that an older version never wins
	cancel   context.CancelFunc
	done     chan struct{}
}

// Open reads the stored settings, writing defaults first when none are
// stored (the first start: the environment and flags give them), applies
// the stored ones through apply, and returns the Service. It logs which
// document is in force, and a warning for each default that differs from
// the stored value (the stored value wins). Start starts polling.
func Open(ctx context.Context, db *store.DB, defaults Settings, apply Apply, opts Options) (*Service, error) {
	if opts.Clock == nil {
		panic("settings: Open needs Options.Clock")
	}
	if apply == nil {
		panic("settings: Open needs an Apply")
	}
	s := &Service{db: db, clock: opts.Clock, log: opts.Logger, apply: apply, poll: opts.Poll}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.poll <= 0 {
		s.poll = PollInterval
	}
	defaults.Normalize()
	if err := defaults.Validate(); err != nil {
		return nil, fmt.Errorf("settings from the environment: %w", err)
	}
	s.defaults = defaults
	first, err := s.storeDefaults(ctx)
	if err != nil {
		// A server started before the migrations (--migrate=false, /readyz
		// says 503) runs on the environment's values until they are
		// applied and the defaults can be stored.
		if pending, perr := db.MigrationsPending(ctx); perr != nil || !pending {
			return nil, err
		}
		s.log.Warn("settings: migrations are pending; the environment's settings are in force until they are applied")
		s.unstored.Store(true)
		if err := s.put(&Current{Settings: defaults, UpdatedBy: EnvActor, UpdatedAt: s.clock.Now().UTC()}); err != nil {
			return nil, err
		}
		return s, nil
	}
	c, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	if first {
		s.log.Info("settings: first start, the environment's settings are stored and in force", "version", c.Version)
	} else {
		s.log.Info("settings: the stored settings are in force", "version", c.Version, "updated_at", c.UpdatedAt, "updated_by", c.UpdatedBy)
		for _, d := range Diff(c.Settings, defaults) {
			s.log.Warn("settings: the environment differs from the stored value, which wins; change it at /ops/config",
				"setting", d.Path, "stored", d.Before, "environment", d.After)
		}
	}
	if err := s.put(c); err != nil {
		return nil, err
	}
	return s, nil
}

// storeDefaults stores the environment's document as version 1 unless a
// document is stored, and reports whether it did.
func (s *Service) storeDefaults(ctx context.Context) (bool, error) {
	raw, _ := json.Marshal(s.defaults)
	res, err := s.db.Write.ExecContext(ctx, `INSERT INTO settings (id, version, document, updated_at, updated_by) VALUES (1, 1, $1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, string(raw), s.clock.Now().UTC().UnixMicro(), EnvActor)
	if err != nil {
		return false, fmt.Errorf("store the default settings: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Start polls the stored version until Close, applying a newer one.
func (s *Service) Start() {
	if s.done != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("settings: read the stored version", "err", err)
				}
			}
		}
	}()
}

// Close stops polling.
func (s *Service) Close() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
}

// Current returns the document in force on this node, a copy the caller
// may change.
func (s *Service) Current() Current {
	c := *s.cur.Load()
	c.Settings = c.Settings.Clone()
	return c
}

// Refresh reads the stored version and applies the stored document when it
// is newer than the one in force.
func (s *Service) Refresh(ctx context.Context) error {
	if s.unstored.Load() {
		if _, err := s.storeDefaults(ctx); err != nil {
			return nil // the migrations are still pending
		}
		s.unstored.Store(false)
		s.log.Info("settings: the migrations are applied; the stored settings are in force from now on")
	}
	var v int64
	if err := s.db.Read.QueryRowContext(ctx, `SELECT version FROM settings WHERE id = 1`).Scan(&v); err != nil {
		return fmt.Errorf("read the settings' version: %w", err)
	}
	if v <= s.cur.Load().Version {
		return nil
	}
	c, err := s.load(ctx)
	if err != nil {
		return err
	}
	if err := s.put(c); err != nil {
		return err
	}
	s.log.Info("settings: a newer version is in force", "version", c.Version, "updated_by", c.UpdatedBy)
	return nil
}

// load reads the stored document.
func (s *Service) load(ctx context.Context) (*Current, error) {
	var c Current
	var raw string
	var at int64
	err := s.db.Read.QueryRowContext(ctx, `SELECT version, document, updated_at, updated_by FROM settings WHERE id = 1`).
		Scan(&c.Version, &raw, &at, &c.UpdatedBy)
	if err != nil {
		return nil, fmt.Errorf("read the settings: %w", err)
	}
	if err := json.Unmarshal([]byte(raw), &c.Settings); err != nil {
		return nil, fmt.Errorf("read the settings (version %d): %w", c.Version, err)
	}
	c.UpdatedAt = time.UnixMicro(at).UTC()
	return &c, nil
}

// put applies c unless a version at least as new is in force.
func (s *Service) put(c *Current) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.cur.Load(); old != nil && old.Version >= c.Version {
		return nil
	}
	if err := c.Settings.Validate(); err != nil {
		// Written by a newer version of Fanfare, or by hand: keep what is
		// in force.
		return fmt.Errorf("settings version %d cannot be applied: %w", c.Version, err)
	}
	if err := s.apply(c.Settings); err != nil {
		return fmt.Errorf("apply settings version %d: %w", c.Version, err)
	}
	s.cur.Store(c)
	return nil
}

// Update replaces the whole document with next, for the operator, when the
// stored version is still version (optimistic concurrency). The change and
// an audit entry with the changed fields before and after commit together;
// the document is in force on this node when Update returns, and on the
// others within PollInterval. A document equal to the stored one changes
// nothing.
//
// Codes: forbidden (not the operator), validation_failed (an *Invalid
// naming the fields), conflict (the stored version is not version: another
// change came first).
func (s *Service) Update(ctx context.Context, actor fanfare.Actor, version int64, next Settings) (Current, error) {
	if !actor.IsOperator() {
		return Current{}, fanfare.Errorf(fanfare.EForbidden, "only the operator changes the settings")
	}
	next = next.Clone() // kept in force: the caller's copy stays theirs
	next.Normalize()
	if err := next.Validate(); err != nil {
		return Current{}, err
	}
	// The services' own checks, on copies: a document they would refuse
	// is refused before it is stored.
	if err := check(next); err != nil {
		return Current{}, err
	}
	raw, _ := json.Marshal(next)
	now := s.clock.Now().UTC()
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return Current{}, fmt.Errorf("update the settings: %w", err)
	}
	defer tx.Rollback()
	var beforeRaw string
	var stored int64
	if err := tx.QueryRowContext(ctx, `SELECT version, document FROM settings WHERE id = 1`).Scan(&stored, &beforeRaw); err != nil {
		return Current{}, fmt.Errorf("update the settings: %w", err)
	}
	if stored != version {
		return Current{}, conflict(version, stored)
	}
	var before Settings
	if err := json.Unmarshal([]byte(beforeRaw), &before); err != nil {
		return Current{}, fmt.Errorf("update the settings: %w", err)
	}
	changes := Diff(before, next)
	if len(changes) == 0 {
		if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
			return Current{}, err
		}
		_ = s.Refresh(ctx)
		return s.Current(), nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE settings SET version = version + 1, document = $1, updated_at = $2, updated_by = $3
		WHERE id = 1 AND version = $4`, string(raw), now.UnixMicro(), actor.ID(), version)
	if err != nil {
		return Current{}, fmt.Errorf("update the settings: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Current{}, conflict(version, 0)
	}
	b, a := map[string]any{}, map[string]any{}
	for _, c := range changes {
		b[c.Path], a[c.Path] = c.Before, c.After
	}
	details, _ := json.Marshal(map[string]any{"version": version + 1, "before": b, "after": a})
	if err := audit.Write(ctx, tx, audit.Entry{ID: fanfare.NewID(s.clock), Actor: actor.ID(), Action: Action,
		Object: Object, Details: details, Before: audit.Marshal(b), After: audit.Marshal(a), CreatedAt: now}); err != nil {
		return Current{}, err
	}
	if err := tx.Commit(); err != nil {
		return Current{}, fmt.Errorf("update the settings: %w", err)
	}
	c := &Current{Settings: next, Version: version + 1, UpdatedAt: time.UnixMicro(now.UnixMicro()).UTC(), UpdatedBy: actor.ID()}
	if err := s.put(c); err != nil {
		// Stored and audited; the node keeps polling, the others apply it.
		s.log.Error("settings: apply an update", "version", c.Version, "err", err)
		return Current{}, err
	}
	return *c, nil
}

// conflict is the error of a stale version.
func conflict(version, stored int64) error {
	if stored > 0 {
		return fanfare.Errorf(fanfare.EConflict, "the settings are at version %d, not %d: another change came first; read them again and retry", stored, version)
	}
	return fanfare.Errorf(fanfare.EConflict, "the settings are no longer at version %d: another change came first; read them again and retry", version)
}

// check builds what the services are given from s, so that a document
// they would refuse is refused before it is stored.
func check(s Settings) error {
	cat, err := s.Catalog()
	if err != nil {
		return &Invalid{Fields: []FieldError{{Path: "packs", Message: err.Error()}}}
	}
	lim, err := s.WalletLimits()
	if err == nil {
		err = lim.Check(cat)
	}
	if err != nil {
		return &Invalid{Fields: []FieldError{{Path: "limits", Message: fanfare.ErrorMessage(err)}}}
	}
	if _, err := s.PayoutRates(); err != nil {
		return &Invalid{Fields: []FieldError{{Path: "payouts.rates", Message: err.Error()}}}
	}
	return nil
}

// Entry is one change of the settings, from the audit log.
type Entry struct {
	ID      string
	Actor   string
	At      time.Time
	Version int64
	Before  map[string]json.RawMessage
	After   map[string]json.RawMessage
	Fields  []string // the changed fields, sorted
}

// History returns the last n changes of the settings, newest first, read
// from the audit log.
func (s *Service) History(ctx context.Context, n int) ([]Entry, error) {
	es, err := audit.List(ctx, s.db, Object)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, min(n, len(es)))
	for i := len(es) - 1; i >= 0 && len(out) < n; i-- {
		e := es[i]
		if e.Action != Action {
			continue
		}
		var d struct {
			Version int64                      `json:"version"`
			Before  map[string]json.RawMessage `json:"before"`
			After   map[string]json.RawMessage `json:"after"`
		}
		_ = json.Unmarshal(e.Details, &d)
		fields := make([]string, 0, len(d.After))
		for k := range d.After {
			fields = append(fields, k)
		}
		slices.Sort(fields)
		out = append(out, Entry{ID: e.ID, Actor: e.Actor, At: e.CreatedAt, Version: d.Version,
			Before: d.Before, After: d.After, Fields: fields})
	}
	return out, nil
}

// Equal reports whether two documents are the same.
func Equal(a, b Settings) bool { return reflect.DeepEqual(a, b) }
