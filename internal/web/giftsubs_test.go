package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/subscription"
)

// giftSubsDialog returns the room's Gift subscriptions dialog, or "" when
// the page has none.
func (p *page) giftSubsDialog() string {
	return regexp.MustCompile(`(?s)<dialog [^>]*data-testid="gift-subs-dialog">.*?</dialog>`).FindString(p.body)
}

// The room offers the Gift subscriptions dialog to a logged-in viewer
// other than the creator, only while the creator offers LIVE
// Subscription (a plan on, and the rules met), with each tier's price and
// the first total in coins and in the viewer's currency; a viewer who may
// not spend reads why next to a disabled button.
func TestGiftSubscriptionsDialog(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		ctx := context.Background()
		w := a.seedWorld(t)
		a.offerPlan(t, w.ayla)
		l := a.goLive(t, w.ayla, "Sunday LIVE")
		room := "/live/" + l.ID

		sam := a.browser(t)
		sam.logIn("sam")
		r := sam.get(room)
		require.Equal(t, http.StatusOK, r.status)
		d := r.giftSubsDialog()
		require.NotEmpty(t, d, "sam is offered the dialog")
		r.requireText(t, "Gift subscriptions Treat other viewers to a month of @ayla's subscription, from 300 coins each.")
		require.Contains(t, r.body, `data-testid="open-gift-subs" hidden>Gift subscriptions</button>`, "the script shows the button")
		dialog := &page{body: d, path: room}
		dialog.requireText(t, "Fan club 300 coins each ≈ €4.71", "Inner circle 1,500 coins each ≈ €23.55",
			"Total: 300 coins ≈ €4.71", "You have 27,000 coins", "Gift 1 subscription", "How many",
			"Number of subscriptions (1 to 100)")
		require.Contains(t, d, `data-url="/v1/lives/`+l.ID+`/gifted-subscriptions"`)
		require.Contains(t, d, `data-rate="157" data-prefix="€" data-max="100"`)
		require.Regexp(t, `name="tier" value="[^"]+" data-name="Fan club" data-price="300" checked>`, d)
		require.Regexp(t, `name="tier" value="[^"]+" data-name="Inner circle" data-price="1500">`, d)
		require.Contains(t, d, `<input type="number" id="gift-subs-count" name="count" min="1" max="100" step="1" value="1"`)
		for _, n := range []string{"1", "5", "10"} {
			require.Contains(t, d, `data-testid="gift-subs-count-`+n+`"`)
		}
		require.Contains(t, d, `data-testid="gift-subs-confirm">Gift 1 subscription</button>`, "enabled")
		require.NotContains(t, d, `gift-subs-cannot-spend`)
		require.Contains(t, r.body, `data-creator="ayla"`)

		// The creator in her own room, and a visitor not logged in: no dialog.
		creator := a.browser(t)
		creator.logIn("ayla")
		require.Empty(t, creator.get(room).giftSubsDialog())
		require.NotContains(t, creator.get(room).body, `data-testid="gift-subs-panel"`)
		anon := a.browser(t).get(room)
		require.Equal(t, http.StatusOK, anon.status)
		require.Empty(t, anon.giftSubsDialog())
		require.NotContains(t, anon.body, `data-testid="gift-subs-panel"`)

		// A minor sees the dialog in their currency, and why they cannot
		// gift, next to a disabled button.
		mia := a.browser(t)
		mia.logIn("mia")
		m := &page{body: mia.get(room).giftSubsDialog(), path: room}
		require.NotEmpty(t, m.body)
		m.requireText(t, "Fan club 300 coins each ≈ ₺", "You have 700 coins", "18 or older")
		require.Contains(t, m.body, `data-prefix="₺"`)
		require.Regexp(t, `data-testid="gift-subs-confirm" disabled data-cannot-spend aria-describedby="gift-subs-cannot-spend">`, m.body)

		// omar is LIVE without a plan: no dialog in his room.
		lo := a.goLive(t, w.omar, "No plan")
		require.Empty(t, sam.get("/live/"+lo.ID).giftSubsDialog())

		// A creator with a plan who does not meet the rules (too few
		// followers) offers nothing either.
		zoe := a.createUser(t, "zoe", "Zoe Martin", "FR", "1994-04-04")
		_, err := a.subs.SetPlan(ctx, zoe, subscription.PlanInput{Enabled: true, Tiers: []subscription.TierInput{{Name: "Club", Price: 100}}})
		require.NoError(t, err)
		lz := a.goLive(t, zoe, "Few followers")
		require.Empty(t, sam.get("/live/"+lz.ID).giftSubsDialog())

		// The page's script calls the API with the session cookie: nobody
		// in the room accepts gifted subscriptions, so the gift is refused
		// and no coin moves.
		plan, err := a.subs.Plan(ctx, w.ayla.UserID)
		require.NoError(t, err)
		status, out := sam.giftSubs(t, l.ID, "gs-1", `{"count":2,"tier":"`+plan.Tiers[0].ID+`"}`)
		require.Equal(t, http.StatusConflict, status, out)
		require.Equal(t, fanfare.ENotEnoughRecipients, out["code"])
		require.Contains(t, out["detail"], "only 0 viewers in this LIVE can receive a gifted subscription")
		require.Equal(t, fanfare.Amount(27_000), a.coins(t, "sam"))

		// ayla turns her plan off: the dialog goes.
		tiers := make([]subscription.TierInput, len(plan.Tiers))
		for i, tr := range plan.Tiers {
			tiers[i] = subscription.TierInput{ID: tr.ID, Name: tr.Name, Price: tr.Price, Perks: tr.Perks}
		}
		_, err = a.subs.SetPlan(ctx, w.ayla, subscription.PlanInput{Enabled: false, Tiers: tiers})
		require.NoError(t, err)
		r = sam.get(room)
		require.Empty(t, r.giftSubsDialog())
		require.NotContains(t, r.body, `data-testid="gift-subs-panel"`)

		// Back on, then the LIVE ends: no dialog in an ended room.
		_, err = a.subs.SetPlan(ctx, w.ayla, subscription.PlanInput{Enabled: true, Tiers: tiers})
		require.NoError(t, err)
		require.NotEmpty(t, sam.get(room).giftSubsDialog())
		_, err = a.live.End(ctx, w.ayla, l.ID)
		require.NoError(t, err)
		require.Empty(t, sam.get(room).giftSubsDialog())
	})
}

// giftSubs posts a gift of subscriptions to liveID as the room's script
// does: JSON, the session cookie, an idempotency key, a same-origin fetch.
func (b *browser) giftSubs(t *testing.T, liveID, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", b.app.url+"/v1/lives/"+liveID+"/gifted-subscriptions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Origin", b.app.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := b.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, out
}
