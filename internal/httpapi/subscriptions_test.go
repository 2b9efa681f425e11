package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

type planReply struct {
	Enabled bool
	Tiers   []struct {
		ID    string
		Name  string
		Price int64
		Perks []string
	}
	Subscribers int
	Eligible    bool
	Reasons     []struct{ Code string }
	Checklist   *struct{ Feature string }
}

type subscriptionReply struct {
	ID          string
	Fan         string
	Creator     string
	TierID      string `json:"tier_id"`
	Tier        string
	Price       int64
	State       string
	AutoRenew   bool       `json:"auto_renew"`
	PeriodEnd   time.Time  `json:"period_end"`
	RenewsAt    *time.Time `json:"renews_at"`
	Access      bool
	Months      int
	Badge       int
	Balance     int64
	PriceChange *struct {
		Price int64
		From  time.Time
	} `json:"price_change"`
}

func subscribe(token, creator, key string, body any) request {
	return request{method: "POST", path: "/v1/creators/" + creator + "/subscriptions", token: token, body: body,
		header: map[string]string{"Idempotency-Key": key}}
}

// planWorld is ayla (TR, 250,000 followers) with a two-tier plan, and sam,
// a fan with 5,000 coins.
func planWorld(t *testing.T, e *env) (aylaID, ayla, samID, sam string, tiers planReply) {
	t.Helper()
	aylaID, ayla = e.creatorWith(t, "ayla", "TR", 250_000, "", "")
	samID, sam = e.signUp(t, "sam")
	e.grantCoins(t, samID, 5000)
	res := e.do(t, request{method: "PUT", path: "/v1/me/subscription-plan", token: ayla, body: map[string]any{"enabled": true,
		"tiers": []map[string]any{{"name": "Fan club", "price": 300, "perks": []string{"Badge", "Emotes"}}, {"name": "VIP", "price": 1000}}}})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	res.json(t, &tiers)
	return aylaID, ayla, samID, sam, tiers
}

func TestSubscriptionPlan(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla, _, _, p := planWorld(t, e)
		require.True(t, p.Enabled)
		require.True(t, p.Eligible)
		require.Len(t, p.Tiers, 2)
		require.Equal(t, []string{"Badge", "Emotes"}, p.Tiers[0].Perks)
		require.Equal(t, []string{}, p.Tiers[1].Perks)
		require.Equal(t, "subscriptions", p.Checklist.Feature)

		before := e.snapshot(t)
		tier := func(price int) map[string]any {
			return map[string]any{"name": "T" + strings.Repeat("x", price%7), "price": price}
		}
		for name, body := range map[string]map[string]any{
			"no tier":      {"enabled": true, "tiers": []any{}},
			"four tiers":   {"enabled": true, "tiers": []any{tier(100), tier(101), tier(102), tier(103)}},
			"too cheap":    {"enabled": true, "tiers": []any{tier(49)}},
			"too dear":     {"enabled": true, "tiers": []any{tier(100_001)}},
			"long name":    {"enabled": true, "tiers": []any{map[string]any{"name": strings.Repeat("n", 41), "price": 100}}},
			"not a number": {"enabled": true, "tiers": []any{map[string]any{"name": "A", "price": "100"}}},
			"overflow":     {"enabled": true, "tiers": []any{map[string]any{"name": "A", "price": 9007199254740992}}},
		} {
			requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/me/subscription-plan", token: ayla, body: body}), 400, "validation_failed")
			require.Equal(t, before, e.snapshot(t), name)
		}
		requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/me/subscription-plan", token: ayla,
			body: map[string]any{"enabled": true, "tiers": []any{map[string]any{"id": "nope", "name": "A", "price": 100}}}}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/me/subscription-plan", body: map[string]any{"enabled": true}}), 401, "unauthorized")
		require.Equal(t, before, e.snapshot(t))

		// A brand saves a plan and reads why fans cannot subscribe.
		_, brand := e.creatorWith(t, "brandco", "TR", 500_000, "", "business")
		res := e.do(t, request{method: "PUT", path: "/v1/me/subscription-plan", token: brand, body: map[string]any{"enabled": true,
			"tiers": []any{tier(100)}}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var bp planReply
		res.json(t, &bp)
		require.False(t, bp.Eligible)
		require.Equal(t, "account_type", bp.Reasons[0].Code)

		// The profile offers the plan to fans, with its tiers.
		var offer struct {
			Available bool
			Tiers     []struct{ ID string }
			Reasons   []struct{ Code string }
		}
		res = e.do(t, request{method: "GET", path: "/v1/creators/ayla/subscription-plan"})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &offer)
		require.True(t, offer.Available)
		require.Len(t, offer.Tiers, 2)
		res = e.do(t, request{method: "GET", path: "/v1/creators/brandco/subscription-plan"})
		res.json(t, &offer)
		require.False(t, offer.Available)
		require.NotEmpty(t, offer.Reasons)
	})
}

func TestSubscriptionFlow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla, _, sam, p := planWorld(t, e)
		res := e.do(t, subscribe(sam, "ayla", "s1", map[string]any{"tier": p.Tiers[0].ID}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var sub subscriptionReply
		res.json(t, &sub)
		require.Equal(t, "active", sub.State)
		require.Equal(t, "Fan club", sub.Tier)
		require.Equal(t, int64(4700), sub.Balance)
		require.True(t, sub.Access)
		require.Equal(t, 1, sub.Months)
		require.Equal(t, 1, sub.Badge)
		require.NotNil(t, sub.RenewsAt)
		require.Equal(t, int64(4700), e.walletOf(t, sam).Coins)
		require.Equal(t, int64(150), e.walletOf(t, ayla).Diamonds)

		// A replay answers the same; another key is a conflict.
		res = e.do(t, subscribe(sam, "ayla", "s1", map[string]any{"tier": p.Tiers[0].ID}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		require.Equal(t, "true", res.header.Get("Idempotent-Replayed"))
		requireProblem(t, e.do(t, subscribe(sam, "ayla", "s1", map[string]any{"tier": p.Tiers[1].ID})), 409, "idempotency_conflict")
		requireProblem(t, e.do(t, subscribe(sam, "ayla", "s2", map[string]any{"tier": p.Tiers[1].ID})), 409, "conflict")
		require.Equal(t, int64(4700), e.walletOf(t, sam).Coins)

		// Both sides list it; a third user cannot see or cancel it.
		var page struct {
			Subscriptions []subscriptionReply
			NextCursor    *string `json:"next_cursor"`
		}
		res = e.do(t, request{method: "GET", path: "/v1/me/subscriptions", token: sam})
		res.json(t, &page)
		require.Len(t, page.Subscriptions, 1)
		require.Nil(t, page.NextCursor)
		res = e.do(t, request{method: "GET", path: "/v1/me/subscribers", token: ayla})
		res.json(t, &page)
		require.Len(t, page.Subscriptions, 1)
		require.Equal(t, "sam", page.Subscriptions[0].Fan)
		require.Equal(t, 1, page.Subscriptions[0].Months)
		_, lea := e.signUp(t, "lea")
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/subscriptions/" + sub.ID, token: lea}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "DELETE", path: "/v1/subscriptions/" + sub.ID, token: lea}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "DELETE", path: "/v1/subscriptions/" + sub.ID, token: ayla}), 404, "not_found")
		require.Equal(t, http.StatusOK, e.do(t, request{method: "GET", path: "/v1/subscriptions/" + sub.ID, token: ayla}).status)
		require.Equal(t, http.StatusOK, e.do(t, request{method: "GET", path: "/v1/subscriptions/" + sub.ID, token: testAPIKey}).status)

		// The fan changes tier from the next renewal, then cancels: access
		// lasts to the period's end; turning renewal back on works.
		res = e.do(t, request{method: "PATCH", path: "/v1/subscriptions/" + sub.ID, token: sam, body: map[string]any{"tier": p.Tiers[1].ID}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.Contains(t, string(res.body), `"next_tier":"VIP"`)
		res = e.do(t, request{method: "DELETE", path: "/v1/subscriptions/" + sub.ID, token: sam})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var cancelled subscriptionReply
		res.json(t, &cancelled)
		require.False(t, cancelled.AutoRenew)
		require.True(t, cancelled.Access)
		require.Nil(t, cancelled.RenewsAt)
		requireProblem(t, e.do(t, subscribe(sam, "ayla", "s3", map[string]any{"tier": p.Tiers[0].ID})), 409, "conflict")
		res = e.do(t, request{method: "PATCH", path: "/v1/subscriptions/" + sub.ID, token: sam, body: map[string]any{"auto_renew": true}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		requireProblem(t, e.do(t, request{method: "PATCH", path: "/v1/subscriptions/" + sub.ID, token: sam, body: map[string]any{}}), 400, "validation_failed")

		// The profile's subscribe action says sam subscribes already.
		var prof profileBody
		e.do(t, request{method: "GET", path: "/v1/creators/ayla", token: sam}).json(t, &prof)
		state, codes, _ := prof.action("subscribe")
		require.Equal(t, "unavailable", state)
		require.Equal(t, []string{"subscribed"}, codes)
		e.do(t, request{method: "GET", path: "/v1/creators/ayla", token: lea}).json(t, &prof)
		state, _, _ = prof.action("subscribe")
		require.Equal(t, "available", state)

		// Preferences: off by default, a field left out stays.
		res = e.do(t, request{method: "GET", path: "/v1/me/preferences", token: lea})
		require.Contains(t, string(res.body), `"accept_gifted_subscriptions":false`)
		res = e.do(t, request{method: "PUT", path: "/v1/me/preferences", token: lea, body: map[string]any{"accept_gifted_subscriptions": true}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res = e.do(t, request{method: "PUT", path: "/v1/me/preferences", token: lea, body: map[string]any{}})
		require.Contains(t, string(res.body), `"accept_gifted_subscriptions":true`)
		e.requireVerified(t)
	})
}

// Every refusal of a subscription: a problem with its code, nothing
// changed.
func TestSubscriptionRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, _, _, sam, p := planWorld(t, e)
		_, brand := e.creatorWith(t, "brandco", "TR", 500_000, "", "business")
		require.Equal(t, http.StatusOK, e.do(t, request{method: "PUT", path: "/v1/me/subscription-plan", token: brand,
			body: map[string]any{"enabled": true, "tiers": []any{map[string]any{"name": "Club", "price": 100}}}}).status)
		_, omar := e.creatorWith(t, "omar", "AE", 40_000, "", "")
		require.Equal(t, http.StatusOK, e.do(t, request{method: "PUT", path: "/v1/me/subscription-plan", token: omar,
			body: map[string]any{"enabled": false, "tiers": []any{map[string]any{"name": "Club", "price": 100}}}}).status)
		minorID, minor := e.creatorWith(t, "mia", "FR", 0, time.Now().AddDate(-16, 0, 0).Format(time.DateOnly), "")
		e.grantCoins(t, minorID, 5000)
		poorID, poor := e.signUp(t, "poor")
		e.grantCoins(t, poorID, 299)
		basic := map[string]any{"tier": p.Tiers[0].ID}
		// Someone subscribes first: the accounts a subscription pays into
		// exist before the refusals are counted.
		otherID, other := e.signUp(t, "other")
		e.grantCoins(t, otherID, 1000)
		require.Equal(t, http.StatusCreated, e.do(t, subscribe(other, "ayla", "o1", basic)).status)
		for _, c := range []struct {
			name   string
			req    request
			status int
			code   string
			reason string
		}{
			{"a brand", subscribe(sam, "brandco", "r1", nil), 403, "not_eligible", "account_type"},
			{"the plan off", subscribe(sam, "omar", "r2", nil), 403, "not_eligible", "not_offered"},
			{"a minor", subscribe(minor, "ayla", "r3", basic), 403, "not_eligible", "fan_age"},
			{"too few coins", subscribe(poor, "ayla", "r4", basic), 409, "insufficient_funds", ""},
			{"no such tier", subscribe(sam, "ayla", "r5", map[string]any{"tier": "nope"}), 404, "not_found", ""},
			{"no tier of two", subscribe(sam, "ayla", "r6", nil), 400, "validation_failed", ""},
			{"no such creator", subscribe(sam, "nobody", "r7", nil), 404, "not_found", ""},
			{"no key", subscribe(sam, "ayla", "", basic), 400, "idempotency_key_required", ""},
			{"logged out", subscribe("", "ayla", "r8", basic), 401, "unauthorized", ""},
		} {
			before := e.snapshot(t)
			pr := requireProblem(t, e.do(t, c.req), c.status, c.code)
			if c.reason != "" {
				codes := []string{}
				for _, r := range pr.Reasons {
					codes = append(codes, r.Code)
				}
				require.Contains(t, codes, c.reason, c.name)
			}
			after := e.snapshot(t)
			if c.code == "insufficient_funds" {
				// A stored answer: its replay gets it again.
				requireProblem(t, e.do(t, c.req), c.status, c.code)
				require.Equal(t, before.IdempotencyKeys+1, after.IdempotencyKeys)
				after.IdempotencyKeys = before.IdempotencyKeys
			}
			require.Equal(t, before, after, c.name)
		}
		requireProblem(t, e.do(t, request{method: "DELETE", path: "/v1/subscriptions/nope", token: sam}), 404, "not_found")
	})
}

// Gifted subscriptions over HTTP: only to consenting viewers of the room,
// refused before any coin moves when too few, announced in the feed, and
// refused outside a LIVE on air.
func TestGiftSubscriptions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla, _, sam, p := planWorld(t, e)
		var l liveReply
		e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Gifts"}}).json(t, &l)
		gift := func(token, key string, count int) request {
			return request{method: "POST", path: "/v1/lives/" + l.ID + "/gifted-subscriptions", token: token,
				body:   map[string]any{"count": count, "tier": p.Tiers[0].ID},
				header: map[string]string{"Idempotency-Key": key}}
		}
		// Three logged-in viewers; two accept gifted subscriptions.
		feeds := map[string]*feed{}
		for i, h := range []string{"lina", "noor", "omar"} {
			_, tok := e.signUp(t, h)
			if i < 2 {
				require.Equal(t, http.StatusOK, e.do(t, request{method: "PUT", path: "/v1/me/preferences", token: tok,
					body: map[string]any{"accept_gifted_subscriptions": true}}).status)
			}
			feeds[h] = e.watch(t, l.ID, http.Header{"Authorization": {"Bearer " + tok}})
			feeds[h].next("state")
		}
		samFeed := e.watch(t, l.ID, http.Header{"Authorization": {"Bearer " + sam}})
		samFeed.next("state")

		before := e.snapshot(t)
		requireProblem(t, e.do(t, gift(sam, "g1", 3)), 409, "not_enough_recipients")
		requireProblem(t, e.do(t, gift(sam, "g2", 0)), 400, "validation_failed")
		requireProblem(t, e.do(t, gift(sam, "", 1)), 400, "idempotency_key_required")
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/lives/nope/gifted-subscriptions", token: sam,
			body: map[string]any{"count": 1}, header: map[string]string{"Idempotency-Key": "g3"}}), 404, "not_found")
		require.Equal(t, before, e.snapshot(t))

		res := e.do(t, gift(sam, "g4", 2))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var g struct {
			Count      int
			Coins      int64
			Balance    int64
			Recipients []struct{ Handle string }
		}
		res.json(t, &g)
		require.Equal(t, 2, g.Count)
		require.Equal(t, int64(600), g.Coins)
		require.Equal(t, int64(4400), g.Balance)
		got := []string{g.Recipients[0].Handle, g.Recipients[1].Handle}
		require.ElementsMatch(t, []string{"lina", "noor"}, got)
		ev := feeds["omar"].next("gifted_subscriptions")
		require.Equal(t, "sam", ev["gifter"])
		require.EqualValues(t, 2, ev["count"])
		require.Equal(t, "Fan club", ev["tier_name"])
		// A replay charges nothing and answers the same.
		res = e.do(t, gift(sam, "g4", 2))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		require.Equal(t, "true", res.header.Get("Idempotent-Replayed"))
		require.Equal(t, int64(4400), e.walletOf(t, sam).Coins)

		// Ended: refused.
		require.Equal(t, http.StatusOK, e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/end", token: ayla}).status)
		requireProblem(t, e.do(t, gift(sam, "g5", 1)), 409, "invalid_state")
		e.requireVerified(t)
	})
}
