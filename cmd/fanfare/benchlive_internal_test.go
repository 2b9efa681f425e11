package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/app/apptest"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	// Every value lands in a bucket whose middle is within 1/32 of it,
	// buckets are in order, and small values are exact.
	prev := -1
	for v := int64(0); v < 1<<22; v += 1 + v/97 {
		i := histBucket(v)
		require.GreaterOrEqual(t, i, prev, "bucket of %d", v)
		prev = i
		got := histValue(i)
		if v < 2*histSub {
			require.Equal(t, v, got)
			continue
		}
		require.InDelta(t, float64(v), float64(got), float64(v)/histSub, "value of bucket %d for %d", i, v)
	}
	require.Equal(t, histBuckets-1, histBucket(1<<62), "huge values count in the last bucket")
	require.Equal(t, 0, histBucket(-5), "negative values count as 0")
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	var h histogram
	require.Zero(t, h.quantile(0.5), "empty")

	h.record(7 * time.Millisecond)
	require.Equal(t, 1, int(h.count()))
	require.InDelta(t, 7000, h.quantile(0.5).Microseconds(), 7000/histSub)
	require.InDelta(t, 7000, h.quantile(0.99).Microseconds(), 7000/histSub)

	// 1..10,000 ms, shuffled: p50 is 5,000 ms and p99 9,900 ms, within
	// the buckets' precision.
	var u histogram
	vals := make([]int, 10000)
	for i := range vals {
		vals[i] = i + 1
	}
	rand.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
	for _, v := range vals {
		u.record(time.Duration(v) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want float64 // ms
	}{{0.5, 5000}, {0.9, 9000}, {0.99, 9900}, {1, 10000}, {0.0001, 1}} {
		got := float64(u.quantile(c.q)) / float64(time.Millisecond)
		require.InDelta(t, c.want, got, c.want/histSub+0.001, "p%v = %v ms", c.q*100, got)
	}

	// Merged halves give the same answers as the whole.
	var a, b histogram
	for i, v := range vals {
		if i%2 == 0 {
			a.record(time.Duration(v) * time.Millisecond)
		} else {
			b.record(time.Duration(v) * time.Millisecond)
		}
	}
	a.merge(&b)
	require.Equal(t, u.count(), a.count())
	for _, q := range []float64{0.5, 0.99} {
		require.Equal(t, u.quantile(q), a.quantile(q))
	}

	// A skewed distribution: 99 fast values and one slow.
	var s histogram
	for range 99 {
		s.record(time.Millisecond)
	}
	s.record(time.Second)
	require.InDelta(t, 1000, s.quantile(0.99).Microseconds(), 1000/histSub)
	require.InDelta(t, 1_000_000, s.quantile(1).Microseconds(), 1_000_000/histSub)
}

func TestSendLog(t *testing.T) {
	t.Parallel()
	var l sendLog
	require.Zero(t, l.at(1), "nothing sent")
	require.Zero(t, l.at(0))
	for i := int64(1); i <= 3*sendChunkSize; i++ {
		require.True(t, l.set(i, time.Duration(i)))
	}
	for _, i := range []int64{1, sendChunkSize, sendChunkSize + 1, 3 * sendChunkSize} {
		require.Equal(t, time.Duration(i), l.at(i))
	}
	require.Zero(t, l.at(3*sendChunkSize+1))
	require.False(t, l.set(sendChunkSize*sendLogChunks+1, 1), "beyond capacity")
	require.Zero(t, l.at(sendChunkSize*sendLogChunks+1))
}

func TestStreak(t *testing.T) {
	t.Parallel()
	type ev struct {
		combo, count int64
		from, to     int64
		odd          bool
	}
	for _, c := range []struct {
		name string
		evs  []ev
	}{
		{"one at a time", []ev{{1, 1, 1, 1, false}, {2, 1, 2, 2, false}, {3, 1, 3, 3, false}}},
		{"coalesced", []ev{{3, 3, 1, 3, false}, {5, 2, 4, 5, false}, {9, 4, 6, 9, false}}},
		{"reset to its count", []ev{{1, 1, 1, 1, false}, {4, 3, 2, 4, false},
			{2, 2, 5, 6, false}, // a pause of more than 3 s: a new streak of 2
			{3, 1, 7, 7, false},
			{1, 1, 8, 8, false}, // and another
		}},
		{"reset to a higher count", []ev{{2, 2, 1, 2, false}, {5, 5, 3, 7, false}}},
		{"reset within one tick", []ev{{4, 4, 1, 4, false},
			{2, 3, 5, 7, false}, // one more of the old streak, then a new one of 2
			{3, 1, 8, 8, false},
		}},
		{"frames missed", []ev{{1, 1, 1, 1, false}, {5, 2, 4, 5, true}, {6, 1, 6, 6, false}}},
		{"new streak whose start was missed", []ev{{6, 6, 1, 6, false}, {3, 1, 9, 9, true}, {4, 1, 10, 10, false}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s streak
			var got int64
			for i, e := range c.evs {
				from, to, odd := s.see(e.combo, e.count)
				require.Equal(t, [3]any{e.from, e.to, e.odd}, [3]any{from, to, odd}, "event %d (combo %d count %d)", i, e.combo, e.count)
				got += e.count
			}
			require.Equal(t, got, s.got)
		})
	}
	var s streak
	_, to, odd := s.see(0, 1)
	require.True(t, odd, "a zero combo is malformed")
	require.Equal(t, int64(-1), to, "and brings nothing")
}

// TestGiftScannerOnRoomFrames reads the frames a real room sends, with
// chat and names that look like JSON, and checks that the scanner finds
// exactly the gift events encoding/json finds, and that the streaks turn
// them back into each fan's gifts in order, across a combo reset.
func TestGiftScannerOnRoomFrames(t *testing.T) {
	t.Parallel()
	base := time.Now().Add(time.Hour)
	broker := room.NewLocal()
	hub := room.NewHub(broker, room.Options{Tick: 5 * time.Millisecond, Now: func() time.Time { return base }})
	t.Cleanup(hub.Close)
	ctx := context.Background()
	v, err := hub.Join(ctx, "r")
	require.NoError(t, err)
	defer v.Leave()
	first := <-v.Frames()
	require.True(t, bytes.HasPrefix(first, stateFrameS), "%s", first)

	fans := []struct{ id, handle, name string }{
		{"u1", "bl_f0", `Ann "combo":99 {"type":"gift"}`},
		{"u2", "bl_f1", `Bob}]`},
	}
	// Each fan's gifts, in order, with the time the room sees them; a gap
	// over 3 s resets the combo, several in one tick coalesce.
	at := func(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }
	type send struct {
		fan   int
		times []float64 // published back to back, so mostly one tick
	}
	plan := []send{
		{0, []float64{0}}, {1, []float64{0, 0.1, 0.2}}, {0, []float64{1}},
		{0, []float64{5}}, // reset
		{1, []float64{0.5}},
		{0, []float64{5.5, 9.5, 9.6}}, // a reset inside the batch
		{1, []float64{10}},            // reset
	}
	want := [2]int64{}
	for _, p := range plan {
		for _, s := range p.times {
			f := fans[p.fan]
			require.NoError(t, broker.Publish(ctx, "r", room.Event{Type: room.TypeGift, At: at(s), Gift: &room.Gift{
				GifterID: f.id, Handle: f.handle, DisplayName: f.name, GiftID: "rose", Name: "Rose", Tier: 1, Count: 1, Coins: 1}}))
			want[p.fan]++
		}
		require.NoError(t, broker.Publish(ctx, "r", room.Event{Type: room.TypeChat, At: base, Chat: &room.Chat{
			AuthorID: "u3", Handle: "c", DisplayName: "C", Text: `{"type":"gift","gifter":"bl_f0","count":7,"combo":7}`}}))
		time.Sleep(15 * time.Millisecond) // the next batch in another tick
	}

	b := &liveBench{handles: map[string]int{fans[0].handle: 0, fans[1].handle: 1}, parsed: make([][256]atomic.Pointer[parsedFrame], 2)}
	var streaks [2]streak
	var next [2]int64
	deadline := time.After(5 * time.Second)
	for streaks[0].got < want[0] || streaks[1].got < want[1] {
		var frame []byte
		select {
		case frame = <-v.Frames():
		case <-deadline:
			t.Fatalf("gifts seen %d and %d, want %v", streaks[0].got, streaks[1].got, want)
		}
		var decoded struct {
			Events []struct {
				Type   string
				Gifter string
				Count  int64
				Combo  int64
			}
		}
		require.NoError(t, json.Unmarshal(frame, &decoded))
		var fromJSON, fromScan []string
		for _, e := range decoded.Events {
			if e.Type == room.TypeGift {
				fromJSON = append(fromJSON, e.Gifter+" "+strconv.FormatInt(e.Count, 10)+" "+strconv.FormatInt(e.Combo, 10))
			}
		}
		sc := giftScanner{data: frame}
		for sc.next() {
			fromScan = append(fromScan, string(sc.gifter)+" "+strconv.FormatInt(sc.count, 10)+" "+strconv.FormatInt(sc.combo, 10))
			i := slices.IndexFunc(fans[:], func(f struct{ id, handle, name string }) bool { return f.handle == string(sc.gifter) })
			require.GreaterOrEqual(t, i, 0)
			from, to, odd := streaks[i].see(sc.combo, sc.count)
			require.False(t, odd, "%s", frame)
			require.Equal(t, next[i]+1, from, "fan %d: %s", i, frame)
			next[i] = to
		}
		require.False(t, sc.bad, "%s", frame)
		require.Equal(t, fromJSON, fromScan, "%s", frame)

		// The bench parses a frame once for all the viewers.
		p := b.parse(0, frame)
		require.Same(t, p, b.parse(0, slices.Clone(frame)), "parsed again")
		require.NotSame(t, p, b.parse(1, frame), "another node's frame of the same seq is its own")
		var fromParse []string
		for _, e := range p.events {
			fromParse = append(fromParse, fans[e.fan].handle+" "+strconv.FormatInt(e.count, 10)+" "+strconv.FormatInt(e.combo, 10))
		}
		require.Equal(t, fromScan, fromParse)
	}
	require.Equal(t, want, next, "every gift seen once, in order")
}

// TestMain lets this test binary stand in for the fanfare command: bench
// live starts os.Executable() with "serve" as its server, which here is
// the test binary, run with GO_WANT_FANFARE_MAIN=1 as main.
func TestMain(m *testing.M) {
	if os.Getenv("GO_WANT_FANFARE_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Setenv("GO_WANT_FANFARE_MAIN", "1") // inherited by the servers bench live starts
	// The servers these tests run, in process or started, hash passwords
	// at the tests' cost (apptest.TestHashCost), unless a test sets its own.
	os.Setenv("FANFARE_PASSWORD_HASH_MEMORY", strconv.Itoa(int(apptest.TestHashCost.Memory)))
	os.Setenv("FANFARE_PASSWORD_HASH_TIME", strconv.Itoa(int(apptest.TestHashCost.Time)))
	os.Exit(m.Run())
}

func TestFanTally(t *testing.T) {
	t.Parallel()
	type ev struct{ combo, count int64 }
	for _, c := range []struct {
		name         string
		evs          []ev
		acked        int64
		unsure       bool
		missed, over int64
		seen         int64
	}{
		{"all, once", []ev{{1, 1}, {3, 2}, {4, 1}}, 4, false, 0, 0, 4},
		{"one missed in a streak", []ev{{1, 1}, {3, 1}, {4, 1}}, 4, false, 1, 0, 3},
		{"the last missed", []ev{{1, 1}, {2, 1}}, 3, false, 1, 0, 2},
		{"none received", nil, 2, false, 2, 0, 0},
		{"the first event again", []ev{{1, 1}, {1, 1}, {2, 1}}, 2, false, 0, 1, 3},
		{"one gift never acknowledged", []ev{{1, 1}, {2, 1}, {3, 1}}, 2, false, 0, 1, 3},
		{"the unanswered gift of a fan that stopped", []ev{{1, 1}, {2, 1}, {3, 1}}, 2, true, 0, 0, 3},
		{"and one more than that", []ev{{4, 4}}, 2, true, 0, 1, 4},
		{"a gap and an extra", []ev{{1, 1}, {4, 2}}, 3, false, 1, 1, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ft fanTally
			for _, e := range c.evs {
				_, _, bad := ft.take(e.combo, e.count)
				require.False(t, bad)
			}
			missed, over := ft.result(c.acked, c.unsure)
			require.Equal(t, [3]int64{c.missed, c.over, c.seen}, [3]int64{missed, over, ft.seen}, "missed, over, seen")
		})
	}
	var ft fanTally
	from, to, bad := ft.take(0, 1)
	require.True(t, bad, "a zero combo is malformed")
	require.Less(t, to, from, "and brings nothing")
}

func TestLiveReportLine(t *testing.T) {
	t.Parallel()
	r := &liveReport{viewers: 10, rate: 50, elapsed: 2 * time.Second, attempts: 100, acked: 98, notSent: 3,
		errs: map[string]int{"500": 2}, tally: liveTally{missed: 4, over: 5, dropped: 1, lost: 2, bad: 1}, memPerViewer: 30 * 1024}
	r.http.record(3 * time.Millisecond)
	r.delivery.record(40 * time.Millisecond)
	require.Equal(t, "live: 10 viewers, 50 gifts/s offered, 49 acked/s, http p50 3.0 ms p99 3.0 ms (from scheduled send), "+
		"delivery p50 40 ms p99 40 ms (from scheduled send), missed 4, over 5, dropped 1, lost 2, "+
		"30 KiB/viewer (server heap+stack in use from /metrics), errors 500×2, unreadable 1, not sent 3", r.line())
	r.rate, r.memPerViewer, r.errs, r.notSent, r.tally.bad = 0, math.NaN(), nil, 0, 0
	require.Contains(t, r.line(), "http p50 3.0 ms p99 3.0 ms (closed loop: from actual send), delivery p50 40 ms p99 40 ms (closed loop: from actual send)")
	require.Contains(t, r.line(), "n/a KiB/viewer (server heap+stack in use from /metrics)")
}

var liveLine = regexp.MustCompile(`^live: (\d+) viewers, (\d+) gifts/s offered, (\d+) acked/s, ` +
	`http p50 ([\d.]+) ms p99 ([\d.]+) ms \(from scheduled send\), delivery p50 ([\d.]+) ms p99 ([\d.]+) ms \(from scheduled send\), ` +
	`missed (\d+), over (\d+), dropped (\d+), lost (\d+), (-?\d+|n/a) KiB/viewer \(server heap\+stack in use from /metrics\)(.*)$`)

// The fields of the summary line, by liveLine's groups.
const (
	lineViewers = 1
	lineAcked   = 3
	lineMissed  = 8
	lineOver    = 9
	lineDropped = 10
	lineLost    = 11
	lineKiB     = 12
	lineRest    = 13
)

// runBenchLive runs "bench live" with hooks and returns its summary line's
// fields.
func runBenchLive(t *testing.T, hooks liveHooks, args ...string) []string {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"--viewers", "50", "--senders", "8", "--rate", "100", "--duration", "2s", "--quiet"}, args...)
	err := benchLive(context.Background(), args, &out, &errOut, hooks)
	require.NoError(t, err, "stderr:\n%s", errOut.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 1, "one summary line:\n%s", out.String())
	m := liveLine.FindStringSubmatch(lines[0])
	require.NotNil(t, m, "summary line %q", lines[0])
	t.Log(lines[0])
	t.Log(errOut.String())
	require.Equal(t, "50", m[lineViewers])
	acked, _ := strconv.Atoi(m[lineAcked])
	require.Positive(t, acked, "acked/s")
	require.Equal(t, "0", m[lineDropped], "dropped")
	require.Equal(t, "0", m[lineLost], "lost")
	// A loaded machine may hold the fans behind their schedule; nothing
	// else may go wrong.
	require.Regexp(t, `^, server CPU [\d.]+ cores, \d+ frames/s, [\d.]+ µs per frame read \(process_cpu_seconds_total over the sending\)(, \d+ nodes: cross-node delivery p50 [\d.]+ ms p99 [\d.]+ ms \(from scheduled send\), node CPU [\d. ]+ cores \(process_cpu_seconds_total over the sending\))?(, not sent \d+)?$`, m[lineRest], "nothing went wrong")
	return m
}

func TestBenchLive(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		m := runBenchLive(t, liveHooks{})
		require.Equal(t, "0", m[lineMissed], "missed")
		require.Equal(t, "0", m[lineOver], "over")
		require.NotEqual(t, "n/a", m[lineKiB], "memory measured")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		storetest.URL(t, store.Postgres) // skips without a server
		m := runBenchLive(t, liveHooks{}, "--store", "postgres", "--db", os.Getenv("FANFARE_TEST_POSTGRES"))
		require.Equal(t, "0", m[lineMissed], "missed")
		require.Equal(t, "0", m[lineOver], "over")
		require.NotEqual(t, "n/a", m[lineKiB], "memory measured")
	})
	t.Run("nodes", func(t *testing.T) {
		t.Parallel()
		storetest.URL(t, store.Postgres) // skips without a server
		m := runBenchLive(t, liveHooks{}, "--nodes", "2", "--db", os.Getenv("FANFARE_TEST_POSTGRES"))
		require.Equal(t, "0", m[lineMissed], "missed")
		require.Equal(t, "0", m[lineOver], "over")
		require.Regexp(t, `^, server CPU [\d.]+ cores, \d+ frames/s, [\d.]+ µs per frame read [^,]*, 2 nodes: cross-node delivery p50 [\d.]+ ms p99 [\d.]+ ms .*, node CPU [\d.]+ [\d.]+ cores`, m[lineRest])

		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"bench", "live", "--nodes", "2", "--store", "sqlite"}, &out, &errOut)
		require.ErrorContains(t, err, "--store postgres")
	})
	t.Run("url", func(t *testing.T) {
		t.Parallel()
		// A server started apart, the way an operator starts one. Its
		// /metrics is asked for on the main listener behind a token,
		// which a server that serves it there without one also answers.
		srv, err := startLiveServer(context.Background(), storetest.URL(t, store.SQLite), randomHex(16))
		require.NoError(t, err)
		t.Cleanup(func() { srv.stop() })
		metrics := srv.metrics[len(srv.metrics)-1]
		m := runBenchLive(t, liveHooks{}, "--url", srv.base, "--api-key", srv.apiKey, "--metrics-url", metrics.url, "--metrics-token", metrics.token)
		require.Equal(t, "0", m[lineMissed], "missed")
		require.Equal(t, "0", m[lineOver], "over")
		require.NotEqual(t, "n/a", m[lineKiB], "memory measured from --metrics-url")

		var out, errOut bytes.Buffer
		err = run(context.Background(), []string{"bench", "live", "--url", srv.base, "--api-key", "wrong", "--viewers", "1", "--senders", "1", "--quiet"}, &out, &errOut)
		require.ErrorContains(t, err, "grant")
		require.Empty(t, out.String(), "no summary after a failed setup")
		require.NoError(t, srv.stop(), "the server stops cleanly")

		err = run(context.Background(), []string{"bench", "live", "--url", "http://192.0.2.1:8080", "--api-key", "k"}, &out, &errOut)
		require.ErrorContains(t, err, "on this machine")
	})
}

// TestBenchLiveCountsMissed has a viewer discard one gift event of one
// gift, as a lost frame would: the line says so.
func TestBenchLiveCountsMissed(t *testing.T) {
	t.Parallel()
	m := runBenchLive(t, liveHooks{dropOne: true})
	require.Equal(t, "1", m[lineMissed], "missed")
	require.Equal(t, "0", m[lineOver], "over")
}

// TestBenchLiveCountsOver has a viewer receive one gift event of one gift
// twice, in a frame of a seq it already had, as a frame sent twice would
// bring it: the line says so.
func TestBenchLiveCountsOver(t *testing.T) {
	t.Parallel()
	m := runBenchLive(t, liveHooks{dupOne: true})
	require.Equal(t, "0", m[lineMissed], "missed")
	require.Equal(t, "1", m[lineOver], "over")
}

// TestBenchLiveWebhook receives every gift.sent event by webhook while
// the fans send: the line says how many arrived, how fast, and that none
// is missing, none came twice and every signature was right.
func TestBenchLiveWebhook(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := benchLive(context.Background(), []string{"--viewers", "20", "--senders", "8", "--rate", "100", "--duration", "2s", "--quiet", "--webhook"}, &out, &errOut, liveHooks{})
	require.NoError(t, err, "stderr:\n%s", errOut.String())
	line := strings.TrimSpace(out.String())
	t.Log(line)
	m := liveLine.FindStringSubmatch(line)
	require.NotNil(t, m, "summary line %q", line)
	acked, _ := strconv.Atoi(m[lineAcked])
	require.Positive(t, acked)
	w := regexp.MustCompile(`, webhooks (\d+) events (\d+)/s, lag p50 [\d.]+ ms p99 [\d.]+ ms \(from the gift\), missing (\d+), again (\d+), bad signatures (\d+)$`).FindStringSubmatch(m[lineRest])
	require.NotNil(t, w, "webhook summary in %q", m[lineRest])
	require.NotEqual(t, "0", w[1], "events received")
	require.Equal(t, []string{"0", "0", "0"}, w[3:], "missing, again, bad signatures")
}
