package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The server's own figures, read from its Prometheus /metrics: its memory
// (the Go collector) and its count of viewers dropped as too slow.

// The metrics bench live reads.
const (
	metricHeapInuse  = "go_memstats_heap_inuse_bytes"
	metricStackInuse = "go_memstats_stack_inuse_bytes"
	metricGCs        = "go_gc_duration_seconds_count"
	metricDropped    = "fanfare_room_slow_viewers_dropped_total"
)

// memorySource names what KiB/viewer measures, in the summary line.
const memorySource = "server heap+stack in use from /metrics"

// Reading the server's memory after a garbage collection.
const (
	gcWait      = 60 * time.Second       // longest wait for the server to collect
	gcPollEvery = 50 * time.Millisecond  // how often the collections are counted meanwhile
	gcScrapers  = 2                      // readers of /metrics that make the server allocate
	sweepWait   = 200 * time.Millisecond // for the collected spans to be swept
)

// serverMetrics reads one server's /metrics.
type serverMetrics struct {
	url    string
	token  string // sent as a bearer token when set
	client *http.Client
}

// read returns the unlabelled samples of the metrics named in names found
// at the URL.
func (m *serverMetrics) read(ctx context.Context, names ...string) (map[string]float64, error) {
	body, err := m.get(ctx)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	got := make(map[string]float64, len(names))
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !want[name] {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %s: %w", m.url, name, err)
		}
		got[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("GET %s: %w", m.url, err)
	}
	return got, nil
}

// get starts reading /metrics; the caller closes the body.
func (m *serverMetrics) get(ctx context.Context) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return nil, err
	}
	if m.token != "" {
		req.Header.Set("Authorization", "Bearer "+m.token)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s = %d, want 200", m.url, resp.StatusCode)
	}
	return resp.Body, nil
}

// dropped returns the server's count of viewers dropped as too slow; ok
// is false when it cannot be read.
func (m *serverMetrics) dropped(ctx context.Context) (n int64, ok bool) {
	if m == nil {
		return 0, false
	}
	got, err := m.read(ctx, metricDropped)
	if err != nil {
		return 0, false
	}
	v, ok := got[metricDropped]
	return int64(v), ok
}

// memory returns the server's heap and stacks in use, in bytes, just after
// a garbage collection that began after memory was called: what is in use
// then is what the server holds, not garbage it has yet to collect. The
// server is made to collect by reading /metrics until it does (each read
// allocates, and a collection starts once the heap reaches its goal), for
// at most gcWait.
func (m *serverMetrics) memory(ctx context.Context) (float64, error) {
	first, err := m.read(ctx, metricGCs)
	if err != nil {
		return math.NaN(), err
	}
	gcs, ok := first[metricGCs]
	if !ok {
		return math.NaN(), fmt.Errorf("GET %s: no %s (the Go collector)", m.url, metricGCs)
	}
	if err := m.collect(ctx, gcs); err != nil {
		return math.NaN(), err
	}
	select {
	case <-ctx.Done():
		return math.NaN(), ctx.Err()
	case <-time.After(sweepWait):
	}
	got, err := m.read(ctx, metricHeapInuse, metricStackInuse)
	if err != nil {
		return math.NaN(), err
	}
	heap, okHeap := got[metricHeapInuse]
	stack, okStack := got[metricStackInuse]
	if !okHeap || !okStack {
		return math.NaN(), fmt.Errorf("GET %s: no %s or %s (the Go collector)", m.url, metricHeapInuse, metricStackInuse)
	}
	return heap + stack, nil
}

// collect returns once the server has completed more than gcs garbage
// collections, reading /metrics from gcScrapers goroutines meanwhile.
func (m *serverMetrics) collect(parent context.Context, gcs float64) error {
	ctx, cancel := context.WithTimeout(parent, gcWait)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for range gcScrapers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if body, err := m.get(ctx); err == nil {
					io.Copy(io.Discard, body)
					body.Close()
				}
			}
		})
	}
	tick := time.NewTicker(gcPollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return err
			}
			return fmt.Errorf("the server collected no garbage within %s", gcWait)
		case <-tick.C:
		}
		got, err := m.read(ctx, metricGCs)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return err
		}
		if got[metricGCs] > gcs {
			return nil
		}
	}
}

// droppedOf sums the nodes' counts of slow viewers dropped; ok is false
// when one cannot be read.
func droppedOf(ctx context.Context, metrics []*serverMetrics) (n int64, ok bool) {
	for _, m := range metrics {
		d, okm := m.dropped(ctx)
		if !okm {
			return 0, false
		}
		n += d
	}
	return n, true
}

// metricCPU is the process's CPU time, user and system, in seconds.
const metricCPU = "process_cpu_seconds_total"

// cpuOf reads each node's CPU time (NaN where it cannot be read).
func cpuOf(ctx context.Context, metrics []*serverMetrics) []float64 {
	out := make([]float64, len(metrics))
	for i, m := range metrics {
		out[i] = math.NaN()
		if m == nil {
			continue
		}
		if got, err := m.read(ctx, metricCPU); err == nil {
			if v, ok := got[metricCPU]; ok {
				out[i] = v
			}
		}
	}
	return out
}
