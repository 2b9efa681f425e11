package broker

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/room"
)

// Defaults of Options.
const (
	DefaultPrefix = "fanfare"
	// PresenceEvery is how often a node tells the others its viewer
	// counts; PresenceTTL how long a node's last counts count once it
	// stops telling (it died, or lost NATS).
	PresenceEvery = time.Second
	PresenceTTL   = 3 * time.Second
	// WatchingWait is how long Watching waits for the other nodes'
	// answers.
	WatchingWait = 300 * time.Millisecond
	// connectWait is how long Connect waits for a first connection before
	// it goes on without one (it keeps trying in the background).
	connectWait = 5 * time.Second
	// flushWait bounds the wait for the server to confirm a new room
	// subscription.
	flushWait = 2 * time.Second
)

// Options configure a connection. URL is required.
type Options struct {
	// URL is one NATS server's URL or several, comma-separated
	// (nats://user:pass@host:4222, tls://host:4222).
	URL string
	// Creds is a NATS credentials file (a user JWT and its NKey seed).
	Creds string
	// TLSCA is a PEM file of the CAs that sign the servers'
	// certificates; TLSCert and TLSKey a client certificate and its key
	// (mutual TLS).
	TLSCA, TLSCert, TLSKey string
	// Node names this node to the others and in NATS's connection list.
	Node string
	// Prefix starts every subject (default "fanfare"): deployments
	// sharing one NATS account set their own.
	Prefix string
	Logger *slog.Logger
	// Clock dates the other nodes' presence reports, to expire them
	// (required).
	Clock fanfare.Clock
	// Local delivers the events to this node's subscribers (required: a
	// room.Local of this broker's own).
	Local *room.Local
}

// NATS is a room.Broker over NATS, with the viewer counts, the watching
// lists and the chat's rate limits shared between nodes. It is safe for
// concurrent use.
type NATS struct {
	nc    *nats.Conn
	opts  Options
	log   *slog.Logger
	local *room.Local // this node's subscribers

	mu       sync.Mutex
	rooms    map[string]*roomSub
	resync   []func()
	chat     func(chatMsg)
	forget   func(forgetMsg)
	counts   func() map[string]int
	watching func(room string) []string
	nodes    map[string]report // the other nodes' last presence
	started  bool
	stop     chan struct{}
	done     chan struct{}
	warned   bool // a publish failed since the last connection
}

type roomSub struct {
	sub  *nats.Subscription
	refs int
}

type report struct {
	at     time.Time
	counts map[string]int
}

// Connect connects to NATS. When no server answers within a few seconds it
// returns a broker that keeps trying in the background (rooms then serve
// this node's events only, see Status), unless the options themselves are
// wrong.
func Connect(opts Options) (*NATS, error) {
	if opts.URL == "" {
		return nil, errors.New("broker: no NATS URL")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if !token(opts.Prefix) {
		return nil, fmt.Errorf("broker: prefix %q: letters, digits, '-' and '_' only", opts.Prefix)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil || opts.Local == nil {
		return nil, errors.New("broker: Connect needs Options.Clock and Options.Local")
	}
	b := &NATS{opts: opts, log: opts.Logger, local: opts.Local,
		rooms: map[string]*roomSub{}, nodes: map[string]report{}}
	connected := make(chan struct{})
	var once sync.Once
	no := []nats.Option{
		nats.Name("fanfare " + opts.Node),
		nats.NoEcho(), // this node's events reach its viewers in process
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		// No buffering while away: what was published then reaches the
		// other nodes through their rooms' reload instead, not late.
		nats.ReconnectBufSize(-1),
		nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(func(*nats.Conn) {
			once.Do(func() { close(connected) })
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.log.Warn("NATS connection lost: the rooms serve this node's events only until it is back", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			once.Do(func() { close(connected) })
			b.log.Info("NATS connection back: the rooms reload their state", "server", nc.ConnectedUrlRedacted())
			b.mu.Lock()
			b.warned = false
			b.mu.Unlock()
			b.resyncAll()
			// The others missed what this node published while away,
			// perhaps after they came back themselves: they reload too.
			b.send("resync", presenceMsg{Node: b.opts.Node})
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				// Messages were dropped: the rooms reload what they
				// missed.
				b.log.Warn("NATS: messages dropped (slow consumer): the rooms reload their state", "subject", subject(sub))
				b.resyncAll()
				return
			}
			b.log.Warn("NATS", "err", err, "subject", subject(sub))
		}),
	}
	if opts.Creds != "" {
		no = append(no, nats.UserCredentials(opts.Creds))
	}
	if opts.TLSCA != "" {
		no = append(no, nats.RootCAs(opts.TLSCA))
	}
	if opts.TLSCert != "" || opts.TLSKey != "" {
		if opts.TLSCert == "" || opts.TLSKey == "" {
			return nil, errors.New("broker: a client certificate needs both its certificate and its key")
		}
		no = append(no, nats.ClientCert(opts.TLSCert, opts.TLSKey))
	}
	nc, err := nats.Connect(opts.URL, no...)
	if err != nil {
		return nil, fmt.Errorf("broker: connect to NATS: %w", err)
	}
	b.nc = nc
	select {
	case <-connected:
	case <-time.After(connectWait):
		b.log.Warn("NATS does not answer yet; starting without it and still trying", "url", redact(opts.URL))
	}
	for _, s := range []struct {
		subject string
		fn      nats.MsgHandler
	}{
		{"presence", b.onPresence},
		{"watching.*", b.onWatching},
		{"chat", receive(b, func() func(chatMsg) { return b.chat })},
		{"forget", receive(b, func() func(forgetMsg) { return b.forget })},
		{"resync", func(*nats.Msg) { b.resyncAll() }},
	} {
		// Closing the connection ends these subscriptions.
		if _, err := nc.Subscribe(opts.Prefix+"."+s.subject, s.fn); err != nil {
			nc.Close()
			return nil, fmt.Errorf("broker: subscribe to %s.%s: %w", opts.Prefix, s.subject, err)
		}
	}
	return b, nil
}

// send publishes v, as JSON, on the subject name under the prefix. Lost
// while NATS is away: each use says what makes up for it.
func (b *NATS) send(name string, v any) {
	data, _ := json.Marshal(v)
	b.nc.Publish(b.opts.Prefix+"."+name, data)
}

// receive is the handler of a subject whose messages decode into M and go
// to the callback get returns, read under b.mu (nil: none registered).
func receive[M any](b *NATS, get func() func(M)) nats.MsgHandler {
	return func(m *nats.Msg) {
		var msg M
		if json.Unmarshal(m.Data, &msg) != nil {
			return
		}
		b.mu.Lock()
		f := get()
		b.mu.Unlock()
		if f != nil {
			f(msg)
		}
	}
}

func subject(sub *nats.Subscription) string {
	if sub == nil {
		return ""
	}
	return sub.Subject
}

// redact hides the passwords and tokens of NATS URLs.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				parts[i] = p[:s+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// Status says whether the broker is connected: nil, or why not.
func (b *NATS) Status() error {
	switch st := b.nc.Status(); st {
	case nats.CONNECTED:
		return nil
	default:
		return fmt.Errorf("NATS is %s: rooms serve this node's events only", strings.ToLower(st.String()))
	}
}

// Start starts telling the other nodes this node's viewer counts (counts,
// every PresenceEvery) and answering their questions of who watches a room
// here (watching). Close stops it.
func (b *NATS) Start(counts func() map[string]int, watching func(room string) []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return
	}
	b.started = true
	b.counts, b.watching = counts, watching
	b.stop, b.done = make(chan struct{}), make(chan struct{})
	go b.presence()
}

// OnResync registers f, called whenever events may have been lost (the
// connection came back, or messages were dropped): room.Hub.Resync.
func (b *NATS) OnResync(f func()) {
	b.mu.Lock()
	b.resync = append(b.resync, f)
	b.mu.Unlock()
}

func (b *NATS) resyncAll() {
	b.mu.Lock()
	fs := slices.Clone(b.resync)
	b.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// Close stops the presence reports (telling the others this node has no
// viewer left) and closes the connection, sending what it holds first.
func (b *NATS) Close() error {
	b.mu.Lock()
	started := b.started
	b.started = false
	b.mu.Unlock()
	if started {
		close(b.stop)
		<-b.done
	}
	err := b.nc.FlushTimeout(time.Second)
	b.nc.Close()
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionReconnecting) {
		err = nil
	}
	return err
}

// token reports whether s can be a subject's token as it is.
func token(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// roomSubject is the subject of a room's events.
func (b *NATS) roomSubject(roomID string) string {
	return b.opts.Prefix + ".room." + roomToken(roomID)
}

// roomToken is a room id as one subject token: as it is when it can be
// (LIVE ids are UUIDs), else "x" and its bytes in hex.
func roomToken(id string) string {
	if token(id) && id[0] != 'x' {
		return id
	}
	return "x" + hex.EncodeToString([]byte(id))
}

// wire is a room event between nodes: the ids that viewers never see
// travel too (a gift's gifter carries the combos across nodes).
type wire struct {
	Event  room.Event `json:"event"`
	Gifter string     `json:"gifter_id,omitempty"`
	Author string     `json:"author_id,omitempty"`
}

func encode(e room.Event) ([]byte, error) {
	w := wire{Event: e}
	if e.Gift != nil {
		w.Gifter = e.Gift.GifterID
	}
	if e.Chat != nil {
		w.Author = e.Chat.AuthorID
	}
	return json.Marshal(w)
}

func decode(data []byte) (room.Event, error) {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return room.Event{}, err
	}
	e := w.Event
	if e.Gift != nil {
		e.Gift.GifterID = w.Gifter
	}
	if e.Chat != nil {
		e.Chat.AuthorID = w.Author
	}
	return e, nil
}

// Publish hands e to this node's viewers of the room, then to the other
// nodes. A NATS outage fails nothing: the event was committed before it
// was published, and the other nodes' rooms reload their state when the
// connection is back.
func (b *NATS) Publish(ctx context.Context, roomID string, e room.Event) error {
	if err := b.local.Publish(ctx, roomID, e); err != nil {
		return err
	}
	data, err := encode(e)
	if err != nil {
		return fmt.Errorf("broker: encode a room event: %w", err)
	}
	if err := b.nc.Publish(b.roomSubject(roomID), data); err != nil {
		b.mu.Lock()
		first := !b.warned
		b.warned = true
		b.mu.Unlock()
		if first {
			b.log.Warn("NATS: room events reach this node's viewers only until the connection is back", "err", err)
		}
	}
	return nil
}

// Subscribe calls deliver with each event of the room, published on this
// node or another, until cancel.
func (b *NATS) Subscribe(roomID string, deliver func(room.Event)) (func(), error) {
	cancelLocal, err := b.local.Subscribe(roomID, deliver)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	rs := b.rooms[roomID]
	created := rs == nil
	if created {
		sub, err := b.nc.Subscribe(b.roomSubject(roomID), func(m *nats.Msg) {
			e, err := decode(m.Data)
			if err != nil {
				b.log.Warn("NATS: a room event that does not decode", "room", roomID, "err", err)
				return
			}
			b.local.Publish(context.Background(), roomID, e)
		})
		if err != nil {
			b.mu.Unlock()
			cancelLocal()
			return nil, fmt.Errorf("broker: follow room %s: %w", roomID, err)
		}
		// A room's events may come in bursts of thousands a second:
		// room.Hub's deliver only queues them.
		sub.SetPendingLimits(-1, 256<<20)
		rs = &roomSub{sub: sub}
		b.rooms[roomID] = rs
	}
	rs.refs++
	b.mu.Unlock()
	// The subscription is in force once the server has it: the hub reads
	// the room's state after Subscribe returns, and no event may fall
	// between the two. (The hub follows a room once, under its own lock.)
	// Without a connection there is nothing to wait for: the room reloads
	// when NATS is back.
	if created && b.nc.IsConnected() {
		if err := b.nc.FlushTimeout(flushWait); err != nil {
			b.log.Warn("NATS: following a room: no answer from the server", "room", roomID, "err", err)
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cancelLocal()
			b.mu.Lock()
			defer b.mu.Unlock()
			if rs.refs--; rs.refs == 0 {
				delete(b.rooms, roomID)
				rs.sub.Unsubscribe()
			}
		})
	}, nil
}

type presenceMsg struct {
	Node   string         `json:"node"`
	Counts map[string]int `json:"counts"`
}

// presence reports this node's viewer counts every PresenceEvery until
// Close, then once more, empty.
func (b *NATS) presence() {
	defer close(b.done)
	t := time.NewTicker(PresenceEvery)
	defer t.Stop()
	send := func(counts map[string]int) {
		b.send("presence", presenceMsg{Node: b.opts.Node, Counts: counts}) // lost while away: the others' counts expire
	}
	send(b.counts())
	for {
		select {
		case <-b.stop:
			send(map[string]int{})
			return
		case <-t.C:
			send(b.counts())
			b.expire()
		}
	}
}

func (b *NATS) onPresence(m *nats.Msg) {
	var p presenceMsg
	if err := json.Unmarshal(m.Data, &p); err != nil || p.Node == b.opts.Node {
		return
	}
	b.mu.Lock()
	if len(p.Counts) == 0 {
		delete(b.nodes, p.Node)
	} else {
		b.nodes[p.Node] = report{at: b.opts.Clock.Now(), counts: p.Counts}
	}
	b.mu.Unlock()
}

// expire forgets the nodes silent for longer than PresenceTTL.
func (b *NATS) expire() {
	now := b.opts.Clock.Now()
	b.mu.Lock()
	for n, r := range b.nodes {
		if now.Sub(r.at) > PresenceTTL {
			delete(b.nodes, n)
		}
	}
	b.mu.Unlock()
}

// Elsewhere returns how many viewers the other nodes reported in the room
// within PresenceTTL (room.Options.Elsewhere).
func (b *NATS) Elsewhere(roomID string) int {
	_, viewers := b.reported(roomID)
	return viewers
}

// Nodes returns how many other nodes reported within PresenceTTL.
func (b *NATS) Nodes() int {
	nodes, _ := b.reported("")
	return nodes
}

// reported returns how many other nodes reported within PresenceTTL, and
// how many viewers of the room they have.
func (b *NATS) reported(roomID string) (nodes, viewers int) {
	now := b.opts.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.nodes {
		if now.Sub(r.at) <= PresenceTTL {
			nodes++
			viewers += r.counts[roomID]
		}
	}
	return nodes, viewers
}

func (b *NATS) onWatching(m *nats.Msg) {
	b.mu.Lock()
	watching := b.watching
	b.mu.Unlock()
	if watching == nil || m.Reply == "" {
		return
	}
	roomID := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	if strings.HasPrefix(roomID, "x") {
		raw, err := hex.DecodeString(roomID[1:])
		if err != nil {
			return
		}
		roomID = string(raw)
	}
	data, _ := json.Marshal(watching(roomID))
	m.Respond(data)
}

// WatchingElsewhere returns the logged-in viewers of the room on the other
// nodes, each once, as those that answer within WatchingWait tell.
func (b *NATS) WatchingElsewhere(ctx context.Context, roomID string) []string {
	expect := b.Nodes()
	if expect == 0 || b.nc.Status() != nats.CONNECTED {
		return nil
	}
	inbox := b.nc.NewRespInbox()
	replies := make(chan *nats.Msg, expect+8)
	sub, err := b.nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return nil
	}
	defer sub.Unsubscribe()
	if err := b.nc.PublishRequest(b.opts.Prefix+".watching."+roomToken(roomID), inbox, nil); err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, WatchingWait)
	defer cancel()
	var out []string
gather:
	for range expect {
		select {
		case <-ctx.Done():
			break gather
		case m := <-replies:
			var ids []string
			if json.Unmarshal(m.Data, &ids) == nil {
				out = append(out, ids...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

type chatMsg struct {
	Key string    `json:"key"`
	At  time.Time `json:"at"`
}

// OnChat registers f, told of each chat token another node took
// (live.Options.ChatShare).
func (b *NATS) OnChat(f func(key string, at time.Time)) {
	b.mu.Lock()
	b.chat = func(c chatMsg) { f(c.Key, c.At) }
	b.mu.Unlock()
}

// ShareChat tells the other nodes that key took a chat token at at.
func (b *NATS) ShareChat(key string, at time.Time) {
	b.send("chat", chatMsg{Key: key, At: at}) // lost while away: each node limits alone meanwhile
}

type forgetMsg struct {
	Kind string `json:"kind"`
	Key  string `json:"key"`
}

// Forget tells the other nodes to drop what they cached of a changed
// thing (a session ended, a user changed, an API key revoked), so that the
// change holds everywhere at once. Lost while NATS is away: their caches
// then forget it within their TTL (a second).
func (b *NATS) Forget(kind, key string) {
	b.send("forget", forgetMsg{Kind: kind, Key: key})
}

// OnForget registers f, told of what the other nodes changed.
func (b *NATS) OnForget(f func(kind, key string)) {
	b.mu.Lock()
	b.forget = func(c forgetMsg) { f(c.Kind, c.Key) }
	b.mu.Unlock()
}
