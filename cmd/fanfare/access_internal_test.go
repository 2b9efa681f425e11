package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/app/apptest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

func TestMetricsListener(t *testing.T) {
	t.Parallel()
	t.Run("own listener", func(t *testing.T) {
		t.Parallel()
		m := mustRunMain(t, storetest.URL(t, store.SQLite))
		require.NotEmpty(t, m.MetricsURL())
		require.NotEqual(t, m.URL()+"/metrics", m.MetricsURL())
		res, body := get(t, m.MetricsURL(), nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		for _, want := range []string{"go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "fanfare_ledger_batch_size", "fanfare_room_viewers"} {
			require.Contains(t, body, want)
		}
		// Not on the main listener without a token.
		res, body = get(t, m.URL()+"/metrics", nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		require.Contains(t, body, `"code":"not_found"`)
		// The metrics listener serves metrics only.
		res, _ = get(t, strings.TrimSuffix(m.MetricsURL(), "/metrics")+"/v1/coin-packs?currency=EUR", nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode)

		// It stops with the server.
		addr := m.MetricsURL()
		require.NoError(t, m.Close())
		_, err := http.Get(addr)
		require.Error(t, err, "the metrics listener is closed")
	})
	t.Run("token on the main listener", func(t *testing.T) {
		t.Parallel()
		m := newTestMain(t)
		m.Config.DB, m.Config.Migrate = storetest.URL(t, store.SQLite), true
		m.Config.MetricsAddr, m.Config.MetricsToken = "off", "scrape-token-0123456789"
		require.NoError(t, m.Run(context.Background()))
		t.Cleanup(func() { m.Close() })
		require.Empty(t, m.MetricsURL())
		res, _ := get(t, m.URL()+"/metrics", nil)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		res, _ = get(t, m.URL()+"/metrics", http.Header{"Authorization": {"Bearer wrong"}})
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		res, body := get(t, m.URL()+"/metrics", http.Header{"Authorization": {"Bearer scrape-token-0123456789"}})
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, body, "go_goroutines")
		var out bytes.Buffer
		printDemo(&out, m)
		require.Contains(t, out.String(), "Metrics (Prometheus): "+m.URL()+"/metrics, with the metrics token")
		require.NotContains(t, out.String(), "scrape-token-0123456789")
	})
	t.Run("busy address", func(t *testing.T) {
		t.Parallel()
		first := mustRunMain(t, storetest.URL(t, store.SQLite))
		m := newTestMain(t)
		m.Config.DB, m.Config.Migrate = storetest.URL(t, store.SQLite), true
		m.Config.MetricsAddr = strings.TrimSuffix(strings.TrimPrefix(first.MetricsURL(), "http://"), "/metrics")
		err := m.Run(context.Background())
		require.ErrorContains(t, err, "--metrics-addr")
		require.Empty(t, m.URL(), "nothing left listening")
	})
}

func TestDemoBannerNamesMetrics(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, storetest.URL(t, store.SQLite))
	var out bytes.Buffer
	printDemo(&out, m)
	require.Contains(t, out.String(), "Metrics (Prometheus): "+m.MetricsURL())
}

func TestNewMainDefaults(t *testing.T) {
	// Not parallel: it clears the environment's settings.
	for _, k := range []string{"FANFARE_METRICS_ADDR", "FANFARE_SECURE_COOKIES", "FANFARE_AUTH_ATTEMPTS_PER_MINUTE", "FANFARE_LOGIN_FAILURES"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	c := NewMain().Config
	require.Equal(t, DefaultMetricsAddr, c.MetricsAddr)
	require.Equal(t, "127.0.0.1:9464", c.MetricsAddr, "bench live reads metrics there by default")
	require.Nil(t, c.SecureCookies, "auto")
	require.Equal(t, 10, c.AuthAttemptsPerMinute)
	require.Equal(t, 5, c.LoginFailures)

	fs := newFlagSet("serve", "", io.Discard)
	var cfg Config
	cfg.serveFlags(fs)
	require.NoError(t, fs.Parse([]string{"--secure-cookies", "--metrics-addr", "off", "--trusted-proxies", "10.0.0.0/8"}))
	require.True(t, *cfg.SecureCookies)
	require.True(t, cfg.metricsOff())
	require.NoError(t, fs.Parse([]string{"--secure-cookies=auto"}))
	require.Nil(t, cfg.SecureCookies)
	require.Error(t, fs.Parse([]string{"--secure-cookies=maybe"}))

	t.Setenv("FANFARE_SECURE_COOKIES", "false")
	require.False(t, *NewMain().Config.SecureCookies)
}

func TestSecureCookiesFollowThePublicURL(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	for _, tc := range []struct {
		publicURL string
		set       *bool
		want      bool
	}{
		{"", nil, false},
		{"http://fanfare.example.com", nil, false},
		{"https://fanfare.example.com", nil, true},
		{"HTTPS://fanfare.example.com/", nil, true},
		{"https://fanfare.example.com", &no, false},
		{"http://127.0.0.1:8080", &yes, true},
	} {
		t.Run(tc.publicURL, func(t *testing.T) {
			t.Parallel()
			m := newTestMain(t)
			m.Config.DB, m.Config.Migrate = storetest.URL(t, store.SQLite), true
			m.Config.PublicURL, m.Config.SecureCookies = tc.publicURL, tc.set
			require.NoError(t, m.Run(context.Background()))
			t.Cleanup(func() { m.Close() })
			_, err := m.Accounts.Create(context.Background(), accountInput("sam"))
			require.NoError(t, err)

			// The CSRF cookie of the login form, then the session cookie.
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			res, err := c.Get(m.URL() + "/login")
			require.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			csrf := cookieOf(res, "fanfare_csrf")
			require.NotNil(t, csrf)
			require.Equal(t, tc.want, csrf.Secure, "csrf cookie Secure")
			token := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(body)
			require.NotNil(t, token)
			// A jar keeps a Secure cookie from plain http, but sends it
			// only over https: send it by hand.
			req, _ := http.NewRequest("POST", m.URL()+"/login", strings.NewReader(url.Values{"csrf_token": {string(token[1])}, "handle": {"sam"}, "password": {DemoPassword}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: csrf.Name, Value: csrf.Value})
			res, err = c.Do(req)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, http.StatusSeeOther, res.StatusCode)
			sess := cookieOf(res, "fanfare_session")
			require.NotNil(t, sess)
			require.Equal(t, tc.want, sess.Secure, "session cookie Secure")
		})
	}
}

func cookieOf(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSecretKey(t *testing.T) {
	t.Parallel()
	t.Run("generated once, shared by nodes", func(t *testing.T) {
		t.Parallel()
		data := t.TempDir()
		// Background jobs log while the test reads.
		var logs apptest.LogBuffer
		start := func() *Main {
			m := newTestMain(t)
			m.Config.DB, m.Config.Migrate, m.Config.Data = storetest.URL(t, store.SQLite), true, data
			m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			require.NoError(t, m.Run(context.Background()))
			t.Cleanup(func() { m.Close() })
			_, err := m.Accounts.Create(context.Background(), accountInput("sam"))
			require.NoError(t, err)
			return m
		}
		a := start()
		path := filepath.Join(data, "secret.key")
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		key := strings.TrimSpace(string(raw))
		require.Len(t, key, 64, "32 bytes in hex")
		require.Contains(t, logs.String(), "generated a secret key in "+path)
		require.NotContains(t, logs.String(), key, "the key is never logged")

		logs.Reset()
		b := start() // a second node on the same data directory
		require.NotContains(t, logs.String(), "generated a secret key")
		raw2, _ := os.ReadFile(path)
		require.Equal(t, string(raw), string(raw2), "read, not replaced")
		require.Equal(t, http.StatusSeeOther, crossLogin(t, a, b), "a form drawn by one node is accepted by the other")

		other := newTestMain(t)
		other.Config.DB, other.Config.Migrate = storetest.URL(t, store.SQLite), true
		require.NoError(t, other.Run(context.Background()))
		t.Cleanup(func() { other.Close() })
		require.Equal(t, http.StatusForbidden, crossLogin(t, a, other), "another key refuses the form")
	})
	t.Run("configured", func(t *testing.T) {
		t.Parallel()
		hexKey := "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
		b64Key := base64.StdEncoding.EncodeToString([]byte("thirty-two bytes of secret key!!"))
		nodes := make([]*Main, 0, 2)
		for _, key := range []string{hexKey, hexKey} {
			m := newTestMain(t)
			m.Config.DB, m.Config.Migrate, m.Config.SecretKey = storetest.URL(t, store.SQLite), true, key
			require.NoError(t, m.Run(context.Background()))
			t.Cleanup(func() { m.Close() })
			_, err := m.Accounts.Create(context.Background(), accountInput("sam"))
			require.NoError(t, err)
			_, err = os.Stat(filepath.Join(m.Config.Data, "secret.key"))
			require.ErrorIs(t, err, os.ErrNotExist, "no file when the key is configured")
			nodes = append(nodes, m)
		}
		require.Equal(t, http.StatusSeeOther, crossLogin(t, nodes[0], nodes[1]))

		for _, good := range []string{hexKey, strings.ToUpper(hexKey), b64Key, strings.TrimRight(b64Key, "="), base64.RawURLEncoding.EncodeToString([]byte("thirty-two bytes of secret key??"))} {
			_, err := parseSecretKey(good)
			require.NoError(t, err, good)
		}
		for _, bad := range []string{"", "00112233", base64.StdEncoding.EncodeToString([]byte("too short")), "not a key at all, just words"} {
			_, err := parseSecretKey(bad)
			require.Error(t, err, bad)
			if bad != "" {
				require.NotContains(t, err.Error(), bad, "errors never show the key")
			}
		}
		m := newTestMain(t)
		m.Config.DB, m.Config.Migrate, m.Config.SecretKey = storetest.URL(t, store.SQLite), true, "0011"
		require.ErrorContains(t, m.Run(context.Background()), "FANFARE_SECRET_KEY")
	})
}

// crossLogin draws the login form on a and posts it, as sam, to b, as a
// load balancer may; it returns b's status.
func crossLogin(t *testing.T, a, b *Main) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(a.URL() + "/login")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	token := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(body)
	require.NotNil(t, token)
	// The jar sends a's cookie to b: both are 127.0.0.1.
	res, err = c.PostForm(b.URL()+"/login", url.Values{"csrf_token": {string(token[1])}, "handle": {"sam"}, "password": {DemoPassword}})
	require.NoError(t, err)
	res.Body.Close()
	return res.StatusCode
}

func TestSecretsNotInHelp(t *testing.T) {
	// Not parallel: it sets the environment.
	secrets := map[string]string{
		"FANFARE_SECRET_KEY":    "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7",
		"FANFARE_METRICS_TOKEN": "metrics-secret-token-4242",
		"FANFARE_API_KEY":       "api-secret-key-4242",
		"FANFARE_JWT_SECRET":    "jwt-secret-shared-with-the-host-app-4242",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"serve", "--help"}, &out, &errOut)
	require.True(t, errors.Is(err, flag.ErrHelp))
	help := errOut.String()
	for _, name := range []string{"-metrics-addr", "127.0.0.1:9464", "-metrics-token", "-secret-key", "-auth-attempts-per-minute", "-auth-burst",
		"-login-failures", "-login-failure-window", "-trusted-proxies", "-password-hashes", "-password-hash-queue", "-secure-cookies", "auto",
		"-jwt-secret", "-jwt-jwks-url", "-jwt-issuer", "-jwt-audience", "-password-signup"} {
		require.Contains(t, help, name)
	}
	for _, v := range secrets {
		require.NotContains(t, help, v)
	}
}

func TestMainLimitsLogins(t *testing.T) {
	t.Parallel()
	m := newTestMain(t)
	m.Config.DB, m.Config.Migrate = storetest.URL(t, store.SQLite), true
	m.Config.AuthAttemptsPerMinute, m.Config.AuthBurst = 1, 2
	require.NoError(t, m.Run(context.Background()))
	t.Cleanup(func() { m.Close() })
	login := func() *http.Response {
		res, err := http.Post(m.URL()+"/v1/auth/login", "application/json", strings.NewReader(`{"handle":"sam","password":"wrong-password"}`))
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	require.Equal(t, http.StatusUnauthorized, login().StatusCode)
	require.Equal(t, http.StatusUnauthorized, login().StatusCode)
	res := login()
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	require.Regexp(t, `^[1-6][0-9]?$`, res.Header.Get("Retry-After"))

	for _, bad := range []func(*Config){
		func(c *Config) { c.AuthAttemptsPerMinute = -1 },
		func(c *Config) { c.TrustedProxies = "proxy.example" },
		func(c *Config) { c.PasswordHashes = 0 },
	} {
		m := newTestMain(t)
		m.Config.DB, m.Config.Migrate = storetest.URL(t, store.SQLite), true
		bad(&m.Config)
		require.Error(t, m.Run(context.Background()))
	}
}

// accountInput is a valid sign-up of handle with the demo password.
func accountInput(handle string) account.CreateInput {
	return account.CreateInput{Handle: handle, Password: DemoPassword, Region: "FR", BirthDate: "1990-01-01"}
}
