package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// Shutting the server down tells every room feed it is going (1001),
// rather than leaving the hijacked connections hanging.
func TestCloseEndsRoomFeeds(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, storetest.URL(t, store.SQLite))
	ctx := context.Background()
	u, err := m.Accounts.Create(ctx, account.CreateInput{Handle: "ayla", Password: "fanfare-demo", Region: "TR", BirthDate: "1995-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Live.Start(ctx, fanfare.Actor{UserID: u.ID, Handle: u.Handle}, "bye")
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(m.URL(), "http")+"/v1/lives/"+l.ID+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if _, _, err := conn.Read(dctx); err != nil { // the state frame
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Close() }()
	for {
		if _, _, err = conn.Read(dctx); err != nil {
			break
		}
	}
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Fatalf("close status %v (%v), want 1001 going away", got, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
}
