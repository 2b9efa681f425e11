package httpapi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

func testVideo(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "blob", "testdata", name))
	require.NoError(t, err)
	return b
}

// blobFiles lists the files in the env's blob store, temporary ones
// included.
func (e *env) blobFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(e.blobDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, path)
		}
		return err
	})
	require.NoError(t, err)
	return out
}

func putVideo(token, id string, body []byte, contentType string) request {
	return request{method: "PUT", path: "/v1/shoutouts/" + id + "/video", token: token, body: body,
		header: map[string]string{"Content-Type": contentType}}
}

// acceptedShoutout has sam ask ayla for a shoutout that ayla accepts.
func acceptedShoutout(t *testing.T, e *env, sam, ayla, key string) string {
	t.Helper()
	ask := shoutoutAsk("Lina")
	ask["private"] = true
	res := e.do(t, askShoutout(sam, "ayla", key, ask))
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	var s shoutoutReply
	res.json(t, &s)
	res = e.do(t, request{method: "POST", path: "/v1/shoutouts/" + s.ID + "/accept", token: ayla})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	return s.ID
}

// The whole delivery over HTTP: refused uploads keep nothing, the video
// arrives whole, the fan watches it with ranges, reviews it, disputes it,
// and the operator refunds.
func TestShoutoutVideo(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnvConfig(t, db, envConfig{maxVideo: 64 << 10})
		aylaID, ayla, _, sam := shoutoutWorld(t, e)
		_, omar := e.signUp(t, "omar")
		id := acceptedShoutout(t, e, sam, ayla, "v1")
		mp4 := testVideo(t, "tiny.mp4")

		// Refusals, each keeping nothing.
		before := e.snapshot(t)
		requireProblem(t, e.do(t, putVideo(sam, id, mp4, "video/mp4")), 403, "forbidden")
		requireProblem(t, e.do(t, putVideo(omar, id, mp4, "video/mp4")), 404, "not_found")
		requireProblem(t, e.do(t, putVideo("", id, mp4, "video/mp4")), 401, "unauthorized")
		requireProblem(t, e.do(t, putVideo(testAPIKey, id, mp4, "video/mp4")), 403, "forbidden")
		requireProblem(t, e.do(t, putVideo(ayla, "nope", mp4, "video/mp4")), 404, "not_found")
		png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 600)...)
		requireProblem(t, e.do(t, putVideo(ayla, id, png, "video/mp4")), 415, "unsupported_media_type")
		requireProblem(t, e.do(t, putVideo(ayla, id, []byte("not a video at all, whatever its name says"), "video/mp4")), 415, "unsupported_media_type")
		big := append(append([]byte{}, mp4...), bytes.Repeat([]byte{0}, 64<<10)...)
		requireProblem(t, e.do(t, putVideo(ayla, id, big, "video/mp4")), 413, "payload_too_large")
		// A body that stops short of its Content-Length.
		status := rawPut(t, e, ayla, id, mp4[:len(mp4)/2], len(mp4))
		require.NotEqual(t, http.StatusOK, status)
		require.Empty(t, e.blobFiles(t), "a refused upload keeps nothing")
		require.Equal(t, before, e.snapshot(t))
		var s shoutoutReply
		e.do(t, request{method: "GET", path: "/v1/shoutouts/" + id, token: sam}).json(t, &s)
		require.Equal(t, "accepted", s.State)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/shoutouts/" + id + "/video", token: sam}), 404, "not_found")

		// The delivery: the creator is paid at once.
		res := e.do(t, putVideo(ayla, id, mp4, "application/octet-stream"))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var d struct {
			State string
			Video struct {
				URL         string
				Size        int64
				ContentType string `json:"content_type"`
			}
		}
		res.json(t, &d)
		require.Equal(t, "delivered", d.State)
		require.Equal(t, "/v1/shoutouts/"+id+"/video", d.Video.URL)
		require.EqualValues(t, len(mp4), d.Video.Size)
		require.Equal(t, "video/mp4", d.Video.ContentType)
		require.EqualValues(t, 800, e.walletOf(t, ayla).Diamonds)
		require.Len(t, e.blobFiles(t), 2, "the video and its attributes (fileblob's .attrs)")
		requireProblem(t, e.do(t, putVideo(ayla, id, mp4, "video/mp4")), 409, "invalid_state")

		// Watching: the fan, the creator and the operator; ranges.
		for _, tok := range []string{sam, ayla, testAPIKey} {
			res := e.do(t, request{method: "GET", path: d.Video.URL, token: tok})
			require.Equal(t, http.StatusOK, res.status)
			require.Equal(t, mp4, res.body)
			require.Equal(t, "video/mp4", res.header.Get("Content-Type"))
			require.Equal(t, "bytes", res.header.Get("Accept-Ranges"))
			require.NotEmpty(t, res.header.Get("ETag"))
		}
		requireProblem(t, e.do(t, request{method: "GET", path: d.Video.URL, token: omar}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "GET", path: d.Video.URL}), 404, "not_found")
		res = e.do(t, request{method: "GET", path: d.Video.URL, token: sam, header: map[string]string{"Range": "bytes=0-99"}})
		require.Equal(t, http.StatusPartialContent, res.status)
		require.Equal(t, mp4[:100], res.body)
		require.Equal(t, fmt.Sprintf("bytes 0-99/%d", len(mp4)), res.header.Get("Content-Range"))
		res = e.do(t, request{method: "GET", path: d.Video.URL, token: sam, header: map[string]string{"Range": "bytes=-10"}})
		require.Equal(t, http.StatusPartialContent, res.status)
		require.Equal(t, mp4[len(mp4)-10:], res.body)
		res = e.do(t, request{method: "GET", path: d.Video.URL, token: sam, header: map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(mp4)+10)}})
		requireProblem(t, res, http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable")
		require.Equal(t, fmt.Sprintf("bytes */%d", len(mp4)), res.header.Get("Content-Range"))
		res = e.do(t, request{method: "GET", path: d.Video.URL + "?download=1", token: sam})
		require.Equal(t, http.StatusOK, res.status)
		require.Contains(t, res.header.Get("Content-Disposition"), "attachment")
		require.Contains(t, res.header.Get("Content-Disposition"), ".mp4")

		// Public: anyone may watch it from the creator's profile.
		res = e.do(t, request{method: "PUT", path: "/v1/shoutouts/" + id + "/public", token: sam, body: map[string]any{"public": true}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.Equal(t, http.StatusOK, e.do(t, request{method: "GET", path: d.Video.URL}).status)
		var vids struct {
			Videos []struct{ ID, Occasion string }
		}
		e.do(t, request{method: "GET", path: "/v1/creators/ayla/videos"}).json(t, &vids)
		require.Len(t, vids.Videos, 1)
		require.Equal(t, id, vids.Videos[0].ID)
		requireProblem(t, e.do(t, request{method: "PUT", path: "/v1/shoutouts/" + id + "/public", token: ayla, body: map[string]any{"public": false}}), 403, "forbidden")
		res = e.do(t, request{method: "PUT", path: "/v1/shoutouts/" + id + "/public", token: sam, body: map[string]any{"public": false}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		requireProblem(t, e.do(t, request{method: "GET", path: d.Video.URL}), 404, "not_found")

		// A review, edited; the creator's page shows it.
		res = e.do(t, request{method: "POST", path: "/v1/shoutouts/" + id + "/review", token: sam, body: map[string]any{"rating": 4, "text": "Lina cried!"}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res = e.do(t, request{method: "POST", path: "/v1/shoutouts/" + id + "/review", token: sam, body: map[string]any{"rating": 5, "text": "Lina cried! Thank you."}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/shoutouts/" + id + "/review", token: ayla, body: map[string]any{"rating": 1}}), 403, "forbidden")
		var rv struct {
			Average         float64
			Count           int
			TypicalDelivery *int64 `json:"typical_delivery_seconds"`
			Reviews         []struct {
				Fan, Text string
				Rating    int
			}
		}
		e.do(t, request{method: "GET", path: "/v1/creators/" + aylaID + "/reviews"}).json(t, &rv)
		require.Equal(t, 1, rv.Count)
		require.InDelta(t, 5.0, rv.Average, 0.001)
		require.Equal(t, "Lina cried! Thank you.", rv.Reviews[0].Text)
		require.NotNil(t, rv.TypicalDelivery)

		// A dispute, refunded by the operator: money moves back once.
		res = e.do(t, request{method: "POST", path: "/v1/shoutouts/" + id + "/dispute", token: sam, body: map[string]any{"reason": "The video is cut off."}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/admin/shoutouts/" + id + "/resolve", token: sam, body: map[string]any{"outcome": "refund"}}), 403, "forbidden")
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/admin/shoutouts/" + id + "/resolve", token: testAPIKey, body: map[string]any{"outcome": "maybe"}}), 400, "validation_failed")
		var q struct{ Requests []shoutoutReply }
		e.do(t, request{method: "GET", path: "/v1/admin/shoutouts?state=disputed", token: testAPIKey}).json(t, &q)
		require.Len(t, q.Requests, 1)
		res = e.do(t, request{method: "POST", path: "/v1/admin/shoutouts/" + id + "/resolve", token: testAPIKey, body: map[string]any{"outcome": "refund", "note": "Cut off at 0:03."}})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/admin/shoutouts/" + id + "/resolve", token: testAPIKey, body: map[string]any{"outcome": "refund"}}), 409, "invalid_state")
		require.EqualValues(t, 5000, e.walletOf(t, sam).Coins)
		require.EqualValues(t, 0, e.walletOf(t, ayla).Diamonds)
		e.requireVerified(t)
	})
}

// rawPut sends a PUT whose body stops short of the Content-Length it
// announces, then closes the connection, and returns the status answered
// (0 if none).
func rawPut(t *testing.T, e *env, token, id string, body []byte, length int) int {
	t.Helper()
	u, err := url.Parse(e.url)
	require.NoError(t, err)
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /v1/shoutouts/%s/video HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: video/mp4\r\nContent-Length: %d\r\n\r\n", id, u.Host, token, length)
	conn.Write(body)
	conn.(*net.TCPConn).CloseWrite()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}
