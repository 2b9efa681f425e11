//go:build !linux

package storetest

import (
	"os"
	"testing"
)

// Cluster is a PostgreSQL server of one test's own; this system makes
// none (see the Linux StartCluster).
type Cluster struct{}

// StartCluster skips tb: private clusters are made on Linux only. Under CI
// it fails.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatal("private PostgreSQL clusters are made on Linux only")
	}
	tb.Skip("private PostgreSQL clusters are made on Linux only")
	return nil
}

// URL returns "".
func (c *Cluster) URL() string { return "" }

// Stop does nothing.
func (c *Cluster) Stop() {}

// Crash does nothing.
func (c *Cluster) Crash() {}

// Start does nothing.
func (c *Cluster) Start() {}
