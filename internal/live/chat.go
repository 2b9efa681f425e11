package live

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/room"
)

// Chat limits.
const (
	MaxChat = 150
	// A viewer may send ChatBurst messages at once, then one every
	// ChatEvery.
	ChatBurst = 5
	ChatEvery = time.Second
)

// limiter is a token bucket per key, in memory. With several nodes, each
// tells the others of the tokens it takes (Options.ChatShare) and takes
// theirs from its own buckets: a viewer whose messages go through several
// nodes meets one limit, give or take the messages sent on two nodes
// within the moment the news takes to cross.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	last    time.Time // of the last sweep
}

type bucket struct {
	tokens float64
	at     time.Time
}

// allow takes a token of key at now, or says how long until one is back.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	if now.Sub(l.last) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.at) > ChatBurst*ChatEvery {
				delete(l.buckets, k)
			}
		}
		l.last = now
	}
	b := l.bucket(key, now)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(ChatEvery))
	}
	b.tokens--
	return true, 0
}

// bucket returns key's bucket, refilled up to now; l.mu is held.
func (l *limiter) bucket(key string, now time.Time) *bucket {
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: ChatBurst, at: now}
		l.buckets[key] = b
	}
	if now.After(b.at) {
		b.tokens = min(ChatBurst, b.tokens+float64(now.Sub(b.at))/float64(ChatEvery))
		b.at = now
	}
	return b
}

// took takes a token another node gave key at at, even the last one: the
// message is sent already.
func (l *limiter) took(key string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b := l.bucket(key, at)
	b.tokens = max(b.tokens-1, 0)
}

// Chat posts a message in a LIVE's room. The creator's message carries
// the "creator" badge; an active subscriber's the "subscriber" badge with
// its tenure step, and the creator's exclusive emotes its text names
// (":name:"). The creator may use their own emotes too. Anyone else's
// ":name:" stays plain text: the message goes out without emotes rather
// than being refused.
//
// Codes: forbidden (not a logged-in user, or muted by the creator),
// validation_failed (empty or over MaxChat characters), not_found,
// invalid_state (the LIVE ended), rate_limited, subscribers_only (the chat
// is in subscriber-only mode and the author is not the creator, the
// operator or an active subscriber), unavailable (the server is stopping:
// Close was called).
func (s *Service) Chat(ctx context.Context, actor fanfare.Actor, liveID, text string) error {
	if actor.UserID == "" {
		return fanfare.Errorf(fanfare.EForbidden, "chat messages are sent by a logged-in user")
	}
	text = strings.TrimSpace(text)
	if text == "" || !utf8.ValidString(text) {
		return fanfare.Errorf(fanfare.EInvalid, "text is required")
	}
	if n := utf8.RuneCountInString(text); n > MaxChat {
		return fanfare.Errorf(fanfare.EInvalid, "a chat message has at most %d characters; this one has %d", MaxChat, n)
	}
	l, err := s.Get(ctx, liveID)
	if err != nil {
		return err
	}
	if l.Status != StatusLive {
		return fanfare.Errorf(fanfare.EInvalidState, "this LIVE has ended")
	}
	var muted int
	if err := s.db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM live_mutes WHERE live_id = $1 AND user_id = $2`,
		liveID, actor.UserID).Scan(&muted); err != nil {
		return fmt.Errorf("chat: %w", err)
	}
	if muted > 0 {
		return fanfare.Errorf(fanfare.EForbidden, "the creator muted you in this LIVE")
	}
	now := s.clock.Now().UTC()
	key := liveID + "/" + actor.UserID
	if ok, wait := s.chatLimit.allow(key, now); !ok {
		return fanfare.Errorf(fanfare.ERateLimited, "slow down: you can send another message in %s", wait.Round(100*time.Millisecond))
	}
	if s.chatShare != nil {
		s.chatShare.ShareChat(key, now)
	}
	// The membership is looked up after the rate limit: a flood of
	// messages costs no lookups.
	p, err := s.perksOf(ctx, actor, l)
	if err != nil {
		return err
	}
	if !p.mayChat {
		return subscribersOnly(l)
	}
	u, err := s.users.ByID(ctx, actor.UserID)
	if err != nil {
		return err
	}
	c := &room.Chat{AuthorID: u.ID, Handle: u.Handle, DisplayName: u.DisplayName, Text: text}
	if err := s.decorate(ctx, c, p, l.CreatorID); err != nil {
		return err
	}
	// Stored first, then shown: a room started again elsewhere shows what
	// this one showed.
	if err := s.chat.store(ctx, fanfare.NewID(s.clock), liveID, now, c); err != nil {
		return err
	}
	return s.broker.Publish(ctx, liveID, room.Event{Type: room.TypeChat, At: now, Chat: c})
}

// Mute stops a viewer from chatting in the actor's LIVE; muting twice is
// harmless.
//
// Codes: not_found (LIVE or user), forbidden (not the LIVE's creator),
// validation_failed (muting oneself).
func (s *Service) Mute(ctx context.Context, actor fanfare.Actor, liveID, userID string) error {
	l, err := s.Get(ctx, liveID)
	if err != nil {
		return err
	}
	if actor.UserID == "" || actor.UserID != l.CreatorID {
		return fanfare.Errorf(fanfare.EForbidden, "only the LIVE's creator can mute its viewers")
	}
	if userID == actor.UserID {
		return fanfare.Errorf(fanfare.EInvalid, "you cannot mute yourself")
	}
	if _, err := s.users.ByID(ctx, userID); err != nil {
		return err
	}
	_, err = s.db.Write.ExecContext(ctx, `INSERT INTO live_mutes (live_id, user_id, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (live_id, user_id) DO NOTHING`, liveID, userID, s.clock.Now().UTC().UnixMicro())
	if err != nil {
		return fmt.Errorf("mute: %w", err)
	}
	return nil
}
