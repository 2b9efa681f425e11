package web

import (
	"cmp"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
)

// homePage is the landing page of a logged-out visitor.
type homePage struct {
	Layout
	// Subscriptions says the server offers LIVE Subscription.
	Subscriptions bool
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
	d := homePage{Layout: Layout{Title: "Support the creators you love", Nav: "home", CSRF: s.anonymousToken(w, r)},
		Subscriptions: s.subs != nil}
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

// signupPageData is the sign-up form, with what was typed so far and each
// field's problem.
type signupPageData struct {
	Layout
	Handle      string
	DisplayName string
	// Password is typed again into the form after a refusal, unless it
	// was the problem.
	Password    string
	Region      string
	BirthDate   string
	AccountType string
	Regions     []regionOption
	// Problems are the fields' problems, by field name.
	Problems map[string]string
	// Closed says that sign-up is switched off: the page says so.
	Closed bool
}

// signupClosed answers a sign-up page or form when password sign-up is
// switched off: 403, with a page that says so.
func (s *Server) signupClosed(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusForbidden, "signup", &signupPageData{
		Layout: Layout{Title: "Sign-up is closed", Nav: "signup"},
		Closed: true,
	})
}

// regionOption is a country or region of the sign-up form.
type regionOption struct{ Code, Name string }

// regionCode returns the code of the country typed into the region field:
// its ISO 3166-1 alpha-2 code or its name, in any case.
func regionCode(typed string) (string, bool) {
	typed = strings.TrimSpace(typed)
	for _, c := range countries {
		if strings.EqualFold(typed, c.Code) || strings.EqualFold(typed, c.Name) || strings.EqualFold(typed, c.Name+" ("+c.Code+")") {
			return c.Code, true
		}
	}
	return "", false
}

func (s *Server) signupPage(w http.ResponseWriter, r *http.Request) {
	if s.noSignUp {
		s.signupClosed(w, r)
		return
	}
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
		Regions:     countries,
	})
}

// signup creates the account, logs it in and opens the wallet. A refused
// form comes back with every field's problem at once.
func (s *Server) signup(w http.ResponseWriter, r *http.Request, _ *visitor) {
	if s.noSignUp {
		s.signupClosed(w, r)
		return
	}
	f := r.PostForm
	d := signupPageData{
		Layout:      Layout{Title: "Create your account", Nav: "signup"},
		Handle:      strings.TrimPrefix(strings.TrimSpace(f.Get("handle")), "@"),
		DisplayName: f.Get("display_name"),
		Region:      strings.TrimSpace(f.Get("region")),
		BirthDate:   strings.TrimSpace(f.Get("birth_date")),
		AccountType: f.Get("account_type"),
		Regions:     countries,
	}
	password := f.Get("password")
	err := formText(f)
	var in account.CreateInput
	if err == nil {
		region, known := regionCode(d.Region)
		in = account.CreateInput{
			Handle:      d.Handle,
			DisplayName: d.DisplayName,
			Password:    password,
			Region:      region,
			BirthDate:   d.BirthDate,
			AccountType: fanfare.AccountType(d.AccountType),
		}
		var taken bool
		if taken, err = s.signupProblems(r, &d, in, known); err == nil && d.Problems != nil {
			d.CSRF = s.anonymousToken(w, r)
			status := http.StatusUnprocessableEntity
			if taken && len(d.Problems) == 1 {
				status = http.StatusConflict
			}
			s.refuseSignup(w, r, &d, password, status)
			return
		}
	}
	if err == nil {
		err = s.guard.Attempt(r)
	}
	if err == nil {
		_, err = s.accounts.Create(r.Context(), in)
	}
	var sess *account.Session
	if err == nil {
		if sess, err = s.accounts.Login(r.Context(), in.Handle, password); err != nil && fanfare.ErrorCode(err) != fanfare.EInternal {
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
		status, limited := refusal(w, err)
		if !limited {
			status = statusOf(err)
		}
		msg := fieldNames.Replace(sentence(fanfare.ErrorMessage(err)))
		if fanfare.ErrorCode(err) == fanfare.EConflict {
			d.Problems = map[string]string{"handle": msg}
		} else {
			d.Error = msg
		}
		s.refuseSignup(w, r, &d, password, status)
		return
	}
	s.setSession(w, sess.Token, sess.ExpiresAt)
	http.Redirect(w, r, "/wallet?welcome=1", http.StatusSeeOther)
}

// signupProblems fills d.Problems with every field's problem: the
// accounts' rules, a region not in the list (known false) and a handle
// already taken (taken).
func (s *Server) signupProblems(r *http.Request, d *signupPageData, in account.CreateInput, known bool) (taken bool, err error) {
	problems := map[string]string{}
	for field, err := range account.Check(in, s.clock.Now()) {
		problems[field] = fieldNames.Replace(sentence(fanfare.ErrorMessage(err)))
	}
	if !known {
		if d.Region == "" {
			problems["region"] = "Choose your country or region from the list."
		} else {
			problems["region"] = "“" + truncateText(d.Region, 40) + "” is not a country or region of the list: choose one from the list, or type its two-letter code (FR, TR, AE…)."
		}
	}
	if _, bad := problems["handle"]; !bad {
		if h, err := account.NormalizeHandle(in.Handle); err == nil {
			_, err := s.accounts.ByHandle(r.Context(), h)
			switch fanfare.ErrorCode(err) {
			case "":
				problems["handle"] = "The handle @" + h + " is taken. Choose another one."
				taken = true
			case fanfare.ENotFound:
			default:
				return false, err
			}
		}
	}
	if len(problems) > 0 {
		d.Problems = problems
	}
	return taken, nil
}

// refuseSignup shows the sign-up form again with its problems: a summary
// at the top, each problem next to its field, and the password typed
// again unless it was one of them.
func (s *Server) refuseSignup(w http.ResponseWriter, r *http.Request, d *signupPageData, password string, status int) {
	if _, bad := d.Problems["password"]; !bad {
		d.Password = password
	}
	if n := len(d.Problems); n > 0 && d.Error == "" {
		if n == 1 {
			d.Error = "Your account was not created: one field needs a change. It is marked below."
		} else {
			d.Error = "Your account was not created: " + strconv.Itoa(n) + " fields need a change. They are marked below."
		}
	}
	s.render(w, r, status, "signup", d)
}

// truncateText shortens s to n characters for a message.
func truncateText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
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
