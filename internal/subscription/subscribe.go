package subscription

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/paging"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// States of a subscription.
const (
	Active = "active" // a period is paid (or gifted) to period_end
	Grace  = "grace"  // a renewal failed: access kept, retried until grace_until
	Ended  = "ended"  // no access; end_reason says why
)

// Why a subscription ended.
const (
	EndCancelled = "cancelled"  // auto-renewal was off at the period's end
	EndLapsed    = "lapsed"     // no renewal could be paid within the grace period
	EndGift      = "gift_ended" // a gifted period ran out
	EndCreator   = "creator"    // the creator can no longer offer the plan
)

// PriceChange is a new price that reaches a subscriber at a renewal.
type PriceChange struct {
	Price fanfare.Amount `json:"price"`
	// From is the first renewal that charges it.
	From time.Time `json:"from"`
}

// Subscription is a fan's subscription to a creator.
type Subscription struct {
	ID        string         `json:"id"`
	FanID     string         `json:"fan_id"`
	CreatorID string         `json:"creator_id"`
	Fan       string         `json:"fan"`     // handle
	Creator   string         `json:"creator"` // handle
	TierID    string         `json:"tier_id"`
	Tier      string         `json:"tier" doc:"The tier's name"`
	Price     fanfare.Amount `json:"price" doc:"Coins the current period cost"`
	State     string         `json:"state" doc:"active, grace or ended"`
	AutoRenew bool           `json:"auto_renew"`
	// GiftedBy is the handle of who gifted the current period, if anyone.
	GiftedBy    string    `json:"gifted_by,omitempty"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end" doc:"The paid period's end: the next renewal, or the end of access when auto-renewal is off"`
	// RenewsAt is the next renewal's time (absent when it will not renew).
	RenewsAt *time.Time `json:"renews_at,omitempty"`
	// GraceUntil, RetryAt and Failure say, in grace, until when access is
	// kept, when the renewal is tried again, and why it failed.
	GraceUntil *time.Time `json:"grace_until,omitempty"`
	RetryAt    *time.Time `json:"retry_at,omitempty"`
	Failure    string     `json:"failure,omitempty"`
	// PriceChange is a new price announced for a renewal to come.
	PriceChange *PriceChange `json:"price_change,omitempty"`
	// NextTier is a tier change from the next renewal.
	NextTier  string     `json:"next_tier,omitempty"`
	EndReason string     `json:"end_reason,omitempty" doc:"cancelled, lapsed, gift_ended or creator"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	// Months is the tenure: periods paid or gifted in all to this creator;
	// Badge its badge's step (0 without access).
	Months    int       `json:"months"`
	Badge     int       `json:"badge"`
	Access    bool      `json:"access" doc:"Whether the fan has the subscriber perks now"`
	Periods   int       `json:"periods" doc:"Periods this subscription paid or was gifted"`
	CreatedAt time.Time `json:"created_at"`

	anchor      time.Time
	anchorN     int
	renewPrice  *fanfare.Amount
	renewFrom   *time.Time
	nextTierID  string
	shareBPS    int64
	attempts    int
	cancelledAt *time.Time
	// fanName and creatorName are the display names, for events.
	fanName, creatorName string
}

const subColumns = `s.id, s.fan_id, s.creator_id, f.handle, c.handle, s.tier_id, t.name, s.price, s.share_bps, s.renew_price,
	s.renew_price_from, s.next_tier_id, COALESCE(nt.name, ''), s.state, s.auto_renew, COALESCE(g.handle, ''), s.anchor, s.anchor_n,
	s.periods, s.period_start, s.period_end, s.grace_until, s.retry_at, s.attempts, s.failure, s.end_reason, s.cancelled_at,
	s.ended_at, s.created_at, f.display_name, c.display_name,
	(SELECT COUNT(*) FROM subscription_periods p WHERE p.fan_id = s.fan_id AND p.creator_id = s.creator_id AND p.starts_at <= $1)`
const subJoins = ` FROM subscriptions s JOIN users f ON f.id = s.fan_id JOIN users c ON c.id = s.creator_id
	JOIN subscription_tiers t ON t.id = s.tier_id LEFT JOIN subscription_tiers nt ON nt.id = s.next_tier_id
	LEFT JOIN users g ON g.id = s.gifted_by`

type scanner interface{ Scan(...any) error }

// scan reads a subscription row, its access decided at now.
func (s *Service) scan(sc scanner, now time.Time) (*Subscription, error) {
	var r Subscription
	var anchor, start, end, created int64
	var renewPrice, renewFrom, grace, retry, cancelled, ended sql.NullInt64
	var nextTier sql.NullString
	err := sc.Scan(&r.ID, &r.FanID, &r.CreatorID, &r.Fan, &r.Creator, &r.TierID, &r.Tier, &r.Price, &r.shareBPS, &renewPrice,
		&renewFrom, &nextTier, &r.NextTier, &r.State, &r.AutoRenew, &r.GiftedBy, &anchor, &r.anchorN,
		&r.Periods, &start, &end, &grace, &retry, &r.attempts, &r.Failure, &r.EndReason, &cancelled,
		&ended, &created, &r.fanName, &r.creatorName, &r.Months)
	if err != nil {
		return nil, err
	}
	opt := func(v sql.NullInt64) *time.Time {
		if !v.Valid {
			return nil
		}
		t := micros(v.Int64)
		return &t
	}
	r.anchor, r.PeriodStart, r.PeriodEnd, r.CreatedAt = micros(anchor), micros(start), micros(end), micros(created)
	r.GraceUntil, r.RetryAt, r.cancelledAt, r.EndedAt = opt(grace), opt(retry), opt(cancelled), opt(ended)
	r.nextTierID = nextTier.String
	if renewPrice.Valid {
		p := fanfare.Amount(renewPrice.Int64)
		r.renewPrice, r.renewFrom = &p, opt(renewFrom)
		from := r.PeriodEnd
		for k := 1; from.Before(*r.renewFrom); k++ {
			from = s.periodEnd(r.anchor, r.Periods+k-r.anchorN)
		}
		r.PriceChange = &PriceChange{Price: p, From: from}
	}
	r.Access = r.access(now)
	if r.Access {
		r.Badge = fanfare.BadgeFor(r.Months)
	}
	switch {
	case r.State == Active && r.AutoRenew:
		t := r.PeriodEnd
		r.RenewsAt = &t
	case r.State == Grace:
		r.RenewsAt = r.RetryAt
	}
	return &r, nil
}

// access reports whether r gives the perks at now: a period runs (or its
// renewal is on its way), or a failed renewal is in its grace period.
func (r *Subscription) access(now time.Time) bool {
	switch r.State {
	case Active:
		return r.AutoRenew || now.Before(r.PeriodEnd)
	case Grace:
		return r.GraceUntil != nil && now.Before(*r.GraceUntil)
	}
	return false
}

func notFound() error { return fanfare.Errorf(fanfare.ENotFound, "subscription not found") }

// load reads subscription id (not_found when there is none).
func (s *Service) load(ctx context.Context, q querier, id string) (*Subscription, error) {
	now := s.clock.Now().UTC()
	r, err := s.scan(s.row(ctx, q, `SELECT `+subColumns+subJoins+` WHERE s.id = $2`, now.UnixMicro(), id), now)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	} else if err != nil {
		return nil, fmt.Errorf("read subscription: %w", err)
	}
	return r, nil
}

// open returns fanID's open subscription to creatorID, or nil.
func (s *Service) open(ctx context.Context, q querier, fanID, creatorID string) (*Subscription, error) {
	now := s.clock.Now().UTC()
	r, err := s.scan(q.QueryRowContext(ctx, `SELECT `+subColumns+subJoins+`
		WHERE s.fan_id = $2 AND s.creator_id = $3 AND s.state <> 'ended'`, now.UnixMicro(), fanID, creatorID), now)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read subscription: %w", err)
	}
	return r, nil
}

// Get returns subscription id to its fan, its creator or the operator;
// anyone else is told not_found.
func (s *Service) Get(ctx context.Context, actor fanfare.Actor, id string) (*Subscription, error) {
	r, err := s.load(ctx, s.db.Read, id)
	if err != nil {
		return nil, err
	}
	if actor.IsOperator() || (actor.UserID != "" && (actor.UserID == r.FanID || actor.UserID == r.CreatorID)) {
		return r, nil
	}
	return nil, notFound()
}

// Membership returns fanID's standing with creatorID's plan now: whether
// they have the perks, their tenure and badge. It implements the
// fanfare.Membership source the LIVE chat and posts ask.
func (s *Service) Membership(ctx context.Context, fanID, creatorID string) (fanfare.Membership, error) {
	if fanID == "" || fanID == creatorID {
		return fanfare.Membership{}, nil
	}
	r, err := s.open(ctx, s.db.Read, fanID, creatorID)
	if err != nil || r == nil {
		return fanfare.Membership{}, err
	}
	return fanfare.Membership{Active: r.Access, Months: r.Months, Badge: r.Badge}, nil
}

// SubscribeInput is what a fan subscribes to: a tier's id, optional when
// the plan has one tier.
type SubscribeInput struct {
	Tier string `json:"tier,omitempty"`
}

// Subscribed is the answer to a subscription: the subscription and the
// fan's coins after the first period.
type Subscribed struct {
	Subscription *Subscription
	Balance      fanfare.Amount
	Replayed     bool
}

// Subscribe subscribes the actor to creatorID: the tier's price now pays
// the first period at once, through the wallet's spending path, in one
// transaction that creates the subscription and schedules its renewal.
//
// Codes: forbidden, idempotency_key_required, validation_failed (oneself;
// no tier named when the plan has several), not_found (no such creator or
// tier), not_eligible and region_blocked (with the reasons: the creator's
// plan, the rules, a minor), conflict (subscribed already), wallet_frozen,
// spend_limit_exceeded, insufficient_funds, idempotency_conflict.
func (s *Service) Subscribe(ctx context.Context, actor fanfare.Actor, creatorID string, in SubscribeInput, idemKey string) (*Subscribed, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "subscriptions are taken by a logged-in fan")
	}
	if err := ledger.CheckKey(idemKey, "subscribe"); err != nil {
		return nil, err
	}
	if creatorID == actor.UserID {
		return nil, fanfare.Errorf(fanfare.EInvalid, "you cannot subscribe to yourself")
	}
	idem := ledger.Idempotency{Scope: actor.ID(), Key: idemKey, Hash: ledger.HashRequest([]byte(Operation), []byte(creatorID), []byte(in.Tier))}
	refuse := func(err error) (*Subscribed, error) {
		// A replay is answered even when the checks now refuse (the first
		// request is what made the fan a subscriber).
		p, rerr := s.wallet.Replay(ctx, idem, 0, s.opts.ShareBPS)
		if rerr != nil {
			return nil, rerr
		}
		if p == nil {
			return nil, err
		}
		return s.subscribed(ctx, actor.UserID, creatorID, p)
	}
	creator, err := s.users.ByID(ctx, creatorID)
	if err != nil {
		return nil, err
	}
	fan, err := s.users.ByID(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	d, err := s.rules.Between(ctx, eligibility.Subscriptions, fan, creator)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		return refuse(d.Public(creator.Handle).Err())
	}
	tier, err := s.choose(ctx, creator, in.Tier)
	if err != nil {
		return refuse(err)
	}
	if sub, err := s.open(ctx, s.db.Read, fan.ID, creator.ID); err != nil {
		return nil, err
	} else if sub != nil {
		return refuse(subscribedAlready(creator, sub))
	}
	now := s.clock.Now().UTC()
	id := fanfare.NewID(s.clock)
	end := s.periodEnd(now, 1)
	p, err := s.wallet.Pay(ctx, actor, wallet.Spend{
		Feature:        Feature,
		What:           "subscribe to creators",
		Object:         "subscription:" + id,
		CreatorID:      creator.ID,
		CreatorChecked: true,
		Coins:          tier.Price,
		ShareBPS:       s.opts.ShareBPS,
		Idem:           &idem,
		Writes: func(r *ledger.Result) []ledger.Write {
			return append(s.planStillOn(creator, tier),
				s.insertSubscription(creator, id, fan.ID, tier, now, end, "", true),
				insertPeriod(id, 1, fan.ID, creator.ID, tier.ID, tier.Price, r.OpID, "", now, end),
				outbox.Write(started(r, id, fan, creator, nil, tier, now, end)))
		},
		Jobs: func(*ledger.Result) []store.Job {
			return []store.Job{Renewal(id, 1, end)}
		},
	})
	if err != nil {
		return nil, err
	}
	return s.subscribed(ctx, fan.ID, creator.ID, p)
}

// choose finds the tier a fan asks for: id, or the plan's only tier.
func (s *Service) choose(ctx context.Context, creator *fanfare.User, id string) (Tier, error) {
	on, err := s.enabled(ctx, s.db.Read, creator.ID)
	if err != nil {
		return Tier{}, err
	}
	tiers, err := s.tiers(ctx, s.db.Read, creator.ID)
	if err != nil {
		return Tier{}, err
	}
	if !on || len(tiers) == 0 {
		msg := fmt.Sprintf("@%s does not offer a subscription.", creator.Handle)
		return Tier{}, &fanfare.Error{Code: fanfare.ENotEligible, Message: msg, Reasons: []fanfare.Reason{{Code: eligibility.RNotOffered, Message: msg}}}
	}
	if id == "" {
		if len(tiers) > 1 {
			return Tier{}, fanfare.Errorf(fanfare.EInvalid, "@%s's plan has %d tiers: name one (tier)", creator.Handle, len(tiers))
		}
		return tiers[0], nil
	}
	for _, t := range tiers {
		if t.ID == id {
			return t, nil
		}
	}
	return Tier{}, fanfare.Errorf(fanfare.ENotFound, "@%s's plan has no tier %s", creator.Handle, id)
}

func subscribedAlready(creator *fanfare.User, sub *Subscription) error {
	if !sub.AutoRenew {
		return fanfare.Errorf(fanfare.EConflict, "you subscribe to @%s until %s; turn auto-renewal back on instead (PATCH /v1/subscriptions/%s)",
			creator.Handle, sub.PeriodEnd.Format(time.RFC3339), sub.ID)
	}
	return fanfare.Errorf(fanfare.EConflict, "you subscribe to @%s already", creator.Handle)
}

// planStillOn are the checks, in the paying transaction, that the plan is
// still on and the tier still offered at the price read.
func (s *Service) planStillOn(creator *fanfare.User, tier Tier) []ledger.Write {
	changed := func(ctx context.Context, tx *sql.Tx) error {
		return fanfare.Errorf(fanfare.EConflict, "@%s changed their plan meanwhile; look at it again", creator.Handle)
	}
	return []ledger.Write{
		{SQL: `UPDATE subscription_plans SET updated_at = updated_at WHERE creator_id = $1 AND enabled`,
			Args: []any{creator.ID}, Fail: changed},
		{SQL: `UPDATE subscription_tiers SET updated_at = updated_at WHERE id = $1 AND NOT retired AND price = $2`,
			Args: []any{tier.ID, int64(tier.Price)}, Fail: changed},
	}
}

// insertSubscription writes a new subscription's row, while the fan has no
// open one to the creator.
func (s *Service) insertSubscription(creator *fanfare.User, id, fanID string, tier Tier, start, end time.Time, giftedBy string, autoRenew bool) ledger.Write {
	var gifter any
	if giftedBy != "" {
		gifter = giftedBy
	}
	return ledger.Write{
		SQL: `INSERT INTO subscriptions (id, fan_id, creator_id, tier_id, price, share_bps, state, auto_renew, gifted_by, anchor, anchor_n,
				periods, period_start, period_end, created_at, updated_at)
			SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT), CAST($5 AS BIGINT), CAST($6 AS BIGINT), 'active',
				CAST($7 AS BOOLEAN), CAST($8 AS TEXT), CAST($9 AS BIGINT), 0, 1, CAST($9 AS BIGINT), CAST($10 AS BIGINT),
				CAST($9 AS BIGINT), CAST($9 AS BIGINT)
			WHERE NOT EXISTS (SELECT 1 FROM subscriptions WHERE fan_id = $2 AND creator_id = $3 AND state <> 'ended')`,
		Args: []any{id, fanID, creator.ID, tier.ID, int64(tier.Price), s.opts.ShareBPS, autoRenew, gifter, start.UnixMicro(), end.UnixMicro()},
		Fail: func(ctx context.Context, tx *sql.Tx) error {
			if giftedBy != "" {
				return fanfare.Errorf(fanfare.EConflict, "a viewer you chose subscribed to @%s meanwhile; try again", creator.Handle)
			}
			return fanfare.Errorf(fanfare.EConflict, "you subscribe to @%s already", creator.Handle)
		},
	}
}

// insertPeriod records a paid (or gifted) period.
const sqlInsertPeriod = `INSERT INTO subscription_periods (subscription_id, n, fan_id, creator_id, tier_id, price, op_id, gifted_by,
	starts_at, ends_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

func insertPeriod(id string, n int, fanID, creatorID, tierID string, price fanfare.Amount, opID, giftedBy string, start, end time.Time) ledger.Write {
	var gifter any
	if giftedBy != "" {
		gifter = giftedBy
	}
	return ledger.Write{SQL: sqlInsertPeriod,
		Args: []any{id, n, fanID, creatorID, tierID, int64(price), opID, gifter, start.UnixMicro(), end.UnixMicro()}}
}

func (s *Service) subscribed(ctx context.Context, fanID, creatorID string, p *wallet.Payment) (*Subscribed, error) {
	var id string
	err := s.db.Read.QueryRowContext(ctx, `SELECT subscription_id FROM subscription_periods WHERE op_id = $1 AND fan_id = $2 AND creator_id = $3`,
		p.OpID, fanID, creatorID).Scan(&id)
	if err != nil {
		return nil, fmt.Errorf("read subscription: %w", err)
	}
	r, err := s.load(ctx, s.db.Read, id)
	if err != nil {
		return nil, err
	}
	return &Subscribed{Subscription: r, Balance: p.Balance, Replayed: p.Replayed}, nil
}

// Cancel turns auto-renewal off: access lasts to the end of the paid
// period. Cancelling twice is harmless.
//
// Codes: not_found (not the actor's subscription), invalid_state (ended).
func (s *Service) Cancel(ctx context.Context, actor fanfare.Actor, id string) (*Subscription, error) {
	f := false
	return s.Change(ctx, actor, id, ChangeInput{AutoRenew: &f})
}

// ChangeInput changes a subscription: auto-renewal on or off, or the tier
// from the next renewal.
type ChangeInput struct {
	AutoRenew *bool  `json:"auto_renew,omitempty"`
	Tier      string `json:"tier,omitempty"`
}

// Change changes the actor's subscription id: turning auto-renewal back
// on (a cancelled or gifted subscription then renews at the period's end,
// charged to the fan), off (access to the period's end), or moving to
// another tier of the plan from the next renewal (the current tier: no
// change pending).
//
// Codes: not_found (not the actor's subscription, or no such tier),
// invalid_state (ended), validation_failed (nothing to change).
func (s *Service) Change(ctx context.Context, actor fanfare.Actor, id string, in ChangeInput) (*Subscription, error) {
	r, err := s.load(ctx, s.db.Read, id)
	if err != nil {
		return nil, err
	}
	if actor.UserID == "" || actor.UserID != r.FanID {
		return nil, notFound()
	}
	if in.AutoRenew == nil && in.Tier == "" {
		return nil, fanfare.Errorf(fanfare.EInvalid, "nothing to change: set auto_renew or tier")
	}
	if r.State == Ended {
		return nil, fanfare.Errorf(fanfare.EInvalidState, "this subscription ended; subscribe again")
	}
	now := s.clock.Now().UTC().UnixMicro()
	sets, args := []string{"updated_at = $2"}, []any{id, now}
	if in.AutoRenew != nil {
		args = append(args, *in.AutoRenew)
		sets = append(sets, fmt.Sprintf("auto_renew = $%d", len(args)))
		if !*in.AutoRenew && r.cancelledAt == nil {
			sets = append(sets, "cancelled_at = $2")
		} else if *in.AutoRenew {
			sets = append(sets, "cancelled_at = NULL")
		}
	}
	if in.Tier != "" {
		creator, err := s.users.ByID(ctx, r.CreatorID)
		if err != nil {
			return nil, err
		}
		t, err := s.choose(ctx, creator, in.Tier)
		if err != nil {
			return nil, err
		}
		if t.ID == r.TierID {
			sets = append(sets, "next_tier_id = NULL")
		} else {
			args = append(args, t.ID)
			sets = append(sets, fmt.Sprintf("next_tier_id = $%d", len(args)))
		}
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// Whether renewal was on, read under the update's lock: turning it
		// off is a cancellation to report, once.
		var renewing bool
		err := tx.QueryRowContext(ctx, `SELECT auto_renew FROM subscriptions WHERE id = $1 AND state <> 'ended'`+s.db.ForUpdate(), id).Scan(&renewing)
		if errors.Is(err, sql.ErrNoRows) {
			return fanfare.Errorf(fanfare.EInvalidState, "this subscription ended; subscribe again")
		} else if err != nil {
			return fmt.Errorf("change subscription: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE subscriptions SET `+strings.Join(sets, ", ")+` WHERE id = $1 AND state <> 'ended'`, args...)
		if err != nil {
			return fmt.Errorf("change subscription: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("change subscription: %w", err)
		} else if n == 0 {
			return fanfare.Errorf(fanfare.EInvalidState, "this subscription ended; subscribe again")
		}
		if renewing && in.AutoRenew != nil && !*in.AutoRenew {
			return s.enqueue(ctx, tx, outbox.SubscriptionCanceled, id, "_"+strconv.FormatInt(now, 10), CancelledByFan, micros(now))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.load(ctx, s.db.Read, id)
}

// Page is a page of subscriptions, newest first; Next is the cursor of the
// next page ("" on the last).
type Page struct {
	Subscriptions []Subscription `json:"subscriptions"`
	Next          string         `json:"next_cursor,omitempty" doc:"Absent on the last page"`
}

// MaxPage is the largest page.
const MaxPage = 100

// List lists the actor's subscriptions as a fan, open and ended, newest
// first.
//
// Codes: forbidden (not logged in), validation_failed (a bad cursor or
// limit).
func (s *Service) List(ctx context.Context, actor fanfare.Actor, cursor string, limit int) (*Page, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "subscriptions are listed for a logged-in fan")
	}
	return s.page(ctx, "s.fan_id", actor.UserID, false, cursor, limit)
}

// Subscribers lists the actor's subscribers as a creator: the open
// subscriptions, newest first, each with the fan's tenure.
//
// Codes: forbidden (not logged in), validation_failed (a bad cursor or
// limit).
func (s *Service) Subscribers(ctx context.Context, actor fanfare.Actor, cursor string, limit int) (*Page, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "subscribers are listed for a logged-in creator")
	}
	return s.page(ctx, "s.creator_id", actor.UserID, true, cursor, limit)
}

func (s *Service) page(ctx context.Context, col, userID string, openOnly bool, cursor string, limit int) (*Page, error) {
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > MaxPage {
		return nil, fanfare.Errorf(fanfare.EInvalid, "limit must be between 1 and %d", MaxPage)
	}
	now := s.clock.Now().UTC()
	where := []string{col + " = $2"}
	args := []any{now.UnixMicro(), userID}
	if openOnly {
		where = append(where, "s.state <> 'ended'")
	}
	if cursor != "" {
		at, id, err := paging.Decode(cursor)
		if err != nil {
			return nil, err
		}
		args = append(args, at, id)
		where = append(where, fmt.Sprintf("(s.created_at < $%d OR (s.created_at = $%d AND s.id < $%d))", len(args)-1, len(args)-1, len(args)))
	}
	rs, err := s.db.Read.QueryContext(ctx, `SELECT `+subColumns+subJoins+` WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(` ORDER BY s.created_at DESC, s.id DESC LIMIT %d`, limit+1), args...)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	defer rs.Close()
	p := &Page{Subscriptions: []Subscription{}}
	for rs.Next() {
		r, err := s.scan(rs, now)
		if err != nil {
			return nil, fmt.Errorf("list subscriptions: %w", err)
		}
		p.Subscriptions = append(p.Subscriptions, *r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	if len(p.Subscriptions) > limit {
		p.Subscriptions = p.Subscriptions[:limit]
		last := p.Subscriptions[limit-1]
		p.Next = paging.Encode(last.CreatedAt.UnixMicro(), last.ID)
	}
	return p, nil
}
