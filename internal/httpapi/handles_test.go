package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// Every route that names a user takes their id or their handle (with or
// without '@', in any case), as the creators' routes do; a grant's replay
// is the same request whichever way it names the user.
func TestUsersNamedByHandle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.signUp(t, "ayla")
		samID, sam := e.signUp(t, "sam")

		grant := func(user, key string) *response {
			return e.do(t, request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
				body:   map[string]any{"user_id": user, "coins": 300, "reason": "welcome"},
				header: map[string]string{"Idempotency-Key": key}})
		}
		res := grant("@Sam", "g1")
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var g struct {
			UserID  string `json:"user_id"`
			Balance int64  `json:"balance"`
		}
		res.json(t, &g)
		require.Equal(t, samID, g.UserID)
		require.EqualValues(t, 300, g.Balance)

		// The same key naming sam by id or by plain handle is a replay.
		for _, ref := range []string{samID, "sam"} {
			res = grant(ref, "g1")
			require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
			require.Equal(t, "true", res.header.Get("Idempotent-Replayed"), "%s", ref)
		}
		require.EqualValues(t, 300, e.walletOf(t, sam).Coins)

		// Unknown users, by handle or id, are not found and move nothing.
		before := e.snapshot(t)
		requireProblem(t, grant("@nobody", "g2"), 404, "not_found")
		requireProblem(t, grant("0190e7c4-0000-7000-8000-000000000000", "g3"), 404, "not_found")
		requireProblem(t, e.do(t, freeze(testAPIKey, "@nobody", "freeze", map[string]any{"reason": "x"})), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "PATCH", path: "/v1/users/nobody", token: testAPIKey,
			body: map[string]any{"followers": 5}}), 404, "not_found")
		require.Equal(t, before, e.snapshot(t))

		// The operator's routes.
		res = e.do(t, request{method: "PATCH", path: "/v1/users/@SAM", token: testAPIKey, body: map[string]any{"followers": 1200}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var u struct {
			ID        string `json:"id"`
			Followers int64  `json:"followers"`
		}
		res.json(t, &u)
		require.Equal(t, samID, u.ID)
		require.EqualValues(t, 1200, u.Followers)

		res = e.do(t, freeze(testAPIKey, "sam", "freeze", map[string]any{"reason": "checking"}))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.True(t, e.meWallet(t, sam).Frozen)
		res = e.do(t, freeze(testAPIKey, "@sam", "unfreeze", map[string]any{"reason": "checked"}))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var f struct {
			UserID string `json:"user_id"`
		}
		res.json(t, &f)
		require.Equal(t, samID, f.UserID)
		require.False(t, e.meWallet(t, sam).Frozen)

		// A creator mutes a viewer named by handle in user_id.
		var l liveReply
		res = e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		res.json(t, &l)
		res = e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/mutes", token: ayla, body: map[string]any{"user_id": "@sam"}})
		require.Equal(t, http.StatusNoContent, res.status, "%s", res.body)
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/chat", token: sam,
			body: map[string]any{"text": "hi"}}), 403, "forbidden")
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/mutes", token: ayla,
			body: map[string]any{"user_id": "@nobody"}}), 404, "not_found")
	})
}
