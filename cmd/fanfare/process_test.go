package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// These tests run the real fanfare binary as a child process, the way an
// operator does, and kill or stop it in the middle of a load.

const testAPIKey = "process-test-key"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the fanfare command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fanfare-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "fanfare")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// server is a fanfare serve child process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	done chan error
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer starts fanfare serve on dbURL and waits until it is ready.
func startServer(t *testing.T, dbURL string) *server {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary(t), "serve", "--db", dbURL, "--addr", addr, "--metrics-addr", "127.0.0.1:0", "--data", t.TempDir(),
		"--api-key", testAPIKey, "--log-level", "warn")
	s := &server{t: t, cmd: cmd, url: "http://" + addr, logs: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
		s.done <- nil
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("fanfare serve exited before it was ready: %v\n%s", err, s.logs)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("fanfare serve not ready after 30s\n%s", s.logs)
	return nil
}

var client = &http.Client{Timeout: 30 * time.Second}

// call sends a JSON request and decodes a JSON answer into out.
func call(ctx context.Context, method, url, token, key string, body, out any) (int, http.Header, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, resp.Header, fmt.Errorf("decode %s: %w", b, err)
		}
	}
	return resp.StatusCode, resp.Header, nil
}

type grantReply struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Coins     int64     `json:"coins"`
	Balance   int64     `json:"balance"`
	CreatedAt time.Time `json:"created_at"`
}

// loadWorld signs up users and returns their ids and tokens.
func signUp(t *testing.T, url string, n int) (ids, tokens []string) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		handle := fmt.Sprintf("crash%d", i)
		var u struct {
			ID string `json:"id"`
		}
		code, _, err := call(ctx, "POST", url+"/v1/users", "", "", map[string]any{
			"handle": handle, "display_name": handle, "password": "correct-horse-battery",
			"region": "FR", "birth_date": "1990-05-01", "account_type": "personal",
		}, &u)
		if err != nil || code != http.StatusCreated {
			t.Fatalf("sign up %s: %d %v", handle, code, err)
		}
		var s struct {
			Token string `json:"token"`
		}
		code, _, err = call(ctx, "POST", url+"/v1/auth/login", "", "", map[string]any{"handle": handle, "password": "correct-horse-battery"}, &s)
		if err != nil || code != http.StatusOK {
			t.Fatalf("login %s: %d %v", handle, code, err)
		}
		ids, tokens = append(ids, u.ID), append(tokens, s.Token)
	}
	return ids, tokens
}

// grantLoad sends grants 0..n-1 from workers goroutines and calls stop once
// stopAfter of them are acknowledged. It returns the acknowledged replies by
// grant number; the others got no answer.
func grantLoad(url string, users []string, n, workers, stopAfter int, stop func()) map[int]grantReply {
	var mu sync.Mutex
	acked := map[int]grantReply{}
	var next, count atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				var g grantReply
				code, _, err := call(context.Background(), "POST", url+"/v1/admin/grants", testAPIKey, "grant-"+strconv.Itoa(i),
					map[string]any{"user_id": users[i%len(users)], "coins": coinsOf(i), "reason": "load"}, &g)
				if err != nil || code != http.StatusCreated {
					continue // no answer (or the server going away): retried later
				}
				mu.Lock()
				acked[i] = g
				mu.Unlock()
				if count.Add(1) == int64(stopAfter) {
					once.Do(stop)
				}
			}
		}()
	}
	wg.Wait()
	return acked
}

func coinsOf(i int) int64 { return int64(i%7 + 1) }

// checkRecovered retries every grant, expects acknowledged ones to replay
// identically and the others to be granted now, then checks every wallet
// holds exactly the grants addressed to it and that verify passes.
func checkRecovered(t *testing.T, s *server, dbURL string, users, tokens []string, n int, acked map[int]grantReply) {
	t.Helper()
	ctx := context.Background()
	var replayed atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				var g grantReply
				code, h, err := call(ctx, "POST", s.url+"/v1/admin/grants", testAPIKey, "grant-"+strconv.Itoa(i),
					map[string]any{"user_id": users[i%len(users)], "coins": coinsOf(i), "reason": "load"}, &g)
				if err != nil || code != http.StatusCreated {
					t.Errorf("retry of grant %d: %d %v", i, code, err)
					return
				}
				if first, ok := acked[i]; ok {
					if h.Get("Idempotent-Replayed") != "true" || g.ID != first.ID || g.Balance != first.Balance || !g.CreatedAt.Equal(first.CreatedAt) {
						t.Errorf("grant %d acknowledged as %+v, replays as %+v (replayed header %q)", i, first, g, h.Get("Idempotent-Replayed"))
					}
				}
				if h.Get("Idempotent-Replayed") == "true" {
					replayed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if int(replayed.Load()) < len(acked) {
		t.Fatalf("%d grants replayed, want at least the %d acknowledged", replayed.Load(), len(acked))
	}
	want := make([]int64, len(users))
	for i := range n {
		want[i%len(users)] += coinsOf(i)
	}
	for u := range users {
		var w struct {
			Coins int64 `json:"coins"`
		}
		if code, _, err := call(ctx, "GET", s.url+"/v1/me/wallet", tokens[u], "", nil, &w); err != nil || code != http.StatusOK {
			t.Fatalf("wallet: %d %v", code, err)
		}
		if w.Coins != want[u] {
			t.Fatalf("wallet(user %d).coins = %d, want %d: a grant was lost or applied twice", u, w.Coins, want[u])
		}
	}
	out, err := exec.Command(binary(t), "verify", "--db", dbURL, "--quiet").CombinedOutput()
	if err != nil {
		t.Fatalf("fanfare verify: %v\n%s", err, out)
	}
	t.Logf("%d of %d grants acknowledged before the stop, %d replayed after it", len(acked), n, replayed.Load())
}

// TestCrashRecovery kills the server with SIGKILL in the middle of a storm
// of grants, restarts it, and retries whatever got no answer: every
// acknowledged grant is there exactly once.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dbURL := storetest.URL(t, d)
			s := startServer(t, dbURL)
			users, tokens := signUp(t, s.url, 8)
			const n = 4000
			acked := grantLoad(s.url, users, n, 48, 1000, func() { s.cmd.Process.Signal(syscall.SIGKILL) })
			if len(acked) >= n {
				t.Fatalf("the server was not killed mid-load (%d of %d acknowledged)", len(acked), n)
			}
			<-s.done
			s.done <- nil
			s = startServer(t, dbURL)
			checkRecovered(t, s, dbURL, users, tokens, n, acked)
		})
	}
}

// TestGracefulShutdown stops the server with SIGTERM in the middle of a
// load: it exits 0, and every grant it acknowledged is durable.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dbURL := storetest.URL(t, d)
			s := startServer(t, dbURL)
			users, tokens := signUp(t, s.url, 4)
			const n = 3000
			acked := grantLoad(s.url, users, n, 32, 500, func() { s.cmd.Process.Signal(syscall.SIGTERM) })
			select {
			case err := <-s.done:
				s.done <- nil
				if err != nil {
					t.Fatalf("fanfare serve after SIGTERM: %v\n%s", err, s.logs)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("fanfare serve did not stop within 30s of SIGTERM\n%s", s.logs)
			}
			s = startServer(t, dbURL)
			checkRecovered(t, s, dbURL, users, tokens, n, acked)
		})
	}
}
