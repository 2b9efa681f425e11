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
			dbURL := storetest.URL(t, d)
			const window = 3 * time.Second
			flags := []string{"--shoutout-accept-window", window.String()}
			s := startServer(t, dbURL, flags...)
			w := newDeadlineWorld(t, s.url)
			const n = 6
			ids := w.request(t, s.url, n)
			placed := time.Now()
			// The first is accepted: its deadline is a week away.
			w.mustCall(t, s.url, "POST", "/v1/shoutouts/"+ids[0]+"/accept", w.creator, "", nil, nil, http.StatusOK)

			s.cmd.Process.Signal(syscall.SIGKILL)
			<-s.done
			s.done <- nil
			time.Sleep(time.Until(placed.Add(window + 500*time.Millisecond)))
			s = startServer(t, dbURL, flags...)
			w.checkExpired(t, s, dbURL, ids, n-1)
		})
	}
}

// TestDeadlinesOnTwoServers runs two servers on one PostgreSQL, both
// working jobs, while accept deadlines pass: each request is refunded
// exactly once.
func TestDeadlinesOnTwoServers(t *testing.T) {
	t.Parallel()
	dbURL := storetest.URL(t, store.Postgres)
	const window = 2 * time.Second
	flags := []string{"--shoutout-accept-window", window.String()}
	a := startServer(t, dbURL, flags...)
	b := startServer(t, dbURL, flags...)
	w := newDeadlineWorld(t, a.url)
	const n = 20
	ids := make([]string, 0, n)
	ids = append(ids, w.request(t, a.url, n/2)...)
	w.key = "b"
	ids = append(ids, w.request(t, b.url, n/2)...)
	w.mustCall(t, b.url, "POST", "/v1/shoutouts/"+ids[0]+"/accept", w.creator, "", nil, nil, http.StatusOK)
	w.checkExpired(t, b, dbURL, ids, n-1)
}

// deadlineWorld is a creator offering shoutouts at 1,000 coins and a fan
// with 100,000 coins.
type deadlineWorld struct {
	creator, fan string
	key          string // prefixes the requests' idempotency keys
	coins        int64
}

func newDeadlineWorld(t *testing.T, url string) *deadlineWorld {
	t.Helper()
	ctx := context.Background()
	w := &deadlineWorld{key: "a", coins: 100_000}
	user := func(handle, region string) (id, token string) {
		t.Helper()
		var u struct{ ID string }
		code, _, err := call(ctx, "POST", url+"/v1/users", "", "", map[string]any{
			"handle": handle, "password": "correct-horse-battery", "region": region, "birth_date": "1990-05-01",
		}, &u)
		if err != nil || code != http.StatusCreated {
			t.Fatalf("sign up %s: %d %v", handle, code, err)
		}
		var sess struct{ Token string }
		code, _, err = call(ctx, "POST", url+"/v1/auth/login", "", "", map[string]any{"handle": handle, "password": "correct-horse-battery"}, &sess)
		if err != nil || code != http.StatusOK {
			t.Fatalf("log in %s: %d %v", handle, code, err)
		}
		return u.ID, sess.Token
	}
	creatorID, creator := user("deadline_ayla", "TR")
	fanID, fan := user("deadline_sam", "FR")
	w.creator, w.fan = creator, fan
	w.mustCall(t, url, "PATCH", "/v1/users/"+creatorID, testAPIKey, "", map[string]any{"followers": 250_000}, nil, http.StatusOK)
	w.mustCall(t, url, "POST", "/v1/admin/grants", testAPIKey, "g1", map[string]any{"user_id": fanID, "coins": w.coins, "reason": "test"}, nil, http.StatusCreated)
	w.mustCall(t, url, "PUT", "/v1/me/shoutout-settings", creator, "", map[string]any{"enabled": true, "price": 1_000, "capacity": 100}, nil, http.StatusOK)
	return w
}

func (w *deadlineWorld) mustCall(t *testing.T, url, method, path, token, key string, body, out any, want int) {
	t.Helper()
	code, _, err := call(context.Background(), method, url+path, token, key, body, out)
	if err != nil || code != want {
		t.Fatalf("%s %s: %d %v, want %d", method, path, code, err, want)
	}
}

// request has the fan ask for n shoutouts and returns their ids.
func (w *deadlineWorld) request(t *testing.T, url string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		var r struct{ ID string }
		w.mustCall(t, url, "POST", "/v1/creators/deadline_ayla/shoutouts", w.fan, fmt.Sprint(w.key, i),
			map[string]any{"recipient": "Lina", "occasion": "birthday", "instructions": "Hello!"}, &r, http.StatusCreated)
		ids[i] = r.ID
	}
	return ids
}

// checkExpired waits until expired requests are refunded, then checks that
// each was refunded once, that the first (accepted) stays, and that the
// ledger verifies.
func (w *deadlineWorld) checkExpired(t *testing.T, s *server, dbURL string, ids []string, expired int) {
	t.Helper()
	var page struct {
		Requests []struct{ ID, State string }
	}
	ready := time.Now()
	deadline := ready.Add(60 * time.Second)
	for {
		w.mustCall(t, s.url, "GET", "/v1/me/shoutouts?role=fan&state=expired&limit=100", w.fan, "", nil, &page, http.StatusOK)
		if len(page.Requests) == expired || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(page.Requests) != expired {
		t.Fatalf("%d requests expired, want %d\n%s", len(page.Requests), expired, s.logs)
	}
	t.Logf("the %d expired requests were seen refunded %s after the server was ready", expired, time.Since(ready).Round(100*time.Millisecond))
	var one struct{ State string }
	w.mustCall(t, s.url, "GET", "/v1/shoutouts/"+ids[0], w.fan, "", nil, &one, http.StatusOK)
	if one.State != "accepted" {
		t.Errorf("the accepted request is %s", one.State)
	}
	var wallet struct{ Coins int64 }
	w.mustCall(t, s.url, "GET", "/v1/me/wallet", w.fan, "", nil, &wallet, http.StatusOK)
	if wallet.Coins != w.coins-1_000 {
		t.Errorf("the fan has %d coins, want %d: a refund was lost or made twice", wallet.Coins, w.coins-1_000)
	}
	var h struct {
		Transactions []struct{ Kind string }
	}
	w.mustCall(t, s.url, "GET", "/v1/me/transactions?kind=shoutout_void&limit=100", w.fan, "", nil, &h, http.StatusOK)
	if len(h.Transactions) != expired {
		t.Errorf("%d refunds in the fan's history, want %d", len(h.Transactions), expired)
	}
	if out, err := exec.Command(binary(t), "verify", "--db", dbURL, "--quiet").CombinedOutput(); err != nil {
		t.Fatalf("fanfare verify: %v\n%s", err, out)
	}
}
