package main_test

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestDeadlinesAcrossACrash kills the server (SIGKILL) with shoutout
// requests whose accept deadline passes while it is down: started again,
// it refunds each of them exactly once, and leaves the accepted one alone.
func TestDeadlinesAcrossACrash(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dbURL := storetest.URL(t, d)
			const window = 3 * time.Second
			flags := []string{"--shoutout-accept-window", window.String()}
			s := startServer(t, dbURL, flags...)

			user := func(handle, region string) (id, token string) {
				t.Helper()
				var u struct{ ID string }
				code, _, err := call(ctx, "POST", s.url+"/v1/users", "", "", map[string]any{
					"handle": handle, "password": "correct-horse-battery", "region": region, "birth_date": "1990-05-01",
				}, &u)
				if err != nil || code != http.StatusCreated {
					t.Fatalf("sign up %s: %d %v", handle, code, err)
				}
				var sess struct{ Token string }
				code, _, err = call(ctx, "POST", s.url+"/v1/auth/login", "", "", map[string]any{"handle": handle, "password": "correct-horse-battery"}, &sess)
				if err != nil || code != http.StatusOK {
					t.Fatalf("log in %s: %d %v", handle, code, err)
				}
				return u.ID, sess.Token
			}
			creatorID, creator := user("deadline_ayla", "TR")
			fanID, fan := user("deadline_sam", "FR")
			mustCall := func(method, path, token, key string, body, out any, want int) {
				t.Helper()
				code, _, err := call(ctx, method, s.url+path, token, key, body, out)
				if err != nil || code != want {
					t.Fatalf("%s %s: %d %v, want %d", method, path, code, err, want)
				}
			}
			mustCall("PATCH", "/v1/users/"+creatorID, testAPIKey, "", map[string]any{"followers": 250_000}, nil, http.StatusOK)
			mustCall("POST", "/v1/admin/grants", testAPIKey, "g1", map[string]any{"user_id": fanID, "coins": 10_000, "reason": "test"}, nil, http.StatusCreated)
			mustCall("PUT", "/v1/me/shoutout-settings", creator, "", map[string]any{"enabled": true, "price": 1_000, "capacity": 10}, nil, http.StatusOK)

			const n = 6
			ids := make([]string, n)
			for i := range n {
				var r struct{ ID string }
				mustCall("POST", "/v1/creators/deadline_ayla/shoutouts", fan, fmt.Sprint("so-", i),
					map[string]any{"recipient": "Lina", "occasion": "birthday", "instructions": "Hello!"}, &r, http.StatusCreated)
				ids[i] = r.ID
			}
			placed := time.Now()
			// The first is accepted: its deadline is a week away.
			mustCall("POST", "/v1/shoutouts/"+ids[0]+"/accept", creator, "", nil, nil, http.StatusOK)

			s.cmd.Process.Signal(syscall.SIGKILL)
			<-s.done
			s.done <- nil
			time.Sleep(time.Until(placed.Add(window + 500*time.Millisecond)))
			s = startServer(t, dbURL, flags...)

			var page struct {
				Requests []struct{ ID, State string }
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				mustCall("GET", "/v1/me/shoutouts?role=fan&state=expired", fan, "", nil, &page, http.StatusOK)
				if len(page.Requests) == n-1 || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if len(page.Requests) != n-1 {
				t.Fatalf("%d requests expired after the restart, want %d\n%s", len(page.Requests), n-1, s.logs)
			}
			var one struct{ State string }
			mustCall("GET", "/v1/shoutouts/"+ids[0], fan, "", nil, &one, http.StatusOK)
			if one.State != "accepted" {
				t.Errorf("the accepted request is %s", one.State)
			}
			var w struct{ Coins int64 }
			mustCall("GET", "/v1/me/wallet", fan, "", nil, &w, http.StatusOK)
			if w.Coins != 10_000-1_000 {
				t.Errorf("the fan has %d coins, want 9,000: a refund was lost or made twice", w.Coins)
			}
			var h struct {
				Transactions []struct{ Kind string }
			}
			mustCall("GET", "/v1/me/transactions?kind=shoutout_void&limit=100", fan, "", nil, &h, http.StatusOK)
			if len(h.Transactions) != n-1 {
				t.Errorf("%d refunds in the fan's history, want %d", len(h.Transactions), n-1)
			}
			if out, err := exec.Command(binary(t), "verify", "--db", dbURL, "--quiet").CombinedOutput(); err != nil {
				t.Fatalf("fanfare verify: %v\n%s", err, out)
			}
		})
	}
}
