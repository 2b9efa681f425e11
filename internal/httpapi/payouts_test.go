package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func askPayout(token, key string, body any) request {
	return request{method: "POST", path: "/v1/me/payouts", token: token, body: body, header: map[string]string{"Idempotency-Key": key}}
}

// POST /v1/me/payouts and its neighbours: a payout is asked, replayed,
// listed and paid by its job; every refusal answers its code and changes
// nothing.
func TestPayouts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnvConfig(t, db, envConfig{payouts: payout.Options{Hold: time.Microsecond, Min: 1_000, DailyMax: 30_000}})
		aylaID, ayla := e.signUp(t, "ayla")
		_, sam := e.signUp(t, "sam")
		ctx := t.Context()
		issue, err := e.ledger.SystemAccount(ctx, ledger.DiamondIssuance, fanfare.Diamond)
		require.NoError(t, err)
		diamonds, err := e.ledger.UserAccount(ctx, aylaID, fanfare.Diamond)
		require.NoError(t, err)
		_, err = e.ledger.Submit(ctx, ledger.Op{Kind: "gift", Object: "live:x", Actor: "test", Legs: []ledger.Leg{{Debit: issue, Credit: diamonds, Amount: 50_000}}})
		require.NoError(t, err)
		time.Sleep(time.Millisecond) // past the hold window

		res := e.do(t, request{method: "GET", path: "/v1/me/payout-account", token: ayla})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var acct payout.PayoutAccount
		res.json(t, &acct)
		require.Equal(t, "sandbox", acct.Provider)
		require.True(t, acct.Ready)
		require.EqualValues(t, 50_000, acct.Withdrawable)
		require.EqualValues(t, 30_000, acct.LeftToday)
		require.NotEmpty(t, acct.Currencies)

		before := e.snapshot(t)
		for _, c := range []struct {
			status int
			code   string
			req    request
		}{
			{400, "validation_failed", askPayout(ayla, "min", map[string]any{"diamonds": 999, "currency": "EUR"})},
			{400, "validation_failed", askPayout(ayla, "cur", map[string]any{"diamonds": 1_000, "currency": "XYZ"})},
			{400, "idempotency_key_required", askPayout(ayla, "", map[string]any{"diamonds": 1_000, "currency": "EUR"})},
			{409, "insufficient_funds", askPayout(ayla, "above", map[string]any{"diamonds": 50_001, "currency": "EUR"})},
			{409, "payout_limit_exceeded", askPayout(ayla, "daily", map[string]any{"diamonds": 30_001, "currency": "EUR"})},
			{409, "insufficient_funds", askPayout(sam, "fan", map[string]any{"diamonds": 1_000, "currency": "EUR"})},
			{400, "validation_failed", request{method: "POST", path: "/v1/me/payout-account/onboarding", token: ayla}},
			{401, "unauthorized", askPayout("", "anon", map[string]any{"diamonds": 1_000, "currency": "EUR"})},
		} {
			requireProblem(t, e.do(t, c.req), c.status, c.code)
		}
		require.Equal(t, before, e.snapshot(t), "refusals change nothing")

		res = e.do(t, askPayout(ayla, "k1", map[string]any{"diamonds": 20_000, "currency": "EUR"}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var p payout.Payout
		res.json(t, &p)
		require.Equal(t, payout.Requested, p.State)
		require.Equal(t, payout.Payable{Amount: 10_000, Currency: "EUR"}, p.Fiat)
		res = e.do(t, askPayout(ayla, "k1", map[string]any{"diamonds": 20_000, "currency": "EUR"}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		require.Equal(t, "true", res.header.Get("Idempotent-Replayed"))
		var again payout.Payout
		res.json(t, &again)
		require.Equal(t, p.ID, again.ID)
		requireProblem(t, e.do(t, askPayout(ayla, "k1", map[string]any{"diamonds": 20_001, "currency": "EUR"})), 409, "idempotency_conflict")

		// An operator's hold, then a restricted creator.
		_, ops := e.operatorUser(t)
		hold := request{method: "PUT", path: "/v1/admin/users/ayla/payout-hold", token: ops, body: map[string]any{"held": true, "reason": "checking identity"}}
		res = e.do(t, hold)
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/admin/users/ayla/payout-hold", token: sam, body: map[string]any{"held": false, "reason": "x"}}), 403, "forbidden")
		requireProblem(t, e.do(t, askPayout(ayla, "held", map[string]any{"diamonds": 1_000, "currency": "EUR"})), 409, "payouts_held")
		hold.body = map[string]any{"held": false, "reason": "verified"}
		res = e.do(t, hold)
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		restricted := fanfare.StandingRestricted
		_, err = e.accounts.Update(ctx, fanfare.Actor{Role: fanfare.RoleOperator}, aylaID, account.UpdateInput{Standing: &restricted})
		require.NoError(t, err)
		requireProblem(t, e.do(t, askPayout(ayla, "restricted", map[string]any{"diamonds": 1_000, "currency": "EUR"})), 403, "not_eligible")

		// The job pays it.
		_, err = e.jobs.RunDue(ctx, time.Now())
		require.NoError(t, err)
		res = e.do(t, request{method: "GET", path: "/v1/me/payouts?limit=10", token: ayla})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var page payout.PayoutPage
		res.json(t, &page)
		require.Len(t, page.Payouts, 1)
		require.Equal(t, payout.Paid, page.Payouts[0].State)
		require.Equal(t, payout.Payable{Amount: 10_000, Currency: "EUR"}, page.Payouts[0].Fiat)
		e.requireVerified(t)
		problems, err := payout.Verify(ctx, e.ledger)
		require.NoError(t, err)
		require.Empty(t, problems)

		res = e.do(t, request{method: "PUT", path: "/v1/me/payout-account", token: ayla, body: map[string]any{"account_number": "12345678"}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &acct)
		require.Equal(t, "••••5678", acct.Destination)
	})
}
