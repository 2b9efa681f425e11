package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/httpapi"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// breaches collects the answers of every test's server that break the API
// contract: a problem code its operation does not declare, or a null
// array. TestMain fails the package on any, so that each test that meets
// an error path checks the contract too.
var breaches struct {
	sync.Mutex
	seen map[string]bool
}

func TestMain(m *testing.M) {
	breaches.seen = map[string]bool{}
	httpapi.SetOnBreach(func(op, what string) {
		breaches.Lock()
		defer breaches.Unlock()
		breaches.seen[op+": "+what] = true
	})
	code := m.Run()
	breaches.Lock()
	defer breaches.Unlock()
	if len(breaches.seen) > 0 {
		list := make([]string, 0, len(breaches.seen))
		for b := range breaches.seen {
			list = append(list, b)
		}
		sort.Strings(list)
		fmt.Fprintf(os.Stderr, "FAIL: answers that break the API contract (declare the code in problemCodes, or answer []):\n  %s\n",
			strings.Join(list, "\n  "))
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// openAPIDoc is the served OpenAPI document, generically.
type openAPIDoc struct {
	Paths      map[string]map[string]*openAPIOp `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
	Servers []map[string]any `json:"servers"`
}

type openAPIOp struct {
	OperationID string           `json:"operationId"`
	Parameters  []map[string]any `json:"parameters"`
	Security    []map[string]any `json:"security"`
	RequestBody *struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Description  string   `json:"description"`
		ProblemCodes []string `json:"x-problem-codes"`
		Content      map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

// codes returns the problem codes op declares for status.
func (op *openAPIOp) codes(status int) []string {
	return op.Responses[strconv.Itoa(status)].ProblemCodes
}

func (e *env) openAPI(t *testing.T) *openAPIDoc {
	t.Helper()
	res := e.do(t, request{method: "GET", path: "/openapi.json"})
	require.Equal(t, http.StatusOK, res.status)
	var doc openAPIDoc
	res.json(t, &doc)
	return &doc
}

// operations returns the document's operations by operationId, with their
// method and path.
func (d *openAPIDoc) operations() map[string]struct {
	method, path string
	op           *openAPIOp
} {
	ops := map[string]struct {
		method, path string
		op           *openAPIOp
	}{}
	for path, item := range d.Paths {
		for method, op := range item {
			ops[op.OperationID] = struct {
				method, path string
				op           *openAPIOp
			}{strings.ToUpper(method), path, op}
		}
	}
	return ops
}

// TestSchemaNames: a client generator's own names for an operation never
// meet a schema's (oapi-codegen once failed to compile on ListLivesResponse,
// a schema and listLives' answer wrapper), and every schema follows the
// naming rule: named after what it is, request bodies ending in Request.
func TestSchemaNames(t *testing.T) {
	t.Parallel()
	doc := newEnv(t, storetest.MustOpen(t, store.SQLite)).openAPI(t)
	var wrappers []string
	for id := range doc.operations() {
		op := strings.ToUpper(id[:1]) + id[1:]
		// oapi-codegen (types, client, strict server) and openapi-generator.
		for _, w := range []string{"Params", "JSONBody", "JSONRequestBody", "RequestBody", "Response", "ResponseObject",
			"RequestObject", "200JSONResponse", "201JSONResponse", "Default", "Request200"} {
			wrappers = append(wrappers, op+w)
		}
	}
	for name := range doc.Components.Schemas {
		require.NotContains(t, wrappers, name, "schema %s has a client generator's name for an operation", name)
		for _, suffix := range []string{"Response", "Params", "Body", "Input", "Output", "JSON"} {
			require.False(t, strings.HasSuffix(name, suffix), "schema %s: no schema is named after a transport wrapper (…%s)", name, suffix)
		}
	}
	for _, want := range []string{"Live", "Lives", "Wallet", "User", "Problem", "SignUpRequest", "SendGiftRequest", "History"} {
		require.Contains(t, doc.Components.Schemas, want)
	}
	require.Equal(t, []map[string]any{{"url": "/", "description": doc.Servers[0]["description"]}}, doc.Servers,
		"one server, relative: the host that serves the document")
}

// TestNoNullableArrays: the document declares no array that may be null,
// at any depth of any schema, as the server answers [] (see
// TestEmptyListsAnswered).
func TestNoNullableArrays(t *testing.T) {
	t.Parallel()
	res := newEnv(t, storetest.MustOpen(t, store.SQLite)).do(t, request{method: "GET", path: "/openapi.json"})
	var doc any
	require.NoError(t, json.Unmarshal(res.body, &doc))
	arrays := 0
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case map[string]any:
			types, _ := v["type"].([]any)
			if v["type"] == "array" || slices.Contains(types, "array") {
				arrays++
				require.False(t, slices.Contains(types, "null") || v["nullable"] == true, "%s: an array that may be null", path)
			}
			for k, sub := range v {
				walk(sub, path+"/"+k)
			}
		case []any:
			for i, sub := range v {
				walk(sub, path+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "#")
	require.Greater(t, arrays, 20, "the walk found the document's arrays")
}

// TestProblemCodesDeclared: each error response of each operation lists
// its problem codes, each of the status it is answered with; and the
// answers the handlers give that were once undocumented are.
func TestProblemCodesDeclared(t *testing.T) {
	t.Parallel()
	doc := newEnv(t, storetest.MustOpen(t, store.SQLite)).openAPI(t)
	ops := doc.operations()
	for id, o := range ops {
		for key, r := range o.op.Responses {
			status, err := strconv.Atoi(key)
			require.NoError(t, err, "%s: response %q: every answer has its status", id, key)
			if status < 400 {
				continue
			}
			require.NotEmpty(t, r.ProblemCodes, "%s %d lists its codes", id, status)
			for _, code := range r.ProblemCodes {
				require.Equal(t, status, httpapi.Status(code), "%s %d declares %s", id, status, code)
				require.Contains(t, r.Description, code)
			}
			require.Contains(t, r.Content, "application/problem+json", "%s %d", id, status)
		}
		require.Contains(t, o.op.codes(500), fanfare.EInternal, id)
		// The webhook's body is Stripe's, an upload's the file: their own
		// tests check them (see rawBodies).
		if o.op.RequestBody != nil && !rawBodies[id] {
			require.Equal(t, []string{httpapi.CodeUnsupportedMediaType}, o.op.codes(415), "%s takes JSON only", id)
			require.Contains(t, o.op.codes(413), fanfare.ETooLarge, id)
		}
		if len(o.op.Security) > 0 && len(o.op.Security[0]) > 0 && id != "metrics" {
			require.Contains(t, o.op.codes(401), fanfare.EUnauthorized, id)
			require.Contains(t, o.op.codes(403), fanfare.EForbidden, id)
		}
	}
	buy := ops["buyCoins"].op
	require.Equal(t, []string{fanfare.EPurchaseLimit}, buy.codes(429))
	require.Equal(t, []string{fanfare.EUnavailable}, buy.codes(503))
	for _, id := range []string{"login", "signUp"} {
		require.Equal(t, []string{fanfare.ERateLimited}, ops[id].op.codes(429), id)
	}
	events := ops["liveEvents"].op
	require.Equal(t, []string{httpapi.CodeUpgradeRequired}, events.codes(426))
}

// rawBodies are the operations whose body is not JSON: Stripe's events and
// uploaded files. Their own tests check their refusals.
var rawBodies = map[string]bool{"stripeWebhook": true, "uploadShoutoutVideo": true, "uploadEmote": true}

// parties are the operations open to any logged-in user and to the API
// key, whose objects say who may read them (their parties and the
// operator): no credential is refused before the handler.
var parties = map[string]bool{"getShoutout": true, "getSubscription": true, "deletePost": true}

// TestMiddlewareProblemsDeclared sends each operation what the middleware
// refuses before its handler runs — a body that is not JSON, one too
// large, no credentials, the wrong credentials — and checks the answer
// against what the document declares for it (TestMain's check runs on
// them too).

func TestMiddlewareProblemsDeclared(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	_, fan := e.signUp(t, "contract_fan")
	doc := e.openAPI(t)
	path := func(p string) string { return strings.NewReplacer("{id}", "nobody", "{feature}", "tips").Replace(p) }
	checked := map[string]int{}
	for id, o := range doc.operations() {
		if o.path == "/v1/lives/{id}/events" || o.path == "/metrics" {
			continue // not huma's: their own tests
		}
		expect := func(res *response, status int, code string) {
			t.Helper()
			requireProblem(t, res, status, code)
			require.Contains(t, o.op.codes(status), code, "%s answers %d %s undeclared", id, status, code)
			checked[code]++
		}
		secured := len(o.op.Security) > 0 && len(o.op.Security[0]) > 0
		isOperator := false
		if secured {
			_, isOperator = o.op.Security[0]["apiKey"]
		}
		good := fan // a user route
		switch {
		case isOperator:
			good = testAPIKey
		case !secured:
			good = ""
		}
		if o.op.RequestBody != nil && !rawBodies[id] {
			expect(e.do(t, request{method: o.method, path: path(o.path), token: good, body: "coins=1",
				header: map[string]string{"Content-Type": "text/plain", "Idempotency-Key": "k"}}), 415, httpapi.CodeUnsupportedMediaType)
			expect(e.do(t, request{method: o.method, path: path(o.path), token: good,
				body: `{"x":"` + strings.Repeat("a", 2*testMaxBody) + `"}`, header: map[string]string{"Idempotency-Key": "k"}}),
				413, fanfare.ETooLarge)
		}
		if !secured {
			continue
		}
		expect(e.do(t, request{method: o.method, path: path(o.path)}), 401, fanfare.EUnauthorized)
		expect(e.do(t, request{method: o.method, path: path(o.path), token: "not-a-token"}), 401, fanfare.EUnauthorized)
		wrong := testAPIKey // the API key is not a user
		if isOperator {
			wrong = fan // a fan is not an operator
		}
		if parties[id] {
			continue // anyone logged in, or the API key: its parties decide
		}
		expect(e.do(t, request{method: o.method, path: path(o.path), token: wrong}), 403, fanfare.EForbidden)
	}
	for _, code := range []string{httpapi.CodeUnsupportedMediaType, fanfare.ETooLarge, fanfare.EUnauthorized, fanfare.EForbidden} {
		require.Greater(t, checked[code], 3, code)
	}
}

// TestBodyWithoutJSON: a body route answers a body that is not JSON with
// 415 unsupported_media_type and changes nothing.
func TestBodyWithoutJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	before := e.snapshot(t)
	res := e.do(t, request{method: "POST", path: "/v1/users", body: "handle=sam&password=fanfare-demo",
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	requireProblem(t, res, 415, httpapi.CodeUnsupportedMediaType)
	require.Equal(t, before, e.snapshot(t))
}

// TestEmptyListsAnswered: every list a fresh user reads is answered [],
// never null, and every answer matches the arrays the document declares.
func TestEmptyListsAnswered(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		creatorID, creator := e.signUp(t, "contract_creator")
		_, fan := e.signUp(t, "contract_viewer")
		doc := e.openAPI(t)
		res := e.do(t, request{method: "POST", path: "/v1/lives", token: creator, body: map[string]any{"title": "Quiet"}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var l struct{ ID string }
		res.json(t, &l)

		for _, c := range []struct{ path, token, array string }{
			{"/v1/me/transactions", fan, "transactions"},
			{"/v1/me/tips/received", fan, ""},
			{"/v1/me/tips/sent", fan, ""},
			{"/v1/lives/" + l.ID + "/leaderboard", "", "top"},
			{"/v1/lives/" + l.ID + "/summary", "", "top"},
			{"/v1/leaderboards/weekly", "", "creators"},
			{"/v1/creators/" + creatorID + "/top-gifters", "", "top"},
			{"/v1/creators/" + creatorID, fan, ""},
			{"/v1/me/wallet", fan, ""},
			{"/v1/me/eligibility", fan, ""},
			{"/v1/lives", "", "lives"},
			{"/v1/gifts", "", "gifts"},
			{"/v1/coin-packs", fan, ""},
			{"/v1/me", fan, ""},
		} {
			res := e.do(t, request{method: "GET", path: c.path, token: c.token})
			require.Equal(t, http.StatusOK, res.status, "%s: %s", c.path, res.body)
			var body map[string]any
			res.json(t, &body)
			if c.array != "" {
				require.IsType(t, []any{}, body[c.array], "%s: %s is an array: %s", c.path, c.array, res.body)
			}
			schema := doc.answerSchema(t, c.path)
			doc.requireArrays(t, schema, body, c.path)
		}
	})
}

// answerSchema returns the schema of the 200 answer of GET path.
func (d *openAPIDoc) answerSchema(t *testing.T, path string) map[string]any {
	t.Helper()
	for pattern, item := range d.Paths {
		op, ok := item["get"]
		if !ok || !pathMatches(pattern, path) {
			continue
		}
		return op.Responses["200"].Content["application/json"].Schema
	}
	t.Fatalf("no GET %s in the document", path)
	return nil
}

func pathMatches(pattern, path string) bool {
	p, q := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(p) != len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] && !strings.HasPrefix(p[i], "{") {
			return false
		}
	}
	return true
}

// requireArrays checks that v has an array wherever schema declares one.
func (d *openAPIDoc) requireArrays(t *testing.T, schema map[string]any, v any, at string) {
	t.Helper()
	if ref, ok := schema["$ref"].(string); ok {
		schema = d.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		require.NotNil(t, schema, ref)
	}
	switch schema["type"] {
	case "array":
		items, ok := v.([]any)
		require.True(t, ok, "%s: declared an array, answered %#v", at, v)
		if s, ok := schema["items"].(map[string]any); ok {
			for i, item := range items {
				d.requireArrays(t, s, item, at+"["+strconv.Itoa(i)+"]")
			}
		}
	case "object":
		obj, _ := v.(map[string]any)
		props, _ := schema["properties"].(map[string]any)
		for name, sub := range props {
			if val, ok := obj[name]; ok {
				d.requireArrays(t, sub.(map[string]any), val, at+"."+name)
			}
		}
	}
}

// TestLiveEventsDocumented: the room feed's description names every event
// type the room sends, with the members of each.
func TestLiveEventsDocumented(t *testing.T) {
	t.Parallel()
	res := newEnv(t, storetest.MustOpen(t, store.SQLite)).do(t, request{method: "GET", path: "/openapi.json"})
	var doc struct {
		Paths map[string]map[string]struct {
			Description string `json:"description"`
		} `json:"paths"`
	}
	res.json(t, &doc)
	d := doc.Paths["/v1/lives/{id}/events"]["get"].Description
	for _, typ := range []string{room.TypeState, room.TypeGift, room.TypeTip, room.TypeChat, room.TypeViewers, room.TypeLeaderboard, room.TypeLiveEnded, room.TypeChatMode, room.TypeGiftedSubs, "error"} {
		require.Contains(t, d, `{"type":"`+typ+`"`, "event %s", typ)
	}
	for _, member := range []string{`"tipper"`, `"tipper_name"`, `"message"`, `"gifter_name"`, `"combo"`, `"author"`, `"recent"`, `"leaderboard"`,
		`"subscriber"`, `"badge"`, `"months"`, `"emotes"`, `"subscribers_only"`, `"recipients"`, `"tier_name"`, "`subscribers_only`)"} {
		require.Contains(t, d, member)
	}
	require.NotContains(t, d, `"tier"`, "a gift event names its gift_id; its tier is in the catalog")
}
