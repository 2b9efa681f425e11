package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/fanfarehq/fanfare/internal/webhook"
)

// The host app's side: verify each delivery with the endpoint's secret
// (docs/webhooks.md), answer 2xx quickly, and use webhook-id to ignore an
// event seen before.
func Example_verify() {
	secret := webhook.NewSecret() // what POST /v1/admin/webhooks showed once
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		panic(err)
	}
	host := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable", http.StatusBadRequest)
			return
		}
		// Verify checks the signature and that webhook-timestamp is
		// within 5 minutes; during a rotation either secret's signature
		// passes.
		if err := wh.Verify(body, r.Header); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Println("verified", r.Header.Get("webhook-id"))
		w.WriteHeader(http.StatusNoContent)
	})

	// What Fanfare sends.
	body := []byte(`{"type":"gift.sent","timestamp":"2026-03-15T12:00:00Z","data":{"coins":1}}`)
	now := time.Now()
	sig, err := webhook.Sign(secret, "", "msg_example_gift.sent", now, body)
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/fanfare/webhooks", strings.NewReader(string(body)))
	req.Header.Set("webhook-id", "msg_example_gift.sent")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	rec := httptest.NewRecorder()
	host.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	req.Header.Set("webhook-signature", "v1,AAAA")
	rec = httptest.NewRecorder()
	host.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// verified msg_example_gift.sent
	// 204
	// 401
}
