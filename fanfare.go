// Package fanfare holds the domain vocabulary shared by every layer of Fanfare:
// assets and amounts, users and actors, the error type and its codes, the
// clock and the identifiers. It imports only the standard library; storage, HTTP and features live
// under internal/ and depend on it, never the other way round.
package fanfare

import (
	"fmt"
	"strconv"
)

// Asset names a kind of value held in ledger accounts.
type Asset string

// The assets of the ledger. Fiat currencies use their ISO 4217 code as asset
// name (EUR, USD, ...), always in integer minor units.
const (
	Coin    Asset = "COIN"
	Diamond Asset = "DIAMOND"
)

// Amount is a quantity of one asset in integer units (coins, diamonds or fiat
// minor units). Amounts are never floats.
type Amount int64

// Grouped writes a in decimal with commas between thousands, as the
// product's messages write amounts: "27,000", "-1,234".
func (a Amount) Grouped() string {
	s := strconv.FormatInt(int64(a), 10)
	digits := len(s)
	if a < 0 {
		digits--
	}
	for i := len(s) - 3; digits > 3; i -= 3 {
		s = s[:i] + "," + s[i:]
		digits -= 3
	}
	return s
}

// MaxAmount is the largest amount a single request may move: 2^53-1, the
// largest integer every JSON client represents exactly.
const MaxAmount Amount = 1<<53 - 1

// CheckAmount reports a validation_failed error unless 0 < a <= MaxAmount.
// field names the offending input in the message.
func CheckAmount(field string, a Amount) error {
	switch {
	case a <= 0:
		return Errorf(EInvalid, "%s must be a positive integer, got %d", field, a)
	case a > MaxAmount:
		return Errorf(EInvalid, "%s must be at most %d, got %d", field, MaxAmount, a)
	}
	return nil
}

// Share returns floor(a * bps / 10000), the creator's part of a spend at a
// share expressed in basis points. It never overflows for amounts up to
// MaxAmount and shares up to 10000 bps.
func Share(a Amount, bps int64) Amount {
	if bps < 0 || bps > 10000 {
		panic(fmt.Sprintf("fanfare: share of %d bps out of range", bps))
	}
	// a <= 2^53 and bps <= 2^14 so the product fits in int64.
	return Amount(int64(a) * bps / 10000)
}
