package shoutout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	DefaultAcceptWindow     = 72 * time.Hour
	DefaultDeliveryWindow   = 168 * time.Hour
	DefaultDisputeWindow    = 7 * 24 * time.Hour
	DefaultReviewEditWindow = 7 * 24 * time.Hour
	DefaultModerationWindow = 24 * time.Hour
	DefaultShareBPS         = 8000
	DefaultMinPrice         = 100
	DefaultMaxPrice         = 1_000_000
	DefaultCapacity         = 10
	DefaultMaxInstructions  = 500
	DefaultSweepInterval    = time.Minute
)

// Fixed bounds.
const (
	MaxCapacity      = 1000
	MaxRecipient     = 80  // characters of a recipient's name
	MaxAcceptNote    = 300 // characters of a creator's note on the form
	MaxDeclineNote   = 300
	MaxReviewText    = 500
	MaxDisputeReason = 500
	MaxNote          = 500 // an operator's resolution note
	MaxExtensionDays = 3
	// TypicalOf is how many of a creator's last deliveries the typical
	// delivery time is the median of.
	TypicalOf = 20
)

// Operation names a request in its idempotency hash.
const Operation = "POST /v1/creators/{id}/shoutouts"

// Feature is the ledger's name of the feature: the hold's kind is
// "shoutout_hold", the delivery's "shoutout", a void's "shoutout_void",
// the revenue account "revenue:shoutout".
const Feature = "shoutout"

// KindVoid is the ledger kind of a voided request's refund.
const KindVoid = "shoutout_void"

// Users finds users. *account.Service implements it.
type Users interface {
	ByID(ctx context.Context, id string) (*fanfare.User, error)
}

// Scheduler inserts a job in a transaction: the deadline's job commits
// with the transition that sets the deadline, or not at all. The jobs
// package implements it.
type Scheduler interface {
	InsertTx(ctx context.Context, tx *sql.Tx, kind string, args any, at time.Time) error
}

// Options configure a Service.
type Options struct {
	Clock     fanfare.Clock // required
	Scheduler Scheduler     // required

	AcceptWindow     time.Duration // the creator's time to accept or decline
	DeliveryWindow   time.Duration // the creator's time to deliver once accepted
	DisputeWindow    time.Duration // the fan's time to report a problem after delivery
	ReviewEditWindow time.Duration // the fan's time to edit a review
	ShareBPS         int64         // the creator's share of the price, in diamonds
	MinPrice         fanfare.Amount
	MaxPrice         fanfare.Amount
	DefaultCapacity  int
	MaxInstructions  int // characters
	// Review holds a delivered video for the operator's approval for up to
	// ModerationWindow before the fan sees it; the window passing without
	// a decision approves it (the creator delivered in time).
	Review           bool
	ModerationWindow time.Duration
	// SweepInterval is how often Register's sweep runs.
	SweepInterval time.Duration
}

// Service runs Shoutouts.
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
		panic("shoutout: New needs the eligibility rules")
	case opts.Clock == nil:
		panic("shoutout: New needs Options.Clock")
	case opts.Scheduler == nil:
		panic("shoutout: New needs Options.Scheduler")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opts.AcceptWindow, DefaultAcceptWindow)
	def(&opts.DeliveryWindow, DefaultDeliveryWindow)
	def(&opts.DisputeWindow, DefaultDisputeWindow)
	def(&opts.ReviewEditWindow, DefaultReviewEditWindow)
	def(&opts.ModerationWindow, DefaultModerationWindow)
	def(&opts.SweepInterval, DefaultSweepInterval)
	if opts.ShareBPS == 0 {
		opts.ShareBPS = DefaultShareBPS
	}
	if opts.MinPrice == 0 {
		opts.MinPrice = DefaultMinPrice
	}
	if opts.MaxPrice == 0 {
		opts.MaxPrice = DefaultMaxPrice
	}
	if opts.DefaultCapacity == 0 {
		opts.DefaultCapacity = DefaultCapacity
	}
	if opts.MaxInstructions == 0 {
		opts.MaxInstructions = DefaultMaxInstructions
	}
	for _, d := range []time.Duration{opts.AcceptWindow, opts.DeliveryWindow, opts.DisputeWindow, opts.ReviewEditWindow, opts.ModerationWindow, opts.SweepInterval} {
		if d < 0 {
			return nil, fmt.Errorf("shoutout: negative window %s", d)
		}
	}
	if opts.ShareBPS < 0 || opts.ShareBPS > 10_000 {
		return nil, fmt.Errorf("shoutout: share %d bps out of range", opts.ShareBPS)
	}
	if opts.MinPrice < 1 || opts.MaxPrice < opts.MinPrice || opts.MaxPrice > fanfare.MaxAmount {
		return nil, fmt.Errorf("shoutout: prices %d..%d out of range", opts.MinPrice, opts.MaxPrice)
	}
	if opts.DefaultCapacity < 1 || opts.DefaultCapacity > MaxCapacity {
		return nil, fmt.Errorf("shoutout: capacity %d out of range", opts.DefaultCapacity)
	}
	s := &Service{db: db, ledger: l, users: users, wallet: w, rules: rules, clock: opts.Clock, sched: opts.Scheduler}
	s.cur.Store(&opts)
	return s, nil
}

// Options returns the service's options, defaults filled in.
func (s *Service) Options() Options { return *s.opts() }

// State is a request's state.
type State string

// States.
const (
	Requested State = "requested"
	Accepted  State = "accepted"
	InReview  State = "in_review" // delivered, waiting for the operator (Options.Review)
	Delivered State = "delivered"
	Completed State = "completed"
	Declined  State = "declined"
	Cancelled State = "cancelled"
	Expired   State = "expired"
	Rejected  State = "rejected" // the operator rejected the video after the delivery deadline
	Disputed  State = "disputed"
	Refunded  State = "refunded"
	Upheld    State = "upheld"
)

// States lists every state.
var States = []State{Requested, Accepted, InReview, Delivered, Completed, Declined, Cancelled, Expired, Rejected, Disputed, Refunded, Upheld}

// openStates hold the creator's capacity: the work they took on.
const openStates = `('requested', 'accepted', 'in_review')`

// seen are the states in which the fan sees the video.
var seen = []State{Delivered, Completed, Disputed, Refunded, Upheld}

// Occasion is what a video is for. The wire spelling is snake_case.
type Occasion string

// Occasions.
const (
	Birthday        Occasion = "birthday"
	Anniversary     Occasion = "anniversary"
	Congratulations Occasion = "congratulations"
	PepTalk         Occasion = "pep_talk"
	Roast           Occasion = "roast"
	Advice          Occasion = "advice"
	Other           Occasion = "other"
)

// Occasions lists the occasions, in the order forms show them.
var Occasions = []Occasion{Birthday, Anniversary, Congratulations, PepTalk, Roast, Advice, Other}

// Settings are a creator's Shoutouts offer and whether fans can ask now.
type Settings struct {
	Enabled    bool           `json:"enabled"`
	Price      fanfare.Amount `json:"price" doc:"Coins; 0 until set"`
	Capacity   int            `json:"capacity"`
	Paused     bool           `json:"paused"`
	AcceptNote string         `json:"accept_note"`
	// Open counts the requests that hold the capacity now.
	Open int `json:"open"`
	// Eligible: the creator meets the rules of Shoutouts; Reasons says what
	// is missing when not.
	Eligible bool             `json:"eligible"`
	Reasons  []fanfare.Reason `json:"reasons"`
	MinPrice fanfare.Amount   `json:"min_price"`
	MaxPrice fanfare.Amount   `json:"max_price"`
}

// SettingsInput is what a creator sets.
type SettingsInput struct {
	Enabled    bool
	Price      fanfare.Amount
	Capacity   int // 0: the default
	Paused     bool
	AcceptNote string
}

// offer is a creator's stored settings.
type offer struct {
	set        bool
	enabled    bool
	price      fanfare.Amount
	capacity   int
	paused     bool
	acceptNote string
}

func (s *Service) offer(ctx context.Context, q querier, creatorID string) (offer, error) {
	o := offer{capacity: s.opts().DefaultCapacity}
	err := q.QueryRowContext(ctx, `SELECT enabled, price, capacity, paused, accept_note FROM shoutout_settings WHERE creator_id = $1`, creatorID).
		Scan(&o.enabled, &o.price, &o.capacity, &o.paused, &o.acceptNote)
	if errors.Is(err, sql.ErrNoRows) {
		return o, nil
	} else if err != nil {
		return o, fmt.Errorf("read shoutout settings: %w", err)
	}
	o.set = true
	return o, nil
}

func (s *Service) open(ctx context.Context, q querier, creatorID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM shoutout_requests WHERE creator_id = $1 AND state IN `+openStates, creatorID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count open shoutouts: %w", err)
	}
	return n, nil
}

// Settings returns userID's settings with their eligibility.
//
// Codes: not_found (no such user).
func (s *Service) Settings(ctx context.Context, userID string) (*Settings, error) {
	u, err := s.users.ByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	o, err := s.offer(ctx, s.db.Read, userID)
	if err != nil {
		return nil, err
	}
	n, err := s.open(ctx, s.db.Read, userID)
	if err != nil {
		return nil, err
	}
	d, err := s.rules.Creator(ctx, eligibility.Shoutouts, u, true)
	if err != nil {
		return nil, err
	}
	return &Settings{Enabled: o.enabled, Price: o.price, Capacity: o.capacity, Paused: o.paused, AcceptNote: o.acceptNote,
		Open: n, Eligible: d.Allowed, Reasons: d.Reasons, MinPrice: s.opts().MinPrice, MaxPrice: s.opts().MaxPrice}, nil
}

// SetSettings sets the actor's settings. A creator who does not meet the
// rules may set them: fans can ask once they do. A lower capacity or a
// pause leaves the requests already made as they are.
//
// Codes: forbidden (not a logged-in user), validation_failed (a price
// outside the bounds, a capacity outside 1..MaxCapacity, a note too long).
func (s *Service) SetSettings(ctx context.Context, actor fanfare.Actor, in SettingsInput) (*Settings, error) {
	opts := s.opts()
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "shoutout settings belong to a logged-in creator")
	}
	if in.Price < opts.MinPrice || in.Price > opts.MaxPrice {
		return nil, fanfare.Errorf(fanfare.EInvalid, "a shoutout's price is %s to %s coins", opts.MinPrice.Grouped(), opts.MaxPrice.Grouped())
	}
	if in.Capacity == 0 {
		in.Capacity = opts.DefaultCapacity
	}
	if in.Capacity < 1 || in.Capacity > MaxCapacity {
		return nil, fanfare.Errorf(fanfare.EInvalid, "capacity must be between 1 and %d open requests", MaxCapacity)
	}
	note, err := text("accept_note", in.AcceptNote, 0, MaxAcceptNote)
	if err != nil {
		return nil, err
	}
	_, err = s.db.Write.ExecContext(ctx, `INSERT INTO shoutout_settings (creator_id, enabled, price, capacity, paused, accept_note, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (creator_id) DO UPDATE SET enabled = excluded.enabled, price = excluded.price, capacity = excluded.capacity,
			paused = excluded.paused, accept_note = excluded.accept_note, updated_at = excluded.updated_at`,
		actor.UserID, in.Enabled, int64(in.Price), in.Capacity, in.Paused, note, s.clock.Now().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("set shoutout settings: %w", err)
	}
	return s.Settings(ctx, actor.UserID)
}

// Reason codes of Decide beside the engine's.
const (
	RPaused       = "paused"
	RCapacityFull = "capacity_full"
)

// Offer is what a fan sees of a creator's Shoutouts: the price, and
// whether they may ask now (the reasons otherwise).
type Offer struct {
	Decision   eligibility.Decision `json:"decision"`
	Price      fanfare.Amount       `json:"price"`
	AcceptNote string               `json:"accept_note"`
	// Typical is the creator's typical delivery time (nil before their
	// first delivery).
	Typical *time.Duration `json:"typical_delivery,omitempty"`
}

// Decide says whether fan (nil: someone not logged in) may ask creator for
// a shoutout now: the rules for both, the creator's switch, pause and
// capacity, and not oneself. The reasons are as fan reads them (Public).
func (s *Service) Decide(ctx context.Context, fan, creator *fanfare.User) (*Offer, error) {
	d, err := s.rules.Between(ctx, eligibility.Shoutouts, fan, creator)
	if err != nil {
		return nil, err
	}
	if fan != nil && fan.ID == creator.ID {
		d = eligibility.Decision{Feature: eligibility.Shoutouts, Reasons: []fanfare.Reason{{Code: eligibility.RSelf, Message: "You cannot request a shoutout from yourself."}}}
	}
	o, err := s.offer(ctx, s.db.Read, creator.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case !o.enabled:
		d.Add(eligibility.RNotOffered, fmt.Sprintf("@%s does not offer shoutouts.", creator.Handle))
	case o.paused:
		d.Add(RPaused, fmt.Sprintf("@%s paused shoutout requests for now.", creator.Handle))
	default:
		n, err := s.open(ctx, s.db.Read, creator.ID)
		if err != nil {
			return nil, err
		}
		if n >= o.capacity {
			d.Add(RCapacityFull, fmt.Sprintf("@%s has as many open requests as they take at once; try again later.", creator.Handle))
		}
	}
	typical, err := s.TypicalDelivery(ctx, creator.ID)
	if err != nil {
		return nil, err
	}
	out := &Offer{Decision: d, Price: o.price, AcceptNote: o.acceptNote, Typical: typical}
	if fan == nil || fan.ID != creator.ID {
		out.Decision = d.Public(creator.Handle)
	}
	return out, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func validOccasion(o Occasion) bool { return slices.Contains(Occasions, o) }

// text checks a free text field as the package's fields take it: trimmed,
// new lines allowed (see fanfare.TextField).
func text(field, v string, min, max int) (string, error) {
	return fanfare.TextField(field, v, min, max, fanfare.MultiLine)
}

// opts returns the options in force. A request reads them once where
// their values must agree (a price and its bounds, coins and the share).
func (s *Service) opts() *Options { return s.cur.Load() }

// Terms are the options the operator changes while the service runs.
type Terms struct {
	AcceptWindow   time.Duration // the creator's time to accept or decline
	DeliveryWindow time.Duration // the creator's time to deliver once accepted
	ShareBPS       int64         // the creator's share of the price, in diamonds
	MinPrice       fanfare.Amount
	MaxPrice       fanfare.Amount
}

// Terms returns the terms in force.
func (s *Service) Terms() Terms {
	o := s.opts()
	return Terms{AcceptWindow: o.AcceptWindow, DeliveryWindow: o.DeliveryWindow, ShareBPS: o.ShareBPS, MinPrice: o.MinPrice, MaxPrice: o.MaxPrice}
}

// SetTerms puts t in force at once for every request that starts
// afterwards. A window applies to the deadlines set from then on (a request
// keeps the deadline it was given); the share to the deliveries paid from
// then on; the price bounds to the prices set and the requests made from
// then on.
//
// Codes: validation_failed (a window not positive, a share outside
// 0..10000, a minimum price below 1 or above the maximum).
func (s *Service) SetTerms(t Terms) error {
	if t.AcceptWindow <= 0 || t.DeliveryWindow <= 0 {
		return fanfare.Errorf(fanfare.EInvalid, "shoutout: the windows must be positive")
	}
	if t.ShareBPS < 0 || t.ShareBPS > 10_000 {
		return fanfare.Errorf(fanfare.EInvalid, "shoutout: share %d bps out of range", t.ShareBPS)
	}
	if t.MinPrice < 1 || t.MaxPrice < t.MinPrice || t.MaxPrice > fanfare.MaxAmount {
		return fanfare.Errorf(fanfare.EInvalid, "shoutout: prices %d..%d out of range", t.MinPrice, t.MaxPrice)
	}
	o := *s.opts()
	o.AcceptWindow, o.DeliveryWindow, o.ShareBPS, o.MinPrice, o.MaxPrice = t.AcceptWindow, t.DeliveryWindow, t.ShareBPS, t.MinPrice, t.MaxPrice
	s.cur.Store(&o)
	return nil
}
