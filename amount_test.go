package fanfare_test

import (
	"testing"

	"github.com/fanfarehq/fanfare"
)

func TestAmountGrouped(t *testing.T) {
	t.Parallel()
	for a, want := range map[fanfare.Amount]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", 3505: "3,505", 27000: "27,000", 100000: "100,000",
		1234567: "1,234,567", -1: "-1", -999: "-999", -1000: "-1,000", -123456: "-123,456",
		fanfare.MaxAmount: "9,007,199,254,740,991",
	} {
		if got := a.Grouped(); got != want {
			t.Errorf("Amount(%d).Grouped() = %q, want %q", int64(a), got, want)
		}
	}
}
