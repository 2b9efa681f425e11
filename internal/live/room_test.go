package live_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/room"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/tips"
)

// stateFrame is a joining viewer's first frame, as the tests read it.
type stateFrame struct {
	Type        string
	Viewers     int
	Leaderboard []room.Gifter
	Recent      []map[string]any
	Ended       bool
}

// frame waits for v's next frame.
func frame(t *testing.T, v *room.Viewer) []byte {
	t.Helper()
	select {
	case b := <-v.Frames():
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no frame")
		return nil
	}
}

func state(t *testing.T, v *room.Viewer) stateFrame {
	t.Helper()
	var st stateFrame
	require.NoError(t, json.Unmarshal(frame(t, v), &st))
	require.Equal(t, room.TypeState, st.Type)
	return st
}

// recentLines writes a state frame's recent events one per line.
func recentLines(st stateFrame) []string {
	var out []string
	for _, e := range st.Recent {
		switch e["type"] {
		case room.TypeGift:
			out = append(out, "gift "+e["gifter"].(string)+" "+e["gift_id"].(string))
		case room.TypeChat:
			out = append(out, "chat "+e["author"].(string)+" "+e["text"].(string))
		case room.TypeTip:
			out = append(out, "tip "+e["tipper"].(string)+" "+e["message"].(string))
		}
	}
	return out
}

// A viewer who joins once everyone left still reads the LIVE's recent
// gifts, messages and tips: the hub keeps following the room while the
// LIVE is on air, and a hub that never followed it (another node, a
// restart) reads the gifts, the tips, the chat and the top gifters from
// the database. An ended LIVE reports nobody watching.
func TestLateJoinerSeesRecentEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		clock := fanfare.ClockFunc(func() time.Time { return now })
		followers := int64(250_000)
		_, err := f.accounts.Update(ctx, operator, f.users["ayla"].UserID, account.UpdateInput{Followers: &followers})
		require.NoError(t, err)
		tp, err := tips.New(db, f.accounts, f.wallet, f.rules, tips.Options{Clock: clock, Broker: f.broker, OnAir: f.live})
		require.NoError(t, err)
		_, err = tp.SetEnabled(ctx, f.users["ayla"], true)
		require.NoError(t, err)
		f.grant(t, "sam", 1000)
		l, err := f.live.Start(ctx, f.users["ayla"], "Late joiners")
		require.NoError(t, err)

		hub := room.NewHub(f.broker, room.Options{Tick: 5 * time.Millisecond, Now: clock.Now, Load: f.live.RoomState})
		t.Cleanup(hub.Close)
		v, err := hub.Join(ctx, l.ID)
		require.NoError(t, err)
		require.Empty(t, state(t, v).Recent)
		_, err = f.live.SendGift(ctx, f.users["sam"], l.ID, "rose", 5, "g1")
		require.NoError(t, err)
		require.NoError(t, f.live.Chat(ctx, f.users["sam"], l.ID, "hello"))
		_, err = tp.Send(ctx, f.users["sam"], f.users["ayla"].UserID, 100, "merci", "t1")
		require.NoError(t, err)
		for seen := 0; seen < 3; {
			var fr room.Frame
			require.NoError(t, json.Unmarshal(frame(t, v), &fr))
			seen += len(fr.Events)
		}
		v.Leave()

		// Nobody watches: a message still posted is kept too.
		require.NoError(t, f.live.Chat(ctx, f.users["omar"], l.ID, "anyone?"))
		w, err := hub.Join(ctx, l.ID)
		require.NoError(t, err)
		st := state(t, w)
		require.Equal(t, []string{"gift sam rose", "chat sam hello", "tip sam merci", "chat omar anyone?"}, recentLines(st))
		require.Equal(t, 1, st.Viewers)
		require.Equal(t, "sam", st.Leaderboard[0].Handle)
		followed := st.Recent
		w.Leave()

		// A hub that never followed the room (another node, a restart)
		// reads what the database keeps: the gifts, the tips and the chat,
		// as the room showed them.
		other := room.NewHub(room.NewLocal(), room.Options{Tick: 5 * time.Millisecond, Now: clock.Now, Load: f.live.RoomState})
		t.Cleanup(other.Close)
		x, err := other.Join(ctx, l.ID)
		require.NoError(t, err)
		st = state(t, x)
		require.Equal(t, []string{"gift sam rose", "chat sam hello", "tip sam merci", "chat omar anyone?"}, recentLines(st))
		require.Equal(t, followed, st.Recent)
		require.Equal(t, "2026-03-15T20:00:00Z", st.Recent[2]["at"])
		require.EqualValues(t, 100, st.Recent[2]["coins"])
		require.Equal(t, []room.Gifter{{Handle: "sam", DisplayName: "sam", Coins: 5}}, st.Leaderboard)
		x.Leave()

		// Over: nobody watches, here and on a hub that reads it; the
		// janitor deletes the ended LIVE's chat, and only it.
		_, err = f.accounts.Update(ctx, operator, f.users["omar"].UserID, account.UpdateInput{Followers: &followers})
		require.NoError(t, err)
		onAir, err := f.live.Start(ctx, f.users["omar"], "Still on")
		require.NoError(t, err)
		require.NoError(t, f.live.Chat(ctx, f.users["sam"], onAir.ID, "still here"))
		_, err = f.live.End(ctx, f.users["ayla"], l.ID)
		require.NoError(t, err)
		purged, err := f.live.PurgeChat(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 2, purged, "the ended LIVE's two messages")
		kept, err := f.live.RoomState(ctx, onAir.ID)
		require.NoError(t, err)
		require.Len(t, kept.Recent, 1, "the chat of a LIVE on air stays")
		require.Equal(t, "still here", kept.Recent[0].Chat.Text)
		for _, h := range []*room.Hub{hub, other} {
			y, err := h.Join(ctx, l.ID)
			require.NoError(t, err)
			st = state(t, y)
			require.True(t, st.Ended)
			require.Equal(t, 0, st.Viewers)
			y.Leave()
		}
	})
}

// TestRoomStateFromDatabase: a hub that never followed a LIVE (another
// node, a restart) builds its first state from the database: the LIVE's
// last RecentEvents gifts and tips, oldest first, gifts as the room showed
// them (the gift, the count, the sender, the streak), and none of the
// creator's earlier LIVE. A gift worth less than one diamond credits the
// creator nothing, and only a hub that saw it shows it.
func TestRoomStateFromDatabase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var mu sync.Mutex
		at := now
		clock := fanfare.ClockFunc(func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return at
		})
		tick := func() {
			mu.Lock()
			at = at.Add(time.Second)
			mu.Unlock()
		}
		f := setupClock(t, db, clock)
		ctx := context.Background()
		followers := int64(250_000)
		_, err := f.accounts.Update(ctx, operator, f.users["ayla"].UserID, account.UpdateInput{Followers: &followers})
		require.NoError(t, err)
		tp, err := tips.New(db, f.accounts, f.wallet, f.rules, tips.Options{Clock: clock, Broker: f.broker, OnAir: f.live})
		require.NoError(t, err)
		_, err = tp.SetEnabled(ctx, f.users["ayla"], true)
		require.NoError(t, err)
		f.grant(t, "sam", 100_000)
		f.grant(t, "omar", 100_000)
		keys := 0
		gift := func(l *live.Live, who, giftID string, count int64) {
			t.Helper()
			keys++
			_, err := f.live.SendGift(ctx, f.users[who], l.ID, giftID, count, fmt.Sprint("g", keys))
			require.NoError(t, err)
			tick()
		}
		tip := func(who, message string) {
			t.Helper()
			keys++
			_, err := tp.Send(ctx, f.users[who], f.users["ayla"].UserID, 100, message, fmt.Sprint("t", keys))
			require.NoError(t, err)
			tick()
		}
		lines := func(st room.State) []string {
			var out []string
			for _, e := range st.Recent {
				switch e.Type {
				case room.TypeGift:
					g := e.Gift
					out = append(out, fmt.Sprintf("%s gift %s %s ×%d %d coins", e.At.Format("15:04:05"), g.Handle, g.Name, g.Count, g.Coins))
				case room.TypeTip:
					out = append(out, fmt.Sprintf("%s tip %s %s", e.At.Format("15:04:05"), e.Tip.Handle, e.Tip.Message))
				}
			}
			return out
		}

		// The creator's earlier LIVE, a second before this one.
		earlier, err := f.live.Start(ctx, f.users["ayla"], "Earlier")
		require.NoError(t, err)
		gift(earlier, "omar", "galaxy", 1)
		tip("omar", "earlier")
		_, err = f.live.End(ctx, f.users["ayla"], earlier.ID)
		require.NoError(t, err)

		l, err := f.live.Start(ctx, f.users["ayla"], "Late joiners")
		require.NoError(t, err)
		gift(l, "sam", "doughnut", 1)
		gift(l, "omar", "rose", 1) // half a coin's worth of diamonds: none
		st, err := f.live.RoomState(ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, []string{"20:00:02 gift sam Doughnut ×1 30 coins"}, lines(st))
		require.Equal(t, f.users["sam"].UserID, st.Recent[0].Gift.GifterID)
		require.Equal(t, room.Gift{GifterID: f.users["sam"].UserID, Handle: "sam", DisplayName: "sam",
			GiftID: "doughnut", Name: "Doughnut", Tier: 2, Count: 1, Coins: 30}, *st.Recent[0].Gift)
		require.False(t, st.Ended)
		// An ended LIVE's gifts are no longer its creator's last credits:
		// its state keeps to its tips.
		st, err = f.live.RoomState(ctx, earlier.ID)
		require.NoError(t, err)
		require.True(t, st.Ended)
		require.Equal(t, []string{"20:00:01 tip omar earlier"}, lines(st))

		for i := range 11 {
			gift(l, "sam", "rose", 2)
			tip("omar", fmt.Sprint("m", i))
		}
		st, err = f.live.RoomState(ctx, l.ID)
		require.NoError(t, err)
		// 23 events since 20:00:02: the newest 20, from the second rose.
		var want []string
		for i := 1; i < 11; i++ {
			want = append(want, fmt.Sprintf("20:00:%02d gift sam Rose ×2 2 coins", 4+2*i),
				fmt.Sprintf("20:00:%02d tip omar m%d", 5+2*i, i))
		}
		require.Len(t, st.Recent, live.RecentEvents)
		require.Equal(t, want, lines(st))
		require.Equal(t, []room.Gifter{{Handle: "sam", DisplayName: "sam", Coins: 52}, {Handle: "omar", DisplayName: "omar", Coins: 1}}, st.Top)

		// A viewer of a hub that never followed the room reads them in its
		// first frame, gifts with their streak, and the streak goes on.
		hub := room.NewHub(f.broker, room.Options{Tick: 5 * time.Millisecond, Now: clock.Now, Load: f.live.RoomState})
		t.Cleanup(hub.Close)
		v, err := hub.Join(ctx, l.ID)
		require.NoError(t, err)
		first := state(t, v)
		require.Len(t, first.Recent, live.RecentEvents)
		require.Equal(t, map[string]any{"type": "gift", "at": "2026-03-15T20:00:06Z", "gifter": "sam", "gifter_name": "sam",
			"gift_id": "rose", "count": float64(2), "combo": float64(2)}, first.Recent[0])
		require.Equal(t, map[string]any{"type": "gift", "at": "2026-03-15T20:00:24Z", "gifter": "sam", "gifter_name": "sam",
			"gift_id": "rose", "count": float64(2), "combo": float64(20)}, first.Recent[18])
		require.Equal(t, map[string]any{"type": "tip", "at": "2026-03-15T20:00:25Z", "tipper": "omar", "tipper_name": "omar",
			"coins": float64(100), "message": "m10"}, first.Recent[19])
		require.Equal(t, []room.Gifter{{Handle: "sam", DisplayName: "sam", Coins: 52}, {Handle: "omar", DisplayName: "omar", Coins: 1}}, first.Leaderboard)
		gift(l, "sam", "rose", 2)
		for {
			var fr struct{ Events []map[string]any }
			require.NoError(t, json.Unmarshal(frame(t, v), &fr))
			if len(fr.Events) > 0 && fr.Events[0]["type"] == room.TypeGift {
				require.EqualValues(t, 22, fr.Events[0]["combo"])
				break
			}
		}
		v.Leave()
	})
}

// Close stores the messages already sent, then refuses new ones with
// unavailable: a server stopping loses no message it showed.
func TestChatClose(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		followers := int64(250_000)
		_, err := f.accounts.Update(ctx, operator, f.users["ayla"].UserID, account.UpdateInput{Followers: &followers})
		require.NoError(t, err)
		l, err := f.live.Start(ctx, f.users["ayla"], "Closing")
		require.NoError(t, err)
		var wg sync.WaitGroup
		for _, who := range []string{"sam", "omar", "zed"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				require.NoError(t, f.live.Chat(ctx, f.users[who], l.ID, "bye from "+who))
			}()
		}
		wg.Wait()
		require.NoError(t, f.live.Close())
		require.NoError(t, f.live.Close(), "closing twice")
		err = f.live.Chat(ctx, f.users["sam"], l.ID, "too late")
		require.Equal(t, fanfare.EUnavailable, fanfare.ErrorCode(err), "%v", err)
		st, err := f.live.RoomState(ctx, l.ID)
		require.NoError(t, err)
		require.Len(t, st.Recent, 3)
	})
}
