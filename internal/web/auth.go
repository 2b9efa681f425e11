package web

import (
	"cmp"
	"errors"
	"net/http"
	"strings"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
)

// homePage is the landing page of a logged-out visitor.
type homePage struct {
	Layout
}

// home sends a logged-in visitor to the wallet and shows anyone else what
// Fanfare is.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	v, err := s.visitor(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if v != nil {
		http.Redirect(w, r, "/wallet", http.StatusSeeOther)
		return
	}
	d := homePage{Layout: Layout{Title: "Support the creators you love", Nav: "home", CSRF: s.anonymousToken(w, r)}}
	if r.URL.Query().Has("bye") {
		d.Notice = "You are logged out. See you soon!"
	}
	s.render(w, r, http.StatusOK, "home", &d)
}

// loginPageData is the login form.
type loginPageData struct {
	Layout
	Handle string
	Next   string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.visitor(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	next := localPath(r.URL.Query().Get("next"))
	if v != nil {
		http.Redirect(w, r, cmp.Or(next, "/wallet"), http.StatusSeeOther)
		return
	}
	d := loginPageData{Layout: Layout{Title: "Log in", Nav: "login", CSRF: s.anonymousToken(w, r)}, Next: next}
	if next != "" {
		d.Notice = "Log in to continue."
	}
	s.render(w, r, http.StatusOK, "login", &d)
}

// login checks the handle and password, opens a session and stores its
// token in the session cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *visitor) {
	handle := strings.TrimSpace(r.PostForm.Get("handle"))
	next := localPath(r.PostForm.Get("next"))
	if err := formText(r.PostForm); err != nil {
		d := loginPageData{Layout: Layout{Title: "Log in", Nav: "login", CSRF: s.anonymousToken(w, r)}, Next: next}
		d.Error = sentence(fanfare.ErrorMessage(err))
		s.render(w, r, statusOf(err), "login", &d)
		return
	}
	sess, err := s.tryLogin(r, strings.TrimPrefix(handle, "@"), r.PostForm.Get("password"))
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EInternal {
			s.internalError(w, r, err)
			return
		}
		d := loginPageData{Layout: Layout{Title: "Log in", Nav: "login", CSRF: s.anonymousToken(w, r)}, Handle: handle, Next: next}
		status, limited := refusal(w, err)
		if limited {
			d.Error = sentence(fanfare.ErrorMessage(err))
		} else {
			status, d.Error = http.StatusUnauthorized, "Wrong handle or password. Check both and try again."
		}
		s.render(w, r, status, "login", &d)
		return
	}
	s.setSession(w, sess.Token, sess.ExpiresAt)
	http.Redirect(w, r, cmp.Or(next, "/wallet"), http.StatusSeeOther)
}

// tryLogin logs in through the guard: the attempt counts against the
// visitor's address, and a failure against the handle.
func (s *Server) tryLogin(r *http.Request, handle, password string) (*account.Session, error) {
	if err := s.guard.Attempt(r); err != nil {
		return nil, err
	}
	done, err := s.guard.Login(handle)
	if err != nil {
		return nil, err
	}
	sess, err := s.accounts.Login(r.Context(), handle, password)
	done(err)
	return sess, err
}

// refusal returns the status of a log-in or sign-up refused for now (too
// many attempts, or the server too busy checking passwords) and sets its
// Retry-After header; limited is false for any other error.
func refusal(w http.ResponseWriter, err error) (status int, limited bool) {
	switch fanfare.ErrorCode(err) {
	case fanfare.ERateLimited:
		status = http.StatusTooManyRequests
	case fanfare.EUnavailable:
		status = http.StatusServiceUnavailable
	default:
		return 0, false
	}
	if fe, ok := errors.AsType[*fanfare.Error](err); ok && fe.RetryAfter > 0 {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(fe.RetryAfter))
	}
	return status, true
}

// signupPageData is the sign-up form, with what was typed so far.
type signupPageData struct {
	Layout
	Handle      string
	DisplayName string
	Region      string
	BirthDate   string
	AccountType string
	Regions     []regionOption
}

// regionOption is a suggestion of the region field.
type regionOption struct{ Code, Name string }

// suggestedRegions are offered first in the region field; any ISO 3166-1
// alpha-2 code is accepted.
var suggestedRegions = []regionOption{
	{"FR", "France"}, {"TR", "Türkiye"}, {"AE", "United Arab Emirates"}, {"US", "United States"},
	{"GB", "United Kingdom"}, {"DE", "Germany"}, {"ES", "Spain"}, {"IT", "Italy"}, {"NL", "Netherlands"},
	{"BE", "Belgium"}, {"CH", "Switzerland"}, {"SA", "Saudi Arabia"}, {"EG", "Egypt"}, {"MA", "Morocco"},
	{"CA", "Canada"}, {"BR", "Brazil"}, {"IN", "India"}, {"JP", "Japan"},
}

func (s *Server) signupPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.visitor(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if v != nil {
		http.Redirect(w, r, "/wallet", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "signup", &signupPageData{
		Layout:      Layout{Title: "Create your account", Nav: "signup", CSRF: s.anonymousToken(w, r)},
		AccountType: string(fanfare.AccountPersonal),
		Regions:     suggestedRegions,
	})
}

// signup creates the account, logs it in and opens the wallet.
func (s *Server) signup(w http.ResponseWriter, r *http.Request, _ *visitor) {
	f := r.PostForm
	d := signupPageData{
		Layout:      Layout{Title: "Create your account", Nav: "signup"},
		Handle:      strings.TrimPrefix(strings.TrimSpace(f.Get("handle")), "@"),
		DisplayName: f.Get("display_name"),
		Region:      strings.TrimSpace(f.Get("region")),
		BirthDate:   strings.TrimSpace(f.Get("birth_date")),
		AccountType: f.Get("account_type"),
		Regions:     suggestedRegions,
	}
	password := f.Get("password")
	err := formText(f)
	if err == nil {
		err = s.guard.Attempt(r)
	}
	if err == nil {
		_, err = s.accounts.Create(r.Context(), account.CreateInput{
			Handle:      d.Handle,
			DisplayName: d.DisplayName,
			Password:    password,
			Region:      d.Region,
			BirthDate:   d.BirthDate,
			AccountType: fanfare.AccountType(d.AccountType),
		})
	}
	var sess *account.Session
	if err == nil {
		if sess, err = s.accounts.Login(r.Context(), d.Handle, password); err != nil && fanfare.ErrorCode(err) != fanfare.EInternal {
			// The account exists; only the log-in was refused for now
			// (the server busy checking passwords).
			s.toLogin(w, r, "/wallet?welcome=1")
			return
		}
	}
	if err != nil {
		if fanfare.ErrorCode(err) == fanfare.EInternal {
			s.internalError(w, r, err)
			return
		}
		d.CSRF = s.anonymousToken(w, r)
		d.Error = fieldNames.Replace(sentence(fanfare.ErrorMessage(err)))
		status, limited := refusal(w, err)
		if !limited {
			status = statusOf(err)
		}
		s.render(w, r, status, "signup", &d)
		return
	}
	s.setSession(w, sess.Token, sess.ExpiresAt)
	http.Redirect(w, r, "/wallet?welcome=1", http.StatusSeeOther)
}

// fieldNames turns the services' field names into words.
var fieldNames = strings.NewReplacer(
	"Birth_date", "Birth date", "birth_date", "birth date",
	"Display_name", "Display name", "display_name", "display name",
	"Account_type", "Account type", "account_type", "account type",
)

// logout ends the session and forgets its cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, v *visitor) {
	if err := s.accounts.Logout(r.Context(), v.Token); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.clearSession(w)
	http.Redirect(w, r, "/?bye=1", http.StatusSeeOther)
}
