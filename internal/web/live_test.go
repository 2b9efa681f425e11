package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/live"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// createUser creates an account directly (region, birth date) and returns
// its actor.
func (a *app) createUser(t *testing.T, handle, name, region, birth string) fanfare.Actor {
	t.Helper()
	u, err := a.accounts.Create(context.Background(), account.CreateInput{
		Handle: handle, DisplayName: name, Password: password, Region: region, BirthDate: birth,
	})
	require.NoError(t, err)
	return fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: fanfare.RoleFan}
}

// grant gives handle promotional coins.
func (a *app) grant(t *testing.T, handle string, coins fanfare.Amount) {
	t.Helper()
	_, err := a.wallet.Grant(context.Background(), fanfare.Actor{Role: fanfare.RoleOperator},
		wallet.GrantInput{UserID: a.user(t, handle).ID, Coins: coins, Reason: "test"}, "grant-"+handle)
	require.NoError(t, err)
}

// goLive starts handle's LIVE through the service.
func (a *app) goLive(t *testing.T, who fanfare.Actor, title string) *live.Live {
	t.Helper()
	l, err := a.live.Start(context.Background(), who, title)
	require.NoError(t, err)
	return l
}

// lives lists every LIVE and its status, for the state a refused form
// must leave alone.
func (a *app) lives(t *testing.T) string {
	t.Helper()
	rows, err := a.db.Read.Query(`SELECT id, status FROM lives ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, status string
		require.NoError(t, rows.Scan(&id, &status))
		b.WriteString(id + ":" + status + ";")
	}
	require.NoError(t, rows.Err())
	return b.String()
}

func TestLivePagesAnonymous(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		b := a.browser(t)

		home := b.get("/")
		require.Contains(t, home.body, `<a href="/live"`, "the navigation links the LIVE page")

		p := b.get("/live")
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "LIVE now", "Nobody is LIVE right now", "Log in to go LIVE yourself")
		require.Contains(t, p.body, `href="/live" aria-current="page"`)

		ayla := a.createUser(t, "ayla", "Ayla Demir", "TR", "1995-05-05")
		l := a.goLive(t, ayla, "Sunday LIVE from Istanbul")
		p = b.get("/live")
		p.requireText(t, "Sunday LIVE from Istanbul", "Ayla Demir @ayla", "0 gifts so far", "on air for")
		require.Contains(t, p.body, `href="/live/`+l.ID+`"`)
		require.NotContains(t, p.text(), "Nobody is LIVE")
		require.NotContains(t, p.body, `data-testid="studio-link"`, "logged out, no studio")

		// The room: watch, see the prices, but log in to send or chat.
		r := b.get("/live/" + l.ID)
		require.Equal(t, http.StatusOK, r.status)
		r.requireText(t, "Sunday LIVE from Istanbul", "AD", "LIVE", "Ayla Demir @ayla", "Send a gift", "Top gifters",
			"No gifts yet", "Chat", "Log in to chat", "Log in to send gifts")
		require.Contains(t, r.body, `data-testid="live-ended" hidden>`, "the ended banner waits for the feed")
		// Anonymous visitors see the default currency's values.
		r.requireText(t, "Rose 1 coin €0.02", "Finger Heart 5 coins €0.08", "Corgi 299 coins €4.69", "Universe 34,999 coins €549.48")
		require.Contains(t, r.body, `href="/login?next=%2Flive%2F`+l.ID+`"`)
		require.NotContains(t, r.body, `data-testid="send-gift"`)
		require.NotContains(t, r.body, `data-chat-form`)
		require.Contains(t, r.body, `data-events="/v1/lives/`+l.ID+`/events"`)
		require.Contains(t, r.body, `/static/live.js?v=`)
		require.Contains(t, r.header.Get("Content-Security-Policy"), "connect-src 'self' ws://"+strings.TrimPrefix(a.url, "http://"))

		nf := b.get("/live/no-such-live")
		require.Equal(t, http.StatusNotFound, nf.status)
		nf.requireText(t, "LIVE not found")

		// The studio needs a login, and comes back after it.
		res := b.do("GET", "/studio", nil)
		require.Equal(t, http.StatusSeeOther, res.status)
		require.Equal(t, "/login?next=%2Fstudio", res.location)
	})
}

func TestLiveRoomLoggedIn(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		ctx := context.Background()
		ayla := a.createUser(t, "ayla", "Ayla Demir", "TR", "1995-05-05")
		sam := a.createUser(t, "sam", "Sam Bernard", "FR", "1990-02-02")
		a.createUser(t, "mia", "Mia Yılmaz", "TR", time.Now().AddDate(-16, 0, -30).Format(time.DateOnly))
		a.grant(t, "sam", 1000)
		a.grant(t, "mia", 700)
		l := a.goLive(t, ayla, "Sunday LIVE")
		roomPath := "/live/" + l.ID

		fan := a.browser(t)
		fan.logIn("sam")
		r := fan.get(roomPath)
		require.Equal(t, http.StatusOK, r.status)
		r.requireText(t, "You have 1,000 coins", "Buy coins", "Rose 1 coin €0.02", "Galaxy 1,000 coins €15.70",
			"How many", "×1", "×5", "×10", "Send")
		require.Contains(t, r.body, `data-testid="send-gift"`)
		require.Contains(t, r.body, `data-chat-form`)
		require.NotContains(t, r.text(), "Log in to chat")
		require.NotContains(t, r.body, `data-testid="cannot-spend"`)
		require.Contains(t, r.body, `data-me="sam"`)

		// In the visitor's own currency.
		minor := a.browser(t)
		minor.logIn("mia")
		m := minor.get(roomPath)
		m.requireText(t, "You have 700 coins", "Rose 1 coin ₺0.57", "Universe 34,999 coins ₺19,998.43",
			"spending them on creators needs you to be 18 or older")

		// The creator in her own room is sent to her studio.
		creator := a.browser(t)
		creator.logIn("ayla")
		own := creator.get(roomPath)
		own.requireText(t, "This is your LIVE", "Open your studio")
		require.NotContains(t, own.body, `data-testid="send-gift"`)

		// The page's script sends gifts through the API with the page's
		// session cookie and an idempotency key; the answer carries the
		// new balance.
		gift := func(b *browser, key, body string) (int, map[string]any) {
			t.Helper()
			req, err := http.NewRequest("POST", a.url+"/v1/lives/"+l.ID+"/gifts", strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			req.Header.Set("Origin", a.url)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			res, err := b.client.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			var out map[string]any
			require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
			return res.StatusCode, out
		}
		status, out := gift(fan, "k1", `{"gift_id":"rose","count":5}`)
		require.Equal(t, http.StatusCreated, status, out)
		require.EqualValues(t, 995, out["balance"])
		status, out = gift(minor, "k2", `{"gift_id":"rose","count":5}`)
		require.Equal(t, http.StatusForbidden, status)
		require.Equal(t, fanfare.ENotEligible, out["code"])
		require.Contains(t, out["detail"], "You must be 18 or older to spend coins on creators")
		require.Equal(t, fanfare.Amount(700), a.coins(t, "mia"))

		_, err := a.live.SendGift(ctx, sam, l.ID, "corgi", 1, "k3")
		require.NoError(t, err)
		r = fan.get(roomPath)
		r.requireText(t, "You have 696 coins", "Top gifters Sam Bernard @sam 304 coins")
		require.Contains(t, r.body, `<span class="num">696</span>`, "the navigation shows the balance")
		fan.get("/live").requireText(t, "6 gifts so far")
	})
}

// TestLiveFeedThroughTheWebApp opens the room feed where the page's script
// does, with the page's cookie: the state frame comes first, then a chat
// message sent over the socket comes back with its author.
func TestLiveFeedThroughTheWebApp(t *testing.T) {
	t.Parallel()
	a := newApp(t, storetest.MustOpen(t, store.SQLite))
	ayla := a.createUser(t, "ayla", "Ayla Demir", "TR", "1995-05-05")
	a.createUser(t, "sam", "Sam Bernard", "FR", "1990-02-02")
	l := a.goLive(t, ayla, "Feed")
	b := a.browser(t)
	b.logIn("sam")
	r := b.get("/live/" + l.ID)
	events := regexp.MustCompile(`data-events="([^"]+)"`).FindStringSubmatch(r.body)
	require.NotNil(t, events)

	u, err := url.Parse(a.url)
	require.NoError(t, err)
	header := http.Header{}
	for _, c := range b.client.Jar.Cookies(u) {
		header.Add("Cookie", c.Name+"="+c.Value)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(a.url, "http")+events[1], &websocket.DialOptions{HTTPHeader: header})
	require.NoError(t, err)
	defer conn.CloseNow()

	read := func() map[string]any {
		t.Helper()
		_, data, err := conn.Read(ctx)
		require.NoError(t, err)
		var f map[string]any
		require.NoError(t, json.Unmarshal(data, &f))
		return f
	}
	state := read()
	require.Equal(t, "state", state["type"])
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(`{"type":"chat","text":"Hello from Paris!"}`)))
	for {
		f := read()
		evs, _ := f["events"].([]any)
		for _, e := range evs {
			ev := e.(map[string]any)
			if ev["type"] == "chat" {
				require.Equal(t, "sam", ev["author"])
				require.Equal(t, "Hello from Paris!", ev["text"])
				return
			}
		}
	}
}

func TestGoLiveAndEndThroughForms(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		ctx := context.Background()
		b := a.browser(t)
		b.signUp("nova", "FR")
		nova := a.user(t, "nova")

		s := b.get("/studio")
		require.Equal(t, http.StatusOK, s.status)
		s.requireText(t, "Studio", "Go LIVE", "Title", "You must be 18 or older")
		require.True(t, s.hasForm("/studio/start"))
		require.NotContains(t, s.body, "/static/live.js", "no feed before going LIVE")

		// A title is needed; what was typed stays.
		form := s.form(t, "/studio/start", 0)
		form.Set("title", "   ")
		res := b.post("/studio/start", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status)
		res.requireText(t, "Give your LIVE a title of 1 to 100 characters.")
		form.Set("title", strings.Repeat("x", 101))
		res = b.post("/studio/start", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.status)
		require.Contains(t, res.body, `value="`+strings.Repeat("x", 101)+`"`)
		require.Empty(t, a.lives(t))

		form.Set("title", "Evening <b>jam</b>")
		res = b.post("/studio/start", form)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, "/studio?started=1", res.location)
		l, err := a.live.Current(ctx, nova.ID)
		require.NoError(t, err)
		require.NotNil(t, l)
		require.Equal(t, "Evening <b>jam</b>", l.Title)

		s = b.follow(res)
		require.Equal(t, http.StatusOK, s.status)
		s.requireText(t, "You are LIVE!", "Your LIVE", "End LIVE", "Evening <b>jam</b>", "Thank your gifters",
			"No gifts yet", "Top gifters", "Chat", "On air for", "Gifts 0", "Coins spent 0", "Diamonds earned 0")
		require.Contains(t, s.body, "Evening &lt;b&gt;jam&lt;/b&gt;", "the title is escaped")
		require.Contains(t, s.body, `data-mode="studio"`)
		require.Contains(t, s.body, `data-events="/v1/lives/`+l.ID+`/events"`)
		require.Contains(t, s.body, "/static/live.js")
		require.Contains(t, s.body, `data-dialog="end-dialog"`, "End LIVE asks in the page's own dialog")
		require.Contains(t, s.body, `<dialog class="confirm-dialog" id="end-dialog"`)
		require.NotContains(t, s.body, `data-confirm=`, "no window.confirm")
		require.False(t, s.hasForm("/studio/start"))

		// The form sent again (a double click) changes nothing.
		res = b.post("/studio/start", form)
		require.Equal(t, http.StatusSeeOther, res.status)
		require.Equal(t, "/studio", res.location)
		on, err := a.live.Now(ctx)
		require.NoError(t, err)
		require.Len(t, on, 1)

		b.get("/live").requireText(t, "Open your studio", "Evening <b>jam</b>")

		// Gifts show in the studio's figures.
		a.createUser(t, "sam", "Sam Bernard", "FR", "1990-02-02")
		a.grant(t, "sam", 100)
		_, err = a.live.SendGift(ctx, fanfare.Actor{UserID: a.user(t, "sam").ID, Role: fanfare.RoleFan}, l.ID, "doughnut", 2, "g1")
		require.NoError(t, err)
		b.get("/studio").requireText(t, "Gifts 2", "Coins spent 60", "Diamonds earned 30", "Top gifters Sam Bernard @sam 60 coins")

		// Someone else cannot end it, even with a valid form of their own.
		other := a.browser(t)
		other.signUp("other", "FR")
		end := s.form(t, "/studio/end", 0)
		mine := other.get("/studio").form(t, "/studio/start", 0)
		theirs := url.Values{"csrf_token": {mine.Get("csrf_token")}, "live_id": {l.ID}}
		res = other.post("/studio/end", theirs)
		require.Equal(t, http.StatusForbidden, res.status)
		res.requireText(t, "Only its creator can end a LIVE.", "Nothing was changed")
		cur, err := a.live.Get(ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, live.StatusLive, cur.Status)

		// End: the LIVE is over and its summary is next.
		require.Equal(t, l.ID, end.Get("live_id"))
		res = b.post("/studio/end", end)
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		require.Equal(t, "/live/"+l.ID+"/summary", res.location)
		b.follow(res).requireText(t, "Your LIVE has ended", "Gifts 2", "Coins spent 60", "Diamonds earned 30", "Gifters 1")
		cur, err = a.live.Get(ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, live.StatusEnded, cur.Status)
		// Sent twice, it lands on the summary again.
		res = b.post("/studio/end", end)
		require.Equal(t, http.StatusSeeOther, res.status)
		require.Equal(t, "/live/"+l.ID+"/summary", res.location)

		// Ended, the studio offers to go LIVE again and the room says so.
		s = b.get("/studio")
		require.True(t, s.hasForm("/studio/start"))
		room := a.browser(t).get("/live/" + l.ID)
		require.Equal(t, http.StatusOK, room.status)
		room.requireText(t, "This LIVE has ended.", "See its summary")
		require.Contains(t, room.body, `data-testid="live-ended">`, "the ended banner shows")
		require.Contains(t, room.body, `data-ended="true"`)
		require.NotContains(t, room.body, "Send a gift")
		require.NotContains(t, room.text(), "Log in to chat")
		a.browser(t).get("/live").requireText(t, "Nobody is LIVE right now")
		a.requireVerified(t)
	})
}

func TestGoLiveRefusedReadably(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		a.createUser(t, "teen", "Teen", "TR", time.Now().AddDate(-16, 0, -30).Format(time.DateOnly))
		banned := a.createUser(t, "zed", "Zed Kaya", "TR", "1990-01-01")
		standing := fanfare.StandingBanned
		_, err := a.accounts.Update(context.Background(), fanfare.Actor{Role: fanfare.RoleOperator}, banned.UserID, account.UpdateInput{Standing: &standing})
		require.NoError(t, err)

		for _, tc := range []struct{ handle, want string }{
			{"teen", "You can't go LIVE: Going LIVE needs a creator of 18 or older; you are 16."},
			{"zed", "You can't go LIVE: Going LIVE needs an account in good or warned standing; your account is banned."},
		} {
			b := a.browser(t)
			b.logIn(tc.handle)
			form := b.get("/studio").form(t, "/studio/start", 0)
			form.Set("title", "My first LIVE")
			res := b.post("/studio/start", form)
			require.Equal(t, http.StatusForbidden, res.status, tc.handle)
			res.requireText(t, tc.want)
			require.Contains(t, res.body, `value="My first LIVE"`)
			require.True(t, res.hasForm("/studio/start"))
		}
		require.Empty(t, a.lives(t))
	})
}

// TestLiveFormsCSRF sends the studio's forms without their token, with a
// wrong one and from another site: each is refused and changes nothing.
func TestLiveFormsCSRF(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		b := a.browser(t)
		b.signUp("nova", "FR")
		start := b.get("/studio").form(t, "/studio/start", 0)
		start.Set("title", "Forged")

		before, lives := a.state(t), a.lives(t)
		for _, tc := range []struct {
			name  string
			token string
			want  string
		}{
			{"start without token", "", "CSRF token) is missing"},
			{"start with a wrong token", "forged", "wrong or has expired"},
		} {
			f := url.Values{"title": {"Forged"}}
			if tc.token != "" {
				f.Set("csrf_token", tc.token)
			}
			res := b.post("/studio/start", f)
			require.Equal(t, http.StatusForbidden, res.status, tc.name)
			res.requireText(t, "Request refused", tc.want, "Nothing was changed")
		}
		b.header.Set("Sec-Fetch-Site", "cross-site")
		res := b.post("/studio/start", start)
		require.Equal(t, http.StatusForbidden, res.status)
		res.requireText(t, "came from another site")
		b.header = http.Header{}
		require.Equal(t, before, a.state(t))
		require.Equal(t, lives, a.lives(t))
		require.Empty(t, a.lives(t))

		// Live now: ending needs the token too.
		require.Equal(t, http.StatusSeeOther, b.post("/studio/start", start).status)
		end := b.get("/studio").form(t, "/studio/end", 0)
		before, lives = a.state(t), a.lives(t)
		require.Contains(t, lives, ":live;")
		res = b.post("/studio/end", url.Values{"live_id": {end.Get("live_id")}})
		require.Equal(t, http.StatusForbidden, res.status)
		res.requireText(t, "CSRF token) is missing", "Nothing was changed")
		res = b.post("/studio/end", url.Values{"live_id": {end.Get("live_id")}, "csrf_token": {start.Get("csrf_token") + "x"}})
		require.Equal(t, http.StatusForbidden, res.status)
		b.header.Set("Origin", "https://evil.example")
		res = b.post("/studio/end", end)
		require.Equal(t, http.StatusForbidden, res.status)
		b.header = http.Header{}
		require.Equal(t, before, a.state(t))
		require.Equal(t, lives, a.lives(t))

		require.Equal(t, http.StatusSeeOther, b.post("/studio/end", end).status)
		require.Contains(t, a.lives(t), ":ended;")
	})
}

func TestLiveSummaryPage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// Noon today: the cookie jar runs on the real clock.
		start := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
		clock := newTestClock(start)
		a := newAppWith(t, db, appOptions{clock: clock})
		ctx := context.Background()
		creator := a.browser(t)
		creator.signUp("nova", "FR")
		sam := a.createUser(t, "sam", "Sam Bernard", "FR", "1990-02-02")
		lea := a.createUser(t, "lea", "Léa Martin", "FR", "1994-03-03")
		a.grant(t, "sam", 1000)
		a.grant(t, "lea", 100)

		form := creator.get("/studio").form(t, "/studio/start", 0)
		form.Set("title", "Night owls")
		require.Equal(t, http.StatusSeeOther, creator.post("/studio/start", form).status)
		l, err := a.live.Current(ctx, a.user(t, "nova").ID)
		require.NoError(t, err)

		// Two viewers at once make the peak. The room runs on the app's
		// clock: it sends a new viewer count a second after the last one.
		wsURL := "ws" + strings.TrimPrefix(a.url, "http") + "/v1/lives/" + l.ID + "/events"
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for n := range int64(2) {
			if n > 0 {
				clock.advance(time.Second)
			}
			conn, _, err := websocket.Dial(dctx, wsURL, nil)
			require.NoError(t, err)
			defer conn.CloseNow()
			_, _, err = conn.Read(dctx) // the state frame
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				got, err := a.live.Get(ctx, l.ID)
				return err == nil && got.PeakViewers == n+1
			}, 10*time.Second, 20*time.Millisecond, "the room records its peak of %d", n+1)
		}

		for _, g := range []struct {
			who       fanfare.Actor
			gift, key string
			count     int64
		}{{sam, "doughnut", "g1", 2}, {lea, "rose", "g2", 5}, {sam, "corgi", "g3", 1}} {
			_, err := a.live.SendGift(ctx, g.who, l.ID, g.gift, g.count, g.key)
			require.NoError(t, err)
		}

		// While on air, the summary has the figures so far.
		anon := a.browser(t)
		clock.advance(20*time.Minute - time.Second) // 20 minutes on air
		p := anon.get("/live/" + l.ID + "/summary")
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "LIVE summary", "Night owls", "still on air", "Duration 20 min", "Gifts 8")
		require.NotContains(t, p.body, `data-testid="studio-link"`)

		clock.advance(45 * time.Minute)
		res := creator.post("/studio/end", creator.get("/studio").form(t, "/studio/end", 0))
		require.Equal(t, http.StatusSeeOther, res.status, res.text())
		clock.advance(time.Hour) // an ended LIVE's duration stays
		p = creator.follow(res)
		require.Equal(t, http.StatusOK, p.status)
		// doughnut ×2 = 60, rose ×5 = 5, corgi = 299 coins; half of each
		// gift, rounded down, in diamonds: 30 + 2 + 149.
		p.requireText(t, "Your LIVE has ended", "Go LIVE again", "Night owls", "Fan nova @nova",
			"Duration 1 h 05 min", "Peak viewers 2", "Gifts 8", "Coins spent 364", "Diamonds earned 181", "Gifters 2",
			"Top gifters Sam Bernard @sam 359 coins Léa Martin @lea 5 coins", "The diamonds are in your wallet")
		require.NotContains(t, p.text(), "still on air")

		// Anyone may read it; only the creator gets the studio link.
		p = anon.get("/live/" + l.ID + "/summary")
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "Night owls", "Duration 1 h 05 min", "Peak viewers 2", "Coins spent 364", "Diamonds earned 181", "Gifters 2",
			"Sam Bernard @sam 359 coins")
		require.NotContains(t, p.body, `data-testid="studio-link"`)
		require.NotContains(t, p.text(), "Your LIVE has ended")

		nf := anon.get("/live/nope/summary")
		require.Equal(t, http.StatusNotFound, nf.status)
		nf.requireText(t, "LIVE not found")
	})
}
