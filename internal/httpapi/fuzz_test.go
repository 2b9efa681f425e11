package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// FuzzDecodeRequest posts arbitrary bodies to the routes that decode JSON,
// through the real handler on a real database. Whatever the bytes, the
// answer is never a 5xx, and every 4xx is a problem+json with a code. In a
// body, {{user}} stands for the id of an existing user, so that seeds can
// reach the grant's success path.
func FuzzDecodeRequest(f *testing.F) {
	e := newEnv(f, storetest.MustOpen(f, store.SQLite))
	u, err := e.accounts.Create(context.Background(), account.CreateInput{
		Handle: "target", Password: "fanfare-demo", Region: "TR", BirthDate: "1990-01-01",
	})
	require.NoError(f, err)
	var keys atomic.Int64

	f.Fuzz(func(t *testing.T, body []byte) {
		body = bytes.ReplaceAll(body, []byte("{{user}}"), []byte(u.ID))
		for _, path := range []string{"/v1/users", "/v1/admin/grants"} {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+testAPIKey)
			req.Header.Set("Idempotency-Key", "fuzz-"+strconv.FormatInt(keys.Add(1), 10))
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, req)

			if rec.Code >= 500 {
				t.Fatalf("POST %s %q: status %d: %s", path, body, rec.Code, rec.Body)
			}
			if rec.Code >= 400 {
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Fatalf("POST %s %q: %d with Content-Type %q", path, body, rec.Code, ct)
				}
				var p struct {
					Status int    `json:"status"`
					Code   string `json:"code"`
					Detail string `json:"detail"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code == "" || p.Status != rec.Code || p.Detail == "" {
					t.Fatalf("POST %s %q: bad problem (%v): %s", path, body, err, rec.Body)
				}
				continue
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("POST %s %q: %d with a body that is not JSON: %s", path, body, rec.Code, rec.Body)
			}
		}
	})
}
