package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare/internal/broker"
)

const benchLiveSynopsis = `Usage: fanfare bench live [flags]

Loads one LIVE room the way a crowded LIVE does: --viewers WebSocket viewers
watch its feed (GET /v1/lives/{id}/events), each reading frames as fast as it
can, while --senders fans send roses over HTTP (POST /v1/lives/{id}/gifts,
count 1, a new Idempotency-Key each) at --rate gifts a second in all, for
--duration. At --rate 0 the load is a closed loop: each fan sends its next
gift as soon as the last is answered.

The server is one of two:
  - by default, this same executable's "serve", started by the bench as a
    child process on free loopback ports over a fresh database (a temporary
    SQLite file, or a new schema in the PostgreSQL server given by --db,
    FANFARE_BENCH_POSTGRES or FANFARE_TEST_POSTGRES), with a new API key, no
    daily spend limit and no purchase limits; it is stopped with SIGTERM at
    the end (a shutdown that fails fails the run). Its /metrics is read on
    its own port (FANFARE_METRICS_ADDR) or, where it is served on the main
    listener, behind a new token (FANFARE_METRICS_TOKEN).
  - with --url, a server started separately on this machine ("fanfare
    serve" or "fanfare demo"). The bench needs its operator key (--api-key
    or FANFARE_API_KEY) to grant the fans coins, and reads its memory at
    --metrics-url (with --metrics-token when /metrics needs one). Its own
    limits apply: with the default daily spend limit (100,000 coins a fan)
    a run of up to 100,000 gifts per fan a day fits.
Either way the setup signs up a creator of 18+ who goes LIVE and the fans,
logs them in and grants each 1,000,000 coins; any setup failure ends the run
with a non-zero status.

After --duration the fans stop, the viewers get up to 2 s to receive what is
still on its way, the sockets close, and one line sums it up:

  live: 5000 viewers, 500 gifts/s offered, 500 acked/s, http p50 3 ms p99 21 ms (from scheduled send), delivery p50 40 ms p99 180 ms (from scheduled send), missed 0, over 0, dropped 0, lost 0, 31 KiB/viewer (server heap+stack in use from /metrics)

offered, acked  gifts sent, and gifts answered 201, per second of sending
http            the time to a gift's 201 answer, for every 201 (retries of
                a 5xx with the same key included)
delivery        the time to a gift's event reaching a viewer, once per gift
                and viewer. The room coalesces a fan's gifts of a tick into
                one event (count n, combo c: the fan's total in its streak),
                so an event stands for the fan's gifts since the one the
                viewer saw last; a combo that goes back down starts a new
                streak.
(from scheduled send)
                at --rate R > 0 each fan has a schedule (the k-th gift of all
                is due at start + k/R) and both latencies count from when a
                gift was due, not from when it went out: a slow answer that
                holds a fan's next gifts back counts in theirs too, so a
                stall is not hidden (coordinated omission). A fan behind its
                schedule sends at once until it has caught up.
(closed loop: from actual send)
                at --rate 0 there is no schedule: a gift is due when sent
missed          acknowledged gifts that a viewer connected to the end never
                received, summed over those viewers
over            gifts a viewer received more than once (a frame it already
                had, or a gift it had already seen), and gifts received that
                no fan was told were sent (beyond a fan's acknowledged ones),
                summed over all viewers
dropped         viewers the server closed as too slow (WebSocket close 1008);
                the server's own count, fanfare_room_slow_viewers_dropped_total
                on /metrics, is printed on stderr when it differs
lost            viewers whose socket ended before the bench closed it for any
                other reason (a connection error, another close code)
KiB/viewer      the server's memory per idle viewer: the growth of its heap
                and stacks in use (go_memstats_heap_inuse_bytes +
                go_memstats_stack_inuse_bytes on its /metrics) from before
                the viewers connect to once they are all connected, before
                any gift, divided by the viewers. Each reading is taken just
                after a garbage collection of the server's, which the bench
                brings about by reading /metrics until the server's count of
                collections (go_gc_duration_seconds_count) goes up, so that
                garbage is not counted; n/a when /metrics cannot be read (the
                reason is on stderr). Its precision is about a MiB in all:
                read it from runs of a thousand viewers or more.
server CPU      the servers' CPU over the sending (process_cpu_seconds_total
                on their /metrics, user and system, summed over the nodes),
                in cores; the frames per second the viewers read meanwhile;
                and that CPU per frame read, which is the fan-out's cost
                where frames dominate (it holds the gifts' cost too). Left
                out when /metrics cannot be read.

Anything else that went wrong follows on the same line: "errors" counts the
gift requests answered other than 201 by status ("net" for no answer),
"unreadable" the gift events that could not be read or arrived before they
were due, "not sent" the gifts due on the fans' schedules that were never
sent (the fans fell behind), and the fans that stopped on a gift whose
outcome they never learnt. The clients share this machine's cores with the
server (on loopback): the figures are those of the whole. Every viewer's
socket lives in this process, so the open-file limit is raised to its hard
maximum (the child server inherits it).

With --webhook a loopback receiver is registered as a webhook endpoint for
gift.sent before the gifts, checks each delivery's signature, and the line
ends with: "webhooks N events R/s" (distinct events received, a second from
the first receipt to the last), "lag p50 p99 (from the gift)" (from the
gift's time on the server to the event's receipt), "missing" (acked gifts
whose event had not arrived 60 s after the sending), "again" (events
received more than once) and "bad signatures".`

// liveBenchTimeout is added to --duration for the default --timeout.
const liveBenchTimeout = 3 * time.Minute

// webhookDrain is how long --webhook waits after the gifts for the events
// still on their way.
const webhookDrain = 60 * time.Second

// liveOptions are the flags of "bench live".
type liveOptions struct {
	viewers, senders int
	rate             float64
	duration         time.Duration
	storeName, dbURL string
	serverURL        string
	apiKey           string
	metricsURL       string
	metricsToken     string
	timeout          time.Duration
	cpuprofile       string
	keep, quiet      bool
	jobs             bool
	webhook          bool
	nodes            int
}

func (c *BenchCommand) live(ctx context.Context, args []string) error {
	return benchLive(ctx, args, c.stdout, c.stderr, liveHooks{})
}

// parseLiveFlags reads and checks the flags.
func parseLiveFlags(args []string, stderr io.Writer) (liveOptions, error) {
	var o liveOptions
	fs := newFlagSet("bench live", benchLiveSynopsis, stderr)
	fs.IntVar(&o.viewers, "viewers", 1000, "viewers watching the room feed")
	fs.IntVar(&o.senders, "senders", 64, "fans sending gifts, each one request at a time")
	fs.Float64Var(&o.rate, "rate", 500, "gifts a second from all the fans together, on a schedule; 0 sends as fast as the server answers (closed loop)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long the fans send gifts")
	fs.StringVar(&o.storeName, "store", "sqlite", "the started server's database: sqlite or postgres")
	fs.StringVar(&o.dbURL, "db", "", "database the started server runs in (SQLite: a file URL; PostgreSQL: a server URL, a fresh schema is used)")
	fs.StringVar(&o.serverURL, "url", "", "bench the server at this loopback base URL (http://127.0.0.1:8080), started separately, instead of starting one")
	o.apiKey = env("FANFARE_API_KEY", "")
	fs.Var(secretFlag{&o.apiKey}, "api-key", "the --url server's operator key, to grant the fans coins (env FANFARE_API_KEY)")
	fs.StringVar(&o.metricsURL, "metrics-url", "http://127.0.0.1:9464/metrics", "the --url server's Prometheus /metrics, read for its memory and its count of dropped viewers")
	o.metricsToken = env("FANFARE_METRICS_TOKEN", "")
	fs.Var(secretFlag{&o.metricsToken}, "metrics-token", "bearer token for --metrics-url, when it needs one (env FANFARE_METRICS_TOKEN)")
	fs.DurationVar(&o.timeout, "timeout", 0, "hard limit on the whole run (default --duration plus 3 minutes)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the bench's clients (not the server: another process) while sending to this file")
	fs.BoolVar(&o.keep, "keep", false, "keep the started server's database afterwards")
	fs.BoolVar(&o.jobs, "jobs", true, "the started server runs its background jobs, as serve does by default (false: --jobs=false, to measure what they cost)")
	fs.BoolVar(&o.webhook, "webhook", false, "also receive every gift.sent event by webhook: a loopback receiver, registered as an endpoint, checks each signature; the summary adds the events delivered a second, their lag from the gift, and the events missing at the end")
	fs.IntVar(&o.nodes, "nodes", 1, "start this many servers on one PostgreSQL database and one NATS server (in this process), spread the viewers and the fans over them, and add the cross-node delivery and each node's CPU to the summary; more than 1 needs --store postgres (the default then)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bars")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	storeSet := false
	fs.Visit(func(f *flag.Flag) { storeSet = storeSet || f.Name == "store" })
	if o.nodes > 1 && !storeSet {
		o.storeName = "postgres"
	}
	if err := noArgs(fs); err != nil {
		return o, err
	}
	switch {
	case o.viewers < 1 || o.senders < 1:
		return o, errors.New("bench live: --viewers and --senders must be positive")
	case o.rate < 0 || math.IsNaN(o.rate) || math.IsInf(o.rate, 0):
		return o, errors.New("bench live: --rate must be 0 (as fast as possible) or more")
	case o.duration <= 0:
		return o, errors.New("bench live: --duration must be positive")
	case o.nodes < 1 || o.nodes > 16:
		return o, errors.New("bench live: --nodes must be 1 to 16")
	case o.nodes > 1 && o.serverURL != "":
		return o, errors.New("bench live: --nodes starts its servers; it cannot be used with --url")
	case o.nodes > 1 && o.storeName != "postgres":
		return o, errors.New("bench live: --nodes above 1 share one PostgreSQL database: use --store postgres")
	case o.serverURL != "" && o.apiKey == "":
		return o, errors.New("bench live: --url needs --api-key (or FANFARE_API_KEY) to grant the fans coins")
	}
	if o.serverURL != "" {
		base, err := loopbackURL(o.serverURL)
		if err != nil {
			return o, err
		}
		o.serverURL = base
		if u, err := url.Parse(o.metricsURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, fmt.Errorf("bench live: --metrics-url must be an http(s) URL such as http://127.0.0.1:9464/metrics, not %q", o.metricsURL)
		}
	}
	if o.timeout <= 0 {
		o.timeout = o.duration + liveBenchTimeout
	}
	return o, nil
}

// benchLive runs "bench live" with args: the server, the clients' run, and
// the summary line on stdout.
func benchLive(ctx context.Context, args []string, stdout, stderr io.Writer, hooks liveHooks) error {
	o, err := parseLiveFlags(args, stderr)
	if err != nil {
		return err
	}
	if err := raiseFileLimit(uint64(o.viewers+o.senders) + 256); err != nil {
		return fmt.Errorf("bench live: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	// The servers.
	base, apiKey := o.serverURL, o.apiKey
	var bases []string
	var metrics []*serverMetrics
	var srvs []*liveServer
	if base == "" {
		u, cleanup, err := benchDB("bench live", o.storeName, o.dbURL, o.keep)
		if err != nil {
			return err
		}
		defer cleanup()
		flags := []string{"--jobs=" + strconv.FormatBool(o.jobs)}
		if o.nodes > 1 {
			ns, err := broker.StartServer(0)
			if err != nil {
				return fmt.Errorf("bench live: start NATS: %w", err)
			}
			defer ns.Stop()
			fmt.Fprintf(stderr, "NATS on %s (in this process)\n", ns.URL())
			flags = append(flags, "--nats-url", ns.URL())
		}
		apiKey = randomHex(16)
		for i := range o.nodes {
			nf := flags
			if o.nodes > 1 {
				nf = append(slices.Clone(flags), "--node", "node"+strconv.Itoa(i+1))
			}
			srv, err := startLiveServer(ctx, u, apiKey, nf...)
			if err != nil {
				return fmt.Errorf("bench live: start the server: %w", err)
			}
			defer srv.stop()
			srvs = append(srvs, srv)
			bases = append(bases, srv.base)
			fmt.Fprintf(stderr, "server on %s (%s, pid %d)\n", srv.base, o.storeName, srv.cmd.Process.Pid)
			m, err := srv.findMetrics(ctx)
			if err != nil {
				fmt.Fprintf(stderr, "the server's /metrics cannot be read: %v\n", err)
			}
			metrics = append(metrics, m)
		}
		base = bases[0]
	} else {
		bases = []string{base}
		metrics = []*serverMetrics{{url: o.metricsURL, token: o.metricsToken, client: &http.Client{Timeout: 10 * time.Second}}}
	}

	// The webhook receiver.
	var hook *hookReceiver
	if o.webhook {
		if hook, err = startHookReceiver(); err != nil {
			return fmt.Errorf("bench live: %w", err)
		}
		defer hook.close()
		if err := hook.register(ctx, base, apiKey); err != nil {
			return fmt.Errorf("bench live: %w", err)
		}
	}

	// The run.
	b := newLiveBench(stderr, o.quiet, bases, apiKey, o.senders, hooks)
	defer b.close()
	r, err := b.measure(ctx, o, metrics)
	if err != nil {
		return err
	}
	if hook != nil {
		t := time.Now()
		hook.wait(ctx, r.acked, webhookDrain)
		fmt.Fprintf(stderr, "webhooks drained in %.1f s\n", time.Since(t).Seconds())
		r.webhooks = hook.summary(r.acked)
	}
	for _, srv := range srvs {
		if err := srv.stop(); err != nil {
			return fmt.Errorf("bench live: shut the server down: %w", err)
		}
	}
	fmt.Fprintln(stdout, r.line())
	if r.acked == 0 {
		return exitError(1)
	}
	return nil
}

// measure runs the clients against the server in named steps and returns
// the report: setup, the server's memory before the viewers, the viewers,
// its memory with them, the gifts, the drain, and the tally.
func (b *liveBench) measure(ctx context.Context, o liveOptions, metrics []*serverMetrics) (*liveReport, error) {
	r := &liveReport{viewers: o.viewers, rate: o.rate, memPerViewer: math.NaN(), nodes: len(b.bases)}
	if err := b.health(ctx); err != nil {
		return nil, err
	}
	t := time.Now()
	if err := b.setup(ctx, o.senders); err != nil {
		return nil, fmt.Errorf("bench live: setup: %w", err)
	}
	fmt.Fprintf(b.stderr, "%d fans signed up, logged in and granted coins in %.1f s; LIVE %s\n", o.senders, time.Since(t).Seconds(), b.liveID)

	memBefore, memErr := b.serverMemory(ctx, metrics, "before the viewers")
	droppedBefore, droppedOK := droppedOf(ctx, metrics)

	viewCtx, stopViewers := context.WithCancel(ctx)
	defer stopViewers()
	t = time.Now()
	if err := b.connect(viewCtx, o.viewers); err != nil {
		b.closeViewers()
		return nil, fmt.Errorf("bench live: connect the viewers: %w", err)
	}
	fmt.Fprintf(b.stderr, "%d viewers connected in %.1f s\n", o.viewers, time.Since(t).Seconds())
	if memErr == nil {
		memAfter, err := b.serverMemory(ctx, metrics, "with the viewers")
		if err == nil {
			r.memPerViewer = (memAfter - memBefore) / float64(o.viewers)
			fmt.Fprintf(b.stderr, "server heap+stack in use: %.1f MiB before the viewers, %.1f MiB with them\n", memBefore/(1<<20), memAfter/(1<<20))
		}
	}

	stopProfile, err := startCPUProfile(o.cpuprofile)
	if err != nil {
		b.closeViewers()
		return nil, err
	}
	cpuBefore, framesBefore := cpuOf(ctx, metrics), b.frames.Load()
	r.elapsed = b.send(ctx, o.rate, o.duration)
	cpuAfter, framesAfter := cpuOf(ctx, metrics), b.frames.Load()
	r.frames = framesAfter - framesBefore
	for i := range cpuAfter {
		r.nodeCPU = append(r.nodeCPU, (cpuAfter[i]-cpuBefore[i])/r.elapsed.Seconds())
	}
	r.acked = b.acked()
	t = time.Now()
	b.drain(r.acked)
	fmt.Fprintf(b.stderr, "sent for %.1f s; drained in %.2f s\n", r.elapsed.Seconds(), time.Since(t).Seconds())
	stopProfile()
	droppedAfter, _ := droppedOf(ctx, metrics)
	if err := ctx.Err(); err != nil {
		b.closeViewers()
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("bench live: the run did not finish within --timeout")
		}
		return nil, fmt.Errorf("bench live: interrupted: %w", err)
	}

	b.closeViewers()
	r.tally = b.tally()
	r.addFans(b.fans, b.shards)
	if droppedOK && droppedAfter-droppedBefore != r.tally.dropped {
		fmt.Fprintf(b.stderr, "the server counts %d slow viewers dropped (%s)\n", droppedAfter-droppedBefore, metricDropped)
	}
	return r, nil
}

// serverMemory reads the servers' heap and stacks in use (summed over the
// nodes) after a garbage collection of each, saying on stderr why it
// cannot.
func (b *liveBench) serverMemory(ctx context.Context, metrics []*serverMetrics, when string) (float64, error) {
	t := time.Now()
	var n float64
	for _, m := range metrics {
		if m == nil {
			return math.NaN(), errors.New("no /metrics")
		}
		v, err := m.memory(ctx)
		if err != nil {
			fmt.Fprintf(b.stderr, "the server's memory %s is not known: %v\n", when, err)
			return v, err
		}
		n += v
	}
	fmt.Fprintf(b.stderr, "the server collected garbage %s in %.1f s\n", when, time.Since(t).Seconds())
	return n, nil
}

// startCPUProfile starts writing a CPU profile to path, if any, and returns
// the function that ends it.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench live: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench live: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// liveReport is what the summary line says.
type liveReport struct {
	viewers        int
	rate           float64
	elapsed        time.Duration
	attempts       int64 // gifts sent
	acked          int64 // gifts answered 201
	notSent        int64 // gifts due on the schedules but never sent
	unsure         int64 // fans stopped on a gift of unknown outcome
	http, delivery histogram
	errs           map[string]int
	tally          liveTally
	memPerViewer   float64 // bytes; NaN when not measured
	webhooks       string  // the webhook receiver's summary (--webhook)
	nodes          int
	cross          histogram // deliveries to another node's viewers
	nodeCPU        []float64 // cores each node used while the fans sent (NaN: unknown)
	frames         int64     // frames the viewers read while the fans sent
}

// addFans adds what the senders and the viewers' latency shards counted.
func (r *liveReport) addFans(fans []*liveFan, shards []latencyShard) {
	r.errs = map[string]int{}
	for _, f := range fans {
		r.http.merge(&f.http)
		r.attempts += f.attempts
		r.notSent += max(0, f.due-f.attempts)
		for k, n := range f.errs {
			r.errs[k] += n
		}
		if f.unsure {
			r.unsure++
		}
	}
	for i := range shards {
		r.delivery.merge(&shards[i].h)
		r.cross.merge(&shards[i].cross)
	}
}

// line is the summary line.
func (r *liveReport) line() string {
	secs := r.elapsed.Seconds()
	from := "(from scheduled send)"
	if r.rate == 0 {
		from = "(closed loop: from actual send)"
	}
	line := fmt.Sprintf("live: %d viewers, %.0f gifts/s offered, %.0f acked/s, http p50 %s p99 %s %s, delivery p50 %s p99 %s %s, missed %d, over %d, dropped %d, lost %d, %s/viewer (%s)",
		r.viewers, float64(r.attempts)/secs, float64(r.acked)/secs,
		fmtLatency(r.http.quantile(0.5)), fmtLatency(r.http.quantile(0.99)), from,
		fmtLatency(r.delivery.quantile(0.5)), fmtLatency(r.delivery.quantile(0.99)), from,
		r.tally.missed, r.tally.over, r.tally.dropped, r.tally.lost, fmtKiB(r.memPerViewer), memorySource)
	if cores := sum(r.nodeCPU); !math.IsNaN(cores) && cores > 0 {
		// What the servers spent, all of it (the gifts' too), per frame a
		// viewer read: the fan-out's cost where frames dominate.
		per := "no frames"
		if r.frames > 0 {
			per = fmt.Sprintf("%.1f µs per frame read", cores*r.elapsed.Seconds()/float64(r.frames)*1e6)
		}
		line += fmt.Sprintf(", server CPU %.2f cores, %d frames/s, %s (process_cpu_seconds_total over the sending)",
			cores, int64(float64(r.frames)/secs), per)
	}
	if r.nodes > 1 {
		cpu := make([]string, len(r.nodeCPU))
		for i, c := range r.nodeCPU {
			cpu[i] = fmt.Sprintf("%.2f", c)
		}
		line += fmt.Sprintf(", %d nodes: cross-node delivery p50 %s p99 %s %s, node CPU %s cores (process_cpu_seconds_total over the sending)",
			r.nodes, fmtLatency(r.cross.quantile(0.5)), fmtLatency(r.cross.quantile(0.99)), from, strings.Join(cpu, " "))
	}
	if len(r.errs) > 0 {
		keys := slices.Sorted(maps.Keys(r.errs))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s×%d", k, r.errs[k])
		}
		line += ", errors " + strings.Join(parts, " ")
	}
	if r.tally.bad > 0 {
		line += fmt.Sprintf(", unreadable %d", r.tally.bad)
	}
	if r.notSent > 0 {
		line += fmt.Sprintf(", not sent %d", r.notSent)
	}
	if r.unsure > 0 {
		line += fmt.Sprintf(", %d fans stopped on an unanswered gift", r.unsure)
	}
	return line + r.webhooks
}

// sum adds xs up (NaN if any is).
func sum(xs []float64) float64 {
	var n float64
	for _, x := range xs {
		n += x
	}
	return n
}

// fmtLatency prints a latency in milliseconds, with a decimal under 10.
func fmtLatency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// fmtKiB shows bytes in KiB, or n/a.
func fmtKiB(bytes float64) string {
	if math.IsNaN(bytes) {
		return "n/a KiB"
	}
	return fmt.Sprintf("%.0f KiB", bytes/1024)
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
