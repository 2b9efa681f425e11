package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/httpapi"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// fuzzStore limits FuzzDecodeRequest to one store, to fuzz each for a
// while: go test -run '^$' -fuzz FuzzDecodeRequest -fuzzstore postgres.
var fuzzStore = flag.String("fuzzstore", "", "the store FuzzDecodeRequest runs on: sqlite, postgres, or both when empty")

// Who calls a fuzzed route.
const (
	asAnyone = iota
	asFan
	asCreator
	asOperator // the API key
)

// fuzzRoute is a route that decodes a body. Its path may name the
// fixture's {live}, {creator}, {fan} and {purchase}.
type fuzzRoute struct {
	method, path string
	as           int
	idempotent   bool // sends an Idempotency-Key
}

// fuzzRoutes are every route with a request body. Their order is the
// route index of the seed corpus: append, never reorder.
var fuzzRoutes = []fuzzRoute{
	{"POST", "/v1/users", asAnyone, false},
	{"POST", "/v1/auth/login", asAnyone, false},
	{"PATCH", "/v1/users/{fan}", asOperator, false},
	{"POST", "/v1/admin/grants", asOperator, true},
	{"PUT", "/v1/me/spend-limit", asFan, false},
	{"POST", "/v1/purchases", asFan, true},
	{"POST", "/v1/webhooks/stripe", asAnyone, false},
	{"POST", "/v1/lives", asCreator, false},
	{"POST", "/v1/lives/{live}/gifts", asFan, true},
	{"POST", "/v1/lives/{live}/chat", asFan, false},
	{"POST", "/v1/lives/{live}/mutes", asCreator, false},
	{"PUT", "/v1/me/tip-settings", asCreator, false},
	{"POST", "/v1/creators/{creator}/tips", asFan, true},
	{"PUT", "/v1/admin/eligibility/tips", asOperator, false},
}

// knownCodes are the codes a problem may carry.
var knownCodes = map[string]bool{
	fanfare.EInsufficientFunds: true, fanfare.EPaymentDeclined: true, fanfare.EWalletFrozen: true,
	fanfare.ESpendLimit: true, fanfare.EPurchaseLimit: true, fanfare.ERateLimited: true,
	fanfare.ENotEligible: true, fanfare.ERegionBlocked: true, fanfare.EDeadlinePassed: true,
	fanfare.EInvalidState: true, fanfare.EIdempotencyConflict: true, fanfare.EIdempotencyKeyRequired: true,
	fanfare.EInvalid: true, fanfare.EUnauthorized: true, fanfare.ESignatureInvalid: true,
	fanfare.EForbidden: true, fanfare.ENotFound: true, fanfare.EConflict: true, fanfare.ETooLarge: true,
	httpapi.CodeMethodNotAllowed: true, httpapi.CodeUnsupportedMediaType: true, httpapi.CodeNotAcceptable: true,
	httpapi.CodeRequestTimeout: true, httpapi.CodeUpgradeRequired: true,
}

// fuzzWorld is a server on one store with a fan who has coins and a
// purchase, and a creator on air who takes tips.
type fuzzWorld struct {
	name    string
	e       *env
	tokens  map[int]string
	replace *strings.Replacer
}

func newFuzzWorld(f *testing.F, d store.Dialect) *fuzzWorld {
	f.Helper()
	ctx := context.Background()
	e := newEnv(f, storetest.MustOpen(f, d))
	w := &fuzzWorld{name: string(d), e: e, tokens: map[int]string{asOperator: testAPIKey}}
	login := func(handle string) (string, string) {
		u, err := e.accounts.Create(ctx, account.CreateInput{Handle: handle, Password: "fanfare-demo", Region: "FR", BirthDate: "1990-01-01"})
		require.NoError(f, err)
		sess, err := e.accounts.Login(ctx, handle, "fanfare-demo")
		require.NoError(f, err)
		return u.ID, sess.Token
	}
	fanID, fan := login("fan")
	creatorID, creator := login("ayla")
	w.tokens[asFan], w.tokens[asCreator] = fan, creator
	must := func(status int, method, path, token, body string) []byte {
		rec := w.call(method, path, token, []byte(body), "setup-"+path)
		require.Equal(f, status, rec.Code, "%s %s: %s", method, path, rec.Body)
		return rec.Body.Bytes()
	}
	must(200, "PATCH", "/v1/users/"+creatorID, testAPIKey, `{"followers":200000}`)
	must(200, "PUT", "/v1/me/tip-settings", creator, `{"enabled":true}`)
	must(201, "POST", "/v1/admin/grants", testAPIKey, `{"user_id":"`+fanID+`","coins":100000,"reason":"fuzz"}`)
	var l, p struct{ ID string }
	require.NoError(f, json.Unmarshal(must(201, "POST", "/v1/lives", creator, `{"title":"Fuzz"}`), &l))
	require.NoError(f, json.Unmarshal(must(201, "POST", "/v1/purchases", fan, `{"pack_id":"eur-70","payment_method":"4242424242424242"}`), &p))
	w.replace = strings.NewReplacer("{live}", l.ID, "{creator}", "ayla", "{fan}", fanID, "{purchase}", p.ID, "{{user}}", fanID)
	return w
}

var fuzzKeys atomic.Int64

// call sends one request through the real handler.
func (w *fuzzWorld) call(method, path, token string, body []byte, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	rec := httptest.NewRecorder()
	w.e.handler.ServeHTTP(rec, req)
	return rec
}

// FuzzDecodeRequest posts arbitrary bodies to every route that decodes
// one, through the real handler on each store. Whatever the bytes, the
// answer is never a 5xx; every 4xx is a problem+json with a known code
// whose status is the code's; and a refused request changes nothing
// (every balance, user and row count is as before). In a body, {{user}}
// stands for the fan's id, so that seeds can reach success paths.
//
// The seed corpus (testdata/fuzz/FuzzDecodeRequest) runs on both stores
// in every go test; -fuzzstore picks one to fuzz.
func FuzzDecodeRequest(f *testing.F) {
	var worlds []*fuzzWorld
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		if *fuzzStore != "" && *fuzzStore != string(d) {
			continue
		}
		if d == store.Postgres && storetest.PostgresURL(f) == "" {
			continue // not configured, and not required
		}
		worlds = append(worlds, newFuzzWorld(f, d))
	}
	require.NotEmpty(f, worlds, "-fuzzstore %q names no store", *fuzzStore)

	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		for _, w := range worlds {
			body := []byte(w.replace.Replace(string(body)))
			path := w.replace.Replace(rt.path)
			key := ""
			if rt.idempotent {
				key = "fuzz-" + strconv.FormatInt(fuzzKeys.Add(1), 10)
			}
			before := w.e.snapshot(t)
			rec := w.call(rt.method, path, w.tokens[rt.as], body, key)
			where := fmt.Sprintf("%s: %s %s %q", w.name, rt.method, path, body)

			if rec.Code >= 500 {
				t.Fatalf("%s: status %d: %s", where, rec.Code, rec.Body)
			}
			t.Logf("%s: %d", where, rec.Code)
			if rec.Code < 400 {
				if rec.Code != http.StatusNoContent && !json.Valid(rec.Body.Bytes()) {
					t.Fatalf("%s: %d with a body that is not JSON: %s", where, rec.Code, rec.Body)
				}
				continue
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%s: %d with Content-Type %q", where, rec.Code, ct)
			}
			var p struct {
				Status int    `json:"status"`
				Code   string `json:"code"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Detail == "" {
				t.Fatalf("%s: bad problem (%v): %s", where, err, rec.Body)
			}
			if !knownCodes[p.Code] || httpapi.Status(p.Code) != rec.Code {
				t.Fatalf("%s: %d with unknown code %q or not its status: %s", where, rec.Code, p.Code, rec.Body)
			}
			after := w.e.snapshot(t)
			if p.Code == fanfare.EPaymentDeclined {
				// A declined payment is recorded, as a failed purchase.
				after.Purchases = before.Purchases
			}
			if after != before {
				t.Fatalf("%s: refused (%d %s) but the state changed:\nbefore %+v\nafter  %+v", where, rec.Code, p.Code, before, after)
			}
		}
	})
}
