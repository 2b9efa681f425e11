package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// check returns the checklist line of feature's requirement code, as read.
func (p *page) check(t *testing.T, feature, code string) string {
	t.Helper()
	i := strings.Index(p.body, `data-testid="check-`+feature+`-`+code+`"`)
	require.GreaterOrEqual(t, i, 0, "page %s has no check %s/%s", p.path, feature, code)
	j := strings.Index(p.body[i:], "</li>")
	return (&page{body: "<li " + p.body[i:i+j]}).text()
}

// regexpFind returns the first group of pattern's first match in s.
func regexpFind(t *testing.T, pattern, s string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	require.NotNil(t, m, "no %s in %s", pattern, s)
	return m[1]
}

func TestMonetizationSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		ctx := context.Background()

		// The page needs a login, and comes back after it.
		anon := a.browser(t)
		res := anon.do("GET", "/studio/monetization", nil)
		require.Equal(t, http.StatusSeeOther, res.status)
		require.Equal(t, "/login?next=%2Fstudio%2Fmonetization", res.location)

		// omar: every feature, what he meets and misses.
		omar := a.browser(t)
		omar.logIn("omar")
		require.Contains(t, omar.get("/studio").body, `href="/studio/monetization"`, "the studio links it")
		p := omar.get("/studio/monetization")
		require.Equal(t, http.StatusOK, p.status)
		require.Contains(t, p.body, `href="/studio/monetization" aria-current="page"`)
		p.requireText(t, "Monetization", "Going LIVE", "LIVE gifts", "Tips", "Shoutouts", "LIVE Subscription", "Turn Tips on",
			"No tips yet.")
		require.Contains(t, p.body, `data-testid="tips-switch">off<`)
		for feature, verdict := range map[string]string{"live": "Eligible", "gifts": "Eligible", "tips": "Not eligible",
			"shoutouts": "Eligible", "subscriptions": "Eligible"} {
			require.Contains(t, p.body, `data-testid="eligible-`+feature+`">`+verdict+`<`, feature)
		}
		require.Equal(t, "✓ Met: Going LIVE needs a creator of 18 or older", p.check(t, "live", "age"))
		require.Equal(t, "✗ Not met: Tips need 100,000 followers : you have 40,000", p.check(t, "tips", "followers"))
		require.Equal(t, "✓ Met: Tips need an account in good standing", p.check(t, "tips", "standing"))
		require.Equal(t, "✗ Not met: You turned Tips on : turn them on in your monetization settings", p.check(t, "tips", "not_offered"))
		// Every feature is in this release, each with its checklist.
		require.NotContains(t, p.body, "not available in this release yet.")
		require.Equal(t, "✓ Met: Shoutouts need 10,000 followers", p.check(t, "shoutouts", "followers"))
		require.Equal(t, "✓ Met: LIVE Subscription needs 1,000 followers", p.check(t, "subscriptions", "followers"))

		// Turning Tips on: the switch is on, fans still need him to meet the rules.
		form := p.form(t, "/studio/monetization/tips", 0)
		require.Equal(t, "true", form.Get("enabled"))
		res = omar.post("/studio/monetization/tips", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, "/studio/monetization?tips=on", res.location)
		p = omar.follow(res)
		p.requireText(t, "Tips are on. Fans can tip you once you meet every requirement of Tips below.", "Turn Tips off",
			"On, waiting for the requirements")
		require.Contains(t, p.body, `data-testid="tips-switch">on<`)
		require.Equal(t, "✓ Met: You turned Tips on", p.check(t, "tips", "not_offered"))
		on, err := a.tips.Enabled(ctx, w.omar.UserID)
		require.NoError(t, err)
		require.True(t, on)

		// Without the token, nothing changes.
		form = p.form(t, "/studio/monetization/tips", 0)
		require.Equal(t, "false", form.Get("enabled"))
		form.Del("csrf_token")
		require.Equal(t, http.StatusForbidden, omar.post("/studio/monetization/tips", form).status)
		on, err = a.tips.Enabled(ctx, w.omar.UserID)
		require.NoError(t, err)
		require.True(t, on)
		// Nor with a value that is neither on nor off.
		form = p.form(t, "/studio/monetization/tips", 0)
		form.Set("enabled", "maybe")
		res = omar.post("/studio/monetization/tips", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status)
		res.requireText(t, "Choose whether Tips are on or off. Nothing was changed.")

		// ayla, eligible with Tips on, lists the tips she received, newest
		// first, ten at a time.
		for i := range 12 {
			_, err := a.tips.Send(ctx, w.sam, w.ayla.UserID, fanfare.Amount(100+i), fmt.Sprintf("tip number %d", i+1), fmt.Sprintf("tip-%d", i))
			require.NoError(t, err)
		}
		ayla := a.browser(t)
		ayla.logIn("ayla")
		p = ayla.get("/studio/monetization")
		p.requireText(t, "Fans can tip you", "@sam tipped 111 coins", "+111 diamonds", "“tip number 12”", "“tip number 3”")
		require.Contains(t, p.body, `data-testid="eligible-tips">Eligible<`)
		require.NotContains(t, p.text(), "tip number 2”")
		require.Less(t, strings.Index(p.body, "tip number 12"), strings.Index(p.body, "tip number 11"), "newest first")
		more := p.body[strings.Index(p.body, `data-testid="tips-more"`)-200:]
		u := regexpFind(t, `href="(/studio/monetization\?cursor=[^"]+)"`, more)
		p = ayla.get(strings.ReplaceAll(u, "&amp;", "&"))
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "“tip number 2”", "“tip number 1”", "← Newest")
		require.NotContains(t, p.text(), "tip number 3”")
		require.NotContains(t, p.body, `data-testid="tips-more"`)
		bad := ayla.get("/studio/monetization?cursor=" + url.QueryEscape("not-a-cursor"))
		require.Equal(t, http.StatusOK, bad.status)
		bad.requireText(t, "That page of your tips does not exist; here are the newest ones.", "“tip number 12”")

		// Turning Tips off takes the button off her profile.
		p = ayla.get("/studio/monetization")
		res = ayla.post("/studio/monetization/tips", p.form(t, "/studio/monetization/tips", 0))
		require.Equal(t, "/studio/monetization?tips=off", res.location)
		ayla.follow(res).requireText(t, "Tips are off: fans no longer see a Tip button on your profile.", "Turn Tips on")
		sam := a.browser(t)
		sam.logIn("sam")
		profile := sam.get("/creators/ayla")
		require.Empty(t, profile.action(t, "tip"), "a creator who turned Tips off shows no Tip button")
		require.False(t, profile.hasForm("/creators/ayla/tip"))
	})
}
