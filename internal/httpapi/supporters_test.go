package httpapi_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/payout"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// GET /v1/me/supporters and its CSV: two fans' tips listed by total and
// by recency, one of them anonymous after PUT /v1/me/preferences; a sort
// or a cursor this API did not make is validation_failed, a visitor is
// unauthorized.
func TestMySupporters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.creatorWith(t, "ayla", "TR", 250_000, "", "")
		samID, sam := e.signUp(t, "sam")
		leaID, lea := e.signUp(t, "lea")
		e.grantCoins(t, samID, 1000)
		e.grantCoins(t, leaID, 1000)
		res := e.do(t, request{method: "PUT", path: "/v1/me/tip-settings", token: ayla, body: map[string]any{"enabled": true}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res = e.do(t, tip(sam, "ayla", "t1", map[string]any{"coins": 400, "message": "Merci !"}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		res = e.do(t, tip(lea, "ayla", "t2", map[string]any{"coins": 100, "message": "Bravo"}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)

		res = e.do(t, request{method: "PUT", path: "/v1/me/preferences", token: lea, body: map[string]any{"anonymous_support": true}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.JSONEq(t, `{"accept_gifted_subscriptions":false,"anonymous_support":true}`, string(res.body))
		res = e.do(t, request{method: "GET", path: "/v1/me/preferences", token: lea})
		require.JSONEq(t, `{"accept_gifted_subscriptions":false,"anonymous_support":true}`, string(res.body))
		res = e.do(t, request{method: "PUT", path: "/v1/me/preferences", token: lea, body: map[string]any{"accept_gifted_subscriptions": true}})
		require.JSONEq(t, `{"accept_gifted_subscriptions":true,"anonymous_support":true}`, string(res.body), "one preference leaves the other")

		res = e.do(t, request{method: "GET", path: "/v1/me/supporters?limit=1", token: ayla})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var page payout.SupportersPage
		res.json(t, &page)
		require.Len(t, page.Items, 1)
		require.Equal(t, "sam", page.Items[0].Handle)
		require.Equal(t, samID, page.Items[0].UserID)
		require.EqualValues(t, 400, page.Items[0].Coins)
		require.EqualValues(t, 400, page.Items[0].ByFeature.Tips)
		require.NotEmpty(t, page.NextCursor)
		require.Contains(t, string(res.body), `"subscription":null`)
		res = e.do(t, request{method: "GET", path: "/v1/me/supporters?cursor=" + page.NextCursor, token: ayla})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.JSONEq(t, `"Anonymous"`, jsonField(t, res.body, "items", 0, "display_name"))
		require.NotContains(t, string(res.body), leaID)
		require.NotContains(t, string(res.body), `"lea"`)

		res = e.do(t, request{method: "GET", path: "/v1/me/supporters?sort=recent", token: ayla})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.JSONEq(t, `"Anonymous"`, jsonField(t, res.body, "items", 0, "display_name"))

		res = e.do(t, request{method: "GET", path: "/v1/me/supporters.csv", token: ayla})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.Equal(t, "text/csv; charset=utf-8", res.header.Get("Content-Type"))
		require.Equal(t, `attachment; filename="supporters.csv"`, res.header.Get("Content-Disposition"))
		rows, err := csv.NewReader(strings.NewReader(string(res.body))).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 3)
		require.Equal(t, []string{samID, "sam"}, rows[1][:2])
		require.Equal(t, []string{"", "", "Anonymous", "true", "100"}, rows[2][:5])

		res = e.do(t, request{method: "GET", path: "/openapi.json"})
		require.JSONEq(t, `{"schema":{"type":"string"}}`,
			jsonField(t, res.body, "paths", "/v1/me/supporters.csv", "get", "responses", "200", "content", "text/csv"))

		for _, path := range []string{"/v1/me/supporters?sort=name", "/v1/me/supporters?cursor=nope", "/v1/me/supporters?sort=recent&cursor=" + page.NextCursor} {
			res = e.do(t, request{method: "GET", path: path, token: ayla})
			require.Equal(t, http.StatusBadRequest, res.status, "%s: %s", path, res.body)
			require.Contains(t, string(res.body), `"validation_failed"`, path)
		}
		for _, path := range []string{"/v1/me/supporters", "/v1/me/supporters.csv", "/v1/me/preferences"} {
			res = e.do(t, request{method: "GET", path: path})
			require.Equal(t, http.StatusUnauthorized, res.status, "%s: %s", path, res.body)
			require.Contains(t, string(res.body), `"unauthorized"`, path)
		}
	})
}

// jsonField returns the JSON at path (object keys and array indexes) in
// body.
func jsonField(t *testing.T, body []byte, path ...any) string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
