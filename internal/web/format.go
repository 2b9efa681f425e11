package web

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
)

// currencySymbols are written before an amount; other currencies show
// their code.
var currencySymbols = map[string]string{
	"EUR": "€",
	"USD": "$",
	"TRY": "₺",
	"GBP": "£",
}

// formatMoney writes minor units of currency for people: "€1,099.99",
// "AED 3.99". Every currency on sale has two decimals. Negative amounts
// take a minus sign.
func formatMoney(minor fanfare.Amount, currency string) string {
	sign := ""
	if minor < 0 {
		sign, minor = "−", -minor
	}
	units := group(int64(minor / 100))
	cents := int64(minor % 100)
	num := units + "." + strconv.FormatInt(cents/10, 10) + strconv.FormatInt(cents%10, 10)
	return sign + moneyPrefix(currency) + num
}

// moneyPrefix is what formatMoney writes before an amount of currency: its
// symbol, or its code and a no-break space. The pages' scripts write
// amounts they compute with it.
func moneyPrefix(currency string) string {
	if sym, ok := currencySymbols[currency]; ok {
		return sym
	}
	return currency + "\u00a0"
}

// moneyText matches money as the services write it in messages:
// "1,819.74 TRY", "30.00 EUR".
var moneyText = regexp.MustCompile(`(-?)\b(\d{1,3}(?:,\d{3})*|\d+)\.(\d\d) ([A-Z]{3})\b`)

// moneyInText writes the money of a service's message as the pages do:
// "limited to 1,819.74 TRY a day" reads "limited to ₺1,819.74 a day".
func moneyInText(msg string) string {
	return moneyText.ReplaceAllStringFunc(msg, func(m string) string {
		p := moneyText.FindStringSubmatch(m)
		units, err := strconv.ParseInt(strings.ReplaceAll(p[2], ",", ""), 10, 64)
		if err != nil || units > int64(fanfare.MaxAmount/100) {
			return m
		}
		cents, _ := strconv.ParseInt(p[3], 10, 64)
		minor := fanfare.Amount(units*100 + cents)
		if p[1] == "-" {
			minor = -minor
		}
		return formatMoney(minor, p[4])
	})
}

// formatSignedMoney is formatMoney with a "+" on positive amounts.
func formatSignedMoney(minor fanfare.Amount, currency string) string {
	if minor > 0 {
		return "+" + formatMoney(minor, currency)
	}
	return formatMoney(minor, currency)
}

// formatCoins writes a count with thousands separators: "27,000", "−70".
func formatCoins(n fanfare.Amount) string {
	if n < 0 {
		return "−" + group(-int64(n))
	}
	return group(int64(n))
}

// formatSigned writes a count with its sign: "+70", "−70", "0".
func formatSigned(n fanfare.Amount) string {
	if n > 0 {
		return "+" + group(int64(n))
	}
	return formatCoins(n)
}

// group writes a non-negative integer with commas between thousands.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	lead := len(s) % 3
	if lead > 0 {
		b.WriteString(s[:lead])
	}
	for i := lead; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// itoa writes an integer in decimal, without separators.
func itoa[T ~int | ~int64](n T) string { return strconv.FormatInt(int64(n), 10) }

// formatTime writes an instant for people, in UTC; the page's script shows
// it in the browser's time zone.
func formatTime(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") }

// machineTime is the datetime attribute of a <time> element.
func machineTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// kindNames are the names people read for transaction kinds.
var kindNames = map[string]string{
	"purchase":   "Purchase",
	"refund":     "Refund",
	"chargeback": "Chargeback",
	"grant":      "Bonus coins",
	"gift":       "Gift",
	"tip":        "Tip",
}

// unitName is word for an amount of n of them: "coin" for 1 (or -1),
// "coins" otherwise.
func unitName(n fanfare.Amount, word string) string {
	if n == 1 || n == -1 {
		return word
	}
	return word + "s"
}

// kindName returns the name of a transaction kind.
func kindName(kind string) string {
	if n, ok := kindNames[kind]; ok {
		return n
	}
	if kind == "" {
		return ""
	}
	k := strings.ReplaceAll(kind, "_", " ")
	return strings.ToUpper(k[:1]) + k[1:]
}
