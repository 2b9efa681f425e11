package main

import (
	"flag"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare/internal/account"
)

func TestSubscriptionConfig(t *testing.T) {
	t.Setenv("FANFARE_SUBSCRIPTION_GRACE", "1h")
	t.Setenv("FANFARE_SUBSCRIPTION_SHARE_BPS", "6000")
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	if err := fs.Parse([]string{"--subscription-period", "30s", "--subscription-max-price", "5000"}); err != nil {
		t.Fatal(err)
	}
	if c.SubscriptionGrace != time.Hour || c.SubscriptionShareBPS != 6000 || c.SubscriptionMaxPrice != 5000 ||
		c.SubscriptionMinPrice != 50 || c.SubscriptionNotice != 7*24*time.Hour {
		t.Fatalf("subscription config = %+v", c)
	}
	if d, err := c.subscriptionPeriod(); err != nil || d != 30*time.Second {
		t.Fatalf("period = %s, %v", d, err)
	}
	for in, want := range map[string]time.Duration{"month": 0, "": 0, "MONTH": 0, "1h": time.Hour} {
		c.SubscriptionPeriod = in
		if d, err := c.subscriptionPeriod(); err != nil || d != want {
			t.Errorf("period %q = %s, %v; want %s", in, d, err, want)
		}
	}
	for _, bad := range []string{"monthly", "-5s", "0s", "ten"} {
		c.SubscriptionPeriod = bad
		if _, err := c.subscriptionPeriod(); err == nil {
			t.Errorf("period %q accepted", bad)
		}
	}
}

func TestPasswordHashConfig(t *testing.T) {
	// Unset here: the tests' own cost is in the environment (TestMain).
	t.Setenv("FANFARE_PASSWORD_HASH_MEMORY", "")
	t.Setenv("FANFARE_PASSWORD_HASH_TIME", "")
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if cost, err := c.hashCost(); err != nil || cost != account.DefaultHashCost {
		t.Fatalf("default cost = %+v, %v", cost, err)
	}
	for _, bad := range [][2]int{{4, 1}, {64, 0}, {-1, 2}, {5 << 20, 1}} {
		c.PasswordHashMemory, c.PasswordHashTime = bad[0], bad[1]
		if _, err := c.hashCost(); err == nil {
			t.Errorf("cost %v accepted", bad)
		}
	}
}
