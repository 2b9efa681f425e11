package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/subscription"
)

// offerPlan gives who a two-tier plan through the service.
func (a *app) offerPlan(t *testing.T, who fanfare.Actor) *subscription.Plan {
	t.Helper()
	p, err := a.subs.SetPlan(context.Background(), who, subscription.PlanInput{Enabled: true, Tiers: []subscription.TierInput{
		{Name: "Fan club", Price: 300, Perks: []string{"Subscriber badge in my LIVE chat", "My emotes"}},
		{Name: "Inner circle", Price: 1_500, Perks: []string{"Everything in Fan club"}},
	}})
	require.NoError(t, err)
	return p
}

// planForm is the monetization page's plan form as it was rendered.
func (b *browser) planForm() url.Values {
	b.t.Helper()
	p := b.get("/studio/monetization")
	require.Equal(b.t, http.StatusOK, p.status, p.text())
	return p.form(b.t, "/studio/monetization/subscription", 0)
}

// subscribeTo sends the Subscribe form of handle's profile dialog with
// tier (by name) chosen, and returns the answer and the form.
func (b *browser) subscribeTo(handle, tier string) (*page, url.Values) {
	b.t.Helper()
	p := b.get("/creators/" + handle)
	require.Equal(b.t, http.StatusOK, p.status, p.text())
	form := p.form(b.t, "/creators/"+handle+"/subscribe", 0)
	m := regexp.MustCompile(`data-testid="tier-card-` + regexp.QuoteMeta(tier) + `">\s*<input type="radio" name="tier" value="([^"]+)"`).FindStringSubmatch(p.body)
	require.NotNil(b.t, m, "no tier %s on %s", tier, handle)
	form.Set("tier", m[1])
	return b.post("/creators/"+handle+"/subscribe", form), form
}

func TestSubscriptionPlanEditor(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		ctx := context.Background()
		ayla := a.browser(t)
		ayla.logIn("ayla")

		// The section: off, eligible, no subscribers, one empty tier.
		p := ayla.get("/studio/monetization")
		p.requireText(t, "LIVE Subscription", "Off", "Your subscribers (0)", "Offer LIVE Subscription", "Tier 1",
			"50 to 100,000 coins a month.", "after 7 days' notice", "Add a tier", "Save plan")
		require.NotContains(t, p.body, `data-testid="plan-reasons"`)
		require.Contains(t, p.body, `href="/studio/subscribers"`)

		// "Add a tier" adds a row and saves nothing.
		form := ayla.planForm()
		form.Set("op", "add")
		p = ayla.post("/studio/monetization/subscription", form)
		require.Equal(t, http.StatusOK, p.status, p.text())
		p.requireText(t, "Tier 1", "Tier 2")
		require.Equal(t, "2", p.form(t, "/studio/monetization/subscription", 0).Get("tier_count"))
		plan, err := a.subs.Plan(ctx, w.ayla.UserID)
		require.NoError(t, err)
		require.Empty(t, plan.Tiers)

		// Problems show next to their field; nothing is saved.
		bad := url.Values{"csrf_token": {form.Get("csrf_token")}, "enabled": {"true"}, "tier_count": {"2"}, "op": {"save"},
			"tier0_name": {"Fan club"}, "tier0_price": {"10"}, "tier1_name": {""}, "tier1_price": {"1,500"}}
		p = ayla.post("/studio/monetization/subscription", bad)
		require.Equal(t, http.StatusUnprocessableEntity, p.status, p.text())
		require.Regexp(t, `data-testid="tier-0-price-error">A monthly price is 50 to 100,000 coins.</p>`, p.body)
		require.Regexp(t, `data-testid="tier-1-name-error">Name this tier.</p>`, p.body)
		require.Contains(t, p.body, `value="Fan club"`, "the fields keep what was typed")
		bad.Set("tier0_price", "200000")
		p = ayla.post("/studio/monetization/subscription", bad)
		require.Regexp(t, `data-testid="tier-0-price-error">A monthly price is 50 to 100,000 coins.</p>`, p.body)

		// 0 and 4 tiers are refused with the service's sentence.
		none := url.Values{"csrf_token": {form.Get("csrf_token")}, "enabled": {"true"}, "tier_count": {"0"}}
		p = ayla.post("/studio/monetization/subscription", none)
		require.Equal(t, http.StatusUnprocessableEntity, p.status, p.text())
		p.requireText(t, "Your plan was not saved: A plan has 1 to 3 tiers; this one has 0.")
		four := url.Values{"csrf_token": {form.Get("csrf_token")}, "enabled": {"true"}, "tier_count": {"4"}}
		for i, name := range []string{"A", "B", "C", "D"} {
			four.Set("tier"+strconv.Itoa(i)+"_name", name)
			four.Set("tier"+strconv.Itoa(i)+"_price", "100")
		}
		p = ayla.post("/studio/monetization/subscription", four)
		require.Equal(t, http.StatusUnprocessableEntity, p.status, p.text())
		p.requireText(t, "A plan has 1 to 3 tiers; this one has 4.")
		plan, err = a.subs.Plan(ctx, w.ayla.UserID)
		require.NoError(t, err)
		require.Empty(t, plan.Tiers)

		// A good plan is saved; the ids come back as hidden fields.
		good := url.Values{"csrf_token": {form.Get("csrf_token")}, "enabled": {"true"}, "tier_count": {"2"}, "op": {"save"},
			"tier0_name": {"Fan club"}, "tier0_price": {"300"}, "tier0_perks": {"Badge\r\nEmotes\n\n"},
			"tier1_name": {"Inner circle"}, "tier1_price": {"1,500"}}
		p = ayla.post("/studio/monetization/subscription", good)
		require.Equal(t, http.StatusSeeOther, p.status, p.text())
		p = ayla.follow(p)
		p.requireText(t, "Your plan is saved: fans can subscribe from your profile.", "Fans can subscribe")
		plan, err = a.subs.Plan(ctx, w.ayla.UserID)
		require.NoError(t, err)
		require.Len(t, plan.Tiers, 2)
		require.Equal(t, []string{"Badge", "Emotes"}, plan.Tiers[0].Perks)
		form = p.form(t, "/studio/monetization/subscription", 0)
		require.Equal(t, plan.Tiers[0].ID, form.Get("tier0_id"))
		require.Equal(t, plan.Tiers[1].ID, form.Get("tier1_id"))

		// A price change keeps the ids and says when it reaches
		// subscribers.
		edit := url.Values{"csrf_token": {form.Get("csrf_token")}, "enabled": {"true"}, "tier_count": {"2"}, "op": {"save"},
			"tier0_id": {plan.Tiers[0].ID}, "tier0_name": {"Fan club"}, "tier0_price": {"400"},
			"tier1_id": {plan.Tiers[1].ID}, "tier1_name": {"Inner circle"}, "tier1_price": {"1500"}}
		p = ayla.follow(ayla.post("/studio/monetization/subscription", edit))
		p.requireText(t, "A new price applies to new subscribers at once, and to your subscribers at their first renewal after 7 days' notice")
		again, err := a.subs.Plan(ctx, w.ayla.UserID)
		require.NoError(t, err)
		require.Equal(t, plan.Tiers[0].ID, again.Tiers[0].ID)
		require.Equal(t, fanfare.Amount(400), again.Tiers[0].Price)

		// "Remove" drops a row without saving.
		edit.Set("op", "remove-1")
		p = ayla.post("/studio/monetization/subscription", edit)
		require.Equal(t, http.StatusOK, p.status)
		require.Equal(t, "1", p.form(t, "/studio/monetization/subscription", 0).Get("tier_count"))
		require.NotContains(t, p.text(), "Tier 2")

		// A brand reads why fans cannot subscribe.
		brand := a.browser(t)
		brand.logIn("brandco")
		p = brand.get("/studio/monetization")
		p.requireText(t, "Fans cannot subscribe to you yet:")
		require.Contains(t, p.body, `data-testid="plan-reason-account_type"`)
	})
}

func TestSubscribeFromProfile(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		a.offerPlan(t, w.ayla)

		// A logged-out visitor is asked to log in.
		anon := a.browser(t)
		p := anon.get("/creators/ayla")
		require.Contains(t, p.action(t, "subscribe"), `href="/login?next=%2Fcreators%2Fayla%2Fsubscribe"`)
		require.Contains(t, p.action(t, "subscribe"), "Log in to subscribe")

		// sam sees the Subscribe button, which opens the dialog (or the
		// Subscribe page without script).
		sam := a.browser(t)
		sam.logIn("sam")
		p = sam.get("/creators/ayla")
		sub := p.action(t, "subscribe")
		require.True(t, strings.HasPrefix(sub, "available:"), sub)
		require.Contains(t, sub, `href="/creators/ayla/subscribe" data-open-dialog="subscribe-dialog"`)
		require.Contains(t, p.body, `<dialog class="confirm-dialog subscribe-dialog" id="subscribe-dialog"`)
		p.requireText(t, "Subscribe to @ayla", "Fan club", "300 coins a month ≈ €4.71", "Inner circle", "1,500 coins a month ≈ €23.55",
			"Subscriber badge in my LIVE chat", "Subscribe and pay the first month")
		page := sam.get("/creators/ayla/subscribe")
		require.Equal(t, http.StatusOK, page.status)
		page.requireText(t, "Subscribe to @ayla", "Fan club", "Subscribe and pay the first month")
		require.True(t, page.hasForm("/creators/ayla/subscribe"))

		res, form := sam.subscribeTo("ayla", "Fan club")
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Len(t, form.Get("idempotency_key"), 22)
		p = sam.follow(res)
		require.Equal(t, "/subscriptions", strings.SplitN(p.path, "?", 2)[0])
		p.requireText(t, "You subscribe to @ayla's Fan club: 300 coins paid for the first month. It renews on", "Your badge: 1-month badge.")
		require.Equal(t, fanfare.Amount(26_700), a.coins(t, "sam"))

		// The same form sent again charges nothing more.
		again := sam.post("/creators/ayla/subscribe", form)
		require.Equal(t, http.StatusSeeOther, again.status, again.text())
		require.Equal(t, res.location, again.location)
		require.Equal(t, fanfare.Amount(26_700), a.coins(t, "sam"))

		// The profile now says so, with a link to manage it.
		p = sam.get("/creators/ayla")
		p.requireText(t, "You subscribe · renews on", "Manage")
		require.Contains(t, p.body, `data-testid="manage-subscription"`)
		require.False(t, p.hasForm("/creators/ayla/subscribe"))
		p = sam.get("/creators/ayla/subscribe")
		p.requireText(t, "You subscribe to @ayla's Fan club · renews on", "Manage your subscription")
		require.NotContains(t, p.text(), "You cannot subscribe")
		require.False(t, p.hasForm("/creators/ayla/subscribe"))

		// Twice: a new form is refused, nothing taken.
		before := withoutKeys(a.state(t))
		twice := url.Values{"csrf_token": {form.Get("csrf_token")}, "idempotency_key": {"second-form-key"}, "tier": {form.Get("tier")}}
		p = sam.post("/creators/ayla/subscribe", twice)
		require.Equal(t, http.StatusConflict, p.status, p.text())
		p.requireText(t, "You subscribe to @ayla already: manage it on your subscriptions page. No coins were taken.")
		require.Equal(t, before, withoutKeys(a.state(t)))

		// Too few coins.
		a.createUser(t, "lou", "Lou", "FR", "1990-01-01")
		a.grant(t, "lou", 100)
		lou := a.browser(t)
		lou.logIn("lou")
		before = withoutKeys(a.state(t))
		p, _ = lou.subscribeTo("ayla", "Fan club")
		require.Equal(t, http.StatusConflict, p.status, p.text())
		p.requireText(t, "You don't have enough coins for this subscription (300 coins a month): you have 100 coins. Buy coins in your wallet, then try again.")
		require.True(t, p.hasForm("/creators/ayla/subscribe"), "the form is there to try again")
		require.Equal(t, before, withoutKeys(a.state(t)))

		// A minor reads why, on the profile and when sending a form anyway.
		mia := a.browser(t)
		mia.logIn("mia")
		p = mia.get("/creators/ayla")
		sub = p.action(t, "subscribe")
		require.True(t, strings.HasPrefix(sub, "unavailable:"), sub)
		require.Contains(t, sub, `data-testid="reason-fan_age"`)
		require.False(t, p.hasForm("/creators/ayla/subscribe"))
		before = withoutKeys(a.state(t))
		p = mia.post("/creators/ayla/subscribe", url.Values{"csrf_token": {mia.csrf()}, "idempotency_key": {"mia-key"}, "tier": {form.Get("tier")}})
		require.Equal(t, http.StatusForbidden, p.status, p.text())
		p.requireText(t, "You were not subscribed to @ayla, and no coins were taken:")
		require.Contains(t, p.body, `data-testid="reason-fan_age"`)
		require.Equal(t, before, withoutKeys(a.state(t)))
		require.Equal(t, fanfare.Amount(700), a.coins(t, "mia"))

		// A creator without a plan shows no button.
		p = sam.get("/creators/omar")
		require.Empty(t, p.action(t, "subscribe"))
		a.requireVerified(t)
	})
}

func TestSubscriptionsPage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// The clock starts now: the session cookies expire by the
		// browser's clock.
		clock := newTestClock(time.Now().UTC())
		renews := clock.Now().Add(24 * time.Hour).Format("Mon 2 Jan 2006")
		a := newAppWith(t, db, appOptions{clock: clock, subscriptions: subscription.Options{Period: 24 * time.Hour}})
		w := a.seedWorld(t)
		ctx := context.Background()
		plan := a.offerPlan(t, w.ayla)

		sam := a.browser(t)
		sam.logIn("sam")
		p := sam.get("/subscriptions")
		p.requireText(t, "Your subscriptions", "No subscriptions yet.")
		require.Contains(t, p.body, `href="/subscriptions" aria-current="page"`)
		res, _ := sam.subscribeTo("ayla", "Fan club")
		require.Equal(t, http.StatusSeeOther, res.status, res.text())

		// Active: price, renewal date, the badge, a tier to change to.
		p = sam.get("/subscriptions")
		p.requireText(t, "@ayla · Fan club", "Active", "300 coins a month", "1 month of tenure", "1-month badge", "Renews on "+renews)
		id := regexp.MustCompile(`action="/subscriptions/([^/]+)/cancel"`).FindStringSubmatch(p.body)[1]
		require.Contains(t, p.body, `data-dialog="cancel-dialog-`+id+`"`)
		require.Contains(t, p.body, `<dialog class="confirm-dialog" id="cancel-dialog-`+id+`"`)

		// Change tier, from the next renewal.
		tf := p.form(t, "/subscriptions/"+id+"/tier", 0)
		tf.Set("tier", plan.Tiers[1].ID)
		p = sam.follow(sam.post("/subscriptions/"+id+"/tier", tf))
		p.requireText(t, "Saved: your new tier starts at your next renewal.", "From your next renewal: Inner circle.")
		tf.Set("tier", plan.Tiers[0].ID)
		p = sam.follow(sam.post("/subscriptions/"+id+"/tier", tf))
		require.NotContains(t, p.text(), "From your next renewal")

		// Cancel, then renew again.
		cf := p.form(t, "/subscriptions/"+id+"/cancel", 0)
		p = sam.follow(sam.post("/subscriptions/"+id+"/cancel", cf))
		p.requireText(t, "Renewal is off. You keep the perks until the paid month ends", "Cancelled, until "+renews,
			"Renewal is off: your perks last until "+renews, "Turn renewal back on")
		require.False(t, p.hasForm("/subscriptions/"+id+"/cancel"))
		got, err := a.subs.Get(ctx, w.sam, id)
		require.NoError(t, err)
		require.False(t, got.AutoRenew)
		rf := p.form(t, "/subscriptions/"+id+"/renew", 0)
		p = sam.follow(sam.post("/subscriptions/"+id+"/renew", rf))
		p.requireText(t, "Renewal is back on", "Renews on "+renews)
		got, err = a.subs.Get(ctx, w.sam, id)
		require.NoError(t, err)
		require.True(t, got.AutoRenew)

		// Someone else's subscription is not found.
		lou := a.browser(t)
		a.createUser(t, "lou", "Lou", "FR", "1990-01-01")
		lou.logIn("lou")
		p = lou.post("/subscriptions/"+id+"/cancel", url.Values{"csrf_token": {lou.csrf()}})
		require.Equal(t, http.StatusNotFound, p.status)
		got, err = a.subs.Get(ctx, w.sam, id)
		require.NoError(t, err)
		require.True(t, got.AutoRenew)

		// A price change is announced.
		_, err = a.subs.SetPlan(ctx, w.ayla, subscription.PlanInput{Enabled: true, Tiers: []subscription.TierInput{
			{ID: plan.Tiers[0].ID, Name: "Fan club", Price: 350}, {ID: plan.Tiers[1].ID, Name: "Inner circle", Price: 1_500}}})
		require.NoError(t, err)
		p = sam.get("/subscriptions")
		p.requireText(t, "the price is 350 coins a month.")
		require.Contains(t, p.body, `data-testid="price-change">From <time`)

		// Grace: lou has exactly one month's coins; the renewal fails.
		a.grant(t, "lou", 350)
		res, _ = lou.subscribeTo("ayla", "Fan club")
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		clock.advance(24*time.Hour + time.Minute)
		_, err = a.subs.Sweep(ctx)
		require.NoError(t, err)
		p = lou.get("/subscriptions")
		p.requireText(t, "In grace", "Your renewal could not be paid:", "Add coins before", "to keep it.")
		require.Contains(t, p.body, `data-testid="grace-warning"`)

		// ayla sees both in her list, with tenure and state.
		ayla := a.browser(t)
		ayla.logIn("ayla")
		p = ayla.get("/studio/subscribers")
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "Your subscribers", "2 open subscriptions", "@sam", "Sam Bernard", "@lou", "Fan club", "In grace", "2 months", "1-month badge")
		p = ayla.get("/studio/subscribers?cursor=nonsense")
		p.requireText(t, "That page of your subscribers does not exist; here are the newest ones.", "@sam")
		p = ayla.get("/studio/monetization")
		p.requireText(t, "Your subscribers (2)")
	})
}

func TestSubscriptionsPaged(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	w := a.seedWorld(t)
	ctx := context.Background()
	a.offerPlan(t, w.ayla)
	plan, err := a.subs.Plan(ctx, w.ayla.UserID)
	require.NoError(t, err)
	for i := range 21 {
		handle := "fan" + strconv.Itoa(i)
		fan := a.createUser(t, handle, "Fan "+strconv.Itoa(i), "FR", "1990-01-01")
		a.grant(t, handle, 300)
		_, err := a.subs.Subscribe(ctx, fan, w.ayla.UserID, subscription.SubscribeInput{Tier: plan.Tiers[0].ID}, "sub-"+handle)
		require.NoError(t, err)
	}
	ayla := a.browser(t)
	ayla.logIn("ayla")
	p := ayla.get("/studio/subscribers")
	p.requireText(t, "21 open subscriptions", "@fan20", "Older")
	require.NotContains(t, p.text(), "@fan0 ")
	more := regexp.MustCompile(`href="(/studio/subscribers\?cursor=[^"]+)"`).FindStringSubmatch(p.body)
	require.NotNil(t, more)
	p = ayla.get(strings.ReplaceAll(more[1], "&amp;", "&"))
	p.requireText(t, "@fan0", "Newest")
}

func TestGiftedSubscriptionsConsent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		sam := a.browser(t)
		sam.logIn("sam")
		p := sam.get("/settings")
		p.requireText(t, "Gifted subscriptions", "Let other viewers gift me subscriptions")
		require.NotRegexp(t, `value="true" checked data-testid="accept-gifts"`, p.body)
		form := p.form(t, "/settings/preferences", 0)
		form.Set("accept_gifted_subscriptions", "true")
		p = sam.follow(sam.post("/settings/preferences", form))
		p.requireText(t, "Saved. Viewers in a LIVE may now gift you a subscription to its creator.")
		require.Contains(t, p.body, `value="true" checked data-testid="accept-gifts"`)
		prefs, err := a.subs.Preferences(context.Background(), w.sam.UserID)
		require.NoError(t, err)
		require.True(t, prefs.AcceptGiftedSubscriptions)

		form.Del("accept_gifted_subscriptions")
		p = sam.follow(sam.post("/settings/preferences", form))
		p.requireText(t, "Saved. Nobody can gift you a subscription.")
		prefs, err = a.subs.Preferences(context.Background(), w.sam.UserID)
		require.NoError(t, err)
		require.False(t, prefs.AcceptGiftedSubscriptions)
	})
}

func TestSubscriptionsCSRFOnEveryForm(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	w := a.seedWorld(t)
	a.offerPlan(t, w.ayla)
	sam := a.browser(t)
	sam.logIn("sam")
	before := a.state(t)
	for _, path := range []string{"/studio/monetization/subscription", "/creators/ayla/subscribe", "/subscriptions/x/cancel",
		"/subscriptions/x/renew", "/subscriptions/x/tier", "/settings/preferences"} {
		p := sam.post(path, url.Values{"csrf_token": {"forged"}, "idempotency_key": {"k"}, "accept_gifted_subscriptions": {"true"}})
		require.Equal(t, http.StatusForbidden, p.status, path)
	}
	require.Equal(t, before, a.state(t))
	prefs, err := a.subs.Preferences(context.Background(), w.sam.UserID)
	require.NoError(t, err)
	require.False(t, prefs.AcceptGiftedSubscriptions)
}
