package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// requireRefusedField checks a 400 validation_failed whose first error is
// at location, and returns the problem.
func requireRefusedField(t *testing.T, res *response, location string) *problem {
	t.Helper()
	p := requireProblem(t, res, http.StatusBadRequest, "validation_failed")
	require.NotEmpty(t, p.Errors, "errors[]; body: %s", res.body)
	require.Equal(t, location, p.Errors[0]["location"], "location; body: %s", res.body)
	require.NotEmpty(t, p.Errors[0]["message"], "message; body: %s", res.body)
	require.Contains(t, p.Detail, location)
	return p
}

// TestTextThatIsNotText sends every class of text that is not text to the
// routes that store text, on both stores: each is refused with 400
// validation_failed naming the field, and nothing changes.
func TestTextThatIsNotText(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		samID, sam := e.signUp(t, "sam")
		_, ayla := e.creatorWith(t, "ayla", "FR", 200_000, "", "")
		res := e.do(t, request{method: "PUT", path: "/v1/me/tip-settings", token: ayla, body: map[string]any{"enabled": true}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		e.grantCoins(t, samID, 1000)
		var l liveReply
		e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "On air"}}).json(t, &l)
		grant := func(body string) request {
			return request{method: "POST", path: "/v1/admin/grants", token: testAPIKey, body: body,
				header: map[string]string{"Idempotency-Key": "g-" + fmt.Sprint(len(body))}}
		}

		for _, tc := range []struct {
			name     string
			req      request
			location string
		}{
			// NUL: stored on SQLite, a 500 on PostgreSQL before.
			{"NUL in a tip message", tip(sam, "ayla", "t1", `{"coins":10,"message":"hi\u0000there"}`), "body.message"},
			{"NUL in a display name", request{method: "POST", path: "/v1/users",
				body: `{"handle":"nul","password":"fanfare-demo","region":"FR","birth_date":"1990-01-01","display_name":"a\u0000b"}`}, "body.display_name"},
			{"NUL in a LIVE title", request{method: "POST", path: "/v1/lives", token: sam, body: `{"title":"x\u0000"}`}, "body.title"},
			{"NUL in a grant reason", grant(`{"user_id":"` + samID + `","coins":5,"reason":"promo\u0000"}`), "body.reason"},
			{"NUL in a chat message", request{method: "POST", path: "/v1/lives/" + l.ID + "/chat", token: sam, body: `{"text":"\u0000"}`}, "body.text"},
			{"NUL in a handle at log-in", request{method: "POST", path: "/v1/auth/login", body: `{"handle":"sa\u0000m","password":"fanfare-demo"}`}, "body.handle"},
			{"NUL in a rule's region", request{method: "PUT", path: "/v1/admin/eligibility/tips", token: testAPIKey,
				body: `{"enabled":true,"regions_off":["FR","\u0000"]}`}, "body.regions_off[1]"},
			// Invalid UTF-8, which decoders silently rewrite to U+FFFD.
			{"invalid UTF-8 in a tip message", tip(sam, "ayla", "t2", "{\"coins\":10,\"message\":\"caf\xe9\"}"), "body.message"},
			{"invalid UTF-8 in a display name", request{method: "POST", path: "/v1/users",
				body: "{\"handle\":\"bad\",\"password\":\"fanfare-demo\",\"region\":\"FR\",\"birth_date\":\"1990-01-01\",\"display_name\":\"\xff\xfe\"}"}, "body.display_name"},
			{"an unpaired surrogate escape", tip(sam, "ayla", "t3", `{"coins":10,"message":"\ud800"}`), "body.message"},
			// A member named twice: a proxy reading the first would disagree.
			{"coins given twice", grant(`{"user_id":"` + samID + `","coins":1,"coins":1000,"reason":"promo"}`), "body.coins"},
			{"coins given twice in a tip", tip(sam, "ayla", "t4", `{"coins":10,"message":"hi","coins":100000}`), "body.coins"},
			{"a name given twice by an escape", tip(sam, "ayla", "t5", `{"coins":10,"\u0063oins":20}`), "body.coins"},
			{"a nested member given twice", request{method: "PUT", path: "/v1/admin/eligibility/tips", token: testAPIKey,
				body: `{"enabled":true,"x":[{"a":1,"a":2}]}`}, "body.x[0].a"},
			// Line breaks and other control characters in one-line fields.
			{"a new line in a tip message", tip(sam, "ayla", "t6", `{"coins":10,"message":"line\nbreak"}`), "body.message"},
			{"a new line in a LIVE title", request{method: "POST", path: "/v1/lives", token: sam, body: `{"title":"a\r\nb"}`}, "body.title"},
			{"a tab in a display name", request{method: "POST", path: "/v1/users",
				body: `{"handle":"tab","password":"fanfare-demo","region":"FR","birth_date":"1990-01-01","display_name":"a\tb"}`}, "body.display_name"},
			{"DEL in a grant reason", grant(`{"user_id":"` + samID + `","coins":5,"reason":"x\u007f"}`), "body.reason"},
			{"a C1 control in a chat message", request{method: "POST", path: "/v1/lives/" + l.ID + "/chat", token: sam, body: `{"text":"x\u0085"}`}, "body.text"},
			{"a line separator in a title", request{method: "POST", path: "/v1/lives", token: sam, body: `{"title":"a\u2028b"}`}, "body.title"},
			{"a right-to-left override in a display name", request{method: "POST", path: "/v1/users",
				body: `{"handle":"rlo","password":"fanfare-demo","region":"FR","birth_date":"1990-01-01","display_name":"evil\u202egnp.exe"}`}, "body.display_name"},
			// Parameters that reach the database.
			{"NUL in a creator's id", request{method: "GET", path: "/v1/creators/%00"}, "path.id"},
			{"NUL in a tip's creator", tip(sam, "ay%00la", "t7", `{"coins":10}`), "path.id"},
			{"NUL in a LIVE's id", request{method: "GET", path: "/v1/lives/%00"}, "path.id"},
			{"invalid UTF-8 in a LIVE's id", request{method: "GET", path: "/v1/lives/%FF/summary"}, "path.id"},
			{"NUL in a user's id", request{method: "PATCH", path: "/v1/users/%00", token: testAPIKey, body: `{"followers":1}`}, "path.id"},
			{"NUL in a kind", request{method: "GET", path: "/v1/me/transactions?kind=%00", token: sam}, "query.kind"},
			{"invalid UTF-8 in a cursor", request{method: "GET", path: "/v1/me/tips/sent?cursor=%FF", token: sam}, "query.cursor"},
			{"NUL in a currency", request{method: "GET", path: "/v1/coin-packs?currency=%00"}, "query.currency"},
			{"invalid UTF-8 in an idempotency key", tip(sam, "ayla", "k\xff", `{"coins":10}`), "header.Idempotency-Key"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.snapshot(t)
				requireRefusedField(t, e.do(t, tc.req), tc.location)
				require.Equal(t, before, e.snapshot(t), "a refused request changed something")
			})
		}
		require.Equal(t, walletBody{Coins: 1000}, e.walletOf(t, sam))
		e.requireVerified(t)

		// What is text passes: accents, right-to-left script with its
		// marks, emoji with joiners.
		res = e.do(t, tip(sam, "ayla", "ok", `{"coins":10,"message":"Merci Ayla \u00e9 \u0645\u0631\u062d\u0628\u0627\u200f \ud83d\udc69\u200d\ud83d\udcbb"}`))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		require.Contains(t, string(res.body), "Merci Ayla é مرحبا\u200f 👩‍💻")
	})
}

// TestCaseVariantIsUnknown checks that a member named twice in different
// cases is not read as the same field (the decoder matches names without
// case, the schema with it).
func TestCaseVariantIsUnknown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	samID, _ := e.signUp(t, "sam")
	before := e.snapshot(t)
	res := e.do(t, request{method: "POST", path: "/v1/admin/grants", token: testAPIKey,
		body:   `{"user_id":"` + samID + `","coins":1,"Coins":1000,"reason":"promo"}`,
		header: map[string]string{"Idempotency-Key": "case"}})
	requireProblem(t, res, http.StatusBadRequest, "validation_failed")
	require.Equal(t, before, e.snapshot(t))
}

// TestBadCursors checks that cursors that are not cursors are refused
// cleanly on both stores.
func TestBadCursors(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, sam := e.signUp(t, "sam")
		for _, path := range []string{
			"/v1/me/transactions?cursor=garbage",
			"/v1/me/transactions?cursor=" + url.QueryEscape("9999999999999999999999:x"),
			"/v1/me/transactions?kind=" + url.QueryEscape("'; DROP TABLE users; --"),
			"/v1/me/tips/sent?cursor=garbage",
			"/v1/me/tips/received?cursor=" + url.QueryEscape("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA"),
			"/v1/leaderboards/weekly?week=garbage",
			"/v1/creators/nobody/top-gifters?week=2026-13-45",
		} {
			res := e.do(t, request{method: "GET", path: path, token: sam})
			require.Less(t, res.status, 500, "GET %s: %s", path, res.body)
			if res.status >= 400 {
				require.Equal(t, "application/problem+json", res.header.Get("Content-Type"), "GET %s", path)
			}
		}
	})
}

// TestProtocolRefusals checks the answers given before a route runs.
func TestProtocolRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	_, ayla := e.signUp(t, "ayla")
	var l liveReply
	e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}}).json(t, &l)
	events := "/v1/lives/" + l.ID + "/events"

	// A plain GET on the WebSocket route.
	res := e.do(t, request{method: "GET", path: events})
	requireProblem(t, res, http.StatusUpgradeRequired, "upgrade_required")
	require.Equal(t, "websocket", res.header.Get("Upgrade"))
	// An upgrade without the version or the key.
	res = e.do(t, request{method: "GET", path: events, header: map[string]string{"Connection": "Upgrade", "Upgrade": "websocket"}})
	requireProblem(t, res, http.StatusBadRequest, "validation_failed")
	require.Equal(t, "13", res.header.Get("Sec-WebSocket-Version"))
	res = e.do(t, request{method: "GET", path: events, header: map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}})
	requireProblem(t, res, http.StatusBadRequest, "validation_failed")
	// Another site's page.
	res = e.do(t, request{method: "GET", path: events, header: map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": "https://evil.example"}})
	requireProblem(t, res, http.StatusForbidden, "forbidden")
	// A LIVE id that is not text.
	requireRefusedField(t, e.do(t, request{method: "GET", path: "/v1/lives/%00/events"}), "path.id")

	// Unknown routes and wrong methods.
	requireProblem(t, e.do(t, request{method: "GET", path: "/v1/nope"}), http.StatusNotFound, "not_found")
	requireProblem(t, e.do(t, request{method: "GET", path: "/v1/%00"}), http.StatusNotFound, "not_found")
	res = e.do(t, request{method: "DELETE", path: "/v1/me/wallet"})
	requireProblem(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
	require.NotEmpty(t, res.header.Get("Allow"))

	// A body over the limit, announced or streamed.
	big := `{"title":"` + strings.Repeat("a", testMaxBody) + `"}`
	requireProblem(t, e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: big}), http.StatusRequestEntityTooLarge, "payload_too_large")
	req, err := http.NewRequest(http.MethodPost, e.url+"/v1/users", io.MultiReader(strings.NewReader(big)))
	require.NoError(t, err)
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/json")
	hr, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(hr.Body)
	hr.Body.Close()
	require.NoError(t, err)
	requireProblem(t, &response{status: hr.StatusCode, header: hr.Header, body: b}, http.StatusRequestEntityTooLarge, "payload_too_large")
}

// TestOversizedHeaders checks the header limit. net/http answers 431 in
// text/plain before any handler runs, on the connection itself: no
// handler can make that answer problem+json.
func TestOversizedHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: e.handler, MaxHeaderBytes: 4 << 10, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/gifts HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 16<<10))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.StatusCode)
}

// TestRoomFramesAreText holds the room feed's frames to the bodies' rules:
// a chat text that is not one line of text is refused on that socket, a
// frame of invalid UTF-8 or with a member named twice closes it.
func TestRoomFramesAreText(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.MustOpen(t, store.SQLite))
	_, ayla := e.signUp(t, "ayla")
	_, sam := e.signUp(t, "sam")
	var l liveReply
	e.do(t, request{method: "POST", path: "/v1/lives", token: ayla, body: map[string]any{"title": "Hello"}}).json(t, &l)
	feed := e.watch(t, l.ID, http.Header{"Authorization": {"Bearer " + sam}})
	feed.next("state")
	ctx := context.Background()

	for _, text := range []string{`a\u0000b`, `two\nlines`, `\u202eevil`} {
		require.NoError(t, feed.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"chat","text":"`+text+`"}`)))
		ev := feed.next("error")
		require.Equal(t, "validation_failed", ev["code"], "%s", text)
		require.Contains(t, ev["detail"], "text must")
	}
	for _, frame := range []string{"{\"type\":\"chat\",\"text\":\"caf\xe9\"}", `{"type":"chat","text":"a","text":"b"}`} {
		f := e.watch(t, l.ID, http.Header{"Authorization": {"Bearer " + sam}})
		f.next("state")
		require.NoError(t, f.conn.Write(ctx, websocket.MessageBinary, []byte(frame)))
		require.Equal(t, websocket.StatusPolicyViolation, f.closed(), "%q", frame)
	}
}
