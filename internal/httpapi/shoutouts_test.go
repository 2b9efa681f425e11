package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

type shoutoutReply struct {
	ID        string `json:"id"`
	Fan       string `json:"fan"`
	Creator   string `json:"creator"`
	Price     int64  `json:"price"`
	Diamonds  int64  `json:"diamonds"`
	State     string `json:"state"`
	Occasion  string `json:"occasion"`
	Recipient string `json:"recipient"`
	Balance   int64  `json:"balance"`
	Deadline  *struct {
		At   time.Time `json:"at"`
		Then string    `json:"then"`
	} `json:"deadline"`
	Extension *struct {
		Days  int    `json:"days"`
		State string `json:"state"`
	} `json:"extension"`
	DeclineNote string `json:"decline_note"`
}

func askShoutout(token, creator, key string, body any) request {
	return request{method: "POST", path: "/v1/creators/" + creator + "/shoutouts", token: token, body: body,
		header: map[string]string{"Idempotency-Key": key}}
}

func shoutoutAsk(recipient string) map[string]any {
	return map[string]any{"recipient": recipient, "occasion": "birthday", "instructions": "Say happy birthday to Lina!"}
}

// shoutoutWorld is ayla offering shoutouts at 1,000 coins (TR, 250,000
// followers) and sam, a fan with 5,000 coins.
func shoutoutWorld(t *testing.T, e *env) (aylaID, ayla, samID, sam string) {
	t.Helper()
	aylaID, ayla = e.creatorWith(t, "ayla", "TR", 250_000, "", "")
	samID, sam = e.signUp(t, "sam")
	e.grantCoins(t, samID, 5000)
	res := e.do(t, request{method: "PUT", path: "/v1/me/shoutout-settings", token: ayla,
		body: map[string]any{"enabled": true, "price": 1000, "capacity": 2, "accept_note": "Short and sweet."}})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	return aylaID, ayla, samID, sam
}

func TestShoutoutSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.creatorWith(t, "ayla", "TR", 250_000, "", "")
		_, lea := e.creatorWith(t, "lea", "FR", 5_000, "", "")

		var st struct {
			Enabled   bool
			Price     int64
			Capacity  int
			Open      int
			Eligible  bool
			Reasons   []struct{ Code string }
			MinPrice  int64 `json:"min_price"`
			MaxPrice  int64 `json:"max_price"`
			Checklist *struct {
				Feature string
				Checks  []struct {
					Code string
					Met  bool
				}
			}
		}
		res := e.do(t, request{method: "GET", path: "/v1/me/shoutout-settings", token: ayla})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &st)
		require.False(t, st.Enabled)
		require.True(t, st.Eligible)
		require.EqualValues(t, 100, st.MinPrice)
		require.EqualValues(t, 1_000_000, st.MaxPrice)
		require.Equal(t, 10, st.Capacity)
		require.NotNil(t, st.Checklist)
		require.Equal(t, "shoutouts", st.Checklist.Feature)

		// lea (FR, 5,000 followers) may set a price but reads why fans
		// cannot ask yet.
		res = e.do(t, request{method: "PUT", path: "/v1/me/shoutout-settings", token: lea, body: map[string]any{"enabled": true, "price": 500}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		st.Reasons = nil
		res.json(t, &st)
		require.False(t, st.Eligible)
		var codes []string
		for _, r := range st.Reasons {
			codes = append(codes, r.Code)
		}
		require.Contains(t, codes, "followers")
		require.Contains(t, codes, "creator_region")

		// Bad settings change nothing.
		before := e.snapshot(t)
		for _, body := range []map[string]any{
			{"enabled": true, "price": 99}, {"enabled": true, "price": 1_000_001}, {"enabled": true, "price": -5},
			{"enabled": true, "price": 1000, "capacity": 1001}, {"enabled": true, "price": 1000, "capacity": -1},
			{"enabled": true, "price": 1000, "accept_note": strings.Repeat("x", 301)},
			{"enabled": true, "price": 9007199254740992},
		} {
			requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/me/shoutout-settings", token: ayla, body: body}), 400, "validation_failed")
		}
		requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/me/shoutout-settings", body: map[string]any{"enabled": true, "price": 500}}), 401, "unauthorized")
		requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/me/shoutout-settings", token: testAPIKey, body: map[string]any{"enabled": true, "price": 500}}), 403, "forbidden")
		require.Equal(t, before, e.snapshot(t))
	})
}

func TestShoutoutRequests(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla, _, sam := shoutoutWorld(t, e)
		_, omar := e.signUp(t, "omar")

		res := e.do(t, askShoutout(sam, "@ayla", "s1", shoutoutAsk("Lina")))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var s shoutoutReply
		res.json(t, &s)
		require.Equal(t, "requested", s.State)
		require.Equal(t, "sam", s.Fan)
		require.Equal(t, "ayla", s.Creator)
		require.EqualValues(t, 1000, s.Price)
		require.EqualValues(t, 800, s.Diamonds)
		require.EqualValues(t, 4000, s.Balance)
		require.NotNil(t, s.Deadline)
		require.Contains(t, s.Deadline.Then, "every coin back")
		require.EqualValues(t, 4000, e.walletOf(t, sam).Coins)

		// A replay answers the same request and moves nothing; another body
		// under the key is refused.
		again := e.do(t, askShoutout(sam, "ayla", "s1", shoutoutAsk("Lina")))
		require.Equal(t, http.StatusCreated, again.status, "%s", again.body)
		require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
		var s2 shoutoutReply
		again.json(t, &s2)
		require.Equal(t, s.ID, s2.ID)
		requireProblem(t, e.do(t, askShoutout(sam, "ayla", "s1", shoutoutAsk("Mert"))), 409, "idempotency_conflict")
		require.EqualValues(t, 4000, e.walletOf(t, sam).Coins)

		// Only its fan, its creator and the operator see it.
		for _, tok := range []string{sam, ayla, testAPIKey} {
			require.Equal(t, http.StatusOK, e.do(t, request{method: "GET", path: "/v1/shoutouts/" + s.ID, token: tok}).status)
		}
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/shoutouts/" + s.ID, token: omar}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/shoutouts/nope", token: sam}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/shoutouts/" + s.ID}), 401, "unauthorized")

		// The inbox and the queue.
		var page struct {
			Requests   []shoutoutReply
			NextCursor *string `json:"next_cursor"`
		}
		e.do(t, request{method: "GET", path: "/v1/me/shoutouts?role=fan", token: sam}).json(t, &page)
		require.Len(t, page.Requests, 1)
		require.Nil(t, page.NextCursor)
		e.do(t, request{method: "GET", path: "/v1/me/shoutouts?role=creator&state=requested", token: ayla}).json(t, &page)
		require.Len(t, page.Requests, 1)
		e.do(t, request{method: "GET", path: "/v1/me/shoutouts?role=creator", token: sam}).json(t, &page)
		require.Empty(t, page.Requests)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/me/shoutouts?role=all", token: sam}), 400, "validation_failed")
		e.do(t, request{method: "GET", path: "/v1/admin/shoutouts?state=requested", token: testAPIKey}).json(t, &page)
		require.Len(t, page.Requests, 1)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/shoutouts", token: sam}), 403, "forbidden")

		// Transitions: the wrong side is forbidden, a stranger not found.
		post := func(tok, path string, body any) *response {
			return e.do(t, request{method: "POST", path: "/v1/shoutouts/" + s.ID + path, token: tok, body: body})
		}
		before := e.snapshot(t)
		requireProblem(t, post(sam, "/accept", nil), 403, "forbidden")
		requireProblem(t, post(omar, "/accept", nil), 404, "not_found")
		requireProblem(t, post(ayla, "/cancel", nil), 403, "forbidden")
		requireProblem(t, post(omar, "/cancel", nil), 404, "not_found")
		requireProblem(t, post(sam, "/dispute", map[string]any{"reason": "nothing yet"}), 409, "invalid_state")
		requireProblem(t, post(sam, "/review", map[string]any{"rating": 5}), 409, "invalid_state")
		requireProblem(t, post(sam, "/review", map[string]any{"rating": 6}), 400, "validation_failed")
		requireProblem(t, post(ayla, "/extension", map[string]any{"days": 1}), 409, "invalid_state")
		requireProblem(t, post(ayla, "/extension", map[string]any{"days": 4}), 400, "validation_failed")
		require.Equal(t, before, e.snapshot(t))

		res = post(ayla, "/accept", nil)
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &s)
		require.Equal(t, "accepted", s.State)
		requireProblem(t, post(ayla, "/accept", nil), 409, "invalid_state")
		requireProblem(t, post(ayla, "/decline", nil), 409, "invalid_state")
		requireProblem(t, post(sam, "/cancel", nil), 409, "invalid_state")

		// More days: asked once, answered by the fan.
		res = post(ayla, "/extension", map[string]any{"days": 2})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &s)
		require.Equal(t, "asked", s.Extension.State)
		requireProblem(t, post(ayla, "/extension", map[string]any{"days": 1}), 409, "invalid_state")
		requireProblem(t, post(ayla, "/extension/accept", nil), 403, "forbidden")
		res = post(sam, "/extension/accept", nil)
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &s)
		require.Equal(t, "accepted", s.Extension.State)
		require.EqualValues(t, 4000, e.walletOf(t, sam).Coins)

		// A second request, declined with a note: every coin back.
		res = e.do(t, askShoutout(sam, "ayla", "s2", shoutoutAsk("Deniz")))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var d shoutoutReply
		res.json(t, &d)
		require.EqualValues(t, 3000, e.walletOf(t, sam).Coins)
		res = e.do(t, request{method: "POST", path: "/v1/shoutouts/" + d.ID + "/decline", token: ayla, body: map[string]any{"note": "Not this week, sorry!"}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		d = shoutoutReply{}
		res.json(t, &d)
		require.Equal(t, "declined", d.State)
		require.Equal(t, "Not this week, sorry!", d.DeclineNote)
		require.Nil(t, d.Deadline)
		require.EqualValues(t, 4000, e.walletOf(t, sam).Coins)

		// A third, cancelled by the fan.
		res = e.do(t, askShoutout(sam, "ayla", "s3", shoutoutAsk("Ece")))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		res.json(t, &d)
		res = e.do(t, request{method: "POST", path: "/v1/shoutouts/" + d.ID + "/cancel", token: sam})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &d)
		require.Equal(t, "cancelled", d.State)
		require.EqualValues(t, 4000, e.walletOf(t, sam).Coins)
		e.requireVerified(t)
	})
}

func TestShoutoutRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla, _, sam := shoutoutWorld(t, e)
		_, lea := e.creatorWith(t, "lea", "FR", 5_000, "", "")
		res := e.do(t, request{method: "PUT", path: "/v1/me/shoutout-settings", token: lea, body: map[string]any{"enabled": true, "price": 500}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		minorID, minor := e.creatorWith(t, "mia", "TR", 0, time.Now().AddDate(-16, 0, 0).Format(time.DateOnly), "")
		e.grantCoins(t, minorID, 5000)
		poorID, poor := e.signUp(t, "poor")
		e.grantCoins(t, poorID, 999)

		before := e.snapshot(t)
		requireProblem(t, e.do(t, askShoutout(sam, "ayla", "", shoutoutAsk("Lina"))), 400, "idempotency_key_required")
		requireProblem(t, e.do(t, askShoutout("", "ayla", "k", shoutoutAsk("Lina"))), 401, "unauthorized")
		requireProblem(t, e.do(t, askShoutout(sam, "nobody", "k", shoutoutAsk("Lina"))), 404, "not_found")
		requireProblem(t, e.do(t, askShoutout(ayla, "ayla", "k", shoutoutAsk("Lina"))), 400, "validation_failed")
		for name, body := range map[string]map[string]any{
			"no recipient":      {"occasion": "birthday", "instructions": "hi"},
			"long recipient":    {"recipient": strings.Repeat("x", 81), "occasion": "birthday", "instructions": "hi"},
			"unknown occasion":  {"recipient": "Lina", "occasion": "wedding", "instructions": "hi"},
			"long instructions": {"recipient": "Lina", "occasion": "birthday", "instructions": strings.Repeat("é", 501)},
		} {
			requireProblem(t, e.do(t, askShoutout(sam, "ayla", "k-"+name, body)), 400, "validation_failed")
		}
		p := requireProblem(t, e.do(t, askShoutout(sam, "lea", "k", shoutoutAsk("Lina"))), 403, "not_eligible")
		require.NotEmpty(t, p.Reasons)
		p = requireProblem(t, e.do(t, askShoutout(minor, "ayla", "k", shoutoutAsk("Lina"))), 403, "not_eligible")
		require.NotEmpty(t, p.Reasons)
		require.Equal(t, before, e.snapshot(t))
		// A refusal by the ledger is kept as the key's answer; no coin moves.
		requireProblem(t, e.do(t, askShoutout(poor, "ayla", "k", shoutoutAsk("Lina"))), 409, "insufficient_funds")
		requireProblem(t, e.do(t, askShoutout(poor, "ayla", "k", shoutoutAsk("Lina"))), 409, "insufficient_funds")
		require.EqualValues(t, 999, e.walletOf(t, poor).Coins)
		var none struct{ Requests []shoutoutReply }
		e.do(t, request{method: "GET", path: "/v1/me/shoutouts?role=fan", token: poor}).json(t, &none)
		require.Empty(t, none.Requests)

		// Capacity 2: the third open request is refused; paused refuses.
		for _, key := range []string{"c1", "c2"} {
			res := e.do(t, askShoutout(sam, "ayla", key, shoutoutAsk("Lina")))
			require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		}
		before = e.snapshot(t)
		requireProblem(t, e.do(t, askShoutout(sam, "ayla", "c3", shoutoutAsk("Lina"))), 409, "capacity_full")
		res = e.do(t, request{method: "PUT", path: "/v1/me/shoutout-settings", token: ayla, body: map[string]any{"enabled": true, "price": 1000, "capacity": 5, "paused": true}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		before.State = e.snapshot(t).State
		requireProblem(t, e.do(t, askShoutout(sam, "ayla", "c4", shoutoutAsk("Lina"))), 409, "paused")
		require.Equal(t, before, e.snapshot(t))
		e.requireVerified(t)
	})
}

// A creator the host app bans gets their open requests refunded by a job
// inserted with the change: the fan has every coin back.
func TestShoutoutsOfABannedCreator(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		aylaID, ayla, _, sam := shoutoutWorld(t, e)
		var s1, s2 shoutoutReply
		e.do(t, askShoutout(sam, "ayla", "b1", shoutoutAsk("Lina"))).json(t, &s1)
		e.do(t, askShoutout(sam, "ayla", "b2", shoutoutAsk("Deniz"))).json(t, &s2)
		res := e.do(t, request{method: "POST", path: "/v1/shoutouts/" + s2.ID + "/accept", token: ayla})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.EqualValues(t, 3000, e.walletOf(t, sam).Coins)

		res = e.do(t, request{method: "PATCH", path: "/v1/users/" + aylaID, token: testAPIKey, body: map[string]any{"standing": "banned"}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		n, err := e.jobs.RunDue(context.Background(), time.Now())
		require.NoError(t, err)
		require.GreaterOrEqual(t, n, 1)
		require.EqualValues(t, 5000, e.walletOf(t, sam).Coins)
		for _, id := range []string{s1.ID, s2.ID} {
			var s shoutoutReply
			e.do(t, request{method: "GET", path: "/v1/shoutouts/" + id, token: sam}).json(t, &s)
			require.Equal(t, "cancelled", s.State)
		}
		// Run again: nothing moves twice.
		_, err = e.jobs.RunDue(context.Background(), time.Now())
		require.NoError(t, err)
		require.EqualValues(t, 5000, e.walletOf(t, sam).Coins)
		e.requireVerified(t)
	})
}
