package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// history reads a page of the user's transactions.
func (e *env) history(t *testing.T, token, query string) []map[string]any {
	t.Helper()
	res := e.do(t, request{method: "GET", path: "/v1/me/transactions" + query, token: token})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	require.NotContains(t, string(res.body), "issuance", "no internal account is named")
	require.NotContains(t, string(res.body), "revenue:", "no internal account is named")
	require.NotContains(t, string(res.body), "promotions", "no internal account is named")
	var h struct {
		Transactions []map[string]any `json:"transactions"`
	}
	res.json(t, &h)
	return h.Transactions
}

// TestHistoryReadsLikeAStatement: both sides of gifts and tips name the
// other person and what was sent; purchases show the money paid; grants
// and purchases name no internal account; reference values default to
// the user's currency.
func TestHistoryReadsLikeAStatement(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		signUp := func(handle, name, region string, followers int64) (id, token string) {
			body := signUpBody(handle)
			body["display_name"], body["region"] = name, region
			res := e.do(t, request{method: "POST", path: "/v1/users", body: body})
			require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
			var u struct{ ID string }
			res.json(t, &u)
			if followers > 0 {
				res = e.do(t, request{method: "PATCH", path: "/v1/users/" + u.ID, token: testAPIKey, body: map[string]any{"followers": followers}})
				require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			}
			return u.ID, e.login(t, handle, "fanfare-demo")
		}
		_, ayla := signUp("ayla", "Ayla Demir", "TR", 250_000)
		samID, sam := signUp("sam", "Sam Bernard", "US", 0)

		// Sam buys 1,400 coins in EUR (paid 22.49 EUR: their page is in
		// USD, whose reference value would read 21.98) and is granted 5,000.
		res := e.do(t, request{method: "POST", path: "/v1/purchases", token: sam,
			body:   map[string]any{"pack_id": "eur-1400", "provider": "sandbox", "payment_method": payment.CardSucceeds},
			header: map[string]string{"Idempotency-Key": "buy-1"}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		e.grantCoins(t, samID, 5000)

		res = e.do(t, request{method: "PUT", path: "/v1/me/tip-settings", token: ayla, body: map[string]any{"enabled": true}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res = e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var l struct{ ID string }
		res.json(t, &l)
		res = e.do(t, gift(sam, l.ID, "g1", map[string]any{"gift_id": "corgi", "count": 5}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		res = e.do(t, tip(sam, "ayla", "t1", map[string]any{"coins": 1234, "message": "Merci !"}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)

		type row struct {
			Kind, Title, Description, Counterparty, CounterpartyName string
			Amount                                                   float64
			Fiat                                                     any
		}
		rowsOf := func(ts []map[string]any) []row {
			var out []row
			for _, m := range ts {
				str := func(k string) string { s, _ := m[k].(string); return s }
				out = append(out, row{Kind: str("kind"), Title: str("title"), Description: str("description"),
					Counterparty: str("counterparty"), CounterpartyName: str("counterparty_name"),
					Amount: m["amount"].(float64), Fiat: m["fiat_value"]})
			}
			return out
		}
		fiat := func(cur string, amount float64, basis string) map[string]any {
			return map[string]any{"currency": cur, "amount": amount, "basis": basis}
		}
		// Sam's statement, in USD (their region's currency) but for the
		// purchase, paid in EUR.
		require.Equal(t, []row{
			{"tip", "Tip sent", `Tip: "Merci !"`, "ayla", "Ayla Demir", -1234, fiat("USD", -1937, "reference")},
			{"gift", "Gift sent", "Corgi ×5", "ayla", "Ayla Demir", -1495, fiat("USD", -2347, "reference")},
			{"grant", "Granted by Fanfare", "", "", "", 5000, fiat("USD", 7850, "reference")},
			{"purchase", "Coins bought", "Pack of 1,400 coins", "", "", 1400, fiat("EUR", 2249, "paid")},
		}, rowsOf(e.history(t, sam, "")))
		// A currency asked for values the coins without money in it.
		require.Equal(t, fiat("TRY", -70511, "reference"), rowsOf(e.history(t, sam, "?currency=try"))[0].Fiat)
		require.Equal(t, fiat("EUR", 2249, "paid"), rowsOf(e.history(t, sam, "?currency=try"))[3].Fiat)

		// Ayla's: the diamonds she earned, from Sam, never from an
		// issuance account.
		require.Equal(t, []row{
			{"tip", "Earned from tips", `Tip: "Merci !"`, "sam", "Sam Bernard", 1234, nil},
			{"gift", "Earned from gifts", "Corgi ×5", "sam", "Sam Bernard", 747, nil},
		}, rowsOf(e.history(t, ayla, "")))
		for _, m := range e.history(t, ayla, "?kind=gift") {
			require.True(t, strings.HasPrefix(m["object"].(string), "live:"+l.ID), "a gift's object is its LIVE: %v", m["object"])
		}
	})
}
