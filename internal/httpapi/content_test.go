package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// subscribers is who subscribes to whom, as the subscription domain would
// tell it.
type subscribers struct {
	mu     sync.Mutex
	active map[[2]string]bool
}

func newSubscribers() *subscribers { return &subscribers{active: map[[2]string]bool{}} }

func (m *subscribers) Membership(_ context.Context, fanID, creatorID string) (fanfare.Membership, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.active[[2]string{fanID, creatorID}] {
		return fanfare.Membership{Active: true, Months: 1, Badge: 1}, nil
	}
	return fanfare.Membership{}, nil
}

func (m *subscribers) set(fanID, creatorID string, active bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.active[[2]string{fanID, creatorID}] = active
}

// testPNG is a real w×h PNG.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x * 16), uint8(y * 16), 128, 255})
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// testGIF is a real one-frame GIF.
func testGIF(t *testing.T) []byte {
	t.Helper()
	p := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White})
	p.SetColorIndex(1, 1, 1)
	var b bytes.Buffer
	require.NoError(t, gif.Encode(&b, p, nil))
	return b.Bytes()
}

// testWebP is a real WebP (internal/content/testdata/README.md says how it
// was made).
func testWebP(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "content", "testdata", "tiny.webp"))
	require.NoError(t, err)
	return b
}

func postEmote(token, name string, img []byte, contentType string) request {
	return request{method: "POST", path: "/v1/me/emotes?name=" + name, token: token, body: img,
		header: map[string]string{"Content-Type": contentType}}
}

type emoteReply struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ImageURL    string `json:"image_url"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// contentWorld is ayla, who may offer LIVE Subscription (TR, 250,000
// followers), brandco (a business account) and sam, a fan.
func contentWorld(t *testing.T, e *env) (aylaID, ayla, samID, sam, brand string) {
	t.Helper()
	aylaID, ayla = e.creatorWith(t, "ayla", "TR", 250_000, "", "")
	_, brand = e.creatorWith(t, "brandco", "TR", 500_000, "", "business")
	samID, sam = e.signUp(t, "sam")
	return aylaID, ayla, samID, sam, brand
}

func TestEmoteRoutes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		aylaID, ayla, _, sam, brand := contentWorld(t, e)
		img := testPNG(t, 16, 16)

		var hype emoteReply
		res := e.do(t, postEmote(ayla, "hype", img, "image/png"))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		res.json(t, &hype)
		require.Equal(t, "hype", hype.Name)
		require.Equal(t, "image/png", hype.ContentType)
		require.Equal(t, "/v1/emotes/"+hype.ID+"/image", hype.ImageURL)
		// The type comes from the content, whatever the header says.
		for name, body := range map[string][]byte{"dance": testGIF(t), "wave": testWebP(t)} {
			res := e.do(t, postEmote(ayla, name, body, "application/octet-stream"))
			require.Equal(t, http.StatusCreated, res.status, "%s: %s", name, res.body)
		}
		var list struct{ Emotes []emoteReply }
		for _, ref := range []string{"ayla", aylaID} {
			res := e.do(t, request{method: "GET", path: "/v1/creators/" + ref + "/emotes"})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			res.json(t, &list)
			require.Len(t, list.Emotes, 3)
		}
		types := map[string]string{}
		for _, em := range list.Emotes {
			types[em.Name] = em.ContentType
		}
		require.Equal(t, map[string]string{"hype": "image/png", "dance": "image/gif", "wave": "image/webp"}, types)

		// The image: public, cached for good, validated.
		res = e.do(t, request{method: "GET", path: hype.ImageURL})
		require.Equal(t, http.StatusOK, res.status)
		require.Equal(t, img, res.body)
		require.Equal(t, "image/png", res.header.Get("Content-Type"))
		require.Equal(t, "nosniff", res.header.Get("X-Content-Type-Options"))
		require.Equal(t, "public, max-age=31536000, immutable", res.header.Get("Cache-Control"))
		require.NotEmpty(t, res.header.Get("Last-Modified"))
		etag := res.header.Get("ETag")
		require.NotEmpty(t, etag)
		res = e.do(t, request{method: "GET", path: hype.ImageURL, header: map[string]string{"If-None-Match": etag}})
		require.Equal(t, http.StatusNotModified, res.status)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/emotes/nope/image"}), 404, "not_found")

		// Refusals, each keeping nothing.
		files := e.blobFiles(t)
		require.Len(t, files, 6, "three images and their attributes")
		before := e.snapshot(t)
		for _, name := range []string{"x", "Hype", "hy%20pe", "%3Ahype%3A", strings.Repeat("a", 33), ""} {
			requireProblem(t, e.do(t, postEmote(ayla, name, img, "image/png")), 400, "validation_failed")
		}
		requireProblem(t, e.do(t, request{method: "POST", path: "/v1/me/emotes", token: ayla, body: img}), 400, "validation_failed")
		requireProblem(t, e.do(t, postEmote(ayla, "hype", img, "image/png")), 409, "conflict")
		big := append(testPNG(t, 8, 8), make([]byte, 256<<10)...)
		p := requireProblem(t, e.do(t, postEmote(ayla, "big", big, "image/png")), 413, "payload_too_large")
		require.Contains(t, p.Detail, "256 KiB")
		p = requireProblem(t, e.do(t, postEmote(ayla, "text", []byte("a text file named x.png, sent as image/png\n"), "image/png")), 415, "unsupported_media_type")
		require.Contains(t, p.Detail, "text/plain")
		requireProblem(t, e.do(t, postEmote(ayla, "clip", testVideo(t, "tiny.mp4"), "image/png")), 415, "unsupported_media_type")
		p = requireProblem(t, e.do(t, postEmote(brand, "logo", img, "image/png")), 403, "not_eligible")
		require.Equal(t, "account_type", p.Reasons[0].Code, "the brand is told why: %+v", p.Reasons)
		p = requireProblem(t, e.do(t, postEmote(sam, "fan", img, "image/png")), 403, "not_eligible")
		require.Equal(t, "followers", p.Reasons[0].Code)
		requireProblem(t, e.do(t, postEmote(testAPIKey, "ops", img, "image/png")), 403, "forbidden")
		requireProblem(t, e.do(t, postEmote("", "anon", img, "image/png")), 401, "unauthorized")
		require.Equal(t, files, e.blobFiles(t), "a refused upload keeps nothing")
		require.Equal(t, before, e.snapshot(t))

		// The 51st emote.
		for i := 3; i < 50; i++ {
			res := e.do(t, postEmote(ayla, fmt.Sprintf("e%02d", i), img, "image/png"))
			require.Equal(t, http.StatusCreated, res.status, "%d: %s", i, res.body)
		}
		files = e.blobFiles(t)
		requireProblem(t, e.do(t, postEmote(ayla, "fifty_one", img, "image/png")), 409, "capacity_full")
		require.Equal(t, files, e.blobFiles(t))

		// Deleting: the creator's own only.
		requireProblem(t, e.do(t, request{method: "DELETE", path: "/v1/me/emotes/" + hype.ID, token: brand}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "DELETE", path: "/v1/me/emotes/" + hype.ID, token: testAPIKey}), 403, "forbidden")
		res = e.do(t, request{method: "DELETE", path: "/v1/me/emotes/" + hype.ID, token: ayla})
		require.Equal(t, http.StatusNoContent, res.status, "%s", res.body)
		requireProblem(t, e.do(t, request{method: "DELETE", path: "/v1/me/emotes/" + hype.ID, token: ayla}), 404, "not_found")
		res = e.do(t, request{method: "GET", path: hype.ImageURL})
		requireProblem(t, res, 404, "not_found")
		require.NotContains(t, res.header.Get("Cache-Control"), "immutable", "a refusal is not cached for good")
		require.Len(t, e.blobFiles(t), len(files)-2, "the image went with its emote")
		res = e.do(t, postEmote(ayla, "hype", testGIF(t), "image/gif"))
		require.Equal(t, http.StatusCreated, res.status, "the place and the name are free: %s", res.body)
	})
}

type postReply struct {
	ID        string `json:"id"`
	Creator   string `json:"creator"`
	Locked    bool   `json:"locked"`
	Text      string `json:"text"`
	Teaser    string `json:"teaser"`
	MediaKind string `json:"media_kind"`
	MediaURL  string `json:"media_url"`
	MediaType string `json:"media_type"`
	MediaSize int64  `json:"media_size"`
}

// postForm is a multipart post: its fields in order, then the media
// (nil: none).
func postForm(t *testing.T, token string, fields [][2]string, media []byte) request {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range fields {
		require.NoError(t, w.WriteField(f[0], f[1]))
	}
	if media != nil {
		part, err := w.CreateFormFile("media", "upload.png")
		require.NoError(t, err)
		_, err = part.Write(media)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return request{method: "POST", path: "/v1/me/posts", token: token, body: b.Bytes(),
		header: map[string]string{"Content-Type": w.FormDataContentType()}}
}

func TestPostRoutes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		subs := newSubscribers()
		e := newEnvConfig(t, db, envConfig{members: subs, maxPostMedia: 64 << 10})
		aylaID, ayla, samID, sam, brand := contentWorld(t, e)
		img, mp4 := testPNG(t, 32, 32), testVideo(t, "tiny.mp4")

		var text, photo, clip postReply
		res := e.do(t, request{method: "POST", path: "/v1/me/posts", token: ayla, body: map[string]any{"text": "Secret setlist:\n1. Intro", "teaser": "Tonight's setlist"}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		res.json(t, &text)
		require.Equal(t, "none", text.MediaKind)
		require.Equal(t, "Secret setlist:\n1. Intro", text.Text)
		res = e.do(t, postForm(t, ayla, [][2]string{{"text", "The new stage, first photo."}, {"teaser", "A first look"}}, img))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		res.json(t, &photo)
		require.Equal(t, "image", photo.MediaKind)
		require.Equal(t, "image/png", photo.MediaType)
		require.Equal(t, "/v1/posts/"+photo.ID+"/media", photo.MediaURL)
		require.False(t, photo.Locked)
		res = e.do(t, postForm(t, ayla, [][2]string{{"text", "Rehearsal clip."}}, mp4))
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		res.json(t, &clip)
		require.Equal(t, "video", clip.MediaKind)
		require.Equal(t, "video/mp4", clip.MediaType)
		require.EqualValues(t, len(mp4), clip.MediaSize)

		// Someone without a subscription, logged in or not, sees locked
		// teasers and no media.
		for _, tok := range []string{sam, brand, ""} {
			res := e.do(t, request{method: "GET", path: "/v1/creators/ayla/posts", token: tok})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			for _, secret := range []string{"Secret setlist", "first photo", "Rehearsal", "/media", `"text"`, "media_url"} {
				require.NotContains(t, string(res.body), secret, "a locked post shows only its teaser")
			}
			var pg struct {
				Posts  []postReply
				Locked bool
			}
			res.json(t, &pg)
			require.True(t, pg.Locked)
			require.Len(t, pg.Posts, 3)
			require.Equal(t, []string{clip.ID, photo.ID, text.ID}, []string{pg.Posts[0].ID, pg.Posts[1].ID, pg.Posts[2].ID}, "newest first")
			require.True(t, pg.Posts[1].Locked)
			require.Equal(t, "A first look", pg.Posts[1].Teaser)
			require.Equal(t, "image", pg.Posts[1].MediaKind)
			require.Equal(t, "video", pg.Posts[0].MediaKind)
			for _, url := range []string{photo.MediaURL, clip.MediaURL} {
				requireProblem(t, e.do(t, request{method: "GET", path: url, token: tok}), 403, "subscribers_only")
			}
		}

		// A subscriber, the creator and the operator open them.
		subs.set(samID, aylaID, true)
		for _, tok := range []string{sam, ayla, testAPIKey} {
			var pg struct {
				Posts  []postReply
				Locked bool
			}
			res := e.do(t, request{method: "GET", path: "/v1/creators/" + aylaID + "/posts", token: tok})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			res.json(t, &pg)
			require.False(t, pg.Locked)
			require.Equal(t, "The new stage, first photo.", pg.Posts[1].Text)
			require.Equal(t, photo.MediaURL, pg.Posts[1].MediaURL)
			res = e.do(t, request{method: "GET", path: photo.MediaURL, token: tok})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			require.Equal(t, img, res.body)
			require.Equal(t, "image/png", res.header.Get("Content-Type"))
			require.Equal(t, "private", res.header.Get("Cache-Control"))
		}
		res = e.do(t, request{method: "GET", path: clip.MediaURL, token: sam, header: map[string]string{"Range": "bytes=0-99"}})
		require.Equal(t, http.StatusPartialContent, res.status)
		require.Equal(t, mp4[:100], res.body)
		require.Equal(t, fmt.Sprintf("bytes 0-99/%d", len(mp4)), res.header.Get("Content-Range"))
		res = e.do(t, request{method: "GET", path: clip.MediaURL, token: sam, header: map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(mp4)+1)}})
		requireProblem(t, res, http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable")
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/posts/" + text.ID + "/media", token: sam}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/posts/nope/media", token: sam}), 404, "not_found")
		subs.set(samID, aylaID, false)
		requireProblem(t, e.do(t, request{method: "GET", path: photo.MediaURL, token: sam}), 403, "subscribers_only")

		// Pages.
		var pg struct {
			Posts      []postReply
			NextCursor string `json:"next_cursor"`
		}
		e.do(t, request{method: "GET", path: "/v1/creators/ayla/posts?limit=2"}).json(t, &pg)
		require.Len(t, pg.Posts, 2)
		require.NotEmpty(t, pg.NextCursor)
		next := pg.NextCursor
		pg.NextCursor = ""
		e.do(t, request{method: "GET", path: "/v1/creators/ayla/posts?limit=2&cursor=" + next}).json(t, &pg)
		require.Len(t, pg.Posts, 1)
		require.Equal(t, text.ID, pg.Posts[0].ID)
		require.Empty(t, pg.NextCursor)
		requireProblem(t, e.do(t, request{method: "GET", path: "/v1/creators/nobody/posts"}), 404, "not_found")

		// Refusals, each keeping nothing.
		files := e.blobFiles(t)
		before := e.snapshot(t)
		for _, c := range []struct {
			req    request
			status int
			code   string
		}{
			{postForm(t, ayla, [][2]string{{"text", strings.Repeat("x", 2001)}}, img), 400, "validation_failed"},
			{postForm(t, ayla, [][2]string{{"text", "ok"}, {"teaser", strings.Repeat("t", 141)}}, img), 400, "validation_failed"},
			{postForm(t, ayla, [][2]string{{"teaser", "no text"}}, img), 400, "validation_failed"},
			{postForm(t, ayla, [][2]string{{"text", "ok"}, {"title", "?"}}, img), 400, "validation_failed"},
			{postForm(t, ayla, [][2]string{{"text", "ok"}, {"text", "twice"}}, nil), 400, "validation_failed"},
			{postForm(t, ayla, [][2]string{{"text", "A text file."}}, []byte("a text file named x.png\n")), 415, "unsupported_media_type"},
			{postForm(t, ayla, [][2]string{{"text", "Too big."}}, append(append([]byte{}, mp4...), make([]byte, 64<<10)...)), 413, "payload_too_large"},
			{postForm(t, brand, [][2]string{{"text", "Buy now."}}, img), 403, "not_eligible"},
			{postForm(t, sam, [][2]string{{"text", "Hi."}}, nil), 403, "not_eligible"},
			{postForm(t, testAPIKey, [][2]string{{"text", "Hi."}}, nil), 403, "forbidden"},
			{request{method: "POST", path: "/v1/me/posts", token: ayla, body: map[string]any{"text": ""}}, 400, "validation_failed"},
			{request{method: "POST", path: "/v1/me/posts", token: ayla, body: map[string]any{"text": "ok", "media": "x"}}, 400, "validation_failed"},
			{request{method: "POST", path: "/v1/me/posts", token: ayla, body: `{"text":"ok","text":"twice"}`}, 400, "validation_failed"},
			{request{method: "POST", path: "/v1/me/posts", token: ayla, body: "text=ok", header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported_media_type"},
			{request{method: "POST", path: "/v1/me/posts", body: map[string]any{"text": "ok"}}, 401, "unauthorized"},
		} {
			p := requireProblem(t, e.do(t, c.req), c.status, c.code)
			if c.code == "not_eligible" && c.req.token == brand {
				require.Equal(t, "account_type", p.Reasons[0].Code)
			}
		}
		require.Equal(t, files, e.blobFiles(t), "a refused post keeps nothing")
		require.Equal(t, before, e.snapshot(t))

		// Deleting: the creator or the operator; the media goes with it.
		requireProblem(t, e.do(t, request{method: "DELETE", path: "/v1/posts/" + photo.ID, token: sam}), 403, "forbidden")
		requireProblem(t, e.do(t, request{method: "DELETE", path: "/v1/posts/" + photo.ID}), 401, "unauthorized")
		res = e.do(t, request{method: "DELETE", path: "/v1/posts/" + photo.ID, token: ayla})
		require.Equal(t, http.StatusNoContent, res.status, "%s", res.body)
		requireProblem(t, e.do(t, request{method: "GET", path: photo.MediaURL, token: ayla}), 404, "not_found")
		requireProblem(t, e.do(t, request{method: "DELETE", path: "/v1/posts/" + photo.ID, token: ayla}), 404, "not_found")
		require.Len(t, e.blobFiles(t), len(files)-2, "the media went with its post")
		res = e.do(t, request{method: "DELETE", path: "/v1/posts/" + clip.ID, token: testAPIKey})
		require.Equal(t, http.StatusNoContent, res.status, "%s", res.body)
		require.Empty(t, e.blobFiles(t))
	})
}
