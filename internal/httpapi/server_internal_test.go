package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestInternalErrorsAreHidden(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	s := newServer(Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Registry: reg, Metrics: NewMetrics(reg)})
	s.mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom: secret state") })
	huma.Register(s.api, huma.Operation{OperationID: "fail", Method: http.MethodGet, Path: "/fail"},
		func(context.Context, *struct{}) (*struct{}, error) {
			return nil, errors.New("query failed: secret connection string")
		})

	for _, path := range []string{"/boom", "/fail"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Request-Id", "req-"+strings.Trim(path, "/"))
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("%s: status %d, want 500", path, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s: Content-Type %q", path, ct)
		}
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if p.Code != "internal" || p.Status != 500 || p.Detail != "internal error" {
			t.Fatalf("%s: problem %+v", path, p)
		}
		if strings.Contains(rec.Body.String(), "secret") {
			t.Fatalf("%s: the response leaks the error: %s", path, rec.Body)
		}
	}
	out := logs.String()
	for _, want := range []string{`"request_id":"req-boom"`, `boom: secret state`, `"request_id":"req-fail"`, `secret connection string`, `"level":"ERROR"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
}
