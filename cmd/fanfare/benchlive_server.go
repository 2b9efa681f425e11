package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The server "bench live" runs against when not given one: this same
// executable's "serve", started as a child process, so that what its
// /metrics says about memory is the server's alone.

// Starting and stopping the child server.
const (
	serverReadyWait = time.Minute      // for /readyz to answer 200 (migrations included)
	serverStopWait  = 30 * time.Second // after SIGTERM, before it is killed
)

// liveServer is a "fanfare serve" the bench started and stops.
type liveServer struct {
	cmd     *exec.Cmd
	base    string
	apiKey  string
	metrics []*serverMetrics // where its /metrics may be served, in order
	log     *tailBuffer
	exited  chan struct{}
	err     error // how it exited, once exited is closed
	stopped bool
}

// startLiveServer starts this executable's serve command on dbURL (migrated
// at start), with flags added to its own, listening on a free loopback port with a new API key, no
// daily spend limit and no purchase limits, and waits until it is ready.
// Its /metrics is asked for on another free loopback port
// (FANFARE_METRICS_ADDR) and behind a new token on the main listener
// (FANFARE_METRICS_TOKEN). No other FANFARE_* variable of this process
// reaches it.
func startLiveServer(ctx context.Context, dbURL, apiKey string, flags ...string) (*liveServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this executable: %w", err)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	s := &liveServer{base: "http://" + addr, apiKey: apiKey, log: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	token := randomHex(16)
	client := &http.Client{Timeout: 10 * time.Second}
	s.metrics = []*serverMetrics{
		{url: "http://" + metricsAddr + "/metrics", client: client},
		{url: s.base + "/metrics", token: token, client: client},
	}
	s.cmd = exec.Command(exe, "serve", "--db", dbURL, "--addr", addr, "--migrate=true", "--log-level", "warn",
		"--daily-spend-limit", "0", "--purchases-per-hour", "0", "--purchase-daily-limit", "0", "--minor-purchase-daily-limit", "0",
		"--shutdown-timeout", "10s")
	s.cmd.Args = append(s.cmd.Args, flags...)
	s.cmd.Env = append(withoutFanfareEnv(os.Environ()),
		"FANFARE_API_KEY="+s.apiKey, "FANFARE_METRICS_ADDR="+metricsAddr, "FANFARE_METRICS_TOKEN="+token)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", exe, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.ready(ctx); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// withoutFanfareEnv returns env without its FANFARE_* variables.
func withoutFanfareEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "FANFARE_") {
			out = append(out, kv)
		}
	}
	return out
}

// freeLoopbackAddr returns a loopback address whose port was free a moment
// ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ready waits until GET /readyz answers 200.
func (s *liveServer) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, serverReadyWait)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("the server exited before it was ready (%v):\n%s", s.err, s.log)
		case <-ctx.Done():
			return fmt.Errorf("the server was not ready within %s: %w:\n%s", serverReadyWait, ctx.Err(), s.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// findMetrics returns the first of the server's /metrics places that
// answers.
func (s *liveServer) findMetrics(ctx context.Context) (*serverMetrics, error) {
	var errs []error
	for _, m := range s.metrics {
		if _, err := m.read(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		return m, nil
	}
	return nil, errors.Join(errs...)
}

// stop sends the server SIGTERM (it drains and commits), kills it if it
// has not exited within serverStopWait, and reports an exit that was not
// clean. Calling it again does nothing.
func (s *liveServer) stop() error {
	if s.stopped {
		return nil
	}
	s.stopped = true
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.cmd.Process.Kill() // no SIGTERM here: it cannot drain
	}
	select {
	case <-s.exited:
	case <-time.After(serverStopWait):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("the server did not stop within %s of SIGTERM:\n%s", serverStopWait, s.log)
	}
	if s.err != nil {
		return fmt.Errorf("the server exited with %v:\n%s", s.err, s.log)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// Write keeps p's end.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if n := len(t.buf) - t.max; n > 0 {
		t.buf = append(t.buf[:0], t.buf[n:]...)
	}
	return len(p), nil
}

// String returns what is kept.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
