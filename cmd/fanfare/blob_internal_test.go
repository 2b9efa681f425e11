package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/blob"
	"github.com/fanfarehq/fanfare/internal/blob/blobtest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func TestMainBlobStore(t *testing.T) {
	t.Parallel()
	t.Run("a folder under the data directory by default", func(t *testing.T) {
		t.Parallel()
		m := mustRunMain(t, storetest.URL(t, store.SQLite))
		info, err := m.Blobs.Put(context.Background(), "probe/a.txt", strings.NewReader("hello"), blob.PutOptions{})
		require.NoError(t, err)
		require.Equal(t, int64(5), info.Size)
		b, err := os.ReadFile(filepath.Join(m.Config.Data, "blobs", "probe", "a.txt"))
		require.NoError(t, err)
		require.Equal(t, "hello", string(b))
	})
	t.Run("an S3-compatible bucket", func(t *testing.T) {
		t.Parallel()
		m := newTestMain(t)
		m.Config.DB, m.Config.Migrate = storetest.URL(t, store.SQLite), true
		m.Config.BlobURL = blobtest.S3(t)
		require.NoError(t, m.Run(context.Background()))
		t.Cleanup(func() { m.Close() })
		_, err := m.Blobs.Put(context.Background(), "probe/a.txt", strings.NewReader("hello"), blob.PutOptions{})
		require.NoError(t, err)
		require.NoDirExists(t, filepath.Join(m.Config.Data, "blobs"))
	})
	for _, c := range []struct{ url, says string }{
		{"blobs", "--blob-url (FANFARE_BLOB_URL)"},
		{"gs://bucket", "--blob-url (FANFARE_BLOB_URL)"},
		{"s3://", "--blob-url (FANFARE_BLOB_URL)"},
		{"file:///nonexistent/fanfare/blobs", "blob store file:///nonexistent/fanfare/blobs"},
		{blobtest.S3URL("nothing", "http://127.0.0.1:1"), "not accessible"},
	} {
		t.Run("refused "+c.url, func(t *testing.T) {
			t.Parallel()
			m := newTestMain(t)
			m.Config.DB, m.Config.Migrate = storetest.URL(t, store.SQLite), true
			m.Config.BlobURL = c.url
			err := m.Run(context.Background())
			require.ErrorContains(t, err, c.says)
			require.Empty(t, m.URL(), "nothing left listening")
		})
	}
}

func TestBlobURLConfig(t *testing.T) {
	// Not parallel: it sets the environment.
	t.Setenv("FANFARE_BLOB_URL", "")
	os.Unsetenv("FANFARE_BLOB_URL")
	require.Empty(t, NewMain().Config.BlobURL, "the data directory's folder by default")
	t.Setenv("FANFARE_BLOB_URL", "s3://media?region=eu-central-1")
	require.Equal(t, "s3://media?region=eu-central-1", NewMain().Config.BlobURL)

	fs := newFlagSet("serve", "", io.Discard)
	var cfg Config
	cfg.serveFlags(fs)
	require.NoError(t, fs.Parse([]string{"--blob-url", "file:///srv/blobs"}))
	require.Equal(t, "file:///srv/blobs", cfg.BlobURL)

	// The default folder is created, spaces and all.
	cfg = Config{Data: filepath.Join(t.TempDir(), "my data")}
	u, err := cfg.blobURL()
	require.NoError(t, err)
	require.DirExists(t, filepath.Join(cfg.Data, "blobs"))
	s, err := blob.Open(context.Background(), u)
	require.NoError(t, err)
	s.Close()

	var out, help bytes.Buffer
	err = run(context.Background(), []string{"serve", "--help"}, &out, &help)
	require.True(t, errors.Is(err, flag.ErrHelp), "%v", err)
	require.Contains(t, help.String(), "-blob-url")
	require.Contains(t, help.String(), "FANFARE_BLOB_URL")
}

var uploadLine = regexp.MustCompile(`^upload (file|s3): \d+ MB/s, memory [+-][\d.]+ MiB heap( [+-][\d.]+ MiB RSS)? at peak \(2 MB streamed PUT -> Put, target <= 32 MiB\); range read first byte p50 [\d.]+ ms \(3 reads of 64 KiB\)$`)

// TestBenchUpload runs "bench upload" small, on a folder and on an S3
// fake in this process, and checks its one summary line.
// Not parallel: the benchmark reads the process's heap, which the other
// tests would grow.
func TestBenchUpload(t *testing.T) {
	for _, u := range []string{"", blobtest.S3(t)} {
		var out, errOut bytes.Buffer
		args := []string{"bench", "upload", "--size", "2000000", "--reads", "3", "--quiet"}
		if u != "" {
			args = append(args, "--blob-url", u)
		}
		require.NoError(t, run(context.Background(), args, &out, &errOut), errOut.String())
		line := strings.TrimSpace(out.String())
		require.Regexp(t, uploadLine, line)
		t.Log(line)
	}
	// The object does not outlive the run.
	u := blobtest.S3(t)
	require.NoError(t, run(context.Background(), []string{"bench", "upload", "--size", "2000000", "--reads", "1", "--quiet", "--blob-url", u}, io.Discard, io.Discard))
	s, err := blob.Open(context.Background(), u)
	require.NoError(t, err)
	defer s.Close()
	keys, err := s.Keys(context.Background(), "")
	require.NoError(t, err)
	require.Empty(t, keys)
}
