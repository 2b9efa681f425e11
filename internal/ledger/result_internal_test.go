package ledger

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/fanfarehq/fanfare"
)

// TestResultJSON checks that the committer's hand-written encoding of a
// Result decodes to the same Result as encoding/json's.
func TestResultJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 23, 12, 0, 0, 123456000, time.UTC)
	atJSON, _ := at.MarshalJSON()
	for _, r := range []*Result{
		{OpID: "01a2-op", CreatedAt: at, Balances: map[AccountID]fanfare.Amount{7: 70, 12: -5}},
		{OpID: "x", HoldID: `h"old\1`, CreatedAt: at, Balances: map[AccountID]fanfare.Amount{1: 0}},
		{CreatedAt: at, Err: fanfare.Errorf(fanfare.EInsufficientFunds, "not enough coins: \"%d\"", 3)},
		{OpID: "y", CreatedAt: at},
	} {
		b, err := r.appendJSON(nil, atJSON)
		if err != nil {
			t.Fatal(err)
		}
		var got, want Result
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("appendJSON gave invalid JSON %s: %v", b, err)
		}
		std, _ := json.Marshal(r)
		json.Unmarshal(std, &want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("appendJSON = %s, decodes to %+v; encoding/json gives %s", b, got, std)
		}
	}
}

// TestAppendString: the quick path for plain names writes what
// encoding/json writes, and anything else goes through it.
func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "coins", "diamonds", "0190f4a2-7c1e-7b3a-9c2d-1a2b3c4d5e6f", `a"b`, `a\b`, "<tag>", "a&b", "é", "line\nbreak", "\x00", "\x7f"} {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendString(%q) = %s, want x%s", s, got, want)
		}
	}
}
