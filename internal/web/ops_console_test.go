package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// consolePages are the console's pages, for the access checks.
var consolePages = []string{"/ops", "/ops/users", "/ops/users/sam", "/ops/payouts", "/ops/verify", "/ops/verify/status", "/ops/jobs"}

// consoleForms are the console's forms.
var consoleForms = []string{"/ops/users/sam/standing", "/ops/users/sam/grant", "/ops/users/sam/payout-hold", "/ops/payouts/hold",
	"/ops/verify", "/ops/jobs/1/retry", "/ops/jobs/1/cancel"}

// Only operators see the console: a visitor is sent to log in, a fan is
// refused, forms included, and changes nothing.
func TestConsoleAccess(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)
		anon := a.browser(t)
		for _, path := range consolePages {
			p := anon.do("GET", path, nil)
			require.Equal(t, http.StatusSeeOther, p.status, path)
			require.True(t, strings.HasPrefix(p.location, "/login?next="), "%s → %s", path, p.location)
		}
		sam := a.browser(t)
		home := sam.logIn("sam")
		require.NotContains(t, home.body, `href="/ops"`)
		csrf := home.form(t, "/logout", 0).Get("csrf_token")
		before := a.state(t)
		for _, path := range consolePages {
			p := sam.get(path)
			require.Equal(t, http.StatusForbidden, p.status, path)
			p.requireText(t, "This page is for the platform's operators only.")
		}
		for _, path := range consoleForms {
			p := sam.post(path, url.Values{"csrf_token": {csrf}, "standing": {"banned"}, "reason": {"x"}, "coins": {"100"}, "key": {"k1"},
				"held": {"true"}, "handle": {"sam"}})
			require.Equal(t, http.StatusForbidden, p.status, path)
		}
		require.Equal(t, before, a.state(t))

		ops := a.browser(t)
		p := ops.logIn("ops")
		before = a.state(t)
		require.Contains(t, p.body, `<a href="/ops" data-testid="nav-console">Console</a>`, "the menu links the console")
		p = ops.get("/ops")
		for _, link := range []string{`href="/ops/users"`, `href="/ops/payouts"`, `href="/ops/verify"`, `href="/ops/jobs"`, `href="/ops/shoutouts"`} {
			require.Contains(t, p.body, link, "the console's own navigation")
		}
		for _, path := range consolePages {
			p := ops.get(path)
			require.Equal(t, http.StatusOK, p.status, path)
		}
		// A form without its anti-forgery token is refused.
		require.Equal(t, http.StatusForbidden, ops.post("/ops/users/sam/grant", url.Values{"coins": {"5"}, "reason": {"x"}, "key": {"k"}}).status)
		require.Equal(t, before, a.state(t))
	})
}

// The console's home draws the figures: coins sold, money taken, diamonds
// earned and paid, revenue per feature, each as a chart with its table.
func TestConsoleHome(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		ctx := context.Background()
		_, err := a.wallet.Buy(ctx, w.sam, wallet.PurchaseInput{PackID: "eur-350", PaymentMethod: payment.CardSucceeds}, "buy-1")
		require.NoError(t, err)
		_, err = a.tips.Send(ctx, w.sam, w.ayla.UserID, 1_000, "", "tip-1")
		require.NoError(t, err)

		ops := a.browser(t)
		ops.logIn("ops")
		p := ops.get("/ops")
		require.Equal(t, http.StatusOK, p.status)
		require.Contains(t, p.body, `href="/ops" aria-current="page"`)
		for _, id := range []string{"coins-sold", "money-eur", "diamonds-earned", "diamonds-paid", "revenue"} {
			require.Contains(t, p.body, `data-testid="chart-`+id+`"`)
		}
		require.Regexp(t, `data-testid="total-coins-sold">350 coins<`, p.body)
		require.Regexp(t, `data-testid="total-money-eur">€5\.69<`, p.body)
		require.Equal(t, 5, strings.Count(p.body, "<svg viewBox="), "five charts")
		require.Contains(t, p.body, `<rect class="f-tips"`, "the tips' revenue is drawn")
		p.requireText(t, "Tips", "Platform revenue by feature")
	})
}

// The operator finds users by handle, display name or external id, page
// by page; a search too long is refused on the page.
func TestConsoleUsers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)
		ops := a.browser(t)
		ops.logIn("ops")
		handles := func(p *page) []string {
			var out []string
			for _, m := range regexp.MustCompile(`data-testid="user-([a-z0-9_.]+)"`).FindAllStringSubmatch(p.body, -1) {
				out = append(out, m[1])
			}
			return out
		}
		p := ops.get("/ops/users?q=a")
		require.Contains(t, handles(p), "ayla")
		require.Contains(t, handles(p), "omar", "Omar Haddad")
		require.Equal(t, []string{"sam"}, handles(ops.get("/ops/users?q=%40SA")))
		require.Equal(t, []string{"omar"}, handles(ops.get("/ops/users?q=haddad")))
		p = ops.get("/ops/users?q=nobody")
		p.requireText(t, "No user matches.")
		all := handles(ops.get("/ops/users"))
		require.Equal(t, []string{"ayla", "brandco", "mia", "omar", "ops", "sam"}, all)
		p = ops.get("/ops/users?q=" + strings.Repeat("x", 129))
		require.Equal(t, http.StatusUnprocessableEntity, p.status)
		p.requireText(t, "A search is at most 128 characters long.")
	})
}

// The operator bans a creator with an open shoutout from the user's page:
// the standing changes, the audit trail says who and why, and the job the
// ban scheduled refunds the fan.
func TestConsoleBan(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)
		ctx := context.Background()
		ayla := a.browser(t)
		ayla.logIn("ayla")
		require.Equal(t, http.StatusSeeOther, ayla.offerShoutouts("1,000", false).status)
		sam := a.browser(t)
		sam.logIn("sam")
		res, _ := sam.requestShoutout("ayla", map[string]string{"instructions": "Happy birthday to me"})
		id := requestID(t, res)
		require.Equal(t, fanfare.Amount(26_000), a.coins(t, "sam"))

		ops := a.browser(t)
		ops.logIn("ops")
		p := ops.get("/ops/users/ayla")
		p.requireText(t, "@ayla", "Ayla Demir", "Standing good", "Can spend", "Not held")
		before := a.state(t)

		// Refused: no reason, an unknown standing.
		form := p.form(t, "/ops/users/ayla/standing", 0)
		form.Set("standing", "banned")
		res = ops.post("/ops/users/ayla/standing", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status)
		res.requireText(t, "Say why you change the standing. Nothing was changed.")
		form.Set("standing", "exiled")
		form.Set("reason", "Fraud")
		res = ops.post("/ops/users/ayla/standing", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status)
		res.requireText(t, "Choose a standing: good, warned, restricted or banned. Nothing was changed.")
		require.Equal(t, before, a.state(t))
		require.Equal(t, http.StatusNotFound, ops.post("/ops/users/nobody/standing", form).status)

		form.Set("standing", "banned")
		form.Set("reason", "Selling fake shoutouts")
		res = ops.post("/ops/users/ayla/standing", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		p = ops.follow(res)
		p.requireText(t, "Changed the standing of @ayla to banned. Their open shoutouts are being refunded", "Standing banned",
			"user.update", "reason: Selling fake shoutouts", "standing: good → banned")
		require.Contains(t, p.body, `<td data-label="Who">@ops</td>`)

		// The refund runs as a job.
		n, err := a.jobs.RunDue(ctx, time.Now())
		require.NoError(t, err)
		require.GreaterOrEqual(t, n, 2)
		r, err := a.shout.Get(ctx, fanfare.Actor{Role: fanfare.RoleOperator}, id)
		require.NoError(t, err)
		require.Equal(t, "cancelled", string(r.State))
		require.Equal(t, fanfare.Amount(27_000), a.coins(t, "sam"))
	})
}

// Grants from the user's page: the form's key makes a double submit one
// grant; bad amounts are refused.
func TestConsoleGrant(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)
		ops := a.browser(t)
		ops.logIn("ops")
		p := ops.get("/ops/users/sam")
		p.requireText(t, "27,000 coins")
		form := p.form(t, "/ops/users/sam/grant", 0)
		require.NotEmpty(t, form.Get("key"))
		before := a.state(t)
		for _, bad := range []struct{ coins, reason, want string }{
			{"", "Welcome", "Enter the coins to grant as a whole number above zero."},
			{"0", "Welcome", "Enter the coins to grant as a whole number above zero."},
			{"-5", "Welcome", "Enter the coins to grant as a whole number above zero."},
			{"ten", "Welcome", "Enter the coins to grant as a whole number above zero."},
			{"500", "", "Reason is required."},
		} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			f.Set("coins", bad.coins)
			f.Set("reason", bad.reason)
			res := ops.post("/ops/users/sam/grant", f)
			require.Equal(t, http.StatusUnprocessableEntity, res.status, bad.coins)
			res.requireText(t, bad.want+" Nothing was changed.")
			require.Contains(t, res.body, `name="key" value="`+form.Get("key")+`"`, "the same grant if sent again")
		}
		require.Equal(t, before, a.state(t))

		form.Set("coins", "1,500")
		form.Set("reason", "Sorry for the outage")
		res := ops.post("/ops/users/sam/grant", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		ops.follow(res).requireText(t, "Granted 1,500 coins to @sam.", "28,500 coins", "wallet.grant")
		res = ops.post("/ops/users/sam/grant", form) // the same form again
		require.Equal(t, http.StatusSeeOther, res.status)
		ops.follow(res).requireText(t, "This grant was made already: it was not made twice.", "28,500 coins")
		require.Equal(t, fanfare.Amount(28_500), a.coins(t, "sam"))
	})
}

// Payouts: hold and release a creator from the user's page and from the
// payouts page; a hold needs a reason.
func TestConsolePayouts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)
		ops := a.browser(t)
		ops.logIn("ops")
		p := ops.get("/ops/payouts")
		p.requireText(t, "No payout is waiting or failed.", "No creator's payouts are held.")
		before := a.state(t)
		form := p.form(t, "/ops/payouts/hold", 0)
		form.Set("handle", "ayla")
		res := ops.post("/ops/payouts/hold", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status)
		res.requireText(t, "A reason is required. Nothing was changed.")
		form.Set("handle", "nobody")
		form.Set("reason", "Checking identity")
		res = ops.post("/ops/payouts/hold", form)
		require.Equal(t, http.StatusNotFound, res.status)
		require.Equal(t, before, a.state(t))

		form.Set("handle", "@ayla")
		res = ops.post("/ops/payouts/hold", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		p = ops.follow(res)
		p.requireText(t, "Held the payouts of @ayla.", "“Checking identity”")
		require.Contains(t, p.body, `data-testid="hold-ayla"`)
		u := ops.get("/ops/users/ayla")
		u.requireText(t, "Held: “Checking identity”", "Release the payouts", "payout.hold")

		rel := p.form(t, "/ops/users/ayla/payout-hold", 0)
		require.Equal(t, "false", rel.Get("held"))
		res = ops.post("/ops/users/ayla/payout-hold", rel)
		require.Equal(t, http.StatusUnprocessableEntity, res.status)
		rel.Set("reason", "Identity checked")
		res = ops.post("/ops/users/ayla/payout-hold", rel)
		require.Equal(t, http.StatusSeeOther, res.status)
		ops.follow(res).requireText(t, "Released the payouts of @ayla", "No creator's payouts are held.")

		// From the user's page.
		hold := u.form(t, "/ops/users/ayla/payout-hold", 0)
		hold.Set("held", "maybe")
		hold.Set("reason", "x")
		res = ops.post("/ops/users/ayla/payout-hold", hold)
		require.Equal(t, http.StatusUnprocessableEntity, res.status)
		res.requireText(t, "Choose to hold or to release the payouts. Nothing was changed.")
		hold.Set("held", "true")
		res = ops.post("/ops/users/ayla/payout-hold", hold)
		require.Equal(t, http.StatusSeeOther, res.status)
		ops.follow(res).requireText(t, "Held the payouts of @ayla.", "Held: “x”")
	})
}

// Verify from the page: the button starts it, the page follows it to its
// result, the status answers in JSON.
func TestConsoleVerify(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)
		ops := a.browser(t)
		ops.logIn("ops")
		status := func() map[string]any {
			t.Helper()
			p := ops.get("/ops/verify/status")
			require.Equal(t, "application/json", p.header.Get("Content-Type"))
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(p.body), &m))
			return m
		}
		require.Equal(t, "none", status()["state"])
		p := ops.get("/ops/verify")
		require.NotContains(t, p.body, `data-testid="verify-run"`)
		res := ops.post("/ops/verify", p.form(t, "/ops/verify", 0))
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		deadline := time.Now().Add(30 * time.Second)
		for status()["state"] == "running" && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		st := status()
		require.Equal(t, "ok", st["state"])
		require.Equal(t, float64(100), st["percent"])
		p = ops.get("/ops/verify")
		p.requireText(t, "OK: the ledger and the payouts match.", "by @ops", "(100%)")
		require.Contains(t, p.body, `<progress max="100" value="100"`)
		require.NotContains(t, p.body, `http-equiv="refresh"`)

		// A ledger changed by hand: the problems are listed.
		_, err := db.Write.ExecContext(context.Background(), `UPDATE accounts SET balance = balance + 7 WHERE owner = $1`, a.user(t, "sam").ID)
		require.NoError(t, err)
		ops.post("/ops/verify", p.form(t, "/ops/verify", 0))
		for status()["state"] == "running" && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		require.Equal(t, "failed", status()["state"])
		p = ops.get("/ops/verify")
		p.requireText(t, "problem(s) found", "rule 2")
	})
}

// The jobs page counts the jobs by state and kind, and retries or cancels
// one.
func TestConsoleJobs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.seedWorld(t)
		ops := a.browser(t)
		ops.logIn("ops")
		p := ops.get("/ops/users/omar")
		form := p.form(t, "/ops/users/omar/standing", 0)
		form.Set("standing", "restricted")
		form.Set("reason", "Spam")
		require.Equal(t, http.StatusSeeOther, ops.post("/ops/users/omar/standing", form).status)

		// The jobs wait, available or scheduled (for the instant of the
		// change).
		var m []string
		for _, st := range []string{"available", "scheduled"} {
			p = ops.get("/ops/jobs?state=" + st)
			require.Equal(t, http.StatusOK, p.status)
			p.requireText(t, "shoutout.creator_standing", "subscription.creator_standing", st+" jobs, newest first")
			if m = regexp.MustCompile(`data-testid="cancel-(\d+)"`).FindStringSubmatch(p.body); m != nil {
				break
			}
		}
		require.NotNil(t, m, "a job to cancel")
		res := ops.post("/ops/jobs/"+m[1]+"/cancel", p.form(t, "/ops/jobs/"+m[1]+"/cancel", 0))
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		p = ops.follow(res)
		p.requireText(t, "Job "+m[1]+" was cancelled.")
		p = ops.get("/ops/jobs?state=cancelled")
		require.Contains(t, p.body, `data-testid="job-`+m[1]+`"`)
		res = ops.post("/ops/jobs/"+m[1]+"/retry", p.form(t, "/ops/jobs/"+m[1]+"/retry", 0))
		require.Equal(t, http.StatusSeeOther, res.status)
		ops.follow(res).requireText(t, "Job "+m[1]+" will run again at once.")

		p = ops.get("/ops/jobs?state=nonsense")
		require.Equal(t, http.StatusUnprocessableEntity, p.status)
		p.requireText(t, "There is no job state “nonsense”")
		csrf := p.form(t, "/logout", 0).Get("csrf_token")
		require.Equal(t, http.StatusNotFound, ops.post("/ops/jobs/999999/retry", url.Values{"csrf_token": {csrf}}).status)
		require.Equal(t, http.StatusNotFound, ops.post("/ops/jobs/abc/retry", url.Values{"csrf_token": {csrf}}).status)
		require.Equal(t, http.StatusNotFound, ops.post("/ops/jobs/"+m[1]+"/explode", url.Values{"csrf_token": {csrf}}).status)
	})
}
