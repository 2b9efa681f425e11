package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// makeCreator signs handle up with a display name and followers.
func (a *app) makeCreator(t *testing.T, handle, name string, followers int64) *fanfare.User {
	t.Helper()
	ctx := context.Background()
	in := accountInput(handle)
	in.DisplayName = name
	u, err := a.accounts.Create(ctx, in)
	require.NoError(t, err)
	if followers > 0 {
		u, err = a.accounts.Update(ctx, fanfare.Actor{Role: fanfare.RoleOperator}, u.ID, account.UpdateInput{Followers: &followers})
		require.NoError(t, err)
	}
	return u
}

// navLinks returns the hrefs of the main navigation's links.
func navLinks(p *page) []string {
	nav := p.body[strings.Index(p.body, `<nav class="site-nav"`):]
	nav = nav[:strings.Index(nav, "</nav>")]
	var out []string
	for _, part := range strings.Split(nav, `<a `)[1:] {
		i := strings.Index(part, `href="`) + len(`href="`)
		out = append(out, part[i:i+strings.Index(part[i:], `"`)])
	}
	return out
}

func TestNavigationCreatorLinks(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	ctx := context.Background()

	// An adult fan could go LIVE at once, and earn more with followers.
	fan := a.browser(t)
	p := fan.signUp("adult", "FR")
	require.Equal(t, []string{"/live", "/creators", "/leaderboard", "/studio", "/wallet", "/shoutouts", "/subscriptions", "/studio/monetization", "/studio/earnings", "/settings"}, navLinks(p))
	require.NotContains(t, p.body, `data-testid="nav-diamonds"`, "a fan without followers or diamonds sees only coins")
	require.Contains(t, p.body, `data-testid="nav-balance"`)

	// A minor can come to meet no rule: age is beyond her reach.
	in := accountInput("young")
	in.BirthDate = fmt.Sprintf("%d-01-01", time.Now().Year()-15)
	_, err := a.accounts.Create(ctx, in)
	require.NoError(t, err)
	minor := a.browser(t)
	p = minor.logIn("young")
	require.Equal(t, []string{"/live", "/creators", "/leaderboard", "/wallet", "/shoutouts", "/subscriptions", "/settings"}, navLinks(p))

	// A creator with followers sees their diamonds next to their coins.
	a.makeCreator(t, "star", "Star", 5000)
	p = a.browser(t).logIn("star")
	require.Contains(t, p.body, `data-testid="nav-diamonds"`)
	p.requireText(t, "0 diamonds")

	// A banned creator still sees the studio and monetization: standing
	// may be lifted, and the pages say why it stops them.
	star := a.user(t, "star")
	banned := fanfare.StandingBanned
	_, err = a.accounts.Update(ctx, fanfare.Actor{Role: fanfare.RoleOperator}, star.ID, account.UpdateInput{Standing: &banned})
	require.NoError(t, err)
	p = a.browser(t).logIn("star")
	require.Contains(t, navLinks(p), "/studio/monetization")
	require.Contains(t, navLinks(p), "/studio/earnings", "and what they earned before")

	// Logged out: the public pages and the way in.
	p = a.browser(t).get("/live")
	require.Equal(t, []string{"/live", "/creators", "/leaderboard", "/login", "/signup"}, navLinks(p))
	require.Contains(t, p.body, `data-testid="menu-button"`, "the small screens' menu button")
	require.Contains(t, p.body, `<details class="menu" data-menu>`, "the menu opens without script")
}

func TestCreatorsDirectory(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		ctx := context.Background()
		a.makeCreator(t, "big", "Big Name", 900_000)
		a.makeCreator(t, "mid", "Mid Ñame", 50_000)
		onAir := a.makeCreator(t, "small", "Small 100%", 10)
		banned := a.makeCreator(t, "gone", "Gone Name", 70_000)
		st := fanfare.StandingBanned
		_, err := a.accounts.Update(ctx, fanfare.Actor{Role: fanfare.RoleOperator, UserID: "ops"}, banned.ID, account.UpdateInput{Standing: &st})
		require.NoError(t, err)
		_, err = a.accounts.Create(ctx, accountInput("justafan"))
		require.NoError(t, err)
		_, err = a.live.Start(ctx, fanfare.Actor{UserID: onAir.ID, Handle: onAir.Handle, Role: fanfare.RoleFan}, "Hello <b>all</b>")
		require.NoError(t, err)

		b := a.browser(t)
		order := func(p *page) []string {
			var out []string
			for _, part := range strings.Split(p.body, `data-testid="creator-`)[1:] {
				h := part[:strings.Index(part, `"`)]
				if h != "list" && h != "search" && h != "count" && h != "live-link" {
					out = append(out, h)
				}
			}
			return out
		}
		p := b.get("/creators")
		require.Equal(t, http.StatusOK, p.status)
		require.Equal(t, []string{"small", "big", "mid"}, order(p), "LIVE first, then by followers; fans and banned accounts are not listed")
		p.requireText(t, "Small 100%", "@small · 10 followers", "LIVE Hello <b>all</b>", "@big · 900,000 followers")
		require.Contains(t, p.body, `<form method="get" action="/creators"`)

		for q, want := range map[string][]string{
			"BIG": {"big"}, "@mi": {"mid"}, "Ñame": {"mid"}, "name": {"big"}, "m": {"small", "big", "mid"}, "100%": {"small"}, "%": {"small"}, "_": nil, "nobody": nil,
		} {
			p := b.get("/creators?q=" + url.QueryEscape(q))
			require.Equal(t, http.StatusOK, p.status)
			require.Equal(t, want, order(p), "q=%q", q)
			if want == nil {
				p.requireText(t, "No creator matches")
			}
		}

		for i := range 25 {
			a.makeCreator(t, fmt.Sprintf("extra%02d", i), fmt.Sprintf("Extra %d", i), int64(100+i))
		}
		p = b.get("/creators?q=extra")
		require.Len(t, order(p), 20)
		require.Equal(t, "extra24", order(p)[0])
		require.Contains(t, p.body, `href="/creators?page=2&amp;q=extra"`)
		p = b.get("/creators?page=2&q=extra")
		require.Len(t, order(p), 5)
		require.NotContains(t, p.body, `rel="next"`)
		require.Contains(t, p.body, `href="/creators?q=extra" rel="prev"`)

		for _, bad := range []string{"0", "-1", "x", "10001"} {
			require.Equal(t, http.StatusBadRequest, b.get("/creators?page="+bad).status, bad)
		}
	})
}

func TestLeaderboardPage(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	ctx := context.Background()
	star := a.makeCreator(t, "star", "Star Ö", 5000)
	l, err := a.live.Start(ctx, fanfare.Actor{UserID: star.ID, Handle: star.Handle, Role: fanfare.RoleFan}, "On air")
	require.NoError(t, err)
	fan, err := a.accounts.Create(ctx, accountInput("giver"))
	require.NoError(t, err)
	a.grant(t, "giver", 5000)
	_, err = a.live.SendGift(ctx, fanfare.Actor{UserID: fan.ID, Handle: fan.Handle, Role: fanfare.RoleFan}, l.ID, "galaxy", 2, "k1")
	require.NoError(t, err)

	b := a.browser(t)
	p := b.get("/leaderboard")
	require.Equal(t, http.StatusOK, p.status)
	p.requireText(t, "This week's top creators", "1 Star Ö @star 1,000 diamonds")
	require.Contains(t, p.body, `aria-current="page">Leaderboard`)

	lastWeek := time.Now().AddDate(0, 0, -7).Format("2006-01-02")
	p = b.get("/leaderboard?week=" + lastWeek)
	require.Equal(t, http.StatusOK, p.status)
	p.requireText(t, "No gifts that week", "Next week")
	require.NotContains(t, p.body, "@star")

	require.Equal(t, http.StatusBadRequest, b.get("/leaderboard?week=monday").status)
}

func TestAPIReferencePage(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	b := a.browser(t)

	home := b.get("/live")
	require.Contains(t, home.body, `<a href="/api" data-testid="api-link">API reference</a>`, "the footer links the reference page")
	require.Contains(t, home.body, `<a href="/openapi.json">OpenAPI document</a>`, "and the raw document")

	p := b.get("/api")
	require.Equal(t, http.StatusOK, p.status)
	require.Equal(t, "text/html; charset=utf-8", p.header.Get("Content-Type"))
	text := p.text()
	for _, want := range []string{"API reference", "OpenAPI document (JSON)",
		"POST /v1/lives/{id}/gifts", "sendGift", "Idempotency-Key required header", "Request body required",
		"GET /v1/leaderboards/weekly", "weeklyLeaderboard", "Responses", "Schemas"} {
		require.Contains(t, text, want)
	}
	require.Contains(t, p.body, `id="op-sendGift"`)
	require.Contains(t, p.body, `id="tag-live"`)
	require.NotContains(t, p.body, `"openapi":`, "not the raw document")
}

func TestSignUpShowsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	a.browser(t).signUp("taken", "FR")
	before := a.state(t)

	b := a.browser(t)
	p := b.get("/signup")
	require.Contains(t, p.body, `<option value="TR">Türkiye</option>`)
	require.Contains(t, p.body, `<option value="ZW">Zimbabwe</option>`)
	require.Contains(t, p.body, `list="regions"`)

	form := p.form(t, "/signup", 0)
	form.Set("handle", "taken")
	form.Set("display_name", "Some One")
	form.Set("password", password)
	form.Set("region", "Atlantis")
	form.Set("birth_date", "2999-01-01")
	res := b.post("/signup", form)
	require.Equal(t, http.StatusUnprocessableEntity, res.status)
	res.requireText(t, "3 fields need a change",
		"The handle @taken is taken. Choose another one.",
		"“Atlantis” is not a country or region of the list",
		"Birth date cannot be in the future.")
	require.Contains(t, res.body, `id="handle-error"`)
	require.Contains(t, res.body, `aria-describedby="handle-error handle-hint" aria-invalid="true"`)
	require.Contains(t, res.body, `value="`+password+`"`, "the password was fine: it stays")
	require.Equal(t, before, a.state(t))

	form = res.form(t, "/signup", 0)
	form.Set("handle", "x")
	form.Set("display_name", "Some One")
	form.Set("password", "short")
	form.Set("region", "fr")
	form.Set("birth_date", "1990-05-17")
	res = b.post("/signup", form)
	require.Equal(t, http.StatusUnprocessableEntity, res.status)
	res.requireText(t, "2 fields need a change", "Handle must be 2 to 24 characters long.", "Password must be at least 10 characters long.")
	require.NotContains(t, res.body, `value="short"`)
	require.Contains(t, res.body, `value="fr"`, "what was typed stays")

	// A country typed by its name is the country.
	form = res.form(t, "/signup", 0)
	form.Set("handle", "named")
	form.Set("password", password)
	form.Set("region", "türkiye")
	form.Set("birth_date", "1990-05-17")
	res = b.post("/signup", form)
	require.Equal(t, http.StatusSeeOther, res.status, res.text())
	require.Equal(t, "TR", a.user(t, "named").Region)
}

func TestRoomFeedback(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	ctx := context.Background()
	star := a.makeCreator(t, "star", "Star", 5000)
	l, err := a.live.Start(ctx, fanfare.Actor{UserID: star.ID, Handle: star.Handle, Role: fanfare.RoleFan}, "On air")
	require.NoError(t, err)

	fan := a.browser(t)
	fan.signUp("viewer", "FR")
	p := fan.get("/live/" + l.ID)
	require.Equal(t, http.StatusOK, p.status)
	// The result of a send shows under the button, and in a toast.
	send := strings.Index(p.body, `data-testid="send-gift"`)
	status := strings.Index(p.body, `data-testid="gift-status"`)
	require.Greater(t, status, send, "the result comes right after the Send button")
	require.Less(t, status, send+strings.Index(p.body[send:], `</form>`), "inside the gift form")
	require.Contains(t, p.body, `<div role="status" data-toast-status`)
	require.Contains(t, p.body, `<div role="alert" data-toast-alert`)

	// No toasts for a visitor who cannot send.
	require.NotContains(t, a.browser(t).get("/live/"+l.ID).body, "data-toasts")
}
