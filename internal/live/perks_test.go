package live_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// members is who subscribes to whom, in a map: creator id → fan id →
// months paid, negative for a subscription that lapsed. It counts the
// lookups.
type members struct {
	mu      sync.Mutex
	months  map[[2]string]int
	lookups atomic.Int64
	err     error
}

func newMembers() *members { return &members{months: map[[2]string]int{}} }

func (m *members) set(creatorID, fanID string, months int) {
	m.mu.Lock()
	m.months[[2]string{creatorID, fanID}] = months
	m.mu.Unlock()
}

func (m *members) Membership(_ context.Context, fanID, creatorID string) (fanfare.Membership, error) {
	m.lookups.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return fanfare.Membership{}, m.err
	}
	n, ok := m.months[[2]string{creatorID, fanID}]
	switch {
	case !ok:
		return fanfare.Membership{}, nil
	case n < 0:
		return fanfare.Membership{Months: -n}, nil
	}
	return fanfare.Membership{Active: true, Months: n, Badge: fanfare.BadgeFor(n)}, nil
}

// emotes are the creators' emotes, in a map: creator id → name → URL.
type emotes map[string]map[string]string

func (e emotes) ChatEmotes(_ context.Context, creatorID string) (map[string]string, error) {
	return e[creatorID], nil
}

// perkClock is a clock the test moves.
type perkClock struct{ at atomic.Int64 }

func (c *perkClock) Now() time.Time      { return time.UnixMicro(c.at.Load()).UTC() }
func (c *perkClock) add(d time.Duration) { c.at.Add(d.Microseconds()) }

// withPerks returns f's LIVE service as the app builds it with members,
// emotes and viewers, on clock (nil: the fixture's fixed time).
func (f *fixture) withPerks(t *testing.T, m live.Members, e live.Emotes, v live.Viewers, clock fanfare.Clock) *live.Service {
	t.Helper()
	if clock == nil {
		clock = fanfare.ClockFunc(func() time.Time { return now })
	}
	s, err := live.New(f.db, f.accounts, f.wallet, live.Options{Clock: clock, Broker: f.broker, Rules: f.rules,
		Members: m, Emotes: e, Viewers: v})
	require.NoError(t, err)
	return s
}

// lastChat returns the last chat message rec saw.
func lastChat(t *testing.T, rec *recorder) *room.Chat {
	t.Helper()
	events := rec.all()
	require.NotEmpty(t, events)
	e := events[len(events)-1]
	require.Equal(t, room.TypeChat, e.Type)
	return e.Chat
}

// A subscriber's message carries the subscriber badge at the step of
// their tenure; a lapsed subscriber's, a non-subscriber's and the
// creator's do not.
func TestChatBadges(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		clock := &perkClock{}
		clock.at.Store(now.UnixMicro())
		m := newMembers()
		s := f.withPerks(t, m, nil, nil, clock)
		l, err := s.Start(ctx, f.users["ayla"], "badges")
		require.NoError(t, err)
		rec := &recorder{}
		cancel, err := f.broker.Subscribe(l.ID, rec.add)
		require.NoError(t, err)
		defer cancel()
		ayla, sam := f.users["ayla"].UserID, f.users["sam"].UserID

		for _, c := range []struct{ months, badge int }{
			{1, 1}, {2, 1}, {3, 3}, {5, 3}, {6, 6}, {11, 6}, {12, 12}, {23, 12}, {24, 24}, {40, 24},
		} {
			m.set(ayla, sam, c.months)
			clock.add(live.PerkCacheTTL) // what the chat read of sam has expired
			require.NoError(t, s.Chat(ctx, f.users["sam"], l.ID, "hi"))
			got := lastChat(t, rec)
			require.Equal(t, []string{"subscriber"}, got.Badges, "%d months", c.months)
			require.Equal(t, &room.Subscriber{Badge: c.badge, Months: c.months}, got.Subscriber, "%d months", c.months)
			b, err := json.Marshal(got)
			require.NoError(t, err)
			require.Contains(t, string(b), `"subscriber":{"badge":`)
		}

		m.set(ayla, sam, -7) // lapsed
		clock.add(live.PerkCacheTTL)
		require.NoError(t, s.Chat(ctx, f.users["sam"], l.ID, "still here"))
		require.Nil(t, lastChat(t, rec).Subscriber)
		require.Empty(t, lastChat(t, rec).Badges)

		require.NoError(t, s.Chat(ctx, f.users["omar"], l.ID, "hello"))
		require.Nil(t, lastChat(t, rec).Subscriber)
		b, err := json.Marshal(lastChat(t, rec))
		require.NoError(t, err)
		require.NotContains(t, string(b), "subscriber")

		require.NoError(t, s.Chat(ctx, f.users["ayla"], l.ID, "welcome"))
		require.Equal(t, []string{"creator"}, lastChat(t, rec).Badges)
		require.Nil(t, lastChat(t, rec).Subscriber)

		// The membership is read once per PerkCacheTTL per fan, not per
		// message.
		m.set(ayla, sam, 3)
		clock.add(live.PerkCacheTTL)
		before := m.lookups.Load()
		for range 3 {
			require.NoError(t, s.Chat(ctx, f.users["sam"], l.ID, "again"))
		}
		require.Equal(t, before+1, m.lookups.Load())

		// A lookup that fails fails the message, as an internal error.
		m.mu.Lock()
		m.err = errors.New("database down")
		m.mu.Unlock()
		clock.add(live.PerkCacheTTL)
		requireCode(t, s.Chat(ctx, f.users["sam"], l.ID, "hm"), fanfare.EInternal)
	})
}

// A subscriber's ":name:" naming one of the creator's emotes is an emote
// (the text keeps it; the event lists the emotes used, once each); an
// unknown name, or a non-subscriber's, stays plain text. The creator uses
// their own emotes.
func TestChatEmotes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		m := newMembers()
		ayla, omar := f.users["ayla"].UserID, f.users["omar"].UserID
		e := emotes{
			ayla: {"hype": "/v1/emotes/e1/image", "love": "/v1/emotes/e2/image"},
			omar: {"wave": "/v1/emotes/e3/image"},
		}
		m.set(ayla, f.users["sam"].UserID, 2)
		m.set(omar, f.users["mia"].UserID, 1) // subscribes to another creator only
		s := f.withPerks(t, m, e, nil, nil)
		l, err := s.Start(ctx, f.users["ayla"], "emotes")
		require.NoError(t, err)
		rec := &recorder{}
		cancel, err := f.broker.Subscribe(l.ID, rec.add)
		require.NoError(t, err)
		defer cancel()

		const text = "so :hype: :hype: :unknown: :love: :wave: hype"
		require.NoError(t, s.Chat(ctx, f.users["sam"], l.ID, text))
		got := lastChat(t, rec)
		require.Equal(t, text, got.Text)
		require.Equal(t, []room.Emote{{Name: "hype", URL: "/v1/emotes/e1/image"}, {Name: "love", URL: "/v1/emotes/e2/image"}}, got.Emotes)

		require.NoError(t, s.Chat(ctx, f.users["sam"], l.ID, "just :unknown: words"))
		require.Nil(t, lastChat(t, rec).Emotes)

		for _, who := range []string{"omar", "mia"} {
			require.NoError(t, s.Chat(ctx, f.users[who], l.ID, ":hype: me too"), who)
			got = lastChat(t, rec)
			require.Equal(t, ":hype: me too", got.Text, who)
			require.Nil(t, got.Emotes, "%s does not subscribe to ayla: plain text", who)
		}

		require.NoError(t, s.Chat(ctx, f.users["ayla"], l.ID, "thanks :love:"))
		require.Equal(t, []room.Emote{{Name: "love", URL: "/v1/emotes/e2/image"}}, lastChat(t, rec).Emotes)
	})
}

func TestEmoteNames(t *testing.T) {
	t.Parallel()
	known := func(n string) bool { return n == "hype" || n == "love" || n == "a b" }
	for text, want := range map[string][]string{
		"":                     nil,
		"no emotes":            nil,
		":hype:":               {"hype"},
		":hype::love:":         {"hype", "love"},
		":x:hype:":             {"hype"},
		"::hype::":             {"hype"},
		":hype:love:":          {"hype"},
		":love: :hype: :love:": {"love", "hype"},
		":HYPE: :hype":         nil,
		"ratio 1:2:3":          nil,
		":a b:":                {"a b"},
	} {
		require.Equal(t, want, live.EmoteNames(text, known), "%q", text)
	}
}

// Subscriber-only chat: only the LIVE's creator switches it, on a LIVE on
// air; while on, the creator, the operator and active subscribers chat
// and anyone else is refused with subscribers_only; the room hears of the
// switch; a fan who subscribes is let in at once, whatever the cache read.
func TestSubscribersOnlyChat(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		m := newMembers()
		ayla, sam, omar := f.users["ayla"].UserID, f.users["sam"].UserID, f.users["omar"].UserID
		m.set(ayla, sam, 4)
		s := f.withPerks(t, m, nil, nil, nil)
		l, err := s.Start(ctx, f.users["ayla"], "members")
		require.NoError(t, err)
		require.False(t, l.SubscribersOnly)
		rec := &recorder{}
		cancel, err := f.broker.Subscribe(l.ID, rec.add)
		require.NoError(t, err)
		defer cancel()

		_, err = s.SetChatMode(ctx, f.users["sam"], l.ID, true)
		requireCode(t, err, fanfare.EForbidden)
		_, err = s.SetChatMode(ctx, operator, l.ID, true)
		requireCode(t, err, fanfare.EForbidden)
		_, err = s.SetChatMode(ctx, f.users["ayla"], "nope", true)
		requireCode(t, err, fanfare.ENotFound)
		require.Empty(t, rec.all(), "a refused switch is not announced")

		got, err := s.SetChatMode(ctx, f.users["ayla"], l.ID, true)
		require.NoError(t, err)
		require.True(t, got.SubscribersOnly)
		got, err = s.Get(ctx, l.ID)
		require.NoError(t, err)
		require.True(t, got.SubscribersOnly)
		require.Equal(t, []room.Event{{Type: room.TypeChatMode, At: now, ChatMode: &room.ChatMode{SubscribersOnly: true}}}, rec.all())

		require.NoError(t, s.Chat(ctx, f.users["sam"], l.ID, "member here"))
		require.NoError(t, s.Chat(ctx, f.users["ayla"], l.ID, "creator here"))
		ops := fanfare.Actor{UserID: f.users["mia"].UserID, Handle: "mia", Role: fanfare.RoleOperator}
		require.NoError(t, s.Chat(ctx, ops, l.ID, "operator here"))
		err = s.Chat(ctx, f.users["omar"], l.ID, "let me in")
		requireCode(t, err, fanfare.ESubscribersOnly)
		require.Contains(t, err.Error(), "@ayla's subscribers")
		for _, c := range []struct {
			who  fanfare.Actor
			want bool
		}{{f.users["sam"], true}, {f.users["ayla"], true}, {ops, true}, {f.users["omar"], false}, {fanfare.Actor{}, false}} {
			may, err := s.MayChat(ctx, c.who, got)
			require.NoError(t, err)
			require.Equal(t, c.want, may, "%s", c.who.Handle)
		}
		// A lapsed subscription does not count.
		m.set(ayla, omar, -2)
		requireCode(t, s.Chat(ctx, f.users["omar"], l.ID, "I was one"), fanfare.ESubscribersOnly)
		// omar subscribes: the cache's "no" is checked again, he is in.
		m.set(ayla, omar, 1)
		require.NoError(t, s.Chat(ctx, f.users["omar"], l.ID, "subscribed!"))
		require.Equal(t, []string{"subscriber"}, lastChat(t, rec).Badges)

		_, err = s.SetChatMode(ctx, f.users["ayla"], l.ID, false)
		require.NoError(t, err)
		require.Equal(t, &room.ChatMode{}, rec.all()[len(rec.all())-1].ChatMode)
		require.NoError(t, s.Chat(ctx, f.users["mia"], l.ID, "everyone again"))

		_, err = s.End(ctx, f.users["ayla"], l.ID)
		require.NoError(t, err)
		_, err = s.SetChatMode(ctx, f.users["ayla"], l.ID, true)
		requireCode(t, err, fanfare.EInvalidState)
	})
}

// The chat mode is kept with the LIVE: a restarted service (or another
// node) enforces it and the room it loads shows it.
func TestChatModeSurvivesRestart(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		s := f.withPerks(t, newMembers(), nil, nil, nil)
		l, err := s.Start(ctx, f.users["ayla"], "durable")
		require.NoError(t, err)
		_, err = s.SetChatMode(ctx, f.users["ayla"], l.ID, true)
		require.NoError(t, err)

		again := f.withPerks(t, newMembers(), nil, nil, nil)
		got, err := again.Get(ctx, l.ID)
		require.NoError(t, err)
		require.True(t, got.SubscribersOnly)
		requireCode(t, again.Chat(ctx, f.users["omar"], l.ID, "hello?"), fanfare.ESubscribersOnly)
		st, err := again.RoomState(ctx, l.ID)
		require.NoError(t, err)
		require.True(t, st.SubscribersOnly)

		hub := room.NewHub(room.NewLocal(), room.Options{Tick: 5 * time.Millisecond, Now: func() time.Time { return now }, Load: again.RoomState})
		t.Cleanup(hub.Close)
		v, err := hub.Join(ctx, l.ID)
		require.NoError(t, err)
		defer v.Leave()
		var first struct {
			Type            string `json:"type"`
			SubscribersOnly bool   `json:"subscribers_only"`
		}
		require.NoError(t, json.Unmarshal(frame(t, v), &first))
		require.Equal(t, room.TypeState, first.Type)
		require.True(t, first.SubscribersOnly)
	})
}

// Watching lists the logged-in viewers of the room, each once, without
// the creator or anyone not logged in.
func TestWatching(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		var s *live.Service
		hub := room.NewHub(f.broker, room.Options{Tick: 5 * time.Millisecond, Now: func() time.Time { return now },
			Load: func(ctx context.Context, id string) (room.State, error) { return s.RoomState(ctx, id) }})
		t.Cleanup(hub.Close)
		s = f.withPerks(t, nil, nil, hub, nil)
		l, err := s.Start(ctx, f.users["ayla"], "who is here")
		require.NoError(t, err)
		ids, err := s.Watching(ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, []string{}, ids)

		for _, who := range []string{"sam", "omar", "sam", "", "ayla"} {
			v, err := hub.JoinAs(ctx, l.ID, f.users[who].UserID)
			require.NoError(t, err)
			defer v.Leave()
		}
		want := []string{f.users["sam"].UserID, f.users["omar"].UserID}
		ids, err = s.Watching(ctx, l.ID)
		require.NoError(t, err)
		require.ElementsMatch(t, want, ids)
		require.Len(t, ids, 2)

		_, err = s.Watching(ctx, "nope")
		requireCode(t, err, fanfare.ENotFound)
	})
}

// A gift of subscriptions reaches the room's viewers with the gifter, the
// count, the tier and the recipients.
func TestAnnounceGiftedSubscriptions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		hub := room.NewHub(f.broker, room.Options{Tick: 5 * time.Millisecond, Now: func() time.Time { return now }, Load: f.live.RoomState})
		t.Cleanup(hub.Close)
		l, err := f.live.Start(ctx, f.users["ayla"], "generous")
		require.NoError(t, err)
		v, err := hub.Join(ctx, l.ID)
		require.NoError(t, err)
		defer v.Leave()
		state(t, v)

		g := room.GiftedSubs{GifterID: f.users["sam"].UserID, Handle: "sam", DisplayName: "Sam", Count: 3, Tier: "Fan club",
			Recipients: []string{"a", "b", "c"}}
		bad := g
		bad.Recipients = []string{"a"}
		requireCode(t, f.live.AnnounceGiftedSubscriptions(ctx, l.ID, bad), fanfare.EInvalid)
		requireCode(t, f.live.AnnounceGiftedSubscriptions(ctx, "nope", g), fanfare.ENotFound)
		require.NoError(t, f.live.AnnounceGiftedSubscriptions(ctx, l.ID, g))

		// The first frames may carry the viewer count alone.
		var gifted map[string]any
		for gifted == nil {
			var fr struct {
				Events []map[string]any `json:"events"`
			}
			require.NoError(t, json.Unmarshal(frame(t, v), &fr))
			for _, e := range fr.Events {
				if e["type"] == room.TypeGiftedSubs {
					gifted = e
				}
			}
		}
		require.Equal(t, map[string]any{"type": "gifted_subscriptions", "at": now.Format(time.RFC3339), "gifter_id": f.users["sam"].UserID,
			"gifter": "sam", "gifter_name": "Sam", "count": float64(3), "tier_name": "Fan club", "recipients": []any{"a", "b", "c"}}, gifted)

		// Once the LIVE ended there is no room to tell.
		rec := &recorder{}
		cancel, err := f.broker.Subscribe(l.ID, rec.add)
		require.NoError(t, err)
		defer cancel()
		_, err = f.live.End(ctx, f.users["ayla"], l.ID)
		require.NoError(t, err)
		require.NoError(t, f.live.AnnounceGiftedSubscriptions(ctx, l.ID, g))
		require.Len(t, rec.all(), 1, "only the end was published")
	})
}
