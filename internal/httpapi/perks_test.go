package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// members is who subscribes to whom: creator id → fan id → months paid.
type members struct {
	mu     sync.Mutex
	months map[[2]string]int
}

func (m *members) set(creatorID, fanID string, months int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.months == nil {
		m.months = map[[2]string]int{}
	}
	m.months[[2]string{creatorID, fanID}] = months
}

func (m *members) Membership(_ context.Context, fanID, creatorID string) (fanfare.Membership, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.months[[2]string{creatorID, fanID}]
	if !ok {
		return fanfare.Membership{}, nil
	}
	return fanfare.Membership{Active: true, Months: n, Badge: fanfare.BadgeFor(n)}, nil
}

// emotes are every creator's emotes, the same for all.
type emotes map[string]string

func (e emotes) ChatEmotes(context.Context, string) (map[string]string, error) { return e, nil }

// Subscriber-only chat over the API and the socket: the creator switches
// it; while on, a non-subscriber's message is refused with
// subscribers_only over HTTP and on their own socket, a subscriber's goes
// out with their badge and emotes; the feed announces the mode and a new
// viewer's state frame carries it.
func TestSubscribersOnlyChatAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		m := &members{}
		e := newEnvConfig(t, db, envConfig{members: m, emotes: emotes{"hype": "/v1/emotes/e1/image"}})
		aylaID, ayla := e.signUp(t, "ayla")
		samID, sam := e.signUp(t, "sam")
		_, omar := e.signUp(t, "omar")
		m.set(aylaID, samID, 3)
		var l liveReply
		e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Members"}}).json(t, &l)
		mode := func(token, live string, body any) *response {
			return e.do(t, request{method: "PUT", path: "/v1/lives/" + live + "/chat-mode", token: token, body: body})
		}
		chat := func(token, text string) *response {
			return e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/chat", token: token, body: map[string]any{"text": text}})
		}
		on := map[string]any{"subscribers_only": true}

		viewer := e.watch(t, l.ID, nil)
		require.Equal(t, false, viewer.next("state")["subscribers_only"])
		omarFeed := e.watch(t, l.ID, http.Header{"Authorization": {"Bearer " + omar}})
		omarFeed.next("state")

		requireProblem(t, mode(omar, l.ID, on), 403, "forbidden")
		requireProblem(t, mode("", l.ID, on), 401, "unauthorized")
		requireProblem(t, mode(ayla, "nope", on), 404, "not_found")
		requireProblem(t, mode(ayla, l.ID, map[string]any{}), 400, "validation_failed")
		res := mode(ayla, l.ID, on)
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var got map[string]any
		res.json(t, &got)
		require.Equal(t, true, got["subscribers_only"])
		e.do(t, request{method: "GET", path: "/v1/lives/" + l.ID}).json(t, &got)
		require.Equal(t, true, got["subscribers_only"])
		require.Equal(t, map[string]any{"type": "chat_mode", "subscribers_only": true}, viewer.next("chat_mode"))
		require.Equal(t, true, e.watch(t, l.ID, nil).next("state")["subscribers_only"])

		p := requireProblem(t, chat(omar, "let me in"), 403, "subscribers_only")
		require.Contains(t, p.Detail, "subscribers")
		require.NoError(t, omarFeed.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"chat","text":"over the socket"}`)))
		errEv := omarFeed.next("error")
		require.Equal(t, "subscribers_only", errEv["code"])
		require.Contains(t, errEv["detail"], "subscribers")

		res = chat(sam, "so :hype: here")
		require.Equal(t, http.StatusNoContent, res.status, "%s", res.body)
		c := viewer.next("chat")
		require.Equal(t, "so :hype: here", c["text"])
		require.Equal(t, []any{"subscriber"}, c["badges"])
		require.Equal(t, map[string]any{"badge": float64(3), "months": float64(3)}, c["subscriber"])
		require.Equal(t, []any{map[string]any{"name": "hype", "url": "/v1/emotes/e1/image"}}, c["emotes"])
		require.Equal(t, http.StatusNoContent, chat(ayla, "creator :hype:").status)
		require.Equal(t, []any{"creator"}, viewer.next("chat")["badges"])

		res = mode(ayla, l.ID, map[string]any{"subscribers_only": false})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.Equal(t, false, viewer.next("chat_mode")["subscribers_only"])
		require.Equal(t, http.StatusNoContent, chat(omar, "finally :hype:").status)
		c = viewer.next("chat")
		require.Equal(t, "finally :hype:", c["text"])
		require.NotContains(t, c, "emotes", "a non-subscriber's :hype: is plain text")
		require.NotContains(t, c, "subscriber")

		require.Equal(t, http.StatusOK, e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/end", token: ayla}).status)
		requireProblem(t, mode(ayla, l.ID, on), 409, "invalid_state")
	})
}

// The room knows its logged-in viewers from their sockets: Watching lists
// them, each once, until they leave; an anonymous viewer is not among
// them. A gift of subscriptions announced reaches the sockets.
func TestWatchingAndGiftedSubscriptions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.signUp(t, "ayla")
		samID, sam := e.signUp(t, "sam")
		omarID, omar := e.signUp(t, "omar")
		var l liveReply
		e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Who is here"}}).json(t, &l)
		ctx := context.Background()

		samFeed := e.watch(t, l.ID, http.Header{"Authorization": {"Bearer " + sam}})
		samFeed.next("state")
		omarFeed := e.watch(t, l.ID, http.Header{"Authorization": {"Bearer " + omar}})
		omarFeed.next("state")
		anon := e.watch(t, l.ID, nil)
		anon.next("state")
		creator := e.watch(t, l.ID, http.Header{"Authorization": {"Bearer " + ayla}})
		creator.next("state")
		ids, err := e.live.Watching(ctx, l.ID)
		require.NoError(t, err)
		slices.Sort(ids)
		want := []string{samID, omarID}
		slices.Sort(want)
		require.Equal(t, want, ids)

		g := room.GiftedSubs{GifterID: samID, Handle: "sam", DisplayName: "sam", Count: 2, Tier: "Fan club", Recipients: []string{"omar", "mia"}}
		require.NoError(t, e.live.AnnounceGiftedSubscriptions(ctx, l.ID, g))
		for _, f := range []*feed{anon, omarFeed, creator} {
			ev := f.next("gifted_subscriptions")
			require.Equal(t, "sam", ev["gifter"])
			require.EqualValues(t, 2, ev["count"])
			require.Equal(t, "Fan club", ev["tier_name"])
			require.Equal(t, []any{"omar", "mia"}, ev["recipients"])
		}

		omarFeed.conn.Close(websocket.StatusNormalClosure, "bye")
		require.NoError(t, retry(func() bool {
			ids, err := e.live.Watching(ctx, l.ID)
			return err == nil && slices.Equal(ids, []string{samID})
		}))
	})
}
