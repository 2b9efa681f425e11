package store

import (
	"testing"
	"time"
)

// TestPostgresConnectTimeout checks that a PostgreSQL URL without a
// connect_timeout gets DefaultConnectTimeout, and that one with its own
// keeps it.
func TestPostgresConnectTimeout(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]time.Duration{
		"postgres://u@127.0.0.1:5432/db":                   DefaultConnectTimeout,
		"postgres://u@127.0.0.1:5432/db?connect_timeout=3": 3 * time.Second,
	} {
		cfg, err := postgresConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.ConnectTimeout != want {
			t.Errorf("%s: connect timeout %s, want %s", url, cfg.ConnectTimeout, want)
		}
	}
}
