package web_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// members is who subscribes to whom: creator id → fan ids.
type members struct {
	mu   sync.Mutex
	subs map[string]map[string]bool
}

func (m *members) add(creatorID, fanID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subs == nil {
		m.subs = map[string]map[string]bool{}
	}
	if m.subs[creatorID] == nil {
		m.subs[creatorID] = map[string]bool{}
	}
	m.subs[creatorID][fanID] = true
}

func (m *members) Membership(_ context.Context, fanID, creatorID string) (fanfare.Membership, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.subs[creatorID][fanID] {
		return fanfare.Membership{}, nil
	}
	return fanfare.Membership{Active: true, Months: 3, Badge: 3}, nil
}

// The studio's subscriber-only switch works as a plain form; the room then
// says the chat is for subscribers, and locks the chat, with the reason,
// for a visitor who does not subscribe (not for a subscriber).
func TestSubscribersOnlyChatPages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		m := &members{}
		a := newAppWith(t, db, appOptions{members: m})
		ayla := a.createUser(t, "ayla", "Ayla Demir", "TR", "1995-05-05")
		sam := a.createUser(t, "sam", "Sam Bernard", "FR", "1992-02-02")
		a.createUser(t, "omar", "Omar Haddad", "AE", "1990-01-01")
		m.add(ayla.UserID, sam.UserID)
		l := a.goLive(t, ayla, "Members night")
		room := "/live/" + l.ID

		creator := a.browser(t)
		creator.logIn("ayla")
		s := creator.get("/studio")
		require.True(t, s.hasForm("/studio/chat-mode"))
		s.requireText(t, "Subscribers-only chat", "only you and your active subscribers can chat")
		require.Contains(t, s.body, `<input type="checkbox" name="subscribers_only" value="true" aria-describedby="chat-mode-hint" data-testid="subscribers-only">`)
		require.Contains(t, s.body, `data-testid="subscribers-only-notice" hidden>`)

		fan := a.browser(t)
		fan.logIn("omar")
		r := fan.get(room)
		require.Contains(t, r.body, `data-testid="subscribers-only-notice" hidden>`)
		require.Contains(t, r.body, `data-chat-member="false"`)
		require.Contains(t, r.body, `data-testid="chat-input">`, "the chat is open")
		require.Contains(t, r.body, `data-testid="chat-locked" hidden>`)

		// Someone else cannot switch it.
		form := s.form(t, "/studio/chat-mode", 0)
		form.Set("subscribers_only", "true")
		form.Set("csrf_token", fan.get("/studio").form(t, "/studio/start", 0).Get("csrf_token"))
		res := fan.post("/studio/chat-mode", form)
		require.Equal(t, http.StatusForbidden, res.status)
		got, err := a.live.Get(context.Background(), l.ID)
		require.NoError(t, err)
		require.False(t, got.SubscribersOnly)

		form = s.form(t, "/studio/chat-mode", 0)
		form.Set("subscribers_only", "true")
		res = creator.post("/studio/chat-mode", form)
		require.Equal(t, http.StatusSeeOther, res.status, "%s", res.text())
		require.Equal(t, "/studio?chat=subscribers", res.location)
		s = creator.follow(res)
		s.requireText(t, "Subscribers-only chat is on")
		require.Contains(t, s.body, `value="true" checked aria-describedby="chat-mode-hint"`)
		got, err = a.live.Get(context.Background(), l.ID)
		require.NoError(t, err)
		require.True(t, got.SubscribersOnly)

		r = fan.get(room)
		r.requireText(t, "Subscribers-only chat. Only @ayla's subscribers can chat right now",
			"You can't chat now: the chat is for @ayla's subscribers.")
		require.NotContains(t, r.body, `data-testid="subscribers-only-notice" hidden>`)
		require.Contains(t, r.body, `data-testid="chat-input" disabled aria-describedby="chat-locked">`)
		require.Contains(t, r.body, `data-testid="chat-send" disabled>`)
		require.Contains(t, r.body, `data-testid="chat-locked">`)

		subscriber := a.browser(t)
		subscriber.logIn("sam")
		r = subscriber.get(room)
		r.requireText(t, "Subscribers-only chat.")
		require.Contains(t, r.body, `data-chat-member="true"`)
		require.Contains(t, r.body, `data-testid="chat-input">`)
		require.NotContains(t, r.body, `data-testid="chat-locked"`)

		anon := a.browser(t).get(room)
		anon.requireText(t, "Subscribers-only chat.", "Log in to chat")

		// Off again: a form without the box checked.
		form = s.form(t, "/studio/chat-mode", 0)
		res = creator.post("/studio/chat-mode", form)
		require.Equal(t, "/studio?chat=everyone", res.location)
		creator.follow(res).requireText(t, "Subscribers-only chat is off")
		r = fan.get(room)
		require.Contains(t, r.body, `data-testid="subscribers-only-notice" hidden>`)
		require.Contains(t, r.body, `data-testid="chat-input">`)

		// Once the LIVE ended the form leads to its summary.
		_, err = a.live.End(context.Background(), ayla, l.ID)
		require.NoError(t, err)
		res = creator.post("/studio/chat-mode", form)
		require.Equal(t, http.StatusSeeOther, res.status)
		require.Equal(t, "/live/"+url.PathEscape(l.ID)+"/summary", res.location)
	})
}
