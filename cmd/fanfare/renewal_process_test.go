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

// renewalPrice is the monthly price of the renewal tests' plan.
const renewalPrice = 100

// renewalWorld is a creator with a one-tier plan and fans with coins, each
// subscribed.
type renewalWorld struct {
	fans  []string // tokens
	subs  []string // subscription ids, one per fan
	coins int64
}

func newRenewalWorld(t *testing.T, url string, fans int) *renewalWorld {
	t.Helper()
	ctx := context.Background()
	w := &renewalWorld{coins: 10_000}
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
	creatorID, creator := user("renew_ayla", "TR")
	mustCall(t, url, "PATCH", "/v1/users/"+creatorID, testAPIKey, "", map[string]any{"followers": 250_000}, nil, http.StatusOK)
	mustCall(t, url, "PUT", "/v1/me/subscription-plan", creator, "", map[string]any{"enabled": true,
		"tiers": []map[string]any{{"name": "Club", "price": renewalPrice}}}, nil, http.StatusOK)
	ids := make([]string, fans)
	for i := range fans {
		id, token := user(fmt.Sprint("renew_fan", i), "FR")
		ids[i] = id
		w.fans = append(w.fans, token)
		mustCall(t, url, "POST", "/v1/admin/grants", testAPIKey, fmt.Sprint("g", i), map[string]any{"user_id": id, "coins": w.coins, "reason": "test"}, nil, http.StatusCreated)
	}
	return w
}

// subscribe subscribes every fan, through the server at url.
func (w *renewalWorld) subscribe(t *testing.T, url string) {
	t.Helper()
	for i, fan := range w.fans {
		var s struct{ ID string }
		mustCall(t, url, "POST", "/v1/creators/renew_ayla/subscriptions", fan, fmt.Sprint("s", i), nil, &s, http.StatusCreated)
		w.subs = append(w.subs, s.ID)
	}
}

// waitMonths waits until every fan's subscription has at least months
// periods paid.
func (w *renewalWorld) waitMonths(t *testing.T, s *server, months int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for i, fan := range w.fans {
		for {
			var sub struct{ Months int }
			mustCall(t, s.url, "GET", "/v1/subscriptions/"+w.subs[i], fan, "", nil, &sub, http.StatusOK)
			if sub.Months >= months {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("fan %d has %d periods paid, want %d\n%s", i, sub.Months, months, s.logs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// check cancels every subscription (no charge comes after), then checks
// that each fan paid exactly once for each period their subscription
// counts, and that the ledger verifies.
func (w *renewalWorld) check(t *testing.T, s *server, dbURL string, atLeast int) {
	t.Helper()
	total := 0
	for i, fan := range w.fans {
		mustCall(t, s.url, "DELETE", "/v1/subscriptions/"+w.subs[i], fan, "", nil, nil, http.StatusOK)
	}
	// A renewal already running when the cancellation landed may still
	// commit: let it.
	time.Sleep(500 * time.Millisecond)
	for i, fan := range w.fans {
		var sub struct{ Months int }
		mustCall(t, s.url, "GET", "/v1/subscriptions/"+w.subs[i], fan, "", nil, &sub, http.StatusOK)
		var wallet struct{ Coins int64 }
		mustCall(t, s.url, "GET", "/v1/me/wallet", fan, "", nil, &wallet, http.StatusOK)
		if want := w.coins - int64(sub.Months)*renewalPrice; wallet.Coins != want || sub.Months < atLeast {
			t.Errorf("fan %d: %d periods, %d coins left, want %d: a period charged twice or not at all", i, sub.Months, wallet.Coins, want)
		}
		var h struct {
			Transactions []struct{ Kind string }
		}
		mustCall(t, s.url, "GET", "/v1/me/transactions?kind=subscription&limit=100", fan, "", nil, &h, http.StatusOK)
		if len(h.Transactions) != sub.Months {
			t.Errorf("fan %d: %d subscription payments in the history, want %d", i, len(h.Transactions), sub.Months)
		}
		total += sub.Months
	}
	t.Logf("%d fans, %d periods paid in all", len(w.fans), total)
	if out, err := exec.Command(binary(t), "verify", "--db", dbURL, "--quiet").CombinedOutput(); err != nil {
		t.Fatalf("fanfare verify: %v\n%s", err, out)
	}
}

func mustCall(t *testing.T, url, method, path, token, key string, body, out any, want int) {
	t.Helper()
	code, _, err := call(context.Background(), method, url+path, token, key, body, out)
	if err != nil || code != want {
		t.Fatalf("%s %s: %d %v, want %d", method, path, code, err, want)
	}
}

// TestRenewalsAcrossACrash kills the server (SIGKILL) while the first
// renewals fall due: started again, it renews every subscription, each
// period charged exactly once.
func TestRenewalsAcrossACrash(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dbURL := storetest.URL(t, d)
			const period = 5 * time.Second
			flags := []string{"--subscription-period", period.String(), "--auth-attempts-per-minute", "0"}
			s := startServer(t, dbURL, flags...)
			w := newRenewalWorld(t, s.url, 12)
			start := time.Now()
			w.subscribe(t, s.url)
			// Killed as the renewals run: some paid, some not yet.
			time.Sleep(time.Until(start.Add(period + 150*time.Millisecond)))
			s.cmd.Process.Signal(syscall.SIGKILL)
			<-s.done
			s.done <- nil
			s = startServer(t, dbURL, flags...)
			w.waitMonths(t, s, 2)
			w.check(t, s, dbURL, 2)
		})
	}
}

// TestRenewalsOnTwoServers runs two servers on one PostgreSQL, both
// working jobs, through several renewals: each period is charged once.
func TestRenewalsOnTwoServers(t *testing.T) {
	t.Parallel()
	dbURL := storetest.URL(t, store.Postgres)
	const period = 2 * time.Second
	flags := []string{"--subscription-period", period.String(), "--auth-attempts-per-minute", "0"}
	a := startServer(t, dbURL, flags...)
	b := startServer(t, dbURL, flags...)
	w := newRenewalWorld(t, a.url, 12)
	w.subscribe(t, b.url)
	w.waitMonths(t, a, 4)
	w.check(t, b, dbURL, 4)
}
