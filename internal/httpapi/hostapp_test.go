package httpapi_test

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// hostAppDir is the host-app example, a Go module of its own.
const hostAppDir = "../../examples/hostapp"

// TestGeneratedGoClient generates a Go client with oapi-codegen from the
// served document, builds the host-app example (examples/hostapp) against
// it, and runs it against a real server: it signs up, logs in, grants,
// starts a LIVE, sends a gift and a tip and reads the history, as a host
// app would; then creates a host key, a user by external id and a minted
// session, with which the user sends a gift. It needs the go command and the Go module proxy; without go
// it is skipped, except in CI (CI=true), where it fails.
func TestGeneratedGoClient(t *testing.T) {
	t.Parallel()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the go command is needed to build the host-app example: %v", err)
		}
		t.Skipf("SKIPPED: the go command is not on PATH (%v); it builds the host-app example from a generated client (CI=true fails instead)", err)
	}
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	doc := e.do(t, request{method: "GET", path: "/openapi.json"})
	require.Equal(t, 200, doc.status)

	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(hostAppDir)))
	// What a developer generated in their copy is not the test's.
	for _, generated := range []string{"openapi.json", "fanfare/client.gen.go", "hostapp"} {
		require.NoError(t, os.RemoveAll(filepath.Join(dir, generated)))
	}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			err = os.Chmod(p, 0o644)
		}
		return err
	}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "openapi.json"), doc.body, 0o644))

	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"))
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
		return string(out)
	}
	run(goCmd, "generate", "./...")
	run(goCmd, "vet", "./...")
	run(goCmd, "build", "-o", "hostapp", ".")
	out := run(filepath.Join(dir, "hostapp"), "-url", e.url, "-api-key", testAPIKey)
	t.Logf("host app:\n%s", out)
	for _, want := range []string{
		"signed up @fan_", "signed up @creator_", "has 250000 followers", "logged in @fan_", "logged in @creator_",
		"granted 5000 coins to @fan_", "is LIVE: \"Hello from the host app\" (live)", " x2 for ", "tipped @creator_",
		"history: tip -100 COIN", "history: gift -2 COIN", "history: grant +5000 COIN",
		"host key hostapp-", "created @hostfan_", "minted a session for @hostfan_", "sent a gift with a minted session", "\nok\n",
	} {
		require.Contains(t, out, want)
	}
}
