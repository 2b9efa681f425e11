package web_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
