package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// GET /v1/me/earnings: a tip shows as today's tips, held for the hold
// window, valued at the payout rate in the creator's currency or the one
// asked; bad dates, a backwards window and a currency without a rate are
// refused; a visitor is not let in.
func TestMyEarnings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.creatorWith(t, "ayla", "TR", 250_000, "", "")
		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)
		res := e.do(t, request{method: "PUT", path: "/v1/me/tip-settings", token: ayla, body: map[string]any{"enabled": true}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res = e.do(t, tip(sam, "ayla", "t1", map[string]any{"coins": 400, "message": "Merci !"}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)

		res = e.do(t, request{method: "GET", path: "/v1/me/earnings", token: ayla})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var got payout.Earnings
		res.json(t, &got)
		today := time.Now().UTC().Format(time.DateOnly)
		require.Equal(t, today, got.To)
		require.Len(t, got.Days, payout.DefaultEarningsDays)
		require.Equal(t, today, got.Days[len(got.Days)-1].Day)
		require.Equal(t, payout.Diamonds{Tips: 400, Net: 400}, got.Days[len(got.Days)-1].Diamonds, "a tip keeps no cut by default")
		require.Equal(t, payout.Diamonds{Tips: 400, Net: 400}, got.Total)
		require.Equal(t, "TRY", got.Currency)
		require.Equal(t, "0.18 TRY per diamond", got.Rate)
		require.Equal(t, payout.Payable{Amount: 7_200, Currency: "TRY"}, got.TotalValue)
		require.EqualValues(t, 400, got.Last7.Diamonds)
		require.EqualValues(t, 400, got.Balance)
		require.EqualValues(t, 400, got.Held)
		require.Zero(t, got.Withdrawable)
		require.Len(t, got.HeldUntil, 1)
		require.Equal(t, 168, got.HoldHours)

		res = e.do(t, request{method: "GET", path: "/v1/me/earnings?currency=EUR&from=" + today + "&to=" + today, token: ayla})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &got)
		require.Len(t, got.Days, 1)
		require.Equal(t, payout.Payable{Amount: 200, Currency: "EUR"}, got.TotalValue, "400 × 0.005 EUR")

		// A fan reads zeros, not an error.
		res = e.do(t, request{method: "GET", path: "/v1/me/earnings", token: sam})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)

		for _, q := range []string{"?from=yesterday", "?to=2026-02-30", "?from=2026-03-02&to=2026-03-01", "?from=2024-01-01&to=2026-01-01", "?currency=XYZ"} {
			res = e.do(t, request{method: "GET", path: "/v1/me/earnings" + q, token: ayla})
			requireProblem(t, res, http.StatusBadRequest, "validation_failed")
		}
		res = e.do(t, request{method: "GET", path: "/v1/me/earnings"})
		requireProblem(t, res, http.StatusUnauthorized, "unauthorized")
	})
}
