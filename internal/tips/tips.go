// Package tips lets fans tip creators: coins with a short message, through
// the wallet's spending path, to creators the eligibility engine allows and
// who turned Tips on. A tip to a creator who is LIVE shows in the room.
package tips

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/paging"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// Defaults.
const (
	DefaultMinCoins = 10
	DefaultMaxCoins = 100_000
	// DefaultShareBPS: the platform takes no cut of tips at first.
	DefaultShareBPS = 10_000
	// MaxMessage is a tip message's length in characters.
	MaxMessage = 150
)

// Operation names a tip request in its idempotency hash.
const Operation = "POST /v1/creators/{id}/tips"

// Users finds users. *account.Service implements it.
type Users interface {
	ByID(ctx context.Context, id string) (*fanfare.User, error)
}

// OnAir finds a creator's LIVE on air, if any ("" when not LIVE).
type OnAir interface {
	OnAir(ctx context.Context, creatorID string) (string, error)
}

// Options configure a Service.
type Options struct {
	MinCoins, MaxCoins fanfare.Amount
	ShareBPS           int64
	Clock              fanfare.Clock // required
	Broker             room.Broker   // the room feeds; required
	OnAir              OnAir         // where a tip shows (the creator's LIVE); required
}

// Service sends and lists tips.
type Service struct {
	db     *store.DB
	users  Users
	wallet *wallet.Service
	rules  *eligibility.Engine
	opts   Options
}

// New returns a Service. It panics without rules, opts.Clock, opts.Broker or
// opts.OnAir: collaborators are built by the caller (internal/app).
func New(db *store.DB, users Users, w *wallet.Service, rules *eligibility.Engine, opts Options) (*Service, error) {
	switch {
	case rules == nil:
		panic("tips: New needs the eligibility rules")
	case opts.Clock == nil:
		panic("tips: New needs Options.Clock")
	case opts.Broker == nil:
		panic("tips: New needs Options.Broker")
	case opts.OnAir == nil:
		panic("tips: New needs Options.OnAir")
	}
	if opts.MinCoins == 0 {
		opts.MinCoins = DefaultMinCoins
	}
	if opts.MaxCoins == 0 {
		opts.MaxCoins = DefaultMaxCoins
	}
	if opts.ShareBPS == 0 {
		opts.ShareBPS = DefaultShareBPS
	}
	if opts.MinCoins < 1 || opts.MaxCoins < opts.MinCoins || opts.MaxCoins > fanfare.MaxAmount {
		return nil, fmt.Errorf("tips: amounts %d..%d out of range", opts.MinCoins, opts.MaxCoins)
	}
	if opts.ShareBPS < 0 || opts.ShareBPS > 10_000 {
		return nil, fmt.Errorf("tips: share %d bps out of range", opts.ShareBPS)
	}
	return &Service{db: db, users: users, wallet: w, rules: rules, opts: opts}, nil
}

// Limits returns the smallest and largest tip.
func (s *Service) Limits() (min, max fanfare.Amount) { return s.opts.MinCoins, s.opts.MaxCoins }

// Enabled reports whether creatorID turned Tips on.
func (s *Service) Enabled(ctx context.Context, creatorID string) (bool, error) {
	var on bool
	err := s.db.Read.QueryRowContext(ctx, `SELECT enabled FROM tip_settings WHERE user_id = $1`, creatorID).Scan(&on)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("read tip settings: %w", err)
	}
	return on, nil
}

// Settings is a creator's Tips switch and whether fans can tip them now.
type Settings struct {
	Enabled bool `json:"enabled"`
	// Eligible: the creator meets the rules of Tips; Reasons says what is
	// missing when not.
	Eligible bool             `json:"eligible"`
	Reasons  []fanfare.Reason `json:"reasons"`
}

// Settings returns userID's Tips settings.
func (s *Service) Settings(ctx context.Context, userID string) (*Settings, error) {
	u, err := s.users.ByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	on, err := s.Enabled(ctx, userID)
	if err != nil {
		return nil, err
	}
	d, err := s.rules.Creator(ctx, eligibility.Tips, u, true)
	if err != nil {
		return nil, err
	}
	return &Settings{Enabled: on, Eligible: d.Allowed, Reasons: d.Reasons}, nil
}

// SetEnabled turns the actor's Tips on or off. A creator who does not meet
// the rules may turn them on: fans can tip once they do.
//
// Codes: forbidden (not a logged-in user).
func (s *Service) SetEnabled(ctx context.Context, actor fanfare.Actor, enabled bool) (*Settings, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "tip settings belong to a logged-in creator")
	}
	_, err := s.db.Write.ExecContext(ctx, `INSERT INTO tip_settings (user_id, enabled, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`,
		actor.UserID, enabled, s.opts.Clock.Now().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("set tip settings: %w", err)
	}
	return s.Settings(ctx, actor.UserID)
}

// Decide says whether fan (nil: someone not logged in) may tip creator
// now: the rules of Tips for both, the creator's switch, and not oneself.
func (s *Service) Decide(ctx context.Context, fan, creator *fanfare.User) (eligibility.Decision, error) {
	d, err := s.rules.Between(ctx, eligibility.Tips, fan, creator)
	if err != nil {
		return d, err
	}
	if fan != nil && fan.ID == creator.ID {
		return eligibility.Decision{Feature: eligibility.Tips, Reasons: []fanfare.Reason{{Code: eligibility.RSelf, Message: "You cannot tip yourself."}}}, nil
	}
	on, err := s.Enabled(ctx, creator.ID)
	if err != nil {
		return d, err
	}
	if !on {
		d.Add(eligibility.RNotOffered, fmt.Sprintf("@%s has not turned Tips on.", creator.Handle))
	}
	return d, nil
}

// Tip is a tip sent.
type Tip struct {
	ID        string         `json:"id"`
	FanID     string         `json:"-"`
	CreatorID string         `json:"-"`
	Fan       string         `json:"fan"`     // handle
	Creator   string         `json:"creator"` // handle
	Coins     fanfare.Amount `json:"coins"`
	Diamonds  fanfare.Amount `json:"diamonds"`
	Message   string         `json:"message"`
	LiveID    string         `json:"live_id,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
}

// TipSent is the data of a tip.sent event: a tip committed. Its id is the
// tip's (its ledger operation's), so a replay writes no second event.
type TipSent struct {
	ID       string      `json:"id"`
	Sender   outbox.User `json:"sender"`
	Creator  outbox.User `json:"creator"`
	Coins    int64       `json:"coins"`    // paid by the sender
	Diamonds int64       `json:"diamonds"` // earned by the creator
	Message  string      `json:"message"`
	// LiveID is the LIVE the creator was in, if any.
	LiveID    string    `json:"live_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Sent is the answer to a tip request.
type Sent struct {
	Tip     Tip
	Payment *wallet.Payment
}

// Send tips creatorID coins with message, from the actor.
//
// Codes: forbidden, idempotency_key_required, validation_failed (coins
// out of the configured range, a message over MaxMessage characters,
// tipping oneself), not_found (no such creator), not_eligible and
// region_blocked (with the reasons; the creator's standing and age read
// as one reason, unavailable), wallet_frozen, spend_limit_exceeded,
// insufficient_funds, idempotency_conflict.
func (s *Service) Send(ctx context.Context, actor fanfare.Actor, creatorID string, coins fanfare.Amount, message, idemKey string) (*Sent, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "tips are sent by a logged-in fan")
	}
	if err := ledger.CheckKey(idemKey, "send a tip"); err != nil {
		return nil, err
	}
	message = strings.TrimSpace(message)
	if !utf8.ValidString(message) || utf8.RuneCountInString(message) > MaxMessage {
		return nil, fanfare.Errorf(fanfare.EInvalid, "a tip message is at most %d characters", MaxMessage)
	}
	if creatorID == actor.UserID {
		return nil, fanfare.Errorf(fanfare.EInvalid, "you cannot tip yourself")
	}
	idem := &ledger.Idempotency{Scope: actor.ID(), Key: idemKey,
		Hash: ledger.HashRequest([]byte(Operation), []byte(creatorID), fmt.Append(nil, int64(coins)), []byte(message))}
	if coins < s.opts.MinCoins || coins > s.opts.MaxCoins {
		// The range may have changed since a first request.
		return s.replayOr(ctx, idem, actor.UserID, creatorID, coins, message,
			fanfare.Errorf(fanfare.EInvalid, "a tip is %s to %s coins", s.opts.MinCoins.Grouped(), s.opts.MaxCoins.Grouped()))
	}
	creator, err := s.users.ByID(ctx, creatorID)
	if err != nil {
		return nil, err
	}
	fan, err := s.users.ByID(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	d, err := s.Decide(ctx, fan, creator)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		// A replay is answered even if the rules now refuse. The fan does
		// not read the creator's private reasons.
		return s.replayOr(ctx, idem, fan.ID, creator.ID, coins, message, d.Public(creator.Handle).Err())
	}
	liveID, err := s.opts.OnAir.OnAir(ctx, creator.ID)
	if err != nil {
		return nil, err
	}
	diamonds := fanfare.Share(coins, s.opts.ShareBPS)
	p, err := s.wallet.Pay(ctx, actor, wallet.Spend{
		Feature:        "tip",
		What:           "send tips",
		Object:         "creator:" + creator.ID,
		CreatorID:      creator.ID,
		CreatorChecked: true,
		Coins:          coins,
		ShareBPS:       s.opts.ShareBPS,
		Idem:           idem,
		Writes: func(r *ledger.Result) []ledger.Write {
			return []ledger.Write{{SQL: `INSERT INTO tips (id, fan_id, creator_id, coins, diamonds, message, live_id, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				Args: []any{r.OpID, fan.ID, creator.ID, int64(coins), int64(diamonds), message, nullable(liveID), r.CreatedAt.UnixMicro()}},
				outbox.Write(outbox.Event{ID: outbox.ID(outbox.TipSent, r.OpID), Type: outbox.TipSent, At: r.CreatedAt, Data: &TipSent{
					ID: r.OpID, Sender: outbox.UserOf(fan), Creator: outbox.UserOf(creator), Coins: int64(coins), Diamonds: int64(diamonds),
					Message: message, LiveID: liveID, CreatedAt: r.CreatedAt.UTC()}}),
			}
		},
	})
	if err != nil {
		return nil, err
	}
	if !p.Replayed && liveID != "" {
		_ = s.opts.Broker.Publish(ctx, liveID, room.Event{Type: room.TypeTip, At: p.CreatedAt,
			Tip: &room.Tip{Handle: fan.Handle, DisplayName: fan.DisplayName, Coins: int64(coins), Message: message}})
	}
	return s.sent(ctx, p, fan, creator, coins, message, liveID)
}

// replayOr answers a replay of idem, a tip from fanID to creatorID, or
// fails with err. The answer is the one stored with the first request,
// whatever the share now.
func (s *Service) replayOr(ctx context.Context, idem *ledger.Idempotency, fanID, creatorID string, coins fanfare.Amount, message string, err error) (*Sent, error) {
	p, rerr := s.wallet.Replay(ctx, *idem, coins, s.opts.ShareBPS)
	if rerr != nil {
		return nil, rerr
	}
	if p == nil {
		return nil, err
	}
	fan, ferr := s.users.ByID(ctx, fanID)
	if ferr != nil {
		return nil, ferr
	}
	creator, ferr := s.users.ByID(ctx, creatorID)
	if ferr != nil {
		return nil, ferr
	}
	return s.sent(ctx, p, fan, creator, coins, message, "")
}

func (s *Service) sent(ctx context.Context, p *wallet.Payment, fan, creator *fanfare.User, coins fanfare.Amount, message, liveID string) (*Sent, error) {
	t := Tip{ID: p.OpID, FanID: fan.ID, CreatorID: creator.ID, Fan: fan.Handle, Creator: creator.Handle,
		Coins: coins, Diamonds: p.Diamonds, Message: message, LiveID: liveID, CreatedAt: p.CreatedAt}
	if p.Replayed {
		// The stored tip says what was sent (and where).
		if stored, err := s.byID(ctx, p.OpID); err == nil {
			t = *stored
		}
	}
	return &Sent{Tip: t, Payment: p}, nil
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

const tipColumns = `t.id, t.fan_id, t.creator_id, f.handle, c.handle, t.coins, t.diamonds, t.message, COALESCE(t.live_id, ''), t.created_at`
const tipJoins = ` FROM tips t JOIN users f ON f.id = t.fan_id JOIN users c ON c.id = t.creator_id`

type scanner interface{ Scan(...any) error }

func scanTip(sc scanner) (*Tip, error) {
	var t Tip
	var at int64
	if err := sc.Scan(&t.ID, &t.FanID, &t.CreatorID, &t.Fan, &t.Creator, &t.Coins, &t.Diamonds, &t.Message, &t.LiveID, &at); err != nil {
		return nil, err
	}
	t.CreatedAt = time.UnixMicro(at).UTC()
	return &t, nil
}

func (s *Service) byID(ctx context.Context, id string) (*Tip, error) {
	t, err := scanTip(s.db.Read.QueryRowContext(ctx, `SELECT `+tipColumns+tipJoins+` WHERE t.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fanfare.Errorf(fanfare.ENotFound, "tip not found")
	}
	return t, err
}

// SentTip returns the tip id that fanID sent (the web app's confirmation
// of a tip reads it back).
//
// Codes: not_found (no tip id sent by fanID).
func (s *Service) SentTip(ctx context.Context, fanID, id string) (*Tip, error) {
	t, err := s.byID(ctx, id)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("read tip: %w", err)
	}
	if t.FanID != fanID {
		return nil, fanfare.Errorf(fanfare.ENotFound, "tip not found")
	}
	return t, nil
}

// Page is a page of tips, newest first; Next is the cursor of the next
// page ("" on the last, and then absent from the JSON).
type Page struct {
	Tips []Tip  `json:"tips"`
	Next string `json:"next_cursor,omitempty" doc:"Absent on the last page"`
}

// MaxPage is the largest page.
const MaxPage = 100

// Received lists the tips creatorID received, newest first.
//
// Codes: validation_failed (a bad cursor or limit).
func (s *Service) Received(ctx context.Context, creatorID, cursor string, limit int) (*Page, error) {
	return s.list(ctx, "t.creator_id", creatorID, cursor, limit)
}

// SentBy lists the tips fanID sent, newest first.
//
// Codes: validation_failed (a bad cursor or limit).
func (s *Service) SentBy(ctx context.Context, fanID, cursor string, limit int) (*Page, error) {
	return s.list(ctx, "t.fan_id", fanID, cursor, limit)
}

func (s *Service) list(ctx context.Context, col, userID, cursor string, limit int) (*Page, error) {
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > MaxPage {
		return nil, fanfare.Errorf(fanfare.EInvalid, "limit must be between 1 and %d", MaxPage)
	}
	at, id, err := paging.Decode(cursor)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + tipColumns + tipJoins + ` WHERE ` + col + ` = $1`
	args := []any{userID}
	if cursor != "" {
		q += ` AND (t.created_at < $2 OR (t.created_at = $2 AND t.id < $3))`
		args = append(args, at, id)
	}
	q += fmt.Sprintf(` ORDER BY t.created_at DESC, t.id DESC LIMIT %d`, limit+1)
	rs, err := s.db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tips: %w", err)
	}
	defer rs.Close()
	p := &Page{Tips: []Tip{}}
	for rs.Next() {
		t, err := scanTip(rs)
		if err != nil {
			return nil, fmt.Errorf("list tips: %w", err)
		}
		p.Tips = append(p.Tips, *t)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list tips: %w", err)
	}
	if len(p.Tips) > limit {
		p.Tips = p.Tips[:limit]
		last := p.Tips[limit-1]
		p.Next = paging.Encode(last.CreatedAt.UnixMicro(), last.ID)
	}
	return p, nil
}
