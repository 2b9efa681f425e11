// Package live runs LIVE sessions and their gifts: a creator goes LIVE,
// fans send gifts bought with coins (through the wallet's one spending
// path), the creator earns diamonds, and every viewer of the room sees each
// gift through the room hub. The chat carries LIVE Subscription's perks:
// the subscriber's tenure badge, the creator's exclusive emotes and a
// subscriber-only mode kept with the LIVE (perks.go); who subscribes and
// which emotes exist are asked of the Members and Emotes it is given.
package live

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/cache"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// Users finds users. *account.Service implements it.
type Users interface {
	ByID(ctx context.Context, id string) (*fanfare.User, error)
}

// Defaults.
const (
	DefaultGiftShareBPS = 5000
	MaxGiftCount        = 10_000
	MaxTitle            = 100
)

// Options configure a Service.
type Options struct {
	Clock fanfare.Clock // required
	// Gifts is the catalog (default DefaultGifts).
	Gifts []Gift
	// GiftShareBPS is the creator's share of a gift's coins, in diamonds
	// (default DefaultGiftShareBPS).
	GiftShareBPS int64
	// Broker carries gifts, chat and the end of a LIVE to the room feeds
	// (required).
	Broker room.Broker
	// Rules decide who may go LIVE and who may send and receive gifts (the
	// features live and gifts); required.
	Rules *eligibility.Engine
	// Members tell who subscribes to a creator: the chat's badges,
	// exclusive emotes and subscriber-only mode. Nil: nobody subscribes.
	Members Members
	// Emotes are the creators' exclusive emotes. Nil: none.
	Emotes Emotes
	// Viewers tell who watches a room (on this node: *room.Hub; on
	// every node when several serve the database). Nil: nobody, as far
	// as Watching knows.
	Viewers Viewers
	// ChatShare, when several nodes serve the database, tells the others
	// of each chat token this node takes, and this node of theirs, so
	// that a viewer's rate limit holds across nodes. Nil: this node's
	// limits are the only ones.
	ChatShare ChatShare
}

// ChatShare shares the chat's rate limits between nodes (Options).
type ChatShare interface {
	// ShareChat tells the other nodes that key took a token at at.
	ShareChat(key string, at time.Time)
	// OnChat registers f, told of the tokens the other nodes take.
	OnChat(f func(key string, at time.Time))
}

// Service runs LIVEs.
type Service struct {
	db     *store.DB
	users  Users
	wallet *wallet.Service
	clock  fanfare.Clock
	gifts  map[string]Gift
	order  []Gift
	share  atomic.Int64 // the creator's share of a gift, in basis points
	broker room.Broker

	chatLimit limiter
	chatShare ChatShare
	chat      *chatLog
	rules     *eligibility.Engine

	members Members
	emotes  Emotes
	viewers Viewers
	// memberships and emoteSets keep what Members and Emotes answered for
	// PerkCacheTTL: the chat asks on every message.
	memberships *cache.TTL[memberKey, fanfare.Membership]
	emoteSets   *cache.TTL[string, map[string]string]
	// onAir keeps LIVEs read as on air for OnAirCacheTTL, for the gift
	// path: a gift's transaction refuses an ended LIVE whatever it read.
	onAir *cache.TTL[string, *Live]
}

// OnAirCacheTTL is how long SendGift trusts a LIVE it read as on air. End
// forgets it at once on this node; elsewhere the gift's own transaction
// refuses the ended LIVE.
const OnAirCacheTTL = time.Second

// New returns a Service. It panics without opts.Clock, opts.Broker or
// opts.Rules: collaborators are built by the caller (internal/app).
func New(db *store.DB, users Users, w *wallet.Service, opts Options) (*Service, error) {
	switch {
	case opts.Clock == nil:
		panic("live: New needs Options.Clock")
	case opts.Broker == nil:
		panic("live: New needs Options.Broker")
	case opts.Rules == nil:
		panic("live: New needs Options.Rules")
	}
	s := &Service{db: db, users: users, wallet: w, clock: opts.Clock, broker: opts.Broker,
		rules: opts.Rules, chat: newChatLog(db), gifts: map[string]Gift{}, onAir: cache.New[string, *Live](OnAirCacheTTL, 10_000, opts.Clock.Now),
		members: opts.Members, emotes: opts.Emotes, viewers: opts.Viewers, chatShare: opts.ChatShare,
		memberships: cache.New[memberKey, fanfare.Membership](PerkCacheTTL, 100_000, opts.Clock.Now),
		emoteSets:   cache.New[string, map[string]string](PerkCacheTTL, 10_000, opts.Clock.Now)}
	if opts.ChatShare != nil {
		opts.ChatShare.OnChat(s.chatLimit.took)
	}
	share := opts.GiftShareBPS
	if share == 0 {
		share = DefaultGiftShareBPS
	}
	if err := s.SetGiftShare(share); err != nil {
		return nil, err
	}
	if db != nil {
		db.PrepareWrite(context.Background(), sqlCountGift, sqlCountGifter, outbox.Statement())
	}
	gifts := opts.Gifts
	if gifts == nil {
		gifts = DefaultGifts()
	}
	for _, g := range gifts {
		if g.ID == "" || g.Name == "" || g.Coins <= 0 || g.Coins > int64(fanfare.MaxAmount)/MaxGiftCount {
			return nil, fmt.Errorf("live: bad gift %+v", g)
		}
		if _, dup := s.gifts[g.ID]; dup {
			return nil, fmt.Errorf("live: gift %q twice", g.ID)
		}
		s.gifts[g.ID] = g
		s.order = append(s.order, g)
	}
	return s, nil
}

// Status of a LIVE.
const (
	StatusLive  = "live"
	StatusEnded = "ended"
)

// Live is a LIVE session.
type Live struct {
	ID                 string
	CreatorID          string
	CreatorHandle      string
	CreatorDisplayName string
	Title              string
	Status             string
	StartedAt          time.Time
	EndedAt            time.Time // zero while live
	Gifts              int64     // gifts received (each of a count counts)
	Coins              int64
	Diamonds           int64
	PeakViewers        int64
	// SubscribersOnly is the chat mode: only the creator, the operator
	// and the creator's active subscribers may chat.
	SubscribersOnly bool
}

const liveColumns = `l.id, l.creator_id, u.handle, u.display_name, l.title, l.status, l.started_at, l.ended_at,
	l.gifts, l.coins, l.diamonds, l.peak_viewers, l.subscribers_only`

type scanner interface{ Scan(...any) error }

func scanLive(row scanner) (*Live, error) {
	var l Live
	var started int64
	var ended sql.NullInt64
	err := row.Scan(&l.ID, &l.CreatorID, &l.CreatorHandle, &l.CreatorDisplayName, &l.Title, &l.Status, &started, &ended,
		&l.Gifts, &l.Coins, &l.Diamonds, &l.PeakViewers, &l.SubscribersOnly)
	if err != nil {
		return nil, err
	}
	l.StartedAt = time.UnixMicro(started).UTC()
	if ended.Valid {
		l.EndedAt = time.UnixMicro(ended.Int64).UTC()
	}
	return &l, nil
}

// Start begins a LIVE of the actor.
//
// Codes: forbidden (not a logged-in user), validation_failed (title),
// not_eligible (under 18, or restricted or banned), conflict (already
// live).
func (s *Service) Start(ctx context.Context, actor fanfare.Actor, title string) (*Live, error) {
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "a LIVE is started by a logged-in creator")
	}
	title = strings.TrimSpace(title)
	if title == "" || !utf8.ValidString(title) || utf8.RuneCountInString(title) > MaxTitle {
		return nil, fanfare.Errorf(fanfare.EInvalid, "title must be 1 to %d characters", MaxTitle)
	}
	u, err := s.users.ByID(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	if d, err := s.rules.Creator(ctx, eligibility.Live, u, true); err != nil {
		return nil, err
	} else if err := d.Err(); err != nil {
		return nil, err
	}
	id := fanfare.NewID(s.clock)
	err = s.start(ctx, u, id, title, now)
	if store.IsUniqueViolation(err) {
		cur, _ := s.current(ctx, u.ID)
		if cur != nil {
			return nil, fanfare.Errorf(fanfare.EConflict, "you are already LIVE (%s); end it before starting another", cur.ID)
		}
		return nil, fanfare.Errorf(fanfare.EConflict, "you are already LIVE; end it before starting another")
	} else if err != nil {
		return nil, fmt.Errorf("start live: %w", err)
	}
	return s.Get(ctx, id)
}

// start inserts the LIVE and its live.started event in one transaction.
func (s *Service) start(ctx context.Context, u *fanfare.User, id, title string, now time.Time) error {
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO lives (id, creator_id, title, status, started_at) VALUES ($1, $2, $3, 'live', $4)`,
		id, u.ID, title, now.UnixMicro()); err != nil {
		return err
	}
	l := &Live{ID: id, CreatorID: u.ID, CreatorHandle: u.Handle, CreatorDisplayName: u.DisplayName, Title: title,
		Status: StatusLive, StartedAt: now}
	if err := outbox.Enqueue(ctx, tx, liveEvent(outbox.LiveStarted, l, now)); err != nil {
		return err
	}
	return tx.Commit()
}

// LiveEvent is the data of the live.started and live.ended events: the
// LIVE as the change left it.
type LiveEvent struct {
	ID        string      `json:"id"`
	Creator   outbox.User `json:"creator"`
	Title     string      `json:"title"`
	Status    string      `json:"status"` // live or ended
	StartedAt time.Time   `json:"started_at"`
	// EndedAt, Gifts, Coins, Diamonds and PeakViewers are set on
	// live.ended: the LIVE's totals.
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	Gifts       int64      `json:"gifts"`
	Coins       int64      `json:"coins"`
	Diamonds    int64      `json:"diamonds"`
	PeakViewers int64      `json:"peak_viewers"`
}

// liveEvent is the event typ about l, at: its id is the LIVE's, since a
// LIVE starts and ends once.
func liveEvent(typ string, l *Live, at time.Time) outbox.Event {
	d := &LiveEvent{ID: l.ID, Title: l.Title, Status: l.Status, StartedAt: l.StartedAt.UTC(),
		Creator: outbox.User{ID: l.CreatorID, Handle: l.CreatorHandle, DisplayName: l.CreatorDisplayName},
		Gifts:   l.Gifts, Coins: l.Coins, Diamonds: l.Diamonds, PeakViewers: l.PeakViewers}
	if !l.EndedAt.IsZero() {
		e := l.EndedAt.UTC()
		d.EndedAt = &e
	}
	return outbox.Event{ID: outbox.ID(typ, l.ID), Type: typ, At: at, Data: d}
}

func (s *Service) current(ctx context.Context, creatorID string) (*Live, error) {
	l, err := scanLive(s.db.Read.QueryRowContext(ctx, `SELECT `+liveColumns+` FROM lives l JOIN users u ON u.id = l.creator_id
		WHERE l.creator_id = $1 AND l.status = 'live'`, creatorID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return l, err
}

// Get returns a LIVE.
//
// Codes: not_found.
func (s *Service) Get(ctx context.Context, id string) (*Live, error) {
	l, err := scanLive(s.db.ReadRow(ctx, `SELECT `+liveColumns+` FROM lives l JOIN users u ON u.id = l.creator_id
		WHERE l.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fanfare.Errorf(fanfare.ENotFound, "LIVE not found")
	} else if err != nil {
		return nil, fmt.Errorf("read live: %w", err)
	}
	return l, nil
}

// Now returns the LIVEs on air, the most recent first.
func (s *Service) Now(ctx context.Context) ([]*Live, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT `+liveColumns+` FROM lives l JOIN users u ON u.id = l.creator_id
		WHERE l.status = 'live' ORDER BY l.started_at DESC, l.id DESC LIMIT 200`)
	if err != nil {
		return nil, fmt.Errorf("list lives: %w", err)
	}
	defer rows.Close()
	var out []*Live
	for rows.Next() {
		l, err := scanLive(rows)
		if err != nil {
			return nil, fmt.Errorf("list lives: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// End ends the actor's LIVE and closes its room feed with a final event.
//
// Codes: not_found, forbidden (someone else's LIVE), invalid_state (ended
// already).
func (s *Service) End(ctx context.Context, actor fanfare.Actor, id string) (*Live, error) {
	l, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if l.CreatorID != actor.UserID || actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only its creator can end a LIVE")
	}
	now := s.clock.Now().UTC()
	if err := s.end(ctx, id, now); err != nil {
		return nil, err
	}
	s.onAir.Delete(id)
	_ = s.broker.Publish(ctx, id, room.Event{Type: room.TypeLiveEnded, At: now})
	return s.Get(ctx, id)
}

// end ends the LIVE id and writes its live.ended event, with the LIVE's
// totals, in one transaction.
//
// Codes: invalid_state (ended already).
func (s *Service) end(ctx context.Context, id string, now time.Time) error {
	tx, err := s.db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("end live: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE lives SET status = 'ended', ended_at = $1 WHERE id = $2 AND status = 'live'`,
		now.UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("end live: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("end live: %w", err)
	} else if n == 0 {
		return fanfare.Errorf(fanfare.EInvalidState, "this LIVE has already ended")
	}
	l, err := scanLive(tx.QueryRowContext(ctx, `SELECT `+liveColumns+` FROM lives l JOIN users u ON u.id = l.creator_id
		WHERE l.id = $1`, id))
	if err != nil {
		return fmt.Errorf("end live: %w", err)
	}
	if err := outbox.Enqueue(ctx, tx, liveEvent(outbox.LiveEnded, l, now)); err != nil {
		return fmt.Errorf("end live: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("end live: %w", err)
	}
	return nil
}

// The statements every gift runs in its ledger operation, prepared once
// (New): the LIVE's totals, only while it is live, and the gifter's line.
const (
	sqlCountGift = `UPDATE lives SET gifts = gifts + $1, coins = coins + $2, diamonds = diamonds + $3
		WHERE id = $4 AND status = 'live'`
	sqlCountGifter = `INSERT INTO live_gifters (live_id, user_id, gifts, coins) VALUES ($1, $2, $3, $4)
		ON CONFLICT (live_id, user_id) DO UPDATE SET gifts = live_gifters.gifts + excluded.gifts, coins = live_gifters.coins + excluded.coins`
)

// GiftOperation names a gift request in its idempotency hash.
const GiftOperation = "POST /v1/lives/{id}/gifts"

// Sent is a gift sent.
type Sent struct {
	Payment *wallet.Payment
	Gift    Gift
	Count   int64
	LiveID  string
}

// SendGift sends count of a gift in a LIVE: the coins go through the
// wallet's spending checks and the ledger's batching committer, the creator
// receives diamonds at the gifts share, the LIVE's totals and leaderboard
// are updated in the same transaction, and the room feed shows it.
//
// Codes: forbidden, idempotency_key_required, validation_failed (unknown
// gift, count out of 1..MaxGiftCount, gifting oneself), not_found (no such
// LIVE), invalid_state (the LIVE ended), not_eligible (under 18, or a
// creator who may not receive money), wallet_frozen, spend_limit_exceeded,
// insufficient_funds, idempotency_conflict.
func (s *Service) SendGift(ctx context.Context, actor fanfare.Actor, liveID, giftID string, count int64, idemKey string) (*Sent, error) {
	share := s.share.Load() // one share for the diamonds and the record
	if actor.UserID == "" {
		return nil, fanfare.Errorf(fanfare.EForbidden, "gifts are sent by a logged-in fan")
	}
	if err := ledger.CheckKey(idemKey, "send a gift"); err != nil {
		return nil, err
	}
	if count < 1 || count > MaxGiftCount {
		return nil, fanfare.Errorf(fanfare.EInvalid, "count must be between 1 and %s", fanfare.Amount(MaxGiftCount).Grouped())
	}
	idem := &ledger.Idempotency{Scope: actor.ID(), Key: idemKey,
		Hash: ledger.HashRequest([]byte(GiftOperation), []byte(liveID), []byte(giftID), fmt.Append(nil, count))}
	g, ok := s.gifts[giftID]
	if !ok {
		// The gift may have left the catalog since a first request.
		return s.replayOr(ctx, idem, Gift{ID: giftID}, count, liveID,
			fanfare.Errorf(fanfare.EInvalid, "unknown gift_id %q: see GET /v1/gifts", giftID))
	}
	l, ok := s.onAir.Get(liveID)
	if !ok {
		var err error
		if l, err = s.Get(ctx, liveID); err != nil {
			return nil, err
		}
		if l.Status == StatusLive {
			s.onAir.Put(liveID, l)
		}
	}
	if l.Status != StatusLive {
		return s.replayOr(ctx, idem, g, count, liveID, fanfare.Errorf(fanfare.EInvalidState, "this LIVE has ended"))
	}
	if l.CreatorID == actor.UserID {
		return nil, fanfare.Errorf(fanfare.EInvalid, "you cannot send gifts in your own LIVE")
	}
	creator, err := s.users.ByID(ctx, l.CreatorID)
	if err != nil {
		return nil, err
	}
	fan, err := s.users.ByID(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	if d, err := s.rules.Between(ctx, eligibility.Gifts, fan, creator); err != nil {
		return nil, err
	} else if err := d.Public(creator.Handle).Err(); err != nil {
		// The fan does not read the creator's private reasons.
		return s.replayOr(ctx, idem, g, count, liveID, err)
	}
	coins := fanfare.Amount(g.Coins * count)
	diamonds := fanfare.Share(coins, share)
	p, err := s.wallet.Pay(ctx, actor, wallet.Spend{
		Feature:        "gift",
		What:           "send gifts",
		Object:         wallet.GiftObject(liveID, g.ID, count),
		CreatorID:      l.CreatorID,
		CreatorChecked: true,
		Coins:          coins,
		ShareBPS:       share,
		Idem:           idem,
		Writes: func(r *ledger.Result) []ledger.Write {
			return []ledger.Write{
				// The LIVE's totals, which every gift of the LIVE
				// updates: written last in the batch.
				{SQL: sqlCountGift, Args: []any{count, int64(coins), int64(diamonds), liveID}, Fail: liveEnded, Last: true},
				{SQL: sqlCountGifter, Args: []any{liveID, actor.UserID, count, int64(coins)}},
				outbox.Write(giftEvent(r, l, fan, creator, g, count, coins, diamonds)),
			}
		},
	})
	if err != nil {
		return nil, err
	}
	if !p.Replayed {
		s.publishGift(ctx, actor, l, g, count, p)
	}
	return &Sent{Payment: p, Gift: g, Count: count, LiveID: liveID}, nil
}

// GiftSent is the data of a gift.sent event: one gift request (count
// gifts of one kind) committed in a LIVE.
type GiftSent struct {
	ID       string      `json:"id"` // the gift's ledger operation
	LiveID   string      `json:"live_id"`
	Sender   outbox.User `json:"sender"`
	Creator  outbox.User `json:"creator"`
	Gift     GiftRef     `json:"gift"`
	Count    int64       `json:"count"`
	Coins    int64       `json:"coins"`    // paid by the sender
	Diamonds int64       `json:"diamonds"` // earned by the creator
	// CreatedAt is when the gift committed.
	CreatedAt time.Time `json:"created_at"`
}

// GiftRef names a gift of the catalog in an event, with its unit price.
type GiftRef struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Coins int64  `json:"coins"`
}

// giftEvent is the gift.sent event of the operation r: its id is the
// operation's, so a batch retried under a new operation id writes a new
// event in place of the one rolled back, and a replay writes none.
func giftEvent(r *ledger.Result, l *Live, fan, creator *fanfare.User, g Gift, count int64, coins, diamonds fanfare.Amount) outbox.Event {
	return outbox.Event{ID: outbox.ID(outbox.GiftSent, r.OpID), Type: outbox.GiftSent, At: r.CreatedAt, Data: &GiftSent{
		ID: r.OpID, LiveID: l.ID, Sender: outbox.UserOf(fan), Creator: outbox.UserOf(creator),
		Gift: GiftRef{ID: g.ID, Name: g.Name, Coins: g.Coins}, Count: count,
		Coins: int64(coins), Diamonds: int64(diamonds), CreatedAt: r.CreatedAt.UTC(),
	}}
}

// liveEnded is the failure of a gift whose LIVE ended before its
// transaction.
func liveEnded(context.Context, *sql.Tx) error {
	return fanfare.Errorf(fanfare.EInvalidState, "this LIVE has ended")
}

// replayOr answers a replay of idem, or fails with err. The answer is the
// one stored with the first request: its coins and diamonds are not
// recomputed from the gift's price or the share now (g's price and the
// share stand in only for a result stored before spends stored them).
func (s *Service) replayOr(ctx context.Context, idem *ledger.Idempotency, g Gift, count int64, liveID string, err error) (*Sent, error) {
	p, rerr := s.wallet.Replay(ctx, *idem, fanfare.Amount(g.Coins*count), s.share.Load())
	if rerr != nil {
		return nil, rerr
	}
	if p == nil {
		return nil, err
	}
	return &Sent{Payment: p, Gift: g, Count: count, LiveID: liveID}, nil
}

func (s *Service) publishGift(ctx context.Context, actor fanfare.Actor, l *Live, g Gift, count int64, p *wallet.Payment) {
	u := p.Fan
	if u == nil {
		var err error
		if u, err = s.users.ByID(ctx, actor.UserID); err != nil {
			return
		}
	}
	_ = s.broker.Publish(ctx, l.ID, room.Event{Type: room.TypeGift, At: p.CreatedAt, Gift: &room.Gift{
		GifterID: u.ID, Handle: u.Handle, DisplayName: u.DisplayName,
		GiftID: g.ID, Name: g.Name, Tier: g.Tier, Count: count, Coins: int64(p.Coins),
	}})
}

// Top returns the LIVE's top gifters by coins.
func (s *Service) Top(ctx context.Context, liveID string, n int) ([]room.Gifter, error) {
	return s.gifters(ctx, "top gifters", `SELECT u.handle, u.display_name, g.coins FROM live_gifters g
		JOIN users u ON u.id = g.user_id WHERE g.live_id = $1 ORDER BY g.coins DESC, u.handle LIMIT $2`, liveID, n)
}

// gifters runs a query of (handle, display name, coins) rows.
func (s *Service) gifters(ctx context.Context, what, query string, args ...any) ([]room.Gifter, error) {
	rows, err := s.db.Read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := []room.Gifter{}
	for rows.Next() {
		var g room.Gifter
		if err := rows.Scan(&g.Handle, &g.DisplayName, &g.Coins); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// RecentEvents is how many of a LIVE's last gifts, tips and chat messages
// a room that starts again reads from the database.
const RecentEvents = 20

// RoomState loads a room's state for the hub (room.Options.Load): the top
// gifters, whether the LIVE ended, its chat mode, and, while it is on air,
// its last RecentEvents gifts, tips and chat messages, oldest first, as the
// room showed them. Gifts are read from their ledger transfers
// (wallet.LiveGifts), so a gift worth less than one diamond, which credits
// the creator nothing, is not among them; chat messages from the chat log
// (live_chat). The hub keeps all of them while it follows the LIVE.
func (s *Service) RoomState(ctx context.Context, liveID string) (room.State, error) {
	l, err := s.Get(ctx, liveID)
	if err != nil {
		return room.State{}, err
	}
	top, err := s.Top(ctx, liveID, 10)
	if err != nil {
		return room.State{}, err
	}
	recent, err := s.recentTips(ctx, l, RecentEvents)
	if err != nil {
		return room.State{}, err
	}
	if l.Status == StatusLive {
		// An ended LIVE's gifts are no longer the creator's last credits:
		// reading them back would walk everything received since.
		gifts, err := s.recentGifts(ctx, l, RecentEvents)
		if err != nil {
			return room.State{}, err
		}
		chat, err := s.recentChat(ctx, l.ID, RecentEvents)
		if err != nil {
			return room.State{}, err
		}
		recent = append(append(recent, gifts...), chat...)
	}
	slices.SortStableFunc(recent, func(a, b stored) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.opID, b.opID)
	})
	recent = recent[max(len(recent)-RecentEvents, 0):]
	st := room.State{Top: top, Ended: l.Status == StatusEnded, SubscribersOnly: l.SubscribersOnly}
	for _, e := range recent {
		st.Recent = append(st.Recent, e.Event)
	}
	return st, nil
}

// stored is an event read back from the database with the id of the
// ledger operation that recorded it: ids grow with time, so they order the
// events of one microsecond.
type stored struct {
	room.Event
	opID string
}

// recentTips returns the last n tips sent to l's creator during l, newest
// first, as the room showed them.
func (s *Service) recentTips(ctx context.Context, l *Live, n int) ([]stored, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT t.id, u.handle, u.display_name, t.coins, t.message, t.created_at
		FROM tips t JOIN users u ON u.id = t.fan_id
		WHERE t.creator_id = $1 AND t.live_id = $2 ORDER BY t.created_at DESC, t.id DESC LIMIT $3`, l.CreatorID, l.ID, n)
	if err != nil {
		return nil, fmt.Errorf("recent tips: %w", err)
	}
	defer rows.Close()
	var out []stored
	for rows.Next() {
		var tip room.Tip
		var id string
		var at int64
		if err := rows.Scan(&id, &tip.Handle, &tip.DisplayName, &tip.Coins, &tip.Message, &at); err != nil {
			return nil, fmt.Errorf("recent tips: %w", err)
		}
		out = append(out, stored{Event: room.Event{Type: room.TypeTip, At: time.UnixMicro(at).UTC(), Tip: &tip}, opID: id})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent tips: %w", err)
	}
	return out, nil
}

// recentGifts returns the last n gifts sent in l, newest first, as the
// room showed them (publishGift): the gift's name and tier from the
// catalog, its coins at the catalog's price (the room's events show the
// count; what was paid is in the ledger's other leg). A gift that left the
// catalog since keeps its id for a name.
func (s *Service) recentGifts(ctx context.Context, l *Live, n int) ([]stored, error) {
	gifts, err := s.wallet.LiveGifts(ctx, l.CreatorID, l.ID, l.StartedAt, n)
	if err != nil {
		return nil, err
	}
	out := make([]stored, 0, len(gifts))
	for _, g := range gifts {
		c, ok := s.gifts[g.GiftID]
		if !ok {
			c = Gift{ID: g.GiftID, Name: g.GiftID, Tier: tierOf(0)}
		}
		out = append(out, stored{opID: g.OpID, Event: room.Event{Type: room.TypeGift, At: g.SentAt, Gift: &room.Gift{
			GifterID: g.FanID, Handle: g.Handle, DisplayName: g.DisplayName,
			GiftID: g.GiftID, Name: c.Name, Tier: c.Tier, Count: g.Count, Coins: c.Coins * g.Count,
		}}})
	}
	return out, nil
}

// GiftShare returns the creator's share of a gift in force, in basis
// points.
func (s *Service) GiftShare() int64 { return s.share.Load() }

// SetGiftShare puts the creator's share of a gift (in basis points of its
// coins, paid in diamonds) in force for every gift sent afterwards; a
// replayed gift answers as it was.
//
// Codes: validation_failed (outside 0..10000).
func (s *Service) SetGiftShare(bps int64) error {
	if bps < 0 || bps > 10_000 {
		return fanfare.Errorf(fanfare.EInvalid, "live: gift share %d bps out of range", bps)
	}
	s.share.Store(bps)
	return nil
}
