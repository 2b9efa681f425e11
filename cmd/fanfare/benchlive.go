package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

const benchLiveSynopsis = `Usage: fanfare bench live [flags]

Loads one LIVE room the way a crowded LIVE does: --viewers WebSocket viewers
watch its feed (GET /v1/lives/{id}/events), each reading frames as fast as it
can, while --senders fans send roses over HTTP (POST /v1/lives/{id}/gifts,
count 1, a new Idempotency-Key each) at --rate gifts a second in all (0: each
fan sends its next gift as soon as the last is answered), for --duration.

The server runs in this process on 127.0.0.1 over a fresh database (a
temporary SQLite file, or a new schema in the PostgreSQL server given by
--db, FANFARE_BENCH_POSTGRES or FANFARE_TEST_POSTGRES), with no daily spend
limit and no purchase limits; or it is the server at --url (loopback only),
which then needs the --api-key to grant the fans their coins (its own limits
apply). The setup signs up a creator of 18+ who goes LIVE and the fans, logs
them in and grants each 1,000,000 coins; any setup failure ends the run with
a non-zero status.

After --duration the fans stop, the viewers get up to 2 s to receive what is
still on its way, the sockets close, the server shuts down, and one line
sums it up:

  live: 5000 viewers, 500 gifts/s offered, 500 acked/s, http p50 3 ms p99 21 ms, delivery p50 40 ms p99 180 ms, missed 0, dropped 0, 31 KiB/viewer

offered, acked  gifts sent, and gifts answered 201, per second of sending
http            from sending a gift to its 201 answer, for every 201
delivery        from sending a gift to its event reaching a viewer, once per
                gift and viewer. The room coalesces a fan's gifts of a tick
                into one event (count n, combo c: the fan's total in its
                streak), so an event stands for the fan's gifts since the
                one the viewer saw last; a combo that goes back down starts
                a new streak.
missed          acknowledged gifts that a viewer still connected at the end
                never received
dropped         viewers the server closed as too slow (1008); the server's
                own count, fanfare_room_slow_viewers_dropped_total on
                /metrics, is shown when it differs
KiB/viewer      memory the server holds per idle viewer, measured once the
                viewers are connected and before any gift: the growth of the
                process's heap and stacks in use (runtime.MemStats HeapInuse
                + StackInuse, after a GC) since before they connected, less
                the share of the bench's own client ends (the heap split in
                proportion to the live bytes each side allocated meanwhile,
                from a heap profile that samples every allocation; the
                stacks in proportion to each side's goroutines), divided by
                the viewers; n/a with --url

Anything that went wrong follows on the same line: "errors" counts the gift
requests answered other than 201 by status ("net" for no answer), "lost" the
viewers closed for another reason than being slow. The server and all the
clients share this machine's cores: the figures are those of the whole. Every
socket lives in this process, so the open-file limit is raised to its hard
maximum (two files a viewer in process).`

// Bench live's fixed parameters.
const (
	liveBenchCoins   = 1_000_000 // coins granted to each fan
	liveBenchGift    = "rose"
	liveBenchDrain   = 2 * time.Second // how long the viewers get after the last gift
	liveBenchPass    = "bench-live-password"
	setupWorkers     = 8  // fans set up at once (each costs two argon2id hashes)
	dialWorkers      = 32 // viewers connecting at once
	latencyShards    = 64
	defaultMemRate   = 512 * 1024 // runtime.MemProfileRate's default
	liveBenchTimeout = 3 * time.Minute
)

var giftBody = []byte(`{"gift_id":"` + liveBenchGift + `","count":1}`)

// liveBench is one run of "bench live".
type liveBench struct {
	stderr  io.Writer
	quiet   bool
	base    string // the server's base URL
	metrics string // the server's /metrics URL
	apiKey  string
	run     string       // makes handles and keys unique to the run
	http    *http.Client // setup and gifts
	dial    *http.Client // the viewers' handshakes
	t0      time.Time    // send times are durations since t0

	liveID  string
	fans    []*liveFan
	handles map[string]int // handle → index in fans
	viewers []*liveViewer
	shards  []latencyShard
	parsed  [256]atomic.Pointer[parsedFrame] // by seq
}

// marker names the bench's own methods in profiles (see clientFrames).
func (*liveBench) marker() {}

// liveFan is a fan sending gifts, and what came of them.
type liveFan struct {
	id, handle, token string
	sent              sendLog      // when each gift was first sent
	acked             atomic.Int64 // gifts answered 201: the n-th is the fan's n-th gift
	// Owned by the fan's sender until it ends.
	attempts int64
	http     histogram
	errs     map[string]int
	unsure   bool // gave up on a gift whose outcome is unknown
}

// liveViewer is a viewer's socket and what it saw.
type liveViewer struct {
	conn    *websocket.Conn
	shard   *latencyShard
	streaks []streak     // by fan; owned by the reader
	got     atomic.Int64 // gifts seen in all
	odd     int64        // events out of sequence; owned by the reader
	closing atomic.Bool  // the bench is closing it
	done    chan struct{}
	// Read after done: why the reader ended, and whether it ended before
	// the bench closed the socket.
	err   error
	early bool
}

func (c *BenchCommand) live(ctx context.Context, args []string) error {
	fs := newFlagSet("bench live", benchLiveSynopsis, c.stderr)
	viewers := fs.Int("viewers", 1000, "viewers watching the room feed")
	senders := fs.Int("senders", 64, "fans sending gifts, each one request at a time")
	rate := fs.Float64("rate", 500, "gifts a second from all the fans together; 0 sends as fast as the server answers")
	duration := fs.Duration("duration", 20*time.Second, "how long the fans send gifts")
	storeName := fs.String("store", "sqlite", "the in-process server's database: sqlite or postgres")
	dbURL := fs.String("db", "", "database to run in (SQLite: a file URL; PostgreSQL: a server URL, a fresh schema is used)")
	serverURL := fs.String("url", "", "bench the server at this loopback base URL (http://127.0.0.1:8080) instead of one started in this process")
	apiKey := env("FANFARE_API_KEY", "")
	fs.Var(secretFlag{&apiKey}, "api-key", "the --url server's API key, to grant the fans coins (env FANFARE_API_KEY)")
	timeout := fs.Duration("timeout", 0, "hard limit on the whole run (default --duration plus 3 minutes)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the sending phase to this file (server and clients: they share the process)")
	keep := fs.Bool("keep", false, "keep the database afterwards")
	quiet := fs.Bool("quiet", false, "no progress bars")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	switch {
	case *viewers < 1 || *senders < 1:
		return errors.New("bench live: --viewers and --senders must be positive")
	case *rate < 0 || math.IsNaN(*rate) || math.IsInf(*rate, 0):
		return errors.New("bench live: --rate must be 0 (as fast as possible) or more")
	case *duration <= 0:
		return errors.New("bench live: --duration must be positive")
	case *serverURL != "" && apiKey == "":
		return errors.New("bench live: --url needs --api-key (or FANFARE_API_KEY) to grant the fans coins")
	}
	if *timeout <= 0 {
		*timeout = *duration + liveBenchTimeout
	}
	inProcess := *serverURL == ""
	files := uint64(*viewers+*senders) + 256
	if inProcess {
		files += uint64(*viewers + *senders) // both ends
	}
	if err := raiseFileLimit(files); err != nil {
		return fmt.Errorf("bench live: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	b := &liveBench{stderr: c.stderr, quiet: *quiet, run: "bl" + randomHex(4)}
	if inProcess {
		u, cleanup, err := benchDB("bench live", *storeName, *dbURL, *keep)
		if err != nil {
			return err
		}
		defer cleanup()
		m := NewMain()
		cfg := &m.Config
		cfg.DB, cfg.Addr, cfg.Migrate = u, "127.0.0.1:0", true
		cfg.APIKey = randomHex(16)
		cfg.DailySpendLimit, cfg.PurchasesPerHour, cfg.PurchaseDailyLimit, cfg.MinorPurchaseDailyLimit = 0, 0, "0", "0"
		cfg.StripeSecretKey, cfg.StripeWebhookSecret, cfg.PublicURL, cfg.Demo = "", "", "", false
		cfg.ShutdownTimeout = 10 * time.Second
		cfg.MetricsAddr, cfg.SecretKey = "127.0.0.1:0", randomHex(32)
		if err := m.Run(ctx); err != nil {
			return fmt.Errorf("bench live: start the server: %w", err)
		}
		defer m.Close()
		b.base, b.metrics, b.apiKey = m.URL(), m.MetricsURL(), cfg.APIKey
		fmt.Fprintf(c.stderr, "server on %s (%s)\n", b.base, m.DB.Dialect)
		return b.bench(ctx, c.stdout, *viewers, *senders, *rate, *duration, *cpuprofile, m.Close)
	}
	base, err := loopbackURL(*serverURL)
	if err != nil {
		return err
	}
	b.base, b.metrics, b.apiKey = base, base+"/metrics", apiKey
	return b.bench(ctx, c.stdout, *viewers, *senders, *rate, *duration, *cpuprofile, nil)
}

// bench sets up, runs and reports; closeServer, when not nil, shuts the
// in-process server down once the viewers are gone.
func (b *liveBench) bench(ctx context.Context, stdout io.Writer, viewers, senders int, rate float64, duration time.Duration, cpuprofile string, closeServer func() error) error {
	inProcess := closeServer != nil
	var prof *os.File
	if cpuprofile != "" {
		var err error
		if prof, err = os.Create(cpuprofile); err != nil {
			return fmt.Errorf("bench live: %w", err)
		}
		defer prof.Close()
	}
	b.http = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        senders + 64,
			MaxIdleConnsPerHost: senders + 64,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
	b.dial = &http.Client{Transport: &http.Transport{
		Proxy:       nil,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
	defer b.http.CloseIdleConnections()
	b.t0 = time.Now()
	if err := b.health(ctx); err != nil {
		return err
	}
	t := time.Now()
	if err := b.setup(ctx, senders); err != nil {
		return fmt.Errorf("bench live: setup: %w", err)
	}
	fmt.Fprintf(b.stderr, "%d fans signed up, logged in and granted coins in %.1f s; LIVE %s\n", senders, time.Since(t).Seconds(), b.liveID)
	droppedBefore, metricsOK := b.droppedMetric(ctx)

	// The viewers connect; the memory they cost is measured on the way.
	var (
		mem      runtime.MemStats
		snap     profileSnapshot
		frames   = clientFrames()
		memBytes = math.NaN() // not measured
	)
	if inProcess {
		// Every allocation from here on is in the heap profile, so that
		// the viewers' memory can be split between server and clients.
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = defaultMemRate }()
		runtime.GC()
		var err error
		if snap, err = snapshotProfiles(frames); err != nil {
			return err
		}
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&mem)
	}
	viewCtx, stopViewers := context.WithCancel(ctx)
	defer stopViewers()
	t = time.Now()
	if err := b.connect(viewCtx, viewers); err != nil {
		b.closeViewers()
		return fmt.Errorf("bench live: connect the viewers: %w", err)
	}
	fmt.Fprintf(b.stderr, "%d viewers connected in %.1f s\n", viewers, time.Since(t).Seconds())
	if inProcess {
		time.Sleep(200 * time.Millisecond) // let every goroutine park
		runtime.GC()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		snap2, err := snapshotProfiles(frames)
		if err != nil {
			return err
		}
		runtime.MemProfileRate = defaultMemRate
		side := snap.split(snap2)
		heap := int64(after.HeapInuse) - int64(mem.HeapInuse)
		stack := int64(after.StackInuse) - int64(mem.StackInuse)
		memBytes = side.server(heap, stack)
		fmt.Fprintf(b.stderr, "memory for %d viewers: heap in use +%.1f MiB (live: server %.1f MiB, bench clients %.1f MiB, goroutines %.1f MiB), stacks +%.1f MiB (%d server, %d client goroutines)\n",
			viewers, mib(heap), mib(side.serverHeap), mib(side.clientHeap), mib(side.gHeap), mib(stack), side.serverG, side.clientG)
	}

	// The fans send.
	if prof != nil {
		if err := pprof.StartCPUProfile(prof); err != nil {
			return err
		}
	}
	elapsed := b.send(ctx, rate, duration)
	totalAcked := int64(0)
	for _, f := range b.fans {
		totalAcked += f.acked.Load()
	}
	t = time.Now()
	b.drain(totalAcked)
	fmt.Fprintf(b.stderr, "sent for %.1f s; drained in %.2f s\n", elapsed.Seconds(), time.Since(t).Seconds())
	if prof != nil {
		pprof.StopCPUProfile()
	}
	droppedAfter, _ := b.droppedMetric(ctx)
	if err := ctx.Err(); err != nil {
		b.closeViewers()
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("bench live: the run did not finish within --timeout")
		}
		return fmt.Errorf("bench live: interrupted: %w", err)
	}

	// The tally.
	b.closeViewers()
	var missed, dropped, lost, odd int64
	for _, v := range b.viewers {
		odd += v.odd
		switch {
		case websocket.CloseStatus(v.err) == websocket.StatusPolicyViolation:
			dropped++
		case v.early:
			lost++
		default:
			for i, f := range b.fans {
				missed += max(0, f.acked.Load()-v.streaks[i].got)
			}
		}
	}
	if inProcess {
		if err := closeServer(); err != nil {
			return fmt.Errorf("bench live: shut the server down: %w", err)
		}
	}
	var httpH, delivery histogram
	var attempts, unsure int64
	errs := map[string]int{}
	for _, f := range b.fans {
		httpH.merge(&f.http)
		attempts += f.attempts
		for k, n := range f.errs {
			errs[k] += n
		}
		if f.unsure {
			unsure++
		}
	}
	for i := range b.shards {
		delivery.merge(&b.shards[i].h)
	}

	secs := elapsed.Seconds()
	line := fmt.Sprintf("live: %d viewers, %.0f gifts/s offered, %.0f acked/s, http p50 %s p99 %s, delivery p50 %s p99 %s, missed %d, dropped %d, %s/viewer",
		viewers, float64(attempts)/secs, float64(totalAcked)/secs,
		fmtLatency(httpH.quantile(0.5)), fmtLatency(httpH.quantile(0.99)),
		fmtLatency(delivery.quantile(0.5)), fmtLatency(delivery.quantile(0.99)),
		missed, dropped, fmtKiB(memBytes, viewers))
	if len(errs) > 0 {
		keys := slices.Sorted(maps.Keys(errs))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s×%d", k, errs[k])
		}
		line += ", errors " + strings.Join(parts, " ")
	}
	if lost > 0 {
		line += fmt.Sprintf(", lost %d", lost)
	}
	if odd > 0 {
		line += fmt.Sprintf(", out of sequence %d", odd)
	}
	if unsure > 0 {
		line += fmt.Sprintf(", %d fans stopped on an unanswered gift", unsure)
	}
	if metricsOK && droppedAfter-droppedBefore != dropped {
		fmt.Fprintf(b.stderr, "the server counts %d slow viewers dropped (fanfare_room_slow_viewers_dropped_total)\n", droppedAfter-droppedBefore)
	}
	fmt.Fprintln(stdout, line)
	if totalAcked == 0 {
		return exitError(1)
	}
	return nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// fmtLatency prints a latency in milliseconds, with a decimal under 10.
func fmtLatency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

func fmtKiB(bytes float64, n int) string {
	if math.IsNaN(bytes) {
		return "n/a KiB"
	}
	return fmt.Sprintf("%.0f KiB", bytes/float64(n)/1024)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// loopbackURL checks that s is an http URL of this machine.
func loopbackURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return "", fmt.Errorf("bench live: --url must be an http base URL such as http://127.0.0.1:8080, not %q", s)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("bench live: --url must be on this machine (127.0.0.1, [::1] or localhost), not %q", host)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// health checks that the server answers.
func (b *liveBench) health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return fmt.Errorf("bench live: the server at %s does not answer: %w", b.base, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench live: GET %s/healthz = %d, want 200", b.base, resp.StatusCode)
	}
	return nil
}

// call sends a JSON request and decodes a 2xx answer into out; anything
// else is an error that quotes the problem's detail.
func (b *liveBench) call(ctx context.Context, method, path, token, idemKey string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var p struct{ Code, Detail, Title string }
		json.Unmarshal(data, &p)
		return fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, cmpOr(p.Code, p.Title), cmpOr(p.Detail, strings.TrimSpace(string(data))))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// user signs a user up and logs it in.
func (b *liveBench) user(ctx context.Context, handle string) (id, token string, err error) {
	var u struct{ ID string }
	// The API key spares the bench the per-address limit of sign-ups and
	// log-ins, as it spares a host app's backend.
	err = b.call(ctx, http.MethodPost, "/v1/users", b.apiKey, "", map[string]string{
		"handle": handle, "password": liveBenchPass, "region": "FR", "birth_date": "1990-01-01",
	}, &u)
	if err != nil {
		return "", "", err
	}
	var s struct{ Token string }
	err = b.call(ctx, http.MethodPost, "/v1/auth/login", b.apiKey, "", map[string]string{"handle": handle, "password": liveBenchPass}, &s)
	if err != nil {
		return "", "", err
	}
	return u.ID, s.Token, nil
}

// setup makes the creator, its LIVE and the funded fans.
func (b *liveBench) setup(ctx context.Context, senders int) error {
	_, creator, err := b.user(ctx, b.run+"_c")
	if err != nil {
		return fmt.Errorf("creator: %w", err)
	}
	var l struct{ ID string }
	if err := b.call(ctx, http.MethodPost, "/v1/lives", creator, "", map[string]string{"title": "bench live " + b.run}, &l); err != nil {
		return fmt.Errorf("go LIVE: %w", err)
	}
	b.liveID = l.ID

	b.fans = make([]*liveFan, senders)
	b.handles = make(map[string]int, senders)
	for i := range b.fans {
		f := &liveFan{handle: fmt.Sprintf("%s_f%d", b.run, i), errs: map[string]int{}}
		b.fans[i] = f
		b.handles[f.handle] = i
	}
	bar := newProgress(b.stderr, "fans", b.quiet)
	var done atomic.Int64
	err = b.parallel(ctx, senders, setupWorkers, func(ctx context.Context, i int) error {
		f := b.fans[i]
		var err error
		if f.id, f.token, err = b.user(ctx, f.handle); err != nil {
			return fmt.Errorf("fan %d: %w", i+1, err)
		}
		err = b.call(ctx, http.MethodPost, "/v1/admin/grants", b.apiKey, b.run+"-grant-"+strconv.Itoa(i),
			map[string]any{"user_id": f.id, "coins": liveBenchCoins, "reason": "bench live"}, nil)
		if err != nil {
			return fmt.Errorf("grant fan %d coins: %w", i+1, err)
		}
		bar.set(done.Add(1), int64(senders))
		return nil
	})
	bar.done()
	return err
}

// parallel runs fn for 0..n-1 on workers goroutines and returns the first
// error, after which the others stop.
func (b *liveBench) parallel(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// connect opens the viewers' sockets; each is connected once its first
// frame (the room's state) has arrived, and then read by its own goroutine.
func (b *liveBench) connect(ctx context.Context, n int) error {
	u := "ws" + strings.TrimPrefix(b.base, "http") + "/v1/lives/" + b.liveID + "/events"
	b.shards = make([]latencyShard, latencyShards)
	b.viewers = make([]*liveViewer, n)
	bar := newProgress(b.stderr, "viewers", b.quiet)
	defer bar.done()
	var done atomic.Int64
	readCtx := ctx
	return b.parallel(ctx, n, dialWorkers, func(ctx context.Context, i int) error {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		conn, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: b.dial})
		if err != nil {
			return fmt.Errorf("viewer %d: %w", i+1, err)
		}
		conn.SetReadLimit(16 << 20)
		_, first, err := conn.Read(dctx)
		if err != nil {
			conn.CloseNow()
			return fmt.Errorf("viewer %d: first frame: %w", i+1, err)
		}
		if !bytes.HasPrefix(first, stateFrameS) {
			conn.CloseNow()
			return fmt.Errorf("viewer %d: first frame is not the room's state: %.80s", i+1, first)
		}
		v := &liveViewer{conn: conn, shard: &b.shards[i%len(b.shards)], streaks: make([]streak, len(b.fans)), done: make(chan struct{})}
		b.viewers[i] = v
		go b.watch(readCtx, v)
		bar.set(done.Add(1), int64(n))
		return nil
	})
}

// framePool holds the buffers frames are read into, while they are read.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// watch reads a viewer's frames until its socket ends.
func (b *liveBench) watch(ctx context.Context, v *liveViewer) {
	defer close(v.done)
	// Each read without a deadline context: the library would register a
	// callback on ctx for every frame (an allocation and the shared
	// parent's lock, thousands of times a second); the socket is closed
	// once instead when ctx ends.
	stop := context.AfterFunc(ctx, func() { v.conn.CloseNow() })
	defer stop()
	rctx := context.WithoutCancel(ctx)
	for {
		_, r, err := v.conn.Reader(rctx)
		if err != nil {
			v.err, v.early = err, !v.closing.Load()
			return
		}
		bp := framePool.Get().(*[]byte)
		data, err := readAllInto(r, (*bp)[:0])
		if err != nil {
			v.err, v.early = err, !v.closing.Load()
			return
		}
		b.frame(v, data, time.Since(b.t0))
		*bp = data[:0]
		framePool.Put(bp)
	}
}

func readAllInto(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// frame takes a frame that arrived at a viewer at time at: each gift
// event of a fan of the bench stands for the fan's gifts since the last
// one this viewer saw, and each of them took from its sending until now.
func (b *liveBench) frame(v *liveViewer, data []byte, at time.Duration) {
	p := b.parse(data)
	sh := v.shard
	sh.mu.Lock()
	for _, e := range p.events {
		from, to, odd := v.streaks[e.fan].see(e.combo, e.count)
		if odd {
			v.odd++
		}
		f := b.fans[e.fan]
		for k := from; k <= to; k++ {
			if t := f.sent.at(k); t > 0 && t <= at {
				sh.h.record(at - t)
			} else {
				v.odd++
			}
		}
		v.got.Add(e.count)
	}
	sh.mu.Unlock()
	if p.bad {
		v.odd++
	}
}

// parsedFrame is what a frame says about the bench's fans.
type parsedFrame struct {
	seq    int64
	size   int
	events []giftEvent
	bad    bool // a gift event could not be read
}

type giftEvent struct {
	fan          int // index in fans
	count, combo int64
}

// parse reads the gift events of the bench's fans in a frame. The room
// encodes each frame once for all its viewers, so a frame is parsed by
// the first viewer to get it and the others find it by its seq.
func (b *liveBench) parse(data []byte) *parsedFrame {
	seq, ok := frameSeq(data)
	slot := &b.parsed[uint64(seq)%uint64(len(b.parsed))]
	if ok {
		if p := slot.Load(); p != nil && p.seq == seq && p.size == len(data) {
			return p
		}
	}
	p := &parsedFrame{seq: seq, size: len(data)}
	sc := giftScanner{data: data}
	for sc.next() {
		if i, mine := b.handles[string(sc.gifter)]; mine {
			p.events = append(p.events, giftEvent{fan: i, count: sc.count, combo: sc.combo})
		}
	}
	p.bad = sc.bad
	if ok {
		slot.Store(p)
	}
	return p
}

// frameSeq reads the seq a room frame starts with ({"seq":N,...}).
func frameSeq(data []byte) (int64, bool) {
	const prefix = `{"seq":`
	if !bytes.HasPrefix(data, []byte(prefix)) {
		return 0, false
	}
	seq, _, ok := scanInt(data, 0, []byte(prefix))
	return seq, ok
}

// send runs the fans for d and returns how long the sending took, from
// the first gift to the last answer.
func (b *liveBench) send(ctx context.Context, rate float64, d time.Duration) time.Duration {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	u := b.base + "/v1/lives/" + b.liveID + "/gifts"
	for i, f := range b.fans {
		wg.Go(func() { b.sender(ctx, i, f, u, start, rate, stop) })
	}
	bar := newProgress(b.stderr, "gifts", b.quiet)
	tick := time.NewTicker(100 * time.Millisecond)
	end := time.NewTimer(d)
loop:
	for {
		select {
		case <-tick.C:
			var acked int64
			for _, f := range b.fans {
				acked += f.acked.Load()
			}
			total := int64(rate * d.Seconds())
			if rate == 0 {
				total = int64(float64(acked) * d.Seconds() / max(time.Since(start).Seconds(), 0.001))
			}
			bar.set(acked, max(total, acked))
		case <-end.C:
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	bar.done()
	return elapsed
}

// sender is fan i sending gifts until stop: at its share of rate, its
// sends spread evenly among the other fans', or back to back at rate 0.
func (b *liveBench) sender(ctx context.Context, i int, f *liveFan, u string, start time.Time, rate float64, stop <-chan struct{}) {
	var every time.Duration
	if rate > 0 {
		every = time.Duration(float64(len(b.fans)) / rate * float64(time.Second))
		start = start.Add(every * time.Duration(i) / time.Duration(len(b.fans)))
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for n := int64(0); ; n++ {
		if every > 0 {
			if wait := time.Until(start.Add(every * time.Duration(n))); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-stop:
					return
				}
			}
		}
		select {
		case <-stop:
			return
		default:
		}
		place := f.acked.Load() + 1
		if !f.sent.set(place, max(time.Since(b.t0), 1)) {
			return
		}
		f.attempts++
		switch b.gift(ctx, f, u, fmt.Sprintf("%s-%d-%d", b.run, i, n)) {
		case giftAcked:
			f.acked.Add(1)
		case giftUnknown:
			// Its place in the fan's sequence is unknown: stop here, so
			// that the fan's acknowledged gifts keep their places.
			f.unsure = true
			return
		}
	}
}

type giftOutcome int

const (
	giftAcked   giftOutcome = iota // 201: committed and published
	giftRefused                    // 4xx: nothing happened
	giftUnknown                    // no answer, or 5xx even when asked again
)

// gift sends one gift. A 5xx or no answer may hide a committed gift: it is
// asked again with the same key, which answers the first outcome (and
// publishes nothing twice).
func (b *liveBench) gift(ctx context.Context, f *liveFan, u, key string) giftOutcome {
	for try := range 3 {
		if try > 0 {
			select {
			case <-ctx.Done():
				return giftUnknown
			case <-time.After(time.Duration(try) * 50 * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(giftBody))
		if err != nil {
			return giftUnknown
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+f.token)
		req.Header.Set("Idempotency-Key", key)
		t := time.Now()
		resp, err := b.http.Do(req)
		if err != nil {
			f.errs["net"]++
			if ctx.Err() != nil {
				return giftUnknown
			}
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t)
		switch {
		case resp.StatusCode == http.StatusCreated:
			f.http.record(d)
			return giftAcked
		case resp.StatusCode < 500:
			f.errs[strconv.Itoa(resp.StatusCode)]++
			return giftRefused
		}
		f.errs[strconv.Itoa(resp.StatusCode)]++
	}
	return giftUnknown
}

// drain gives the viewers up to liveBenchDrain to receive the acked gifts.
func (b *liveBench) drain(acked int64) {
	deadline := time.Now().Add(liveBenchDrain)
	for time.Now().Before(deadline) {
		behind := false
		for _, v := range b.viewers {
			select {
			case <-v.done:
				continue
			default:
			}
			if v.got.Load() < acked {
				behind = true
				break
			}
		}
		if !behind {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closeViewers closes every socket and waits for the readers to end.
func (b *liveBench) closeViewers() {
	for _, v := range b.viewers {
		if v != nil {
			v.closing.Store(true)
			v.conn.CloseNow()
		}
	}
	for _, v := range b.viewers {
		if v != nil {
			<-v.done
		}
	}
}

// droppedMetric reads fanfare_room_slow_viewers_dropped_total from
// /metrics; ok is false when it cannot.
func (b *liveBench) droppedMetric(ctx context.Context) (n int64, ok bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.metrics, nil)
	if err != nil {
		return 0, false
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, found := strings.CutPrefix(sc.Text(), "fanfare_room_slow_viewers_dropped_total "); found {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f), err == nil
		}
	}
	return 0, false
}
