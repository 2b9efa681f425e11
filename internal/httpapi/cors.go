package httpapi

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
)

// Cross-origin calls (CORS). A host's web client served from another
// origin calls the API from the browser with a session token or the API
// key in Authorization. The browser asks first (a preflight: OPTIONS with
// Origin and Access-Control-Request-Method) and lets the page read an
// answer only when it names the page's origin. The operator lists the
// origins allowed, exactly (Options.CORSOrigins): there is no wildcard.
//
// Credentials are never allowed (no Access-Control-Allow-Credentials), so
// a page of a listed origin cannot act with the session cookie: the
// cookie's own cross-origin check (requestActor) stays as it is, and a
// browser does not let the page read an answer to a request that carried
// the cookie.

// corsMaxAge is how long a browser may keep a preflight's answer. It is
// also how long a removed origin may still send requests a preflight
// admitted (their answers, which no longer name it, stay unreadable).
const corsMaxAge = 10 * time.Minute

// corsAllowHeaders are the request headers the API reads that a page must
// ask leave to send.
const corsAllowHeaders = "Authorization, Content-Type, Idempotency-Key, X-Request-Id"

// corsExposeHeaders are the answers' headers a page may read beyond those
// a browser always shows it (Content-Type among them).
const corsExposeHeaders = "Allow, Idempotent-Replayed, Retry-After, WWW-Authenticate, X-Request-Id"

// cors answers the cross-origin calls of the listed origins. A nil *cors
// (no origin listed) answers none and changes nothing.
type cors struct {
	origins map[string]bool
	methods string // the API's methods, "DELETE, GET, PATCH, POST, PUT"
}

// newCORS returns the CORS policy of origins (nil when there are none);
// methods are the methods the API routes. It panics on an origin
// ParseOrigins would refuse.
func newCORS(origins []string, methods []string) *cors {
	if len(origins) == 0 {
		return nil
	}
	c := &cors{origins: map[string]bool{}, methods: strings.Join(methods, ", ")}
	for _, o := range origins {
		norm, err := parseOrigin(o)
		if err != nil {
			panic("httpapi: Options.CORSOrigins: " + err.Error())
		}
		c.origins[norm] = true
	}
	return c
}

// apiMethods returns the methods of the routes under /v1/, sorted.
func apiMethods(c contract) []string {
	set := map[string]bool{}
	for route := range c {
		method, path, _ := strings.Cut(route, " ")
		if strings.HasPrefix(path, "/v1/") {
			set[method] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// applies reports whether r is under the policy: CORS is configured and
// r is a call of the /v1/ API.
func (c *cors) applies(r *http.Request) bool {
	return c != nil && strings.HasPrefix(r.URL.Path, "/v1/")
}

// isPreflight reports whether r is a browser's preflight.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// allowed reports whether r comes from a page of a listed origin.
func (c *cors) allowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o != "" && c.origins[o]
}

// annotate sets the headers of every answer under the policy: Vary:
// Origin, since the answer depends on it, and for a listed origin the
// origin itself and the headers its page may read.
func (c *cors) annotate(h http.Header, r *http.Request) {
	h.Add("Vary", "Origin")
	if c.allowed(r) {
		h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	}
}

// preflight answers a preflight: 204 with what a listed origin may send,
// whatever the path (the actual request then gets the API's own answer,
// 404 or 405 included, which the page can read); 403 forbidden, without
// any leave, to an origin not listed.
func (c *cors) preflight(w http.ResponseWriter, r *http.Request) {
	if !c.allowed(r) {
		writeProblem(w, newProblem(http.StatusForbidden, fanfare.EForbidden,
			fmt.Sprintf("pages of the origin %q may not call this API: it is not one of the server's allowed origins", r.Header.Get("Origin"))))
		return
	}
	h := w.Header()
	h.Del("Access-Control-Expose-Headers") // for actual requests only
	h.Set("Access-Control-Allow-Methods", c.methods)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", strconv.Itoa(int(corsMaxAge/time.Second)))
	w.WriteHeader(http.StatusNoContent)
}

// ParseOrigins parses a comma-separated list of web origins
// ("https://host.example, http://localhost:3000"): each a scheme, http or
// https, and a host with an optional port, as browsers send them in
// Origin. A default port (:443 for https, :80 for http) and a final slash
// are dropped and the origin is lowercased, so that it compares with what
// browsers send; a path, query, user or wildcard ("*") is refused.
func ParseOrigins(list string) ([]string, error) {
	var out []string
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		o, err := parseOrigin(item)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out, nil
}

// parseOrigin checks and normalizes one origin (see ParseOrigins).
func parseOrigin(s string) (string, error) {
	if strings.Contains(s, "*") {
		return "", fmt.Errorf("%q: name each origin exactly; a wildcard is not allowed", s)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an origin such as https://app.example.com", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(s, "#") {
		return "", fmt.Errorf("%q is not an origin: name the scheme and host only, such as https://app.example.com, without a path", s)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("%q is not an origin such as https://app.example.com", s)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
		}
		port = strconv.Itoa(n)
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}
