package broker_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/broker"
	"github.com/fanfarehq/fanfare/internal/room"
)

// startNATS starts a NATS server in this process for the test.
func startNATS(t *testing.T) *broker.Server {
	t.Helper()
	s, err := broker.StartServer(0)
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	return s
}

// node is one node's broker and hub, as internal/app wires them.
type node struct {
	b       *broker.NATS
	hub     *room.Hub
	loads   atomic.Int64
	mu      sync.Mutex
	state   room.State // what Load gives
	stopped bool
}

func (n *node) setState(st room.State) {
	n.mu.Lock()
	n.state = st
	n.mu.Unlock()
}

func newNode(t *testing.T, url, name string) *node {
	t.Helper()
	b, err := broker.Connect(broker.Options{URL: url, Node: name, Clock: fanfare.SystemClock{}, Local: room.NewLocal()})
	require.NoError(t, err)
	n := &node{b: b}
	n.hub = room.NewHub(b, room.Options{Tick: 10 * time.Millisecond, Now: time.Now, ViewersEvery: time.Millisecond,
		BoardEvery: time.Millisecond, Elsewhere: b.Elsewhere,
		Load: func(ctx context.Context, id string) (room.State, error) {
			n.loads.Add(1)
			n.mu.Lock()
			defer n.mu.Unlock()
			return n.state, nil
		}})
	b.OnResync(n.hub.Resync)
	b.Start(n.hub.Counts, n.hub.Watching)
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	n.mu.Lock()
	stopped := n.stopped
	n.stopped = true
	n.mu.Unlock()
	if !stopped {
		n.hub.Close()
		n.b.Close()
	}
}

type frame struct {
	Type        string           `json:"type"`
	Viewers     int              `json:"viewers"`
	Leaderboard []room.Gifter    `json:"leaderboard"`
	Recent      []map[string]any `json:"recent"`
	Events      []map[string]any `json:"events"`
}

// until reads v's frames until ok says the one read is what the test
// waits for, for at most 10 s.
func until(t *testing.T, v *room.Viewer, what string, ok func(f frame) bool) frame {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case b := <-v.Frames():
			var f frame
			require.NoError(t, json.Unmarshal(b, &f), "%s", b)
			if ok(f) {
				return f
			}
		case <-deadline:
			t.Fatalf("no frame with %s within 10 s", what)
		}
	}
}

func giftEvent(gifter, giftID string, count int64) room.Event {
	return room.Event{Type: room.TypeGift, At: time.Now().UTC(), Gift: &room.Gift{GifterID: "id-" + gifter, Handle: gifter,
		DisplayName: gifter, GiftID: giftID, Name: giftID, Tier: 1, Count: count, Coins: count}}
}

// gift returns the frame's gift event from gifter, if any.
func (f frame) gift(gifter string) map[string]any {
	for _, e := range f.Events {
		if e["type"] == room.TypeGift && e["gifter"] == gifter {
			return e
		}
	}
	return nil
}

// TestEventsCrossNodes checks that an event published on one node reaches
// the viewers of the room on another, once, with what viewers never see
// (the gifter's id, which carries a combo from one node to the other),
// and the publishing node's own viewers too.
func TestEventsCrossNodes(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	a, b := newNode(t, ns.URL(), "a"), newNode(t, ns.URL(), "b")
	ctx := context.Background()
	va, err := a.hub.Join(ctx, "live-1")
	require.NoError(t, err)
	defer va.Leave()
	vb, err := b.hub.Join(ctx, "live-1")
	require.NoError(t, err)
	defer vb.Leave()
	other, err := b.hub.Join(ctx, "live-2")
	require.NoError(t, err)
	defer other.Leave()

	require.NoError(t, a.b.Publish(ctx, "live-1", giftEvent("sam", "rose", 2)))
	for _, v := range []*room.Viewer{va, vb} {
		f := until(t, v, "sam's gift", func(f frame) bool { return f.gift("sam") != nil })
		require.EqualValues(t, 2, f.gift("sam")["combo"])
	}
	// The combo goes on on the other node: the gifter's id crossed.
	require.NoError(t, b.b.Publish(ctx, "live-1", giftEvent("sam", "rose", 3)))
	for _, v := range []*room.Viewer{va, vb} {
		f := until(t, v, "sam's second gift", func(f frame) bool { return f.gift("sam") != nil })
		require.EqualValues(t, 5, f.gift("sam")["combo"], "the streak counts once across nodes")
	}
	// Another room's viewers hear nothing of it.
	time.Sleep(50 * time.Millisecond)
	for {
		select {
		case raw := <-other.Frames():
			var f frame
			require.NoError(t, json.Unmarshal(raw, &f))
			require.Nil(t, f.gift("sam"), "live-2 got live-1's gift: %s", raw)
			continue
		default:
		}
		break
	}
}

// TestViewerCountsAcrossNodes checks that a room's viewer count is its
// viewers on every node, and that a node that stops takes its viewers out
// of the others' counts.
func TestViewerCountsAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	a, b := newNode(t, ns.URL(), "a"), newNode(t, ns.URL(), "b")
	ctx := context.Background()
	var vs []*room.Viewer
	for range 3 {
		v, err := a.hub.Join(ctx, "live-1")
		require.NoError(t, err)
		vs = append(vs, v)
	}
	for range 2 {
		v, err := b.hub.Join(ctx, "live-1")
		require.NoError(t, err)
		defer v.Leave()
	}
	count := func(f frame) int {
		for _, e := range f.Events {
			if e["type"] == room.TypeViewers {
				return int(e["count"].(float64))
			}
		}
		return -1
	}
	until(t, vs[0], "5 viewers on node a", func(f frame) bool { return count(f) == 5 })
	require.Eventually(t, func() bool { return b.b.Elsewhere("live-1") == 3 }, 10*time.Second, 10*time.Millisecond, "b hears of a's viewers")
	vb, err := b.hub.Join(ctx, "live-1")
	require.NoError(t, err)
	defer vb.Leave()
	st := until(t, vb, "the state frame", func(f frame) bool { return f.Type == room.TypeState })
	require.Equal(t, 6, st.Viewers, "a viewer joining on b counts a's viewers too")
	until(t, vs[0], "6 viewers on node a", func(f frame) bool { return count(f) == 6 })

	a.stop() // its 3 viewers are gone
	until(t, vb, "3 viewers left on node b", func(f frame) bool { return count(f) == 3 })
}

// TestWatchingAcrossNodes checks that the logged-in viewers of a room are
// gathered from every node.
func TestWatchingAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	a, b := newNode(t, ns.URL(), "a"), newNode(t, ns.URL(), "b")
	ctx := context.Background()
	va, err := a.hub.JoinAs(ctx, "live-1", "user-a")
	require.NoError(t, err)
	defer va.Leave()
	vb, err := b.hub.JoinAs(ctx, "live-1", "user-b")
	require.NoError(t, err)
	defer vb.Leave()
	anon, err := b.hub.Join(ctx, "live-1")
	require.NoError(t, err)
	defer anon.Leave()
	require.Eventually(t, func() bool { return a.b.Nodes() == 1 }, 10*time.Second, 20*time.Millisecond, "a hears of b")
	require.Equal(t, []string{"user-b"}, a.b.WatchingElsewhere(ctx, "live-1"))
	require.Empty(t, a.b.WatchingElsewhere(ctx, "live-9"))
}

// TestChatTokensAcrossNodes checks that a chat token taken on one node is
// told to the others.
func TestChatTokensAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	a, b := newNode(t, ns.URL(), "a"), newNode(t, ns.URL(), "b")
	got := make(chan string, 16)
	b.b.OnChat(func(key string, at time.Time) { got <- key })
	reaches(t, func() { a.b.ShareChat("live-1/user-a", time.Now()) }, got, "live-1/user-a")
}

// reaches sends until what it sends arrives on got as want: a subscription
// is in force once the server has it, which may be after the test's first
// send.
func reaches[T any](t *testing.T, send func(), got <-chan T, want T) {
	t.Helper()
	require.Eventually(t, func() bool {
		send()
		select {
		case v := <-got:
			require.Equal(t, want, v)
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}, 10*time.Second, time.Millisecond)
}

// TestOutage checks what a node does while NATS is away: publishing fails
// nothing and still reaches its own viewers, Status says so; and once NATS
// is back, the rooms reload their state (a state frame to every viewer)
// and events cross again.
func TestOutage(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	a, b := newNode(t, ns.URL(), "a"), newNode(t, ns.URL(), "b")
	ctx := context.Background()
	va, err := a.hub.Join(ctx, "live-1")
	require.NoError(t, err)
	defer va.Leave()
	vb, err := b.hub.Join(ctx, "live-1")
	require.NoError(t, err)
	defer vb.Leave()
	for _, v := range []*room.Viewer{va, vb} {
		until(t, v, "the state frame of joining", func(f frame) bool { return f.Type == room.TypeState })
	}
	require.NoError(t, a.b.Status())

	port := ns.Port()
	ns.Stop()
	require.Eventually(t, func() bool { return a.b.Status() != nil && b.b.Status() != nil }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, a.b.Publish(ctx, "live-1", giftEvent("sam", "rose", 1)), "a NATS outage fails no publisher")
	until(t, va, "sam's gift on the publishing node", func(f frame) bool { return f.gift("sam") != nil })

	// What b missed is in what its Load reads once NATS is back.
	b.setState(room.State{Top: []room.Gifter{{Handle: "sam", DisplayName: "sam", Coins: 1}},
		Recent: []room.Event{giftEvent("sam", "rose", 1)}})
	loads := b.loads.Load()
	back, err := broker.StartServer(port)
	require.NoError(t, err)
	t.Cleanup(back.Stop)
	st := until(t, vb, "a state frame after the outage", func(f frame) bool { return f.Type == room.TypeState })
	require.Greater(t, b.loads.Load(), loads, "the room reloaded its state")
	require.Equal(t, []room.Gifter{{Handle: "sam", DisplayName: "sam", Coins: 1}}, st.Leaderboard)
	require.Len(t, st.Recent, 1)
	require.NoError(t, b.b.Status())

	// Events cross again.
	require.Eventually(t, func() bool { return a.b.Status() == nil }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		require.NoError(t, a.b.Publish(ctx, "live-1", giftEvent("mia", "lion", 1)))
		select {
		case raw := <-vb.Frames():
			var f frame
			require.NoError(t, json.Unmarshal(raw, &f))
			return f.gift("mia") != nil
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}, 10*time.Second, time.Millisecond)
}

// TestConnectRefusesBadOptions checks the options Connect refuses before
// it dials.
func TestConnectRefusesBadOptions(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]broker.Options{
		"no URL":           {},
		"bad prefix":       {URL: "nats://127.0.0.1:1", Prefix: "a.b"},
		"cert without key": {URL: "nats://127.0.0.1:1", TLSCert: "/x.pem"},
	} {
		o.Clock, o.Local = fanfare.SystemClock{}, room.NewLocal()
		_, err := broker.Connect(o)
		require.Error(t, err, name)
	}
}

// TestForgetAcrossNodes checks that what a node changed reaches the
// others' caches.
func TestForgetAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	a, b := newNode(t, ns.URL(), "a"), newNode(t, ns.URL(), "b")
	got := make(chan [2]string, 16)
	b.b.OnForget(func(kind, key string) { got <- [2]string{kind, key} })
	reaches(t, func() { a.b.Forget("session", "h1") }, got, [2]string{"session", "h1"})
}

// TestOneNodeReconnects checks that when one node's connection drops and
// comes back (the others never lost theirs), the others' rooms reload
// too: they missed what it published while away.
func TestOneNodeReconnects(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	a, b := newNode(t, ns.URL(), "a"), newNode(t, ns.URL(), "b")
	ctx := context.Background()
	vb, err := b.hub.Join(ctx, "live-1")
	require.NoError(t, err)
	defer vb.Leave()
	until(t, vb, "the state frame of joining", func(f frame) bool { return f.Type == room.TypeState })
	loads := b.loads.Load()
	require.NoError(t, a.b.ForceReconnect())
	until(t, vb, "a state frame once a is back", func(f frame) bool { return f.Type == room.TypeState })
	require.Greater(t, b.loads.Load(), loads)
}
