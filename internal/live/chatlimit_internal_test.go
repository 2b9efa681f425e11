package live

import (
	"testing"
	"time"
)

// TestChatTokensTakenElsewhere checks that the tokens another node took
// for a viewer count against the viewer here: the burst is shared, and
// refills as usual.
func TestChatTokensTakenElsewhere(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 15, 20, 0, 0, 0, time.UTC)
	var l limiter
	for range ChatBurst - 1 {
		l.took("live1/u1", t0)
	}
	if ok, _ := l.allow("live1/u1", t0); !ok {
		t.Fatal("the burst's last token was refused")
	}
	if ok, wait := l.allow("live1/u1", t0); ok || wait != ChatEvery {
		t.Fatalf("allow after the burst spent on two nodes = %v, wait %s; want refused, wait %s", ok, wait, ChatEvery)
	}
	// Taken elsewhere past the last token: the bucket stays empty, no
	// debt.
	l.took("live1/u1", t0)
	if ok, _ := l.allow("live1/u1", t0.Add(ChatEvery)); !ok {
		t.Fatal("a token earned back was refused")
	}
	if ok, _ := l.allow("live1/u2", t0); !ok {
		t.Fatal("another viewer's bucket was touched")
	}
}
