package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func TestSpendLimitSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// Noon today: the cookie jar runs on the real clock, so sessions
		// must not look expired to it.
		start := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
		clock := newTestClock(start)
		when := func(d time.Duration) string { return start.Add(d).Format("2 Jan 2006, 15:04 UTC") }
		a := newAppWith(t, db, appOptions{clock: clock})
		b := a.browser(t)
		b.signUp("careful", "FR")
		u := a.user(t, "careful")
		ctx := context.Background()

		s := b.get("/settings")
		require.Equal(t, http.StatusOK, s.status)
		s.requireText(t, "Daily spending limit", "Limit in force 100,000 coins/day", "Spent today 0 coins", "Left today 100,000 coins",
			"Platform limit 100,000 coins/day", "This is the platform's limit", "Lowering your limit takes effect at once",
			"Raising it, or going back to the platform's limit, takes effect after 24 hours", "Handle @careful")
		require.NotContains(t, s.body, `data-testid="limit-pending"`)
		require.Equal(t, 1, countForms(s, "/settings/spend-limit"), "no own limit to leave yet")

		// Lower: at once.
		form := s.form(t, "/settings/spend-limit", 0)
		form.Set("daily_coins", "5,000")
		res := b.post("/settings/spend-limit", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, "/settings?saved=1", res.location)
		s = b.follow(res)
		s.requireText(t, "Saved. Your daily spend limit is now 5,000 coins a day, in force at once.",
			"Limit in force 5,000 coins/day", "Left today 5,000 coins", "You set this limit yourself.")
		require.Contains(t, s.body, `value="5000"`)
		l, err := a.wallet.SpendLimit(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(5000), l.Daily)
		require.True(t, l.Self)
		b.get("/wallet").requireText(t, "Spending limit: 5,000 of 5,000 coins left today")

		// Raise: after 24 hours; the current limit stays until then.
		form = s.form(t, "/settings/spend-limit", 0)
		form.Set("daily_coins", "8000")
		s = b.follow(b.post("/settings/spend-limit", form))
		s.requireText(t, "Saved. Your higher limit (8,000 coins a day) takes effect in 24 hours; until then 5,000 coins a day stays in force.",
			"Limit in force 5,000 coins/day", "A higher limit is waiting: 8,000 coins a day from "+when(24*time.Hour))
		l, err = a.wallet.SpendLimit(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(5000), l.Daily)
		require.Equal(t, fanfare.Amount(8000), l.Pending)
		require.Equal(t, clock.Now().Add(24*time.Hour), l.PendingAt)

		clock.advance(24 * time.Hour)
		s = b.get("/settings")
		s.requireText(t, "Limit in force 8,000 coins/day")
		require.NotContains(t, s.body, `data-testid="limit-pending"`)

		// Refusals read as sentences and change nothing.
		before := a.state(t)
		for _, tc := range []struct{ value, want string }{
			{"200000", "The daily limit can be at most 100,000, the platform's daily limit."},
			{"lots", "Enter the daily limit as a whole number of coins, such as 5000."},
			{"-5", "Enter the daily limit as a whole number of coins"},
		} {
			form = s.form(t, "/settings/spend-limit", 0)
			form.Set("daily_coins", tc.value)
			res := b.post("/settings/spend-limit", form)
			require.Equal(t, http.StatusUnprocessableEntity, res.status, res.text())
			res.requireText(t, tc.want, "Limit in force 8,000 coins/day")
			require.Contains(t, res.body, `value="`+tc.value+`"`, "what was typed stays")
		}
		form = s.form(t, "/settings/spend-limit", 0)
		form.Del("csrf_token")
		form.Set("daily_coins", "10")
		res = b.post("/settings/spend-limit", form)
		require.Equal(t, http.StatusForbidden, res.status)
		require.Equal(t, before, a.state(t))
		l, err = a.wallet.SpendLimit(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, fanfare.Amount(8000), l.Daily)

		// Back to the platform's limit: a raise, so it waits a day too.
		require.Equal(t, 2, countForms(s, "/settings/spend-limit"))
		s = b.follow(b.post("/settings/spend-limit", s.form(t, "/settings/spend-limit", 1)))
		s.requireText(t, "Saved. Your higher limit (the platform's limit of 100,000 coins a day) takes effect in 24 hours",
			"A higher limit is waiting: the platform's limit from "+when(48*time.Hour))
	})
}

func countForms(p *page, action string) int {
	return strings.Count(p.body, `<form method="post" action="`+action+`"`)
}

func TestMinorCannotSpend(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	b := a.browser(t)
	form := b.get("/signup").form(t, "/signup", 0)
	for k, v := range map[string]string{"handle": "young", "password": password, "region": "TR",
		"birth_date": time.Now().AddDate(-16, 0, -30).Format(time.DateOnly)} {
		form.Set(k, v)
	}
	w := b.follow(b.post("/signup", form))
	w.requireText(t, "You can buy and keep coins, but spending them on creators needs you to be 18 or older.")
}
