package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestEarningsDashboard checks the creator's dashboard: a bar a day
// stacked by feature, the same figures as a table, what is held and when
// it frees, and the LIVE summaries.
func TestEarningsDashboard(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// Twelve days ago at 09:00 UTC: the session cookie lives on the
		// wall clock.
		start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -12).Add(9 * time.Hour)
		clock := newTestClock(start)
		day := func(n int) time.Time { return start.AddDate(0, 0, n) }
		a := newAppWith(t, db, appOptions{clock: clock})
		w := a.seedWorld(t)
		ctx := context.Background()

		ayla := a.browser(t)
		ayla.logIn("ayla")
		p := ayla.get("/studio/earnings")
		require.Equal(t, http.StatusOK, p.status, p.text())
		require.Contains(t, p.text(), "Nothing earned in these 30 days yet")
		require.Contains(t, p.body, `data-testid="nav-earnings"`)

		// Tips of 300 and 500 coins ten days apart (a tip pays the
		// creator a diamond a coin), a LIVE with a gift of 200 coins (100
		// diamonds) in between.
		_, err := a.tips.Send(ctx, w.sam, w.ayla.UserID, 300, "", "tip-1")
		require.NoError(t, err)
		clock.advance(5 * 24 * time.Hour)
		l, err := a.live.Start(ctx, w.ayla, "Evening LIVE")
		require.NoError(t, err)
		_, err = a.live.SendGift(ctx, w.sam, l.ID, "hand-hearts", 2, "gift-1")
		require.NoError(t, err)
		_, err = a.live.End(ctx, w.ayla, l.ID)
		require.NoError(t, err)
		clock.advance(5 * 24 * time.Hour)
		_, err = a.tips.Send(ctx, w.sam, w.ayla.UserID, 500, "", "tip-2")
		require.NoError(t, err)

		p = ayla.get("/studio/earnings")
		require.Equal(t, http.StatusOK, p.status, p.text())
		// The chart: 30 bars, three of them drawn, one segment each.
		chart := regexp.MustCompile(`(?s)<figure class="chart" data-testid="earnings-chart">.*?</svg>`).FindString(p.body)
		require.NotEmpty(t, chart, "no chart")
		require.Equal(t, 30, strings.Count(chart, `<g class="bar">`))
		require.Equal(t, 2, strings.Count(chart, `<rect class="f-tips"`))
		require.Equal(t, 1, strings.Count(chart, `<rect class="f-gifts"`))
		require.Contains(t, chart, "<title>"+day(10).Format("Mon 2 Jan")+": 500 diamonds</title>")
		require.Contains(t, chart, "<title>"+day(5).Format("Mon 2 Jan")+": 100 diamonds</title>")
		// The table says the same, the newest day first.
		table := regexp.MustCompile(`(?s)data-testid="earnings-table">.*?</table>`).FindString(p.body)
		rows := regexp.MustCompile(`(?s)<tr>\s*<th scope="row">.*?</tr>`).FindAllString(table, -1)
		require.Len(t, rows, 30)
		cells := func(row string) string {
			return strings.Join(strings.Fields(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(row, " ")), " ")
		}
		require.Equal(t, day(10).Format("Mon 2 Jan 2006")+" 0 500 0 0 0 500", cells(rows[0]))
		require.Equal(t, day(5).Format("Mon 2 Jan 2006")+" 100 0 0 0 0 100", cells(rows[5]))
		require.Equal(t, day(0).Format("Mon 2 Jan 2006")+" 0 300 0 0 0 300", cells(rows[10]))
		text := p.text()
		for _, want := range []string{
			"Last 7 days 600 diamonds", "Last 30 days 900 diamonds",
			"Gifts 100 11%", "Tips 800 89%",
			// The 300 diamonds earned 10 days ago are withdrawable;
			// the rest is held 7 days from its day.
			"Withdrawable now 300 diamonds of 900 in your balance", "Held 600 diamonds",
			"Evening LIVE",
		} {
			require.Contains(t, text, want)
		}
		held := regexp.MustCompile(`(?s)data-testid="held-until">.*?</table>`).FindString(p.body)
		require.Contains(t, held, fmt.Sprintf(`datetime="%s"`, day(12).Format(time.RFC3339)))
		require.Contains(t, held, fmt.Sprintf(`datetime="%s"`, day(17).Format(time.RFC3339)))

		// The 7-day window shows the last week only.
		p = ayla.get("/studio/earnings?days=7")
		require.Equal(t, http.StatusOK, p.status, p.text())
		require.Equal(t, 7, strings.Count(p.body, `<g class="bar">`))
		require.Contains(t, p.body, `aria-current="page" data-testid="window-7"`)

		// A fan who never earned sees an empty dashboard, not an error.
		sam := a.browser(t)
		sam.logIn("sam")
		p = sam.get("/studio/earnings")
		require.Equal(t, http.StatusOK, p.status, p.text())
		require.Contains(t, p.text(), "Nothing earned")
	})
}

// TestEarningsWithdraw withdraws from the dashboard: the form shows what
// the withdrawable diamonds are worth, a payout asked appears in the
// history, the same form submitted twice pays once, and a payout refused
// says why and changes nothing.
func TestEarningsWithdraw(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := newTestClock(time.Now().UTC().AddDate(0, 0, -9))
		a := newAppWith(t, db, appOptions{clock: clock})
		w := a.seedWorld(t)
		ctx := context.Background()
		_, err := a.tips.Send(ctx, w.sam, w.ayla.UserID, 12_000, "", "tip-1")
		require.NoError(t, err)
		clock.advance(8 * 24 * time.Hour) // past the hold window

		ayla := a.browser(t)
		ayla.logIn("ayla")
		p := ayla.get("/studio/earnings")
		require.Equal(t, http.StatusOK, p.status, p.text())
		form := regexp.MustCompile(`(?s)data-testid="withdraw-form">.*?</form>`).FindString(p.body)
		require.NotEmpty(t, form, "no withdraw form")
		require.Contains(t, form, `value="12000"`, "all that may be withdrawn, typed in already")
		require.Contains(t, p.text(), "Your 12,000 withdrawable diamonds are worth ₺2,160.00 at 0.18 TRY per diamond")
		require.Contains(t, p.text(), "No payout yet")
		fields := p.form(t, "/studio/earnings/payouts", 0)
		require.NotEmpty(t, fields.Get("key"))
		with := func(diamonds, currency, key string) url.Values {
			f := url.Values{}
			for k, v := range fields {
				f[k] = v
			}
			f.Set("diamonds", diamonds)
			f.Set("currency", currency)
			f.Set("key", key)
			return f
		}

		// Below the minimum: refused, nothing asked.
		bad := ayla.post("/studio/earnings/payouts", with("500", "TRY", "k-small"))
		require.Equal(t, http.StatusUnprocessableEntity, bad.status, bad.text())
		require.Contains(t, bad.text(), "10,000")
		require.Contains(t, bad.text(), "No payout yet")
		bad = ayla.post("/studio/earnings/payouts", with("ten", "TRY", "k-text"))
		require.Equal(t, http.StatusUnprocessableEntity, bad.status, bad.text())
		require.Contains(t, bad.text(), "whole number")

		// The form, sent twice with its key: one payout.
		form1 := with("10,000", "EUR", fields.Get("key"))
		done := ayla.post("/studio/earnings/payouts", form1)
		require.Equal(t, http.StatusSeeOther, done.status, done.text())
		again := ayla.post("/studio/earnings/payouts", form1)
		require.Equal(t, http.StatusSeeOther, again.status, again.text())
		require.Equal(t, done.location, again.location, "the same payout")
		p = ayla.follow(done)
		require.Equal(t, http.StatusOK, p.status, p.text())
		require.Contains(t, p.text(), "Payout of 10,000 diamonds asked: €50.00")
		history := regexp.MustCompile(`(?s)data-testid="payout-history">.*?</table>`).FindString(p.body)
		require.Equal(t, 1, strings.Count(history, "<tr data-state="), history)
		require.Contains(t, history, "€50.00")
		require.Contains(t, p.text(), "Balance 2,000 diamonds")

		// The sandbox pays it.
		page, err := a.web.Payouts.Payouts(ctx, w.ayla, "", 5)
		require.NoError(t, err)
		require.Len(t, page.Payouts, 1)
		require.Equal(t, fanfare.Amount(10_000), page.Payouts[0].Diamonds)
	})
}
