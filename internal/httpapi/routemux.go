package httpapi

import (
	"net/http"
	"strings"
)

// externalPrefix is where the host app's users are addressed by its own
// ids (PUT and GET /v1/admin/users/by-external-id/{external_id}).
const externalPrefix = "/v1/admin/users/by-external-id/"

// routeMux is the server's router: an http.ServeMux, with the routes under
// externalPrefix kept in a second one. net/http refuses to hold both
// "PUT /v1/admin/users/by-external-id/{external_id}" and
// "PUT /v1/admin/users/{id}/payout-hold": a request to
// /v1/admin/users/by-external-id/payout-hold matches both and neither
// pattern is more specific. Fanfare's rule is that a path under
// externalPrefix with one more segment is the host identity's route (a
// user's id is never "by-external-id"); anything else is routed as usual.
type routeMux struct {
	main, external *http.ServeMux
}

func newRouteMux() *routeMux {
	return &routeMux{main: http.NewServeMux(), external: http.NewServeMux()}
}

// HandleFunc registers handler for pattern (huma's adapter calls it).
func (m *routeMux) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(handler))
}

// Handle registers h for pattern.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	if _, path, _ := strings.Cut(pattern, " "); strings.HasPrefix(path, externalPrefix) {
		m.external.Handle(pattern, h)
		return
	}
	m.main.Handle(pattern, h)
}

// Handler returns the handler r is routed to and its pattern, as
// http.ServeMux.Handler does.
func (m *routeMux) Handler(r *http.Request) (http.Handler, string) {
	if strings.HasPrefix(r.URL.Path, externalPrefix) && !strings.Contains(r.URL.Path[len(externalPrefix):], "/") {
		if h, pattern := m.external.Handler(r); pattern != "" {
			return h, pattern
		}
	}
	return m.main.Handler(r)
}

// ServeHTTP routes r.
func (m *routeMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, externalPrefix) && !strings.Contains(r.URL.Path[len(externalPrefix):], "/") {
		if _, pattern := m.external.Handler(r); pattern != "" {
			m.external.ServeHTTP(w, r)
			return
		}
	}
	m.main.ServeHTTP(w, r)
}
