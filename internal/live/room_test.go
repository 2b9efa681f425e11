package live_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
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
// restart) reads the tips and the top gifters from the database. An ended
// LIVE reports nobody watching.
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
		w.Leave()

		// A hub that never followed the room reads what the database keeps.
		other := room.NewHub(room.NewLocal(), room.Options{Tick: 5 * time.Millisecond, Now: clock.Now, Load: f.live.RoomState})
		t.Cleanup(other.Close)
		x, err := other.Join(ctx, l.ID)
		require.NoError(t, err)
		st = state(t, x)
		require.Equal(t, []string{"tip sam merci"}, recentLines(st))
		require.Equal(t, "2026-03-15T20:00:00Z", st.Recent[0]["at"])
		require.EqualValues(t, 100, st.Recent[0]["coins"])
		require.Equal(t, []room.Gifter{{Handle: "sam", DisplayName: "sam", Coins: 5}}, st.Leaderboard)
		x.Leave()

		// Over: nobody watches, here and on a hub that reads it.
		_, err = f.live.End(ctx, f.users["ayla"], l.ID)
		require.NoError(t, err)
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
