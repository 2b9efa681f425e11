package subscription

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// GiftOperation names a gift request in its idempotency hash.
const GiftOperation = "POST /v1/lives/{id}/gifted-subscriptions"

// Preferences are a user's choices that others' actions depend on.
type Preferences struct {
	// AcceptGiftedSubscriptions lets others in a LIVE gift this user a
	// subscription to its creator (off until the user turns it on).
	AcceptGiftedSubscriptions bool `json:"accept_gifted_subscriptions"`
}

// PreferencesInput changes some preferences; a field left out stays.
type PreferencesInput struct {
	AcceptGiftedSubscriptions *bool `json:"accept_gifted_subscriptions,omitempty"`
}

// Preferences returns userID's preferences.
func (s *Service) Preferences(ctx context.Context, userID string) (*Preferences, error) {
	var p Preferences
	err := s.db.Read.QueryRowContext(ctx, `SELECT accept_gifted_subscriptions FROM user_preferences WHERE user_id = $1`, userID).
		Scan(&p.AcceptGiftedSubscriptions)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read preferences: %w", err)
	}
	return &p, nil
}

// SetPreferences changes the actor's preferences.
//
// Codes: forbidden (not a logged-in user).
func (s *Service) SetPreferences(ctx context.Context, actor fanfare.Actor, in PreferencesInput) (*Preferences, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "preferences belong to a logged-in user")
	}
	p, err := s.Preferences(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	if in.AcceptGiftedSubscriptions != nil {
		p.AcceptGiftedSubscriptions = *in.AcceptGiftedSubscriptions
	}
	_, err = s.db.Write.ExecContext(ctx, `INSERT INTO user_preferences (user_id, accept_gifted_subscriptions, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET accept_gifted_subscriptions = excluded.accept_gifted_subscriptions, updated_at = excluded.updated_at`,
		actor.UserID, p.AcceptGiftedSubscriptions, s.clock.Now().UTC().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("set preferences: %w", err)
	}
	return p, nil
}

// GiftInput is a gift of Count one-period subscriptions to a creator's
// Tier (optional when the plan has one) for viewers of their LIVE.
type GiftInput struct {
	Count int    `json:"count"`
	Tier  string `json:"tier,omitempty"`
}

// Recipient is a user a gifted subscription went to.
type Recipient struct {
	UserID         string `json:"user_id"`
	Handle         string `json:"handle"`
	SubscriptionID string `json:"subscription_id"`
}

// Gifted is a gift's answer.
type Gifted struct {
	OpID       string         `json:"op_id"`
	Tier       Tier           `json:"tier"`
	Count      int            `json:"count"`
	Coins      fanfare.Amount `json:"coins" doc:"What the gifter paid: count × the tier's price"`
	Recipients []Recipient    `json:"recipients"`
	Balance    fanfare.Amount `json:"balance" doc:"The gifter's coins after the gift"`
	Replayed   bool           `json:"-"`
}

// Gift buys, during a LIVE on air (onAir), in.Count one-period
// subscriptions to creatorID for users drawn
// at random among viewers (the LIVE's logged-in viewers now, as the caller
// reads them) who accept gifted subscriptions, are not the gifter or the
// creator, and have no open subscription to the creator. With fewer such
// viewers than in.Count the gift is refused before any coin moves. The
// gifter pays count × the tier's price in one ledger operation (the
// creator's share of the total in diamonds) that creates every
// subscription and schedules the end of each: a gifted period does not
// renew unless its recipient turns auto-renewal on.
//
// Codes: forbidden, idempotency_key_required, invalid_state (no LIVE on
// air), validation_failed (count
// outside 1..MaxGift; no tier named when the plan has several), not_found
// (no such creator or tier), not_eligible and region_blocked (the rules,
// the plan), not_enough_recipients, conflict (a recipient subscribed
// meanwhile), wallet_frozen, spend_limit_exceeded, insufficient_funds,
// idempotency_conflict.
func (s *Service) Gift(ctx context.Context, actor fanfare.Actor, creatorID, object string, viewers []string, in GiftInput, idemKey string, onAir bool) (*Gifted, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "subscriptions are gifted by a logged-in fan")
	}
	if err := ledger.CheckKey(idemKey, "gift subscriptions"); err != nil {
		return nil, err
	}
	if in.Count < 1 || in.Count > MaxGift {
		return nil, fanfare.Errorf(fanfare.EInvalid, "count must be between 1 and %d", MaxGift)
	}
	if creatorID == actor.UserID {
		return nil, fanfare.Errorf(fanfare.EInvalid, "you cannot gift subscriptions to your own plan")
	}
	idem := ledger.Idempotency{Scope: actor.ID(), Key: idemKey,
		Hash: ledger.HashRequest([]byte(GiftOperation), []byte(object), []byte(strconv.Itoa(in.Count)), []byte(in.Tier))}
	if g, err := s.giftReplay(ctx, idem); err != nil || g != nil {
		return g, err
	}
	if !onAir {
		return nil, fanfare.Errorf(fanfare.EInvalidState, "subscriptions are gifted to the viewers of a LIVE on air; this one is not")
	}
	creator, err := s.users.ByID(ctx, creatorID)
	if err != nil {
		return nil, err
	}
	gifter, err := s.users.ByID(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	d, err := s.rules.Between(ctx, eligibility.Subscriptions, gifter, creator)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		return nil, d.Public(creator.Handle).Err()
	}
	tier, err := s.choose(ctx, creator, in.Tier)
	if err != nil {
		return nil, err
	}
	chosen, err := s.draw(ctx, creator, gifter.ID, viewers, in.Count)
	if err != nil {
		return nil, err
	}
	coins := tier.Price * fanfare.Amount(in.Count) // MaxPrice × MaxGift fits: see New
	now := s.clock.Now().UTC()
	end := s.periodEnd(now, 1)
	ids := make([]string, len(chosen))
	for i := range chosen {
		ids[i] = fanfare.NewID(s.clock)
	}
	p, err := s.wallet.Pay(ctx, actor, wallet.Spend{
		Feature:        Feature,
		What:           "gift subscriptions",
		Object:         object,
		CreatorID:      creator.ID,
		CreatorChecked: true,
		Coins:          coins,
		ShareBPS:       s.opts.ShareBPS,
		Idem:           &idem,
		Writes: func(r *ledger.Result) []ledger.Write {
			ws := s.planStillOn(creator, tier)
			for i, u := range chosen {
				ws = append(ws, s.insertSubscription(creator, ids[i], u.ID, tier, now, end, gifter.ID, false),
					insertPeriod(ids[i], 1, u.ID, creator.ID, tier.ID, tier.Price, r.OpID, gifter.ID, now, end),
					outbox.Write(started(r, ids[i], u, creator, gifter, tier, now, end)))
			}
			return ws
		},
		Jobs: func(*ledger.Result) []store.Job {
			jobs := make([]store.Job, len(ids))
			for i, id := range ids {
				jobs[i] = Renewal(id, 1, end)
			}
			return jobs
		},
	})
	if err != nil {
		return nil, err
	}
	return s.gifted(ctx, p)
}

// draw picks count users at random among viewers who may receive a
// gifted subscription to creator from gifterID.
func (s *Service) draw(ctx context.Context, creator *fanfare.User, gifterID string, viewers []string, count int) ([]*fanfare.User, error) {
	seen := map[string]bool{gifterID: true, creator.ID: true}
	var ids []string
	for _, v := range viewers {
		if v != "" && !seen[v] {
			seen[v] = true
			ids = append(ids, v)
		}
	}
	var pool []*fanfare.User
	if len(ids) > 0 {
		args := []any{creator.ID}
		marks := make([]string, len(ids))
		for i, id := range ids {
			args = append(args, id)
			marks[i] = "$" + strconv.Itoa(i+2)
		}
		rs, err := s.db.Read.QueryContext(ctx, `SELECT p.user_id FROM user_preferences p
			WHERE p.accept_gifted_subscriptions AND p.user_id IN (`+strings.Join(marks, ", ")+`)
			AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.fan_id = p.user_id AND s.creator_id = $1 AND s.state <> 'ended')
			ORDER BY p.user_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("draw recipients: %w", err)
		}
		var ok []string
		for rs.Next() {
			var id string
			if err := rs.Scan(&id); err != nil {
				rs.Close()
				return nil, fmt.Errorf("draw recipients: %w", err)
			}
			ok = append(ok, id)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("draw recipients: %w", err)
		}
		for _, id := range ok {
			u, err := s.users.ByID(ctx, id)
			if err != nil {
				return nil, err
			}
			if u.Standing == fanfare.StandingBanned {
				continue
			}
			pool = append(pool, u)
		}
	}
	if len(pool) < count {
		return nil, fanfare.Errorf(fanfare.ENotEnoughRecipients,
			"only %d %s in this LIVE can receive a gifted subscription (they accept gifted subscriptions and do not subscribe yet); gift at most that many",
			len(pool), plural(len(pool), "viewer", "viewers"))
	}
	// A uniform draw: a Fisher-Yates shuffle's first count, with crypto/rand.
	for i := 0; i < count; i++ {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(len(pool)-i)))
		if err != nil {
			return nil, fmt.Errorf("draw recipients: %w", err)
		}
		k := i + int(j.Int64())
		pool[i], pool[k] = pool[k], pool[i]
	}
	return pool[:count], nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// giftReplay answers a replay of a gift made with idem, or nil, nil when
// the key is unused.
func (s *Service) giftReplay(ctx context.Context, idem ledger.Idempotency) (*Gifted, error) {
	p, err := s.wallet.Replay(ctx, idem, 0, s.opts.ShareBPS)
	if err != nil || p == nil {
		return nil, err
	}
	return s.gifted(ctx, p)
}

// gifted reads the gift paid by p.
func (s *Service) gifted(ctx context.Context, p *wallet.Payment) (*Gifted, error) {
	rs, err := s.db.Read.QueryContext(ctx, `SELECT p.subscription_id, p.fan_id, u.handle, p.tier_id FROM subscription_periods p
		JOIN users u ON u.id = p.fan_id WHERE p.op_id = $1 ORDER BY u.handle`, p.OpID)
	if err != nil {
		return nil, fmt.Errorf("read gift: %w", err)
	}
	defer rs.Close()
	g := &Gifted{OpID: p.OpID, Coins: p.Coins, Balance: p.Balance, Replayed: p.Replayed, Recipients: []Recipient{}}
	var tierID string
	for rs.Next() {
		var r Recipient
		if err := rs.Scan(&r.SubscriptionID, &r.UserID, &r.Handle, &tierID); err != nil {
			return nil, fmt.Errorf("read gift: %w", err)
		}
		g.Recipients = append(g.Recipients, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read gift: %w", err)
	}
	g.Count = len(g.Recipients)
	if tierID != "" {
		var perks string
		if err := s.db.Read.QueryRowContext(ctx, `SELECT id, name, price, perks FROM subscription_tiers WHERE id = $1`, tierID).
			Scan(&g.Tier.ID, &g.Tier.Name, &g.Tier.Price, &perks); err != nil {
			return nil, fmt.Errorf("read gift: %w", err)
		}
		g.Tier.Perks = splitPerks(perks)
	}
	return g, nil
}
