package payout

import (
	"testing"

	"github.com/fanfarehq/fanfare"
)

func TestParseRates(t *testing.T) {
	rs, err := ParseRates(DefaultRates)
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.Currencies(); len(got) != 4 || got[0] != "AED" || got[3] != "USD" {
		t.Fatalf("Currencies() = %v", got)
	}
	for _, c := range []struct {
		rate     string
		diamonds fanfare.Amount
		minor    fanfare.Amount
	}{
		{"EUR", 10_000, 5_000},   // 10,000 × 0.005 EUR = 50.00 EUR
		{"EUR", 1, 0},            // half a cent: rounded down
		{"EUR", 3, 1},            // 1.5 cents
		{"TRY", 10_000, 180_000}, // 1,800.00 TRY
		{"AED", 12_345, 24_690},  // 246.90 AED
		{"USD", fanfare.MaxAmount, fanfare.MaxAmount / 2}, // half a cent each, without overflow
	} {
		if got := rs[c.rate].Value(c.diamonds); got != c.minor {
			t.Errorf("%s: Value(%d) = %d, want %d", c.rate, c.diamonds, got, c.minor)
		}
	}
	if s := rs["EUR"].String(); s != "0.005 EUR per diamond" {
		t.Errorf("String() = %q", s)
	}
	fine, err := ParseRates("eur=0.000001, USD = 12")
	if err != nil {
		t.Fatal(err)
	}
	if got := fine["EUR"].Value(1_000_000); got != 100 {
		t.Errorf("a millionth of a euro per diamond: 1,000,000 diamonds = %d cents, want 100", got)
	}
	if got := fine["USD"].Value(2); got != 2_400 {
		t.Errorf("12 USD per diamond: 2 diamonds = %d cents, want 2400", got)
	}
	for _, bad := range []string{"", "EUR", "EUR=", "EUR=-1", "EUR=0", "EUR=0.0000001", "EUR=1e-3", "EURO=1",
		"EUR=0.5,EUR=0.6", "E1R=1", "EUR=1.2.3", "EUR=1000000", "EUR=.5"} {
		if _, err := ParseRates(bad); err == nil {
			t.Errorf("ParseRates(%q) accepted it", bad)
		}
	}
}
