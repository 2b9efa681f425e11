package main_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare/internal/outbox"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestWebhooksAcrossACrash kills the server (SIGKILL) while it delivers a
// batch of events to a slow receiver: started again, it delivers every
// one of them, each correctly signed, none lost.
func TestWebhooksAcrossACrash(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dbURL := storetest.URL(t, d)
			var mu sync.Mutex
			seen := map[string]int{}
			var bad atomic.Int32
			var slow atomic.Bool
			slow.Store(true)
			var secret atomic.Value
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret.Load().(string), "whsec_"))
				mac := hmac.New(sha256.New, key)
				fmt.Fprintf(mac, "%s.%s.%s", r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), body)
				if r.Header.Get("webhook-signature") != "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
					bad.Add(1)
				}
				if slow.Load() {
					time.Sleep(40 * time.Millisecond)
				}
				mu.Lock()
				seen[r.Header.Get("webhook-id")]++
				mu.Unlock()
			}))
			t.Cleanup(recv.Close)
			delivered := func() int {
				mu.Lock()
				defer mu.Unlock()
				return len(seen)
			}

			s := startServer(t, dbURL)
			var ep struct {
				ID     string `json:"id"`
				Secret string `json:"secret"`
			}
			code, _, err := call(ctx, "POST", s.url+"/v1/admin/webhooks", testAPIKey, "", map[string]any{"url": recv.URL + "/hooks", "events": []string{"*"}}, &ep)
			if err != nil || code != http.StatusCreated {
				t.Fatalf("register the endpoint: %d %v", code, err)
			}
			secret.Store(ep.Secret)

			// The events, as features write them: in the outbox, committed.
			db, err := store.Open(ctx, dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			const n = 200
			tx, err := db.Write.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if err := outbox.Enqueue(ctx, tx, outbox.Event{ID: fmt.Sprintf("msg_crash_%03d", i), Type: outbox.GiftSent, At: time.Now(), Data: map[string]any{"n": i}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}

			deadline := time.Now().Add(20 * time.Second)
			for delivered() < 10 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			s.cmd.Process.Signal(syscall.SIGKILL)
			<-s.done
			s.done <- nil
			before := delivered()
			if before == 0 || before >= n {
				t.Fatalf("%d of %d events delivered before the crash: the test did not crash mid-way", before, n)
			}

			slow.Store(false)
			startServer(t, dbURL)
			// Attempts cut short by the crash stay leased (35 s) before
			// they are taken again.
			deadline = time.Now().Add(90 * time.Second)
			for delivered() < n && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if got := delivered(); got != n {
				t.Fatalf("%d of %d events delivered after the restart (%d before the crash)", got, n, before)
			}
			if bad.Load() != 0 {
				t.Fatalf("%d deliveries with a bad signature", bad.Load())
			}
			t.Logf("%s: %d delivered before the crash, all %d after the restart", d, before, n)
		})
	}
}
