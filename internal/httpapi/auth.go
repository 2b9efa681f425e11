package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
)

// SessionCookie is the cookie the web app keeps the session token in. It
// authenticates like the bearer token.
const SessionCookie = "fanfare_session"

// Security scheme names in the OpenAPI document.
const (
	schemeSession = "session"
	schemeCookie  = "sessionCookie"
	schemeAPIKey  = "apiKey"
	schemeMetrics = "metricsToken"
)

func securitySchemes() map[string]*huma.SecurityScheme {
	return map[string]*huma.SecurityScheme{
		schemeSession: {
			Type:        "http",
			Scheme:      "bearer",
			Description: "A session token from POST /v1/auth/login: `Authorization: Bearer <token>`.",
		},
		schemeCookie: {
			Type:        "apiKey",
			In:          "cookie",
			Name:        SessionCookie,
			Description: "The same session token, in the web app's cookie. Unsafe methods must come from the same origin.",
		},
		schemeAPIKey: {
			Type:        "http",
			Scheme:      "bearer",
			Description: "The host app and operator API key (FANFARE_API_KEY): `Authorization: Bearer <key>`.",
		},
		schemeMetrics: {
			Type:        "http",
			Scheme:      "bearer",
			Description: "The metrics token (FANFARE_METRICS_TOKEN), for /metrics on the main listener: `Authorization: Bearer <token>`.",
		},
	}
}

// security returns the OpenAPI security requirement of a.
func (a access) security() []map[string][]string {
	session := map[string][]string{schemeSession: {}}
	cookie := map[string][]string{schemeCookie: {}}
	key := map[string][]string{schemeAPIKey: {}}
	switch a {
	case user:
		return []map[string][]string{session, cookie}
	case operator, party:
		return []map[string][]string{key, session, cookie}
	case apiKey:
		return []map[string][]string{key}
	case optional:
		return []map[string][]string{{}, session, cookie}
	}
	return nil
}

// authenticate is the huma middleware that finds the actor of a request to
// an operation that needs one, checks that the actor may call it, and puts
// the actor in the context. Public operations ignore credentials.
func (s *Server) authenticate(hc huma.Context, next func(huma.Context)) {
	need, _ := hc.Operation().Metadata[accessKey].(access)
	if need == public {
		next(hc)
		return
	}
	if need == optional {
		if r, _ := humago.Unwrap(hc); r.Header.Get("Authorization") == "" {
			if c, err := r.Cookie(SessionCookie); err != nil || c.Value == "" {
				next(hc) // nobody logged in
				return
			}
		}
	}
	actor, err := s.actor(hc)
	if err == nil {
		err = need.allows(actor)
	}
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EUnauthorized {
			hc.SetHeader("WWW-Authenticate", `Bearer realm="fanfare"`)
		}
		huma.WriteErr(s.api, hc, http.StatusInternalServerError, "", err)
		return
	}
	if st := stateFrom(hc.Context()); st != nil {
		st.actor = actor.ID()
	}
	next(huma.WithContext(hc, fanfare.NewContextWithActor(hc.Context(), actor)))
}

// credential returns the token of a request: the bearer token, or else the
// session cookie.
func credential(r *http.Request) (token string, fromCookie bool, err error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", false, fanfare.Errorf(fanfare.EUnauthorized, "the Authorization header must read Bearer <token>")
		}
		return tok, false, nil
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return c.Value, true, nil
	}
	return "", false, fanfare.Errorf(fanfare.EUnauthorized, "authentication required: send Authorization: Bearer <token>")
}

// actor authenticates a request: the API key acts as operator, a session
// token as its user (operator if the user's role is operator).
func (s *Server) actor(hc huma.Context) (fanfare.Actor, error) {
	r, _ := humago.Unwrap(hc)
	return s.requestActor(r)
}

// requestActor authenticates r (see actor).
func (s *Server) requestActor(r *http.Request) (fanfare.Actor, error) {
	tok, fromCookie, err := credential(r)
	if err != nil {
		return fanfare.Actor{}, err
	}
	if !fromCookie && s.hasAPIKey {
		sum := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(sum[:], s.apiKey[:]) == 1 {
			return fanfare.Actor{Role: fanfare.RoleOperator}, nil
		}
	}
	if fromCookie {
		// A browser sends cookies with cross-site requests too: refuse
		// unsafe ones that another origin made.
		if err := s.cop.Check(r); err != nil {
			return fanfare.Actor{}, fanfare.Errorf(fanfare.EForbidden, "cross-origin request refused")
		}
	}
	u, err := s.accounts.Authenticate(r.Context(), tok)
	if err != nil {
		return fanfare.Actor{}, err
	}
	role := fanfare.RoleFan
	if u.Role == fanfare.RoleOperator {
		role = fanfare.RoleOperator
	}
	return fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: role}, nil
}

// allows reports a forbidden error unless actor may call an operation that
// needs a.
func (a access) allows(actor fanfare.Actor) error {
	switch a {
	case user:
		if actor.UserID == "" {
			return fanfare.Errorf(fanfare.EForbidden, "this route acts for a logged-in user; the API key is not one")
		}
	case operator:
		if !actor.IsOperator() {
			return fanfare.Errorf(fanfare.EForbidden, "this route is for operators")
		}
	case apiKey:
		if actor.UserID != "" || !actor.IsOperator() {
			return fanfare.Errorf(fanfare.EForbidden, "this route is for the host app's API key")
		}
	}
	return nil
}

// bearsAPIKey reports whether r carries the API key.
func (s *Server) bearsAPIKey(r *http.Request) bool {
	tok, fromCookie, err := credential(r)
	if err != nil || fromCookie || !s.hasAPIKey {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], s.apiKey[:]) == 1
}

// throttle is the middleware of log-in and sign-up: it counts the attempt
// against the client's address and answers 429 rate_limited, with
// Retry-After, once the address has tried too often. The host app's
// backend, which acts for many users from one address, is not counted when
// it sends the API key.
func (s *Server) throttle(hc huma.Context, next func(huma.Context)) {
	r, _ := humago.Unwrap(hc)
	if !s.bearsAPIKey(r) {
		if err := s.guard.Attempt(r); err != nil {
			if d := retryAfter(err); d > 0 {
				hc.SetHeader("Retry-After", ratelimit.RetryAfter(d))
			}
			huma.WriteErr(s.api, hc, http.StatusInternalServerError, "", err)
			return
		}
	}
	next(hc)
}

// retryAfter is how long err asks its client to wait; 0 when it does not.
func retryAfter(err error) time.Duration {
	if fe, ok := errors.AsType[*fanfare.Error](err); ok {
		return fe.RetryAfter
	}
	return 0
}

// withRetryAfter makes err's answer carry a Retry-After header when err
// says how long to wait.
func withRetryAfter(err error) error {
	if d := retryAfter(err); d > 0 {
		return huma.ErrorWithHeaders(err, http.Header{"Retry-After": {ratelimit.RetryAfter(d)}})
	}
	return err
}
