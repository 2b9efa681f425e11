package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// On SIGTERM (serve's context ends) the server drains: /readyz answers 503
// at once, while /healthz, the API and the room feeds go on for the drain
// delay; then every room feed is closed with 1012, so that its viewers
// reconnect to another node, and the shutdown keeps what was answered.
func TestDrainOnSIGTERM(t *testing.T) {
	t.Parallel()
	const delay = 2 * time.Second
	dbURL := storetest.URL(t, store.SQLite)
	m := newTestMain(t)
	m.Config.DB, m.Config.APIKey, m.Config.Migrate = dbURL, "k", true
	m.Config.DrainDelay = delay
	ctx, sigterm := context.WithCancel(context.Background())
	defer sigterm()
	require.NoError(t, m.Run(ctx))
	t.Cleanup(func() { m.Close() })
	base := m.URL()

	ayla, err := m.Accounts.Create(ctx, account.CreateInput{Handle: "ayla", Password: "fanfare-demo", Region: "TR", BirthDate: "1995-01-01"})
	require.NoError(t, err)
	sam, err := m.Accounts.Create(ctx, account.CreateInput{Handle: "sam", Password: "fanfare-demo", Region: "FR", BirthDate: "1990-01-01"})
	require.NoError(t, err)
	l, err := m.Live.Start(ctx, fanfare.Actor{UserID: ayla.ID, Handle: ayla.Handle}, "until the restart")
	require.NoError(t, err)
	session, err := m.Accounts.Login(ctx, "sam", "fanfare-demo")
	require.NoError(t, err)
	post := func(path, token, key string, body any) (int, string) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, err := http.NewRequest("POST", base+path, bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", key)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var out bytes.Buffer
		out.ReadFrom(res.Body)
		return res.StatusCode, out.String()
	}
	status := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(base + path)
		require.NoError(t, err)
		defer res.Body.Close()
		var out bytes.Buffer
		out.ReadFrom(res.Body)
		return res.StatusCode, out.String()
	}
	code, body := post("/v1/admin/grants", "k", "grant-sam", map[string]any{"user_id": sam.ID, "coins": 100, "reason": "test"})
	require.Equal(t, http.StatusCreated, code, body)

	wctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(wctx, "ws"+strings.TrimPrefix(base, "http")+"/v1/lives/"+l.ID+"/events", nil)
	require.NoError(t, err)
	defer conn.CloseNow()
	_, frame, err := conn.Read(wctx)
	require.NoError(t, err)
	require.Contains(t, string(frame), `"type":"state"`)

	served := make(chan error, 1)
	go func() { served <- m.wait(ctx) }()
	start := time.Now()
	sigterm()

	// /readyz turns 503 at once (once wait has seen the signal).
	for {
		code, body = status("/readyz")
		if code == http.StatusServiceUnavailable {
			break
		}
		require.Equal(t, http.StatusOK, code, body)
		require.Less(t, time.Since(start), delay/2, "/readyz still answers 200")
		time.Sleep(time.Millisecond)
	}
	require.Contains(t, body, `"code":"unavailable"`)
	require.Contains(t, body, "draining")
	code, body = status("/healthz")
	require.Equal(t, http.StatusOK, code, body)

	// A gift is still answered, and the room's viewers still see it.
	code, body = post("/v1/lives/"+l.ID+"/gifts", session.Token, "gift-1", map[string]any{"gift_id": "rose", "count": 3})
	require.Equal(t, http.StatusCreated, code, body)
	for {
		_, frame, err = conn.Read(wctx)
		require.NoError(t, err, "the feed is open until the drain delay has passed")
		if strings.Contains(string(frame), `"type":"gift"`) {
			break
		}
	}
	require.Less(t, time.Since(start), delay, "too slow to check the drain delay's window")

	// Then the feed is closed with 1012, not before the delay.
	for err == nil {
		_, _, err = conn.Read(wctx)
	}
	var ce websocket.CloseError
	require.True(t, errors.As(err, &ce), "%v", err)
	require.Equal(t, websocket.StatusServiceRestart, ce.Code, "%v", err)
	require.GreaterOrEqual(t, time.Since(start), delay)
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-wctx.Done():
		t.Fatal("the server did not stop")
	}

	// What was answered during the drain is kept.
	again := mustRunMain(t, dbURL)
	req, err := http.NewRequest("GET", again.URL()+"/v1/me/wallet", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+session.Token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var wallet struct{ Coins int64 }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&wallet))
	require.Equal(t, int64(97), wallet.Coins)
}

// serve drains for 5 s by default, demo not at all; FANFARE_DRAIN_DELAY
// sets both.
func TestDrainDelayDefaults(t *testing.T) {
	help := func(cmd string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{cmd, "--help"}, &out, &errOut)
		require.ErrorIs(t, err, flag.ErrHelp)
		_, usage, ok := strings.Cut(errOut.String(), "\n  -drain-delay")
		require.True(t, ok, "%s --help has no --drain-delay", cmd)
		usage, _, _ = strings.Cut(usage, "\n  -")
		return usage
	}
	require.Contains(t, help("serve"), "(default 5s)")
	require.NotContains(t, help("demo"), "(default", "none in demo")
	require.Equal(t, DefaultDrainDelay, NewMain().Config.DrainDelay)

	t.Setenv("FANFARE_DRAIN_DELAY", "20s")
	require.Equal(t, 20*time.Second, NewMain().Config.DrainDelay)
	require.Contains(t, help("demo"), "(default 20s)")
}
