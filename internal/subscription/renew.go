package subscription

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// JobRenew is the job kind that renews a subscription at its period's end
// (or retries a renewal in grace, or ends a subscription that does not
// renew). It is inserted in the transaction that paid the period before,
// or that put the subscription in grace.
const JobRenew = "subscription.renew"

// renewArgs are JobRenew's arguments: the subscription and the periods it
// had paid when the job was made. A job whose subscription has paid more
// since does nothing.
type renewArgs struct {
	ID      string `json:"id"`
	Periods int    `json:"periods"`
}

// Queue runs jobs: the jobs package's queue implements it.
type Queue interface {
	Handle(kind string, fn func(ctx context.Context, args json.RawMessage) error)
	Every(name string, interval time.Duration, fn func(ctx context.Context) error)
}

// Register wires the renewal handler, and the sweep every
// Options.SweepInterval, into q.
func (s *Service) Register(q Queue) {
	for kind, fn := range s.Handlers() {
		q.Handle(kind, fn)
	}
	q.Every("subscription.sweep", s.opts().SweepInterval, func(ctx context.Context) error {
		_, err := s.Sweep(ctx)
		return err
	})
}

// Handlers returns the handler of each job kind. A handler decides with
// the service's Clock and is idempotent: it does nothing when the
// subscription paid more periods since, ended, or is not due yet by the
// Clock (the sweep renews it then).
func (s *Service) Handlers() map[string]func(ctx context.Context, args json.RawMessage) error {
	return map[string]func(context.Context, json.RawMessage) error{
		JobCreatorStanding: func(ctx context.Context, raw json.RawMessage) error {
			var a standingArgs
			if err := json.Unmarshal(raw, &a); err != nil || a.CreatorID == "" {
				return fmt.Errorf("subscription job: bad arguments %s", raw)
			}
			_, err := s.StopCreator(ctx, a.CreatorID)
			return err
		},
		JobRenew: func(ctx context.Context, raw json.RawMessage) error {
			var a renewArgs
			if err := json.Unmarshal(raw, &a); err != nil || a.ID == "" {
				return fmt.Errorf("subscription job: bad arguments %s", raw)
			}
			r, err := s.load(ctx, s.db.Read, a.ID)
			if fanfare.ErrorCode(err) == fanfare.ENotFound {
				return nil
			} else if err != nil {
				return err
			}
			if r.Periods != a.Periods {
				return nil
			}
			_, err = s.renew(ctx, r, s.clock.Now().UTC(), nil)
			return err
		},
	}
}

// Renewal is the renewal job of subscription id after it paid periods
// periods, to run at at: the service schedules its own; what writes
// subscriptions in bulk (fanfare bench renewals) inserts these.
func Renewal(id string, periods int, at time.Time) store.Job {
	return store.Job{Kind: JobRenew, Args: renewArgs{ID: id, Periods: periods}, At: at}
}

// Outcome is what a renewal did.
type Outcome string

// Outcomes of a renewal.
const (
	NotDue  Outcome = ""        // nothing to do yet (or any more)
	Renewed Outcome = "renewed" // the next period is paid
	InGrace Outcome = "grace"   // it could not be paid: retried later, access kept
	Lapsed  Outcome = "lapsed"  // it could not be paid within the grace period
	Stopped Outcome = "ended"   // not renewing: cancelled, gifted, or the creator cannot offer it
)

// renew renews r if it is due at now: it pays the next period, or puts r
// in grace, or ends it. A renewal that lost a race (another paid it first)
// is no error. p, if set, is the sweep's pass: what it knows of each
// creator (all its renewals decide at the same now) and of the fans of
// the batch.
func (s *Service) renew(ctx context.Context, r *Subscription, now time.Time, p *pass) (Outcome, error) {
	switch {
	case r.State == Active && !now.Before(r.PeriodEnd):
	case r.State == Grace && r.RetryAt != nil && !now.Before(*r.RetryAt):
	default:
		return NotDue, nil
	}
	if !r.AutoRenew {
		reason := EndCancelled
		if r.GiftedBy != "" && r.cancelledAt == nil {
			reason = EndGift
		}
		return s.end(ctx, r, now, reason)
	}
	offers, err := p.offers(ctx, s, r.CreatorID)
	if err != nil {
		return NotDue, err
	}
	if !offers {
		return s.end(ctx, r, now, EndCreator)
	}
	// The price and tier of the next period.
	tierID, price := r.TierID, r.Price
	if r.nextTierID != "" {
		var p fanfare.Amount
		var retired bool
		err := s.db.Read.QueryRowContext(ctx, `SELECT price, retired FROM subscription_tiers WHERE id = $1`, r.nextTierID).Scan(&p, &retired)
		if err != nil {
			return NotDue, fmt.Errorf("read tier: %w", err)
		}
		if !retired {
			tierID, price = r.nextTierID, p
		}
	} else if r.renewPrice != nil && !r.PeriodEnd.Before(*r.renewFrom) {
		price = *r.renewPrice
	}
	// The next period runs from the paid one's end; paid late, in grace,
	// from now, and the periods count from there.
	n := r.Periods + 1
	anchor, anchorN := r.anchor, r.anchorN
	start := r.PeriodEnd
	if r.State == Grace {
		anchor, anchorN, start = now, r.Periods, now
	}
	end := s.periodEnd(anchor, n-anchorN)
	fan := fanfare.Actor{UserID: r.FanID, Handle: r.Fan, Role: fanfare.RoleFan}
	key := "renewal-" + strconv.Itoa(n) + "-" + strconv.Itoa(r.attempts+1)
	idem := ledger.Idempotency{Scope: "subscription:" + r.ID, Key: key,
		Hash: ledger.HashRequest([]byte(JobRenew), []byte(r.ID), []byte(strconv.Itoa(n)), []byte(strconv.Itoa(r.attempts+1)))}
	at := now.UnixMicro()
	_, err = s.wallet.Pay(ctx, fan, wallet.Spend{
		Feature:        Feature,
		What:           "renew subscriptions",
		Object:         "subscription:" + r.ID,
		CreatorID:      r.CreatorID,
		CreatorChecked: true,
		Coins:          price,
		ShareBPS:       r.shareBPS,
		Idem:           &idem,
		Spender:        p.spender(r.FanID),
		Writes: func(res *ledger.Result) []ledger.Write {
			return []ledger.Write{
				{SQL: sqlRenew,
					Args: []any{r.ID, n, tierID, int64(price), anchor.UnixMicro(), anchorN, start.UnixMicro(), end.UnixMicro(), at, r.Periods},
					Fail: func(ctx context.Context, tx *sql.Tx) error { return errRaced }},
				insertPeriod(r.ID, n, r.FanID, r.CreatorID, tierID, price, res.OpID, "", start, end),
				outbox.Write(renewed(res, r, n, tierID, price, start, end, now)),
			}
		},
		Jobs: func(*ledger.Result) []store.Job {
			return []store.Job{Renewal(r.ID, n, end)}
		},
	})
	switch code := fanfare.ErrorCode(err); {
	case err == nil:
		return Renewed, nil
	case err == errRaced || code == fanfare.EConflict:
		return NotDue, nil
	case code == fanfare.EInsufficientFunds || code == fanfare.EWalletFrozen || code == fanfare.ESpendLimit ||
		code == fanfare.ENotEligible || code == fanfare.ERegionBlocked:
		return s.fail(ctx, r, now, err)
	default:
		return NotDue, err
	}
}

// sqlRenew records a renewal's period on its subscription, if it is still
// the one the renewal read ($10 periods paid).
const sqlRenew = `UPDATE subscriptions SET periods = $2, tier_id = $3, price = $4, anchor = $5, anchor_n = $6, period_start = $7,
		period_end = $8, state = 'active', grace_until = NULL, retry_at = NULL, attempts = 0, failure = '', next_tier_id = NULL,
		renew_price = CASE WHEN renew_price = $4 OR tier_id <> $3 THEN NULL ELSE renew_price END,
		renew_price_from = CASE WHEN renew_price = $4 OR tier_id <> $3 THEN NULL ELSE renew_price_from END,
		updated_at = $9
	WHERE id = $1 AND periods = $10 AND state <> 'ended' AND auto_renew`

// errRaced is a renewal's answer when its row moved on meanwhile.
var errRaced = fanfare.Errorf(fanfare.EConflict, "the subscription was renewed or ended meanwhile")

// fail records a renewal that could not be paid: the subscription enters
// (or stays in) grace with a retry scheduled, or lapses when the grace
// period is over.
func (s *Service) fail(ctx context.Context, r *Subscription, now time.Time, cause error) (Outcome, error) {
	opts := s.opts()
	graceUntil := r.PeriodEnd.Add(opts.Grace)
	if r.GraceUntil != nil {
		graceUntil = *r.GraceUntil
	}
	if !now.Before(graceUntil) {
		return s.end(ctx, r, now, EndLapsed)
	}
	retry := now.Add(opts.RetryEvery)
	if retry.After(graceUntil) {
		retry = graceUntil
	}
	msg := cause.Error()
	if e, ok := cause.(*fanfare.Error); ok {
		msg = e.Message
	}
	at := now.UnixMicro()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE subscriptions SET state = 'grace', grace_until = $3, retry_at = $4, attempts = attempts + 1,
			failure = $5, updated_at = $6 WHERE id = $1 AND periods = $2 AND state IN ('active', 'grace') AND attempts = $7`,
			r.ID, r.Periods, graceUntil.UnixMicro(), retry.UnixMicro(), msg, at, r.attempts)
		if err != nil {
			return fmt.Errorf("renewal failed: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("renewal failed: %w", err)
		} else if n == 0 {
			return errRaced
		}
		return s.sched.InsertTx(ctx, tx, JobRenew, renewArgs{ID: r.ID, Periods: r.Periods}, retry)
	})
	if err == errRaced {
		return NotDue, nil
	} else if err != nil {
		return NotDue, err
	}
	return InGrace, nil
}

// end ends r at now for reason. A lapse is reported as
// subscription.lapsed, and the end of a plan the creator can no longer
// offer as subscription.cancelled (the system stopped its renewal); the
// end of a period whose renewal was off already was reported when it was
// turned off (or, for a gift, when it started), and writes no event.
func (s *Service) end(ctx context.Context, r *Subscription, now time.Time, reason string) (Outcome, error) {
	ended := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE subscriptions SET state = 'ended', end_reason = $3, ended_at = $4, retry_at = NULL,
			updated_at = $4 WHERE id = $1 AND periods = $2 AND state <> 'ended'`, r.ID, r.Periods, reason, now.UnixMicro())
		if err != nil {
			return fmt.Errorf("end subscription: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("end subscription: %w", err)
		} else if n == 0 {
			return nil
		}
		ended = true
		switch reason {
		case EndLapsed:
			return s.enqueue(ctx, tx, outbox.SubscriptionLapsed, r.ID, "", "", now)
		case EndCreator:
			return s.enqueue(ctx, tx, outbox.SubscriptionCanceled, r.ID, "_ended", CancelledBySystem, now)
		}
		return nil
	})
	if err != nil || !ended {
		return NotDue, err
	}
	if reason == EndLapsed {
		return Lapsed, nil
	}
	return Stopped, nil
}

// sweepBatch is how many subscriptions the sweep reads at once.
const sweepBatch = 1000

// Sweep renews every subscription due by the Clock that its job has not
// (a job lost, or the server down at the time): it returns how many it
// renewed, put in grace or ended.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.clock.Now().UTC()
	done := 0
	p := &pass{}
	for _, where := range []string{
		` WHERE s.state = 'active' AND s.period_end <= $1 ORDER BY s.period_end LIMIT $2`,
		` WHERE s.state = 'grace' AND s.retry_at <= $1 ORDER BY s.retry_at LIMIT $2`,
	} {
		for {
			due, err := s.due(ctx, where, now, sweepBatch)
			if err != nil {
				return done, err
			}
			changed, err := s.renewAll(ctx, due, now, p)
			done += changed
			if err != nil {
				return done, err
			}
			if len(due) < sweepBatch || changed == 0 {
				break
			}
		}
	}
	return done, nil
}

// pass is what one pass of the sweep reads once for many renewals:
// whether each creator still offers subscriptions (eligible, plan
// enabled), so that a creator's thousands of renewals due together read it
// once, and the fans of the batch being renewed with their spending state,
// read together before the batch's renewals.
type pass struct {
	mu    sync.Mutex
	known map[string]bool
	// spenders is set before a batch's renewals start, and read only
	// while they run.
	spenders map[string]*wallet.Spender
}

// spender is the fan fanID as read ahead for the batch, or nil.
func (c *pass) spender(fanID string) *wallet.Spender {
	if c == nil {
		return nil
	}
	return c.spenders[fanID]
}

// offers reports whether creatorID may still be paid for subscriptions,
// from c if it knows, else from the store (and remembered in c). A nil c
// remembers nothing.
func (c *pass) offers(ctx context.Context, s *Service, creatorID string) (bool, error) {
	if c != nil {
		c.mu.Lock()
		on, ok := c.known[creatorID]
		c.mu.Unlock()
		if ok {
			return on, nil
		}
	}
	creator, err := s.users.ByID(ctx, creatorID)
	if err != nil {
		return false, err
	}
	d, err := s.rules.Creator(ctx, eligibility.Subscriptions, creator, false)
	if err != nil {
		return false, err
	}
	on, err := s.enabled(ctx, s.db.Read, creatorID)
	if err != nil {
		return false, err
	}
	// Whatever the rule says, a restricted or banned creator receives no
	// money (SPEC "Trust, safety and operations").
	on = on && d.Allowed && !blocked(creator.Standing)
	if c != nil {
		c.mu.Lock()
		if c.known == nil {
			c.known = make(map[string]bool)
		}
		c.known[creatorID] = on
		c.mu.Unlock()
	}
	return on, nil
}

// renewAll renews due, SweepWorkers at once so that their payments share
// the ledger's batches, and returns how many changed. The fans who pay are
// read first, together. A row read before its job renewed it is harmless:
// the renewal finds it moved on (its periods, its idempotency key) and
// does nothing.
func (s *Service) renewAll(ctx context.Context, due []*Subscription, now time.Time, p *pass) (int, error) {
	fans := make([]string, 0, len(due))
	for _, r := range due {
		if r.AutoRenew {
			fans = append(fans, r.FanID)
		}
	}
	spenders, err := s.wallet.Spenders(ctx, fans)
	if err != nil {
		return 0, err
	}
	p.spenders = spenders
	defer func() { p.spenders = nil }()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		changed int
		first   error
	)
	next := make(chan *Subscription)
	for range min(s.opts().SweepWorkers, len(due)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				out, err := s.renew(ctx, r, now, p)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if out != NotDue {
					changed++
				}
				mu.Unlock()
			}
		}()
	}
	for _, r := range due {
		next <- r
	}
	close(next)
	wg.Wait()
	return changed, first
}

// due reads up to limit subscriptions matching where (its $1 is now, as
// in subColumns, and $2 the limit), whole, in one query.
func (s *Service) due(ctx context.Context, where string, now time.Time, limit int, more ...any) ([]*Subscription, error) {
	rs, err := s.db.Read.QueryContext(ctx, `SELECT `+subColumns+subJoins+where, append([]any{now.UnixMicro(), limit}, more...)...)
	if err != nil {
		return nil, fmt.Errorf("sweep subscriptions: %w", err)
	}
	defer rs.Close()
	var out []*Subscription
	for rs.Next() {
		r, err := s.scan(rs, now)
		if err != nil {
			return nil, fmt.Errorf("sweep subscriptions: %w", err)
		}
		out = append(out, r)
	}
	return out, rs.Err()
}
