package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/ledger"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func freeze(token, userID, action string, body any) request {
	return request{method: "POST", path: "/v1/admin/users/" + userID + "/" + action, token: token, body: body}
}

type meWallet struct {
	Coins           int64  `json:"coins"`
	Frozen          bool   `json:"frozen"`
	CanSpend        bool   `json:"can_spend"`
	CannotSpendCode string `json:"cannot_spend_code"`
	CannotSpend     string `json:"cannot_spend"`
}

func (e *env) meWallet(t *testing.T, token string) meWallet {
	t.Helper()
	res := e.do(t, request{method: "GET", path: "/v1/me/wallet", token: token})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	var w meWallet
	res.json(t, &w)
	return w
}

// An operator freezes a fan's wallet with a reason: the fan reads it, a
// tip is refused (wallet_frozen) by the spending checks and a debit by the
// ledger itself, both audited; lifting it lets the fan spend again.
func TestFreezeWallet(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		opsID, opsTok := e.operatorUser(t)
		_, ayla := e.creatorWith(t, "ayla", "TR", 250_000, "", "")
		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)
		res := e.do(t, request{method: "PUT", path: "/v1/me/tip-settings", token: ayla, body: map[string]any{"enabled": true}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.True(t, e.meWallet(t, sam).CanSpend)

		// Refusals change nothing.
		before := e.snapshot(t)
		requireProblem(t, e.do(t, freeze(sam, samID, "freeze", map[string]any{"reason": "x"})), 403, "forbidden")
		requireProblem(t, e.do(t, freeze("", samID, "freeze", map[string]any{"reason": "x"})), 401, "unauthorized")
		requireProblem(t, e.do(t, freeze(opsTok, "nobody", "freeze", map[string]any{"reason": "x"})), 404, "not_found")
		requireProblem(t, e.do(t, freeze(opsTok, samID, "freeze", map[string]any{})), 400, "validation_failed")
		requireProblem(t, e.do(t, freeze(opsTok, samID, "freeze", map[string]any{"reason": ""})), 400, "validation_failed")
		requireProblem(t, e.do(t, freeze(opsTok, samID, "freeze", map[string]any{"reason": "   "})), 400, "validation_failed")
		requireProblem(t, e.do(t, freeze(opsTok, samID, "freeze", map[string]any{"reason": "a\x00b"})), 400, "validation_failed")
		requireProblem(t, e.do(t, freeze(opsTok, samID, "freeze", map[string]any{"reason": strings.Repeat("x", 201)})), 400, "validation_failed")
		requireProblem(t, e.do(t, freeze(opsTok, samID, "unfreeze", map[string]any{"reason": "nothing to lift"})), 409, "conflict")
		require.Equal(t, before, e.snapshot(t))

		// The freeze.
		res = e.do(t, freeze(opsTok, samID, "freeze", map[string]any{"reason": " Suspected account takeover "}))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var f struct {
			UserID   string `json:"user_id"`
			Frozen   bool
			Reason   string
			FrozenBy string `json:"frozen_by"`
			FrozenAt string `json:"frozen_at"`
		}
		res.json(t, &f)
		require.Equal(t, samID, f.UserID)
		require.True(t, f.Frozen)
		require.Equal(t, "Suspected account takeover", f.Reason)
		require.Equal(t, opsID, f.FrozenBy)
		require.NotEmpty(t, f.FrozenAt)

		w := e.meWallet(t, sam)
		require.True(t, w.Frozen)
		require.False(t, w.CanSpend)
		require.Equal(t, "wallet_frozen", w.CannotSpendCode)
		require.Contains(t, w.CannotSpend, "frozen by the operator: Suspected account takeover.")
		require.NotContains(t, w.CannotSpend, "payment was reversed", "not the chargeback sentence")
		require.EqualValues(t, 1000, w.Coins)

		// Freezing again is a conflict that names the freeze in force.
		p := requireProblem(t, e.do(t, freeze(testAPIKey, samID, "freeze", map[string]any{"reason": "again"})), 409, "conflict")
		require.Contains(t, p.Detail, "Suspected account takeover")

		// Spending is refused, by the spending checks and by the ledger.
		before = e.snapshot(t)
		p = requireProblem(t, e.do(t, tip(sam, "ayla", "frozen-1", map[string]any{"coins": 10})), 409, "wallet_frozen")
		require.Contains(t, p.Detail, "Suspected account takeover")
		samAcct, err := e.ledger.FindUserAccount(ctx, samID, fanfare.Coin)
		require.NoError(t, err)
		promo, err := e.ledger.SystemAccount(ctx, ledger.Promotions, fanfare.Coin)
		require.NoError(t, err)
		_, err = e.ledger.Submit(ctx, ledger.Op{Kind: "test", Object: "test", Actor: "test",
			Legs: []ledger.Leg{{Debit: samAcct, Credit: promo, Amount: 1}}})
		require.Equal(t, fanfare.EWalletFrozen, fanfare.ErrorCode(err), "the committer reads the flag: %v", err)
		require.Equal(t, before, e.snapshot(t))
		// Receiving coins still works.
		e.do(t, request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
			body: map[string]any{"user_id": samID, "coins": 5, "reason": "test"}, header: map[string]string{"Idempotency-Key": "g2"}})
		require.EqualValues(t, 1005, e.meWallet(t, sam).Coins)

		// Lifting it: the API key may too.
		requireProblem(t, e.do(t, freeze(opsTok, samID, "unfreeze", map[string]any{"reason": ""})), 400, "validation_failed")
		requireProblem(t, e.do(t, freeze(sam, samID, "unfreeze", map[string]any{"reason": "mine"})), 403, "forbidden")
		res = e.do(t, freeze(testAPIKey, samID, "unfreeze", map[string]any{"reason": "Owner verified by phone"}))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.JSONEq(t, `{"user_id":"`+samID+`","frozen":false}`, string(res.body))
		w = e.meWallet(t, sam)
		require.True(t, w.CanSpend)
		require.False(t, w.Frozen)
		requireProblem(t, e.do(t, freeze(opsTok, samID, "unfreeze", map[string]any{"reason": "twice"})), 409, "conflict")
		res = e.do(t, tip(sam, "ayla", "thawed-1", map[string]any{"coins": 10}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)

		// The audit log has who, when and why of both.
		entries, err := audit.List(ctx, db, "user:"+samID)
		require.NoError(t, err)
		var got []string
		for _, en := range entries {
			if !strings.HasPrefix(en.Action, "wallet.") || en.Action == "wallet.grant" {
				continue
			}
			var d struct{ Reason string }
			require.NoError(t, json.Unmarshal(en.Details, &d))
			require.False(t, en.CreatedAt.IsZero())
			got = append(got, en.Action+" by "+en.Actor+": "+d.Reason)
		}
		require.Equal(t, []string{
			"wallet.freeze by " + opsID + ": Suspected account takeover",
			"wallet.unfreeze by apikey:operator: Owner verified by phone",
		}, got)
		e.requireVerified(t)
	})
}
