package live

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/room"
)

// Members tells whether a fan subscribes to a creator (LIVE
// Subscription): the chat's badges, exclusive emotes and subscriber-only
// mode are decided on it.
type Members interface {
	Membership(ctx context.Context, fanID, creatorID string) (fanfare.Membership, error)
}

// Emotes lists a creator's exclusive emotes: name → image URL path.
type Emotes interface {
	ChatEmotes(ctx context.Context, creatorID string) (map[string]string, error)
}

// Viewers tells who watches a room on this node: the ids of its logged-in
// viewers, each once. *room.Hub implements it.
type Viewers interface {
	Watching(room string) []string
}

// PerkCacheTTL is how long the chat trusts a fan's membership and a
// creator's emotes it read: a message costs no lookup of either when its
// author chatted a moment ago. A subscription that just began is read
// afresh before subscriber-only mode refuses a message; one that just
// lapsed keeps its badge for at most this long.
const PerkCacheTTL = 5 * time.Second

type memberKey struct{ creatorID, fanID string }

// membership returns fanID's standing with creatorID, from the cache unless
// fresh is set.
func (s *Service) membership(ctx context.Context, fanID, creatorID string, fresh bool) (fanfare.Membership, error) {
	if s.members == nil {
		return fanfare.Membership{}, nil
	}
	k := memberKey{creatorID, fanID}
	if !fresh {
		if m, ok := s.memberships.Get(k); ok {
			return m, nil
		}
	}
	m, err := s.members.Membership(ctx, fanID, creatorID)
	if err != nil {
		return fanfare.Membership{}, fmt.Errorf("membership: %w", err)
	}
	s.memberships.Put(k, m)
	return m, nil
}

// chatEmotes returns creatorID's exclusive emotes, cached.
func (s *Service) chatEmotes(ctx context.Context, creatorID string) (map[string]string, error) {
	if s.emotes == nil {
		return nil, nil
	}
	if m, ok := s.emoteSets.Get(creatorID); ok {
		return m, nil
	}
	m, err := s.emotes.ChatEmotes(ctx, creatorID)
	if err != nil {
		return nil, fmt.Errorf("chat emotes: %w", err)
	}
	s.emoteSets.Put(creatorID, m)
	return m, nil
}

// perks are what a chat author gets in a LIVE: the creator's badge, or a
// subscriber's standing, and whether they may chat in subscriber-only
// mode.
type perks struct {
	creator    bool
	membership fanfare.Membership
	mayChat    bool
}

// perksOf decides actor's perks in l. In subscriber-only mode, a
// membership read inactive from the cache is read again before it refuses.
func (s *Service) perksOf(ctx context.Context, actor fanfare.Actor, l *Live) (perks, error) {
	if actor.UserID != "" && actor.UserID == l.CreatorID {
		return perks{creator: true, mayChat: true}, nil
	}
	var p perks
	if actor.UserID != "" {
		m, err := s.membership(ctx, actor.UserID, l.CreatorID, false)
		if err != nil {
			return p, err
		}
		if !m.Active && l.SubscribersOnly && !actor.IsOperator() {
			if m, err = s.membership(ctx, actor.UserID, l.CreatorID, true); err != nil {
				return p, err
			}
		}
		p.membership = m
	}
	p.mayChat = !l.SubscribersOnly || p.membership.Active || actor.IsOperator()
	return p, nil
}

// subscribersOnly is the refusal of a message in subscriber-only mode.
func subscribersOnly(l *Live) error {
	return fanfare.Errorf(fanfare.ESubscribersOnly, "only @%s's subscribers can chat in this LIVE right now", l.CreatorHandle)
}

// MayChat reports whether actor may chat in l as its chat mode stands:
// anyone logged in, or in subscriber-only mode only the creator, the
// operator and the creator's active subscribers. Mutes and rate limits
// are Chat's to apply.
func (s *Service) MayChat(ctx context.Context, actor fanfare.Actor, l *Live) (bool, error) {
	if actor.UserID == "" {
		return false, nil // chat is for logged-in users
	}
	p, err := s.perksOf(ctx, actor, l)
	return p.mayChat, err
}

// decorate adds the author's perks to a chat message: the creator's badge,
// or a subscriber's badge with its tenure step and the creator's exclusive
// emotes the text names (":name:"). A non-subscriber's ":name:" stays
// plain text: the message is not refused, it carries no emote.
func (s *Service) decorate(ctx context.Context, c *room.Chat, p perks, creatorID string) error {
	switch {
	case p.creator:
		c.Badges = append(c.Badges, "creator")
	case p.membership.Active:
		m := p.membership
		badge := m.Badge
		if badge == 0 {
			badge = max(fanfare.BadgeFor(m.Months), fanfare.BadgeSteps[0])
		}
		c.Badges = append(c.Badges, "subscriber")
		c.Subscriber = &room.Subscriber{Badge: badge, Months: m.Months}
	default:
		return nil
	}
	if !strings.Contains(c.Text, ":") {
		return nil
	}
	set, err := s.chatEmotes(ctx, creatorID)
	if err != nil || len(set) == 0 {
		return err
	}
	for _, name := range EmoteNames(c.Text, func(n string) bool { _, ok := set[n]; return ok }) {
		c.Emotes = append(c.Emotes, room.Emote{Name: name, URL: set[name]})
	}
	return nil
}

// EmoteNames returns the emotes text uses, each once, in the order of
// their first use: every ":name:" whose name known accepts. The text is
// read from left to right; a colon that closes an emote does not open
// another, and one that does not close a known name may open the next
// (":x:hype:" is "hype"). The room page reads a message the same way.
func EmoteNames(text string, known func(name string) bool) []string {
	var out []string
	for i := 0; i < len(text); {
		if text[i] != ':' {
			i++
			continue
		}
		j := strings.IndexByte(text[i+1:], ':')
		if j < 0 {
			break
		}
		name := text[i+1 : i+1+j]
		if name != "" && known(name) {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
			i += j + 2
			continue
		}
		i += j + 1
	}
	return out
}

// SetChatMode switches subscriber-only chat on or off in the actor's LIVE.
// The mode is kept with the LIVE (every node and a restart read it) and
// shown to the room at once.
//
// Codes: not_found, forbidden (not the LIVE's creator), invalid_state (the
// LIVE ended).
func (s *Service) SetChatMode(ctx context.Context, actor fanfare.Actor, liveID string, subscribersOnly bool) (*Live, error) {
	l, err := s.Get(ctx, liveID)
	if err != nil {
		return nil, err
	}
	if actor.UserID == "" || actor.UserID != l.CreatorID {
		return nil, fanfare.Errorf(fanfare.EForbidden, "only the LIVE's creator can change its chat mode")
	}
	res, err := s.db.Write.ExecContext(ctx, `UPDATE lives SET subscribers_only = $1 WHERE id = $2 AND status = 'live'`,
		subscribersOnly, liveID)
	if err != nil {
		return nil, fmt.Errorf("set chat mode: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("set chat mode: %w", err)
	} else if n == 0 {
		return nil, fanfare.Errorf(fanfare.EInvalidState, "this LIVE has ended")
	}
	s.onAir.Delete(liveID)
	_ = s.broker.Publish(ctx, liveID, room.Event{Type: room.TypeChatMode, At: s.clock.Now().UTC(),
		ChatMode: &room.ChatMode{SubscribersOnly: subscribersOnly}})
	l.SubscribersOnly = subscribersOnly
	return l, nil
}

// Watching returns the ids of the logged-in users watching a LIVE now, each
// once, its creator aside, as Options.Viewers tells: on several nodes, the
// app gathers them from every node through the broker.
//
// Codes: not_found.
func (s *Service) Watching(ctx context.Context, liveID string) ([]string, error) {
	l, err := s.Get(ctx, liveID)
	if err != nil {
		return nil, err
	}
	if s.viewers == nil || l.Status != StatusLive {
		return []string{}, nil
	}
	ids := s.viewers.Watching(liveID)
	return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == l.CreatorID }), nil
}

// AnnounceGiftedSubscriptions shows the room of a LIVE that a viewer gifted
// subscriptions to others (the subscription domain calls it once the
// gift's transaction committed). A LIVE that ended in the meantime has no
// room to tell: nothing is published.
//
// Codes: not_found, validation_failed (no gifter, a count under 1, or
// recipients other than count).
func (s *Service) AnnounceGiftedSubscriptions(ctx context.Context, liveID string, g room.GiftedSubs) error {
	if g.Handle == "" || g.Count < 1 || len(g.Recipients) != g.Count {
		return fanfare.Errorf(fanfare.EInvalid, "a gift of subscriptions names its gifter and one recipient per subscription")
	}
	l, err := s.Get(ctx, liveID)
	if err != nil {
		return err
	}
	if l.Status != StatusLive {
		return nil
	}
	g.Recipients = slices.Clone(g.Recipients)
	return s.broker.Publish(ctx, liveID, room.Event{Type: room.TypeGiftedSubs, At: s.clock.Now().UTC(), Gifted: &g})
}
