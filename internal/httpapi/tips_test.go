package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// creatorWith signs up a creator and has the host app set their followers,
// region, standing or birth date.
func (e *env) creatorWith(t *testing.T, handle, region string, followers int64, birth, accountType string) (id, token string) {
	t.Helper()
	body := signUpBody(handle)
	body["region"] = region
	if birth != "" {
		body["birth_date"] = birth
	}
	if accountType != "" {
		body["account_type"] = accountType
	}
	res := e.do(t, request{method: "POST", path: "/v1/users", body: body})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	var u struct{ ID string }
	res.json(t, &u)
	res = e.do(t, request{method: "PATCH", path: "/v1/users/" + u.ID, token: testAPIKey, body: map[string]any{"followers": followers}})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	return u.ID, e.login(t, handle, "fanfare-demo")
}

func tip(token, creator, key string, body any) request {
	return request{method: "POST", path: "/v1/creators/" + creator + "/tips", token: token, body: body,
		header: map[string]string{"Idempotency-Key": key}}
}

type profileBody struct {
	Handle  string `json:"handle"`
	Live    *struct{ ID string }
	Actions []struct {
		Action  string `json:"action"`
		State   string `json:"state"`
		Reasons []struct{ Code, Message string }
	} `json:"actions"`
}

func (p profileBody) action(name string) (state string, codes []string, messages []string) {
	for _, a := range p.Actions {
		if a.Action == name {
			for _, r := range a.Reasons {
				codes, messages = append(codes, r.Code), append(messages, r.Message)
			}
			return a.State, codes, messages
		}
	}
	return "", nil, nil
}

func (e *env) profile(t *testing.T, token, ref string) profileBody {
	t.Helper()
	res := e.do(t, request{method: "GET", path: "/v1/creators/" + ref, token: token})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	var p profileBody
	res.json(t, &p)
	return p
}

// A fan tips an eligible creator who turned Tips on: coins to diamonds at
// the tips share (all of them), the tip listed on both sides, the replay
// answered once, the profile showing the Tip button.
func TestTips(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		aylaID, ayla := e.creatorWith(t, "ayla", "TR", 250_000, "", "")
		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)

		state, codes, _ := e.profile(t, sam, "ayla").action("tip")
		require.Equal(t, "hidden", state, "Tips off: nothing to show")
		require.Equal(t, []string{"not_offered"}, codes)
		res := e.do(t, request{method: "PUT", path: "/v1/me/tip-settings", token: ayla, body: map[string]any{"enabled": true}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.JSONEq(t, `{"enabled":true,"eligible":true,"reasons":[]}`, string(res.body))
		state, _, _ = e.profile(t, sam, aylaID).action("tip")
		require.Equal(t, "available", state)
		state, _, _ = e.profile(t, "", "ayla").action("tip")
		require.Equal(t, "available", state, "anyone may see the button; sending needs a login")
		state, _, _ = e.profile(t, ayla, "ayla").action("tip")
		require.Equal(t, "hidden", state, "not on one's own profile")

		res = e.do(t, tip(sam, "ayla", "t1", map[string]any{"coins": 500, "message": "  Merci Ayla! 🎉  "}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var sent struct {
			ID, Creator, Fan, Message string
			OpID                      string `json:"op_id"`
			Coins, Diamonds, Balance  int64
			FiatValue                 struct{ Currency string } `json:"fiat_value"`
		}
		res.json(t, &sent)
		require.Equal(t, "ayla", sent.Creator)
		require.Equal(t, "sam", sent.Fan)
		require.Equal(t, "Merci Ayla! 🎉", sent.Message)
		require.EqualValues(t, 500, sent.Coins)
		require.EqualValues(t, 500, sent.Diamonds, "tips share 10000 bps by default")
		require.EqualValues(t, 500, sent.Balance)
		require.Equal(t, "EUR", sent.FiatValue.Currency)
		require.Equal(t, sent.OpID, sent.ID)

		again := e.do(t, tip(sam, "ayla", "t1", map[string]any{"coins": 500, "message": "  Merci Ayla! 🎉  "}))
		require.Equal(t, http.StatusCreated, again.status)
		require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
		requireProblem(t, e.do(t, tip(sam, "ayla", "t1", map[string]any{"coins": 501})), 409, "idempotency_conflict")
		require.EqualValues(t, 500, e.walletOf(t, sam).Coins)
		require.EqualValues(t, 500, e.walletOf(t, ayla).Diamonds)

		var page struct {
			Tips []struct {
				Fan, Creator, Message string
				Coins                 int64
			}
			NextCursor string `json:"next_cursor"`
		}
		e.do(t, request{method: "GET", path: "/v1/me/tips/received", token: ayla}).json(t, &page)
		require.Len(t, page.Tips, 1)
		require.Equal(t, "sam", page.Tips[0].Fan)
		require.Equal(t, "Merci Ayla! 🎉", page.Tips[0].Message)
		e.do(t, request{method: "GET", path: "/v1/me/tips/sent", token: sam}).json(t, &page)
		require.Len(t, page.Tips, 1)
		require.Equal(t, "ayla", page.Tips[0].Creator)

		// Paging, newest first.
		for i := range 4 {
			res := e.do(t, tip(sam, "ayla", fmt.Sprint("p", i), map[string]any{"coins": 10 + i}))
			require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		}
		var seen []int64
		cursor := ""
		for {
			res := e.do(t, request{method: "GET", path: "/v1/me/tips/received?limit=2&cursor=" + cursor, token: ayla})
			page.NextCursor = ""
			res.json(t, &page)
			for _, tp := range page.Tips {
				seen = append(seen, tp.Coins)
			}
			if page.NextCursor == "" {
				// The last page has no cursor at all, not an empty one.
				require.NotContains(t, string(res.body), "next_cursor")
				break
			}
			cursor = page.NextCursor
		}
		require.Equal(t, []int64{13, 12, 11, 10, 500}, seen)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/me/tips/received?cursor=nope", token: ayla}), 400, "validation_failed")
		e.requireVerified(t)
	})
}

// Every refusal of a tip: a problem with its code (and the reasons for
// the rules' refusals), and nothing changed.
func TestTipRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.creatorWith(t, "ayla", "TR", 250_000, "", "")
		_, omar := e.creatorWith(t, "omar", "AE", 40_000, "", "")
		zedID, zed := e.creatorWith(t, "zed", "TR", 180_000, "", "")
		_, teen := e.creatorWith(t, "teen", "FR", 150_000, time.Now().AddDate(-17, 0, 0).Format(time.DateOnly), "")
		_, off := e.creatorWith(t, "quiet", "FR", 150_000, "", "")
		_ = off
		for _, tok := range []string{ayla, omar, zed, teen} {
			res := e.do(t, request{method: "PUT", path: "/v1/me/tip-settings", token: tok, body: map[string]any{"enabled": true}})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		}
		res := e.do(t, request{method: "PATCH", path: "/v1/users/" + zedID, token: testAPIKey, body: map[string]any{"standing": "banned"}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)
		body := signUpBody("mia")
		body["birth_date"] = time.Now().AddDate(-16, 0, 0).Format(time.DateOnly)
		res = e.do(t, request{method: "POST", path: "/v1/users", body: body})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var mia struct{ ID string }
		res.json(t, &mia)
		miaTok := e.login(t, "mia", "fanfare-demo")
		e.grantCoins(t, mia.ID, 1000)
		trBody := signUpBody("deniz")
		trBody["region"] = "TR"
		res = e.do(t, request{method: "POST", path: "/v1/users", body: trBody})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var deniz struct{ ID string }
		res.json(t, &deniz)
		denizTok := e.login(t, "deniz", "fanfare-demo")
		e.grantCoins(t, deniz.ID, 1000)
		poorID, poor := e.signUp(t, "poor")
		e.grantCoins(t, poorID, 20)
		_, opsTok := e.operatorUser(t)

		// One tip first: the system accounts of tips exist from then on.
		res = e.do(t, tip(sam, "ayla", "first", map[string]any{"coins": 10}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		before := e.snapshot(t)
		for _, tc := range []struct {
			name, token, creator string
			body                 any
			key                  string
			status               int
			code                 string
			reasons              []string
		}{
			{"unknown creator", sam, "nobody", map[string]any{"coins": 100}, "k", 404, "not_found", nil},
			{"below the minimum", sam, "ayla", map[string]any{"coins": 9}, "k", 400, "validation_failed", nil},
			{"above the maximum", sam, "ayla", map[string]any{"coins": 100_001}, "k", 400, "validation_failed", nil},
			{"zero", sam, "ayla", map[string]any{"coins": 0}, "k", 400, "validation_failed", nil},
			{"negative", sam, "ayla", map[string]any{"coins": -50}, "k", 400, "validation_failed", nil},
			{"overflowing", sam, "ayla", `{"coins": 92233720368547758070}`, "k", 400, "validation_failed", nil},
			{"oversize message", sam, "ayla", map[string]any{"coins": 100, "message": strings.Repeat("é", 151)}, "k", 400, "validation_failed", nil},
			{"no key", sam, "ayla", map[string]any{"coins": 100}, "", 400, "idempotency_key_required", nil},
			{"not logged in", "", "ayla", map[string]any{"coins": 100}, "k", 401, "unauthorized", nil},
			{"oneself", ayla, "ayla", map[string]any{"coins": 100}, "k", 400, "validation_failed", nil},
			{"followers", sam, "omar", map[string]any{"coins": 100}, "k", 403, "not_eligible", []string{"followers"}},
			// The creator's standing and age are theirs: the fan reads that
			// Tips are unavailable, not why.
			{"standing", sam, "zed", map[string]any{"coins": 100}, "k", 403, "not_eligible", []string{"unavailable"}},
			{"creator's age", sam, "teen", map[string]any{"coins": 100}, "k", 403, "not_eligible", []string{"unavailable"}},
			{"tips off", sam, "quiet", map[string]any{"coins": 100}, "k", 403, "not_eligible", []string{"not_offered"}},
			{"a minor tipping", miaTok, "ayla", map[string]any{"coins": 100}, "k", 403, "not_eligible", []string{"fan_age"}},
			{"not enough coins", poor, "ayla", map[string]any{"coins": 100}, "k", 409, "insufficient_funds", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := requireProblem(t, e.do(t, tip(tc.token, tc.creator, tc.key, tc.body)), tc.status, tc.code)
				var codes []string
				for _, r := range p.Reasons {
					codes = append(codes, r.Code)
					require.NotEmpty(t, r.Message)
				}
				require.Equal(t, tc.reasons, codes)
			})
		}
		// insufficient_funds is a stored answer (a replay gets it again):
		// everything else left no trace.
		after := e.snapshot(t)
		require.Equal(t, before.IdempotencyKeys+1, after.IdempotencyKeys)
		after.IdempotencyKeys = before.IdempotencyKeys
		require.Equal(t, before, after)

		// Regions: the operator switches tips off in TR, and blocks fans of TR
		// from shoutouts.
		rules := e.do(t, request{method: "GET", path: "/v1/admin/eligibility", token: opsTok})
		require.Equal(t, http.StatusOK, rules.status, "%s", rules.body)
		res = e.do(t, request{method: "PUT", path: "/v1/admin/eligibility/tips", token: opsTok, body: map[string]any{
			"feature": "tips", "enabled": true, "regions_off": []string{"TR"}, "min_followers": 100000, "min_age": 18,
			"standings": []string{"good"}, "fan_min_age": 18}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		p := requireProblem(t, e.do(t, tip(sam, "ayla", "r1", map[string]any{"coins": 100})), 403, "region_blocked")
		require.Contains(t, p.Detail, "TR")
		requireProblem(t, e.do(t, tip(denizTok, "quiet", "r2", map[string]any{"coins": 100})), 403, "not_eligible") // TR fan and tips off
		state, codes, _ := e.profile(t, denizTok, "ayla").action("tip")
		require.Equal(t, "unavailable", state)
		require.Equal(t, []string{"region_off", "region_off"}, codes)

		// A fan from a blocked region: the creator's side is fine.
		res = e.do(t, request{method: "PUT", path: "/v1/admin/eligibility/tips", token: opsTok, body: map[string]any{
			"feature": "tips", "enabled": true, "fan_regions_blocked": []string{"TR"}, "min_followers": 100000, "min_age": 18,
			"standings": []string{"good"}, "fan_min_age": 18}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		blockedBefore := e.snapshot(t)
		p = requireProblem(t, e.do(t, tip(denizTok, "ayla", "r3", map[string]any{"coins": 100})), 403, "region_blocked")
		require.Len(t, p.Reasons, 1)
		require.Equal(t, "fan_region", p.Reasons[0].Code)
		require.Equal(t, "Tips cannot be used from your region (TR).", p.Reasons[0].Message)
		require.Equal(t, blockedBefore, e.snapshot(t))
		res = e.do(t, tip(sam, "ayla", "r4", map[string]any{"coins": 100}))
		require.Equal(t, http.StatusCreated, res.status, "a fan from FR still tips: %s", res.body)

		// Only the operator edits rules; a bad rule is refused.
		requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/admin/eligibility/tips", token: sam, body: map[string]any{"feature": "tips"}}), 403, "forbidden")
		requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/admin/eligibility/tips", token: opsTok, body: map[string]any{"feature": "tips", "min_age": -1}}), 400, "validation_failed")
		requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/admin/eligibility/karaoke", token: opsTok, body: map[string]any{"feature": "karaoke"}}), 400, "validation_failed")
		requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/admin/eligibility/tips", token: opsTok, body: map[string]any{"feature": "gifts"}}), 400, "validation_failed")
		e.requireVerified(t)
	})
}

// The rules change at run time: lowering the followers threshold opens
// omar's Tips at once, the change is listed with who made it, and audited.
func TestEligibilityAtRunTime(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, omar := e.creatorWith(t, "omar", "AE", 40_000, "", "")
		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)
		opsID, opsTok := e.operatorUser(t)
		require.Equal(t, http.StatusOK, e.do(t, request{method: "PUT", path: "/v1/me/tip-settings", token: omar, body: map[string]any{"enabled": true}}).status)

		state, codes, msgs := e.profile(t, sam, "omar").action("tip")
		require.Equal(t, "unavailable", state)
		require.Equal(t, []string{"followers"}, codes)
		require.Equal(t, []string{"Tips need 100,000 followers; @omar has 40,000."}, msgs)

		var checklist struct {
			Features []struct {
				Feature  string
				Eligible bool
				Checks   []struct {
					Code, Requirement, Detail string
					Met                       bool
				}
			}
		}
		e.do(t, request{method: "GET", path: "/v1/me/eligibility", token: omar}).json(t, &checklist)
		require.Len(t, checklist.Features, 5)
		for _, f := range checklist.Features {
			if f.Feature != "tips" {
				continue
			}
			require.False(t, f.Eligible)
			var lines []string
			for _, c := range f.Checks {
				lines = append(lines, fmt.Sprintf("%s %v %s", c.Code, c.Met, c.Detail))
			}
			require.Contains(t, lines, "followers false you have 40,000")
			require.Contains(t, lines, "age true ")
			require.Contains(t, lines, "not_offered true ")
		}

		res := e.do(t, request{method: "PUT", path: "/v1/admin/eligibility/tips", token: testAPIKey, body: map[string]any{
			"enabled": true, "min_followers": 30000, "min_age": 18, "standings": []string{"good"}, "fan_min_age": 18}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		state, _, _ = e.profile(t, sam, "omar").action("tip")
		require.Equal(t, "available", state)
		res = e.do(t, tip(sam, "omar", "o1", map[string]any{"coins": 50, "message": "yalla"}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)

		res = e.do(t, request{method: "PUT", path: "/v1/admin/eligibility/tips", token: opsTok, body: map[string]any{
			"enabled": true, "min_followers": 50000, "min_age": 18, "standings": []string{"good"}, "fan_min_age": 18}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var rules struct {
			Rules []struct {
				Feature      string
				MinFollowers int64 `json:"min_followers"`
			}
			Changes map[string]struct {
				UpdatedBy string `json:"updated_by"`
			}
		}
		e.do(t, request{method: "GET", path: "/v1/admin/eligibility", token: opsTok}).json(t, &rules)
		require.Equal(t, opsID, rules.Changes["tips"].UpdatedBy)
		for _, r := range rules.Rules {
			if r.Feature == "tips" {
				require.EqualValues(t, 50000, r.MinFollowers)
			}
		}
		entries, err := audit.List(context.Background(), db, "eligibility:tips")
		require.NoError(t, err)
		require.Len(t, entries, 2)
		require.Equal(t, "apikey:operator", entries[0].Actor)
		require.Equal(t, opsID, entries[1].Actor)
		requireProblem(t, e.do(t, tip(sam, "omar", "o2", map[string]any{"coins": 50})), 403, "not_eligible")
		e.requireVerified(t)
	})
}

// A tip to a creator who is LIVE shows in the room.
func TestTipInRoom(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.creatorWith(t, "ayla", "TR", 250_000, "", "")
		require.Equal(t, http.StatusOK, e.do(t, request{method: "PUT", path: "/v1/me/tip-settings", token: ayla, body: map[string]any{"enabled": true}}).status)
		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)
		var l liveReply
		e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}}).json(t, &l)
		f := e.watch(t, l.ID, nil)
		f.next("state")
		require.Equal(t, l.ID, e.profile(t, sam, "ayla").Live.ID)
		res := e.do(t, tip(sam, "ayla", "t1", map[string]any{"coins": 300, "message": "for the song"}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		ev := f.next("tip")
		require.Equal(t, "sam", ev["tipper"])
		require.EqualValues(t, 300, ev["coins"])
		require.Equal(t, "for the song", ev["message"])
	})
}

// Concurrent tips from one wallet never spend more than it holds, and a
// key sent twice at once tips once.
func TestConcurrentTips(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.creatorWith(t, "ayla", "TR", 250_000, "", "")
		require.Equal(t, http.StatusOK, e.do(t, request{method: "PUT", path: "/v1/me/tip-settings", token: ayla, body: map[string]any{"enabled": true}}).status)
		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)
		var wg sync.WaitGroup
		statuses := make([]int, 30)
		for i := range statuses {
			wg.Go(func() {
				statuses[i] = e.do(t, tip(sam, "ayla", fmt.Sprint("c", i%15), map[string]any{"coins": 100})).status
			})
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
			default:
				t.Fatalf("status %d", s)
			}
		}
		require.EqualValues(t, 0, e.walletOf(t, sam).Coins)
		require.EqualValues(t, 1000, e.walletOf(t, ayla).Diamonds)
		var n int
		require.NoError(t, db.Read.QueryRow(`SELECT COUNT(*) FROM tips`).Scan(&n))
		require.Equal(t, 10, n, "ten distinct keys fit in 1,000 coins")
		require.GreaterOrEqual(t, created, 10)
		e.requireVerified(t)
	})
}

// LIVE and gifts follow the engine's rules too, changed at run time.
func TestGiftRulesAtRunTime(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.creatorWith(t, "ayla", "TR", 250_000, "", "")
		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)
		var l liveReply
		e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}}).json(t, &l)
		res := e.do(t, gift(sam, l.ID, "g1", map[string]any{"gift_id": "rose", "count": 1}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)

		res = e.do(t, request{method: "PUT", path: "/v1/admin/eligibility/gifts", token: testAPIKey, body: map[string]any{
			"enabled": true, "regions_off": []string{"FR"}, "min_age": 18, "standings": []string{"good", "warned"}, "fan_min_age": 18}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		before := e.snapshot(t)
		p := requireProblem(t, e.do(t, gift(sam, l.ID, "g2", map[string]any{"gift_id": "rose", "count": 1})), 403, "region_blocked")
		require.Equal(t, "region_off", p.Reasons[0].Code)
		require.Equal(t, before, e.snapshot(t))
		// The replay of a gift sent before the change is still answered.
		res = e.do(t, gift(sam, l.ID, "g1", map[string]any{"gift_id": "rose", "count": 1}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		require.Equal(t, "true", res.header.Get("Idempotent-Replayed"))

		// Going LIVE needs 50,000 followers now: a small creator is told so.
		res = e.do(t, request{method: "PUT", path: "/v1/admin/eligibility/live", token: testAPIKey, body: map[string]any{
			"enabled": true, "min_followers": 50000, "min_age": 18, "standings": []string{"good", "warned"}}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		_, lea := e.creatorWith(t, "lea", "FR", 5_000, "", "")
		p = requireProblem(t, e.do(t, request{method: "POST", path: "/v1/lives", token: lea, body: map[string]any{"title": "Hi"}}), 403, "not_eligible")
		require.Equal(t, "Going LIVE needs 50,000 followers; you have 5,000.", p.Detail)
	})
}

// A banned creator's profile keeps the standing to the creator and the
// operator: anyone else reads that Tips are unavailable, not why. A
// restricted one likewise. zed offers no shoutouts and no subscription:
// both hidden for everyone.
func TestProfileStandingIsPrivate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		zedID, zed := e.creatorWith(t, "zed", "TR", 180_000, "", "")
		require.Equal(t, http.StatusOK, e.do(t, request{method: "PUT", path: "/v1/me/tip-settings", token: zed, body: map[string]any{"enabled": true}}).status)
		_, sam := e.signUp(t, "sam")
		_, opsTok := e.operatorUser(t)
		for _, standing := range []string{"banned", "restricted"} {
			res := e.do(t, request{method: "PATCH", path: "/v1/users/" + zedID, token: testAPIKey, body: map[string]any{"standing": standing}})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			for _, tc := range []struct {
				viewer, token string
				state         string
				codes, msgs   []string
			}{
				{"anonymous", "", "unavailable", []string{"unavailable"}, []string{"Tips are not available from @zed right now."}},
				{"another fan", sam, "unavailable", []string{"unavailable"}, []string{"Tips are not available from @zed right now."}},
				{"the operator", opsTok, "unavailable", []string{"standing"}, []string{"Tips need an account in good standing; @zed's account is " + standing + "."}},
				{"the API key", testAPIKey, "unavailable", []string{"standing"}, []string{"Tips need an account in good standing; @zed's account is " + standing + "."}},
				{"zed", zed, "hidden", []string{"standing", "self"}, []string{"Tips need an account in good standing; your account is " + standing + ".", "You cannot tip yourself."}},
			} {
				t.Run(standing+"/"+tc.viewer, func(t *testing.T) {
					res := e.do(t, request{method: "GET", path: "/v1/creators/zed", token: tc.token})
					require.Equal(t, http.StatusOK, res.status, "%s", res.body)
					if tc.codes[0] == "unavailable" {
						require.NotContains(t, res.body, standing, "the standing leaks")
					}
					var p profileBody
					res.json(t, &p)
					state, codes, msgs := p.action("tip")
					require.Equal(t, tc.state, state)
					require.Equal(t, tc.codes, codes)
					require.Equal(t, tc.msgs, msgs)
					state, codes, _ = p.action("shoutout")
					require.Equal(t, "hidden", state)
					require.Contains(t, codes, "not_offered")
					if tc.codes[0] == "unavailable" {
						require.NotContains(t, codes, "standing", "the standing leaks")
					}
					state, codes, _ = p.action("subscribe")
					require.Equal(t, "hidden", state)
					require.Contains(t, codes, "not_offered")
					if tc.codes[0] == "unavailable" {
						require.NotContains(t, codes, "standing", "the standing leaks")
					}
				})
			}
		}
		// A tip sent anyway reads the same neutral reason.
		p := requireProblem(t, e.do(t, tip(sam, "zed", "k1", map[string]any{"coins": 100})), 403, "not_eligible")
		require.Equal(t, "Tips are not available from @zed right now.", p.Detail)
	})
}

// The checklist of every feature, all in this release: ayla meets the
// rules of all but Tips (250,000 followers: enough; her tips are off).
func TestChecklistReleased(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.creatorWith(t, "ayla", "TR", 250_000, "", "")
		var checklist struct {
			Features []struct {
				Feature            string
				Released, Eligible bool
			}
		}
		e.do(t, request{method: "GET", path: "/v1/me/eligibility", token: ayla}).json(t, &checklist)
		got := map[string][2]bool{}
		for _, f := range checklist.Features {
			got[f.Feature] = [2]bool{f.Released, f.Eligible}
		}
		require.Equal(t, map[string][2]bool{"live": {true, true}, "gifts": {true, true}, "tips": {true, false},
			"shoutouts": {true, true}, "subscriptions": {true, true}}, got)
	})
}
