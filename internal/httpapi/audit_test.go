package httpapi_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

type auditPage struct {
	Items []struct {
		Seq                             int64
		ID, Actor, Action, Object, Hash string
		ActorName                       string `json:"actor_name"`
		RequestID                       string `json:"request_id"`
		Before, After                   map[string]any
	}
	NextCursor string `json:"next_cursor"`
}

func TestAuditLogRoutes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		samID, sam := e.signUp(t, "sam")
		opsID, ops := e.operatorUser(t)
		// Three operator actions: a grant by the API key, a change and a
		// freeze by the operator user, each with its own request id.
		res := e.do(t, request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
			body:   map[string]any{"user_id": samID, "coins": 100, "reason": "=HYPERLINK(\"http://x\")"},
			header: map[string]string{"Idempotency-Key": "g1", "X-Request-Id": "req-grant"}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		res = e.do(t, request{method: "PATCH", path: "/v1/users/" + samID, token: ops, body: map[string]any{"followers": 42},
			header: map[string]string{"X-Request-Id": "req-update"}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res = e.do(t, request{method: "POST", path: "/v1/admin/users/" + samID + "/freeze", token: ops, body: map[string]any{"reason": "checking"}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		freezeReq := res.header.Get("X-Request-Id")

		var p auditPage
		res = e.do(t, request{method: "GET", path: "/v1/admin/audit", token: testAPIKey})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &p)
		require.Len(t, p.Items, 3)
		require.Empty(t, p.NextCursor)
		require.Equal(t, []string{"wallet.freeze", "user.update", "wallet.grant"}, []string{p.Items[0].Action, p.Items[1].Action, p.Items[2].Action}, "newest first")
		require.Equal(t, freezeReq, p.Items[0].RequestID)
		require.Equal(t, "req-update", p.Items[1].RequestID)
		require.Equal(t, "req-grant", p.Items[2].RequestID)
		require.Equal(t, opsID, p.Items[1].Actor)
		require.Equal(t, "ops", p.Items[1].ActorName)
		require.Equal(t, "apikey:operator", p.Items[2].Actor)
		require.Equal(t, map[string]any{"followers": float64(0)}, p.Items[1].Before)
		require.Equal(t, map[string]any{"followers": float64(42)}, p.Items[1].After)
		require.Equal(t, map[string]any{"frozen": true, "reason": "checking"}, p.Items[0].After)
		require.Equal(t, int64(3), p.Items[0].Seq)
		require.Len(t, p.Items[0].Hash, 64)

		// Filters and pages.
		list := func(q string) auditPage {
			t.Helper()
			res := e.do(t, request{method: "GET", path: "/v1/admin/audit?" + q, token: ops})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			var p auditPage
			res.json(t, &p)
			return p
		}
		require.Len(t, list("actor="+opsID).Items, 2)
		require.Len(t, list("action=wallet.").Items, 2)
		require.Len(t, list("action=wallet.grant").Items, 1)
		require.Len(t, list("object=user:"+samID).Items, 3)
		require.Empty(t, list("object=user:nobody").Items)
		first := list("limit=2")
		require.Len(t, first.Items, 2)
		require.NotEmpty(t, first.NextCursor)
		rest := list("limit=2&cursor=" + first.NextCursor)
		require.Len(t, rest.Items, 1)
		require.Equal(t, "wallet.grant", rest.Items[0].Action)
		require.Empty(t, rest.NextCursor)

		// The CSV: a header, every entry, a formula defused.
		res = e.do(t, request{method: "GET", path: "/v1/admin/audit.csv?action=wallet.", token: testAPIKey})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.Equal(t, "text/csv; charset=utf-8", res.header.Get("Content-Type"))
		require.Contains(t, res.header.Get("Content-Disposition"), "audit.csv")
		rows, err := csv.NewReader(bytes.NewReader(res.body)).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 3)
		require.Equal(t, audit.CSVHeader, rows[0])
		require.Equal(t, "wallet.freeze", rows[1][5])
		require.Equal(t, "wallet.grant", rows[2][5])
		require.Contains(t, rows[2][8], `=HYPERLINK`, "inside the JSON, not at the start of a cell")
		require.True(t, strings.HasPrefix(rows[2][8], "{"))

		// Refusals: nobody, a fan, bad filters; nothing changes.
		before := e.snapshot(t)
		for _, path := range []string{"/v1/admin/audit", "/v1/admin/audit.csv"} {
			requireProblem(t, e.do(t, request{method: "GET", path: path}), 401, "unauthorized")
			requireProblem(t, e.do(t, request{method: "GET", path: path, token: sam}), 403, "forbidden")
			requireProblem(t, e.do(t, request{method: "GET", path: path + "?actor=" + strings.Repeat("a", 201), token: testAPIKey}), 400, "validation_failed")
			requireProblem(t, e.do(t, request{method: "GET", path: path + "?action=%01", token: testAPIKey}), 400, "validation_failed")
		}
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/audit?cursor=bogus", token: testAPIKey}), 400, "validation_failed")
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/audit?limit=501", token: testAPIKey}), 400, "validation_failed")
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/audit?limit=-1", token: testAPIKey}), 400, "validation_failed")
		require.Equal(t, before, e.snapshot(t))
	})
}

// TestAuditCSVSafeCells: a cell a spreadsheet would run starts with a quote.
func TestAuditCSVSafeCells(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"=1+1": "'=1+1", "+x": "'+x", "-x": "'-x", "@sum": "'@sum", "\tx": "'\tx", "\rx": "'\rx",
		"-5": "-5", "user.update": "user.update", "": ""} {
		require.Equal(t, want, audit.SafeCell(in), "%q", in)
	}
}
