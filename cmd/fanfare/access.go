package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
)

// secretKeyFile is the file under the data directory that keeps the
// generated secret key.
const secretKeyFile = "secret.key"

// minSecretKey is the shortest secret key accepted, in bytes.
const minSecretKey = 32

// autoBool is a boolean flag that may also be left to be decided
// ("auto", the default): *p stays nil.
type autoBool struct{ p **bool }

// String returns the flag's value: auto, true or false.
func (f autoBool) String() string {
	if f.p == nil || *f.p == nil {
		return "auto"
	}
	return strconv.FormatBool(**f.p)
}

// Set parses true, false (and their spellings in strconv.ParseBool) or
// auto.
func (f autoBool) Set(v string) error {
	if strings.EqualFold(v, "auto") {
		*f.p = nil
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true, false or auto")
	}
	*f.p = &b
	return nil
}

// IsBoolFlag lets --secure-cookies stand alone for true.
func (autoBool) IsBoolFlag() bool { return true }

// secureCookies reports whether the web app's cookies are marked Secure:
// as configured, or else when the public URL is https.
func (c *Config) secureCookies() bool {
	if c.SecureCookies != nil {
		return *c.SecureCookies
	}
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(c.PublicURL)), "https://")
}

// metricsOff reports whether the metrics listener is turned off.
func (c *Config) metricsOff() bool {
	return c.MetricsAddr == "" || strings.EqualFold(c.MetricsAddr, "off")
}

// guard returns the log-in and sign-up limits.
func (c *Config) guard(clock fanfare.Clock) (*ratelimit.Guard, error) {
	switch {
	case c.AuthAttemptsPerMinute < 0:
		return nil, errors.New("--auth-attempts-per-minute (FANFARE_AUTH_ATTEMPTS_PER_MINUTE) must be 0 or more")
	case c.AuthBurst < 0:
		return nil, errors.New("--auth-burst (FANFARE_AUTH_BURST) must be 0 or more")
	case c.LoginFailures < 0:
		return nil, errors.New("--login-failures (FANFARE_LOGIN_FAILURES) must be 0 or more")
	case c.LoginFailures > 0 && c.LoginFailureWindow <= 0:
		return nil, errors.New("--login-failure-window (FANFARE_LOGIN_FAILURE_WINDOW) must be positive")
	case c.PasswordHashes < 1:
		return nil, errors.New("--password-hashes (FANFARE_PASSWORD_HASHES) must be 1 or more")
	case c.PasswordHashQueue < 0:
		return nil, errors.New("--password-hash-queue (FANFARE_PASSWORD_HASH_QUEUE) must be 0 or more")
	}
	trusted, err := ratelimit.ParsePrefixes(c.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies (FANFARE_TRUSTED_PROXIES): %w", err)
	}
	return ratelimit.NewGuard(ratelimit.GuardOptions{
		Clock:              clock,
		AttemptsPerMinute:  c.AuthAttemptsPerMinute,
		Burst:              c.AuthBurst,
		LoginFailures:      c.LoginFailures,
		LoginFailureWindow: c.LoginFailureWindow,
		TrustedProxies:     trusted,
	}), nil
}

// parseSecretKey decodes a secret key written in hex or base64 (standard
// or URL alphabet, padded or not). Its errors never show the key.
func parseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil {
		if len(b) < minSecretKey {
			return nil, fmt.Errorf("the secret key is %d bytes; it must be %d or more (openssl rand -hex 32)", len(b), minSecretKey)
		}
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) < minSecretKey {
				return nil, fmt.Errorf("the secret key is %d bytes; it must be %d or more (openssl rand -hex 32)", len(b), minSecretKey)
			}
			return b, nil
		}
	}
	return nil, errors.New("the secret key must be hex or base64 (openssl rand -hex 32)")
}

// secretKey returns the key of the web forms' anti-forgery tokens: the
// configured one, or the one kept under the data directory, which it
// generates on first start.
func (c *Config) secretKey(log *slog.Logger) ([]byte, error) {
	if c.SecretKey != "" {
		key, err := parseSecretKey(c.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("--secret-key (FANFARE_SECRET_KEY): %w", err)
		}
		return key, nil
	}
	path, err := filepath.Abs(filepath.Join(c.Data, secretKeyFile))
	if err != nil {
		return nil, err
	}
	for range 2 {
		key, err := readSecretKey(path, log)
		if !errors.Is(err, os.ErrNotExist) {
			return key, err
		}
		created, err := writeSecretKey(path)
		if err != nil {
			return nil, err
		}
		if created {
			log.Info("generated a secret key in "+path+"; every node behind one load balancer needs the same key (copy the file or set FANFARE_SECRET_KEY)", "path", path)
		}
		// Read back what is there now: another process may have written
		// it first.
	}
	return nil, fmt.Errorf("secret key %s: vanished while being read", path)
}

// readSecretKey reads the key file at path.
func readSecretKey(path string, log *slog.Logger) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the secret key: %w", err)
	}
	key, err := parseSecretKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the secret key file is readable by other users: chmod 600 it", "path", path, "mode", fi.Mode().Perm().String())
	}
	return key, nil
}

// writeSecretKey writes a new random key to path unless a file is there
// already; the file appears whole or not at all, mode 0600.
func writeSecretKey(path string) (created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("secret key: %w", err)
	}
	key := make([]byte, minSecretKey)
	rand.Read(key)
	tmp, err := os.CreateTemp(dir, ".secret.key-*")
	if err != nil {
		return false, fmt.Errorf("secret key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write([]byte(hex.EncodeToString(key) + "\n"))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("secret key: %w", err)
	}
	// CreateTemp made the file 0600. A hard link publishes it whole, and
	// fails if a key is there already.
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("secret key: %w", err)
	}
	return true, nil
}

// serveMetrics starts the metrics listener, unless it is off.
func (m *Main) serveMetrics(h http.Handler) error {
	if m.Config.metricsOff() {
		m.Logger.Info("metrics listener off: /metrics is on the main listener with the metrics token only", "token", m.Config.MetricsToken != "")
		return nil
	}
	ln, err := net.Listen("tcp", m.Config.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s (--metrics-addr, FANFARE_METRICS_ADDR; off for none): %w", m.Config.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	m.metricsLn = ln
	m.MetricsHTTP = m.httpServer(mux, 16<<10)
	m.metricsServed = make(chan error, 1)
	go func() { m.metricsServed <- m.MetricsHTTP.Serve(ln) }()
	m.Logger.Info("metrics listening", "url", m.MetricsURL())
	return nil
}

// MetricsURL is where the metrics listener serves /metrics; "" when it is
// off.
func (m *Main) MetricsURL() string {
	if m.metricsLn == nil {
		return ""
	}
	return "http://" + m.metricsLn.Addr().String() + "/metrics"
}

// closeMetrics shuts the metrics listener down, waiting for its scrapes
// until ctx ends.
func (m *Main) closeMetrics(ctx context.Context) error {
	if m.metricsLn == nil {
		return nil
	}
	var errs []error
	if m.MetricsHTTP != nil {
		errs = append(errs, m.MetricsHTTP.Shutdown(ctx))
		if err := <-m.metricsServed; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	} else {
		errs = append(errs, m.metricsLn.Close())
	}
	m.metricsLn, m.MetricsHTTP = nil, nil
	return errors.Join(errs...)
}
