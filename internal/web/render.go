package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/fanfarehq/fanfare"
)

//go:embed templates static
var files embed.FS

// assetVersion is a digest of the static files, appended to their URLs so
// that browsers may cache them for long and still see a new build at once.
var assetVersion = func() string {
	h := sha256.New()
	var names []string
	fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		b, _ := files.ReadFile(n)
		fmt.Fprintf(h, "%s:%d:", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// staticHandler serves the embedded static files under /static/.
func staticHandler() http.Handler {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err)
	}
	fsrv := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == assetVersion {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		fsrv.ServeHTTP(w, r)
	})
}

// favicon answers the browsers that ask for /favicon.ico with the icon.
func favicon(w http.ResponseWriter, r *http.Request) {
	b, err := files.ReadFile("static/favicon.svg")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(b)
}

var funcs = template.FuncMap{
	"asset": func(name string) string { return "/static/" + name + "?v=" + assetVersion },
	"coins": formatCoins,
	"signed": func(n fanfare.Amount) string {
		return formatSigned(n)
	},
	"money":       formatMoney,
	"moneyPrefix": moneyPrefix,
	"signedMoney": formatSignedMoney,
	"when":        formatTime,
	"machineTime": machineTime,
	"unit":        unitName,
	"negative":    func(n fanfare.Amount) bool { return n < 0 },
	"count":       func(n int64) string { return formatCoins(fanfare.Amount(n)) },
	"duration":    durationName,
	"giftIcon":    giftIcon,
	"giftIcons":   func() string { return strings.Join(giftSymbols, " ") },
	"day":         dayName,
	"inc":         func(n int) int { return n + 1 },
	"sub":         func(a, b int) int { return a - b },
	"lower":       strings.ToLower,
	"hasPrefix":   strings.HasPrefix,
	"subscribeForm": func(o *subscribeOffer, csrf string) subscribeFormData {
		return subscribeFormData{Offer: o, CSRF: csrf}
	},
}

// templates holds one parsed template set per page, each the layout, the
// parts several pages share (templates/parts) and the page's own file.
type templates struct {
	byName map[string]*template.Template
}

func parseTemplates() *templates {
	t := &templates{byName: map[string]*template.Template{}}
	pages, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, p := range pages {
		name := strings.TrimSuffix(path.Base(p), ".html")
		if name == "layout" {
			continue
		}
		t.byName[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/parts/*.html", p))
	}
	return t
}

// Layout is what every page shows around its content: the title, the
// navigation with the visitor's handle and balance, and a message.
type Layout struct {
	Title   string
	Nav     string // the current section: home, live, wallet, settings, login, signup
	Visitor *visitor
	// CSRF is the anti-forgery token of the page's forms.
	CSRF string
	// Currency is the currency of the visitor's fiat values.
	Currency string
	Notice   string // a success message
	Error    string // a failure message
	// Reasons list, under Error, each rule that refused the request (an
	// eligibility refusal).
	Reasons []fanfare.Reason
	// Demo shows the demo world's logins on the home and login pages.
	Demo bool
	// SignUpClosed hides the links to the sign-up page: password sign-up
	// is switched off (the host app creates the users).
	SignUpClosed bool
}

// page is the data of a page: a struct that embeds Layout.
type page interface{ layout() *Layout }

func (l *Layout) layout() *Layout { return l }

// render executes page with data into a buffer and writes it with status,
// so a template failure becomes a clean error page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data page) {
	data.layout().Demo = s.demo
	data.layout().SignUpClosed = s.noSignUp
	t, ok := s.pages.byName[name]
	if !ok {
		s.internalError(w, r, fmt.Errorf("no template %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		if name == "error" {
			// The error page itself failed: plain text is all that is left.
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		s.internalError(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPageData is the error page.
type errorPageData struct {
	Layout
	Status  int
	Heading string
	Message string
}

// errorPage renders a page that explains a failure. The visitor is looked
// up again so the navigation stays right; a failure there is ignored.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	v, _ := s.visitor(r)
	d := errorPageData{Layout: Layout{Title: heading, Visitor: v}, Status: status, Heading: heading, Message: message}
	if v != nil {
		d.CSRF = s.sessionToken(v)
	}
	s.render(w, r, status, "error", &d)
}

// forbidden answers 403 with a readable reason.
func (s *Server) forbidden(w http.ResponseWriter, r *http.Request, message string) {
	s.errorPage(w, r, http.StatusForbidden, "Request refused", message)
}

// notFound answers 404 for any path the app does not know.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
}

// internalError logs err and answers 500 without its details.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "web page failed", "method", r.Method, "path", r.URL.Path, "err", err)
	s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
		"Something went wrong on our side. Please try again in a moment.")
}

// statusOf is the HTTP status of a page that shows a service's error.
func statusOf(err error) int {
	switch fanfare.ErrorCode(err) {
	case fanfare.EInvalid, fanfare.EIdempotencyKeyRequired:
		return http.StatusUnprocessableEntity
	case fanfare.EUnauthorized:
		return http.StatusUnauthorized
	case fanfare.EPaymentDeclined:
		return http.StatusPaymentRequired
	case fanfare.EForbidden, fanfare.ENotEligible, fanfare.ERegionBlocked, fanfare.ESubscribersOnly:
		return http.StatusForbidden
	case fanfare.ENotFound:
		return http.StatusNotFound
	case fanfare.EConflict, fanfare.EIdempotencyConflict, fanfare.EInvalidState, fanfare.EDeadlinePassed,
		fanfare.EInsufficientFunds, fanfare.EWalletFrozen, fanfare.ESpendLimit, fanfare.EPaused, fanfare.ECapacityFull:
		return http.StatusConflict
	case fanfare.EPurchaseLimit, fanfare.ERateLimited:
		return http.StatusTooManyRequests
	case fanfare.EUnavailable:
		return http.StatusServiceUnavailable
	case fanfare.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case fanfare.EUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusInternalServerError
}

// sentence makes a service message read as a sentence: a capital first
// letter and a final period.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + moneyInText(msg[1:])
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") && !strings.HasSuffix(msg, "!") {
		msg += "."
	}
	return msg
}
