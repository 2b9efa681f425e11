package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/shoutout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// offerShoutouts has handle offer shoutouts at price through the
// monetization page's form.
func (b *browser) offerShoutouts(price string, paused bool) *page {
	b.t.Helper()
	form := b.get("/studio/monetization").form(b.t, "/studio/monetization/shoutouts", 0)
	form.Set("enabled", "true")
	form.Set("price", price)
	form.Set("capacity", "5")
	if paused {
		form.Set("paused", "true")
	}
	form.Set("accept_note", "Tell me the name and the occasion!")
	return b.post("/studio/monetization/shoutouts", form)
}

// requestShoutout sends the request form on handle's page with the fields
// set, and returns the answer.
func (b *browser) requestShoutout(handle string, fields map[string]string) (*page, url.Values) {
	b.t.Helper()
	p := b.get("/creators/" + handle + "/shoutout")
	require.Equal(b.t, http.StatusOK, p.status, p.text())
	form := p.form(b.t, "/creators/"+handle+"/shoutout", 0)
	form.Set("recipient_type", "me")
	form.Set("occasion", "birthday")
	for k, v := range fields {
		form.Set(k, v)
	}
	return b.post("/creators/"+handle+"/shoutout", form), form
}

// csrf returns the browser's anti-forgery token (a logged-in user's).
func (b *browser) csrf() string {
	b.t.Helper()
	return b.get("/shoutouts").form(b.t, "/logout", 0).Get("csrf_token")
}

// requestID reads the request's id from the redirect to its page.
func requestID(t *testing.T, p *page) string {
	t.Helper()
	require.Equal(t, http.StatusSeeOther, p.status, p.text())
	m := regexp.MustCompile(`^/shoutouts/([^/?]+)\?requested=1$`).FindStringSubmatch(p.location)
	require.NotNil(t, m, p.location)
	return m[1]
}

// The whole flow in the pages: ayla offers shoutouts, sam asks for one
// (a refused form first), ayla accepts and asks for more days, sam gives
// them, the video is delivered, sam watches, reviews, makes it public and
// reports a problem, which the operator refunds.
func TestShoutoutsFlow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		ctx := context.Background()

		// ayla's settings: a price outside the bounds is refused in place.
		ayla := a.browser(t)
		ayla.logIn("ayla")
		p := ayla.offerShoutouts("50", false)
		require.Equal(t, http.StatusUnprocessableEntity, p.status, p.text())
		p.requireText(t, "Your Shoutouts settings were not saved")
		require.Contains(t, p.body, `data-testid="shoutouts-error"`)
		st, err := a.shout.Settings(ctx, w.ayla.UserID)
		require.NoError(t, err)
		require.False(t, st.Enabled)
		p = ayla.offerShoutouts("1,000", false)
		require.Equal(t, http.StatusSeeOther, p.status, p.text())
		p = ayla.follow(p)
		p.requireText(t, "Shoutouts are on at 1,000 coins: fans can request them from your profile.", "Fans can request")

		// A logged-out visitor sees the offer and logs in to ask.
		anon := a.browser(t)
		p = anon.get("/creators/ayla")
		p.requireText(t, "Shoutouts", "1,000 coins", "Log in to request a shoutout", "No deliveries yet", "No reviews yet")
		require.Contains(t, p.body, `href="/login?next=%2Fcreators%2Fayla%2Fshoutout"`)

		// sam: the offer with its value in euros, then the form.
		sam := a.browser(t)
		sam.logIn("sam")
		p = sam.get("/creators/ayla")
		require.Contains(t, p.action(t, "shoutout"), "available:")
		p.requireText(t, "Request a shoutout", "“Tell me the name and the occasion!”")
		require.Regexp(t, `1,000 coins</strong> <span class="gift-fiat">≈ €\d+\.\d\d<`, p.body)
		p = sam.get("/creators/ayla/shoutout")
		p.requireText(t, "Birthday", "Anniversary", "Congratulations", "Pep talk", "Roast", "Advice", "Something else",
			"held in escrow", "3 days to accept", "Declined or unanswered, every coin comes back to you", "due within 7 days")
		require.Contains(t, p.body, `data-counter-for="instructions"`)
		require.Contains(t, p.body, `maxlength="500"`)

		// Every field's problem at once, nothing taken.
		before := a.state(t)
		p, _ = sam.requestShoutout("ayla", map[string]string{"recipient_type": "other", "recipient": "", "occasion": "wedding",
			"instructions": strings.Repeat("a", 501)})
		require.Equal(t, http.StatusUnprocessableEntity, p.status)
		for _, f := range []string{"recipient", "occasion", "instructions"} {
			require.Contains(t, p.body, `data-testid="`+f+`-error"`, f)
		}
		p.requireText(t, "Write the name of the person the video is for.", "Instructions are at most 500 characters; yours have 501.",
			"No coins were taken.")
		require.Equal(t, before, a.state(t))

		// Without the anti-forgery token: refused, nothing changed.
		forged, form := sam.requestShoutout("ayla", map[string]string{"csrf_token": "forged"})
		require.Equal(t, http.StatusForbidden, forged.status)
		require.Equal(t, before, a.state(t))
		form.Del("csrf_token")
		require.Equal(t, http.StatusForbidden, sam.post("/creators/ayla/shoutout", form).status)
		require.Equal(t, before, a.state(t))

		// The request, sent twice with one key: one hold.
		res, form := sam.requestShoutout("ayla", map[string]string{"recipient_type": "other", "recipient": "Lina",
			"occasion": "pep_talk", "instructions": "She runs her first marathon on Sunday.", "public": "true"})
		id := requestID(t, res)
		require.Equal(t, id, requestID(t, sam.post("/creators/ayla/shoutout", form)), "a second submission is the same request")
		require.Equal(t, fanfare.Amount(26_000), a.coins(t, "sam"))
		p = sam.follow(res)
		p.requireText(t, "Your request is sent. 1,000 coins are held until @ayla delivers", "Pep talk from @ayla", "Lina",
			"She runs her first marathon on Sunday.", "Waiting for an answer", "in 2 days 23 hours",
			"The request expires unanswered and the fan gets every coin back.")
		require.True(t, p.hasForm("/shoutouts/"+id+"/cancel"))
		require.Contains(t, p.body, `data-dialog="cancel-dialog"`)

		// The inbox lists it with its countdown; ayla's inbox does not.
		p = sam.get("/shoutouts")
		require.Contains(t, p.body, `href="/shoutouts" aria-current="page"`)
		p.requireText(t, "Your shoutouts", "Pep talk from @ayla", "Waiting for an answer", "in 2 days 23 hours")
		require.NotContains(t, ayla.get("/shoutouts").body, id, "the creator's inbox holds only what she asked for")

		// A third user finds nothing there.
		omar := a.browser(t)
		omar.logIn("omar")
		require.Equal(t, http.StatusNotFound, omar.get("/shoutouts/"+id).status)
		require.Equal(t, http.StatusNotFound, omar.post("/shoutouts/"+id+"/cancel", url.Values{"csrf_token": {omar.csrf()}}).status)

		// ayla's queue: the request, its deadline and what to do.
		p = ayla.get("/studio/shoutouts")
		p.requireText(t, "Shoutout requests", "Pep talk for Lina", "From @sam", "you earn 800 diamonds", "in 2 days 23 hours")
		require.True(t, p.hasForm("/studio/shoutouts/"+id+"/accept"))
		require.True(t, p.hasForm("/studio/shoutouts/"+id+"/decline"))
		// sam cannot act as the creator.
		require.Equal(t, http.StatusNotFound, sam.post("/studio/shoutouts/"+id+"/accept", url.Values{"csrf_token": {sam.csrf()}}).status)
		res = ayla.post("/studio/shoutouts/"+id+"/accept", p.form(t, "/studio/shoutouts/"+id+"/accept", 0))
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		p = ayla.follow(res)
		p.requireText(t, "You accepted the request.", "Accepted", "in 6 days 23 hours",
			"Without a video by then, the request expires and the fan gets every coin back.",
			"Uploading the video needs JavaScript")
		require.Contains(t, p.body, `accept="video/mp4,video/webm,video/quicktime"`)
		require.Contains(t, p.body, `data-upload="/v1/shoutouts/`+id+`/video"`)
		require.Contains(t, p.body, `<progress`)
		// Accepting twice is refused in place.
		stale := ayla.post("/studio/shoutouts/"+id+"/accept", p.form(t, "/studio/shoutouts/"+id+"/extend", 0))
		require.Equal(t, http.StatusConflict, stale.status)
		stale.requireText(t, "Nothing was changed.")

		// More days: ayla asks, sam gives them.
		form = p.form(t, "/studio/shoutouts/"+id+"/extend", 0)
		form.Set("days", "2")
		require.Equal(t, http.StatusSeeOther, ayla.post("/studio/shoutouts/"+id+"/extend", form).status)
		p = sam.get("/shoutouts/" + id)
		p.requireText(t, "@ayla asks for 2 more days")
		form = p.form(t, "/shoutouts/"+id+"/extension", 0)
		require.Equal(t, "true", form.Get("accept"))
		p = sam.follow(sam.post("/shoutouts/"+id+"/extension", form))
		p.requireText(t, "Your answer is sent.", "in 8 days 23 hours")

		// No video for sam before the delivery.
		require.NotContains(t, p.body, "<video")
		_, err = a.shout.Deliver(ctx, w.ayla, id, shoutout.VideoInfo{Key: "shoutouts/" + id, Size: 2048, ContentType: "video/mp4"})
		require.NoError(t, err)

		// Delivered: the player, the download, the review and the report.
		p = sam.get("/shoutouts/" + id)
		p.requireText(t, "Delivered", "Rate this shoutout", "Report a problem")
		require.Contains(t, p.body, `<video class="shoutout-video" controls preload="metadata" playsinline src="/v1/shoutouts/`+id+`/video"`)
		require.Contains(t, p.body, `href="/v1/shoutouts/`+id+`/video?download=1"`)
		form = p.form(t, "/shoutouts/"+id+"/review", 0)
		form.Set("rating", "9")
		p = sam.post("/shoutouts/"+id+"/review", form)
		require.Equal(t, http.StatusUnprocessableEntity, p.status)
		p.requireText(t, "Choose a rating from 1 to 5 stars. Nothing was changed.")
		form.Set("rating", "5")
		form.Set("text", "Lina cried. Perfect.")
		p = sam.follow(sam.post("/shoutouts/"+id+"/review", form))
		p.requireText(t, "Thank you: your review is saved.", "Edit your review")
		form = p.form(t, "/shoutouts/"+id+"/review", 0)
		require.Equal(t, "true", form.Get("edit"))
		form.Set("rating", "4")
		form.Set("text", "Lina cried.")
		sam.follow(sam.post("/shoutouts/"+id+"/review", form)).requireText(t, "Thank you: your review is saved.")

		// sam asked for it public: he takes that back, then gives it again.
		form = p.form(t, "/shoutouts/"+id+"/public", 0)
		require.Equal(t, "false", form.Get("public"))
		p = sam.follow(sam.post("/shoutouts/"+id+"/public", form))
		p.requireText(t, "Your video is private again.", "Show it on @ayla's profile")
		require.NotContains(t, anon.get("/creators/ayla").body, `data-testid="public-videos"`)
		form = p.form(t, "/shoutouts/"+id+"/public", 0)
		require.Equal(t, "true", form.Get("public"))
		p = sam.follow(sam.post("/shoutouts/"+id+"/public", form))
		p.requireText(t, "Your video now shows on @ayla's profile.", "Make it private")
		p = anon.get("/creators/ayla")
		p.requireText(t, "4.0 ★ (1 review)", "“Lina cried.”", "@sam", "Public shoutouts", "Pep talk for Lina")
		require.Contains(t, p.body, `src="/v1/shoutouts/`+id+`/video"`)
		require.NotRegexp(t, `Typical delivery</dt><dd[^>]*>No deliveries yet`, p.body)

		// The report reaches the operator, who refunds sam.
		form = sam.get("/shoutouts/"+id).form(t, "/shoutouts/"+id+"/dispute", 0)
		form.Set("reason", "The video is cut after five seconds.")
		sam.follow(sam.post("/shoutouts/"+id+"/dispute", form)).requireText(t, "Your report is sent.", "Problem reported")
		require.Equal(t, http.StatusForbidden, sam.get("/ops/shoutouts").status)
		ops := a.browser(t)
		ops.logIn("ops")
		p = ops.get("/ops/shoutouts")
		p.requireText(t, "Shoutout disputes", "@sam → @ayla", "“The video is cut after five seconds.”")
		form = p.form(t, "/ops/shoutouts/"+id+"/refund", 0)
		form.Set("note", "The video is incomplete.")
		p = ops.follow(ops.post("/ops/shoutouts/"+id+"/refund", form))
		p.requireText(t, "Refunded: the fan has their coins back", "No open disputes.")
		require.Equal(t, fanfare.Amount(27_000), a.coins(t, "sam"))
		sam.get("/shoutouts/"+id).requireText(t, "Refunded", "The video is incomplete.")
		a.requireVerified(t)
	})
}

// Refusals and the other ways out: a declined request with its note, a
// cancelled one, a paused creator, a minor, a creator who does not offer
// them.
func TestShoutoutsRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)
		ayla := a.browser(t)
		ayla.logIn("ayla")
		require.Equal(t, http.StatusSeeOther, ayla.offerShoutouts("1000", false).status)
		sam := a.browser(t)
		sam.logIn("sam")

		// Declined with a note: sam reads it and has every coin back.
		res, _ := sam.requestShoutout("ayla", nil)
		id := requestID(t, res)
		require.Equal(t, fanfare.Amount(26_000), a.coins(t, "sam"))
		form := ayla.get("/studio/shoutouts").form(t, "/studio/shoutouts/"+id+"/decline", 0)
		form.Set("note", "I am travelling this week, sorry!")
		ayla.follow(ayla.post("/studio/shoutouts/"+id+"/decline", form)).requireText(t, "You declined the request; the fan got every coin back.")
		require.Equal(t, fanfare.Amount(27_000), a.coins(t, "sam"))
		p := sam.get("/shoutouts/" + id)
		p.requireText(t, "Declined · refunded", "“I am travelling this week, sorry!”")
		require.False(t, p.hasForm("/shoutouts/"+id+"/cancel"))

		// Cancelled before acceptance, through the page's dialog.
		res, _ = sam.requestShoutout("ayla", nil)
		id = requestID(t, res)
		p = sam.follow(res)
		p = sam.follow(sam.post("/shoutouts/"+id+"/cancel", p.form(t, "/shoutouts/"+id+"/cancel", 0)))
		p.requireText(t, "Your request is cancelled. Every coin is back in your wallet.", "Cancelled · refunded")
		require.Equal(t, fanfare.Amount(27_000), a.coins(t, "sam"))

		// A fan cannot cancel after acceptance: refused in place.
		res, _ = sam.requestShoutout("ayla", nil)
		id = requestID(t, res)
		cancel := sam.follow(res).form(t, "/shoutouts/"+id+"/cancel", 0)
		require.Equal(t, http.StatusSeeOther, ayla.post("/studio/shoutouts/"+id+"/accept", ayla.get("/studio/shoutouts").form(t, "/studio/shoutouts/"+id+"/accept", 0)).status)
		p = sam.post("/shoutouts/"+id+"/cancel", cancel)
		require.Equal(t, http.StatusConflict, p.status)
		p.requireText(t, "Nothing was changed.")
		require.Equal(t, fanfare.Amount(26_000), a.coins(t, "sam"))

		// Paused: a form opened before is refused in place, nothing taken;
		// the button is greyed, with the reason, and the form says so too.
		stale := sam.get("/creators/ayla/shoutout").form(t, "/creators/ayla/shoutout", 0)
		stale.Set("recipient_type", "me")
		stale.Set("occasion", "roast")
		require.Equal(t, http.StatusSeeOther, ayla.offerShoutouts("1000", true).status)
		before := a.state(t)
		p = sam.post("/creators/ayla/shoutout", stale)
		require.Equal(t, http.StatusConflict, p.status)
		p.requireText(t, "@ayla paused shoutout requests for now; try again later. No coins were taken.")
		require.Equal(t, withoutKeys(before), withoutKeys(a.state(t)))
		p = sam.get("/creators/ayla")
		require.Contains(t, p.action(t, "shoutout"), "unavailable:")
		p.requireText(t, "@ayla paused shoutout requests for now.")
		p = sam.get("/creators/ayla/shoutout")
		p.requireText(t, "You cannot request a shoutout from @ayla right now", "@ayla paused shoutout requests for now.")
		require.False(t, p.hasForm("/creators/ayla/shoutout"))
		require.Equal(t, http.StatusSeeOther, ayla.offerShoutouts("1000", false).status)

		// mia, 16, reads why she cannot ask; a form sent anyway is refused
		// with the reason, nothing taken.
		mia := a.browser(t)
		mia.logIn("mia")
		p = mia.get("/creators/ayla")
		require.Contains(t, p.action(t, "shoutout"), "unavailable:")
		require.Contains(t, p.action(t, "shoutout"), `data-testid="reason-fan_age"`)
		before = a.state(t)
		form = sam.get("/creators/ayla/shoutout").form(t, "/creators/ayla/shoutout", 0)
		form.Set("csrf_token", mia.csrf())
		form.Set("recipient_type", "me")
		form.Set("occasion", "birthday")
		p = mia.post("/creators/ayla/shoutout", form)
		require.Equal(t, http.StatusForbidden, p.status)
		p.requireText(t, "Your request to @ayla was not sent, and no coins were taken:")
		require.Contains(t, p.body, `data-testid="reason-fan_age"`)
		require.Equal(t, withoutKeys(before), withoutKeys(a.state(t)))

		// omar does not offer shoutouts: no button, no section.
		p = sam.get("/creators/omar")
		require.Empty(t, p.action(t, "shoutout"))
		require.NotContains(t, p.body, `data-testid="shoutout-offer"`)

		// ayla's own profile: no button for herself.
		p = ayla.get("/creators/ayla")
		require.Empty(t, p.action(t, "shoutout"))
		a.requireVerified(t)

		// Restricted, ayla's standing is hers and the operator's business:
		// sam reads that Shoutouts are not available, the operator why.
		restricted := fanfare.StandingRestricted
		_, err := a.accounts.Update(context.Background(), fanfare.Actor{Role: fanfare.RoleOperator}, a.user(t, "ayla").ID, account.UpdateInput{Standing: &restricted})
		require.NoError(t, err)
		p = sam.get("/creators/ayla")
		require.Contains(t, p.action(t, "shoutout"), `data-testid="reason-unavailable"`)
		require.NotContains(t, p.action(t, "shoutout"), "restricted")
		ops := a.browser(t)
		ops.logIn("ops")
		p = ops.get("/creators/ayla")
		require.Contains(t, p.action(t, "shoutout"), `data-testid="reason-standing"`)
		require.NotContains(t, p.action(t, "shoutout"), `data-testid="reason-unavailable"`)
	})
}

// Creators who offer shoutouts but do not meet the rules, as the demo's
// lea (France, 5,000 followers) and brandco (a business): the profile
// greys the button with each reason, the form page shows the reasons
// instead of the form, and a form sent anyway is refused, nothing taken.
func TestShoutoutsIneligibleCreators(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		ctx := context.Background()
		u, err := a.accounts.Create(ctx, account.CreateInput{Handle: "lea", DisplayName: "Léa Martin", Password: password,
			Region: "FR", BirthDate: "2000-02-02"})
		require.NoError(t, err)
		followers := int64(5_000)
		_, err = a.accounts.Update(ctx, fanfare.Actor{Role: fanfare.RoleOperator}, u.ID, account.UpdateInput{Followers: &followers})
		require.NoError(t, err)
		lea := fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}
		for _, c := range []fanfare.Actor{lea, w.brandco} {
			_, err := a.shout.SetSettings(ctx, c, shoutout.SettingsInput{Enabled: true, Price: 800})
			require.NoError(t, err)
		}
		sam := a.browser(t)
		sam.logIn("sam")
		for handle, codes := range map[string][]string{"lea": {"followers", "creator_region"}, "brandco": {"account_type"}} {
			p := sam.get("/creators/" + handle)
			action := p.action(t, "shoutout")
			require.True(t, strings.HasPrefix(action, "unavailable:"), "%s: %s", handle, action)
			require.Contains(t, action, "disabled")
			for _, code := range codes {
				require.Contains(t, action, `data-testid="reason-`+code+`"`, handle)
			}
			p = sam.get("/creators/" + handle + "/shoutout")
			p.requireText(t, "You cannot request a shoutout from @"+handle+" right now")
			for _, code := range codes {
				require.Contains(t, p.body, `data-testid="reason-`+code+`"`, handle)
			}
			require.False(t, p.hasForm("/creators/"+handle+"/shoutout"))
		}
		p := sam.get("/creators/lea")
		p.requireText(t, "Shoutouts need 10,000 followers; @lea has 5,000.")

		// A form sent anyway (one opened on ayla's page, sent to lea's).
		ayla := a.browser(t)
		ayla.logIn("ayla")
		require.Equal(t, http.StatusSeeOther, ayla.offerShoutouts("1000", false).status)
		form := sam.get("/creators/ayla/shoutout").form(t, "/creators/ayla/shoutout", 0)
		form.Set("recipient_type", "me")
		form.Set("occasion", "birthday")
		before := a.state(t)
		p = sam.post("/creators/lea/shoutout", form)
		require.Equal(t, http.StatusForbidden, p.status)
		p.requireText(t, "Your request to @lea was not sent, and no coins were taken:")
		require.Contains(t, p.body, `data-testid="reason-creator_region"`)
		require.Equal(t, withoutKeys(before), withoutKeys(a.state(t)))
		a.requireVerified(t)
	})
}

// deletedBlobs records the keys the pages delete.
type deletedBlobs struct {
	mu   sync.Mutex
	keys []string
}

func (b *deletedBlobs) Delete(_ context.Context, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys = append(b.keys, key)
	return nil
}

// With moderation on, the operator approves or rejects a delivered video;
// the rejected video's blob is deleted.
func TestShoutoutsModeration(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		blobs := &deletedBlobs{}
		a := newAppWith(t, db, appOptions{shoutouts: shoutout.Options{Review: true}, blobs: blobs})
		w := a.seedWorld(t)
		ctx := context.Background()
		ayla := a.browser(t)
		ayla.logIn("ayla")
		require.Equal(t, http.StatusSeeOther, ayla.offerShoutouts("1000", false).status)
		sam := a.browser(t)
		sam.logIn("sam")
		var ids []string
		for range 2 {
			res, _ := sam.requestShoutout("ayla", nil)
			id := requestID(t, res)
			_, err := a.shout.Accept(ctx, w.ayla, id)
			require.NoError(t, err)
			_, err = a.shout.Deliver(ctx, w.ayla, id, shoutout.VideoInfo{Key: "v/" + id, Size: 100, ContentType: "video/webm"})
			require.NoError(t, err)
			ids = append(ids, id)
		}
		p := sam.get("/shoutouts/" + ids[0])
		p.requireText(t, "Video in review")
		require.NotContains(t, p.body, "<video", "the fan waits for the operator")

		ops := a.browser(t)
		ops.logIn("ops")
		p = ops.get("/ops/shoutouts")
		p.requireText(t, "Videos waiting for review")
		require.Contains(t, p.body, `src="/v1/shoutouts/`+ids[0]+`/video"`)
		p = ops.follow(ops.post("/ops/shoutouts/"+ids[0]+"/approve", p.form(t, "/ops/shoutouts/"+ids[0]+"/approve", 0)))
		p.requireText(t, "Approved: the fan can watch the video.")
		require.Contains(t, sam.get("/shoutouts/"+ids[0]).body, "<video")

		form := p.form(t, "/ops/shoutouts/"+ids[1]+"/approve", 0)
		form.Set("note", "Offensive content.")
		p = ops.follow(ops.post("/ops/shoutouts/"+ids[1]+"/reject", form))
		p.requireText(t, "Rejected: the video is removed.", "No video is waiting for review.")
		require.Equal(t, []string{"v/" + ids[1]}, blobs.keys, "only the rejected video's blob is deleted")
		a.requireVerified(t)
	})
}

// Every Shoutouts form needs its anti-forgery token: a forged one is
// refused with 403 and changes nothing.
func TestShoutoutsCSRFOnEveryForm(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	a.seedWorld(t)
	sam := a.browser(t)
	sam.logIn("sam")
	before := a.state(t)
	for _, path := range []string{"/studio/monetization/shoutouts", "/shoutouts/x/cancel", "/shoutouts/x/review", "/studio/shoutouts/x/accept",
		"/ops/shoutouts/x/refund"} {
		p := sam.post(path, url.Values{"csrf_token": {"forged"}})
		require.Equal(t, http.StatusForbidden, p.status, path)
	}
	require.Equal(t, before, a.state(t))
}
