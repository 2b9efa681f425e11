package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/web"
)

// button returns the opening tag of the page's element with data-testid id.
func (p *page) button(t *testing.T, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<button[^>]*data-testid="` + id + `"[^>]*>`).FindString(p.body)
	require.NotEmpty(t, m, "page %s has no %s button", p.path, id)
	return m
}

// Who cannot spend reads why next to a disabled Send button before
// pressing it: a minor in a LIVE room, a fan whose wallet the operator
// froze in the room and on the tip form, a banned fan in the room. A fan
// who can spend gets a Send button the script enables.
func TestSendSaysWhyNot(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		ctx := context.Background()
		l := a.goLive(t, w.ayla, "Sunday LIVE")
		room := "/live/" + l.ID

		sam := a.browser(t)
		sam.logIn("sam")
		p := sam.get(room)
		send := p.button(t, "send-gift")
		require.NotContains(t, send, "data-cannot-spend", "sam can spend: the script enables Send")
		require.NotContains(t, p.body, `data-testid="cannot-spend"`)
		p = sam.get("/creators/ayla")
		require.NotContains(t, p.button(t, "send-tip"), "disabled")

		// mia, 16: the room says why, and Send stays disabled.
		mia := a.browser(t)
		mia.logIn("mia")
		p = mia.get(room)
		send = p.button(t, "send-gift")
		require.Contains(t, send, "disabled")
		require.Contains(t, send, "data-cannot-spend")
		require.Contains(t, send, `aria-describedby="gift-cannot-spend"`)
		require.Contains(t, p.body, `<p class="hint" id="gift-cannot-spend" data-testid="cannot-spend">You can buy and keep coins, but spending them on creators needs you to be 18 or older.</p>`)
		// Her wallet shows no spending allowance she cannot use.
		wp := mia.get("/wallet")
		wp.requireText(t, "spending them on creators needs you to be 18 or older")
		require.NotContains(t, wp.body, `data-testid="wallet-limit-left"`)
		require.NotContains(t, wp.text(), "Spending limit")
		require.Contains(t, sam.get("/wallet").body, `data-testid="wallet-limit-left"`, "an adult's limit shows")

		// The operator freezes sam's wallet: the room and the tip form say
		// so, their Send buttons disabled.
		_, err := a.wallet.Freeze(ctx, w.ops, w.sam.UserID, "card testing")
		require.NoError(t, err)
		p = sam.get(room)
		require.Contains(t, p.button(t, "send-gift"), "data-cannot-spend")
		require.Contains(t, p.body, `id="gift-cannot-spend"`)
		p = sam.get("/creators/ayla")
		tipSend := p.button(t, "send-tip")
		require.Contains(t, tipSend, "disabled")
		require.Contains(t, tipSend, `aria-describedby="tip-cannot-spend"`)
		require.Regexp(t, `<p class="hint" id="tip-cannot-spend" data-testid="cannot-spend">[^<]*card testing`, p.body)
		err = a.wallet.Unfreeze(ctx, w.ops, w.sam.UserID, "cleared")
		require.NoError(t, err)

		// A banned fan reads the rule of gifts that refuses them.
		banned := fanfare.StandingBanned
		_, err = a.accounts.Update(ctx, w.ops, w.sam.UserID, account.UpdateInput{Standing: &banned})
		require.NoError(t, err)
		p = sam.get(room)
		require.Equal(t, http.StatusOK, p.status)
		require.Contains(t, p.button(t, "send-gift"), "data-cannot-spend")
		require.Contains(t, p.body, `data-testid="cannot-spend">This account is banned.</p>`)
	})
}

// An ended LIVE shows 0 watching on its page.
func TestEndedLiveShowsNoViewers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		l := a.goLive(t, w.ayla, "Short one")
		sam := a.browser(t)
		sam.logIn("sam")
		require.Contains(t, sam.get("/live/"+l.ID).body, `<span data-viewers>–</span>`, "on air: the feed tells")
		_, err := a.live.End(context.Background(), w.ayla, l.ID)
		require.NoError(t, err)
		require.Contains(t, sam.get("/live/"+l.ID).body, `<span data-viewers>0</span>`)
	})
}

// The landing page claims only what it shows; the spending limit names
// every spending this release has, LIVE Subscription included, and the
// settings hold the consent to gifted subscriptions.
func TestPagesClaimOnlyThisRelease(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	b := a.browser(t)
	home := b.get("/")
	require.Equal(t, http.StatusOK, home.status)
	home.requireText(t, "Coins · LIVE gifts · Tips · Shoutouts · Subscriptions",
		"send gifts during LIVEs, tip your favourite creators and ask them for a personalized video shoutout, or subscribe to them monthly for a badge, their emotes and subscriber-only chat and posts")
	// A server without LIVE Subscription does not claim it.
	without := a.web
	without.Subscriptions, without.Content = nil, nil
	pages := web.New(without)
	rec := httptest.NewRecorder()
	pages.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "Coins · LIVE gifts · Tips · Shoutouts</p>")
	for _, claim := range []string{"subscri", "Subscri"} {
		require.NotContains(t, rec.Body.String(), claim)
	}
	a.createUser(t, "sam", "Sam Bernard", "FR", "1990-02-02")
	b.logIn("sam")
	settings := b.get("/settings")
	settings.requireText(t, "How many coins you may spend on creators each day: LIVE gifts, tips, shoutouts and subscriptions.",
		"Let other viewers gift me subscriptions")
}
