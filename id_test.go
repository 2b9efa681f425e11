package fanfare_test

import (
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare"
)

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// idTime returns the milliseconds and the 12 bits after them of a UUIDv7.
func idTime(t *testing.T, id string) (milli, seq int64) {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil || len(b) != 16 {
		t.Fatalf("id %q is not 16 hex bytes", id)
	}
	for _, x := range b[:6] {
		milli = milli<<8 | int64(x)
	}
	return milli, int64(b[6]&0x0f)<<8 | int64(b[7])
}

func at(t time.Time) fanfare.Clock { return fanfare.ClockFunc(func() time.Time { return t }) }

var carriesRuns atomic.Int64

// The id carries the clock's time. Not parallel: ids are increasing
// process-wide, so another test's ids, made meanwhile at any clock, would
// push these past their clock; sequential tests end before the parallel
// ones go on, and every other test here uses earlier clocks.
func TestNewIDCarriesClockTime(t *testing.T) {
	// A later year each time it runs in this process (-count).
	base := time.Date(2100+int(carriesRuns.Add(1)), 1, 2, 3, 4, 5, 0, time.UTC)
	for _, offset := range []time.Duration{0, 999_999, time.Millisecond + 256, time.Hour} {
		now := base.Add(offset)
		id := fanfare.NewID(at(now))
		if !uuidV7.MatchString(id) {
			t.Fatalf("NewID() = %q, want a UUIDv7 in text form", id)
		}
		milli, seq := idTime(t, id)
		if want := now.UnixMilli(); milli != want {
			t.Errorf("NewID at %v: milliseconds = %d, want %d", now, milli, want)
		}
		if want := int64(now.Nanosecond()%1e6) >> 8; seq != want {
			t.Errorf("NewID at %v: sub-millisecond = %d, want %d", now, seq, want)
		}
	}
}

// Ids strictly increase in the order they are made, when the clock stands
// still (more ids than one millisecond has steps) or steps back.
func TestNewIDIncreases(t *testing.T) {
	t.Parallel()
	frozen := at(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	prev := fanfare.NewID(frozen)
	for i := range 5000 {
		id := fanfare.NewID(frozen)
		if id <= prev {
			t.Fatalf("id %d = %s, not after %s", i, id, prev)
		}
		if !uuidV7.MatchString(id) {
			t.Fatalf("id %d = %q, want a UUIDv7 in text form", i, id)
		}
		prev = id
	}
	back := fanfare.NewID(at(time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)))
	if back <= prev {
		t.Fatalf("after the clock stepped back: %s, not after %s", back, prev)
	}
}

// Ids made at once from many goroutines are all distinct, and each
// goroutine's are increasing.
func TestNewIDConcurrent(t *testing.T) {
	t.Parallel()
	clock := at(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	const workers, each = 8, 2000
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				ids[w] = append(ids[w], fanfare.NewID(clock))
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for w := range workers {
		for i, id := range ids[w] {
			if seen[id] {
				t.Fatalf("id %s made twice", id)
			}
			seen[id] = true
			if i > 0 && id <= ids[w][i-1] {
				t.Fatalf("worker %d: id %s not after %s", w, id, ids[w][i-1])
			}
		}
	}
	// The random part differs between ids of the same time part.
	a, b := ids[0][0], ids[0][1]
	if a[19:] == b[19:] {
		t.Errorf("ids %s and %s share their random part", a, b)
	}
}
