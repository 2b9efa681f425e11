package httpapi_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/eligibility"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// The walks call every operation of the served OpenAPI document, so that a
// new route is covered the day it is registered:
//
//   - TestAccessWalk calls each one with no credentials, a fan's session, a
//     creator's session, an operator's session and the API key, and checks
//     the answer against what the route's security class allows
//     (walkClasses, read from the document's security requirements);
//   - TestAuditWalk calls each operator route that changes something with
//     the API key, successfully (auditWalk says how), and checks that it
//     wrote its audit entry, with the actor, the action and the request id.

// walkCred is a credential the access walk calls with.
type walkCred string

const (
	credNone     walkCred = "anonymous"
	credFan      walkCred = "fan"
	credCreator  walkCred = "creator"
	credOperator walkCred = "operator user"
	credKey      walkCred = "API key"
)

var walkCreds = []walkCred{credNone, credFan, credCreator, credOperator, credKey}

// walkWant is what a credential must get from a route.
type walkWant int

const (
	anyAnswer         walkWant = iota // whatever the handler says, but never 500
	refused401                        // 401 unauthorized
	refused403                        // 403 forbidden
	admitted                          // past the access check: neither 401 nor 403
	notRefusedByLogin                 // not 401: the handler may still refuse (403) for its own reasons
)

func (w walkWant) String() string {
	return [...]string{"any answer but 500", "401", "403", "neither 401 nor 403", "not 401"}[w]
}

// walkClasses are the security classes of the document, each with what
// every credential gets. A route's class comes from its security
// requirements (see walkClass); a route that is open to any logged-in user
// and to the API key, its objects deciding who may see them, is listed in
// parties (contract_test.go).
var walkClasses = map[string]map[walkCred]walkWant{
	// No security: credentials are ignored.
	"public": {credNone: anyAnswer, credFan: anyAnswer, credCreator: anyAnswer, credOperator: anyAnswer, credKey: anyAnswer},
	// Anyone; a logged-in user is known.
	"optional": {credNone: notRefusedByLogin, credFan: notRefusedByLogin, credCreator: notRefusedByLogin, credOperator: notRefusedByLogin, credKey: anyAnswer},
	// A logged-in user; the API key is no user.
	"user": {credNone: refused401, credFan: notRefusedByLogin, credCreator: notRefusedByLogin, credOperator: notRefusedByLogin, credKey: refused403},
	// The operator: the API key or an operator's session.
	"operator": {credNone: refused401, credFan: refused403, credCreator: refused403, credOperator: admitted, credKey: admitted},
	// The API key only.
	"apiKey": {credNone: refused401, credFan: refused403, credCreator: refused403, credOperator: refused403, credKey: admitted},
	// Anyone, and credentials count: a file its parties, or everyone, may
	// fetch.
	"anyone": {credNone: anyAnswer, credFan: notRefusedByLogin, credCreator: notRefusedByLogin, credOperator: notRefusedByLogin, credKey: notRefusedByLogin},
	// Any logged-in user or the API key; the object's parties decide.
	"party": {credNone: refused401, credFan: notRefusedByLogin, credCreator: notRefusedByLogin, credOperator: notRefusedByLogin, credKey: notRefusedByLogin},
	// /metrics on the main listener: only with its own token.
	"metrics": {credNone: anyAnswer, credFan: anyAnswer, credCreator: anyAnswer, credOperator: anyAnswer, credKey: anyAnswer},
}

// walkClass returns the security class of op, or "" when its security
// requirements match none (the walk then fails: add the class).
func walkClass(id string, op docOp) string {
	schemes := map[string]bool{}
	public := len(op.Security) == 0
	for _, req := range op.Security {
		if len(req) == 0 {
			public = true
		}
		for name := range req {
			schemes[name] = true
		}
	}
	switch {
	case schemes["metricsToken"] && len(schemes) == 1:
		return "metrics"
	case public && len(schemes) == 0:
		return "public"
	case public && schemes["session"] && !schemes["apiKey"]:
		return "optional"
	case public && schemes["session"] && schemes["apiKey"]:
		return "anyone"
	case public:
		return "" // open to anyone and to some credentials: no class yet
	case schemes["apiKey"] && schemes["session"] && parties[id]:
		return "party"
	case schemes["apiKey"] && schemes["session"]:
		return "operator"
	case schemes["apiKey"] && len(schemes) == 1:
		return "apiKey"
	case schemes["session"] && !schemes["apiKey"]:
		return "user"
	}
	return ""
}

// docOp is an operation as the served document describes it.
type docOp struct {
	Security    []map[string][]string `json:"security"`
	RequestBody *struct {
		Content map[string]any `json:"content"`
	} `json:"requestBody"`
	Parameters []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
}

// walkRoute is one operation of the document.
type walkRoute struct {
	id, method, path string
	op               docOp
}

// walkRoutes reads the served document's operations, the session-ending
// ones (log-out) last, so that the walk's sessions live until then.
func walkRoutes(t *testing.T, e *env) []walkRoute {
	t.Helper()
	res := e.do(t, request{method: "GET", path: "/openapi.json"})
	require.Equal(t, http.StatusOK, res.status)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	var routes []walkRoute
	for path, item := range doc.Paths {
		for method, raw := range item {
			switch method {
			case "get", "put", "post", "delete", "patch":
			default:
				continue
			}
			var op docOp
			require.NoError(t, json.Unmarshal(raw, &op))
			var id struct {
				OperationID string `json:"operationId"`
			}
			require.NoError(t, json.Unmarshal(raw, &id))
			routes = append(routes, walkRoute{id: id.OperationID, method: strings.ToUpper(method), path: path, op: op})
		}
	}
	sort.Slice(routes, func(i, j int) bool {
		li, lj := routes[i].id == "logout", routes[j].id == "logout"
		if li != lj {
			return lj
		}
		return routes[i].method+" "+routes[i].path < routes[j].method+" "+routes[j].path
	})
	require.Greater(t, len(routes), 50, "the document lists the routes")
	return routes
}

// fill puts ids in a path's parameters: the ones given, or a dummy id.
func fill(path string, ids map[string]string) string {
	for {
		start := strings.Index(path, "{")
		if start < 0 {
			return path
		}
		end := strings.Index(path[start:], "}") + start
		v, ok := ids[path[start+1:end]]
		if !ok {
			v = "walk-dummy-id"
		}
		path = path[:start] + v + path[end+1:]
	}
}

// TestAccessWalk calls every operation of the document with every kind of
// credential and checks the answer against its security class: operator
// routes answer 401 to nobody and 403 to fans and creators, user routes 401
// to nobody, and no route ever answers 500.
func TestAccessWalk(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	_, fan := e.signUp(t, "walk_fan")
	creatorID, creator := e.creatorWith(t, "walk_creator", "FR", 250_000, "", "")
	_, op := e.operatorUser(t)
	tokens := map[walkCred]string{credNone: "", credFan: fan, credCreator: creator, credOperator: op, credKey: testAPIKey}
	ids := map[string]string{"feature": "tips", "handle": "walk_creator"}

	calls := 0
	for _, r := range walkRoutes(t, e) {
		class := walkClass(r.id, r.op)
		if class == "" {
			t.Errorf("%s %s (%s): its security requirements %v match no class of walkClasses (walk_test.go): add the class with what each credential gets",
				r.method, r.path, r.id, r.op.Security)
			continue
		}
		path := fill(r.path, ids)
		if strings.Contains(r.path, "/creators/{id}") {
			path = fill(r.path, map[string]string{"id": creatorID})
		}
		for _, cred := range walkCreds {
			req := request{method: r.method, path: path, token: tokens[cred], header: map[string]string{"Idempotency-Key": "walk-" + string(cred)}}
			if r.op.RequestBody != nil {
				if _, isJSON := r.op.RequestBody.Content["application/json"]; isJSON {
					req.body = "{}"
				} else {
					req.body = []byte("walk")
				}
			}
			res := e.do(t, req)
			calls++
			want := walkClasses[class][cred]
			msg := fmt.Sprintf("%s %s (%s, %s route) as %s: expected %s, got %d %s", r.method, path, r.id, class, cred, want, res.status, res.body)
			require.NotEqual(t, http.StatusInternalServerError, res.status, msg)
			switch want {
			case refused401:
				requireProblem(t, res, http.StatusUnauthorized, "unauthorized")
			case refused403:
				requireProblem(t, res, http.StatusForbidden, "forbidden")
			case admitted:
				require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, res.status, msg)
			case notRefusedByLogin:
				require.NotEqual(t, http.StatusUnauthorized, res.status, msg)
			}
			if want == refused401 || want == refused403 {
				require.False(t, res.status >= 200 && res.status < 300, msg)
			}
		}
	}
	require.Greater(t, calls, 250)
	e.requireVerified(t)
}

// auditCall is how the audit walk calls an operator route successfully.
type auditCall struct {
	// call prepares what the route needs (a user, a shoutout in the
	// right state) and returns the request to send with the API key and
	// the object its audit entry must name.
	call func(t *testing.T, w *auditWorld) (r request, object string)
	// action is the audit entry's action.
	action string
	// status is the success answer (200 when 0).
	status int
}

// auditWorld is the walk's world: ayla, a creator offering shoutouts, and
// sam, a fan with coins (shoutoutWorld).
type auditWorld struct {
	e                  *env
	aylaID, ayla       string
	samID, sam         string
	shoutouts, freezes int
}

// webhook registers a webhook endpoint to a loopback receiver that is
// never called, and returns its id.
func (w *auditWorld) webhook(t *testing.T) string {
	t.Helper()
	res := w.e.do(t, request{method: "POST", path: "/v1/admin/webhooks", token: testAPIKey,
		body: map[string]any{"url": "http://127.0.0.1:9/walk", "events": []string{"*"}}})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	var ep struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(res.body, &ep))
	return ep.ID
}

// auditWalk lists, by operation id, every operator route that changes
// something, with how to call it successfully and the audit action it
// writes. A route missing here fails TestAuditWalk: add it.
var auditWalk = map[string]auditCall{
	"updateUser": {action: "user.update", call: func(t *testing.T, w *auditWorld) (request, string) {
		return request{method: "PATCH", path: "/v1/users/" + w.samID, body: map[string]any{"followers": 12}}, "user:" + w.samID
	}},
	"grantCoins": {action: "wallet.grant", status: http.StatusCreated, call: func(t *testing.T, w *auditWorld) (request, string) {
		return request{method: "POST", path: "/v1/admin/grants", body: map[string]any{"user_id": w.samID, "coins": 50, "reason": "walk"},
			header: map[string]string{"Idempotency-Key": "audit-walk-grant"}}, "user:" + w.samID
	}},
	"freezeWallet": {action: "wallet.freeze", call: func(t *testing.T, w *auditWorld) (request, string) {
		uid, _ := w.e.signUp(t, fmt.Sprintf("walk_freeze%d", w.freezes))
		w.freezes++
		return request{method: "POST", path: "/v1/admin/users/" + uid + "/freeze", body: map[string]any{"reason": "walk"}}, "user:" + uid
	}},
	"unfreezeWallet": {action: "wallet.unfreeze", call: func(t *testing.T, w *auditWorld) (request, string) {
		uid, _ := w.e.signUp(t, fmt.Sprintf("walk_freeze%d", w.freezes))
		w.freezes++
		res := w.e.do(t, request{method: "POST", path: "/v1/admin/users/" + uid + "/freeze", token: testAPIKey, body: map[string]any{"reason": "walk"}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		return request{method: "POST", path: "/v1/admin/users/" + uid + "/unfreeze", body: map[string]any{"reason": "walk"}}, "user:" + uid
	}},
	"setPayoutHold": {action: "payout.hold", call: func(t *testing.T, w *auditWorld) (request, string) {
		return request{method: "PUT", path: "/v1/admin/users/" + w.aylaID + "/payout-hold", body: map[string]any{"held": true, "reason": "walk"}}, "user:" + w.aylaID
	}},
	"setEligibilityRule": {action: "eligibility.update", call: func(t *testing.T, w *auditWorld) (request, string) {
		rule, err := w.e.rules.Rule(context.Background(), eligibility.Tips)
		require.NoError(t, err)
		rule.MinFollowers++
		return request{method: "PUT", path: "/v1/admin/eligibility/tips", body: rule}, "eligibility:tips"
	}},
	"rejectShoutout": {action: "shoutout.reject", call: func(t *testing.T, w *auditWorld) (request, string) {
		id := w.inReview(t)
		return request{method: "POST", path: "/v1/admin/shoutouts/" + id + "/reject", body: map[string]any{"note": "walk"}}, "shoutout:" + id
	}},
	"approveShoutout": {action: "shoutout.approve", call: func(t *testing.T, w *auditWorld) (request, string) {
		id := w.inReview(t)
		return request{method: "POST", path: "/v1/admin/shoutouts/" + id + "/approve"}, "shoutout:" + id
	}},
	"upsertUserByExternalID": {action: "user.update", call: func(t *testing.T, w *auditWorld) (request, string) {
		// The first upsert creates the user (user.create); the walked one
		// changes it.
		body := map[string]any{"handle": "walk_ext", "region": "FR", "birth_date": "1990-05-17"}
		res := w.e.do(t, request{method: "PUT", path: "/v1/admin/users/by-external-id/walk-ext", token: testAPIKey, body: body})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var u struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(res.body, &u))
		body["followers"] = 77
		return request{method: "PUT", path: "/v1/admin/users/by-external-id/walk-ext", body: body}, "user:" + u.ID
	}},
	"mintSession": {action: "session.mint", status: http.StatusCreated, call: func(t *testing.T, w *auditWorld) (request, string) {
		return request{method: "POST", path: "/v1/admin/users/" + w.samID + "/sessions", body: map[string]any{}}, "user:" + w.samID
	}},
	"createAPIKey": {action: "api_key.create", status: http.StatusCreated, call: func(t *testing.T, w *auditWorld) (request, string) {
		return request{method: "POST", path: "/v1/admin/api-keys", body: map[string]any{"name": "walk", "kind": "host", "scopes": []string{"read"}}}, ""
	}},
	"revokeAPIKey": {action: "api_key.revoke", call: func(t *testing.T, w *auditWorld) (request, string) {
		res := w.e.do(t, request{method: "POST", path: "/v1/admin/api-keys", token: testAPIKey, body: map[string]any{"name": "walk-revoke", "kind": "host", "scopes": []string{"read"}}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var k struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(res.body, &k))
		return request{method: "DELETE", path: "/v1/admin/api-keys/" + k.ID}, "api_key:" + k.ID
	}},
	"putConfig": {action: "settings.update", call: func(t *testing.T, w *auditWorld) (request, string) {
		c, etag := w.e.config(t)
		c.Settings.Shares.TipsBPS--
		return putConfig("", etag, map[string]any{"settings": c.Settings}), "settings"
	}},
	"createWebhookEndpoint": {action: "webhook.create", status: http.StatusCreated, call: func(t *testing.T, w *auditWorld) (request, string) {
		return request{method: "POST", path: "/v1/admin/webhooks", body: map[string]any{"url": "http://127.0.0.1:9/walk", "events": []string{"*"}}}, ""
	}},
	"updateWebhookEndpoint": {action: "webhook.update", call: func(t *testing.T, w *auditWorld) (request, string) {
		id := w.webhook(t)
		return request{method: "PATCH", path: "/v1/admin/webhooks/" + id, body: map[string]any{"paused": true}}, "webhook:" + id
	}},
	"rotateWebhookSecret": {action: "webhook.rotate", call: func(t *testing.T, w *auditWorld) (request, string) {
		id := w.webhook(t)
		return request{method: "POST", path: "/v1/admin/webhooks/" + id + "/rotate"}, "webhook:" + id
	}},
	"deleteWebhookEndpoint": {action: "webhook.delete", status: http.StatusNoContent, call: func(t *testing.T, w *auditWorld) (request, string) {
		id := w.webhook(t)
		return request{method: "DELETE", path: "/v1/admin/webhooks/" + id}, "webhook:" + id
	}},
	"replayWebhookDelivery": {action: "webhook.replay", status: http.StatusAccepted, call: func(t *testing.T, w *auditWorld) (request, string) {
		id := w.webhook(t)
		ev := outbox.Event{ID: outbox.ID(outbox.LiveStarted, "walk-replay"), Type: outbox.LiveStarted, At: time.Now(), Data: map[string]any{}}
		require.NoError(t, outbox.Enqueue(context.Background(), w.e.db.Write, ev))
		return request{method: "POST", path: "/v1/admin/webhooks/" + id + "/deliveries/" + ev.ID + "/replay"}, "webhook:" + id
	}},
	"resolveShoutout": {action: "shoutout.resolve", call: func(t *testing.T, w *auditWorld) (request, string) {
		id := w.shoutout(t)
		res := w.e.do(t, putVideo(w.ayla, id, testVideo(t, "tiny.mp4"), "video/mp4"))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res = w.e.do(t, request{method: "POST", path: "/v1/shoutouts/" + id + "/dispute", token: w.sam, body: map[string]any{"reason": "walk"}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		return request{method: "POST", path: "/v1/admin/shoutouts/" + id + "/resolve", body: map[string]any{"outcome": "uphold", "note": "walk"}}, "shoutout:" + id
	}},
}

// shoutout returns a new request of sam's that ayla accepted.
func (w *auditWorld) shoutout(t *testing.T) string {
	t.Helper()
	w.shoutouts++
	return acceptedShoutout(t, w.e, w.sam, w.ayla, fmt.Sprintf("walk-%d", w.shoutouts))
}

// inReview returns a new request of sam's whose video waits for the
// operator's review, as with review on (FANFARE_SHOUTOUT_REVIEW): the
// walk's server delivers without review, so the state is set here.
func (w *auditWorld) inReview(t *testing.T) string {
	t.Helper()
	id := w.shoutout(t)
	_, err := w.e.db.Write.Exec(`UPDATE shoutout_requests SET state = 'in_review', delivered_at = updated_at, review_by = deliver_by WHERE id = $1`, id)
	require.NoError(t, err)
	return id
}

// TestAuditWalk calls every operator route that changes something,
// successfully, with the API key, and checks that it wrote its audit
// entry: the API key as actor, the route's action and object, and the
// request id the answer gave (X-Request-Id). The chain holds at the end.
func TestAuditWalk(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		w := &auditWorld{e: e}
		w.aylaID, w.ayla, w.samID, w.sam = shoutoutWorld(t, e)
		walked := 0
		for _, r := range walkRoutes(t, e) {
			class := walkClass(r.id, r.op)
			if r.method == http.MethodGet || (class != "operator" && class != "apiKey") {
				continue
			}
			c, ok := auditWalk[r.id]
			if !ok {
				t.Errorf("operator route %s %s (%s) is not in auditWalk (walk_test.go): add how to call it successfully and the audit action it must write",
					r.method, r.path, r.id)
				continue
			}
			req, object := c.call(t, w)
			req.token = testAPIKey
			res := e.do(t, req)
			want := cmp.Or(c.status, http.StatusOK)
			require.Equal(t, want, res.status, "%s: %s", r.id, res.body)
			reqID := res.header.Get("X-Request-Id")
			require.NotEmpty(t, reqID, r.id)
			p, err := audit.Find(context.Background(), db, audit.Filter{Action: c.action, Object: object})
			require.NoError(t, err)
			i := slices.IndexFunc(p.Entries, func(en audit.Entry) bool { return en.RequestID == reqID })
			require.GreaterOrEqual(t, i, 0, "%s %s (%s) wrote no audit entry %s on %s with its request id %s: %+v",
				r.method, r.path, r.id, c.action, object, reqID, p.Entries)
			en := p.Entries[i]
			require.Equal(t, "apikey:operator", en.Actor, r.id)
			require.NotEqual(t, "null", string(en.After), "%s records the state after", r.id)
			walked++
		}
		require.Equal(t, len(auditWalk), walked, "every route of auditWalk is in the document")
		r, err := audit.Verify(context.Background(), db)
		require.NoError(t, err)
		require.True(t, r.OK(), r.String())
		e.requireVerified(t)
	})
}
