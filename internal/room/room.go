// Package room fans a LIVE's events out to its viewers: gifts, chat, tips,
// gifted subscriptions, the chat's mode, viewer counts, the top gifters and
// the end of the LIVE.
//
// Events reach every node through a Broker (in process here; NATS when
// several nodes serve one database). Each node keeps one Hub; a room of the
// hub keeps that node's viewers and, every tick, sends each of them at most
// one frame carrying everything that happened during the tick, coalesced
// (a gifter repeating a gift is one combo event) and encoded once for the
// whole room. A viewer whose queue is full is dropped, never waited for, so
// one slow socket cannot stall a room.
package room

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Event types, the "type" member of every event a viewer receives.
const (
	TypeGift        = "gift"
	TypeChat        = "chat"
	TypeTip         = "tip"
	TypeViewers     = "viewers"
	TypeLeaderboard = "leaderboard"
	TypeLiveEnded   = "live_ended"
	TypeState       = "state"
	// TypeChatMode says the creator switched subscriber-only chat on or
	// off.
	TypeChatMode = "chat_mode"
	// TypeGiftedSubs announces subscriptions a viewer gifted to others in
	// the room.
	TypeGiftedSubs = "gifted_subscriptions"
)

// Gift is a gift sent in a room, as published.
type Gift struct {
	GifterID    string `json:"-"`
	Handle      string `json:"gifter"`
	DisplayName string `json:"gifter_name"`
	GiftID      string `json:"gift_id"`
	Name        string `json:"gift"`
	Tier        int    `json:"tier"`
	// Count is how many were sent; Coins what they cost in all.
	Count int64 `json:"count"`
	Coins int64 `json:"coins"`
}

// Chat is a chat message.
type Chat struct {
	AuthorID    string   `json:"-"`
	Handle      string   `json:"author"`
	DisplayName string   `json:"author_name"`
	Text        string   `json:"text"`
	Badges      []string `json:"badges,omitempty"`
	// Subscriber is the author's standing with the LIVE's creator's
	// subscription, when they subscribe (then Badges holds "subscriber").
	Subscriber *Subscriber `json:"subscriber,omitempty"`
	// Emotes are the creator's exclusive emotes the text uses, each once,
	// in the order of their first use: the text keeps ":name:" where the
	// page shows the picture.
	Emotes []Emote `json:"emotes,omitempty"`
}

// Subscriber is a chat author's subscription to the room's creator.
type Subscriber struct {
	// Badge is the tenure badge's step (fanfare.BadgeSteps: 1, 3, 6, 12
	// or 24); Months the months paid in all.
	Badge  int `json:"badge"`
	Months int `json:"months"`
}

// Emote is an exclusive emote used in a chat message: ":Name:" in its text
// shows the picture at URL (a path of this server).
type Emote struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// ChatMode is the room's chat mode.
type ChatMode struct {
	// SubscribersOnly: only the creator, the operator and the creator's
	// active subscribers may chat.
	SubscribersOnly bool `json:"subscribers_only"`
}

// GiftedSubs announces subscriptions to the room's creator that a viewer
// bought for other viewers.
type GiftedSubs struct {
	GifterID    string `json:"gifter_id"`
	Handle      string `json:"gifter"`
	DisplayName string `json:"gifter_name"`
	// Count is how many subscriptions were gifted; Tier the name of their
	// tier (tier_name: a gift's "tier" is its size); Recipients the handles of the viewers who received them.
	Count      int      `json:"count"`
	Tier       string   `json:"tier_name"`
	Recipients []string `json:"recipients"`
}

// Tip is a tip sent to the room's creator while LIVE.
type Tip struct {
	Handle      string `json:"tipper"`
	DisplayName string `json:"tipper_name"`
	Coins       int64  `json:"coins"`
	Message     string `json:"message"`
}

// Event is what happens in a room, as it travels through the broker.
type Event struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	Gift *Gift     `json:"gift,omitempty"`
	Chat *Chat     `json:"chat,omitempty"`
	Tip  *Tip      `json:"tip,omitempty"`
	// ChatMode is set on a TypeChatMode event, Gifted on a TypeGiftedSubs
	// one.
	ChatMode *ChatMode   `json:"chat_mode,omitempty"`
	Gifted   *GiftedSubs `json:"gifted,omitempty"`
}

// Gifter is a line of a room's top gifters.
type Gifter struct {
	Handle      string `json:"handle"`
	DisplayName string `json:"display_name"`
	Coins       int64  `json:"coins"`
}

// State is what a room knows when its first viewer on a node joins: the
// LIVE's top gifters so far, its chat mode and its recent events, oldest
// first (from the database: what it keeps of them), for a room this node
// knows nothing of.
type State struct {
	Top             []Gifter
	Ended           bool
	SubscribersOnly bool
	Recent          []Event
}

// Broker carries every room's events to every node's hub.
type Broker interface {
	// Publish sends e to the room's subscribers on every node.
	Publish(ctx context.Context, room string, e Event) error
	// Subscribe calls deliver with each event published to room from now
	// on, until cancel is called. deliver must not block.
	Subscribe(room string, deliver func(Event)) (cancel func(), err error)
}

// Options tune a Hub. Zero fields take the defaults.
type Options struct {
	// Tick is how often a room sends its viewers a frame (default 75 ms),
	// longer in a big room: one Tick more for every ViewersPerTick viewers
	// on this node (default 4,000).
	Tick           time.Duration
	ViewersPerTick int
	// ComboWindow: the same gifter sending the same gift again within it
	// continues the combo (default 3 s).
	ComboWindow time.Duration
	// BoardEvery and ViewersEvery space the leaderboard and viewer-count
	// updates (default 500 ms and 1 s).
	BoardEvery   time.Duration
	ViewersEvery time.Duration
	// Queue is how many frames a viewer may have waiting before it is
	// dropped (default 32: over two seconds of ticks).
	Queue int
	// Recent is how many events a joining viewer gets (default 20); Top
	// how many gifters the leaderboard shows (default 10).
	Recent int
	Top    int
	// Once nobody on this node watches a room whose LIVE is on air, the
	// hub keeps following it (its recent events, chat included, which
	// nothing else stores) until the LIVE ends, for at most KeepFor
	// (default 12 h) and KeepRooms such rooms (default 1,000; the longest
	// unwatched go first). A room the hub no longer follows starts again
	// from Load.
	KeepFor   time.Duration
	KeepRooms int
	// Load gives a room's state when its first viewer on this node joins.
	Load func(ctx context.Context, room string) (State, error)
	// Now is the clock (the owner's fanfare.Clock's Now), required: it
	// dates frames and the end of a LIVE, ends combos and spaces the
	// leaderboard and viewer-count updates. The tick that paces the frames
	// is a real timer: it only decides when to write.
	Now func() time.Time
	// Dropped is called when a slow viewer is dropped (a metric).
	Dropped func()
	// Viewers is told a room's viewer count whenever the room sends it
	// (at most every ViewersEvery), from the room's goroutine: it keeps
	// the LIVE's peak.
	Viewers func(room string, n int)
	// Elsewhere, when several nodes serve the room, says how many of its
	// viewers the other nodes have (as they last reported): the counts a
	// room sends are its viewers on every node. Nil: this node only.
	Elsewhere func(room string) int
	// Logger hears of a room's state that could not be reloaded (Resync).
	// Nil: nothing is logged.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Tick, 75*time.Millisecond)
	if o.ViewersPerTick <= 0 {
		o.ViewersPerTick = 4000
	}
	def(&o.ComboWindow, 3*time.Second)
	def(&o.BoardEvery, 500*time.Millisecond)
	def(&o.ViewersEvery, time.Second)
	if o.Queue <= 0 {
		o.Queue = 32
	}
	if o.Recent <= 0 {
		o.Recent = 20
	}
	if o.Top <= 0 {
		o.Top = 10
	}
	def(&o.KeepFor, 12*time.Hour)
	if o.KeepRooms <= 0 {
		o.KeepRooms = 1000
	}
}

// ErrClosed is returned by Join once the hub is closed.
var ErrClosed = errors.New("room: hub closed")

// Hub keeps the rooms that have viewers on this node.
type Hub struct {
	broker Broker
	opts   Options

	mu     sync.Mutex
	rooms  map[string]*Room
	feeds  map[string]*feed // every room followed: watched (in rooms) or kept
	closed bool
	// why is the Reason of the viewers the hub disconnects when it
	// closes: "closed", or "restart" when it drains.
	why string
	wg  sync.WaitGroup
}

// feed is a room's subscription to the broker on this node. While the
// room has viewers it hands every event to the room; while it has none it
// keeps the recent ones, until the LIVE ends, for the next viewer.
type feed struct {
	cancel func()

	mu    sync.Mutex
	room  *Room // nil while nobody watches
	prev  *Room // the room stopped when its last viewer left
	kept  []Event
	mode  *ChatMode // the last chat mode delivered while nobody watched
	ended bool
	idle  time.Time // since when nobody watches
}

// deliver hands e to the room, or keeps it. It must not block.
func (f *feed) deliver(e Event, max int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.room != nil {
		f.room.deliver(e)
		return
	}
	switch e.Type {
	case TypeLiveEnded:
		f.ended, f.kept = true, nil
	case TypeChatMode:
		if e.ChatMode != nil {
			m := *e.ChatMode
			f.mode = &m
		}
	case TypeGift, TypeChat, TypeTip, TypeGiftedSubs:
		if !f.ended {
			f.kept = append(f.kept, e)
			if n := len(f.kept) - max; n > 0 {
				f.kept = append(f.kept[:0], f.kept[n:]...)
			}
		}
	}
}

// NewHub returns a hub on broker. It panics without opts.Now.
func NewHub(b Broker, opts Options) *Hub {
	if opts.Now == nil {
		panic("room: NewHub needs Options.Now")
	}
	opts.defaults()
	return &Hub{broker: b, opts: opts, rooms: map[string]*Room{}, feeds: map[string]*feed{}}
}

// Close ends every room's goroutine and disconnects every viewer: their
// Reason is "closed". Join refuses new viewers with ErrClosed from now on.
// Closing a hub again, or one that drained, does nothing more.
func (h *Hub) Close() { h.shut("closed") }

// Drain closes the hub as Close does, but tells every viewer that the
// server restarts: their Reason is "restart", so that they reconnect at
// once (through a load balancer, to another node) and read the room's
// state there.
func (h *Hub) Drain() { h.shut("restart") }

// shut closes the hub; the first call says why.
func (h *Hub) shut(why string) {
	h.mu.Lock()
	if !h.closed {
		h.closed, h.why = true, why
	}
	why = h.why
	rooms := make([]*Room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	for id, f := range h.feeds {
		f.cancel()
		delete(h.feeds, id)
	}
	h.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		r.why = why
		r.mu.Unlock()
		r.stop()
	}
	h.wg.Wait()
}

// Join adds an anonymous viewer to room (JoinAs without a user).
func (h *Hub) Join(ctx context.Context, id string) (*Viewer, error) {
	return h.JoinAs(ctx, id, "")
}

// JoinAs adds a viewer to room, logged in as userID ("" for nobody): its
// first frame is the room's state. The caller must call Leave.
func (h *Hub) JoinAs(ctx context.Context, id, userID string) (*Viewer, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	r := h.rooms[id]
	if r == nil {
		var err error
		if r, err = h.open(ctx, id); err != nil {
			h.mu.Unlock()
			return nil, err
		}
		h.rooms[id] = r
		h.wg.Go(r.run)
	}
	v := r.join(userID)
	h.mu.Unlock()
	return v, nil
}

// Watching returns the ids of the logged-in users watching room on this
// node now, each once, sorted. Several nodes each know their own viewers
// only.
func (h *Hub) Watching(id string) []string {
	h.mu.Lock()
	r := h.rooms[id]
	h.mu.Unlock()
	out := []string{}
	if r == nil {
		return out
	}
	r.mu.Lock()
	for v := range r.viewers {
		if v.userID != "" {
			out = append(out, v.userID)
		}
	}
	r.mu.Unlock()
	slices.Sort(out)
	return slices.Compact(out)
}

// Counts returns how many viewers each room watched on this node has now
// (what a node tells the others, see Options.Elsewhere).
func (h *Hub) Counts() map[string]int {
	h.mu.Lock()
	rooms := make([]*Room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()
	out := make(map[string]int, len(rooms))
	for _, r := range rooms {
		r.mu.Lock()
		if !r.ended {
			out[r.id] = len(r.viewers)
		}
		r.mu.Unlock()
	}
	return out
}

// Resync tells every room on this node that events may have been missed
// (the broker lost its connection, or dropped messages): each room reads
// its state again (Load) and sends every viewer a state frame, as to a
// viewer joining; the rooms nobody watches stop being followed, so that
// the next viewer starts from Load. Resync returns at once; each room
// reloads on its own goroutine.
func (h *Hub) Resync() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, f := range h.feeds {
		if r := h.rooms[id]; r != nil {
			select {
			case r.resync <- struct{}{}:
			default: // one is pending already
			}
			continue
		}
		h.unfollow(id, f)
	}
}

// open builds a room: its state from Load, its recent events from the
// feed the hub kept following since the room last closed on this node, or
// else from Load. h.mu is held.
func (h *Hub) open(ctx context.Context, id string) (*Room, error) {
	h.sweep()
	f := h.feeds[id]
	fresh := f == nil
	if fresh {
		// Subscribe before Load reads, so that no event falls between
		// the two: one published meanwhile is either in what Load read,
		// or delivered to the feed, or both (then shown once).
		f = &feed{}
		max := h.opts.Recent
		cancel, err := h.broker.Subscribe(id, func(e Event) { f.deliver(e, max) })
		if err != nil {
			return nil, err
		}
		f.cancel = cancel
	}
	var st State
	if h.opts.Load != nil {
		var err error
		if st, err = h.opts.Load(ctx, id); err != nil {
			if fresh {
				f.cancel()
			}
			return nil, err
		}
	}
	if fresh {
		h.feeds[id] = f
		f.mu.Lock()
		// What arrived since the subscription comes after what Load
		// read, but for what Load read already.
		f.kept = append(st.Recent, slices.DeleteFunc(f.kept, func(e Event) bool {
			return slices.ContainsFunc(st.Recent, func(l Event) bool { return sameEvent(l, e) })
		})...)
		f.mu.Unlock()
	}
	// The room stopped when its last viewer left is done with its last
	// tick soon: what it sent and what it had not are the new room's
	// first recent events, then what the feed kept since.
	f.mu.Lock()
	prev := f.prev
	f.mu.Unlock()
	if prev != nil {
		<-prev.done
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := newRoom(h, id, st)
	if prev != nil {
		prev.mu.Lock()
		r.recent = slices.Clone(prev.recent)
		r.combos = prev.combos // prev is done: its streaks go on here
		r.ended = r.ended || prev.ended
		pending := prev.pending
		prev.mu.Unlock()
		r.seed(pending)
	}
	r.seed(f.kept)
	if f.mode != nil {
		r.subsOnly = f.mode.SubscribersOnly
	}
	r.ended = r.ended || f.ended
	f.room, f.prev, f.kept, f.mode = r, nil, nil, nil
	return r, nil
}

// sameEvent reports whether a and b are one event: a gift or tip that
// Load read from the database and that the broker delivered too.
func sameEvent(a, b Event) bool {
	if a.Type != b.Type || !a.At.Equal(b.At) {
		return false
	}
	switch {
	case a.Gift != nil && b.Gift != nil:
		return *a.Gift == *b.Gift
	case a.Tip != nil && b.Tip != nil:
		return *a.Tip == *b.Tip
	}
	return false
}

// release removes room r from the hub, and stops it, once it has no viewer.
// Its feed keeps following the LIVE unless it ended.
func (h *Hub) release(r *Room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.mu.Lock()
	empty := len(r.viewers) == 0
	r.mu.Unlock()
	if !empty || h.rooms[r.id] != r {
		return
	}
	delete(h.rooms, r.id)
	r.stop()
	if f := h.feeds[r.id]; f != nil {
		r.mu.Lock()
		ended := r.ended
		r.mu.Unlock()
		// From now on the feed keeps the events: the room has those
		// delivered before (sent or pending) until the next one opens.
		f.mu.Lock()
		f.room, f.prev, f.idle = nil, r, h.opts.Now()
		f.ended = f.ended || ended
		f.mu.Unlock()
	}
	h.sweep()
}

// sweep stops following the rooms nobody watches whose LIVE ended, those
// unwatched for longer than KeepFor, and the longest unwatched beyond
// KeepRooms. h.mu is held.
func (h *Hub) sweep() {
	now := h.opts.Now()
	type idle struct {
		id    string
		since time.Time
	}
	var kept []idle
	for id, f := range h.feeds {
		f.mu.Lock()
		watched, ended, since := f.room != nil, f.ended, f.idle
		f.mu.Unlock()
		switch {
		case watched:
		case ended || now.Sub(since) > h.opts.KeepFor:
			h.unfollow(id, f)
		default:
			kept = append(kept, idle{id, since})
		}
	}
	if n := len(kept) - h.opts.KeepRooms; n > 0 {
		slices.SortFunc(kept, func(a, b idle) int { return a.since.Compare(b.since) })
		for _, k := range kept[:n] {
			h.unfollow(k.id, h.feeds[k.id])
		}
	}
}

// unfollow cancels a feed's subscription; h.mu is held, f.mu is not (a
// broker may be delivering to it).
func (h *Hub) unfollow(id string, f *feed) {
	delete(h.feeds, id)
	f.cancel()
}

// Viewer is one connection's place in a room.
type Viewer struct {
	room   *Room
	userID string // "" for a viewer not logged in
	frames chan []byte
	done   chan struct{}
	once   sync.Once
	// reason says why done was closed: "left", "slow", "ended", "closed",
	// "restart".
	reason string
}

// Frames are the encoded frames to write to the viewer's socket, in order.
func (v *Viewer) Frames() <-chan []byte { return v.frames }

// Done is closed when the viewer leaves or is dropped; Reason says why.
func (v *Viewer) Done() <-chan struct{} { return v.done }

// Reason says why Done was closed: "left", "slow" (its queue was full),
// "ended" (the LIVE ended; its last frame is queued), "closed" (the hub
// shut down) or "restart" (the hub drained: the server restarts, and the
// viewer may reconnect at once, to another node).
func (v *Viewer) Reason() string {
	<-v.done
	return v.reason
}

func (v *Viewer) finish(reason string) bool {
	first := false
	v.once.Do(func() {
		v.reason = reason
		close(v.done)
		first = true
	})
	return first
}

// Leave takes the viewer out of its room.
func (v *Viewer) Leave() {
	r := v.room
	r.mu.Lock()
	delete(r.viewers, v)
	r.mu.Unlock()
	v.finish("left")
	r.hub.release(r)
}

// combo is a gifter's streak of one gift.
type combo struct {
	total int64
	last  time.Time
}

type comboKey struct{ gifter, gift string }

// Room is one LIVE's fan-out on this node.
type Room struct {
	id       string
	hub      *Hub
	quit     chan struct{}
	done     chan struct{} // closed when run returns
	stopOnce sync.Once
	resync   chan struct{} // Hub.Resync: reload the state

	mu      sync.Mutex
	viewers map[*Viewer]struct{}
	pending []Event
	ended   bool
	// subsOnly is the chat mode, as the room last sent it.
	subsOnly bool
	// why is the Reason its viewers are given when the room stops with
	// its hub (a room that stops when its last viewer leaves tells
	// nobody).
	why string

	// Owned by the room's goroutine (and join, under mu).
	seq          int64
	combos       map[comboKey]*combo
	board        map[string]*Gifter
	top          []Gifter
	boardDirty   bool
	boardSent    time.Time
	viewersSent  time.Time
	viewersShown int
	recent       []json.RawMessage
}

func newRoom(h *Hub, id string, st State) *Room {
	r := &Room{
		id:       id,
		hub:      h,
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		resync:   make(chan struct{}, 1),
		viewers:  map[*Viewer]struct{}{},
		combos:   map[comboKey]*combo{},
		board:    map[string]*Gifter{},
		ended:    st.Ended,
		subsOnly: st.SubscribersOnly,
	}
	r.setTop(st.Top)
	return r
}

func (r *Room) stop() {
	r.stopOnce.Do(func() { close(r.quit) })
}

// deliver queues an event from the broker for the next tick.
func (r *Room) deliver(e Event) {
	r.mu.Lock()
	r.pending = append(r.pending, e)
	r.mu.Unlock()
}

// stateFrame is a joining viewer's first frame.
type stateFrame struct {
	Type        string            `json:"type"`
	Seq         int64             `json:"seq"`
	Viewers     int               `json:"viewers"`
	Leaderboard []Gifter          `json:"leaderboard"`
	Recent      []json.RawMessage `json:"recent"`
	Ended       bool              `json:"ended"`
	// SubscribersOnly is the chat mode.
	SubscribersOnly bool `json:"subscribers_only"`
}

// join adds a viewer; the caller holds the hub's lock.
func (r *Room) join(userID string) *Viewer {
	v := &Viewer{room: r, userID: userID, frames: make(chan []byte, r.hub.opts.Queue), done: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.viewers[v] = struct{}{}
	v.frames <- r.stateLocked()
	if r.ended {
		v.finish("ended")
	}
	return v
}

// stateLocked encodes the state frame of a viewer joining now; r.mu is
// held.
func (r *Room) stateLocked() []byte {
	watching := len(r.viewers)
	if f := r.hub.opts.Elsewhere; f != nil {
		watching += f(r.id)
	}
	if r.ended {
		watching = 0 // nobody watches a LIVE that is over
	}
	frame, _ := json.Marshal(stateFrame{
		Type:            TypeState,
		Seq:             r.seq,
		Viewers:         watching,
		Leaderboard:     nonNil(r.top),
		Recent:          nonNil(r.recent),
		Ended:           r.ended,
		SubscribersOnly: r.subsOnly,
	})
	return frame
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (r *Room) run() {
	defer close(r.done)
	t := time.NewTimer(r.hub.opts.Tick)
	defer t.Stop()
	for {
		select {
		case <-r.quit:
			r.mu.Lock()
			for v := range r.viewers {
				v.finish(cmp.Or(r.why, "closed"))
			}
			r.mu.Unlock()
			return
		case <-r.resync:
			r.reload()
		case <-t.C:
			r.flush(r.hub.opts.Now())
			r.mu.Lock()
			n := len(r.viewers)
			r.mu.Unlock()
			t.Reset(r.hub.opts.tickFor(n))
		}
	}
}

// tickFor is the tick of a room of n viewers on this node: Tick, one more
// Tick for every ViewersPerTick viewers, so that a node sends at most about
// ViewersPerTick frames per Tick per room however big the room grows (each
// frame costs the server a write).
func (o *Options) tickFor(n int) time.Duration {
	return o.Tick * time.Duration(1+n/o.ViewersPerTick)
}

// Frame is what a viewer receives every tick something happened.
type Frame struct {
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Events []any     `json:"events"`
}

// giftOut is a gift event as viewers read it, kept small (a busy room sends
// tens of them to every viewer each tick): the gift's name, tier and price
// are in the catalog (GET /v1/gifts), and its time is the frame's, except
// in a state frame's recent events.
type giftOut struct {
	Type       string    `json:"type"`
	At         time.Time `json:"at,omitzero"`
	Gifter     string    `json:"gifter"`
	GifterName string    `json:"gifter_name"`
	GiftID     string    `json:"gift_id"`
	Count      int64     `json:"count"`
	// Combo is the streak's total so far ("Rose ×37").
	Combo int64 `json:"combo"`
}

type tipOut struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	Tip
}

type chatOut struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	Chat
}

type chatModeOut struct {
	Type string `json:"type"`
	ChatMode
}

type giftedOut struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	GiftedSubs
}

type viewersOut struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
}

type boardOut struct {
	Type string   `json:"type"`
	Top  []Gifter `json:"top"`
}

type endedOut struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
}

// flush sends one frame with what happened since the last tick to every
// viewer. It runs on the room's goroutine only.
func (r *Room) flush(now time.Time) {
	opts := &r.hub.opts
	r.mu.Lock()
	events := r.pending
	r.pending = nil
	viewers := len(r.viewers)
	r.mu.Unlock()
	if opts.Elsewhere != nil {
		viewers += opts.Elsewhere(r.id)
	}

	var out []any
	gifts := map[comboKey]*giftOut{}
	ended := false
	var mode *ChatMode
	for _, e := range events {
		switch {
		case e.Type == TypeGift && e.Gift != nil:
			g := e.Gift
			k := comboKey{g.GifterID, g.GiftID}
			c := r.combo(k, g.Count, e.At)
			if o := gifts[k]; o != nil {
				o.Count += g.Count
				o.Combo = c.total
				o.At = e.At
			} else {
				o = &giftOut{Type: TypeGift, At: e.At, Gifter: g.Handle, GifterName: g.DisplayName,
					GiftID: g.GiftID, Count: g.Count, Combo: c.total}
				gifts[k] = o
				out = append(out, o)
			}
			b := r.board[g.Handle]
			if b == nil {
				b = &Gifter{Handle: g.Handle, DisplayName: g.DisplayName}
				r.board[g.Handle] = b
			}
			b.Coins += g.Coins
			r.boardDirty = true
		case e.Type == TypeChat && e.Chat != nil:
			out = append(out, &chatOut{Type: TypeChat, At: e.At, Chat: *e.Chat})
		case e.Type == TypeTip && e.Tip != nil:
			out = append(out, &tipOut{Type: TypeTip, At: e.At, Tip: *e.Tip})
		case e.Type == TypeGiftedSubs && e.Gifted != nil:
			out = append(out, giftedOf(e))
		case e.Type == TypeChatMode && e.ChatMode != nil:
			m := *e.ChatMode
			mode = &m
			out = append(out, &chatModeOut{Type: TypeChatMode, ChatMode: m})
		case e.Type == TypeLiveEnded:
			ended = true
		}
	}
	for k, c := range r.combos {
		if now.Sub(c.last) > opts.ComboWindow {
			delete(r.combos, k)
		}
	}
	if ended {
		viewers = 0 // nobody watches a LIVE that is over
	}
	if ended || viewers != r.viewersShown && now.Sub(r.viewersSent) >= opts.ViewersEvery {
		out = append(out, &viewersOut{Type: TypeViewers, Count: viewers})
		r.viewersShown, r.viewersSent = viewers, now
		if opts.Viewers != nil {
			opts.Viewers(r.id, viewers)
		}
	}
	var top []Gifter
	if r.boardDirty && (now.Sub(r.boardSent) >= opts.BoardEvery || ended) {
		top = r.topGifters()
		out = append(out, &boardOut{Type: TypeLeaderboard, Top: top})
		r.boardDirty, r.boardSent = false, now
	}
	if ended {
		out = append(out, &endedOut{Type: TypeLiveEnded, At: now})
	}
	if len(out) == 0 {
		return
	}
	var recent []json.RawMessage
	for _, e := range out {
		switch e := e.(type) {
		case *giftOut:
			b, _ := json.Marshal(e)
			recent = append(recent, b)
			e.At = time.Time{} // in a frame, the frame's time
		case *chatOut, *tipOut, *giftedOut:
			b, _ := json.Marshal(e)
			recent = append(recent, b)
		}
	}

	// What a joining viewer reads (seq, top, recent) changes under mu, with
	// the sending, so its state frame and the frames after it follow on.
	r.mu.Lock()
	r.seq++
	frame, err := json.Marshal(Frame{Seq: r.seq, At: now.UTC(), Events: out})
	if err != nil {
		r.mu.Unlock()
		return // every field is plain data: cannot happen
	}
	if top != nil {
		r.top = top
	}
	r.recent = append(r.recent, recent...)
	if n := len(r.recent) - opts.Recent; n > 0 {
		r.recent = append(r.recent[:0], r.recent[n:]...)
	}
	if ended {
		r.ended = true
	}
	if mode != nil {
		r.subsOnly = mode.SubscribersOnly
	}
	slow := r.sendLocked(frame)
	r.mu.Unlock()
	r.drop(slow)
}

// setTop makes top the leaderboard, the board its gifters' totals; the
// room is not running, or r.mu is held on its goroutine.
func (r *Room) setTop(top []Gifter) {
	r.top = top
	clear(r.board)
	for _, g := range top {
		r.board[g.Handle] = &Gifter{Handle: g.Handle, DisplayName: g.DisplayName, Coins: g.Coins}
	}
}

// sendLocked queues frame for every viewer; r.mu is held. Once the LIVE
// ended, each viewer is done with it. It returns the viewers whose queue
// was full, taken out of the room, for drop.
func (r *Room) sendLocked(frame []byte) (slow []*Viewer) {
	for v := range r.viewers {
		select {
		case v.frames <- frame:
			if r.ended {
				delete(r.viewers, v)
				v.finish("ended")
			}
		default:
			delete(r.viewers, v)
			slow = append(slow, v)
		}
	}
	return slow
}

// drop ends the slow viewers sendLocked returned.
func (r *Room) drop(slow []*Viewer) {
	for _, v := range slow {
		if v.finish("slow") && r.hub.opts.Dropped != nil {
			r.hub.opts.Dropped()
		}
	}
}

// reloadTimeout bounds a room's reload of its state (Hub.Resync).
const reloadTimeout = 10 * time.Second

// reload reads the room's state again, as Load gives it, and sends every
// viewer a state frame: the events the broker may have lost are in it. It
// runs on the room's goroutine, so no tick runs meanwhile. The events
// delivered before Load began were committed before it read: they are in
// what it read, and dropped; those delivered since are kept, but for the
// ones Load read already. Combos go on (the database does not keep them).
func (r *Room) reload() {
	if r.hub.opts.Load == nil {
		return
	}
	r.mu.Lock()
	before := len(r.pending)
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
	st, err := r.hub.opts.Load(ctx, r.id)
	cancel()
	if err != nil {
		if l := r.hub.opts.Logger; l != nil {
			l.Warn("room: reload its state", "room", r.id, "err", err)
		}
		return
	}
	r.mu.Lock()
	since := slices.DeleteFunc(slices.Clone(r.pending[before:]), func(e Event) bool {
		return slices.ContainsFunc(st.Recent, func(l Event) bool { return sameEvent(l, e) })
	})
	r.pending = since
	r.setTop(st.Top)
	r.boardDirty = false
	r.recent = nil
	combos := r.combos
	r.combos = map[comboKey]*combo{}
	r.seed(st.Recent) // counts the recent gifts' combos afresh...
	r.combos = combos // ...but the streaks are those this room counted
	r.ended = r.ended || st.Ended
	r.subsOnly = st.SubscribersOnly
	slow := r.sendLocked(r.stateLocked())
	r.mu.Unlock()
	r.drop(slow)
}

// combo counts count more of a gifter's gift at at: the streak's total,
// a new streak once ComboWindow passed since the last.
func (r *Room) combo(k comboKey, count int64, at time.Time) *combo {
	c := r.combos[k]
	if c == nil || at.Sub(c.last) > r.hub.opts.ComboWindow {
		c = &combo{}
		r.combos[k] = c
	}
	c.total += count
	c.last = at
	return c
}

// seed adds events, oldest first, to a new room's recent events as a
// joining viewer reads them: each with its time, gifts with their combo.
// Streaks go on with the next gifts; the leaderboard is the State's. The
// room is not running yet.
func (r *Room) seed(events []Event) {
	for _, e := range events {
		var out any
		switch {
		case e.Type == TypeGift && e.Gift != nil:
			g := e.Gift
			c := r.combo(comboKey{g.GifterID, g.GiftID}, g.Count, e.At)
			out = &giftOut{Type: TypeGift, At: e.At, Gifter: g.Handle, GifterName: g.DisplayName, GiftID: g.GiftID, Count: g.Count, Combo: c.total}
		case e.Type == TypeChat && e.Chat != nil:
			out = &chatOut{Type: TypeChat, At: e.At, Chat: *e.Chat}
		case e.Type == TypeTip && e.Tip != nil:
			out = &tipOut{Type: TypeTip, At: e.At, Tip: *e.Tip}
		case e.Type == TypeGiftedSubs && e.Gifted != nil:
			out = giftedOf(e)
		case e.Type == TypeChatMode && e.ChatMode != nil:
			r.subsOnly = e.ChatMode.SubscribersOnly
			continue
		case e.Type == TypeLiveEnded:
			r.ended = true
			continue
		default:
			continue
		}
		b, _ := json.Marshal(out)
		r.recent = append(r.recent, b)
	}
	if n := len(r.recent) - r.hub.opts.Recent; n > 0 {
		r.recent = append([]json.RawMessage(nil), r.recent[n:]...)
	}
}

// giftedOf is a gifted-subscriptions event as viewers read it: the
// recipients a list, never null.
func giftedOf(e Event) *giftedOut {
	g := *e.Gifted
	g.Recipients = nonNil(g.Recipients)
	return &giftedOut{Type: TypeGiftedSubs, At: e.At, GiftedSubs: g}
}

// topGifters returns the leaderboard: most coins first, then by handle.
func (r *Room) topGifters() []Gifter {
	all := make([]Gifter, 0, len(r.board))
	for _, g := range r.board {
		all = append(all, *g)
	}
	slices.SortFunc(all, func(a, b Gifter) int {
		if c := cmp.Compare(b.Coins, a.Coins); c != 0 {
			return c
		}
		return cmp.Compare(a.Handle, b.Handle)
	})
	return all[:min(len(all), r.hub.opts.Top)]
}
