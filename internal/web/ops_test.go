package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// ruleForm is the form of the rule of feature as the page shows it, every
// field filled in as a browser would send it.
func (p *page) ruleForm(t *testing.T, feature string) url.Values {
	t.Helper()
	action := "/ops/eligibility/" + feature
	form := p.form(t, action, 0)
	start := strings.Index(p.body, `<form method="post" action="`+action+`"`)
	body := p.body[start : start+strings.Index(p.body[start:], "</form>")]
	for _, m := range regexpAll(`<input id="[^"]+" name="([a-z_]+)" type="text"[^>]* value="([^"]*)"`, body) {
		form.Set(m[1], m[2])
	}
	for _, m := range regexpAll(`<input type="(?:radio|checkbox)" name="([a-z_]+)" value="([^"]*)" checked>`, body) {
		form.Add(m[1], m[2])
	}
	return form
}

func TestEligibilityRulesPage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)
		ctx := context.Background()
		count := func() int {
			t.Helper()
			var n int
			require.NoError(t, a.db.Read.QueryRow(`SELECT COUNT(*) FROM audit_log WHERE action = 'eligibility.update'`).Scan(&n))
			return n
		}

		// A fan may neither see nor change the rules.
		sam := a.browser(t)
		p := sam.logIn("sam")
		require.NotContains(t, p.body, `href="/ops/eligibility"`)
		res := sam.get("/ops/eligibility")
		require.Equal(t, http.StatusForbidden, res.status)
		res.requireText(t, "This page is for the platform's operators only.")
		res = sam.post("/ops/eligibility/tips", url.Values{"csrf_token": {p.form(t, "/logout", 0).Get("csrf_token")},
			"enabled": {"false"}})
		require.Equal(t, http.StatusForbidden, res.status)
		rule, err := a.rules.Rule(ctx, eligibility.Tips)
		require.NoError(t, err)
		require.True(t, rule.Enabled)
		require.Zero(t, count())
		res = a.browser(t).do("GET", "/ops/eligibility", nil)
		require.Equal(t, http.StatusSeeOther, res.status)
		require.Equal(t, "/login?next=%2Fops%2Feligibility", res.location)

		// The operator sees every rule in force.
		ops := a.browser(t)
		p = ops.logIn("ops")
		require.Contains(t, ops.get("/ops").body, `href="/ops/eligibility" data-testid="ops-nav-eligibility">Eligibility</a>`, "the console's menu links it")
		p = ops.get("/ops/eligibility")
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "Eligibility rules", "Going LIVE", "LIVE gifts", "Tips", "Shoutouts", "LIVE Subscription",
			"The configured default: not changed here yet.", "Save the rule of Tips")
		tips := p.ruleForm(t, "tips")
		require.Equal(t, url.Values{
			"csrf_token": tips["csrf_token"], "enabled": {"true"}, "regions_off": {""}, "min_followers": {"100000"}, "min_age": {"18"},
			"standings": {"good"}, "creator_regions": {""}, "fan_min_age": {"18"}, "fan_regions_blocked": {""},
		}, tips)
		shoutouts := p.ruleForm(t, "shoutouts")
		require.Equal(t, []string{"personal"}, shoutouts["account_types"])
		require.Equal(t, "AE, TR", shoutouts.Get("creator_regions"))

		// omar cannot be tipped: too few followers.
		b := sam.get("/creators/omar")
		require.Contains(t, b.action(t, "tip"), "Tips need 100,000 followers; @omar has 40,000.")

		// Refusals: the message, what was typed, and nothing changed.
		for _, tc := range []struct{ field, value, want string }{
			{"fan_regions_blocked", "TR, France", `Region "FRANCE" is not an ISO 3166-1 alpha-2 code. Nothing was changed.`},
			{"min_followers", "lots", "Enter the minimum followers as a whole number, or leave it blank for none. Nothing was changed."},
			{"min_age", "200", "Ages must be between 0 and 150. Nothing was changed."},
		} {
			form := p.ruleForm(t, "tips")
			form.Set(tc.field, tc.value)
			res := ops.post("/ops/eligibility/tips", form)
			require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
			res.requireText(t, "The rule of Tips was not saved: "+tc.want)
			require.Contains(t, res.body, `data-testid="rule-error-tips"`)
			require.Contains(t, res.body, `value="`+tc.value+`"`, "what was typed stays")
		}
		form := p.ruleForm(t, "tips")
		form.Del("csrf_token")
		require.Equal(t, http.StatusForbidden, ops.post("/ops/eligibility/tips", form).status)
		require.Equal(t, http.StatusNotFound, ops.post("/ops/eligibility/teleport", p.ruleForm(t, "tips")).status)
		rule, err = a.rules.Rule(ctx, eligibility.Tips)
		require.NoError(t, err)
		require.Equal(t, int64(100_000), rule.MinFollowers)
		require.Zero(t, count())

		// Tips from 30,000 followers.
		form = p.ruleForm(t, "tips")
		form.Set("min_followers", "30,000")
		res = ops.post("/ops/eligibility/tips", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, "/ops/eligibility?saved=tips#rule-tips", res.location)
		p = ops.follow(res)
		p.requireText(t, "Saved the rule of Tips: it is in force now.", "by @ops.")
		require.Contains(t, p.body, `name="min_followers" type="text" inputmode="numeric" value="30000"`)
		require.Contains(t, p.body, `data-testid="rule-changed-tips">Last changed <time`)
		rule, err = a.rules.Rule(ctx, eligibility.Tips)
		require.NoError(t, err)
		require.Equal(t, int64(30_000), rule.MinFollowers)
		require.Equal(t, []string{}, rule.RegionsOff)
		require.True(t, rule.Enabled)
		require.Equal(t, 18, rule.FanMinAge)
		require.Equal(t, 1, count(), "the change is audited")

		// omar meets the rules now; the button shows once he turns Tips on.
		b = sam.get("/creators/omar")
		require.Empty(t, b.action(t, "tip"), "omar has not turned Tips on: no button")
		omar := a.browser(t)
		omar.logIn("omar")
		m := omar.get("/studio/monetization")
		require.Contains(t, m.body, `data-testid="eligible-tips">Not eligible<`)
		omar.follow(omar.post("/studio/monetization/tips", m.form(t, "/studio/monetization/tips", 0))).
			requireText(t, "Tips are on: fans can tip you from your profile.")
		b = sam.get("/creators/omar")
		tip := b.action(t, "tip")
		require.True(t, strings.HasPrefix(tip, "available:"), "tip action: %s", tip)
		require.Contains(t, tip, `data-testid="button-tip">Send a tip</a>`)
		require.True(t, b.hasForm("/creators/omar/tip"))

		// Tips switched off everywhere: nobody can tip.
		form = p.ruleForm(t, "tips")
		form.Set("enabled", "false")
		ops.follow(ops.post("/ops/eligibility/tips", form)).requireText(t, "Saved the rule of Tips")
		b = sam.get("/creators/omar")
		require.Contains(t, b.action(t, "tip"), `<li data-testid="reason-feature_off">Tips are switched off for now.</li>`)
	})
}

// regexpAll returns every match of pattern in s, with its groups.
func regexpAll(pattern, s string) [][]string {
	return regexp.MustCompile(pattern).FindAllStringSubmatch(s, -1)
}
