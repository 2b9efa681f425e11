package main

import (
	"context"
	"flag"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare/internal/eligibility"
)

func TestShoutoutConfig(t *testing.T) {
	// The defaults.
	var d Config
	d.serveFlags(flag.NewFlagSet("serve", flag.ContinueOnError))
	if n, err := d.shoutoutMaxVideo(); err != nil || n != 200_000_000 {
		t.Fatalf("default max video = %d, %v; want 200 MB", n, err)
	}
	if d.ShoutoutAcceptWindow != 72*time.Hour || d.ShoutoutDeliveryWindow != 168*time.Hour || d.ShoutoutShareBPS != 8000 ||
		d.ShoutoutMinPrice != 100 || d.ShoutoutMaxPrice != 1_000_000 || d.ShoutoutReview || d.ShoutoutBlockedFanRegions != "" {
		t.Fatalf("default shoutout config = %+v", d)
	}

	t.Setenv("FANFARE_SHOUTOUT_ACCEPT_WINDOW", "90s")
	t.Setenv("FANFARE_SHOUTOUT_BLOCKED_FAN_REGIONS", "ru, by")
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	if err := fs.Parse([]string{"--shoutout-delivery-window", "5m", "--shoutout-max-video", "64 MiB", "--shoutout-review"}); err != nil {
		t.Fatal(err)
	}
	if c.ShoutoutAcceptWindow != 90*time.Second || c.ShoutoutDeliveryWindow != 5*time.Minute || !c.ShoutoutReview || c.ShoutoutShareBPS != 8000 {
		t.Fatalf("shoutout config = %+v", c)
	}
	if n, err := c.shoutoutMaxVideo(); err != nil || n != 64<<20 {
		t.Fatalf("max video = %d, %v", n, err)
	}
	rules, err := c.eligibilityRules()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rules, func(r eligibility.Rule) bool { return r.Feature == eligibility.Shoutouts })
	if i < 0 || !slices.Equal(rules[i].FanRegionsBlocked, []string{"BY", "RU"}) || !slices.Equal(rules[i].CreatorRegions, []string{"AE", "TR"}) {
		t.Fatalf("rules = %+v", rules)
	}

	for in, want := range map[string]int64{"200MB": 200_000_000, "1.5 GB": 1_500_000_000, "1024": 1024, "64KiB": 65536, "2 gib": 2 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "ten MB", "5 TB", "-1MB", "1e30", "99999999999 GB"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}

	// A bad size or region stops the server at start.
	for _, set := range []func(*Config){
		func(c *Config) { c.ShoutoutMaxVideo = "lots" },
		func(c *Config) { c.ShoutoutMaxVideo = "0" },
		func(c *Config) { c.ShoutoutBlockedFanRegions = "France" },
	} {
		m := newTestMain(t)
		m.Config.DB = "sqlite://" + filepath.Join(t.TempDir(), "f.db")
		m.Config.Addr = "127.0.0.1:0"
		m.Config.Migrate = true
		m.Config.ShoutoutMaxVideo = "200MB"
		set(&m.Config)
		if err := m.Run(context.Background()); err == nil {
			m.Close()
			t.Fatalf("the server started with %+v", m.Config)
		}
	}
}
