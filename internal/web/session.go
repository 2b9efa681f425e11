package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/wallet"
)

// csrfCookie holds the random value that anonymous forms (log in, sign up)
// are bound to: a double-submit cookie whose form field is its HMAC.
const csrfCookie = "fanfare_csrf"

// csrfField is the name of every form's anti-forgery field.
const csrfField = "csrf_token"

// visitor is a logged-in browser: its user, session token and wallet.
type visitor struct {
	User   *fanfare.User
	Token  string
	Wallet *wallet.Wallet
	// Studio and Monetization say whether the navigation links the studio
	// and the monetization page: see canQualify.
	Studio       bool
	Monetization bool
}

// actor is who the visitor acts as in the services.
func (v *visitor) actor() fanfare.Actor {
	role := fanfare.RoleFan
	if v.User.Role == fanfare.RoleOperator {
		role = fanfare.RoleOperator
	}
	return fanfare.Actor{UserID: v.User.ID, Handle: v.User.Handle, Role: role}
}

// visitor returns the logged-in visitor of r, or nil when its session
// cookie is missing, unknown or expired.
func (s *Server) visitor(r *http.Request) (*visitor, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	u, err := s.accounts.Authenticate(r.Context(), c.Value)
	if fanfare.ErrorCode(err) == fanfare.EUnauthorized {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	w, err := s.wallet.Wallet(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	v := &visitor{User: u, Token: c.Value, Wallet: w}
	if err := s.creatorLinks(r.Context(), v); err != nil {
		return nil, err
	}
	return v, nil
}

// handlerFunc is a page or form handler for a known visitor (nil when
// logged out, for the pages that allow it).
type handlerFunc func(w http.ResponseWriter, r *http.Request, v *visitor)

// userPage serves h to logged-in visitors and sends the others to the
// login page, to come back afterwards.
func (s *Server) userPage(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := s.visitor(r)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		if v == nil {
			s.toLogin(w, r, r.URL.RequestURI())
			return
		}
		h(w, r, v)
	}
}

// userForm checks a logged-in visitor's form: its anti-forgery token must
// be the one of the visitor's session. A form sent after the session ended
// changes nothing and leads to the login page.
func (s *Server) userForm(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		v, err := s.visitor(r)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		if v == nil {
			s.toLogin(w, r, "")
			return
		}
		if !s.checkToken(w, r, s.sessionToken(v)) {
			return
		}
		h(w, r, v)
	}
}

// anonymousForm checks a form that needs no session (log in, sign up): its
// anti-forgery token must match the visitor's csrf cookie.
func (s *Server) anonymousForm(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		want := ""
		if c, err := r.Cookie(csrfCookie); err == nil && validNonce(c.Value) {
			want = s.mac("anon", c.Value)
		}
		if !s.checkToken(w, r, want) {
			return
		}
		v, err := s.visitor(r)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		h(w, r, v)
	}
}

// parseForm reads a POST body, answering 413 or 400 when it cannot.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	err := r.ParseForm()
	if err == nil {
		return true
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, "Form too large", "That form was larger than this site accepts. Nothing was changed.")
		return false
	}
	s.errorPage(w, r, http.StatusBadRequest, "Unreadable form", "That form could not be read. Nothing was changed.")
	return false
}

// checkToken answers 403, changing nothing, unless the form's anti-forgery
// token equals want (and want is set).
func (s *Server) checkToken(w http.ResponseWriter, r *http.Request, want string) bool {
	got := r.PostForm.Get(csrfField)
	switch {
	case got == "":
		s.forbidden(w, r, "This form's security token (CSRF token) is missing, so it was refused. Nothing was changed. Reload the page and send the form again.")
		return false
	case want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1:
		s.forbidden(w, r, "This form's security token (CSRF token) is wrong or has expired, so it was refused. Nothing was changed. Reload the page and send the form again.")
		return false
	}
	return true
}

// sessionToken is the anti-forgery token of a logged-in visitor's forms:
// an HMAC of the session token, which another site can neither read nor
// compute.
func (s *Server) sessionToken(v *visitor) string { return s.mac("session", v.Token) }

// anonymousToken is the anti-forgery token of the forms shown to anyone:
// the HMAC of the visitor's csrf cookie, set here if missing.
func (s *Server) anonymousToken(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(csrfCookie)
	if err != nil || !validNonce(c.Value) {
		c = &http.Cookie{Name: csrfCookie, Value: newNonce(), Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode}
		http.SetCookie(w, c)
	}
	return s.mac("anon", c.Value)
}

// formToken is the token of the forms on a page for v (nil: logged out).
func (s *Server) formToken(w http.ResponseWriter, r *http.Request, v *visitor) string {
	if v != nil {
		return s.sessionToken(v)
	}
	return s.anonymousToken(w, r)
}

// mac returns the base64url HMAC-SHA256 of parts under the server's key.
func (s *Server) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// nonceBytes is the entropy of csrf cookies and per-form idempotency keys.
const nonceBytes = 16

// newNonce returns a random base64url string.
func newNonce() string {
	b := make([]byte, nonceBytes)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func validNonce(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == nonceBytes
}

// setSession stores a session token in the browser.
func (s *Server) setSession(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", Expires: expires,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// clearSession removes the session cookie.
func (s *Server) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// toLogin sends the browser to the login page, to come back to next.
func (s *Server) toLogin(w http.ResponseWriter, r *http.Request, next string) {
	target := "/login"
	if next = localPath(next); next != "" && next != "/" {
		target += "?next=" + url.QueryEscape(next)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath returns p if it is a path on this site, and "" otherwise, so a
// next= parameter cannot send a browser elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	return p
}
