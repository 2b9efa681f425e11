//go:build linux

package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Cluster is a PostgreSQL server of one test's own, which the test may stop
// and start again: to see what a node does while its database is away,
// without touching the server the other tests share. StartCluster makes
// one. Its methods are called from the test's goroutine.
type Cluster struct {
	tb   testing.TB
	bin  string // the directory of initdb and postgres
	dir  string // scratch: data/ and postgres.log
	port int
	cred *syscall.Credential // the postgres user's, when the test runs as root

	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has exited
}

// clusterStartTimeout bounds how long a start, a stop or a crash may take.
const clusterStartTimeout = 60 * time.Second

// StartCluster makes a new PostgreSQL cluster in a scratch directory and
// starts it on a free loopback port, with durable commits (fsync on, as in
// production) and trust authentication for the postgres user. The server
// is a child of the test process: it is stopped, and the directory
// removed, when tb ends, and it does not outlive a test process that dies.
//
// PostgreSQL refuses to run as root: a test running as root runs initdb
// and the server as the postgres system user, which owns the scratch
// directory. The server binaries are looked for in FANFARE_PG_BINDIR, then
// in the newest /usr/lib/postgresql/*/bin, then on PATH. Without them tb
// is skipped, unless CI is set: then it fails.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb, bin: serverBinaries()}
	if c.bin == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("the PostgreSQL server binaries (initdb, postgres) are missing: install PostgreSQL or set FANFARE_PG_BINDIR")
		}
		tb.Skip("the PostgreSQL server binaries (initdb, postgres) are missing; set FANFARE_PG_BINDIR")
	}
	if os.Geteuid() == 0 {
		cred, err := postgresUser()
		if err != nil {
			tb.Fatalf("run PostgreSQL as root: %v", err)
		}
		c.cred = cred
	}
	dir, err := os.MkdirTemp("", "fanfare-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	c.dir = dir
	tb.Cleanup(c.remove)
	if c.cred != nil {
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			tb.Fatal(err)
		}
	}
	initdb := c.command(filepath.Join(c.bin, "initdb"), "-D", c.data(), "-A", "trust", "-U", "postgres",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	// A port picked free may be taken before the server binds it: try
	// another then.
	for attempt := 1; ; attempt++ {
		c.port = freePort()
		err := c.start()
		if err == nil {
			return c
		}
		if attempt == 5 || !strings.Contains(err.Error(), "could not bind") {
			tb.Fatal(err)
		}
	}
}

// URL returns the URL of the cluster's postgres database. It stays the
// same across Stop and Start.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Stop shuts the server down as pg_ctl stop -m fast does: open sessions are
// ended (SQLSTATE 57P01, admin_shutdown), transactions in progress roll
// back, and the server writes a checkpoint before it exits. It returns once
// the server has exited.
func (c *Cluster) Stop() {
	c.tb.Helper()
	c.signal(syscall.SIGINT)
}

// Crash shuts the server down as pg_ctl stop -m immediate does: every
// process exits at once, without a checkpoint, and the next Start recovers
// from the write-ahead log, as after a crash of the server. It returns once
// the server has exited.
func (c *Cluster) Crash() {
	c.tb.Helper()
	c.signal(syscall.SIGQUIT)
}

// Start starts the stopped server again, on the same port, and returns once
// it accepts connections.
func (c *Cluster) Start() {
	c.tb.Helper()
	if c.cmd != nil {
		c.tb.Fatal("start PostgreSQL: the server is running")
	}
	if err := c.start(); err != nil {
		c.tb.Fatal(err)
	}
}

// start starts the server and waits until it answers.
func (c *Cluster) start() error {
	logPath := filepath.Join(c.dir, "postgres.log")
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	offset, _ := log.Seek(0, io.SeekEnd)
	cmd := c.command(filepath.Join(c.bin, "postgres"), "-D", c.data(), "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=on", "-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = log, log
	// A test process that dies (a panic, go test's timeout) takes its
	// server with it, as pg_ctl stop -m immediate would.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	c.cmd, c.exited = cmd, exited
	db, err := sql.Open("pgx", c.URL()+"&connect_timeout=2")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		err := db.PingContext(pctx)
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			c.cmd = nil
			return fmt.Errorf("PostgreSQL exited while starting:\n%s", c.logSince(offset))
		case <-ctx.Done():
			return fmt.Errorf("PostgreSQL does not answer %s after starting: %v\n%s", clusterStartTimeout, err, c.logSince(offset))
		case <-time.After(20 * time.Millisecond): // paces the pings
		}
	}
}

// signal sends sig to the server and waits for it to exit.
func (c *Cluster) signal(sig syscall.Signal) {
	c.tb.Helper()
	if c.cmd == nil {
		c.tb.Fatal("stop PostgreSQL: the server is not running")
	}
	if err := c.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.tb.Fatal(err)
	}
	if !c.waitExit() {
		c.tb.Fatalf("PostgreSQL did not exit within %s of %v", clusterStartTimeout, sig)
	}
}

// waitExit waits for the server to exit, and kills it if it has not
// within clusterStartTimeout; it reports whether it exited by itself.
func (c *Cluster) waitExit() bool {
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	exited := true
	select {
	case <-c.exited:
	case <-ctx.Done():
		c.cmd.Process.Kill()
		<-c.exited
		exited = false
	}
	c.cmd = nil
	return exited
}

// remove stops a running server at once and removes the scratch
// directory.
func (c *Cluster) remove() {
	if c.cmd != nil {
		c.cmd.Process.Signal(syscall.SIGQUIT)
		c.waitExit()
	}
	os.RemoveAll(c.dir)
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// command returns a command that runs as the cluster's owner, from a
// directory that owner can read.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	return cmd
}

// logSince returns what the server logged from offset on.
func (c *Cluster) logSince(offset int64) string {
	b, err := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	return string(b[offset:])
}

// serverBinaries returns the directory holding initdb and postgres, or ""
// when there is none.
func serverBinaries() string {
	var dirs []string
	if d := os.Getenv("FANFARE_PG_BINDIR"); d != "" {
		dirs = append(dirs, d)
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(debian, func(a, b string) int { return versionOf(b) - versionOf(a) }) // newest first
	dirs = append(dirs, debian...)
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d
		}
	}
	return ""
}

// versionOf returns the major version of a /usr/lib/postgresql/N/bin
// directory.
func versionOf(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return n
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// postgresUser returns the credential of the postgres system user.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("no postgres system user (install the postgresql package): %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort returns a loopback TCP port that is free now, below the range
// the kernel hands out to outgoing connections.
func freePort() int {
	for {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			ln.Close()
			return port
		}
	}
}
