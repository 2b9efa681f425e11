package web

import (
	"testing"

	"github.com/fanfarehq/fanfare"
)

func TestFormatMoney(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		minor    fanfare.Amount
		currency string
		want     string
	}{
		{0, "EUR", "€0.00"},
		{109, "EUR", "€1.09"},
		{10990, "EUR", "€109.90"},
		{99999999, "TRY", "₺999,999.99"},
		{399, "AED", "AED\u00a03.99"},
		{-471, "EUR", "−€4.71"},
		{5, "USD", "$0.05"},
	} {
		if got := formatMoney(tc.minor, tc.currency); got != tc.want {
			t.Errorf("formatMoney(%d, %s) = %q, want %q", tc.minor, tc.currency, got, tc.want)
		}
	}
	if got := formatSignedMoney(110, "EUR"); got != "+€1.10" {
		t.Errorf("formatSignedMoney(110) = %q", got)
	}
}

func TestFormatCoins(t *testing.T) {
	t.Parallel()
	for n, want := range map[fanfare.Amount]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", 27000: "27,000", 1234567: "1,234,567", -300: "−300",
		fanfare.MaxAmount: "9,007,199,254,740,991",
	} {
		if got := formatCoins(n); got != want {
			t.Errorf("formatCoins(%d) = %q, want %q", n, got, want)
		}
	}
	if got := formatSigned(70); got != "+70" {
		t.Errorf("formatSigned(70) = %q", got)
	}
}

func TestUnitName(t *testing.T) {
	t.Parallel()
	for n, want := range map[fanfare.Amount]string{1: "coin", -1: "coin", 0: "coins", 2: "coins", -5: "coins", 1000: "coins"} {
		if got := unitName(n, "coin"); got != want {
			t.Errorf("unitName(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]string{
		"/wallet":                "/wallet",
		"/wallet?kind=purchase":  "/wallet?kind=purchase",
		"":                       "",
		"wallet":                 "",
		"//evil.example/x":       "",
		"/\\evil.example":        "",
		"https://evil.example/":  "",
		"/wallet\r\nSet-Cookie:": "",
	} {
		if got := localPath(p); got != want {
			t.Errorf("localPath(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestParseCoins(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]fanfare.Amount{"5000": 5000, "5,000": 5000, " 5 000 ": 5000, "0": 0} {
		if got, err := parseCoins(in); err != nil || got != want {
			t.Errorf("parseCoins(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5", "lots", "99999999999999999999"} {
		if _, err := parseCoins(in); fanfare.ErrorCode(err) != fanfare.EInvalid {
			t.Errorf("parseCoins(%q) = %v, want validation_failed", in, err)
		}
	}
}

// TestNumbersInMessages: a service's message reads with the pages'
// figures: grouped coins stay, money takes its symbol.
func TestNumbersInMessages(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"coin purchases are limited to 1,819.74 TRY a day; 3.99 TRY is left in the last 24 hours": "Coin purchases are limited to ₺1,819.74 a day; ₺3.99 is left in the last 24 hours.",
		"coin purchases are limited to 30.00 EUR a day for users under 18":                        "Coin purchases are limited to €30.00 a day for users under 18.",
		"limited to 1,000.00 AED":                              "Limited to AED\u00a01,000.00.",
		"a balance of -1,234.50 USD":                           "A balance of −$1,234.50.",
		"your daily spend limit is 5,000 coins and 3,505 left": "Your daily spend limit is 5,000 coins and 3,505 left.",
		"version 1.10 EURO and 2.5 EUR and x1.00 EUR stay":     "Version 1.10 EURO and 2.5 EUR and x1.00 EUR stay.",
	} {
		if got := sentence(in); got != want {
			t.Errorf("sentence(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFormatCoinsAboveAThousand: counts and money are grouped by
// thousands, negative ones with a true minus sign.
func TestFormatCoinsAboveAThousand(t *testing.T) {
	t.Parallel()
	for n, want := range map[fanfare.Amount]string{
		999: "999", 1000: "1,000", 3505: "3,505", 27000: "27,000", 1234567: "1,234,567", -1495: "−1,495",
	} {
		if got := formatCoins(n); got != want {
			t.Errorf("formatCoins(%d) = %q, want %q", n, got, want)
		}
	}
	if got := formatSigned(1400); got != "+1,400" {
		t.Errorf("formatSigned(1400) = %q", got)
	}
	if got := formatSignedMoney(-181974, "TRY"); got != "−₺1,819.74" {
		t.Errorf("formatSignedMoney(-181974, TRY) = %q", got)
	}
}
