package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/httpapi"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
	"github.com/fanfarehq/fanfare/internal/web"
)

func TestSessionCookieIsTheAPIs(t *testing.T) {
	t.Parallel()
	require.Equal(t, httpapi.SessionCookie, web.SessionCookie)
}

func TestSignUpLogInLogOut(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		b := a.browser(t)

		home := b.get("/")
		require.Equal(t, http.StatusOK, home.status)
		home.requireText(t, "Support the creators you love", "Create an account", "Log in")
		require.NotContains(t, home.text(), "fanfare-demo", "the demo's logins only show in the demo")
		require.Equal(t, "no-store", home.header.Get("Cache-Control"))
		require.Contains(t, home.header.Get("Content-Security-Policy"), "default-src 'self'")

		// Sign up: the account is created, logged in, and lands on its wallet.
		form := b.get("/signup").form(t, "/signup", 0)
		form.Set("handle", "Nora_1")
		form.Set("display_name", "Nora")
		form.Set("password", password)
		form.Set("region", "fr")
		form.Set("birth_date", "1990-05-17")
		form.Set("account_type", "business")
		res := b.post("/signup", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, "/wallet?welcome=1", res.location)
		c := res.cookie(web.SessionCookie)
		require.NotNil(t, c, "sign-up sets the session cookie")
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteLaxMode, c.SameSite)
		require.Equal(t, "/", c.Path)
		require.False(t, c.Secure, "Secure only when configured")
		require.NotEmpty(t, c.Value)

		u := a.user(t, "nora_1")
		require.Equal(t, "Nora", u.DisplayName)
		require.Equal(t, "FR", u.Region)
		require.Equal(t, fanfare.AccountBusiness, u.AccountType)
		authed, err := a.accounts.Authenticate(context.Background(), c.Value)
		require.NoError(t, err, "the cookie holds a session token")
		require.Equal(t, u.ID, authed.ID)

		w := b.follow(res)
		require.Equal(t, http.StatusOK, w.status)
		w.requireText(t, "Welcome to Fanfare, @nora_1", "@nora_1", "Wallet", "Settings", "Log out")

		// The API accepts the same cookie.
		me := b.get("/v1/me")
		require.Equal(t, http.StatusOK, me.status, me.body)
		var meBody struct{ Handle string }
		require.NoError(t, json.Unmarshal([]byte(me.body), &meBody))
		require.Equal(t, "nora_1", meBody.Handle)

		// Logged in, the home page is the wallet.
		res = b.do("GET", "/", nil)
		require.Equal(t, http.StatusSeeOther, res.status)
		require.Equal(t, "/wallet", res.location)

		// Log out: the session ends and the cookie goes.
		res = b.post("/logout", w.form(t, "/logout", 0))
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, "/?bye=1", res.location)
		gone := res.cookie(web.SessionCookie)
		require.NotNil(t, gone)
		require.Less(t, gone.MaxAge, 0)
		_, err = a.accounts.Authenticate(context.Background(), c.Value)
		require.Equal(t, fanfare.EUnauthorized, fanfare.ErrorCode(err), "the session is over")
		b.follow(res).requireText(t, "You are logged out")
		res = b.do("GET", "/wallet", nil)
		require.Equal(t, http.StatusSeeOther, res.status)
		require.Equal(t, "/login?next=%2Fwallet", res.location)

		// A wrong password is refused with a readable message.
		form = b.get("/login").form(t, "/login", 0)
		form.Set("handle", "nora_1")
		form.Set("password", "not the password")
		res = b.post("/login", form)
		require.Equal(t, http.StatusUnauthorized, res.status)
		res.requireText(t, "Wrong handle or password")
		require.Nil(t, res.cookie(web.SessionCookie))

		// Log in again, back to where the visitor was going; a next that
		// leaves the site is ignored.
		form = b.get("/login?next="+url.QueryEscape("/wallet?kind=purchase")).form(t, "/login", 0)
		require.Equal(t, "/wallet?kind=purchase", form.Get("next"))
		form.Set("handle", "@Nora_1")
		form.Set("password", password)
		res = b.post("/login", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, "/wallet?kind=purchase", res.location)
		require.NotNil(t, res.cookie(web.SessionCookie))

		other := a.browser(t)
		form = other.get("/login").form(t, "/login", 0)
		form.Set("handle", "nora_1")
		form.Set("password", password)
		form.Set("next", "//evil.example/steal")
		res = other.post("/login", form)
		require.Equal(t, http.StatusSeeOther, res.status)
		require.Equal(t, "/wallet", res.location)
	})
}

func TestSignUpErrors(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.browser(t).signUp("taken", "FR")
		before := a.state(t)

		b := a.browser(t)
		for _, tc := range []struct {
			field, value string
			status       int
			want         string
		}{
			{"handle", "taken", http.StatusConflict, "The handle @taken is taken."},
			{"birth_date", "17/05/1990", http.StatusUnprocessableEntity, "Birth date must be a real date"},
			{"region", "XX", http.StatusUnprocessableEntity, "“XX” is not a country or region of the list"},
			{"password", "short", http.StatusUnprocessableEntity, "Password must be at least 10 characters long."},
		} {
			form := b.get("/signup").form(t, "/signup", 0)
			form.Set("handle", "newcomer")
			form.Set("display_name", "New <b>comer</b>")
			form.Set("password", password)
			form.Set("region", "FR")
			form.Set("birth_date", "1990-05-17")
			form.Set(tc.field, tc.value)
			res := b.post("/signup", form)
			require.Equal(t, tc.status, res.status, "%s=%q: %s", tc.field, tc.value, res.text())
			res.requireText(t, tc.want)
			require.Contains(t, res.body, `value="New &lt;b&gt;comer&lt;/b&gt;"`, "what was typed stays, escaped")
			if tc.field == "password" {
				require.NotContains(t, res.body, `value="short"`, "a refused password is not sent back")
			} else {
				require.Contains(t, res.body, `value="`+password+`"`, "the password stays in the form unless it was the problem")
			}
		}
		require.Equal(t, before, a.state(t))
	})
}

func TestSecureCookies(t *testing.T) {
	t.Parallel()
	a := newAppWith(t, storetest.MustOpen(t, store.SQLite), appOptions{secure: true})
	b := a.browser(t)
	res := b.do("GET", "/login", nil)
	csrf := res.cookie("fanfare_csrf")
	require.NotNil(t, csrf)
	require.True(t, csrf.Secure)
	require.True(t, csrf.HttpOnly)

	form := res.form(t, "/login", 0)
	_, err := a.accounts.Create(context.Background(), accountInput("sec"))
	require.NoError(t, err)
	form.Set("handle", "sec")
	form.Set("password", password)
	// The test server speaks plain HTTP, so the jar would not send back a
	// Secure cookie: send it by hand.
	b.header.Set("Cookie", "fanfare_csrf="+csrf.Value)
	res = b.post("/login", form)
	require.Equal(t, http.StatusSeeOther, res.status, res.text())
	c := res.cookie(web.SessionCookie)
	require.NotNil(t, c)
	require.True(t, c.Secure)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)
}

func TestDemoHint(t *testing.T) {
	t.Parallel()
	a := newAppWith(t, storetest.MustOpen(t, store.SQLite), appOptions{demo: true})
	b := a.browser(t)
	b.get("/").requireText(t, "Trying the demo?", "Log in as sam with the password fanfare-demo")
	b.get("/login").requireText(t, "Demo: log in as sam with the password fanfare-demo")
}

// TestCSRFMissingIsRefused sends every form without its token, with a
// wrong one and from another site: each is refused with 403 and a readable
// page, and changes nothing.
func TestCSRFMissingIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		b := a.browser(t)
		w := b.signUp("victim", "FR")
		res := b.buy(w, "eur-70", payment.CardSucceeds)
		require.Equal(t, http.StatusSeeOther, res.status)
		w = b.get("/wallet")
		require.True(t, w.hasForm("/wallet/refund"))

		buy := w.form(t, "/wallet/buy", 0)
		buy.Set("pack_id", "eur-350")
		buy.Set("card_number", payment.CardSucceeds)
		refund := w.form(t, "/wallet/refund", 0)
		logout := w.form(t, "/logout", 0)
		anon := a.browser(t)
		login := anon.get("/login").form(t, "/login", 0)
		login.Set("handle", "victim")
		login.Set("password", password)
		signup := anon.get("/signup").form(t, "/signup", 0)
		for k, v := range map[string]string{"handle": "intruder", "password": password, "region": "FR", "birth_date": "1990-01-01"} {
			signup.Set(k, v)
		}

		before := a.state(t)
		without := func(v url.Values) url.Values {
			c := url.Values{}
			for k, vs := range v {
				c[k] = vs
			}
			c.Del("csrf_token")
			return c
		}
		with := func(v url.Values, token string) url.Values {
			c := without(v)
			c.Set("csrf_token", token)
			return c
		}
		for _, tc := range []struct {
			name   string
			b      *browser
			path   string
			form   url.Values
			reason string
		}{
			{"buy without token", b, "/wallet/buy", without(buy), "CSRF token) is missing"},
			{"refund without token", b, "/wallet/refund", without(refund), "CSRF token) is missing"},
			{"logout without token", b, "/logout", without(logout), "CSRF token) is missing"},
			{"login without token", anon, "/login", without(login), "CSRF token) is missing"},
			{"signup without token", anon, "/signup", without(signup), "CSRF token) is missing"},
			{"buy with a wrong token", b, "/wallet/buy", with(buy, "forged"), "wrong or has expired"},
			{"buy with the anonymous token", b, "/wallet/buy", with(buy, login.Get("csrf_token")), "wrong or has expired"},
			{"login with the session's token", anon, "/login", with(login, buy.Get("csrf_token")), "wrong or has expired"},
			{"signup with another browser's token", a.browser(t), "/signup", signup, "wrong or has expired"},
		} {
			res := tc.b.post(tc.path, tc.form)
			require.Equal(t, http.StatusForbidden, res.status, "%s: %s", tc.name, res.text())
			res.requireText(t, "Request refused", tc.reason, "Nothing was changed")
			require.Equal(t, before, a.state(t), "%s changed something", tc.name)
		}

		// With a valid token but from another site, the browser's own
		// headers give it away.
		for _, h := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}} {
			for k, v := range h {
				b.header.Set(k, v)
			}
			res := b.post("/wallet/buy", buy)
			require.Equal(t, http.StatusForbidden, res.status, "%v: %s", h, res.text())
			res.requireText(t, "came from another site", "Nothing was changed")
			require.Equal(t, before, a.state(t))
			b.header = http.Header{}
		}

		// Another user's token does not pass for the victim's.
		thief := a.browser(t)
		tw := thief.signUp("thief", "FR")
		before = a.state(t)
		res = b.post("/wallet/buy", with(buy, tw.form(t, "/wallet/buy", 0).Get("csrf_token")))
		require.Equal(t, http.StatusForbidden, res.status)
		require.Equal(t, before, a.state(t))

		// The real forms still work.
		res = b.post("/wallet/buy", buy)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, fanfare.Amount(70+350), a.coins(t, "victim"))
	})
}

func TestBuyThroughForm(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		b := a.browser(t)
		w := b.signUp("buyer", "FR")
		w.requireText(t, "Coin balance 0 coins", "Worth about €0.00", "No activity yet")
		w.requireText(t, "70 coins €1.19 €1.70 per 100 coins", "€1.57 per 100 coins Best value 17,500 coins €269.99 €1.54 per 100 coins")
		w.requireText(t, "4242 4242 4242 4242 Success", "4000 0000 0000 0002 Declined", "4000 0000 0000 0259 Chargeback")

		res := b.buy(w, "eur-70", "4242 4242 4242 4242")
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.True(t, strings.HasPrefix(res.location, "/wallet?bought="), res.location)
		require.Equal(t, fanfare.Amount(70), a.coins(t, "buyer"))

		w = b.follow(res)
		require.Equal(t, http.StatusOK, w.status)
		w.requireText(t, "Payment accepted: 70 coins added for €1.19. Your balance is now 70 coins.")
		w.requireText(t, "Coin balance 70 coins", "Worth about €1.10")
		w.requireText(t, "Coins bought Pack of 70 coins Fanfare +70 coins +€1.19")
		require.Contains(t, w.body, `<span class="num">70</span>`, "the navigation shows the balance")
		require.True(t, w.hasForm("/wallet/refund"), "a fresh purchase can be refunded")

		// Refund it from the history.
		res = b.post("/wallet/refund", w.form(t, "/wallet/refund", 0))
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		w = b.follow(res)
		w.requireText(t, "Refund complete: 70 coins were taken back and €1.19 goes back to your card.")
		w.requireText(t, "Coin balance 0 coins", "Refund Pack of 70 coins Fanfare −70 coins −€1.19", "Refunded")
		require.False(t, w.hasForm("/wallet/refund"))
		require.Equal(t, fanfare.Amount(0), a.coins(t, "buyer"))
		a.requireVerified(t)
	})
}

func TestDeclinedCardMessage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		b := a.browser(t)
		w := b.signUp("declined", "FR")
		first := w.form(t, "/wallet/buy", 0)

		res := b.buy(w, "eur-350", "4000 0000 0000 0002")
		require.Equal(t, http.StatusPaymentRequired, res.status)
		res.requireText(t, "Your card was declined. No coins were taken.", "Coin balance 0 coins")
		require.Equal(t, fanfare.Amount(0), a.coins(t, "declined"))
		// The form comes back as it was sent, with a new key, so the next
		// try is a new purchase.
		require.Contains(t, res.body, `value="4000 0000 0000 0002"`)
		require.Regexp(t, `<input type="radio" name="pack_id" value="eur-350" required checked>`, res.body)
		again := res.form(t, "/wallet/buy", 0)
		require.NotEqual(t, first.Get("idempotency_key"), again.Get("idempotency_key"))

		res = b.buy(res, "eur-350", payment.CardSucceeds)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, fanfare.Amount(350), a.coins(t, "declined"))

		// Other refusals read as sentences too.
		w = b.get("/wallet")
		for _, tc := range []struct{ pack, card, want string }{
			{"eur-70", "1234 5678 9012 3456", "The sandbox accepts only the test cards"},
			{"", payment.CardSucceeds, "Choose a coin pack first."},
			{"eur-70", "", "Enter a card number"},
			{"eur-9", payment.CardSucceeds, "Unknown pack_id"},
		} {
			res := b.buy(w, tc.pack, tc.card)
			require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
			res.requireText(t, tc.want)
		}
		require.Equal(t, fanfare.Amount(350), a.coins(t, "declined"))
		a.requireVerified(t)
	})
}

func TestDoubleSubmitBuysOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		b := a.browser(t)
		w := b.signUp("twice", "FR")

		// One rendering of the form, sent twice in a row...
		form := w.form(t, "/wallet/buy", 0)
		form.Set("pack_id", "eur-70")
		form.Set("card_number", payment.CardSucceeds)
		first := b.post("/wallet/buy", form)
		second := b.post("/wallet/buy", form)
		require.Equal(t, http.StatusSeeOther, first.status, first.text())
		require.Equal(t, http.StatusSeeOther, second.status, second.text())
		require.Equal(t, first.location, second.location, "both answer with the one purchase")
		require.Equal(t, fanfare.Amount(70), a.coins(t, "twice"))

		// ...and another sent four times at once.
		w = b.get("/wallet")
		form = w.form(t, "/wallet/buy", 0)
		form.Set("pack_id", "eur-350")
		form.Set("card_number", payment.CardSucceeds)
		var wg sync.WaitGroup
		locations := make([]string, 4)
		for i := range locations {
			wg.Go(func() {
				res := b.do("POST", "/wallet/buy", form)
				if res.status == http.StatusSeeOther {
					locations[i] = res.location
				}
			})
		}
		wg.Wait()
		for _, l := range locations {
			require.Equal(t, locations[0], l)
			require.NotEmpty(t, l)
		}
		require.Equal(t, fanfare.Amount(70+350), a.coins(t, "twice"))
		var n int
		require.NoError(t, db.Read.QueryRow(`SELECT COUNT(*) FROM purchases`).Scan(&n))
		require.Equal(t, 2, n)

		// A rendering's key used for other details is caught and explained.
		form.Set("pack_id", "eur-1400")
		res := b.post("/wallet/buy", form)
		require.Equal(t, http.StatusConflict, res.status)
		res.requireText(t, "This form was already sent with other details")
		require.Equal(t, fanfare.Amount(70+350), a.coins(t, "twice"))
		a.requireVerified(t)
	})
}

func TestHistoryFilterAndPaging(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		b := a.browser(t)
		w := b.signUp("pager", "FR")
		require.Equal(t, http.StatusSeeOther, b.buy(w, "eur-70", payment.CardSucceeds).status)
		u := a.user(t, "pager")
		for i := range 12 {
			_, err := a.wallet.Grant(context.Background(), fanfare.Actor{Role: fanfare.RoleOperator},
				wallet.GrantInput{UserID: u.ID, Coins: fanfare.Amount(i + 1), Reason: "test"}, "grant-"+string(rune('a'+i)))
			require.NoError(t, err)
		}

		w = b.get("/wallet")
		require.Equal(t, 10, strings.Count(w.body, "<tr data-kind="), "a page holds 10 rows")
		require.Contains(t, w.body, `rel="next">Older →</a>`)
		require.NotContains(t, w.body, "Newest")
		older := b.get(olderLink(t, w))
		require.Equal(t, 3, strings.Count(older.body, "<tr data-kind="))
		older.requireText(t, "← Newest", "Coins bought Pack of 70 coins Fanfare +70 coins +€1.19")
		require.NotContains(t, older.body, `rel="next"`)

		p := b.get("/wallet?kind=purchase")
		require.Equal(t, 1, strings.Count(p.body, "<tr data-kind="))
		require.Contains(t, p.body, `<tr data-kind="purchase">`)
		require.Contains(t, p.body, `<option value="purchase" selected>`)
		g := b.get("/wallet?kind=grant")
		require.Equal(t, 10, strings.Count(g.body, `<tr data-kind="grant">`))
		require.Contains(t, olderLink(t, g), "kind=grant")
		require.Equal(t, 2, strings.Count(b.get(olderLink(t, g)).body, `<tr data-kind="grant">`))
		b.get("/wallet?kind=tip").requireText(t, "Nothing of this kind yet.")

		bad := b.get("/wallet?cursor=not-a-cursor")
		require.Equal(t, http.StatusOK, bad.status)
		bad.requireText(t, "That page of your history does not exist; here is the newest one.")
		require.Equal(t, 10, strings.Count(bad.body, "<tr data-kind="))
	})
}

func olderLink(t *testing.T, p *page) string {
	t.Helper()
	i := strings.Index(p.body, `rel="next"`)
	require.Positive(t, i, "no Older link")
	start := strings.LastIndex(p.body[:i], `href="`) + len(`href="`)
	end := strings.Index(p.body[start:], `"`)
	return strings.ReplaceAll(p.body[start:start+end], "&amp;", "&")
}

func TestWalletCurrencyByRegion(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	for _, tc := range []struct{ region, balance, pack string }{
		{"TR", "Worth about ₺0.00", "70 coins ₺44.99"},
		{"AE", "Worth about AED 0.00", "70 coins AED 4.49"},
		{"US", "Worth about $0.00", "70 coins $1.19"},
		{"DE", "Worth about €0.00", "70 coins €1.19"},
	} {
		w := a.browser(t).signUp("fan_"+strings.ToLower(tc.region), tc.region)
		w.requireText(t, tc.balance, tc.pack)
	}
	b := a.browser(t)
	b.logIn("fan_tr")
	w := b.get("/wallet?currency=usd")
	w.requireText(t, "70 coins $1.19", "Worth about ₺0.00")
	require.Contains(t, w.body, `<option value="USD" selected>`)
	res := b.buy(w, "usd-70", payment.CardSucceeds)
	require.Equal(t, http.StatusSeeOther, res.status)
	require.Contains(t, res.location, "currency=USD")
	w = b.follow(res)
	w.requireText(t, "70 coins added for $1.19", "Worth about ₺40.00")
	// An unknown currency shows the region's.
	b.get("/wallet?currency=XYZ").requireText(t, "70 coins ₺44.99")
}

func TestFrozenWallet(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		b := a.browser(t)
		w := b.signUp("frozen", "FR")
		require.NotContains(t, w.body, "frozen-banner")
		require.Equal(t, http.StatusSeeOther, b.buy(w, "eur-350", payment.CardChargeback).status)
		w = b.get("/wallet")
		require.True(t, w.hasForm("/wallet/refund"))

		// Spend some of the coins as a gift would, then the chargeback
		// takes the whole pack back.
		ctx := context.Background()
		u := a.user(t, "frozen")
		from, err := a.ledger.UserAccount(ctx, u.ID, fanfare.Coin)
		require.NoError(t, err)
		to, err := a.ledger.SystemAccount(ctx, ledger.Revenue("gift"), fanfare.Coin)
		require.NoError(t, err)
		_, err = a.ledger.Submit(ctx, ledger.Op{Kind: "gift", Object: "test:gift", Actor: u.ID,
			Legs: []ledger.Leg{{Debit: from, Credit: to, Amount: 300}},
			Idem: &ledger.Idempotency{Scope: u.ID, Key: "gift-1", Hash: ledger.HashRequest([]byte("gift-1"))}})
		require.NoError(t, err)
		w = b.get("/wallet")
		w.requireText(t, "Coins already spent")
		require.False(t, w.hasForm("/wallet/refund"))

		n, err := a.wallet.ApplyDueChargebacks(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		w = b.get("/wallet")
		w.requireText(t, "Your wallet is frozen", "below zero", "Coin balance −300 coins", "Worth about −€4.71", "Chargeback Pack of 350 coins Fanfare −350 coins −€5.69", "Charged back")
		require.Contains(t, w.body, `data-testid="frozen-banner"`)

		// Buying settles it.
		require.Equal(t, http.StatusSeeOther, b.buy(w, "eur-350", payment.CardSucceeds).status)
		w = b.get("/wallet")
		require.NotContains(t, w.body, "frozen-banner")
		w.requireText(t, "Coin balance 50 coins")
		a.requireVerified(t)
	})
}

func TestRefundRefusedReadably(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	b := a.browser(t)
	w := b.signUp("refunder", "FR")
	require.Equal(t, http.StatusSeeOther, b.buy(w, "eur-70", payment.CardSucceeds).status)
	w = b.get("/wallet")
	form := w.form(t, "/wallet/refund", 0)

	require.Equal(t, http.StatusSeeOther, b.post("/wallet/refund", form).status)
	// The same button again answers with the first refund.
	res := b.post("/wallet/refund", form)
	require.Equal(t, http.StatusSeeOther, res.status, res.text())
	// A new button for the same purchase is refused: it is refunded.
	form.Set("idempotency_key", "another-key")
	res = b.post("/wallet/refund", form)
	require.Equal(t, http.StatusConflict, res.status)
	res.requireText(t, "is refunded; only a paid purchase can be refunded.")
	form.Set("purchase_id", "not-mine")
	res = b.post("/wallet/refund", form)
	require.Equal(t, http.StatusNotFound, res.status)
	res.requireText(t, "That purchase was not found in your wallet.")
	require.Equal(t, fanfare.Amount(0), a.coins(t, "refunder"))
	a.requireVerified(t)
}

func TestAPIPathsGoToTheAPI(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	b := a.browser(t)
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json", "/v1/coin-packs?currency=EUR"} {
		res := b.do("GET", path, nil)
		require.Equal(t, http.StatusOK, res.status, path)
		require.NotContains(t, res.header.Get("Content-Type"), "text/html", path)
	}
	// /metrics is the API's too: without a metrics token it is not found
	// on this listener.
	for _, path := range []string{"/v1/nope", "/metrics"} {
		res := b.do("GET", path, nil)
		require.Equal(t, http.StatusNotFound, res.status, path)
		require.Equal(t, "application/problem+json", res.header.Get("Content-Type"), path)
	}
	// /docs, where many APIs keep their reference, leads to ours.
	res := b.do("GET", "/docs", nil)
	require.Equal(t, http.StatusMovedPermanently, res.status)
	require.Equal(t, "/api", res.header.Get("Location"))
	res = b.do("GET", "/nope", nil)
	require.Equal(t, http.StatusNotFound, res.status)
	require.Contains(t, res.header.Get("Content-Type"), "text/html")
	res.requireText(t, "Page not found")

	// The API's own rules hold behind the pages: a cookie session's unsafe
	// request from another site is refused.
	b.signUp("apifan", "FR")
	b.header.Set("Sec-Fetch-Site", "cross-site")
	res = b.do("POST", "/v1/purchases", nil)
	require.Equal(t, http.StatusForbidden, res.status)
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	b := a.browser(t)
	home := b.get("/")
	for _, name := range []string{"app.css", "app.js", "favicon.svg"} {
		i := strings.Index(home.body, "/static/"+name+"?v=")
		require.Positive(t, i, "the layout links %s with its version", name)
		link := home.body[i : i+strings.IndexByte(home.body[i:], '"')]
		res := b.do("GET", link, nil)
		require.Equal(t, http.StatusOK, res.status, link)
		require.Contains(t, res.header.Get("Cache-Control"), "immutable")
		require.NotEmpty(t, res.body)
	}
	require.Equal(t, http.StatusOK, b.do("GET", "/favicon.ico", nil).status)
	require.Equal(t, http.StatusNotFound, b.do("GET", "/static/", nil).status)
	require.Equal(t, http.StatusNotFound, b.do("GET", "/static/nope.css", nil).status)
}
