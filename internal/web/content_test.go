package web_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/content"
	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
	"github.com/fanfarehq/fanfare/internal/subscription"
)

// field is one text field of an upload form, in the order it is sent.
type field struct{ name, value string }

// upload sends an upload form as a browser does: the text fields in order,
// then the file part fileField (empty data and filename: no file chosen).
func (b *browser) upload(path string, fields []field, fileField, filename string, data []byte) *page {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		require.NoError(b.t, mw.WriteField(f.name, f.value))
	}
	if fileField != "" {
		fw, err := mw.CreateFormFile(fileField, filename)
		require.NoError(b.t, err)
		_, err = fw.Write(data)
		require.NoError(b.t, err)
	}
	require.NoError(b.t, mw.Close())
	req, err := http.NewRequest("POST", b.app.url+path, &buf)
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	return &page{status: res.StatusCode, header: res.Header, body: string(raw), location: res.Header.Get("Location"), path: path}
}

// csrf returns the anti-forgery token of the page's form posting to action.
func (p *page) csrf(t *testing.T, action string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<form method="post" action="` + regexp.QuoteMeta(action) + `"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)">`).FindStringSubmatch(p.body)
	require.NotNil(t, m, "page %s has no form posting to %s", p.path, action)
	return m[1]
}

// pngImage is a w×h PNG of one colour.
func pngImage(t *testing.T, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// blobFiles counts the files in the app's blob store (not the attributes
// the file driver keeps beside each).
func (a *app) blobFiles(t *testing.T) int {
	t.Helper()
	n := 0
	require.NoError(t, filepath.WalkDir(a.blobDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasSuffix(path, ".attrs") {
			n++
		}
		return err
	}))
	return n
}

// emoteURLs are the emote images a page shows.
func emoteURLs(p *page) []string {
	return regexp.MustCompile(`src="(/v1/emotes/[^"/]+/image)"`).FindAllString(p.body, -1)
}

func TestEmoteEditor(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		ctx := context.Background()
		ayla := a.browser(t)
		ayla.logIn("ayla")

		// The studio and the plan editor lead to the editor.
		require.Contains(t, ayla.get("/studio").body, `href="/studio/emotes"`)
		require.Contains(t, ayla.get("/studio/monetization").body, `href="/studio/emotes"`)
		p := ayla.get("/studio/emotes")
		require.Equal(t, http.StatusOK, p.status, p.text())
		p.requireText(t, "Your emotes", "Emotes (0 of 50)", "No emotes yet.", "Add an emote", "PNG (animated too), GIF or WebP, at most 256 KiB.")
		require.NotContains(t, p.body, `data-testid="emote-reasons"`)
		token := p.csrf(t, "/studio/emotes")

		// An upload adds the emote: its image, its :name: and a delete button.
		heart := pngImage(t, 32, 32, color.RGBA{R: 230, G: 40, B: 90, A: 255})
		p = ayla.upload("/studio/emotes", []field{{"csrf_token", token}, {"name", "aylaheart"}}, "image", "heart.png", heart)
		require.Equal(t, http.StatusSeeOther, p.status, p.text())
		p = ayla.follow(p)
		p.requireText(t, "Your emote :aylaheart: is added", "Emotes (1 of 50)", ":aylaheart:")
		emotes, err := a.content.Emotes(ctx, w.ayla.UserID)
		require.NoError(t, err)
		require.Len(t, emotes, 1)
		require.Equal(t, []string{`src="` + emotes[0].ImageURL() + `"`}, emoteURLs(p))
		require.Contains(t, p.body, `alt=":aylaheart:"`)
		require.True(t, p.hasForm("/studio/emotes/"+emotes[0].ID+"/delete"))
		img := ayla.get(emotes[0].ImageURL())
		require.Equal(t, http.StatusOK, img.status)
		require.Equal(t, "image/png", img.header.Get("Content-Type"))
		require.Equal(t, string(heart), img.body)
		files := a.blobFiles(t)
		require.Equal(t, 1, files)

		// Refusals show on the form, keep the name typed and store nothing.
		for _, c := range []struct {
			name, field, filename string
			data                  []byte
			status                int
			want                  string
		}{
			{"notimage", "image", "notes.txt", []byte("these are words, not an image\n"), http.StatusUnsupportedMediaType,
				"This file is not a PNG, GIF or WebP image."},
			{"toobig", "image", "big.png", append(pngImage(t, 4, 4, color.Black), make([]byte, content.MaxEmoteBytes)...), http.StatusRequestEntityTooLarge,
				"This image is larger than 256 KiB."},
			{"noimage", "image", "", nil, http.StatusUnprocessableEntity, "Choose the emote's image"},
			{"Ayla Wave", "name", "wave.png", heart, http.StatusUnprocessableEntity, "An emote's name is 2 to 32 characters of a-z, 0-9 and _."},
			{"aylaheart", "name", "again.png", heart, http.StatusConflict, `You have an emote named "aylaheart" already.`},
		} {
			p = ayla.upload("/studio/emotes", []field{{"csrf_token", token}, {"name", c.name}}, "image", c.filename, c.data)
			require.Equal(t, c.status, p.status, "%s: %s", c.name, p.text())
			p.requireText(t, "Your emote was not added, and nothing was stored.", c.want)
			require.Contains(t, p.body, `data-testid="emote-`+c.field+`-error"`, c.name)
			require.Contains(t, p.body, `value="`+strings.ReplaceAll(c.name, `"`, "&#34;")+`"`, "%s: the name field keeps what was typed", c.name)
			require.Equal(t, files, a.blobFiles(t), "%s: a refused emote leaves no file", c.name)
		}
		emotes, err = a.content.Emotes(ctx, w.ayla.UserID)
		require.NoError(t, err)
		require.Len(t, emotes, 1, "refused emotes store nothing")

		// A file far too large to read through is refused at once.
		p = ayla.upload("/studio/emotes", []field{{"csrf_token", token}, {"name", "huge"}}, "image", "huge.png", append(pngImage(t, 4, 4, color.Black), make([]byte, 9<<20)...))
		require.Equal(t, http.StatusRequestEntityTooLarge, p.status, p.text())
		p.requireText(t, "That file is too large for this form (256 KiB at most), so it was not stored.")
		require.Equal(t, files, a.blobFiles(t))

		// Without its anti-forgery token, the form changes nothing.
		p = ayla.upload("/studio/emotes", []field{{"name", "aylawave"}}, "image", "wave.png", heart)
		require.Equal(t, http.StatusForbidden, p.status, p.text())
		require.Equal(t, files, a.blobFiles(t))

		// The delete button deletes the emote and its image.
		p = ayla.post("/studio/emotes/"+emotes[0].ID+"/delete", ayla.get("/studio/emotes").form(t, "/studio/emotes/"+emotes[0].ID+"/delete", 0))
		require.Equal(t, http.StatusSeeOther, p.status, p.text())
		p = ayla.follow(p)
		p.requireText(t, "The emote is deleted", "No emotes yet.")
		emotes, err = a.content.Emotes(ctx, w.ayla.UserID)
		require.NoError(t, err)
		require.Empty(t, emotes)
		require.Zero(t, a.blobFiles(t))
		p = ayla.post("/studio/emotes/nope/delete", url2form(token))
		require.Equal(t, http.StatusNotFound, p.status)

		// brandco (a business) reads why, and has no form; a form sent
		// anyway is refused and stores nothing.
		brandco := a.browser(t)
		brandco.logIn("brandco")
		p = brandco.get("/studio/emotes")
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "Fans cannot subscribe to you yet, so you cannot add emotes:")
		require.Contains(t, p.body, `data-testid="emote-reasons"`)
		require.Contains(t, p.body, `data-testid="emote-reason-account_type"`)
		require.False(t, p.hasForm("/studio/emotes"))
		p = brandco.upload("/studio/emotes", []field{{"csrf_token", brandco.get("/wallet").form(t, "/wallet/buy", 0).Get("csrf_token")}, {"name", "brandlogo"}}, "image", "logo.png", heart)
		require.Equal(t, http.StatusForbidden, p.status, p.text())
		p.requireText(t, "Your emote was not added, and nothing was stored: you cannot add emotes until fans can subscribe to you.")
		require.Zero(t, a.blobFiles(t))

		// Logged out, the editor leads to the login page.
		p = a.browser(t).do("GET", "/studio/emotes", nil)
		require.Equal(t, http.StatusSeeOther, p.status)
		require.Equal(t, "/login?next=%2Fstudio%2Femotes", p.location)
	})
}

// url2form is a form holding only an anti-forgery token.
func url2form(token string) map[string][]string {
	return map[string][]string{"csrf_token": {token}}
}

// mediaURLs are the post media addresses a page names.
func mediaURLs(p *page) []string {
	return regexp.MustCompile(`/v1/posts/[^"/]+/media`).FindAllString(p.body, -1)
}

func TestPosts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		w := a.seedWorld(t)
		ctx := context.Background()
		ayla := a.browser(t)
		ayla.logIn("ayla")

		require.Contains(t, ayla.get("/studio").body, `href="/studio/posts"`)
		require.Contains(t, ayla.get("/studio/monetization").body, `href="/studio/posts"`)
		p := ayla.get("/studio/posts")
		require.Equal(t, http.StatusOK, p.status, p.text())
		p.requireText(t, "Your posts", "Write a post", "No posts yet.", "at most 200 MB")
		token := p.csrf(t, "/studio/posts")

		// A text post with a teaser, sent without a file (a browser sends an
		// empty file part).
		p = ayla.upload("/studio/posts", []field{{"csrf_token", token}, {"text", "Thank you all for Sunday!\r\nHere is the set list."}, {"teaser", "What I played on Sunday"}}, "media", "", nil)
		require.Equal(t, http.StatusSeeOther, p.status, p.text())
		p = ayla.follow(p)
		p.requireText(t, "Your post is published", "What I played on Sunday", "Thank you all for Sunday! Here is the set list.")
		require.Contains(t, p.body, "Thank you all for Sunday!\nHere is the set list.")
		require.Zero(t, a.blobFiles(t))

		// A post with an image, and one with a video.
		photo := pngImage(t, 64, 48, color.RGBA{R: 20, G: 120, B: 220, A: 255})
		p = ayla.upload("/studio/posts", []field{{"csrf_token", token}, {"text", "Backstage in Istanbul"}, {"teaser", ""}}, "media", "backstage.png", photo)
		require.Equal(t, http.StatusSeeOther, p.status, p.text())
		video, err := os.ReadFile(filepath.Join("..", "blob", "testdata", "tiny.mp4"))
		require.NoError(t, err)
		p = ayla.upload("/studio/posts", []field{{"csrf_token", token}, {"text", "Warming up"}}, "media", "warmup.mp4", video)
		require.Equal(t, http.StatusSeeOther, p.status, p.text())
		require.Equal(t, 2, a.blobFiles(t))

		pg, err := a.content.Posts(ctx, w.ayla, w.ayla.UserID, "", 10)
		require.NoError(t, err)
		require.Len(t, pg.Posts, 3)
		vid, pic, text := pg.Posts[0], pg.Posts[1], pg.Posts[2]
		require.Equal(t, content.Video, vid.Media.Kind)
		require.Equal(t, content.Image, pic.Media.Kind)
		require.Nil(t, text.Media)

		// The studio lists them, media shown, each with a delete button.
		p = ayla.get("/studio/posts")
		require.ElementsMatch(t, []string{content.MediaURL(vid.ID), content.MediaURL(pic.ID)}, mediaURLs(p))
		require.Contains(t, p.body, `<img class="post-media" src="`+content.MediaURL(pic.ID)+`"`)
		require.Contains(t, p.body, `<video class="post-media" controls preload="metadata" playsinline src="`+content.MediaURL(vid.ID)+`"`)
		for _, post := range pg.Posts {
			require.True(t, p.hasForm("/studio/posts/"+post.ID+"/delete"))
		}

		// Refusals: the text is checked before the file is read; a file
		// that is not an image or a video is refused. Nothing is stored.
		for _, c := range []struct {
			text, teaser, filename string
			data                   []byte
			status                 int
			field, want            string
		}{
			{"   ", "", "a.png", photo, http.StatusUnprocessableEntity, "text", "Text must be 1 to 2000 characters, got 0."},
			{"Hello", strings.Repeat("t", content.MaxTeaser+1), "a.png", photo, http.StatusUnprocessableEntity, "teaser", "Teaser must be at most 140 characters, got 141."},
			{"Hello", "", "notes.txt", []byte("plain words\n"), http.StatusUnsupportedMediaType, "media", "This file is neither an image (PNG, JPEG, GIF, WebP) nor a video"},
		} {
			p = ayla.upload("/studio/posts", []field{{"csrf_token", token}, {"text", c.text}, {"teaser", c.teaser}}, "media", c.filename, c.data)
			require.Equal(t, c.status, p.status, "%q: %s", c.text, p.text())
			p.requireText(t, "Your post was not published, and nothing was stored.", c.want)
			require.Contains(t, p.body, `data-testid="post-`+c.field+`-error"`)
			require.Equal(t, 2, a.blobFiles(t), "a refused post leaves no file")
		}
		p = ayla.upload("/studio/posts", []field{{"csrf_token", token}, {"text", "Keep me"}}, "media", "notes.txt", []byte("plain words\n"))
		require.Contains(t, p.body, ">Keep me</textarea>", "the form keeps what was typed")
		pg, err = a.content.Posts(ctx, w.ayla, w.ayla.UserID, "", 10)
		require.NoError(t, err)
		require.Len(t, pg.Posts, 3)

		// sam does not subscribe: the feed shows the teasers, locked, with
		// the Subscribe link, and never the text or a media address.
		sam := a.browser(t)
		sam.logIn("sam")
		p = sam.get("/creators/ayla/posts")
		require.Equal(t, http.StatusOK, p.status, p.text())
		p.requireText(t, "Posts", "@ayla's posts are for their subscribers.", "What I played on Sunday", "A post for @ayla's subscribers.",
			"With a photo.", "With a video.")
		require.Equal(t, 3, strings.Count(p.body, `<a class="button small primary" href="/creators/ayla/subscribe" data-testid="post-subscribe">Subscribe</a>`))
		require.Equal(t, 3, strings.Count(p.body, `#lock"></use>`)-1, "a lock on each post (and one on the notice)")
		for _, secret := range []string{"Thank you all for Sunday", "Backstage in Istanbul", "Warming up"} {
			require.NotContains(t, p.body, secret)
		}
		require.Empty(t, mediaURLs(p))
		// Nor may he open the media.
		m := sam.get(content.MediaURL(pic.ID))
		require.Equal(t, http.StatusForbidden, m.status)
		require.Contains(t, m.body, `"subscribers_only"`)
		// The profile shows the newest posts, locked, and leads to them all.
		p = sam.get("/creators/ayla")
		p.requireText(t, "Posts", "See all posts", "What I played on Sunday")
		require.Contains(t, p.body, `href="/creators/ayla/posts"`)
		require.NotContains(t, p.body, "Backstage in Istanbul")
		require.Empty(t, mediaURLs(p))
		// Logged out, the same.
		anon := a.browser(t)
		p = anon.get("/creators/ayla/posts")
		require.Equal(t, http.StatusOK, p.status)
		p.requireText(t, "What I played on Sunday")
		require.NotContains(t, p.body, "Backstage in Istanbul")
		require.Empty(t, mediaURLs(p))
		require.Equal(t, http.StatusForbidden, anon.get(content.MediaURL(vid.ID)).status)

		// Once sam subscribes, he reads the text and sees the media.
		plan := a.offerPlan(t, w.ayla)
		_, err = a.subs.Subscribe(ctx, w.sam, w.ayla.UserID, subscription.SubscribeInput{Tier: plan.Tiers[0].ID}, "sub-sam-posts")
		require.NoError(t, err)
		p = sam.get("/creators/ayla/posts")
		p.requireText(t, "What I played on Sunday", "Thank you all for Sunday! Here is the set list.", "Backstage in Istanbul", "Warming up")
		require.NotContains(t, p.body, `data-testid="post-subscribe"`)
		require.NotContains(t, p.body, `data-testid="posts-locked"`)
		require.ElementsMatch(t, []string{content.MediaURL(vid.ID), content.MediaURL(pic.ID)}, mediaURLs(p))
		m = sam.get(content.MediaURL(pic.ID))
		require.Equal(t, http.StatusOK, m.status)
		require.Equal(t, string(photo), m.body)
		p = sam.get("/creators/ayla")
		p.requireText(t, "Backstage in Istanbul", "See all posts")

		// The creator reads her own feed, and deletes a post with its media.
		p = ayla.get("/creators/ayla/posts")
		p.requireText(t, "These are your posts as your subscribers read them", "Backstage in Istanbul")
		p = ayla.post("/studio/posts/"+pic.ID+"/delete", ayla.get("/studio/posts").form(t, "/studio/posts/"+pic.ID+"/delete", 0))
		require.Equal(t, http.StatusSeeOther, p.status, p.text())
		ayla.follow(p).requireText(t, "The post is deleted, with its media.")
		require.Equal(t, 1, a.blobFiles(t))
		require.Equal(t, http.StatusNotFound, sam.get(content.MediaURL(pic.ID)).status)
		// Nobody else deletes it.
		p = sam.post("/studio/posts/"+vid.ID+"/delete", url2form(sam.get("/wallet").form(t, "/wallet/buy", 0).Get("csrf_token")))
		require.Equal(t, http.StatusNotFound, p.status)
		require.Equal(t, 1, a.blobFiles(t))

		// brandco reads why it cannot post.
		brandco := a.browser(t)
		brandco.logIn("brandco")
		p = brandco.get("/studio/posts")
		p.requireText(t, "Fans cannot subscribe to you yet, so you cannot post:")
		require.False(t, p.hasForm("/studio/posts"))
		p = brandco.upload("/studio/posts", []field{{"csrf_token", brandco.get("/wallet").form(t, "/wallet/buy", 0).Get("csrf_token")}, {"text", "Our drop"}}, "media", "a.png", photo)
		require.Equal(t, http.StatusForbidden, p.status, p.text())
		p.requireText(t, "you cannot post until fans can subscribe to you.")
		require.Equal(t, 1, a.blobFiles(t))
		// A profile without posts shows no Posts section to visitors.
		require.NotContains(t, sam.get("/creators/brandco").body, `data-testid="profile-posts"`)
	})
}

func TestPostMediaLimit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newAppWith(t, db, appOptions{postMaxMedia: 1_000})
		w := a.seedWorld(t)
		ayla := a.browser(t)
		ayla.logIn("ayla")
		p := ayla.get("/studio/posts")
		p.requireText(t, "at most 1,000 bytes")
		require.Contains(t, p.body, `data-max-bytes="1000"`)
		big := append(pngImage(t, 4, 4, color.Black), make([]byte, 2_000)...)
		p = ayla.upload("/studio/posts", []field{{"csrf_token", p.csrf(t, "/studio/posts")}, {"text", "Too big a photo"}}, "media", "big.png", big)
		require.Equal(t, http.StatusRequestEntityTooLarge, p.status, p.text())
		p.requireText(t, "Your post was not published, and nothing was stored.", "This file is larger than 1,000 bytes. Choose a smaller one, or post without it.")
		require.Contains(t, p.body, ">Too big a photo</textarea>")
		pg, err := a.content.Posts(context.Background(), w.ayla, w.ayla.UserID, "", 10)
		require.NoError(t, err)
		require.Empty(t, pg.Posts)
		require.Zero(t, a.blobFiles(t))
	})
}
