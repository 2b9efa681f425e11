package payout

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/fanfarehq/fanfare"
)

// DefaultRates is FANFARE_PAYOUT_RATES' default: what one diamond is paid
// out, per currency.
const DefaultRates = "EUR=0.005,USD=0.005,TRY=0.18,AED=0.02"

// rateDecimals is how many decimals of the currency's major unit a rate may
// have: 0.000001 EUR per diamond at the finest.
const rateDecimals = 6

// Rate is what one diamond is paid out in a currency, exactly: perMillion
// minor units (cents: every currency has two decimals) for 1,000,000
// diamonds.
type Rate struct {
	Currency   string
	perMillion int64
	text       string // as configured: "0.005"
}

// String writes the rate as configured: "0.005 EUR per diamond".
func (r Rate) String() string { return r.text + " " + r.Currency + " per diamond" }

// Amount is the rate as configured, in the currency's major unit per
// diamond: "0.005".
func (r Rate) Amount() string { return r.text }

// Value is what d diamonds are paid out at r, in minor units, rounded down
// (the platform never pays a fraction of a cent it does not owe).
func (r Rate) Value(d fanfare.Amount) fanfare.Amount {
	v := new(big.Int).Mul(big.NewInt(int64(d)), big.NewInt(r.perMillion))
	v.Quo(v, big.NewInt(1_000_000)) // truncates toward zero: down for d ≥ 0
	if !v.IsInt64() {
		return fanfare.MaxAmount
	}
	return fanfare.Amount(v.Int64())
}

// Rates are the payout rates by currency.
type Rates map[string]Rate

// Currencies returns the currencies of rs, sorted.
func (rs Rates) Currencies() []string {
	out := make([]string, 0, len(rs))
	for c := range rs {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// ParseRates reads "EUR=0.005,USD=0.005,TRY=0.18": a currency (three
// letters) and what one diamond is paid out in it, in the major unit with
// at most six decimals. Decimal text, never a float: 0.005 is exactly half
// a cent.
func ParseRates(s string) (Rates, error) {
	out := Rates{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		cur, num, ok := strings.Cut(part, "=")
		cur = strings.ToUpper(strings.TrimSpace(cur))
		num = strings.TrimSpace(num)
		if !ok || len(cur) != 3 || strings.Trim(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return nil, fmt.Errorf("payout rate %q: want CURRENCY=amount, e.g. EUR=0.005", part)
		}
		if _, dup := out[cur]; dup {
			return nil, fmt.Errorf("payout rates: %s twice", cur)
		}
		per, err := perMillion(num)
		if err != nil {
			return nil, fmt.Errorf("payout rate %q: %w", part, err)
		}
		out[cur] = Rate{Currency: cur, perMillion: per, text: num}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("payout rates %q: none given", s)
	}
	return out, nil
}

// perMillion reads a decimal amount of a major unit per diamond as minor
// units per 1,000,000 diamonds.
func perMillion(num string) (int64, error) {
	whole, frac, _ := strings.Cut(num, ".")
	if whole == "" || len(frac) > rateDecimals || strings.Trim(whole+frac, "0123456789") != "" {
		return 0, fmt.Errorf("want a positive decimal with at most %d decimals", rateDecimals)
	}
	if len(whole) > 6 {
		return 0, fmt.Errorf("more than 999,999 a diamond")
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseInt(frac+strings.Repeat("0", rateDecimals-len(frac)), 10, 64)
	if err != nil {
		return 0, err
	}
	// major units per diamond × 100 (minor) × 1,000,000 (diamonds).
	v := (w*1_000_000 + f) * 100
	if v <= 0 {
		return 0, fmt.Errorf("a rate must be above zero")
	}
	return v, nil
}

// Rate returns the payout rate in currency, and whether there is one.
func (s *Service) Rate(currency string) (Rate, bool) {
	r, ok := s.opts().Rates[currency]
	return r, ok
}
