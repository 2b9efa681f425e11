package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/app"
	"github.com/fanfarehq/fanfare/internal/app/apptest"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

type liveReply struct {
	ID       string `json:"id"`
	Creator  string `json:"creator"`
	Title    string `json:"title"`
	Status   string `json:"status"`
	Gifts    int64  `json:"gifts"`
	Coins    int64  `json:"coins"`
	Diamonds int64  `json:"diamonds"`
}

func (e *env) grantCoins(t *testing.T, userID string, coins int64) {
	t.Helper()
	res := e.do(t, request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
		body:   map[string]any{"user_id": userID, "coins": coins, "reason": "test"},
		header: map[string]string{"Idempotency-Key": "grant-" + userID}})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
}

func gift(token, live, key string, body any) request {
	return request{method: "POST", path: "/v1/lives/" + live + "/gifts", token: token, body: body,
		header: map[string]string{"Idempotency-Key": key}}
}

func TestLiveRoutes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.signUp(t, "ayla")
		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)

		res := e.do(t, request{method: "GET", path: "/v1/gifts"})
		require.Equal(t, http.StatusOK, res.status)
		require.Contains(t, string(res.body), `{"id":"rose","name":"Rose","coins":1,"tier":1}`)

		var l liveReply
		res = e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		res.json(t, &l)
		require.Equal(t, "ayla", l.Creator)
		require.Equal(t, "live", l.Status)
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Again"}}), 409, "conflict")

		var list struct{ Lives []liveReply }
		e.do(t, request{method: "GET", path: "/v1/lives"}).json(t, &list)
		require.Len(t, list.Lives, 1)
		require.Equal(t, l.ID, list.Lives[0].ID)

		res = e.do(t, gift(sam, l.ID, "g1", map[string]any{"gift_id": "doughnut", "count": 5}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var sent map[string]any
		res.json(t, &sent)
		require.EqualValues(t, 150, sent["coins"])
		require.EqualValues(t, 75, sent["diamonds"])
		require.EqualValues(t, 850, sent["balance"])
		require.Equal(t, map[string]any{"currency": "EUR", "amount": float64(236)}, sent["fiat_value"]) // 150 coins at 1.57 per 100
		again := e.do(t, gift(sam, l.ID, "g1", map[string]any{"gift_id": "doughnut", "count": 5}))
		require.Equal(t, http.StatusCreated, again.status)
		require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(res.body), string(again.body))

		var board struct {
			Top []map[string]any `json:"top"`
		}
		e.do(t, request{method: "GET", path: "/v1/lives/" + l.ID + "/leaderboard"}).json(t, &board)
		require.Equal(t, []map[string]any{{"handle": "sam", "display_name": "sam", "coins": float64(150)}}, board.Top)

		// Bad input: a problem each, nothing changed. (A refusal by the
		// ledger keeps its answer under the key, for replays: checked
		// before the snapshot.)
		requireProblem(t, e.do(t, gift(sam, l.ID, "b8", map[string]any{"gift_id": "universe", "count": 1})), 409, "insufficient_funds")
		before := e.snapshot(t)
		for _, c := range []struct {
			name   string
			req    request
			status int
			code   string
		}{
			{"unknown live", gift(sam, "nope", "b1", map[string]any{"gift_id": "rose", "count": 1}), 404, "not_found"},
			{"unknown gift", gift(sam, l.ID, "b2", map[string]any{"gift_id": "unicorn", "count": 1}), 400, "validation_failed"},
			{"count zero", gift(sam, l.ID, "b3", map[string]any{"gift_id": "rose", "count": 0}), 400, "validation_failed"},
			{"count negative", gift(sam, l.ID, "b4", map[string]any{"gift_id": "rose", "count": -3}), 400, "validation_failed"},
			{"count absurd", gift(sam, l.ID, "b5", map[string]any{"gift_id": "rose", "count": 10_001}), 400, "validation_failed"},
			{"count overflow", gift(sam, l.ID, "b6", map[string]any{"gift_id": "rose", "count": 1e19}), 400, "validation_failed"},
			{"gifting oneself", gift(ayla, l.ID, "b7", map[string]any{"gift_id": "rose", "count": 1}), 400, "validation_failed"},
			{"not enough coins, replayed", gift(sam, l.ID, "b8", map[string]any{"gift_id": "universe", "count": 1}), 409, "insufficient_funds"},
			{"no key", request{method: "POST", path: "/v1/lives/" + l.ID + "/gifts", token: sam, body: map[string]any{"gift_id": "rose", "count": 1}}, 400, "idempotency_key_required"},
			{"key reused", gift(sam, l.ID, "g1", map[string]any{"gift_id": "rose", "count": 1}), 409, "idempotency_conflict"},
			{"anonymous", gift("", l.ID, "b9", map[string]any{"gift_id": "rose", "count": 1}), 401, "unauthorized"},
			{"ending someone else's", request{method: "POST", path: "/v1/lives/" + l.ID + "/end", token: sam}, 403, "forbidden"},
			{"title too long", request{method: "POST", path: "/v1/lives", token: sam, body: map[string]any{"title": strings.Repeat("x", 101)}}, 400, "validation_failed"},
		} {
			requireProblem(t, e.do(t, c.req), c.status, c.code)
		}
		require.Equal(t, before, e.snapshot(t))

		res = e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/end", token: ayla})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &l)
		require.Equal(t, "ended", l.Status)
		require.Equal(t, int64(5), l.Gifts)
		require.Equal(t, int64(75), l.Diamonds)
		requireProblem(t, e.do(t, gift(sam, l.ID, "b10", map[string]any{"gift_id": "rose", "count": 1})), 409, "invalid_state")
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/end", token: ayla}), 409, "invalid_state")
		e.requireVerified(t)
	})
}

// feed is a viewer's socket in a test.
type feed struct {
	t       *testing.T
	conn    *websocket.Conn
	pending []map[string]any // events of the last frame not read yet
}

func (e *env) watch(t *testing.T, live string, header http.Header) *feed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/v1/lives/"+live+"/events",
		&websocket.DialOptions{HTTPHeader: header})
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	t.Cleanup(func() { conn.CloseNow() })
	return &feed{t: t, conn: conn}
}

// next reads frames until one has an event of type typ, and returns it.
func (f *feed) next(typ string) map[string]any {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		for len(f.pending) > 0 {
			ev := f.pending[0]
			f.pending = f.pending[1:]
			if ev["type"] == typ {
				return ev
			}
		}
		_, data, err := f.conn.Read(ctx)
		require.NoError(f.t, err, "waiting for a %s event", typ)
		var frame struct {
			Type   string           `json:"type"`
			Events []map[string]any `json:"events"`
		}
		require.NoError(f.t, json.Unmarshal(data, &frame))
		if frame.Type == typ {
			var m map[string]any
			require.NoError(f.t, json.Unmarshal(data, &m))
			return m
		}
		f.pending = frame.Events
	}
}

// closed reads until the socket closes and returns the close status.
func (f *feed) closed() websocket.StatusCode {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := f.conn.Read(ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

func TestRoomFeed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.signUp(t, "ayla")
		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)
		var l liveReply
		e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}}).json(t, &l)

		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/lives/nope/events"}), 404, "not_found")

		anon := e.watch(t, l.ID, nil)
		st := anon.next("state")
		require.EqualValues(t, 1, st["viewers"])
		creator := e.watch(t, l.ID, http.Header{"Authorization": {"Bearer " + ayla}})
		creator.next("state")
		rude := e.watch(t, l.ID, nil)
		rude.next("state")

		res := e.do(t, gift(sam, l.ID, "g1", map[string]any{"gift_id": "rose", "count": 5}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		for _, f := range []*feed{anon, creator} {
			g := f.next("gift")
			require.Equal(t, "sam", g["gifter"])
			require.Equal(t, "rose", g["gift_id"])
			require.EqualValues(t, 5, g["count"])
			require.EqualValues(t, 5, g["combo"])
			board := f.next("leaderboard")
			require.Equal(t, "sam", board["top"].([]any)[0].(map[string]any)["handle"])
		}

		// A frame that is not JSON closes that socket only.
		require.NoError(t, rude.conn.Write(context.Background(), websocket.MessageText, []byte("hello?")))
		require.Equal(t, websocket.StatusPolicyViolation, rude.closed())
		big := e.watch(t, l.ID, nil)
		big.next("state")
		require.NoError(t, big.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"chat","text":"`+strings.Repeat("x", 5000)+`"}`)))
		require.Equal(t, websocket.StatusMessageTooBig, big.closed())

		res = e.do(t, gift(sam, l.ID, "g2", map[string]any{"gift_id": "rose", "count": 2}))
		require.Equal(t, http.StatusCreated, res.status)
		require.EqualValues(t, 7, anon.next("gift")["combo"])

		// A viewer who reconnects gets the state: leaderboard and recent gifts.
		again := e.watch(t, l.ID, nil)
		st = again.next("state")
		require.Equal(t, "sam", st["leaderboard"].([]any)[0].(map[string]any)["handle"])
		require.NotEmpty(t, st["recent"])

		res = e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/end", token: ayla})
		require.Equal(t, http.StatusOK, res.status)
		for _, f := range []*feed{anon, creator, again} {
			f.next("live_ended")
			require.Equal(t, websocket.StatusNormalClosure, f.closed())
		}
	})
}

// A server that drains answers /readyz 503 and every other route as
// before; once its hub drains, each room feed is closed with 1012 (Service
// Restart), and WaitFeeds returns when every feed has been told.
func TestDrain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	_, ayla := e.signUp(t, "ayla")
	samID, sam := e.signUp(t, "sam")
	e.grantCoins(t, samID, 100)
	var l liveReply
	e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}}).json(t, &l)
	viewer := e.watch(t, l.ID, nil)
	viewer.next("state")

	e.api.Drain()
	p := requireProblem(t, e.do(t, request{method: "GET", path: "/readyz"}), 503, "unavailable")
	require.Contains(t, p.Detail, "draining")
	require.Equal(t, http.StatusOK, e.do(t, request{method: "GET", path: "/healthz"}).status)
	res := e.do(t, gift(sam, l.ID, "g1", map[string]any{"gift_id": "rose", "count": 3}))
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	require.EqualValues(t, 3, viewer.next("gift")["count"], "the feeds go on while the node drains")

	e.hub.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	for err == nil {
		_, _, err = viewer.conn.Read(ctx)
	}
	var ce websocket.CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, websocket.StatusServiceRestart, ce.Code)
	require.Equal(t, "the server is restarting: reconnect", ce.Reason)
	require.NoError(t, e.api.WaitFeeds(ctx))

	// A viewer who still reaches this node is told to try again later.
	late := e.watch(t, l.ID, nil)
	require.Equal(t, websocket.StatusTryAgainLater, late.closed())
	require.NoError(t, e.api.WaitFeeds(ctx))
}

func TestRoomChat(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.signUp(t, "ayla")
		_, sam := e.signUp(t, "sam")
		omarID, omar := e.signUp(t, "omar")
		var l liveReply
		e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}}).json(t, &l)
		chat := func(token, text string) *response {
			return e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/chat", token: token, body: map[string]any{"text": text}})
		}

		viewer := e.watch(t, l.ID, nil)
		viewer.next("state")
		samFeed := e.watch(t, l.ID, http.Header{"Authorization": {"Bearer " + sam}})
		samFeed.next("state")

		res := chat(sam, "hello from HTTP")
		require.Equal(t, http.StatusNoContent, res.status, "%s", res.body)
		c := viewer.next("chat")
		require.Equal(t, "sam", c["author"])
		require.Equal(t, "hello from HTTP", c["text"])

		// Over the socket, too.
		require.NoError(t, samFeed.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"chat","text":"hello from the socket"}`)))
		require.Equal(t, "hello from the socket", viewer.next("chat")["text"])

		// An anonymous viewer is told to log in, on its own socket.
		require.NoError(t, viewer.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"chat","text":"me too"}`)))
		errEv := viewer.next("error")
		require.Equal(t, "unauthorized", errEv["code"])

		requireProblem(t, chat(sam, strings.Repeat("x", 151)), 400, "validation_failed")
		requireProblem(t, chat("", "hi"), 401, "unauthorized")
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/lives/nope/chat", token: sam, body: map[string]any{"text": "hi"}}), 404, "not_found")

		// Muting is the creator's.
		mute := func(token string) *response {
			return e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/mutes", token: token, body: map[string]any{"user_id": omarID}})
		}
		requireProblem(t, mute(sam), 403, "forbidden")
		require.Equal(t, http.StatusNoContent, mute(ayla).status)
		requireProblem(t, chat(omar, "hi"), 403, "forbidden")

		// Rate limited after a burst.
		var last *response
		for range 6 {
			last = chat(sam, "spam")
		}
		p := requireProblem(t, last, 429, "rate_limited")
		require.Contains(t, p.Detail, "slow down")
		// By handle, as the studio's chat names viewers.
		muteBy := func(body map[string]any) *response {
			return e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/mutes", token: ayla, body: body})
		}
		requireProblem(t, muteBy(map[string]any{}), 400, "validation_failed")
		requireProblem(t, muteBy(map[string]any{"handle": "sam", "user_id": omarID}), 400, "validation_failed")
		requireProblem(t, muteBy(map[string]any{"handle": "nobody"}), 404, "not_found")
		requireProblem(t, muteBy(map[string]any{"handle": "ayla"}), 400, "validation_failed") // oneself
		require.Equal(t, http.StatusNoContent, muteBy(map[string]any{"handle": "SAM"}).status)
		requireProblem(t, chat(sam, "hi"), 403, "forbidden")
	})
}

func TestLiveSummaryAndLeaderboards(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.signUp(t, "ayla")
		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)
		var l liveReply
		e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}}).json(t, &l)
		res := e.do(t, gift(sam, l.ID, "g1", map[string]any{"gift_id": "doughnut", "count": 3}))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		viewer := e.watch(t, l.ID, nil)
		viewer.next("viewers") // the room reports its count, which keeps the peak
		require.NoError(t, retry(func() bool {
			var s struct {
				PeakViewers int64 `json:"peak_viewers"`
			}
			e.do(t, request{method: "GET", path: "/v1/lives/" + l.ID + "/summary"}).json(t, &s)
			return s.PeakViewers == 1
		}))
		e.do(t, request{method: "POST", path: "/v1/lives/" + l.ID + "/end", token: ayla})

		var sum struct {
			Live            liveReply        `json:"live"`
			DurationSeconds int64            `json:"duration_seconds"`
			PeakViewers     int64            `json:"peak_viewers"`
			Gifters         int64            `json:"gifters"`
			Top             []map[string]any `json:"top"`
		}
		res = e.do(t, request{method: "GET", path: "/v1/lives/" + l.ID + "/summary"})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &sum)
		require.Equal(t, "ended", sum.Live.Status)
		require.Equal(t, int64(90), sum.Live.Coins)
		require.Equal(t, int64(45), sum.Live.Diamonds)
		require.Equal(t, int64(1), sum.Gifters)
		require.Equal(t, int64(1), sum.PeakViewers)
		require.Equal(t, "sam", sum.Top[0]["handle"])
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/lives/nope/summary"}), 404, "not_found")

		var weekly struct {
			Creators []map[string]any `json:"creators"`
		}
		e.do(t, request{method: "GET", path: "/v1/leaderboards/weekly"}).json(t, &weekly)
		require.Equal(t, []map[string]any{{"handle": "ayla", "display_name": "ayla", "diamonds": float64(45)}}, weekly.Creators)
		e.do(t, request{method: "GET", path: "/v1/leaderboards/weekly?week=2020-01-01"}).json(t, &weekly)
		require.Empty(t, weekly.Creators)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/leaderboards/weekly?week=soon"}), 400, "validation_failed")

		var gifters struct {
			Creator string           `json:"creator"`
			Top     []map[string]any `json:"top"`
		}
		e.do(t, request{method: "GET", path: "/v1/creators/ayla/top-gifters"}).json(t, &gifters)
		require.Equal(t, "ayla", gifters.Creator)
		require.Equal(t, []map[string]any{{"handle": "sam", "display_name": "sam", "coins": float64(90)}}, gifters.Top)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/creators/nobody/top-gifters"}), 404, "not_found")
	})
}

// retry polls cond for up to 5 seconds.
func retry(cond func() bool) error {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return context.DeadlineExceeded
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// The wallet's spending checks answer gifts: a minor, a frozen wallet and
// the daily limit are refused with their codes, and nothing moves.
func TestGiftSpendingChecks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ayla := e.signUp(t, "ayla")
		var l liveReply
		e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}}).json(t, &l)

		body := signUpBody("mia")
		body["birth_date"] = time.Now().AddDate(-16, 0, 0).Format(time.DateOnly)
		res := e.do(t, request{method: "POST", path: "/v1/users", body: body})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		var mia struct{ ID string }
		res.json(t, &mia)
		miaToken := e.login(t, "mia", "fanfare-demo")
		e.grantCoins(t, mia.ID, 100)

		samID, sam := e.signUp(t, "sam")
		e.grantCoins(t, samID, 1000)
		res = e.do(t, request{method: "PUT", path: "/v1/me/spend-limit", token: sam, body: map[string]any{"daily_coins": 40}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)

		// A wallet frozen by a chargeback.
		leaID, lea := e.signUp(t, "lea")
		frozen, err := e.ledger.UserAccount(t.Context(), leaID, "COIN")
		require.NoError(t, err)
		_, err = db.Write.Exec(`UPDATE accounts SET frozen = TRUE WHERE id = $1`, frozen)
		require.NoError(t, err)
		e.grantCoins(t, leaID, 100)

		res = e.do(t, gift(sam, l.ID, "g1", map[string]any{"gift_id": "doughnut", "count": 1})) // 30 of 40
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		before := e.snapshot(t)
		p := requireProblem(t, e.do(t, gift(sam, l.ID, "g2", map[string]any{"gift_id": "finger-heart", "count": 3})), 409, "spend_limit_exceeded") // 15 > 10 left
		require.Contains(t, p.Detail, "10 are left today")
		p = requireProblem(t, e.do(t, gift(miaToken, l.ID, "m1", map[string]any{"gift_id": "rose", "count": 1})), 403, "not_eligible")
		require.Contains(t, p.Detail, "18 or older")
		requireProblem(t, e.do(t, gift(lea, l.ID, "f1", map[string]any{"gift_id": "rose", "count": 1})), 409, "wallet_frozen")
		require.Equal(t, before, e.snapshot(t))
		res = e.do(t, gift(sam, l.ID, "g3", map[string]any{"gift_id": "finger-heart", "count": 2})) // exactly the 10 left
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		e.requireVerified(t)
	})
}

// Without a week, the weekly leaderboard is the week of the server's clock.
func TestWeeklyLeaderboardWeekComesFromTheClock(t *testing.T) {
	t.Parallel()
	wednesday := time.Date(2031, 5, 14, 23, 59, 0, 0, time.UTC)
	a := apptest.Open(t, storetest.MustOpen(t, store.SQLite), fanfare.ClockFunc(func() time.Time { return wednesday }), app.Config{})
	e := &env{url: apptest.Serve(t, a, a.API)}
	var weekly struct {
		WeekStart time.Time `json:"week_start"`
		WeekEnd   time.Time `json:"week_end"`
	}
	res := e.do(t, request{method: "GET", path: "/v1/leaderboards/weekly"})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	res.json(t, &weekly)
	require.Equal(t, time.Date(2031, 5, 12, 0, 0, 0, 0, time.UTC), weekly.WeekStart.UTC(), "week_start")
	require.Equal(t, time.Date(2031, 5, 19, 0, 0, 0, 0, time.UTC), weekly.WeekEnd.UTC(), "week_end")
}
