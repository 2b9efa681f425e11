// Package apptest is the tests' fixture for the whole graph: it opens
// internal/app on a test's database exactly as `fanfare serve` does, with
// test defaults for what serve reads from its configuration, and closes it
// when the test ends. The tests of httpapi and web use it instead of
// building services by hand; a feature's own tests build only what that
// feature needs.
package apptest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/app"
	"github.com/fanfarehq/fanfare/internal/blob/blobtest"
	"github.com/fanfarehq/fanfare/internal/payment"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// RoomTick is the room tick of a test's graph, shorter than serve's so that
// feeds answer quickly.
const RoomTick = 20 * time.Millisecond

// TestHashCost is the password hash cost of a test's graph: argon2id at
// 64 KiB and one pass, so that the tests' many sign-ups and log-ins do not
// spend their time hashing (the production cost takes over a second per
// hash under the race detector). The hashing code path is the same;
// account's own tests check the production cost.
var TestHashCost = account.HashCost{Memory: 64, Time: 1}

// Open opens the graph on db (migrated) with cfg and clock, closed when tb
// ends. A nil clock is the system clock; no providers means the sandbox
// alone; a zero RoomTick is RoomTick; no BlobURL is a fresh folder removed
// after the test; no PasswordHashCost is TestHashCost. The log is
// discarded.
func Open(tb testing.TB, db *store.DB, clock fanfare.Clock, cfg app.Config) *app.App {
	tb.Helper()
	if clock == nil {
		clock = fanfare.SystemClock{}
	}
	if cfg.Providers == nil {
		cfg.Providers = map[string]wallet.Provider{payment.SandboxName: payment.NewSandbox()}
	}
	if cfg.RoomTick == 0 {
		cfg.RoomTick = RoomTick
	}
	if cfg.BlobURL == "" {
		cfg.BlobURL, _ = blobtest.File(tb)
	}
	if cfg.PasswordHashCost == (account.HashCost{}) {
		cfg.PasswordHashCost = TestHashCost
	}
	a, err := app.Open(context.Background(), db, clock, slog.New(slog.DiscardHandler), cfg)
	if err != nil {
		tb.Fatalf("open the app: %v", err)
	}
	tb.Cleanup(func() {
		if err := a.Close(); err != nil {
			tb.Errorf("close the app: %v", err)
		}
	})
	return a
}

// Serve serves h (a.Web, or a.API alone) over HTTP until tb ends and
// returns its base URL. The room feeds are closed before the server, so
// their connections end with the test.
func Serve(tb testing.TB, a *app.App, h http.Handler) string {
	tb.Helper()
	ts := httptest.NewServer(h)
	tb.Cleanup(ts.Close)
	tb.Cleanup(a.Hub.Close) // runs first: the feeds' sockets end before the server
	return ts.URL
}

// LogBuffer keeps what a server or a child process logs while a test reads
// it: the writes may come from other goroutines (os/exec copies a child's
// output from one of its own), so a mutex guards it.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Reset empties the buffer.
func (b *LogBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
