package subscription

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// Defaults of the Options.
const (
	DefaultGrace         = 72 * time.Hour
	DefaultRetryEvery    = 24 * time.Hour
	DefaultNotice        = 7 * 24 * time.Hour
	DefaultShareBPS      = 5000
	DefaultMinPrice      = 50
	DefaultMaxPrice      = 100_000
	DefaultSweepInterval = 10 * time.Second
	DefaultSweepWorkers  = 512
)

// Fixed bounds.
const (
	MaxTiers    = 3
	MaxTierName = 40  // characters
	MaxPerks    = 10  // perks listed per tier
	MaxPerk     = 120 // characters of one perk
	MaxGift     = 100 // subscriptions gifted at once
)

// Feature is the ledger's name of the feature: a period's operation kind
// is "subscription", the revenue account "revenue:subscription".
const Feature = "subscription"

// Operation names a subscribe request in its idempotency hash.
const Operation = "POST /v1/creators/{id}/subscriptions"

// Users finds users. *account.Service implements it.
type Users interface {
	ByID(ctx context.Context, id string) (*fanfare.User, error)
}

// Scheduler inserts a job in a transaction: a renewal's job commits with
// the period that schedules it, or not at all. The jobs package implements
// it.
type Scheduler interface {
	InsertTx(ctx context.Context, tx *sql.Tx, kind string, args any, at time.Time) error
}

// Options configure a Service.
type Options struct {
	Clock     fanfare.Clock // required
	Scheduler Scheduler     // required

	// Period is a subscription period's fixed length; 0 (the default)
	// means one calendar month from the start, the 31st renewing on the
	// last day of shorter months.
	Period time.Duration
	// Grace is how long after a period's end a renewal that could not be
	// paid is retried, with access kept, before the subscription lapses;
	// RetryEvery spaces the retries.
	Grace      time.Duration
	RetryEvery time.Duration
	// Notice is how long before a price change reaches existing
	// subscribers: at their first renewal at least Notice after it.
	Notice   time.Duration
	ShareBPS int64 // the creator's share of each period's price, in diamonds
	MinPrice fanfare.Amount
	MaxPrice fanfare.Amount
	// SweepInterval is how often Register's sweep runs; SweepWorkers how
	// many renewals it runs at once.
	SweepInterval time.Duration
	SweepWorkers  int
}

// Service runs LIVE Subscription.
type Service struct {
	db     *store.DB
	ledger *ledger.Ledger
	users  Users
	wallet *wallet.Service
	rules  *eligibility.Engine
	cur    atomic.Pointer[Options] // replaced whole by SetTerms
	clock  fanfare.Clock
	sched  Scheduler
}

// New returns a Service. It panics without rules, opts.Clock or
// opts.Scheduler.
func New(db *store.DB, l *ledger.Ledger, users Users, w *wallet.Service, rules *eligibility.Engine, opts Options) (*Service, error) {
	switch {
	case rules == nil:
		panic("subscription: New needs the eligibility rules")
	case opts.Clock == nil:
		panic("subscription: New needs Options.Clock")
	case opts.Scheduler == nil:
		panic("subscription: New needs Options.Scheduler")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opts.Grace, DefaultGrace)
	def(&opts.RetryEvery, DefaultRetryEvery)
	def(&opts.Notice, DefaultNotice)
	def(&opts.SweepInterval, DefaultSweepInterval)
	if opts.ShareBPS == 0 {
		opts.ShareBPS = DefaultShareBPS
	}
	if opts.SweepWorkers <= 0 {
		opts.SweepWorkers = DefaultSweepWorkers
	}
	if opts.MinPrice == 0 {
		opts.MinPrice = DefaultMinPrice
	}
	if opts.MaxPrice == 0 {
		opts.MaxPrice = DefaultMaxPrice
	}
	for _, d := range []time.Duration{opts.Period, opts.Grace, opts.RetryEvery, opts.Notice, opts.SweepInterval} {
		if d < 0 {
			return nil, fmt.Errorf("subscription: negative duration %s", d)
		}
	}
	if opts.ShareBPS < 0 || opts.ShareBPS > 10_000 {
		return nil, fmt.Errorf("subscription: share %d bps out of range", opts.ShareBPS)
	}
	if opts.MinPrice < 1 || opts.MaxPrice < opts.MinPrice || opts.MaxPrice > fanfare.MaxAmount/MaxGift {
		return nil, fmt.Errorf("subscription: prices %d..%d out of range", opts.MinPrice, opts.MaxPrice)
	}
	// A renewal's writes, run by the hundred thousand at a month's start.
	db.PrepareWrite(context.Background(), sqlRenew, sqlInsertPeriod)
	s := &Service{db: db, ledger: l, users: users, wallet: w, rules: rules, clock: opts.Clock, sched: opts.Scheduler}
	s.cur.Store(&opts)
	return s, nil
}

// Options returns the options in force, defaults filled in.
func (s *Service) Options() Options { return *s.opts() }

// periodEnd is when the k-th period after anchor ends.
func (s *Service) periodEnd(anchor time.Time, k int) time.Time {
	opts := s.opts()
	if opts.Period > 0 {
		return anchor.Add(time.Duration(k) * opts.Period)
	}
	return AddMonths(anchor, k)
}

// AddMonths returns t plus n calendar months, in UTC, on the same day of
// the month or, when the month is shorter, on its last day: January 31st
// plus one month is February 28th (or 29th), plus two is March 31st.
func AddMonths(t time.Time, n int) time.Time {
	t = t.UTC()
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

// Tier is one of a plan's tiers.
type Tier struct {
	ID    string         `json:"id"`
	Name  string         `json:"name"`
	Price fanfare.Amount `json:"price" doc:"Coins a month"`
	Perks []string       `json:"perks"`
}

// Plan is a creator's LIVE Subscription plan, with where they stand with
// the rules.
type Plan struct {
	Enabled  bool             `json:"enabled"`
	Tiers    []Tier           `json:"tiers"`
	Eligible bool             `json:"eligible" doc:"Whether fans may subscribe under the rules (the plan must also be on)"`
	Reasons  []fanfare.Reason `json:"reasons" doc:"What the creator misses under the rules"`
	MinPrice fanfare.Amount   `json:"min_price"`
	MaxPrice fanfare.Amount   `json:"max_price"`
	// Subscribers is how many subscriptions are open (paid, gifted or in
	// grace).
	Subscribers int `json:"subscribers"`
}

// TierInput is a tier as the creator sets it: ID names a tier the plan
// has (its subscribers stay on it), empty for a new one.
type TierInput struct {
	ID    string         `json:"id,omitempty"`
	Name  string         `json:"name"`
	Price fanfare.Amount `json:"price"`
	Perks []string       `json:"perks,omitempty"`
}

// PlanInput is a plan as the creator sets it.
type PlanInput struct {
	Enabled bool        `json:"enabled"`
	Tiers   []TierInput `json:"tiers"`
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tiers reads creatorID's current tiers (not retired), in order.
func (s *Service) tiers(ctx context.Context, q querier, creatorID string) ([]Tier, error) {
	rs, err := q.QueryContext(ctx, `SELECT id, name, price, perks FROM subscription_tiers
		WHERE creator_id = $1 AND NOT retired ORDER BY position`, creatorID)
	if err != nil {
		return nil, fmt.Errorf("read tiers: %w", err)
	}
	defer rs.Close()
	out := []Tier{}
	for rs.Next() {
		var t Tier
		var perks string
		if err := rs.Scan(&t.ID, &t.Name, &t.Price, &perks); err != nil {
			return nil, fmt.Errorf("read tiers: %w", err)
		}
		if err := json.Unmarshal([]byte(perks), &t.Perks); err != nil {
			return nil, fmt.Errorf("read tiers: %w", err)
		}
		out = append(out, t)
	}
	return out, rs.Err()
}

// enabled reports whether creatorID's plan is on.
func (s *Service) enabled(ctx context.Context, q querier, creatorID string) (bool, error) {
	var on bool
	err := s.row(ctx, q, `SELECT enabled FROM subscription_plans WHERE creator_id = $1`, creatorID).Scan(&on)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("read plan: %w", err)
	}
	return on, nil
}

// row runs a one-row query on q: on the read pool through a statement
// prepared once (renewals run these by the hundred thousand).
func (s *Service) row(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	if q == querier(s.db.Read) {
		return s.db.ReadRow(ctx, query, args...)
	}
	return q.QueryRowContext(ctx, query, args...)
}

// Plan returns userID's plan (off, without tiers, until they set one).
func (s *Service) Plan(ctx context.Context, userID string) (*Plan, error) {
	u, err := s.users.ByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	on, err := s.enabled(ctx, s.db.Read, userID)
	if err != nil {
		return nil, err
	}
	tiers, err := s.tiers(ctx, s.db.Read, userID)
	if err != nil {
		return nil, err
	}
	d, err := s.rules.Creator(ctx, eligibility.Subscriptions, u, true)
	if err != nil {
		return nil, err
	}
	p := &Plan{Enabled: on, Tiers: tiers, Eligible: d.Allowed, Reasons: d.Reasons, MinPrice: s.opts().MinPrice, MaxPrice: s.opts().MaxPrice}
	if p.Reasons == nil {
		p.Reasons = []fanfare.Reason{}
	}
	if err := s.db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions WHERE creator_id = $1 AND state <> 'ended'`,
		userID).Scan(&p.Subscribers); err != nil {
		return nil, fmt.Errorf("count subscribers: %w", err)
	}
	return p, nil
}

// SetPlan sets the actor's plan: 1 to MaxTiers tiers, each priced within
// the bounds. A tier named by its id keeps it (and its subscribers); a tier
// left out is retired (its subscribers keep it; nobody new may choose it).
// A new price applies to new subscribers at once and to a tier's existing
// subscribers at their first renewal at least Notice from now. A creator
// who does not meet the rules may set a plan: fans can subscribe once they
// do. Turning the plan off stops renewals at each period's end.
//
// Codes: forbidden (not a logged-in user), validation_failed (no tier or
// more than MaxTiers, a price outside the bounds, a bad name or perk, an
// id twice), not_found (an id that is not one of the creator's tiers).
func (s *Service) SetPlan(ctx context.Context, actor fanfare.Actor, in PlanInput) (*Plan, error) {
	opts := s.opts()
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "a subscription plan belongs to a logged-in creator")
	}
	if len(in.Tiers) < 1 || len(in.Tiers) > MaxTiers {
		return nil, fanfare.Errorf(fanfare.EInvalid, "a plan has 1 to %d tiers; this one has %d", MaxTiers, len(in.Tiers))
	}
	seen := map[string]bool{}
	tiers := make([]TierInput, len(in.Tiers))
	for i, t := range in.Tiers {
		name, err := fanfare.TextField(fmt.Sprintf("tiers[%d].name", i), t.Name, 1, MaxTierName, fanfare.OneLine)
		if err != nil {
			return nil, err
		}
		if seen["name:"+strings.ToLower(name)] {
			return nil, fanfare.Errorf(fanfare.EInvalid, "two tiers are named %q", name)
		}
		seen["name:"+strings.ToLower(name)] = true
		if t.Price < opts.MinPrice || t.Price > opts.MaxPrice {
			return nil, fanfare.Errorf(fanfare.EInvalid, "a tier's monthly price is %s to %s coins", opts.MinPrice.Grouped(), opts.MaxPrice.Grouped())
		}
		if len(t.Perks) > MaxPerks {
			return nil, fanfare.Errorf(fanfare.EInvalid, "a tier lists at most %d perks", MaxPerks)
		}
		perks := make([]string, 0, len(t.Perks))
		for j, p := range t.Perks {
			p, err := fanfare.TextField(fmt.Sprintf("tiers[%d].perks[%d]", i, j), p, 1, MaxPerk, fanfare.OneLine)
			if err != nil {
				return nil, err
			}
			perks = append(perks, p)
		}
		if t.ID != "" {
			if seen["id:"+t.ID] {
				return nil, fanfare.Errorf(fanfare.EInvalid, "tier %s is listed twice", t.ID)
			}
			seen["id:"+t.ID] = true
		}
		tiers[i] = TierInput{ID: t.ID, Name: name, Price: t.Price, Perks: perks}
	}
	now := s.clock.Now().UTC()
	at := now.UnixMicro()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old := map[string]fanfare.Amount{}
		rs, err := tx.QueryContext(ctx, `SELECT id, price FROM subscription_tiers WHERE creator_id = $1`, actor.UserID)
		if err != nil {
			return fmt.Errorf("read tiers: %w", err)
		}
		for rs.Next() {
			var id string
			var price fanfare.Amount
			if err := rs.Scan(&id, &price); err != nil {
				rs.Close()
				return fmt.Errorf("read tiers: %w", err)
			}
			old[id] = price
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return fmt.Errorf("read tiers: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO subscription_plans (creator_id, enabled, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (creator_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`,
			actor.UserID, in.Enabled, at); err != nil {
			return fmt.Errorf("set plan: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscription_tiers SET retired = TRUE, updated_at = $2 WHERE creator_id = $1`,
			actor.UserID, at); err != nil {
			return fmt.Errorf("set plan: %w", err)
		}
		for i, t := range tiers {
			perks, err := json.Marshal(t.Perks)
			if err != nil {
				return err
			}
			if t.ID == "" {
				t.ID = fanfare.NewID(s.clock)
				if _, err := tx.ExecContext(ctx, `INSERT INTO subscription_tiers (id, creator_id, position, name, price, perks, retired, created_at, updated_at)
					VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $7)`, t.ID, actor.UserID, i, t.Name, int64(t.Price), string(perks), at); err != nil {
					return fmt.Errorf("set plan: %w", err)
				}
				continue
			}
			was, ok := old[t.ID]
			if !ok {
				return fanfare.Errorf(fanfare.ENotFound, "tier %s is not one of your tiers", t.ID)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE subscription_tiers SET position = $2, name = $3, price = $4, perks = $5, retired = FALSE, updated_at = $6
				WHERE id = $1`, t.ID, i, t.Name, int64(t.Price), string(perks), at); err != nil {
				return fmt.Errorf("set plan: %w", err)
			}
			if was != t.Price {
				if err := s.announcePrice(ctx, tx, t.ID, t.Price, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Plan(ctx, actor.UserID)
}

// announcePrice gives tierID's open, renewing subscriptions its new price
// from Notice after now; those already paying it drop any pending change.
func (s *Service) announcePrice(ctx context.Context, tx *sql.Tx, tierID string, price fanfare.Amount, now time.Time) error {
	at := now.UnixMicro()
	if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET renew_price = NULL, renew_price_from = NULL, updated_at = $3
		WHERE tier_id = $1 AND state <> 'ended' AND price = $2 AND renew_price IS NOT NULL`, tierID, int64(price), at); err != nil {
		return fmt.Errorf("announce price: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET renew_price = $2, renew_price_from = $3, updated_at = $4
		WHERE tier_id = $1 AND state <> 'ended' AND price <> $2`, tierID, int64(price), now.Add(s.opts().Notice).UnixMicro(), at); err != nil {
		return fmt.Errorf("announce price: %w", err)
	}
	return nil
}

// Offer is what a visitor sees of a creator's LIVE Subscription: the
// tiers, and whether they may subscribe now (the reasons otherwise).
type Offer struct {
	Decision eligibility.Decision `json:"decision"`
	Tiers    []Tier               `json:"tiers"`
	// Subscription is the visitor's open subscription to the creator, if
	// any.
	Subscription *Subscription `json:"subscription,omitempty"`
}

// Decide says whether fan (nil: someone not logged in) may subscribe to
// creator now: the rules for both, the plan being on, not oneself, and
// not subscribed already. The reasons are as fan reads them (Public).
func (s *Service) Decide(ctx context.Context, fan, creator *fanfare.User) (*Offer, error) {
	d, err := s.rules.Between(ctx, eligibility.Subscriptions, fan, creator)
	if err != nil {
		return nil, err
	}
	if fan != nil && fan.ID == creator.ID {
		d = eligibility.Decision{Feature: eligibility.Subscriptions, Reasons: []fanfare.Reason{{Code: eligibility.RSelf, Message: "You cannot subscribe to yourself."}}}
	}
	on, err := s.enabled(ctx, s.db.Read, creator.ID)
	if err != nil {
		return nil, err
	}
	tiers, err := s.tiers(ctx, s.db.Read, creator.ID)
	if err != nil {
		return nil, err
	}
	if !on || len(tiers) == 0 {
		d.Add(eligibility.RNotOffered, fmt.Sprintf("@%s does not offer a subscription.", creator.Handle))
	}
	out := &Offer{Decision: d, Tiers: tiers}
	if fan != nil && fan.ID != creator.ID {
		sub, err := s.open(ctx, s.db.Read, fan.ID, creator.ID)
		if err != nil {
			return nil, err
		}
		if sub != nil {
			out.Subscription = sub
			out.Decision.Add(RSubscribed, fmt.Sprintf("You subscribe to @%s already.", creator.Handle))
		}
		out.Decision = out.Decision.Public(creator.Handle)
	}
	return out, nil
}

// RSubscribed is Decide's reason when the fan subscribes already.
const RSubscribed = "subscribed"

func (s *Service) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// splitPerks reads a tier's stored perks (a JSON array), none if unreadable.
func splitPerks(s string) []string {
	perks := []string{}
	_ = json.Unmarshal([]byte(s), &perks)
	return perks
}

func micros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// opts returns the options in force. A request reads them once where
// their values must agree (a price and its bounds, coins and the share).
func (s *Service) opts() *Options { return s.cur.Load() }

// Terms are the options the operator changes while the service runs.
type Terms struct {
	Grace    time.Duration // how long a renewal that could not be paid is retried
	ShareBPS int64         // the creator's share of each period's price, in diamonds
	MinPrice fanfare.Amount
	MaxPrice fanfare.Amount
}

// Terms returns the terms in force.
func (s *Service) Terms() Terms {
	o := s.opts()
	return Terms{Grace: o.Grace, ShareBPS: o.ShareBPS, MinPrice: o.MinPrice, MaxPrice: o.MaxPrice}
}

// SetTerms puts t in force at once: the share for the periods paid from
// then on (starts, renewals, gifts), the price bounds for the prices set
// from then on (a tier keeps its price), the grace for the renewals that
// fail from then on.
//
// Codes: validation_failed (a grace not positive, a share outside
// 0..10000, a minimum price below 1 or above the maximum).
func (s *Service) SetTerms(t Terms) error {
	if t.Grace <= 0 {
		return fanfare.Errorf(fanfare.EInvalid, "subscription: the grace must be positive")
	}
	if t.ShareBPS < 0 || t.ShareBPS > 10_000 {
		return fanfare.Errorf(fanfare.EInvalid, "subscription: share %d bps out of range", t.ShareBPS)
	}
	if t.MinPrice < 1 || t.MaxPrice < t.MinPrice || t.MaxPrice > fanfare.MaxAmount/MaxGift {
		return fanfare.Errorf(fanfare.EInvalid, "subscription: prices %d..%d out of range", t.MinPrice, t.MaxPrice)
	}
	o := *s.opts()
	o.Grace, o.ShareBPS, o.MinPrice, o.MaxPrice = t.Grace, t.ShareBPS, t.MinPrice, t.MaxPrice
	s.cur.Store(&o)
	return nil
}
