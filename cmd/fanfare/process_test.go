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

	"github.com/fanfarehq/fanfare/internal/app/apptest"
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
	logs *apptest.LogBuffer
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

// startServer starts fanfare serve on dbURL, with extra flags, and waits
// until it is ready.
func startServer(t *testing.T, dbURL string, extra ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"serve", "--db", dbURL, "--addr", addr, "--metrics-addr", "127.0.0.1:0", "--data", t.TempDir(),
		"--api-key", testAPIKey, "--log-level", "warn", "--drain-delay", "0s"}, extra...)
	cmd := exec.Command(binary(t), args...)
	s := &server{t: t, cmd: cmd, url: "http://" + addr, logs: &apptest.LogBuffer{}, done: make(chan error, 1)}
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

// spendReply is the answer to a gift or a tip, as far as a replay must
// repeat it.
type spendReply struct {
	OpID      string    `json:"op_id"`
	ID        string    `json:"id"` // a tip's id
	Coins     int64     `json:"coins"`
	Diamonds  int64     `json:"diamonds"`
	Balance   int64     `json:"balance"`
	CreatedAt time.Time `json:"created_at"`
}

// spendWorld is a creator on air with Tips on, and fans with coins.
type spendWorld struct {
	liveID      string
	creatorTok  string
	fans, toks  []string
	startCoins  int64
	creatorID   string
	creatorName string
}

// newSpendWorld signs up fans with coins and a creator who turns Tips on
// and goes LIVE.
func newSpendWorld(t *testing.T, url string, fans int) *spendWorld {
	t.Helper()
	ctx := context.Background()
	ids, toks := signUp(t, url, fans+1)
	w := &spendWorld{creatorID: ids[0], creatorTok: toks[0], creatorName: "crash0", fans: ids[1:], toks: toks[1:], startCoins: 50_000}
	must := func(what string, code, want int, err error) {
		t.Helper()
		if err != nil || code != want {
			t.Fatalf("%s: %d %v", what, code, err)
		}
	}
	code, _, err := call(ctx, "PATCH", url+"/v1/users/"+w.creatorID, testAPIKey, "", map[string]any{"followers": 250_000}, nil)
	must("followers", code, http.StatusOK, err)
	code, _, err = call(ctx, "PUT", url+"/v1/me/tip-settings", w.creatorTok, "", map[string]any{"enabled": true}, nil)
	must("tips on", code, http.StatusOK, err)
	var l struct {
		ID string `json:"id"`
	}
	code, _, err = call(ctx, "POST", url+"/v1/lives", w.creatorTok, "", map[string]any{"title": "Crash test"}, &l)
	must("go live", code, http.StatusCreated, err)
	w.liveID = l.ID
	for _, f := range w.fans {
		code, _, err := call(ctx, "POST", url+"/v1/admin/grants", testAPIKey, "start-"+f,
			map[string]any{"user_id": f, "coins": w.startCoins, "reason": "crash test"}, nil)
		must("grant", code, http.StatusCreated, err)
	}
	return w
}

// spend sends spend i: even numbers are gifts in the LIVE (roses, coinsOf(i)
// of them), odd numbers tips, by fan i mod the fans; see spendCoins.
func (w *spendWorld) spend(ctx context.Context, url string, i int) (int, http.Header, spendReply, error) {
	var r spendReply
	code, h, err := w.spendInto(ctx, url, i, &r)
	return code, h, r, err
}

// spendInto sends spend i and decodes its answer, whatever it is, into out.
func (w *spendWorld) spendInto(ctx context.Context, url string, i int, out any) (int, http.Header, error) {
	tok := w.toks[i%len(w.toks)]
	if i%2 == 0 {
		return call(ctx, "POST", url+"/v1/lives/"+w.liveID+"/gifts", tok, "gift-"+strconv.Itoa(i),
			map[string]any{"gift_id": "rose", "count": coinsOf(i)}, out)
	}
	return call(ctx, "POST", url+"/v1/creators/"+w.creatorID+"/tips", tok, "tip-"+strconv.Itoa(i),
		map[string]any{"coins": spendCoins(i), "message": "tip " + strconv.Itoa(i)}, out)
}

// spendCoins is what spend i costs: roses at 1 coin each, or a tip of at
// least the minimum of 10 coins.
func spendCoins(i int) int64 {
	if i%2 == 0 {
		return coinsOf(i)
	}
	return 10 + coinsOf(i)
}

// spendLoad sends spends 0..n-1 from workers goroutines and calls stop
// once stopAfter of them are acknowledged; it returns the acknowledged
// replies by number.
func (w *spendWorld) spendLoad(url string, n, workers, stopAfter int, stop func()) map[int]spendReply {
	return w.spendLoadOn([]string{url}, n, workers, stopAfter, stop)
}

// spendLoadOn is spendLoad spread over several nodes: spends i and i+1
// (a gift and a tip) go to urls[i/2 mod len(urls)].
func (w *spendWorld) spendLoadOn(urls []string, n, workers, stopAfter int, stop func()) map[int]spendReply {
	var mu sync.Mutex
	acked := map[int]spendReply{}
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
				code, _, r, err := w.spend(context.Background(), urls[i/2%len(urls)], i)
				if err != nil || code != http.StatusCreated {
					continue // no answer (or the server going away): retried later
				}
				mu.Lock()
				acked[i] = r
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

// replayAll sends every spend again and returns the answers; every
// acknowledged one must replay as it was first answered. wantReplayed
// requires every answer to be a replay.
func (w *spendWorld) replayAll(t *testing.T, url string, n int, acked map[int]spendReply, wantReplayed bool) map[int]spendReply {
	t.Helper()
	var mu sync.Mutex
	all := map[int]spendReply{}
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
				code, h, r, err := w.spend(context.Background(), url, i)
				if err != nil || code != http.StatusCreated {
					t.Errorf("retry of spend %d: %d %v", i, code, err)
					return
				}
				replayed := h.Get("Idempotent-Replayed") == "true"
				if first, ok := acked[i]; ok && (!replayed || r != first) {
					t.Errorf("spend %d acknowledged as %+v, replays as %+v (replayed header %q)", i, first, r, h.Get("Idempotent-Replayed"))
				}
				if wantReplayed && !replayed {
					t.Errorf("spend %d was applied again: %+v", i, r)
				}
				mu.Lock()
				all[i] = r
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return all
}

// ledgerCounts reads, straight from the database, how many transfers each
// operation has and the tips by id.
func ledgerCounts(t *testing.T, dbURL string) (legs map[string]int, tipRows map[string]int) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string) map[string]int {
		rs, err := db.Read.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		m := map[string]int{}
		for rs.Next() {
			var id string
			var n int
			if err := rs.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			m[id] = n
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	return count(`SELECT op_id, COUNT(*) FROM transfers GROUP BY op_id`), count(`SELECT id, COUNT(*) FROM tips GROUP BY id`)
}

// checkSpendsRecovered retries every spend after the restart, then checks
// that each is in the ledger and in its feature's rows exactly once, that
// wallets, the LIVE's totals and leaderboard and the tips add up, that a
// second replay of every key moves nothing, and that verify passes.
func (w *spendWorld) checkSpendsRecovered(t *testing.T, s *server, dbURL string, n int, acked map[int]spendReply) {
	t.Helper()
	ctx := context.Background()
	all := w.replayAll(t, s.url, n, acked, false)

	legsBefore, tipRows := ledgerCounts(t, dbURL)
	wantFan := make([]int64, len(w.fans))
	var giftCoins, giftDiamonds, tipDiamonds, gifts int64
	fanGifts := map[string]int64{}
	seen := map[string]int{}
	for i := range n {
		r := all[i]
		if r.OpID == "" || legsBefore[r.OpID] == 0 {
			t.Fatalf("spend %d (%+v) has no transfers", i, r)
		}
		if prev, dup := seen[r.OpID]; dup {
			t.Fatalf("spends %d and %d answered with the same operation %s", prev, i, r.OpID)
		}
		seen[r.OpID] = i
		if r.Coins != spendCoins(i) {
			t.Fatalf("spend %d spent %d coins, want %d", i, r.Coins, spendCoins(i))
		}
		wantFan[i%len(w.fans)] += r.Coins
		if i%2 == 0 {
			gifts += coinsOf(i)
			giftCoins += r.Coins
			giftDiamonds += r.Diamonds
			fanGifts[fmt.Sprintf("crash%d", 1+i%len(w.fans))] += r.Coins
		} else {
			tipDiamonds += r.Diamonds
			if tipRows[r.ID] != 1 {
				t.Fatalf("tip %d (%s) has %d rows, want 1", i, r.ID, tipRows[r.ID])
			}
			delete(tipRows, r.ID)
		}
	}
	if len(tipRows) != 0 {
		t.Fatalf("tips rows of no acknowledged tip: %v", tipRows)
	}
	for f, tok := range w.toks {
		var wl struct {
			Coins int64 `json:"coins"`
		}
		if code, _, err := call(ctx, "GET", s.url+"/v1/me/wallet", tok, "", nil, &wl); err != nil || code != http.StatusOK {
			t.Fatalf("wallet: %d %v", code, err)
		}
		if want := w.startCoins - wantFan[f]; wl.Coins != want {
			t.Fatalf("wallet(fan %d).coins = %d, want %d: a spend was lost or applied twice", f, wl.Coins, want)
		}
	}
	var cw struct {
		Diamonds int64 `json:"diamonds"`
	}
	if code, _, err := call(ctx, "GET", s.url+"/v1/me/wallet", w.creatorTok, "", nil, &cw); err != nil || code != http.StatusOK {
		t.Fatalf("creator wallet: %d %v", code, err)
	}
	if cw.Diamonds != giftDiamonds+tipDiamonds {
		t.Fatalf("creator diamonds = %d, want %d", cw.Diamonds, giftDiamonds+tipDiamonds)
	}
	var l struct {
		Gifts, Coins, Diamonds int64
	}
	if code, _, err := call(ctx, "GET", s.url+"/v1/lives/"+w.liveID, "", "", nil, &l); err != nil || code != http.StatusOK {
		t.Fatalf("live: %d %v", code, err)
	}
	if l.Gifts != gifts || l.Coins != giftCoins || l.Diamonds != giftDiamonds {
		t.Fatalf("LIVE totals = %d gifts, %d coins, %d diamonds; want %d, %d, %d", l.Gifts, l.Coins, l.Diamonds, gifts, giftCoins, giftDiamonds)
	}
	var board struct {
		Top []struct {
			Handle string `json:"handle"`
			Coins  int64  `json:"coins"`
		} `json:"top"`
	}
	if code, _, err := call(ctx, "GET", s.url+"/v1/lives/"+w.liveID+"/leaderboard", "", "", nil, &board); err != nil || code != http.StatusOK {
		t.Fatalf("leaderboard: %d %v", code, err)
	}
	got := map[string]int64{}
	for _, g := range board.Top {
		got[g.Handle] = g.Coins
	}
	if fmt.Sprint(got) != fmt.Sprint(fanGifts) {
		t.Fatalf("leaderboard = %v, want %v", got, fanGifts)
	}

	// Every key once more: all replays, nothing moves.
	w.replayAll(t, s.url, n, all, true)
	legsAfter, _ := ledgerCounts(t, dbURL)
	if fmt.Sprint(legsAfter) != fmt.Sprint(legsBefore) {
		t.Fatalf("replays moved money: %d operations before, %d after", len(legsBefore), len(legsAfter))
	}
	out, err := exec.Command(binary(t), "verify", "--db", dbURL, "--quiet").CombinedOutput()
	if err != nil {
		t.Fatalf("fanfare verify: %v\n%s", err, out)
	}
	t.Logf("%d of %d gifts and tips acknowledged before the retries", len(acked), n)
}

// TestCrashRecoverySpends kills the server with SIGKILL while fans send
// LIVE gifts and tips (the pipelined Writes path), restarts it and retries
// whatever got no answer: every acknowledged gift and tip is in the ledger,
// the LIVE's totals and leaderboard and the tips exactly once, and replays
// answer as the first time without moving money.
func TestCrashRecoverySpends(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dbURL := storetest.URL(t, d)
			s := startServer(t, dbURL)
			w := newSpendWorld(t, s.url, 6)
			const n = 800
			acked := w.spendLoad(s.url, n, 48, 250, func() { s.cmd.Process.Signal(syscall.SIGKILL) })
			if len(acked) >= n {
				t.Fatalf("the server was not killed mid-load (%d of %d acknowledged)", len(acked), n)
			}
			<-s.done
			s.done <- nil
			s = startServer(t, dbURL)
			w.checkSpendsRecovered(t, s, dbURL, n, acked)
		})
	}
}
