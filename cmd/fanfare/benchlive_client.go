package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The clients of "bench live": the setup through the API here, the viewers
// in benchlive_viewer.go and the fans sending gifts in benchlive_sender.go.

// Bench live's client parameters.
const (
	liveBenchCoins = 1_000_000 // coins granted to each fan
	liveBenchGift  = "rose"
	liveBenchDrain = 2 * time.Second // how long the viewers get after the last gift
	liveBenchPass  = "bench-live-password"
	setupWorkers   = 8               // fans set up at once (each costs two argon2id hashes)
	setupHashWait  = 3 * time.Minute // for one sign-up or log-in
	dialWorkers    = 32              // viewers connecting at once
	latencyShards  = 64
)

// liveBench is the clients of one run of "bench live".
type liveBench struct {
	stderr io.Writer
	quiet  bool
	base   string   // the server's base URL (the first node's)
	bases  []string // every node's base URL: viewers and fans spread over them
	apiKey string
	run    string       // makes handles and keys unique to the run
	http   *http.Client // setup and gifts
	// hashing is http with room for the password hashes of sign-ups and
	// log-ins, which queue on the server behind each other on a busy
	// machine; they are setup, never measured.
	hashing *http.Client
	dial    *http.Client // the viewers' handshakes
	t0      time.Time    // send times are durations since t0
	hooks   liveHooks

	liveID  string
	fans    []*liveFan
	handles map[string]int // handle → index in fans
	viewers []*liveViewer
	shards  []latencyShard
	// parsed holds each node's recent frames, by seq: each node's room
	// numbers and encodes its own.
	parsed [][256]atomic.Pointer[parsedFrame]
	// frames counts the frames the viewers have read.
	frames atomic.Int64
}

// liveHooks tamper with what the viewers receive, so that tests can show
// the accounting catches it.
type liveHooks struct {
	dropOne bool // the first viewer discards one gift event of count 1
	dupOne  bool // the first viewer receives one gift event of count 1 twice
}

// newLiveBench returns the clients of a run against the nodes at bases
// (one server: one base).
func newLiveBench(stderr io.Writer, quiet bool, bases []string, apiKey string, senders int, hooks liveHooks) *liveBench {
	b := &liveBench{
		stderr: stderr, quiet: quiet, base: bases[0], bases: bases, apiKey: apiKey, run: "bl" + randomHex(4), hooks: hooks,
		parsed: make([][256]atomic.Pointer[parsedFrame], len(bases)),
		http: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				MaxIdleConns:        senders + 64,
				MaxIdleConnsPerHost: senders + 64,
				IdleConnTimeout:     time.Minute,
				DisableCompression:  true,
			},
		},
		dial: &http.Client{Transport: &http.Transport{
			Proxy:       nil,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		}},
		t0: time.Now(),
	}
	b.hashing = &http.Client{Timeout: setupHashWait, Transport: b.http.Transport}
	return b
}

// close releases the clients' idle connections.
func (b *liveBench) close() {
	b.http.CloseIdleConnections()
	b.dial.CloseIdleConnections()
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
	return b.callWith(ctx, b.http, method, path, token, idemKey, in, out)
}

// callWith is call on client c.
func (b *liveBench) callWith(ctx context.Context, c *http.Client, method, path, token, idemKey string, in, out any) error {
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
	resp, err := c.Do(req)
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
	err = b.callWith(ctx, b.hashing, http.MethodPost, "/v1/users", b.apiKey, "", map[string]string{
		"handle": handle, "password": liveBenchPass, "region": "FR", "birth_date": "1990-01-01",
	}, &u)
	if err != nil {
		return "", "", err
	}
	var s struct{ Token string }
	err = b.callWith(ctx, b.hashing, http.MethodPost, "/v1/auth/login", b.apiKey, "", map[string]string{"handle": handle, "password": liveBenchPass}, &s)
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
		f := &liveFan{handle: fmt.Sprintf("%s_f%d", b.run, i), node: i % len(b.bases), errs: map[string]int{}}
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
