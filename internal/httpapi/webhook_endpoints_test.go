package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

type hookBody struct {
	ID                  string     `json:"id"`
	URL                 string     `json:"url"`
	Description         string     `json:"description"`
	Events              []string   `json:"events"`
	State               string     `json:"state"`
	StateReason         string     `json:"state_reason"`
	Secret              string     `json:"secret"`
	PreviousSecretUntil *time.Time `json:"previous_secret_until"`
}

func (e *env) webhookRows(t *testing.T) (endpoints, deliveries int) {
	t.Helper()
	require.NoError(t, e.db.Read.QueryRow(`SELECT COUNT(*) FROM webhook_endpoints`).Scan(&endpoints))
	require.NoError(t, e.db.Read.QueryRow(`SELECT COUNT(*) FROM webhook_deliveries`).Scan(&deliveries))
	return
}

// An operator registers, lists, changes, rotates, replays and deletes a
// webhook endpoint through the API; every change is audited, the secret
// is shown only at creation and rotation, and bad input changes nothing.
func TestWebhookEndpointsAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		_, sam := e.signUp(t, "sam")
		var mu sync.Mutex
		var got []http.Header
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			mu.Lock()
			got = append(got, r.Header.Clone())
			mu.Unlock()
			io.WriteString(w, "thanks")
		}))
		t.Cleanup(recv.Close)
		create := func(token string, body any) *response {
			return e.do(t, request{method: "POST", path: "/v1/admin/webhooks", token: token, body: body})
		}

		// Refusals change nothing.
		before := e.snapshot(t)
		requireProblem(t, create("", map[string]any{"url": recv.URL, "events": []string{"*"}}), 401, "unauthorized")
		requireProblem(t, create(sam, map[string]any{"url": recv.URL, "events": []string{"*"}}), 403, "forbidden")
		for _, body := range []map[string]any{
			{"url": "http://93.184.216.34/", "events": []string{"*"}},
			{"url": "https://10.0.0.5/", "events": []string{"*"}},
			{"url": "https://172.20.1.1/", "events": []string{"*"}},
			{"url": "https://192.168.0.10/", "events": []string{"*"}},
			{"url": "https://169.254.169.254/", "events": []string{"*"}},
			{"url": "https://[fd00::1]/", "events": []string{"*"}},
			{"url": "https://[fe80::1]/", "events": []string{"*"}},
			{"url": "https://100.100.1.1/", "events": []string{"*"}},
			{"url": "https://0.0.0.0/", "events": []string{"*"}},
			{"url": "ftp://93.184.216.34/", "events": []string{"*"}},
			{"url": "not a url", "events": []string{"*"}},
			{"url": "https://93.184.216.34/", "events": []string{"gift.exploded"}},
			{"url": "https://93.184.216.34/", "events": []string{}},
			{"url": "https://93.184.216.34/"},
			{"events": []string{"*"}},
		} {
			p := requireProblem(t, create(testAPIKey, body), 400, "validation_failed")
			_ = p
		}
		res := create(testAPIKey, map[string]any{"url": "https://93.184.216.34/", "events": []string{"tip.sent", "gift.exploded"}})
		require.Contains(t, string(res.body), "gift.exploded")
		res = create(testAPIKey, map[string]any{"url": "https://169.254.169.254/latest", "events": []string{"*"}})
		require.Contains(t, string(res.body), "169.254")
		require.Equal(t, before, e.snapshot(t))
		n, _ := e.webhookRows(t)
		require.Zero(t, n)

		// The endpoint, with its secret once.
		res = create(testAPIKey, map[string]any{"url": recv.URL + "/hook", "events": []string{"gift.sent", "tip.sent"}, "description": "host app"})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var h hookBody
		res.json(t, &h)
		require.True(t, strings.HasPrefix(h.Secret, "whsec_"))
		require.Equal(t, "active", h.State)
		require.Equal(t, []string{"gift.sent", "tip.sent"}, h.Events)
		res = e.do(t, request{method: "GET", path: "/v1/admin/webhooks/" + h.ID, token: testAPIKey})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.NotContains(t, string(res.body), "whsec_")
		res = e.do(t, request{method: "GET", path: "/v1/admin/webhooks", token: testAPIKey})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.NotContains(t, string(res.body), "whsec_")
		require.Contains(t, string(res.body), h.ID)

		// Unknown ids and bad changes.
		snap := e.snapshot(t)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/webhooks/whe_nothing", token: testAPIKey}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "PATCH", path: "/v1/admin/webhooks/whe_nothing", token: testAPIKey, body: map[string]any{"paused": true}}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/admin/webhooks/whe_nothing/rotate", token: testAPIKey}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "DELETE", path: "/v1/admin/webhooks/whe_nothing", token: testAPIKey}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/webhooks/whe_nothing/deliveries", token: testAPIKey}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/admin/webhooks/" + h.ID + "/deliveries?cursor=bogus", token: testAPIKey}), 400, "validation_failed")
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/admin/webhooks/" + h.ID + "/deliveries/msg_nothing/replay", token: testAPIKey}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "PATCH", path: "/v1/admin/webhooks/" + h.ID, token: testAPIKey, body: map[string]any{"url": "https://192.168.1.1/"}}), 400, "validation_failed")
		requireProblem(t, e.do(t, request{method: "PATCH", path: "/v1/admin/webhooks/" + h.ID, token: testAPIKey, body: map[string]any{"events": []string{"nope"}}}), 400, "validation_failed")
		requireProblem(t, e.do(t, request{method: "PATCH", path: "/v1/admin/webhooks/" + h.ID, token: sam, body: map[string]any{"paused": true}}), 403, "forbidden")
		require.Equal(t, snap, e.snapshot(t))

		// An event is delivered, logged and replayed.
		tx, err := db.Write.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, outbox.Enqueue(ctx, tx, outbox.Event{ID: "msg_api_gift", Type: outbox.GiftSent, At: time.Now(), Data: map[string]any{"coins": 1}}))
		require.NoError(t, tx.Commit())
		_, sent, err := e.webhooks.Step(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, sent)
		res = e.do(t, request{method: "GET", path: "/v1/admin/webhooks/" + h.ID + "/deliveries", token: testAPIKey})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var log struct {
			Deliveries []struct {
				ID, EventID, EventType string
				Attempt, Status        int
				Response               string
			} `json:"deliveries"`
		}
		res.json(t, &log)
		require.Len(t, log.Deliveries, 1)
		require.Equal(t, 200, log.Deliveries[0].Status)
		require.Equal(t, "thanks", log.Deliveries[0].Response)
		res = e.do(t, request{method: "POST", path: "/v1/admin/webhooks/" + h.ID + "/deliveries/" + log.Deliveries[0].ID + "/replay", token: testAPIKey})
		require.Equal(t, http.StatusAccepted, res.status, "%s", res.body)
		require.Contains(t, string(res.body), "msg_api_gift")
		_, sent, err = e.webhooks.Step(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, sent)
		mu.Lock()
		require.Len(t, got, 2)
		require.Equal(t, "msg_api_gift", got[1].Get("webhook-id"))
		mu.Unlock()

		// Pause, rotate, delete: each audited.
		res = e.do(t, request{method: "PATCH", path: "/v1/admin/webhooks/" + h.ID, token: testAPIKey, body: map[string]any{"paused": true, "description": "paused for now"}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var p hookBody
		res.json(t, &p)
		require.Equal(t, "paused", p.State)
		require.Equal(t, "paused for now", p.Description)
		res = e.do(t, request{method: "POST", path: "/v1/admin/webhooks/" + h.ID + "/rotate", token: testAPIKey})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var r hookBody
		res.json(t, &r)
		require.True(t, strings.HasPrefix(r.Secret, "whsec_"))
		require.NotEqual(t, h.Secret, r.Secret)
		require.NotNil(t, r.PreviousSecretUntil)
		res = e.do(t, request{method: "DELETE", path: "/v1/admin/webhooks/" + h.ID, token: testAPIKey})
		require.Equal(t, http.StatusNoContent, res.status, "%s", res.body)
		entries, err := audit.List(ctx, db, "webhook:"+h.ID)
		require.NoError(t, err)
		var actions []string
		for _, en := range entries {
			actions = append(actions, en.Action)
			require.Equal(t, fanfare.Actor{Role: fanfare.RoleOperator}.ID(), en.Actor)
			require.Contains(t, string(en.Details), `"before"`)
		}
		require.Equal(t, []string{"webhook.create", "webhook.replay", "webhook.update", "webhook.rotate", "webhook.delete"}, actions)
		n, d := e.webhookRows(t)
		require.Zero(t, n)
		require.Zero(t, d)
	})
}
