package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fanfarehq/fanfare/internal/blob/blobtest"
	"github.com/fanfarehq/fanfare/internal/broker"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// These tests run several fanfare serve processes on one PostgreSQL
// database, one NATS server (in this process: a real nats-server) and one
// S3-compatible bucket, as a deployment behind a load balancer does.

// startCluster starts n nodes on a fresh PostgreSQL database, a NATS
// server in this process and an S3-compatible bucket.
func startCluster(t *testing.T, n int) (dbURL string, ns *broker.Server, nodes []*server) {
	t.Helper()
	dbURL = storetest.URL(t, store.Postgres)
	ns, err := broker.StartServer(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	return dbURL, ns, startNodes(t, dbURL, ns.URL(), blobtest.S3(t), n)
}

// startNodes starts n nodes on dbURL joined by the NATS server at natsURL.
func startNodes(t *testing.T, dbURL, natsURL, blobURL string, n int) []*server {
	t.Helper()
	nodes := make([]*server, n)
	for i := range n {
		nodes[i] = startServer(t, dbURL, "--nats-url", natsURL, "--node", "node"+string(rune('a'+i)), "--blob-url", blobURL)
	}
	return nodes
}

// roomFrame is a room feed frame as a viewer reads it.
type roomFrame struct {
	Type        string           `json:"type"`
	Viewers     int              `json:"viewers"`
	Leaderboard []map[string]any `json:"leaderboard"`
	Events      []map[string]any `json:"events"`
}

// feed is a viewer's room feed WebSocket: its frames, decoded, in order.
type feed struct {
	conn   *websocket.Conn
	frames chan roomFrame
	closed chan error
}

func watch(t *testing.T, url, liveID string) *feed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/v1/lives/"+liveID+"/events", nil)
	if err != nil {
		t.Fatalf("watch %s on %s: %v", liveID, url, err)
	}
	conn.SetReadLimit(1 << 20)
	f := &feed{conn: conn, frames: make(chan roomFrame, 4096), closed: make(chan error, 1)}
	go func() {
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				f.closed <- err
				close(f.frames)
				return
			}
			var fr roomFrame
			if json.Unmarshal(b, &fr) == nil {
				select {
				case f.frames <- fr:
				default: // the test reads what it waits for; the rest may go
				}
			}
		}
	}()
	t.Cleanup(func() { conn.CloseNow() })
	return f
}

// until reads the feed's frames until ok accepts one, for at most wait.
func (f *feed) until(t *testing.T, what string, wait time.Duration, ok func(roomFrame) bool) roomFrame {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case fr, open := <-f.frames:
			if !open {
				t.Fatalf("the feed closed before %s: %v", what, <-f.closed)
			}
			if ok(fr) {
				return fr
			}
		case <-deadline:
			t.Fatalf("no frame with %s within %s", what, wait)
		}
	}
}

func (fr roomFrame) giftFrom(handle string) bool {
	for _, e := range fr.Events {
		if e["type"] == "gift" && e["gifter"] == handle {
			return true
		}
	}
	return false
}

func (fr roomFrame) viewerCount() int {
	if fr.Type == "state" {
		return fr.Viewers
	}
	for _, e := range fr.Events {
		if e["type"] == "viewers" {
			return int(e["count"].(float64))
		}
	}
	return -1
}

// cacheBound is how long a node may act on a session or a user another
// node changed: the change is told through NATS at once, and without NATS
// the caches forget within account.SessionCacheTTL and UserCacheTTL (1 s).
const cacheBound = time.Second

// refusedWithin polls do until its answer is refused (4xx), and fails
// unless it is within bound.
func refusedWithin(t *testing.T, what string, bound time.Duration, do func() int) {
	t.Helper()
	start := time.Now()
	for {
		code := do()
		if code == http.StatusUnauthorized || code == http.StatusForbidden {
			t.Logf("%s: refused %s after the change", what, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > bound {
			t.Fatalf("%s: still %d %s after the change, want 401 or 403 within %s", what, code, time.Since(start).Round(time.Millisecond), bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNodesServeOneLive runs three nodes and checks that they serve one
// LIVE as one: a gift sent through one node reaches viewers on the
// others, viewer counts are the room's on every node, a log-out and a ban
// made through one node hold on the others within the caches' second, and
// a file stored through one node is served by another.
func TestNodesServeOneLive(t *testing.T) {
	t.Parallel()
	_, _, nodes := startCluster(t, 3)
	w := newSpendWorld(t, nodes[0].url, 3)
	ctx := context.Background()

	onB, onC := watch(t, nodes[1].url, w.liveID), watch(t, nodes[2].url, w.liveID)
	onB.until(t, "the state frame", 10*time.Second, func(fr roomFrame) bool { return fr.Type == "state" })
	onC.until(t, "the state frame", 10*time.Second, func(fr roomFrame) bool { return fr.Type == "state" })

	// A gift through node a reaches the viewers of nodes b and c.
	if code, _, _, err := w.spend(ctx, nodes[0].url, 0); err != nil || code != http.StatusCreated {
		t.Fatalf("gift through node a: %d %v", code, err)
	}
	for _, f := range []*feed{onB, onC} {
		f.until(t, "crash1's gift from node a", 10*time.Second, func(fr roomFrame) bool { return fr.giftFrom("crash1") })
	}
	// Two viewers, one on each of two nodes: every node counts both.
	onB.until(t, "2 viewers", 10*time.Second, func(fr roomFrame) bool { return fr.viewerCount() == 2 })
	onA := watch(t, nodes[0].url, w.liveID)
	st := onA.until(t, "the state frame", 10*time.Second, func(fr roomFrame) bool { return fr.Type == "state" })
	if st.Viewers != 3 {
		t.Fatalf("a viewer joining on node a sees %d viewers, want 3 (one on each node)", st.Viewers)
	}
	if len(st.Leaderboard) != 1 || st.Leaderboard[0]["handle"] != "crash1" {
		t.Fatalf("leaderboard on joining node a = %v, want crash1's gift", st.Leaderboard)
	}
	onC.until(t, "3 viewers", 10*time.Second, func(fr roomFrame) bool { return fr.viewerCount() == 3 })

	// A log-out through node a holds on node b within the bound.
	me := func(url, tok string) int {
		code, _, err := call(ctx, "GET", url+"/v1/me", tok, "", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	if code := me(nodes[1].url, w.toks[0]); code != http.StatusOK {
		t.Fatalf("GET /v1/me on node b: %d", code)
	}
	if code, _, err := call(ctx, "POST", nodes[0].url+"/v1/auth/logout", w.toks[0], "", nil, nil); err != nil || code >= 300 {
		t.Fatalf("log out on node a: %d %v", code, err)
	}
	refusedWithin(t, "a session logged out on node a, used on node b", cacheBound,
		func() int { return me(nodes[1].url, w.toks[0]) })

	// A ban through node a holds on node c: the fan's gifts are refused.
	gift := func(i int) int {
		code, _, _, err := w.spend(ctx, nodes[2].url, i)
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	// Spend i is fan i mod 3's, a gift when i is even: 1000, 1006... are
	// fan 1's gifts.
	if code := gift(1000); code != http.StatusCreated {
		t.Fatalf("a gift through node c before the ban: %d", code)
	}
	if code, _, err := call(ctx, "PATCH", nodes[0].url+"/v1/users/"+w.fans[1], testAPIKey, "", map[string]any{"standing": "banned"}, nil); err != nil || code != http.StatusOK {
		t.Fatalf("ban on node a: %d %v", code, err)
	}
	i := 1000
	refusedWithin(t, "a fan banned on node a, sending gifts on node c", cacheBound, func() int {
		i += 6
		return gift(i)
	})

	// An emote uploaded through node a (into the shared bucket) is
	// served by node b.
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", nodes[0].url+"/v1/me/emotes?name=hype", bytes.NewReader(img.Bytes()))
	req.Header.Set("Authorization", "Bearer "+w.creatorTok)
	req.Header.Set("Content-Type", "image/png")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var emote struct {
		ImageURL string `json:"image_url"`
	}
	err = json.NewDecoder(resp.Body).Decode(&emote)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload an emote through node a: %d %v", resp.StatusCode, err)
	}
	resp, err = client.Get(nodes[1].url + emote.ImageURL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, img.Bytes()) {
		t.Fatalf("the emote through node b: %d, %d bytes; want 200 and the %d bytes uploaded", resp.StatusCode, len(got), img.Len())
	}
}

// TestNodeKilledUnderLoad kills one node of three with SIGKILL while fans
// send gifts and tips through all three: the spends that got no answer
// are retried on another node with the same idempotency keys; every
// acknowledged one is in the ledger exactly once, nothing is doubled,
// verify passes; the dead node's viewer reconnects to another node and
// gets the room's state; and a job the dead node was running is run by
// another node.
func TestNodeKilledUnderLoad(t *testing.T) {
	t.Parallel()
	dbURL, _, nodes := startCluster(t, 3)
	w := newSpendWorld(t, nodes[0].url, 6)
	viewer := watch(t, nodes[1].url, w.liveID)
	viewer.until(t, "the state frame", 10*time.Second, func(fr roomFrame) bool { return fr.Type == "state" })

	const n = 900
	urls := []string{nodes[0].url, nodes[1].url, nodes[2].url}
	acked := w.spendLoadOn(urls, n, 48, 300, func() { nodes[1].cmd.Process.Signal(syscall.SIGKILL) })
	if len(acked) >= n {
		t.Fatalf("node b was not killed mid-load (%d of %d acknowledged)", len(acked), n)
	}
	<-nodes[1].done
	nodes[1].done <- nil
	job := leaveJobRunning(t, dbURL)
	select {
	case <-viewer.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the dead node's viewer was not disconnected")
	}
	// The viewer reconnects through the load balancer: to node c.
	again := watch(t, nodes[2].url, w.liveID)
	st := again.until(t, "the state frame", 10*time.Second, func(fr roomFrame) bool { return fr.Type == "state" })
	if len(st.Leaderboard) == 0 {
		t.Fatal("the reconnected viewer's state frame has no leaderboard")
	}
	w.checkSpendsRecovered(t, nodes[2], dbURL, n, acked)
	job.runElsewhere(t, 2*time.Minute)
}

// runningJob is a job row left running by a node that died.
type runningJob struct {
	db *store.DB
	id int64
}

// leaveJobRunning leaves a job as a node killed while running it leaves
// it: running, attempted by that node, never finished. Its attempt is
// dated an hour back, past the time after which the nodes rescue a job
// (5 minutes), so that the test need not wait that long. The job is a real
// kind the nodes run (a shoutout accept deadline, of a request since gone:
// it has nothing to do and completes).
func leaveJobRunning(t *testing.T, dbURL string) *runningJob {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	j := &runningJob{db: db}
	err = db.Write.QueryRowContext(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state, attempt, attempted_at, attempted_by, priority, scheduled_at)
		VALUES ('{"id":"gone","at":0}', 'shoutout.accept_deadline', 25, 'default', 'running', 1, now() - interval '1 hour', ARRAY['dead-node'], 1, now() - interval '1 hour')
		RETURNING id`).Scan(&j.id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// runElsewhere waits until another node has rescued the job and run it to
// completion.
func (j *runningJob) runElsewhere(t *testing.T, wait time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		var state, by string
		err := j.db.Read.QueryRowContext(context.Background(),
			`SELECT state, COALESCE(attempted_by[array_length(attempted_by, 1)], '') FROM river_job WHERE id = $1`, j.id).Scan(&state, &by)
		if err != nil {
			t.Fatal(err)
		}
		if state == "completed" && by != "dead-node" {
			t.Logf("the dead node's job was rescued and run by %s %s after its death was staged", by, time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Since(start) > wait {
			t.Fatalf("the dead node's job is %s (last attempted by %q) %s later; want completed by another node", state, by, wait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestNATSOutageUnderLoad stops NATS for a while under gift load and
// starts it again: no gift is lost from the ledger (they commit and answer
// throughout), the readiness endpoint says so meanwhile, each node's
// viewers keep that node's gifts, and once NATS is back the feeds catch up
// with a state frame and gifts cross nodes again; the viewer counts
// converge.
func TestNATSOutageUnderLoad(t *testing.T) {
	t.Parallel()
	dbURL, ns, nodes := startCluster(t, 2) // ns stops twice: harmless
	port := ns.Port()
	w := newSpendWorld(t, nodes[0].url, 4)
	ctx := context.Background()
	onA, onB := watch(t, nodes[0].url, w.liveID), watch(t, nodes[1].url, w.liveID)
	onB.until(t, "2 viewers", 10*time.Second, func(fr roomFrame) bool { return fr.viewerCount() == 2 })

	ready := func(url string) (status, broker string) {
		var r struct{ Status, Broker string }
		if code, _, err := call(ctx, "GET", url+"/readyz", "", "", nil, &r); err != nil || code != http.StatusOK {
			t.Fatalf("readyz: %d %v", code, err)
		}
		return r.Status, r.Broker
	}
	if st, b := ready(nodes[0].url); st != "ready" || b != "connected" {
		t.Fatalf("readyz before the outage = %s, %s", st, b)
	}

	// The load sends spends 0 to n-5; spends n-4 (crash1's gift) and n-2
	// (crash3's) are sent below, through node a, during the outage and
	// after it.
	const n = 600
	urls := []string{nodes[0].url, nodes[1].url}
	stopped := make(chan struct{})
	acked := w.spendLoadOn(urls, n-4, 16, 100, func() {
		ns.Stop()
		close(stopped)
	})
	<-stopped
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		st, b := ready(nodes[1].url)
		if st == "degraded" && strings.Contains(b, "NATS") {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("readyz 5 s into the outage = %s, %q; want degraded, with what NATS is doing", st, b)
		}
	}
	// Node a's viewer still gets node a's gifts.
	code, _, r, err := w.spend(ctx, nodes[0].url, n-4)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("a gift through node a while NATS is away: %d %v", code, err)
	}
	acked[n-4] = r
	onA.until(t, "node a's gift while NATS is away", 10*time.Second, func(fr roomFrame) bool { return fr.giftFrom("crash1") })
	time.Sleep(10 * time.Second)

	back, err := broker.StartServer(port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(back.Stop)
	// Node b's viewer gets the room's state again, with what it missed.
	onB.until(t, "a state frame after the outage", 20*time.Second, func(fr roomFrame) bool { return fr.Type == "state" })
	deadline := time.Now().Add(20 * time.Second)
	for _, node := range nodes {
		for {
			if st, _ := ready(node.url); st == "ready" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz of %s still degraded 20 s after NATS came back", node.url)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, node := range nodes {
				t.Logf("%s:\n%s", node.url, node.logs)
			}
		}
	})
	// Gifts cross again, and the count converges.
	code, _, r, err = w.spend(ctx, nodes[0].url, n-2)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("a gift through node a after the outage: %d %v", code, err)
	}
	acked[n-2] = r
	// The count may have come back before the gift: the last count
	// shown is what the viewer sees.
	shown := -1
	onB.until(t, "node a's gift on node b after the outage", 10*time.Second, func(fr roomFrame) bool {
		if c := fr.viewerCount(); c >= 0 {
			shown = c
		}
		return fr.giftFrom("crash3")
	})
	if shown != 2 {
		onB.until(t, "2 viewers after the outage", 10*time.Second, func(fr roomFrame) bool { return fr.viewerCount() == 2 })
	}

	// Every spend is in the ledger once (n-3 and n-1 are sent by the
	// check's retries).
	w.checkSpendsRecovered(t, nodes[1], dbURL, n, acked)
}
