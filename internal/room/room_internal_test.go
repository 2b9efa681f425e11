package room

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 15, 20, 0, 0, 0, time.UTC)

// manualHub is a hub whose rooms tick only when the test calls flush, with
// the time it gives.
func manualHub(t *testing.T, opts Options) (*Hub, *Local) {
	t.Helper()
	opts.Tick = time.Hour
	opts.Now = func() time.Time { return t0 }
	b := NewLocal()
	h := NewHub(b, opts)
	t.Cleanup(h.Close)
	return h, b
}

func (h *Hub) room(id string) *Room {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rooms[id]
}

type decoded struct {
	Type        string   `json:"type"`
	Seq         int64    `json:"seq"`
	Viewers     int      `json:"viewers"`
	Leaderboard []Gifter `json:"leaderboard"`
	Recent      []map[string]any
	Ended       bool `json:"ended"`
	Events      []map[string]any
}

func next(t *testing.T, v *Viewer) decoded {
	t.Helper()
	select {
	case b := <-v.Frames():
		var d decoded
		require.NoError(t, json.Unmarshal(b, &d), "%s", b)
		return d
	default:
		t.Fatal("no frame waiting")
		return decoded{}
	}
}

func noFrame(t *testing.T, v *Viewer) {
	t.Helper()
	select {
	case b := <-v.Frames():
		t.Fatalf("unexpected frame %s", b)
	default:
	}
}

func gift(gifter, name string, count int64, at time.Time) Event {
	return Event{Type: TypeGift, At: at, Gift: &Gift{GifterID: "id-" + gifter, Handle: gifter, DisplayName: gifter + " D",
		GiftID: name, Name: name, Tier: 1, Count: count, Coins: count}}
}

func TestCombos(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, b := manualHub(t, Options{ComboWindow: 3 * time.Second, BoardEvery: time.Nanosecond, ViewersEvery: time.Hour})
	v, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer v.Leave()
	st := next(t, v)
	require.Equal(t, TypeState, st.Type)
	require.Equal(t, 1, st.Viewers)
	r := h.room("live1")

	// Five roses and a lion in one tick: two events.
	for i := range 5 {
		require.NoError(t, b.Publish(ctx, "live1", gift("sam", "rose", 1, t0.Add(time.Duration(i)*time.Millisecond))))
	}
	require.NoError(t, b.Publish(ctx, "live1", gift("sam", "lion", 1, t0)))
	r.flush(t0.Add(75 * time.Millisecond))
	f := next(t, v)
	require.Equal(t, int64(1), f.Seq)
	require.Len(t, f.Events, 4) // rose, lion, viewers (first count), leaderboard
	require.Equal(t, "gift", f.Events[0]["type"])
	require.Equal(t, "rose", f.Events[0]["gift_id"])
	require.NotContains(t, f.Events[0], "at", "a gift event's time is its frame's")
	require.Equal(t, "sam", f.Events[0]["gifter"])
	require.Equal(t, "sam D", f.Events[0]["gifter_name"])
	require.EqualValues(t, 5, f.Events[0]["count"])
	require.EqualValues(t, 5, f.Events[0]["combo"])
	require.Equal(t, "lion", f.Events[1]["gift_id"])
	require.EqualValues(t, 1, f.Events[1]["combo"])

	// Within the window the combo goes on: ×7.
	require.NoError(t, b.Publish(ctx, "live1", gift("sam", "rose", 2, t0.Add(3*time.Second))))
	r.flush(t0.Add(3*time.Second + 75*time.Millisecond))
	f = next(t, v)
	require.EqualValues(t, 2, f.Events[0]["count"])
	require.EqualValues(t, 7, f.Events[0]["combo"])

	// After a pause longer than the window it starts again.
	require.NoError(t, b.Publish(ctx, "live1", gift("sam", "rose", 1, t0.Add(6*time.Second+time.Millisecond))))
	r.flush(t0.Add(6*time.Second + 75*time.Millisecond))
	f = next(t, v)
	require.EqualValues(t, 1, f.Events[0]["combo"])

	// Nothing happened: no frame.
	r.flush(t0.Add(7 * time.Second))
	noFrame(t, v)
}

func TestThrottledUpdates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, b := manualHub(t, Options{BoardEvery: 500 * time.Millisecond, ViewersEvery: time.Second})
	v, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer v.Leave()
	next(t, v)
	r := h.room("live1")

	types := func(f decoded) []string {
		var out []string
		for _, e := range f.Events {
			out = append(out, e["type"].(string))
		}
		return out
	}
	// Gifts every 100 ms for 1.2 s: every tick has its gift, the
	// leaderboard comes at most every 500 ms, the viewer count once.
	var got [][]string
	for i := range 12 {
		now := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		require.NoError(t, b.Publish(ctx, "live1", gift(fmt.Sprint("fan", i), "rose", 1, now)))
		r.flush(now)
		got = append(got, types(next(t, v)))
	}
	require.Equal(t, []string{"gift", "viewers", "leaderboard"}, got[0])
	for i, g := range got {
		switch i {
		case 0:
		case 5, 10:
			require.Equal(t, []string{"gift", "leaderboard"}, g, "tick %d", i)
		default:
			require.Equal(t, []string{"gift"}, g, "tick %d", i)
		}
	}

	// A second viewer: the count is sent once a second has passed.
	w, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer w.Leave()
	st := next(t, w)
	require.Equal(t, 2, st.Viewers)
	r.flush(t0.Add(1100 * time.Millisecond))
	f := next(t, v)
	require.Equal(t, []string{"viewers"}, types(f))
	require.EqualValues(t, 2, f.Events[0]["count"])
}

func TestSlowViewerDropped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var dropped atomic.Int64
	h, b := manualHub(t, Options{Queue: 4, Dropped: func() { dropped.Add(1) }})
	slow, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer slow.Leave()
	fast, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer fast.Leave()
	next(t, fast)
	r := h.room("live1")

	for i := range 10 {
		now := t0.Add(time.Duration(i) * time.Second)
		require.NoError(t, b.Publish(ctx, "live1", gift("sam", "rose", 1, now)))
		r.flush(now)
		f := next(t, fast)
		require.Equal(t, int64(i+1), f.Seq) // the fast one misses nothing
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("the slow viewer was not dropped")
	}
	require.Equal(t, "slow", slow.Reason())
	require.Equal(t, int64(1), dropped.Load())
	r.mu.Lock()
	require.Len(t, r.viewers, 1)
	r.mu.Unlock()
}

func TestJoinGetsState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, b := manualHub(t, Options{Recent: 3, Load: func(context.Context, string) (State, error) {
		return State{Top: []Gifter{{Handle: "lea", DisplayName: "Léa", Coins: 45}}}, nil
	}})
	v, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer v.Leave()
	st := next(t, v)
	require.Equal(t, []Gifter{{Handle: "lea", DisplayName: "Léa", Coins: 45}}, st.Leaderboard)
	r := h.room("live1")
	for i := range 5 {
		require.NoError(t, b.Publish(ctx, "live1", gift(fmt.Sprint("fan", i), "rose", 10*int64(i+1), t0)))
	}
	require.NoError(t, b.Publish(ctx, "live1", Event{Type: TypeChat, At: t0, Chat: &Chat{Handle: "sam", Text: "hi"}}))
	r.flush(t0)

	w, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer w.Leave()
	st = next(t, w)
	require.Equal(t, TypeState, st.Type)
	require.Equal(t, int64(1), st.Seq)
	require.Equal(t, 2, st.Viewers)
	require.Equal(t, "fan4", st.Leaderboard[0].Handle)
	require.Equal(t, int64(50), st.Leaderboard[0].Coins)
	require.Equal(t, "lea", st.Leaderboard[1].Handle)
	require.Len(t, st.Recent, 3)
	require.Equal(t, "chat", st.Recent[2]["type"])
	require.Equal(t, "hi", st.Recent[2]["text"])
	// Recent gifts keep their time (a frame's gifts have the frame's).
	require.Equal(t, "fan4", st.Recent[1]["gifter"])
	require.Equal(t, t0.UTC().Format(time.RFC3339Nano), st.Recent[1]["at"])
}

func TestLiveEnded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, b := manualHub(t, Options{})
	v, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer v.Leave()
	next(t, v)
	r := h.room("live1")
	require.NoError(t, b.Publish(ctx, "live1", gift("sam", "rose", 1, t0)))
	require.NoError(t, b.Publish(ctx, "live1", Event{Type: TypeLiveEnded, At: t0}))
	r.flush(t0)
	f := next(t, v)
	last := f.Events[len(f.Events)-1]
	require.Equal(t, "live_ended", last["type"])
	require.Equal(t, "ended", v.Reason())

	// A late viewer learns at once that it is over.
	w, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer w.Leave()
	st := next(t, w)
	require.True(t, st.Ended)
	require.Equal(t, "ended", w.Reason())
}

// Real tickers, many publishers, viewers joining and leaving: run with
// -race. Every viewer that stays sees frames in order.
func TestHubConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := NewLocal()
	h := NewHub(b, Options{Tick: 5 * time.Millisecond, Queue: 1024, Now: time.Now})
	var wg, viewers sync.WaitGroup
	stop := make(chan struct{})
	for i := range 4 {
		wg.Go(func() {
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				_ = b.Publish(ctx, "live1", gift(fmt.Sprint("fan", i), "rose", 1, time.Now()))
				time.Sleep(100 * time.Microsecond)
			}
		})
	}
	for range 8 {
		viewers.Go(func() {
			for range 5 {
				v, err := h.Join(ctx, "live1")
				if err != nil {
					t.Error(err)
					return
				}
				var last int64 = -1
				for range 3 {
					select {
					case fr := <-v.Frames():
						var d decoded
						if err := json.Unmarshal(fr, &d); err != nil {
							t.Error(err)
						}
						if last >= 0 && d.Seq != last+1 {
							t.Errorf("seq %d after %d", d.Seq, last)
						}
						last = d.Seq
					case <-time.After(5 * time.Second):
						t.Error("no frame")
					}
				}
				v.Leave()
			}
		})
	}
	viewers.Wait()
	close(stop)
	wg.Wait()
	h.Close()
	_, err := h.Join(ctx, "live1")
	require.ErrorIs(t, err, ErrClosed)
}

func TestTickGrowsWithTheRoom(t *testing.T) {
	t.Parallel()
	o := Options{}
	o.defaults()
	for n, want := range map[int]time.Duration{0: 75 * time.Millisecond, 3999: 75 * time.Millisecond,
		4000: 150 * time.Millisecond, 5000: 150 * time.Millisecond, 8000: 225 * time.Millisecond} {
		if got := o.tickFor(n); got != want {
			t.Errorf("tickFor(%d) = %v, want %v", n, got, want)
		}
	}
}

func (h *Hub) followed() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for id := range h.feeds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func recentTypes(st decoded) []string {
	var out []string
	for _, e := range st.Recent {
		s := e["type"].(string)
		if t, ok := e["text"].(string); ok {
			s += ":" + t
		}
		if c, ok := e["combo"].(float64); ok {
			s += fmt.Sprintf(":%s×%v", e["gift_id"], c)
		}
		out = append(out, s)
	}
	return out
}

// Once its last viewer leaves, a room's recent events stay for the next
// one while the LIVE is on air: those sent, those the room had not sent
// yet, and those published while nobody watched, chat included.
func TestRecentEventsOutliveTheViewers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, b := manualHub(t, Options{Recent: 5, Load: func(context.Context, string) (State, error) {
		return State{Recent: []Event{{Type: TypeChat, At: t0, Chat: &Chat{Handle: "db", Text: "stored"}}}}, nil
	}})
	v, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	require.Equal(t, []string{"chat:stored"}, recentTypes(next(t, v)), "a room the hub did not follow starts from Load")
	r := h.room("live1")
	require.NoError(t, b.Publish(ctx, "live1", gift("sam", "rose", 2, t0)))
	r.flush(t0)
	next(t, v)
	require.NoError(t, b.Publish(ctx, "live1", Event{Type: TypeChat, At: t0, Chat: &Chat{Handle: "sam", Text: "unsent"}}))
	v.Leave()
	require.Equal(t, []string{"live1"}, h.followed())

	require.NoError(t, b.Publish(ctx, "live1", Event{Type: TypeChat, At: t0, Chat: &Chat{Handle: "omar", Text: "anyone?"}}))
	require.NoError(t, b.Publish(ctx, "live1", gift("sam", "rose", 3, t0.Add(time.Second))))
	w, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	st := next(t, w)
	require.Equal(t, []string{"chat:stored", "gift:rose×2", "chat:unsent", "chat:anyone?", "gift:rose×5"}, recentTypes(st),
		"the combo goes on; Load's recent events are not added twice")
	require.Equal(t, 1, st.Viewers)

	// The LIVE ends while nobody watches: the hub stops following it, and
	// a late viewer reads that it is over, with nobody watching.
	w.Leave()
	require.NoError(t, b.Publish(ctx, "live1", Event{Type: TypeLiveEnded, At: t0}))
	h.mu.Lock()
	h.sweep()
	h.mu.Unlock()
	require.Empty(t, h.followed())
	h.opts.Load = func(context.Context, string) (State, error) { return State{Ended: true}, nil }
	x, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	st = next(t, x)
	require.True(t, st.Ended)
	require.Equal(t, 0, st.Viewers)
	require.Equal(t, "ended", x.Reason())
	x.Leave()
}

// The frame that ends a LIVE counts nobody watching.
func TestEndedRoomCountsNobody(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, b := manualHub(t, Options{ViewersEvery: time.Nanosecond})
	v, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer v.Leave()
	next(t, v)
	r := h.room("live1")
	require.NoError(t, b.Publish(ctx, "live1", Event{Type: TypeLiveEnded, At: t0}))
	r.flush(t0)
	f := next(t, v)
	require.Equal(t, []map[string]any{{"type": "viewers", "count": float64(0)}, {"type": "live_ended", "at": t0.Format(time.RFC3339)}}, f.Events)
}

// The hub follows unwatched rooms for KeepFor at most, and KeepRooms of
// them, the longest unwatched going first.
func TestFollowingIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	b := NewLocal()
	h := NewHub(b, Options{Tick: time.Hour, KeepRooms: 2, KeepFor: time.Hour, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	t.Cleanup(h.Close)
	for _, id := range []string{"a", "b", "c"} {
		v, err := h.Join(ctx, id)
		require.NoError(t, err)
		v.Leave()
		clock.Add(int64(time.Minute))
	}
	require.Equal(t, []string{"b", "c"}, h.followed())
	b.mu.RLock()
	require.Len(t, b.subs, 2, "a's subscription is cancelled")
	b.mu.RUnlock()
	clock.Add(int64(time.Hour))
	v, err := h.Join(ctx, "d")
	require.NoError(t, err)
	require.Equal(t, []string{"d"}, h.followed())
	v.Leave()
	h.Close()
	b.mu.RLock()
	require.Empty(t, b.subs, "closing the hub cancels every subscription")
	b.mu.RUnlock()
}

// A hub that opens a room subscribes before Load reads: an event published
// while Load runs is shown once, whether Load read it too (it committed
// before the read) or not (after).
func TestNoEventLostWhileLoading(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var b *Local
	read := gift("ayla", "rose", 2, t0)
	late := gift("omar", "corgi", 1, t0.Add(time.Second))
	h, b := manualHub(t, Options{Recent: 10, Load: func(ctx context.Context, room string) (State, error) {
		require.NoError(t, b.Publish(ctx, room, read))
		require.NoError(t, b.Publish(ctx, room, late))
		return State{Recent: []Event{gift("lea", "rose", 1, t0.Add(-time.Second)), read}}, nil
	}})
	v, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer v.Leave()
	st := next(t, v)
	var gifters []string
	for _, e := range st.Recent {
		gifters = append(gifters, e["gifter"].(string))
	}
	require.Equal(t, []string{"lea", "ayla", "omar"}, gifters)
}

// The chat mode reaches the viewers as an event, is in the state frame of
// whoever joins later (from Load at first, then as the room last sent it),
// and a change delivered while nobody watches is what the next room starts
// with.
func TestChatMode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, b := manualHub(t, Options{ViewersEvery: time.Hour, Load: func(context.Context, string) (State, error) {
		return State{SubscribersOnly: true}, nil
	}})
	v, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	var st struct {
		SubscribersOnly bool `json:"subscribers_only"`
	}
	require.NoError(t, json.Unmarshal(<-v.Frames(), &st))
	require.True(t, st.SubscribersOnly, "the state frame has the mode Load read")

	require.NoError(t, b.Publish(ctx, "live1", Event{Type: TypeChatMode, At: t0, ChatMode: &ChatMode{SubscribersOnly: false}}))
	h.room("live1").flush(t0.Add(time.Second))
	f := next(t, v)
	require.Equal(t, []map[string]any{{"type": "chat_mode", "subscribers_only": false}}, f.Events[:1])

	w, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(<-w.Frames(), &st))
	require.False(t, st.SubscribersOnly, "a joiner reads the mode the room last sent")
	noFrame(t, v)
	v.Leave()
	w.Leave()

	// Nobody watches: the feed keeps the last mode for the next room,
	// over what Load reads.
	require.NoError(t, b.Publish(ctx, "live1", Event{Type: TypeChatMode, At: t0, ChatMode: &ChatMode{SubscribersOnly: false}}))
	x, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer x.Leave()
	require.NoError(t, json.Unmarshal(<-x.Frames(), &st))
	require.False(t, st.SubscribersOnly)
}

// Gifted subscriptions reach the viewers with the gifter and the
// recipients, and are among the recent events a joiner reads.
func TestGiftedSubscriptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, b := manualHub(t, Options{ViewersEvery: time.Hour})
	v, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer v.Leave()
	next(t, v)
	require.NoError(t, b.Publish(ctx, "live1", Event{Type: TypeGiftedSubs, At: t0, Gifted: &GiftedSubs{
		GifterID: "u-sam", Handle: "sam", DisplayName: "Sam", Count: 3, Tier: "Fan club", Recipients: []string{"a", "b", "c"}}}))
	h.room("live1").flush(t0.Add(time.Second))
	f := next(t, v)
	want := map[string]any{"type": "gifted_subscriptions", "at": t0.Format(time.RFC3339), "gifter_id": "u-sam", "gifter": "sam",
		"gifter_name": "Sam", "count": float64(3), "tier_name": "Fan club", "recipients": []any{"a", "b", "c"}}
	require.Equal(t, want, f.Events[0])

	w, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer w.Leave()
	require.Equal(t, []map[string]any{want}, next(t, w).Recent)
}

// Watching lists the logged-in viewers on this node, each once, while they
// are connected.
func TestWatching(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, _ := manualHub(t, Options{})
	require.Equal(t, []string{}, h.Watching("live1"))
	a1, err := h.JoinAs(ctx, "live1", "u-a")
	require.NoError(t, err)
	a2, err := h.JoinAs(ctx, "live1", "u-a") // a second tab
	require.NoError(t, err)
	b, err := h.JoinAs(ctx, "live1", "u-b")
	require.NoError(t, err)
	anon, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer anon.Leave()
	other, err := h.JoinAs(ctx, "live2", "u-c")
	require.NoError(t, err)
	defer other.Leave()
	require.Equal(t, []string{"u-a", "u-b"}, h.Watching("live1"))
	a1.Leave()
	b.Leave()
	require.Equal(t, []string{"u-a"}, h.Watching("live1"))
	a2.Leave()
	require.Equal(t, []string{}, h.Watching("live1"))
}

// TestResync checks what a room does when the broker may have lost events:
// it reads its state again and sends it to every viewer; the events
// delivered before the reload began are in what it read and are dropped,
// those delivered while it read are kept (but for the ones it read); a
// room nobody watches is no longer followed, so its next viewer starts
// from Load.
func TestResync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	before := gift("sam", "rose", 2, t0)
	during := gift("mia", "lion", 1, t0.Add(time.Second))
	alsoRead := gift("ali", "rose", 1, t0.Add(2*time.Second))
	var reloading atomic.Bool
	var loads atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	h, b := manualHub(t, Options{Load: func(ctx context.Context, id string) (State, error) {
		loads.Add(1)
		if id == "live2" {
			return State{Recent: []Event{gift("zoe", "rose", 1, t0)}}, nil
		}
		if !reloading.Load() {
			return State{}, nil
		}
		started <- struct{}{}
		<-release
		return State{Top: []Gifter{{Handle: "sam", DisplayName: "sam D", Coins: 2}, {Handle: "ali", DisplayName: "ali D", Coins: 1}},
			Recent: []Event{before, alsoRead}}, nil
	}})
	v, err := h.Join(ctx, "live1")
	require.NoError(t, err)
	defer v.Leave()
	next(t, v)
	// A room nobody watches any more, kept followed.
	w, err := h.Join(ctx, "live2")
	require.NoError(t, err)
	w.Leave()
	// What the feed keeps for live2 while nobody watches it.
	require.NoError(t, b.Publish(ctx, "live2", gift("kim", "rose", 1, t0)))

	require.NoError(t, b.Publish(ctx, "live1", before))
	reloading.Store(true)
	h.Resync()
	<-started
	require.NoError(t, b.Publish(ctx, "live1", during))
	require.NoError(t, b.Publish(ctx, "live1", alsoRead))
	close(release)

	var st decoded
	select {
	case raw := <-v.Frames():
		require.NoError(t, json.Unmarshal(raw, &st))
	case <-time.After(10 * time.Second):
		t.Fatal("no state frame after Resync")
	}
	require.Equal(t, TypeState, st.Type)
	require.Equal(t, []Gifter{{Handle: "sam", DisplayName: "sam D", Coins: 2}, {Handle: "ali", DisplayName: "ali D", Coins: 1}}, st.Leaderboard)
	require.Len(t, st.Recent, 2)

	h.room("live1").flush(t0.Add(3 * time.Second))
	f := next(t, v)
	var gifters []string
	for _, e := range f.Events {
		if e["type"] == TypeGift {
			gifters = append(gifters, e["gifter"].(string))
		}
	}
	require.Equal(t, []string{"mia"}, gifters, "only the event the reload did not read is sent")

	w, err = h.Join(ctx, "live2")
	require.NoError(t, err)
	defer w.Leave()
	st2 := next(t, w)
	require.Len(t, st2.Recent, 1)
	require.Equal(t, "zoe", st2.Recent[0]["gifter"], "the unwatched room starts again from Load, not from what its feed kept")
}

// A hub that drains disconnects every viewer with the reason "restart",
// so that they come back elsewhere; it takes no viewer after, and closing
// it then changes nothing.
func TestDrainTellsViewersToReconnect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, b := manualHub(t, Options{})
	var viewers []*Viewer
	for _, id := range []string{"live1", "live1", "live2"} {
		v, err := h.Join(ctx, id)
		require.NoError(t, err)
		viewers = append(viewers, v)
	}
	left, err := h.Join(ctx, "live3")
	require.NoError(t, err)
	left.Leave() // live3 is followed, unwatched

	h.Drain()
	for i, v := range viewers {
		require.Equal(t, "restart", v.Reason(), "viewer %d", i)
		next(t, v) // the state frame is still there to write
		v.Leave()
	}
	require.Equal(t, "left", left.Reason())
	_, err = h.Join(ctx, "live1")
	require.ErrorIs(t, err, ErrClosed)
	b.mu.RLock()
	require.Empty(t, b.subs, "draining cancels every subscription")
	b.mu.RUnlock()

	h.Close()
	require.Equal(t, "restart", viewers[0].Reason())
}

// Closing a hub tells its viewers "closed", and draining it afterwards
// does not change their reason.
func TestCloseThenDrain(t *testing.T) {
	t.Parallel()
	h, _ := manualHub(t, Options{})
	v, err := h.Join(context.Background(), "live1")
	require.NoError(t, err)
	h.Close()
	h.Drain()
	require.Equal(t, "closed", v.Reason())
}
