package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// world is the demo world's people, as the profile tests need them.
type world struct {
	ayla, omar, brandco, sam, mia, ops fanfare.Actor
}

// seedWorld creates the demo world's creators (with their followers),
// fans and operator; ayla turns Tips on and sam gets 27,000 coins.
func (a *app) seedWorld(t *testing.T) world {
	t.Helper()
	ctx := context.Background()
	minor := time.Now().AddDate(-16, 0, -30).Format(time.DateOnly)
	create := func(handle, name, region, birth string, typ fanfare.AccountType, role fanfare.Role, followers int64) fanfare.Actor {
		t.Helper()
		u, err := a.accounts.Create(ctx, account.CreateInput{Handle: handle, DisplayName: name, Password: password,
			Region: region, BirthDate: birth, AccountType: typ, Role: role})
		require.NoError(t, err)
		if followers > 0 {
			_, err = a.accounts.Update(ctx, fanfare.Actor{Role: fanfare.RoleOperator}, u.ID, account.UpdateInput{Followers: &followers})
			require.NoError(t, err)
		}
		return fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: role}
	}
	w := world{
		ayla:    create("ayla", "Ayla Demir", "TR", "1998-03-03", "", fanfare.RoleFan, 250_000),
		omar:    create("omar", "Omar Haddad", "AE", "1994-04-04", "", fanfare.RoleFan, 40_000),
		brandco: create("brandco", "BrandCo", "TR", "1990-01-01", fanfare.AccountBusiness, fanfare.RoleFan, 500_000),
		sam:     create("sam", "Sam Bernard", "FR", "1995-05-05", "", fanfare.RoleFan, 0),
		mia:     create("mia", "Mia Yılmaz", "TR", minor, "", fanfare.RoleFan, 0),
		ops:     create("ops", "Fanfare Ops", "FR", "1985-06-06", "", fanfare.RoleOperator, 0),
	}
	_, err := a.tips.SetEnabled(ctx, w.ayla, true)
	require.NoError(t, err)
	a.grant(t, "sam", 27_000)
	a.grant(t, "mia", 700)
	return w
}

// withoutKeys drops the count of idempotency keys from a state: a
// payment the ledger refuses records its key, and moves nothing.
func withoutKeys(state string) string {
	return regexp.MustCompile(`idempotency_keys=\d+;`).ReplaceAllString(state, "")
}

// action returns the profile's block of action (its button and reasons).
func (p *page) action(t *testing.T, action string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<li class="profile-action[^"]*" data-testid="action-` + action + `" data-state="([a-z]+)">(.*?)</li>\s*(?:<li class="profile-action|</ul>\s*</section>)`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1] + ":" + m[2]
}

func TestCreatorProfile(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		l := a.goLive(t, w.ayla, "Sunday LIVE from Istanbul")

		// sam sees ayla: who she is, her LIVE, and a Tip button that opens
		// the tip form with amounts in euros.
		sam := a.browser(t)
		sam.logIn("sam")
		p := sam.get("/creators/ayla")
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "Ayla Demir", "@ayla", "LIVE now", "Followers 250,000", "Region Türkiye", "Account Personal")
		require.Contains(t, p.body, `<span class="avatar hue-`)
		require.Contains(t, p.body, `>AD</span>`)
		require.Contains(t, p.body, `<a class="live-badge live-now" href="/live/`+l.ID+`"`)
		tip := p.action(t, "tip")
		require.True(t, strings.HasPrefix(tip, "available:"), "tip action: %s", tip)
		require.Contains(t, tip, `<a class="button primary" href="#tip" data-testid="button-tip">Send a tip</a>`)
		require.NotContains(t, tip, "disabled")
		require.Contains(t, p.action(t, "join_live"), `href="/live/`+l.ID+`"`)
		require.Empty(t, p.action(t, "shoutout"), "ayla offers no shoutouts: hidden")
		require.Empty(t, p.action(t, "subscribe"))
		require.True(t, p.hasForm("/creators/ayla/tip"))
		p.requireText(t, "Tip @ayla", "You have 27,000 coins", "100 coins €1.57", "500 coins €7.85", "1,000 coins €15.70",
			"5,000 coins €78.50", "10 to 100,000 coins.", "Up to 150 characters.", "Send tip")
		require.Regexp(t, `<input type="radio" name="coins" value="500" checked>`, p.body, "500 coins is chosen first")
		require.Contains(t, p.body, `maxlength="150"`)
		form := p.form(t, "/creators/ayla/tip", 0)
		require.Len(t, form.Get("idempotency_key"), 22, "a fresh key with the form")
		again := sam.get("/creators/ayla").form(t, "/creators/ayla/tip", 0)
		require.NotEqual(t, form.Get("idempotency_key"), again.Get("idempotency_key"))
		require.Contains(t, p.body, `href="/studio/monetization"`, "the user menu links the monetization page")
		require.NotContains(t, p.body, `href="/ops/eligibility"`, "only operators see the rules")

		// omar has too few followers (and has not turned Tips on): the
		// button is greyed and says why.
		p = sam.get("/creators/omar")
		require.Equal(t, http.StatusOK, p.status)
		tip = p.action(t, "tip")
		require.True(t, strings.HasPrefix(tip, "unavailable:"), "tip action: %s", tip)
		require.Contains(t, tip, `disabled`)
		require.Contains(t, tip, `<li data-testid="reason-followers">Tips need 100,000 followers; @omar has 40,000.</li>`)
		require.Contains(t, tip, `<li data-testid="reason-not_offered">@omar has not turned Tips on.</li>`)
		p.requireText(t, "Tips need 100,000 followers; @omar has 40,000.")
		require.False(t, p.hasForm("/creators/omar/tip"))
		require.NotContains(t, p.body, "LIVE now")

		// brandco offers no shoutouts (a business could not), and LIVE
		// Subscription is not in this release: no button, not even a
		// greyed one.
		p = sam.get("/creators/brandco")
		p.requireText(t, "Account Business")
		require.Empty(t, p.action(t, "shoutout"))
		require.Empty(t, p.action(t, "subscribe"))
		require.NotContains(t, p.body, "Request a shoutout")
		require.NotContains(t, p.body, ">Subscribe<")

		// mia, 16, cannot tip ayla and reads why.
		mia := a.browser(t)
		mia.logIn("mia")
		p = mia.get("/creators/ayla")
		tip = p.action(t, "tip")
		require.True(t, strings.HasPrefix(tip, "unavailable:"), "tip action: %s", tip)
		require.Contains(t, tip, `<li data-testid="reason-fan_age">You must be 18 or older to spend coins on creators; you can keep coins in your wallet until then.</li>`)
		require.False(t, p.hasForm("/creators/ayla/tip"))

		// Logged out: log in to tip, and come back.
		anon := a.browser(t)
		p = anon.get("/creators/ayla")
		require.Equal(t, http.StatusOK, p.status)
		tip = p.action(t, "tip")
		require.Contains(t, tip, `<a class="button primary" href="/login?next=%2Fcreators%2Fayla" data-testid="button-tip">Log in to tip</a>`)
		require.False(t, p.hasForm("/creators/ayla/tip"))
		p.requireText(t, "Ayla Demir", "Followers 250,000")
		p = anon.get("/creators/omar")
		require.Contains(t, p.action(t, "tip"), `Tips need 100,000 followers; @omar has 40,000.`)

		// Her own profile: no Tip button, a link to her settings.
		ayla := a.browser(t)
		ayla.logIn("ayla")
		p = ayla.get("/creators/ayla")
		require.Empty(t, p.action(t, "tip"))
		require.False(t, p.hasForm("/creators/ayla/tip"))
		p.requireText(t, "This is your profile as fans see it.")

		// Handles in any case, or with their @; unknown ones are not found.
		sam.get("/creators/@Ayla").requireText(t, "Ayla Demir")
		nf := sam.get("/creators/nobody")
		require.Equal(t, http.StatusNotFound, nf.status)
		nf.requireText(t, "Creator not found")

		// The LIVE list and the room link the creator's profile.
		require.Contains(t, anon.get("/live").body, `<a href="/creators/ayla" data-testid="creator-link"><strong>Ayla Demir</strong></a>`)
		require.Contains(t, anon.get("/live/"+l.ID).body, `<a href="/creators/ayla" data-testid="creator-link"><strong>Ayla Demir</strong></a>`)
	})
}

func TestTipFromProfile(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		ctx := context.Background()
		diamonds := func(u fanfare.Actor) fanfare.Amount {
			t.Helper()
			wl, err := a.wallet.Wallet(ctx, u.UserID)
			require.NoError(t, err)
			return wl.Diamonds
		}
		tipCount := func() int {
			t.Helper()
			page, err := a.tips.Received(ctx, w.ayla.UserID, "", 100)
			require.NoError(t, err)
			return len(page.Tips)
		}

		sam := a.browser(t)
		sam.logIn("sam")
		mia := a.browser(t)
		mia.logIn("mia")
		p := sam.get("/creators/ayla")
		form := p.form(t, "/creators/ayla/tip", 0)
		form.Set("coins", "500")
		form.Set("message", "Thanks for the LIVE!")
		res := sam.post("/creators/ayla/tip", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Regexp(t, `^/creators/ayla\?tipped=[^&]+$`, res.location)
		p = sam.follow(res)
		p.requireText(t, "You tipped @ayla 500 coins. Your balance is now 26,500 coins.", "You have 26,500 coins")
		require.Contains(t, p.body, `<span class="num">26,500</span>`, "the navigation shows the new balance")
		require.Equal(t, fanfare.Amount(26_500), a.coins(t, "sam"))
		require.Equal(t, fanfare.Amount(500), diamonds(w.ayla), "tips keep no cut")
		require.Equal(t, 1, tipCount())

		// The same form sent again (a double click, a reload) tips once and
		// confirms the same tip.
		before := a.state(t)
		again := sam.post("/creators/ayla/tip", form)
		require.Equal(t, http.StatusSeeOther, again.status, again.text())
		require.Equal(t, res.location, again.location)
		require.Equal(t, before, a.state(t))
		require.Equal(t, fanfare.Amount(26_500), a.coins(t, "sam"))
		require.Equal(t, 1, tipCount())

		// Each rendering of the form carries a new key.
		fresh := func() url.Values {
			t.Helper()
			return sam.get("/creators/ayla").form(t, "/creators/ayla/tip", 0)
		}

		// An amount typed replaces the chip.
		form = fresh()
		form.Set("coins", "100")
		form.Set("custom_coins", "1,234")
		sam.follow(sam.post("/creators/ayla/tip", form)).requireText(t, "You tipped @ayla 1,234 coins. Your balance is now 25,266 coins.")
		require.Equal(t, fanfare.Amount(25_266), a.coins(t, "sam"))

		// Refusals: the message says why, what was typed stays, nothing moves.
		before = a.state(t)
		long := strings.Repeat("é", 151)
		for _, tc := range []struct {
			name, coins, custom, message string
			status                       int
			want                         string
		}{
			{"oversize message", "500", "", long, http.StatusUnprocessableEntity, "A tip message is at most 150 characters. No coins were taken."},
			{"below the minimum", "", "5", "hi", http.StatusUnprocessableEntity, "A tip is 10 to 100,000 coins. No coins were taken."},
			{"above the maximum", "", "100001", "hi", http.StatusUnprocessableEntity, "A tip is 10 to 100,000 coins. No coins were taken."},
			{"not a number", "", "lots", "hi", http.StatusUnprocessableEntity, "Enter the amount as a whole number of coins, such as 500. No coins were taken."},
			{"more than the balance", "", "30000", "hi", http.StatusConflict, "You don't have enough coins for a tip of 30,000 coins: you have 25,266 coins."},
		} {
			form = fresh()
			form.Set("coins", tc.coins)
			form.Set("custom_coins", tc.custom)
			form.Set("message", tc.message)
			res := sam.post("/creators/ayla/tip", form)
			require.Equal(t, tc.status, res.status, "%s: %s", tc.name, res.text())
			res.requireText(t, tc.want, "Tip @ayla")
			require.Contains(t, res.body, `data-testid="tip-message" value="`+html.EscapeString(tc.message)+`"`, "%s: the message stays", tc.name)
			if tc.custom != "" {
				require.Contains(t, res.body, `value="`+tc.custom+`"`, "%s: the amount stays", tc.name)
			}
			require.Equal(t, withoutKeys(before), withoutKeys(a.state(t)), tc.name)
		}
		// A refusal by the ledger keeps its key (a replay answers the same),
		// so the form shown again carries a new one.
		before = a.state(t)

		// Without the form's token, or with a forged one, nothing is sent.
		form = fresh()
		token := form.Get("csrf_token")
		form.Set("coins", "100")
		form.Del("csrf_token")
		res = sam.post("/creators/ayla/tip", form)
		require.Equal(t, http.StatusForbidden, res.status)
		form.Set("csrf_token", "forged")
		require.Equal(t, http.StatusForbidden, sam.post("/creators/ayla/tip", form).status)
		require.Equal(t, before, a.state(t))

		// mia sends the form anyway: refused with the reasons.
		mf := mia.get("/creators/ayla").form(t, "/logout", 0)
		mf.Set("coins", "100")
		mf.Set("idempotency_key", "mia-tries")
		res = mia.post("/creators/ayla/tip", mf)
		require.Equal(t, http.StatusForbidden, res.status, res.text())
		res.requireText(t, "Your tip to @ayla was not sent, and no coins were taken:",
			"You must be 18 or older to spend coins on creators")
		require.Contains(t, res.body, `<ul class="reasons" data-testid="error-reasons"><li data-testid="reason-fan_age">`)
		require.Equal(t, before, a.state(t))
		require.Equal(t, fanfare.Amount(700), a.coins(t, "mia"))

		// To omar, who cannot receive tips, the same.
		res = sam.post("/creators/omar/tip", url.Values{"csrf_token": {token}, "coins": {"100"}, "idempotency_key": {"to-omar"}})
		require.Equal(t, http.StatusForbidden, res.status)
		res.requireText(t, "Your tip to @omar was not sent", "Tips need 100,000 followers; @omar has 40,000.")
		require.Equal(t, before, a.state(t))

		// Logged out, the form leads to the login page.
		anon := a.browser(t)
		res = anon.post("/creators/ayla/tip", url.Values{"coins": {"100"}})
		require.Equal(t, http.StatusSeeOther, res.status)
		require.Equal(t, "/login", res.location)
		require.Equal(t, before, a.state(t))
		a.requireVerified(t)
	})
}

// A banned creator's profile: visitors and fans see Tips unavailable
// without the reason, the creator reads it on their own profile, the
// operator reads everything.
func TestProfileStandingIsPrivate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		ctx := context.Background()
		zed, err := a.accounts.Create(ctx, account.CreateInput{Handle: "zed", DisplayName: "Zed Kaya", Password: password,
			Region: "TR", BirthDate: "1990-01-01"})
		require.NoError(t, err)
		followers, banned := int64(180_000), fanfare.StandingBanned
		_, err = a.accounts.Update(ctx, w.ops, zed.ID, account.UpdateInput{Followers: &followers, Standing: &banned})
		require.NoError(t, err)
		_, err = a.tips.SetEnabled(ctx, fanfare.Actor{UserID: zed.ID, Handle: "zed"}, true)
		require.NoError(t, err)

		const public = `<li data-testid="reason-unavailable">Tips are not available from @zed right now.</li>`
		for _, who := range []string{"", "sam"} {
			b := a.browser(t)
			if who != "" {
				b.logIn(who)
			}
			p := b.get("/creators/zed")
			require.Equal(t, http.StatusOK, p.status)
			tip := p.action(t, "tip")
			require.True(t, strings.HasPrefix(tip, "unavailable:"), "%q sees tip action: %s", who, tip)
			require.Contains(t, tip, `disabled`)
			require.Contains(t, tip, public)
			require.NotContains(t, p.body, "banned", "%q reads the standing", who)
			require.NotContains(t, p.body, "standing")
			require.NotContains(t, p.body, `data-testid="private-reasons"`)
			require.False(t, p.hasForm("/creators/zed/tip"))
		}

		// The operator reads why.
		ops := a.browser(t)
		ops.logIn("ops")
		p := ops.get("/creators/zed")
		tip := p.action(t, "tip")
		require.True(t, strings.HasPrefix(tip, "unavailable:"), "tip action: %s", tip)
		require.Contains(t, tip, `<li data-testid="reason-standing">Tips need an account in good standing; @zed&#39;s account is banned.</li>`)
		require.NotContains(t, tip, "reason-unavailable")
		require.Contains(t, p.body, `data-testid="operator-view"`)

		// zed reads it on his own profile, as what fans do not read.
		own := a.browser(t)
		own.logIn("zed")
		p = own.get("/creators/zed")
		require.Empty(t, p.action(t, "tip"))
		p.requireText(t, "Fans see what follows as not available right now, without the reason; only you and the operator read it:",
			"Tips need an account in good standing; your account is banned.")
		require.NotContains(t, p.body, `data-testid="operator-view"`)

		// A fan who sends the form anyway reads the neutral reason too.
		sam := a.browser(t)
		sam.logIn("sam")
		form := sam.get("/creators/ayla").form(t, "/creators/ayla/tip", 0)
		form.Set("coins", "100")
		res := sam.post("/creators/zed/tip", form)
		require.Equal(t, http.StatusForbidden, res.status)
		res.requireText(t, "Tips are not available from @zed right now.")
		require.NotContains(t, res.body, "banned")
	})
}
