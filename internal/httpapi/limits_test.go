package httpapi_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

type spendLimitReply struct {
	DailyCoins        int64  `json:"daily_coins"`
	DefaultDailyCoins int64  `json:"default_daily_coins"`
	SelfSet           bool   `json:"self_set"`
	PendingDailyCoins *int64 `json:"pending_daily_coins"`
	PendingAt         string `json:"pending_at"`
	SpentToday        int64  `json:"spent_today"`
	LeftToday         *int64 `json:"left_today"`
	ResetsAt          string `json:"resets_at"`
}

type walletReply struct {
	Coins           int64           `json:"coins"`
	Diamonds        int64           `json:"diamonds"`
	Frozen          bool            `json:"frozen"`
	Currency        string          `json:"currency"`
	FiatValue       int64           `json:"fiat_value"`
	CanSpend        bool            `json:"can_spend"`
	CannotSpendCode string          `json:"cannot_spend_code"`
	CannotSpend     string          `json:"cannot_spend"`
	SpendLimit      spendLimitReply `json:"spend_limit"`
}

func TestWalletOverview(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, token := e.signUp(t, "sam") // FR
		res := e.do(t, buy(token, "b1", map[string]any{"pack_id": "eur-7000", "payment_method": payment.CardSucceeds}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)

		var w walletReply
		e.do(t, request{method: "GET", path: "/v1/me/wallet", token: token}).json(t, &w)
		require.Equal(t, int64(7000), w.Coins)
		require.Equal(t, "EUR", w.Currency)
		require.Equal(t, int64(10990), w.FiatValue) // 7,000 coins at 1.57 per 100
		require.True(t, w.CanSpend)
		require.Empty(t, w.CannotSpendCode)
		require.Equal(t, int64(100_000), w.SpendLimit.DailyCoins)
		require.Equal(t, int64(100_000), *w.SpendLimit.LeftToday)
		require.NotEmpty(t, w.SpendLimit.ResetsAt)

		e.do(t, request{method: "GET", path: "/v1/me/wallet?currency=TRY", token: token}).json(t, &w)
		require.Equal(t, "TRY", w.Currency)
		require.Equal(t, int64(399980), w.FiatValue)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/me/wallet?currency=GBP", token: token}), 400, "validation_failed")

		// A minor holds coins but cannot spend them, and is told why.
		body := signUpBody("mia")
		body["birth_date"] = "2012-06-01"
		body["region"] = "TR"
		res = e.do(t, request{method: "POST", path: "/v1/users", body: body})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		mia := e.login(t, "mia", body["password"].(string))
		e.do(t, request{method: "GET", path: "/v1/me/wallet", token: mia}).json(t, &w)
		require.Equal(t, "TRY", w.Currency)
		require.False(t, w.CanSpend)
		require.Equal(t, "not_eligible", w.CannotSpendCode)
		require.Contains(t, w.CannotSpend, "18 or older")
	})
}

func TestSpendLimitRoutes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, token := e.signUp(t, "sam")
		put := func(body any) *response {
			return e.do(t, request{method: "PUT", path: "/v1/me/spend-limit", token: token, body: body})
		}

		var l spendLimitReply
		res := put(map[string]any{"daily_coins": 5000})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &l)
		require.Equal(t, int64(5000), l.DailyCoins)
		require.True(t, l.SelfSet)
		require.Nil(t, l.PendingDailyCoins)
		require.Equal(t, int64(5000), *l.LeftToday)

		// A raise waits 24 hours.
		put(map[string]any{"daily_coins": 8000}).json(t, &l)
		require.Equal(t, int64(5000), l.DailyCoins)
		require.Equal(t, int64(8000), *l.PendingDailyCoins)
		require.NotEmpty(t, l.PendingAt)
		e.do(t, request{method: "GET", path: "/v1/me/spend-limit", token: token}).json(t, &l)
		require.Equal(t, int64(5000), l.DailyCoins)
		require.Equal(t, int64(8000), *l.PendingDailyCoins)

		// Bad input changes nothing.
		before := e.snapshot(t)
		for _, c := range []struct {
			body   any
			token  string
			status int
			code   string
		}{
			{map[string]any{"daily_coins": -1}, token, 400, "validation_failed"},
			{map[string]any{"daily_coins": 100_001}, token, 400, "validation_failed"},
			{map[string]any{"daily_coins": 1.5}, token, 400, "validation_failed"},
			{map[string]any{"daily_coins": "100"}, token, 400, "validation_failed"},
			{map[string]any{"daily_coins": 1e19}, token, 400, "validation_failed"},
			{map[string]any{"daily_coins": 10}, "", 401, "unauthorized"},
			{map[string]any{"daily_coins": 10}, testAPIKey, 403, "forbidden"},
		} {
			res := e.do(t, request{method: "PUT", path: "/v1/me/spend-limit", token: c.token, body: c.body})
			requireProblem(t, res, c.status, c.code)
		}
		require.Equal(t, before, e.snapshot(t))
		e.do(t, request{method: "GET", path: "/v1/me/spend-limit", token: token}).json(t, &l)
		require.Equal(t, int64(5000), l.DailyCoins)
		require.Equal(t, int64(8000), *l.PendingDailyCoins)
	})
}

func TestPurchaseLimitHTTP(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db) // the default limits: 10 purchases an hour
		_, token := e.signUp(t, "sam")
		for i := range 10 {
			res := e.do(t, buy(token, "b"+strconv.Itoa(i), map[string]any{"pack_id": "eur-70", "payment_method": payment.CardSucceeds}))
			require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		}
		before := e.snapshot(t)
		res := e.do(t, buy(token, "b10", map[string]any{"pack_id": "eur-70", "payment_method": payment.CardSucceeds}))
		p := requireProblem(t, res, http.StatusTooManyRequests, "purchase_limit_exceeded")
		require.Contains(t, p.Detail, "10 purchases an hour")
		require.Equal(t, before, e.snapshot(t))
		e.requireVerified(t)
	})
}
