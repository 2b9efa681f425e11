package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fanfarehq/fanfare"
)

// TestBreachesReported: the server tells of an answer with a problem code
// its operation does not declare, and of a null array it could not mend;
// it answers a nil slice of the body as [].
func TestBreachesReported(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s := newServer(Options{Logger: slog.New(slog.DiscardHandler), Registry: reg, Metrics: NewMetrics(reg)})
	var mu sync.Mutex
	var got []string
	s.breach = func(op, what string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, op+": "+what)
	}
	type inner struct {
		Items []int `json:"items"`
	}
	type probeOutput struct {
		Body struct {
			List  []string `json:"list"`
			Inner inner    `json:"inner"`
			Ptr   *inner   `json:"ptr"`
		}
	}
	register(s, public, huma.Operation{OperationID: "probe", Method: http.MethodGet, Path: "/probe"},
		func(_ context.Context, in *struct {
			Code string `query:"code"`
		}) (*probeOutput, error) {
			if in.Code != "" {
				return nil, fanfare.Errorf(in.Code, "refused")
			}
			out := &probeOutput{}
			out.Body.Ptr = &inner{}
			return out, nil
		})
	s.contract["GET /probe"] = routeContract{op: "probe", codes: map[int][]string{
		http.StatusNotFound: {fanfare.ENotFound}, http.StatusInternalServerError: {fanfare.EInternal},
	}}

	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	if rec := get("/probe?code=not_found"); rec.Code != http.StatusNotFound {
		t.Fatalf("status %d", rec.Code)
	}
	if len(got) != 0 {
		t.Fatalf("a declared code is reported: %v", got)
	}
	if rec := get("/probe?code=insufficient_funds"); rec.Code != http.StatusConflict {
		t.Fatalf("status %d", rec.Code)
	}
	rec := get("/probe")
	if want := `{"list":[],"inner":{"items":[]},"ptr":{"items":null}}`; rec.Body.String() != want+"\n" && rec.Body.String() != want {
		t.Fatalf("body %s, want %s", rec.Body, want)
	}
	want := []string{"probe: undeclared problem 409 insufficient_funds", "probe: null array at body.ptr.items"}
	if !slices.Equal(got, want) {
		t.Fatalf("breaches %q, want %q", got, want)
	}
}

// TestSchemaName: the naming rule of the document's schemas.
func TestSchemaName(t *testing.T) {
	t.Parallel()
	type walletOutput struct{ Body struct{ Coins int } }
	type signUpInput struct{ Body struct{ Handle string } }
	type liveBody struct{ ID string }
	type Gift struct{ ID string }
	for _, c := range []struct {
		t    reflect.Type
		hint string
		want string
	}{
		{reflect.TypeFor[walletOutput]().Field(0).Type, "WalletOutputBody", "Wallet"},
		{reflect.TypeFor[signUpInput]().Field(0).Type, "SignUpInputBody", "SignUpRequest"},
		{reflect.TypeFor[liveBody](), "", "Live"},
		{reflect.TypeFor[*Gift](), "", "Gift"},
		{reflect.TypeFor[struct{ A int }](), "listLivesResponse", "ListLivesResult"},
		{reflect.TypeFor[struct{ A int }](), "startLiveRequest", "StartLiveRequest"},
	} {
		if got := schemaName(c.t, c.hint); got != c.want {
			t.Errorf("schemaName(%v, %q) = %q, want %q", c.t, c.hint, got, c.want)
		}
	}
}
