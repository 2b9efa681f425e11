package paging_test

import (
	"testing"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/paging"
)

func TestCursor(t *testing.T) {
	t.Parallel()
	at, id, err := paging.Decode(paging.Encode(1733400000000000, "01a2-b/c"))
	if err != nil || at != 1733400000000000 || id != "01a2-b/c" {
		t.Fatalf("round trip = %d, %q, %v", at, id, err)
	}
	if at, id, err := paging.Decode(""); err != nil || at != 0 || id != "" {
		t.Fatalf(`Decode("") = %d, %q, %v`, at, id, err)
	}
	for _, bad := range []string{"!!", "bm9zbGFzaA", paging.Encode(0, "x"), paging.Encode(5, ""), "MTIzL3g=", "YWJjL3g"} {
		if _, _, err := paging.Decode(bad); fanfare.ErrorCode(err) != fanfare.EInvalid {
			t.Errorf("Decode(%q) = %v, want validation_failed", bad, err)
		}
	}
}
