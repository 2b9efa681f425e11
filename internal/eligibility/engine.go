package eligibility

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/store"
)

// RulesCacheTTL is how long an Engine keeps the stored rules before it
// reads them again: an operator's change shows at once on the node that
// made it and within RulesCacheTTL on the others.
const RulesCacheTTL = 2 * time.Second

// Engine holds the rules in force and decides with them.
type Engine struct {
	db       *store.DB
	clock    fanfare.Clock
	defaults map[string]Rule

	mu     sync.Mutex
	rules  map[string]Rule
	loaded time.Time
	gen    int // counts this node's changes: a read older than one is not kept
}

// New returns an Engine whose rules start as base: DefaultRules() with the
// given rules replacing theirs feature by feature (configuration). The
// clock, required (New panics on nil), dates changes and ages the cached
// rules.
//
// Codes: validation_failed (a bad configured rule).
func New(db *store.DB, clock fanfare.Clock, configured []Rule) (*Engine, error) {
	if clock == nil {
		panic("eligibility: New needs a clock")
	}
	e := &Engine{db: db, clock: clock, defaults: map[string]Rule{}}
	for _, r := range DefaultRules() {
		e.defaults[r.Feature] = r
	}
	for _, r := range configured {
		if err := r.Normalize(); err != nil {
			return nil, fmt.Errorf("eligibility rule %q: %w", r.Feature, err)
		}
		e.defaults[r.Feature] = r
	}
	for f, r := range e.defaults {
		if err := r.Normalize(); err != nil {
			return nil, err
		}
		e.defaults[f] = r
	}
	return e, nil
}

// Rules returns every feature's rule in force, in Features order.
func (e *Engine) Rules(ctx context.Context) ([]Rule, error) {
	m, err := e.current(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Rule, 0, len(Features))
	for _, f := range Features {
		out = append(out, m[f])
	}
	return out, nil
}

// Rule returns feature's rule in force.
//
// Codes: not_found (no such feature).
func (e *Engine) Rule(ctx context.Context, feature string) (Rule, error) {
	m, err := e.current(ctx)
	if err != nil {
		return Rule{}, err
	}
	r, ok := m[feature]
	if !ok {
		return Rule{}, fanfare.Errorf(fanfare.ENotFound, "unknown feature %q", feature)
	}
	return r, nil
}

func (e *Engine) current(ctx context.Context) (map[string]Rule, error) {
	e.mu.Lock()
	rules, fresh, gen := e.rules, e.clock.Now().Sub(e.loaded) < RulesCacheTTL, e.gen
	e.mu.Unlock()
	if rules != nil && fresh {
		return rules, nil
	}
	// Read without the lock: the requests meanwhile keep the rules they
	// have (or read too, the first time).
	m, err := e.load(ctx)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.gen == gen {
		e.rules, e.loaded = m, e.clock.Now()
	}
	e.mu.Unlock()
	return m, nil
}

// load reads the rules in force: the defaults, replaced by the stored ones.
func (e *Engine) load(ctx context.Context) (map[string]Rule, error) {
	rs, err := e.db.Read.QueryContext(ctx, `SELECT feature, rule FROM eligibility_rules`)
	if err != nil {
		return nil, fmt.Errorf("read eligibility rules: %w", err)
	}
	defer rs.Close()
	m := make(map[string]Rule, len(e.defaults))
	for f, r := range e.defaults {
		m[f] = r
	}
	for rs.Next() {
		var f, raw string
		if err := rs.Scan(&f, &raw); err != nil {
			return nil, fmt.Errorf("read eligibility rules: %w", err)
		}
		var r Rule
		if _, known := e.defaults[f]; !known || json.Unmarshal([]byte(raw), &r) != nil || r.Normalize() != nil {
			continue // a rule this version cannot read keeps its default
		}
		m[f] = r
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read eligibility rules: %w", err)
	}
	return m, nil
}

// SetRule replaces a feature's rule, for the operator; the change is stored
// with who made it and when, and written to the audit log with the rule
// before and after.
//
// Codes: forbidden (not the operator), validation_failed.
func (e *Engine) SetRule(ctx context.Context, actor fanfare.Actor, r Rule) (Rule, error) {
	if !actor.IsOperator() {
		return Rule{}, fanfare.Errorf(fanfare.EForbidden, "only the operator changes eligibility rules")
	}
	if err := r.Normalize(); err != nil {
		return Rule{}, err
	}
	before, err := e.Rule(ctx, r.Feature)
	if err != nil {
		return Rule{}, err
	}
	raw, _ := json.Marshal(r)
	now := e.clock.Now().UTC()
	tx, err := e.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return Rule{}, fmt.Errorf("set rule: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO eligibility_rules (feature, rule, updated_at, updated_by) VALUES ($1, $2, $3, $4)
		ON CONFLICT (feature) DO UPDATE SET rule = excluded.rule, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		r.Feature, string(raw), now.UnixMicro(), actor.ID()); err != nil {
		return Rule{}, fmt.Errorf("set rule: %w", err)
	}
	details, _ := json.Marshal(map[string]any{"before": before, "after": r})
	if err := audit.Write(ctx, tx, audit.Entry{ID: fanfare.NewID(e.clock), Actor: actor.ID(), Action: "eligibility.update",
		Object: "eligibility:" + r.Feature, Details: details, Before: audit.Marshal(before), After: audit.Marshal(r), CreatedAt: now}); err != nil {
		return Rule{}, err
	}
	if err := tx.Commit(); err != nil {
		return Rule{}, fmt.Errorf("set rule: %w", err)
	}
	e.mu.Lock()
	e.rules = nil // read again, with this change
	e.gen++
	e.mu.Unlock()
	return r, nil
}

// Change is a stored rule's last change.
type Change struct {
	Feature   string    `json:"feature"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// Changes returns when and by whom each stored rule was last changed.
func (e *Engine) Changes(ctx context.Context) (map[string]Change, error) {
	rs, err := e.db.Read.QueryContext(ctx, `SELECT feature, updated_at, updated_by FROM eligibility_rules`)
	if err != nil {
		return nil, fmt.Errorf("read rule changes: %w", err)
	}
	defer rs.Close()
	out := map[string]Change{}
	for rs.Next() {
		var c Change
		var at int64
		if err := rs.Scan(&c.Feature, &at, &c.UpdatedBy); err != nil {
			return nil, fmt.Errorf("read rule changes: %w", err)
		}
		c.UpdatedAt = time.UnixMicro(at).UTC()
		out[c.Feature] = c
	}
	return out, rs.Err()
}

// Creator decides whether creator may offer feature now (self: the
// creator asks).
func (e *Engine) Creator(ctx context.Context, feature string, creator *fanfare.User, self bool) (Decision, error) {
	r, err := e.Rule(ctx, feature)
	if err != nil {
		return Decision{}, err
	}
	return r.Creator(creator, e.clock.Now(), self), nil
}

// Fan decides whether fan may use feature now.
func (e *Engine) Fan(ctx context.Context, feature string, fan *fanfare.User) (Decision, error) {
	r, err := e.Rule(ctx, feature)
	if err != nil {
		return Decision{}, err
	}
	return r.Fan(fan, e.clock.Now()), nil
}

// Between decides whether fan may use feature with creator: the creator's
// side and the fan's, reasons from both (the creator's first).
func (e *Engine) Between(ctx context.Context, feature string, fan, creator *fanfare.User) (Decision, error) {
	r, err := e.Rule(ctx, feature)
	if err != nil {
		return Decision{}, err
	}
	now := e.clock.Now()
	d := r.Creator(creator, now, fan != nil && fan.ID == creator.ID)
	if fan != nil {
		f := r.Fan(fan, now)
		if !f.Allowed {
			d.Allowed = false
			d.Reasons = append(d.Reasons, f.Reasons...)
		}
	}
	return d, nil
}

// FeatureChecklist is one feature's checklist for a creator.
type FeatureChecklist struct {
	Feature string `json:"feature"`
	Name    string `json:"name"`
	// Released: the feature is in this release. One that is not is never
	// eligible; its checks say what it will need.
	Released bool    `json:"released" doc:"The feature is in this release; false: coming in a later one, never eligible until then"`
	Allowed  bool    `json:"eligible" doc:"The creator may use the feature now: released, and every check met"`
	Checks   []Check `json:"checks"`
}

// Checklist returns, for every feature, what creator meets and misses.
func (e *Engine) Checklist(ctx context.Context, creator *fanfare.User) ([]FeatureChecklist, error) {
	rules, err := e.Rules(ctx)
	if err != nil {
		return nil, err
	}
	now := e.clock.Now()
	out := make([]FeatureChecklist, 0, len(rules))
	for _, r := range rules {
		cs := r.Checklist(creator, now, true)
		ok := true
		for _, c := range cs {
			ok = ok && c.Met
		}
		rel := Released(r.Feature)
		out = append(out, FeatureChecklist{Feature: r.Feature, Name: Name(r.Feature), Released: rel, Allowed: ok && rel, Checks: cs})
	}
	return out, nil
}
