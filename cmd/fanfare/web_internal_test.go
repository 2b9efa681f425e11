package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fanfarehq/fanfare/internal/store"
	"github.com/fanfarehq/fanfare/internal/store/storetest"
)

// TestMainServesWebApp checks that one listener serves the pages and the
// API, and that the demo's fan can log in through the form.
func TestMainServesWebApp(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			m := mustRunMain(t, storetest.URL(t, d))
			if err := seedDemo(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar}
			get := func(path string) (*http.Response, string) {
				t.Helper()
				res, err := c.Get(m.URL() + path)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res, string(b)
			}

			res, body := get("/")
			if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "Support the creators you love") {
				t.Fatalf("GET / = %d %s, want the home page", res.StatusCode, res.Header.Get("Content-Type"))
			}
			if res, _ := get("/readyz"); res.StatusCode != http.StatusOK {
				t.Fatalf("GET /readyz = %d, want 200", res.StatusCode)
			}

			_, body = get("/login")
			token := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
			if token == nil {
				t.Fatal("the login form has no csrf_token")
			}
			res, err := c.PostForm(m.URL()+"/login", url.Values{"csrf_token": {token[1]}, "handle": {"sam"}, "password": {DemoPassword}})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/wallet" || !bytes.Contains(b, []byte(`data-testid="balance">27,000<`)) {
				t.Fatalf("logging in as sam ends at %s (%d), want the wallet with 27,000 coins", res.Request.URL, res.StatusCode)
			}
			// The API takes the same session cookie.
			if res, body := get("/v1/me/wallet"); res.StatusCode != http.StatusOK || !strings.Contains(body, `"coins":27000`) {
				t.Fatalf("GET /v1/me/wallet with the page's cookie = %d %s", res.StatusCode, body)
			}
			// sam subscribes to ayla: her posts page shows him her photo,
			// which the API serves him with the same cookie.
			res, body = get("/creators/ayla/posts")
			media := regexp.MustCompile(`<img class="post-media" src="(/v1/posts/[^"/]+/media)"`).FindStringSubmatch(body)
			if res.StatusCode != http.StatusOK || !strings.Contains(body, "Sunset over the Bosphorus") || media == nil {
				t.Fatalf("GET /creators/ayla/posts = %d, want ayla's posts with her photo:\n%s", res.StatusCode, body)
			}
			if res, _ := get(media[1]); res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" {
				t.Fatalf("GET %s = %d %s, want the photo", media[1], res.StatusCode, res.Header.Get("Content-Type"))
			}
		})
	}
}

func TestDemoBannerNamesTheWebApp(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, storetest.URL(t, store.SQLite))
	var out bytes.Buffer
	printDemo(&out, m)
	for _, want := range []string{"Web app: open " + m.URL() + "/", "log in as sam / fanfare-demo", m.URL() + "/creators/ayla/posts", "/studio/emotes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo banner lacks %q:\n%s", want, out.String())
		}
	}
}
