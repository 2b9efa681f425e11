package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/app/apptest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// preflightTo sends the preflight of a browser page of origin about to GET
// url with a token.
func preflightTo(t *testing.T, url, origin string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("OPTIONS", url, nil)
	require.NoError(t, err)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	return res
}

func TestMainCORSOrigins(t *testing.T) {
	t.Parallel()
	t.Run("listed", func(t *testing.T) {
		t.Parallel()
		m := newTestMain(t)
		m.Config.DB, m.Config.Migrate = storetest.URL(t, store.SQLite), true
		m.Config.CORSOrigins = "https://host.example, http://localhost:3000"
		require.NoError(t, m.Run(context.Background()))
		t.Cleanup(func() { m.Close() })
		// On the one listener the web app shares with the API.
		res := preflightTo(t, m.URL()+"/v1/me/wallet", "http://localhost:3000")
		require.Equal(t, http.StatusNoContent, res.StatusCode)
		require.Equal(t, "http://localhost:3000", res.Header.Get("Access-Control-Allow-Origin"))
		res = preflightTo(t, m.URL()+"/v1/me/wallet", "https://evil.example")
		require.Equal(t, http.StatusForbidden, res.StatusCode)
		require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
	})
	t.Run("none by default", func(t *testing.T) {
		t.Parallel()
		m := mustRunMain(t, storetest.URL(t, store.SQLite))
		res := preflightTo(t, m.URL()+"/v1/me/wallet", "https://host.example")
		require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
		require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
	})
	for _, bad := range []string{"*", "https://host.example/app", "host.example", "https://a.example,ftp://b.example"} {
		t.Run("refused "+bad, func(t *testing.T) {
			t.Parallel()
			m := newTestMain(t)
			m.Config.DB, m.Config.Migrate = storetest.URL(t, store.SQLite), true
			m.Config.CORSOrigins = bad
			err := m.Run(context.Background())
			require.ErrorContains(t, err, "--cors-origins (FANFARE_CORS_ORIGINS)")
			require.Empty(t, m.URL(), "nothing left listening")
		})
	}
}

func TestCORSOriginsConfig(t *testing.T) {
	// Not parallel: it sets the environment.
	t.Setenv("FANFARE_CORS_ORIGINS", "")
	os.Unsetenv("FANFARE_CORS_ORIGINS")
	require.Empty(t, NewMain().Config.CORSOrigins, "none by default")
	t.Setenv("FANFARE_CORS_ORIGINS", "https://host.example")
	require.Equal(t, "https://host.example", NewMain().Config.CORSOrigins)

	fs := newFlagSet("serve", "", io.Discard)
	var cfg Config
	cfg.serveFlags(fs)
	require.NoError(t, fs.Parse([]string{"--cors-origins", "https://a.example,https://b.example"}))
	require.Equal(t, "https://a.example,https://b.example", cfg.CORSOrigins)

	var out, help bytes.Buffer
	err := run(context.Background(), []string{"serve", "--help"}, &out, &help)
	require.True(t, errors.Is(err, flag.ErrHelp), "%v", err)
	require.Contains(t, help.String(), "-cors-origins")
	require.Contains(t, help.String(), "FANFARE_CORS_ORIGINS")
}

// TestDemoReadyOnceSeeded runs fanfare demo and polls /readyz the way a
// script waiting for it does: the first 200 means the demo world is
// there, so sam logs in at once and finds his coins and ayla's LIVE.
func TestDemoReadyOnceSeeded(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stderr apptest.LogBuffer
	go func() {
		done <- (&DemoCommand{stdout: io.Discard, stderr: &stderr}).Run(ctx, []string{
			"--addr", addr, "--data", t.TempDir(), "--metrics-addr", "off", "--log-level", "error",
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fanfare demo: %v\n%s", err, stderr.String())
		}
	})

	client := &http.Client{Timeout: 10 * time.Second}
	unready := 0
	deadline := time.Now().Add(60 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("fanfare demo not ready after 60s\n%s", stderr.String())
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("fanfare demo exited before it was ready: %v\n%s", err, stderr.String())
		default:
		}
		res, err := client.Get(base + "/readyz")
		if err != nil {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			break
		}
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "%s", b)
		require.Contains(t, string(b), "seeding the demo world")
		unready++
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("/readyz answered 503 %d times while the demo world was seeded", unready)

	post := func(path string, body, out any) int {
		t.Helper()
		b, _ := json.Marshal(body)
		req, err := http.NewRequest("POST", base+path, bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.NoError(t, json.NewDecoder(res.Body).Decode(out))
		return res.StatusCode
	}
	get := func(path, token string, out any) int {
		t.Helper()
		req, err := http.NewRequest("GET", base+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.NoError(t, json.NewDecoder(res.Body).Decode(out))
		return res.StatusCode
	}
	var login struct{ Token string }
	require.Equal(t, http.StatusOK, post("/v1/auth/login", map[string]string{"handle": "sam", "password": DemoPassword}, &login))
	var wallet struct{ Coins int64 }
	require.Equal(t, http.StatusOK, get("/v1/me/wallet", login.Token, &wallet))
	require.Equal(t, int64(27_000), wallet.Coins, "sam's grant and pack")
	var lives struct {
		Lives []struct{ Title string } `json:"lives"`
	}
	require.Equal(t, http.StatusOK, get("/v1/lives", "", &lives))
	require.True(t, len(lives.Lives) == 1 && lives.Lives[0].Title == DemoLiveTitle, "LIVEs = %+v, want ayla's", lives)
}
