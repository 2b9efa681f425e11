package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
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
			Type:   "http",
			Scheme: "bearer",
			Description: "A session token from POST /v1/auth/login or POST /v1/admin/users/{id}/sessions, or a JWT of the host app " +
				"(when FANFARE_JWT_SECRET or FANFARE_JWT_JWKS_URL is set; its `sub` is the user's external id): `Authorization: Bearer <token>`.",
		},
		schemeCookie: {
			Type:        "apiKey",
			In:          "cookie",
			Name:        SessionCookie,
			Description: "The same session token, in the web app's cookie. Unsafe methods must come from the same origin.",
		},
		schemeAPIKey: {
			Type:   "http",
			Scheme: "bearer",
			Description: "An API key: `Authorization: Bearer <key>`. A stored key (`ffk_<id>_<secret>`, created with POST /v1/admin/api-keys) " +
				"is either an operator key, tied to a named person, or a host app key, limited to its scopes: a route a host key may call " +
				"names the scope it needs in this requirement (" + strings.Join(fanfare.Scopes, ", ") + "); every other operator route refuses host keys (403 forbidden). " +
				"FANFARE_API_KEY is the bootstrap operator key, recorded as `apikey:operator`: use it to create the first keys.",
		},
		schemeMetrics: {
			Type:        "http",
			Scheme:      "bearer",
			Description: "The metrics token (FANFARE_METRICS_TOKEN), for /metrics on the main listener: `Authorization: Bearer <token>`.",
		},
	}
}

// security returns the OpenAPI security requirement of a; scope, on an
// operator route, is the scope a host key needs to call it.
func (a access) security(scope string) []map[string][]string {
	session := map[string][]string{schemeSession: {}}
	cookie := map[string][]string{schemeCookie: {}}
	key := map[string][]string{schemeAPIKey: {}}
	if scope != "" {
		key = map[string][]string{schemeAPIKey: {scope}}
	}
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
		scope, _ := hc.Operation().Metadata[scopeKey].(string)
		err = need.allows(actor, scope)
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

// actor authenticates a request: the bootstrap API key acts as the
// operator, a stored key as itself (an operator key as the operator, a
// host key within its scopes), a session token or a host JWT as its user
// (operator if the user's role is operator).
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
	if !fromCookie && account.IsKeySecret(tok) {
		k, err := s.accounts.AuthenticateKey(r.Context(), tok)
		if err != nil {
			return fanfare.Actor{}, err
		}
		return k.Actor(), nil
	}
	if fromCookie {
		// A browser sends cookies with cross-site requests too: refuse
		// unsafe ones that another origin made.
		if err := s.cop.Check(r); err != nil {
			return fanfare.Actor{}, fanfare.Errorf(fanfare.EForbidden, "cross-origin request refused")
		}
	}
	var u *fanfare.User
	if !fromCookie && s.hostTokens != nil && strings.Count(tok, ".") == 2 {
		u, err = s.hostUser(r.Context(), tok)
	} else {
		u, err = s.accounts.Authenticate(r.Context(), tok)
	}
	if err != nil {
		return fanfare.Actor{}, err
	}
	role := fanfare.RoleFan
	if u.Role == fanfare.RoleOperator {
		role = fanfare.RoleOperator
	}
	return fanfare.Actor{UserID: u.ID, Handle: u.Handle, Role: role}, nil
}

// hostUser returns the user a host JWT names by its subject, the user's
// external id. The host must have created the user first (PUT
// /v1/admin/users/by-external-id/{external_id}).
//
// Codes: unauthorized.
func (s *Server) hostUser(ctx context.Context, tok string) (*fanfare.User, error) {
	sub, err := s.hostTokens.Subject(ctx, tok)
	if err != nil {
		return nil, err
	}
	u, err := s.accounts.ByExternalID(ctx, sub)
	switch fanfare.ErrorCode(err) {
	case "":
		return u, nil
	case fanfare.ENotFound, fanfare.EInvalid:
		return nil, fanfare.Errorf(fanfare.EUnauthorized, "host token refused: no user has the external id of its subject (sub); "+
			"create the user first with PUT /v1/admin/users/by-external-id/{external_id}")
	}
	return nil, err
}

// allows reports a forbidden error unless actor may call an operation that
// needs a. scope is what a host key needs on an operator route; a host key
// may call no operator route without one, nor any route acting for the
// parties to an object.
func (a access) allows(actor fanfare.Actor, scope string) error {
	if actor.IsHostKey() {
		switch {
		case a == user:
			return fanfare.Errorf(fanfare.EForbidden, "this route acts for a logged-in user; an API key is not one")
		case a == operator && scope != "" && !actor.Has(scope):
			return fanfare.Errorf(fanfare.EForbidden, "this route needs the scope %s, which this host key (%s) lacks", scope, actor.KeyName)
		case a == operator && scope != "":
			return nil
		case a == operator || a == party || a == apiKey:
			return fanfare.Errorf(fanfare.EForbidden, "this route is for operators; a host key may not call it")
		}
		return nil
	}
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
			huma.WriteErr(s.api, hc, http.StatusInternalServerError, "", err) // with its Retry-After
			return
		}
	}
	next(hc)
}
