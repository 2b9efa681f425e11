package web

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryPageInTheTour keeps the browser tests' tour of every page
// (e2e/tests/pages.test.mjs: a phone and a desktop screenshot of each)
// complete: each GET page the web app registers is visited there, by a
// literal path its pattern matches or, for the paths the tour computes
// (a LIVE room's address), by the tour entries named below.
func TestEveryPageInTheTour(t *testing.T) {
	src, err := os.ReadFile("web.go")
	if err != nil {
		t.Fatal(err)
	}
	tour, err := os.ReadFile("../../e2e/tests/pages.test.mjs")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`mux\.HandleFunc\("GET (/[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 20 {
		t.Fatalf("found %d GET routes in web.go: the pattern no longer reads it", len(routes))
	}
	// Tour entries: ['name', '/path'] or ['name', `${room}/summary`].
	entries := regexp.MustCompile("\\['([a-z0-9-]+)', (?:'([^']*)'|`([^`]*)`|([a-z]+))\\]").FindAllStringSubmatch(string(tour), -1)
	paths := map[string]bool{}
	names := map[string]bool{}
	for _, e := range entries {
		names[e[1]] = true
		if e[2] != "" {
			paths[e[2]] = true
		}
	}
	computed := map[string]string{ // patterns the tour reaches by a computed path
		"/live/{id}":         "live-room",
		"/live/{id}/summary": "live-summary",
		"/shoutouts/{id}":    "shoutout-delivered",
	}
	notPages := map[string]bool{"/favicon.ico": true, "/studio/supporters.csv": true, // files to save, not pages
		"/ops/verify/status": true} // JSON for a script
	for _, r := range routes {
		pattern := strings.TrimSuffix(r[1], "{$}")
		if notPages[pattern] {
			continue
		}
		if name, ok := computed[pattern]; ok {
			if !names[name] {
				t.Errorf("GET %s: the tour has no entry %q", pattern, name)
			}
			continue
		}
		re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[a-z]+\\\}`).ReplaceAllString(regexp.QuoteMeta(pattern), `[^/]+`) + "$")
		found := false
		for p := range paths {
			if re.MatchString(p) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("GET %s is not in the tour of every page (e2e/tests/pages.test.mjs): add it, with its screenshots", pattern)
		}
	}
}
