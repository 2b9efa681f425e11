package main

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare/internal/payout"
)

func TestPayoutConfig(t *testing.T) {
	parse := func(args ...string) (payout.Options, error) {
		t.Helper()
		var c Config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		c.serveFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return c.payouts()
	}
	o, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	if o.Hold != payout.DefaultHold || len(o.Rates) != 4 || o.Rates["EUR"].String() != "0.005 EUR per diamond" {
		t.Fatalf("defaults: %+v", o)
	}
	t.Setenv("FANFARE_PAYOUT_RATES", "USD=0.01")
	t.Setenv("FANFARE_PAYOUT_HOLD", "1h")
	if o, err = parse(); err != nil || o.Hold != time.Hour || len(o.Rates) != 1 || o.Rates["USD"].Value(100) != 100 {
		t.Fatalf("from the environment: %+v, %v", o, err)
	}
	if o.Min != payout.DefaultMin || o.DailyMax != payout.DefaultDailyMax || o.Provider != nil {
		t.Fatalf("bounds and provider: %+v", o)
	}
	t.Setenv("FANFARE_PAYOUT_MIN", "500")
	t.Setenv("FANFARE_PAYOUT_DAILY_MAX", "9000")
	if o, err = parse(); err != nil || o.Min != 500 || o.DailyMax != 9000 {
		t.Fatalf("bounds from the environment: %+v, %v", o, err)
	}
	if o, err = parse("--payout-provider", "stripe", "--stripe-secret-key", "sk_test_x"); err != nil || o.Provider == nil || o.Provider.Name() != "stripe" {
		t.Fatalf("stripe: %+v, %v", o, err)
	}
	for _, c := range [][]string{{"--payout-rates", "EUR=0.5.5"}, {"--payout-rates", ""}, {"--payout-hold", "0s"},
		{"--payout-provider", "paypal"}, {"--payout-provider", "stripe"}, {"--payout-min", "0"}, {"--payout-daily-max", "10"}} {
		if _, err := parse(c...); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(c[0], "--")) {
			t.Errorf("%v: %v, want an error naming the flag", c, err)
		}
	}
}
