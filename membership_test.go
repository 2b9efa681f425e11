package fanfare_test

import (
	"testing"

	"github.com/fanfarehq/fanfare"
)

func TestBadgeFor(t *testing.T) {
	t.Parallel()
	for months, want := range map[int]int{0: 0, 1: 1, 2: 1, 3: 3, 5: 3, 6: 6, 11: 6, 12: 12, 23: 12, 24: 24, 100: 24} {
		if got := fanfare.BadgeFor(months); got != want {
			t.Errorf("BadgeFor(%d) = %d, want %d", months, got, want)
		}
	}
}
