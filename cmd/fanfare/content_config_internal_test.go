package main

import (
	"context"
	"flag"
	"path/filepath"
	"testing"
)

func TestPostMaxMediaConfig(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if n, err := c.postMaxMedia(); err != nil || n != 200_000_000 {
		t.Fatalf("default post media limit = %d, %v; want 200 MB", n, err)
	}
	t.Setenv("FANFARE_POST_MAX_MEDIA", "64 MiB")
	c = Config{}
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if n, err := c.postMaxMedia(); err != nil || n != 64<<20 {
		t.Fatalf("post media limit = %d, %v; want 64 MiB", n, err)
	}
	if err := fs.Parse([]string{"--post-max-media", "5MB"}); err != nil {
		t.Fatal(err)
	}
	if n, err := c.postMaxMedia(); err != nil || n != 5_000_000 {
		t.Fatalf("post media limit = %d, %v; want 5 MB", n, err)
	}

	// A bad size stops the server at start.
	for _, bad := range []string{"lots", "0"} {
		m := newTestMain(t)
		m.Config.DB = "sqlite://" + filepath.Join(t.TempDir(), "f.db")
		m.Config.Addr = "127.0.0.1:0"
		m.Config.Migrate = true
		m.Config.ShoutoutMaxVideo = "200MB"
		m.Config.PostMaxMedia = bad
		if err := m.Run(context.Background()); err == nil {
			m.Close()
			t.Fatalf("the server started with --post-max-media %q", bad)
		}
	}
}
