package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/webhook"
)

// webhooksPageData is the operator's webhooks console: the endpoints and
// their states, a form to add one, and the delivery log of the endpoint
// chosen, with a replay button per attempt.
type webhooksPageData struct {
	Layout
	Endpoints []webhook.Endpoint
	// Types are the event types the add form offers.
	Types []string
	// Secret is a secret just made (creation or rotation), shown once,
	// for SecretFor.
	Secret, SecretFor string
	// Typed is what the add form held when it was refused.
	TypedURL, TypedDescription string
	TypedEvents                map[string]bool
	// Chosen is the endpoint whose log is shown (nil: none chosen).
	Chosen   *webhook.Endpoint
	Log      []webhook.Attempt
	NextLog  string
	Waiting  []webhook.Delivery
	Attempts int // attempts shown
}

func (s *Server) webhooksPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	d, status, err := s.webhooksData(r, v, r.URL.Query().Get("endpoint"), r.URL.Query().Get("cursor"))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "paused":
		d.Notice = "Paused the endpoint: its deliveries wait until you resume it."
	case "resumed":
		d.Notice = "Resumed the endpoint: what waited is being delivered."
	case "deleted":
		d.Notice = "Deleted the endpoint, its waiting deliveries and its log."
	case "replayed":
		d.Notice = "The event is due to the endpoint again now."
	}
	s.render(w, r, status, "ops_webhooks", d)
}

// webhooksData gathers the console, with the log of the endpoint id
// (empty: none) from cursor.
func (s *Server) webhooksData(r *http.Request, v *visitor, id, cursor string) (*webhooksPageData, int, error) {
	ctx := r.Context()
	d := &webhooksPageData{Layout: Layout{Title: "Webhooks", Nav: "ops-webhooks", Visitor: v, CSRF: s.sessionToken(v)},
		Types: webhook.EventTypes, TypedEvents: map[string]bool{}}
	var err error
	if d.Endpoints, err = s.webhooks.List(ctx); err != nil {
		return nil, 0, err
	}
	if id == "" {
		return d, http.StatusOK, nil
	}
	e, err := s.webhooks.Get(ctx, id)
	if fanfare.ErrorCode(err) == fanfare.ENotFound {
		d.Error = "No webhook endpoint has this id."
		return d, http.StatusNotFound, nil
	} else if err != nil {
		return nil, 0, err
	}
	d.Chosen = &e
	d.Log, d.NextLog, err = s.webhooks.Log(ctx, id, cursor, 50)
	if fanfare.ErrorCode(err) == fanfare.EInvalid {
		d.Log, d.NextLog, err = s.webhooks.Log(ctx, id, "", 50)
	}
	if err != nil {
		return nil, 0, err
	}
	if d.Waiting, err = s.webhooks.Deliveries(ctx, id, 20); err != nil {
		return nil, 0, err
	}
	return d, http.StatusOK, nil
}

// addWebhook registers an endpoint from the add form and shows its secret
// once.
func (s *Server) addWebhook(w http.ResponseWriter, r *http.Request, v *visitor) {
	u, desc := strings.TrimSpace(r.PostForm.Get("url")), strings.TrimSpace(r.PostForm.Get("description"))
	events := r.PostForm["events"]
	if r.PostForm.Get("all") == "on" {
		events = []string{webhook.AllEvents}
	}
	e, secret, err := s.webhooks.Create(r.Context(), v.actor(), webhook.Input{URL: &u, Description: &desc, Events: events})
	if err != nil {
		s.webhookRefused(w, r, v, err, func(d *webhooksPageData) {
			d.TypedURL, d.TypedDescription = u, desc
			for _, t := range events {
				d.TypedEvents[t] = true
			}
		})
		return
	}
	s.showSecret(w, r, v, e, secret, "Added the endpoint. Copy its signing secret now: it is not shown again.")
}

func (s *Server) showSecret(w http.ResponseWriter, r *http.Request, v *visitor, e webhook.Endpoint, secret, notice string) {
	d, _, err := s.webhooksData(r, v, e.ID, "")
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d.Secret, d.SecretFor, d.Notice = secret, e.ID, notice
	// The page carries a secret: no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "ops_webhooks", d)
}

// webhookRefused shows the console with why err refused the form;
// typed restores what the form held.
func (s *Server) webhookRefused(w http.ResponseWriter, r *http.Request, v *visitor, err error, typed func(*webhooksPageData)) {
	if fanfare.ErrorCode(err) == fanfare.EInternal {
		s.internalError(w, r, err)
		return
	}
	d, _, derr := s.webhooksData(r, v, "", "")
	if derr != nil {
		s.internalError(w, r, derr)
		return
	}
	if typed != nil {
		typed(d)
	}
	d.Error = sentence(fanfare.ErrorMessage(err)) + " Nothing was changed."
	s.render(w, r, statusOf(err), "ops_webhooks", d)
}

// webhookAction pauses, resumes, rotates, deletes or replays (the form's
// ref) the endpoint of the path.
func (s *Server) webhookAction(w http.ResponseWriter, r *http.Request, v *visitor) {
	ctx := r.Context()
	id, action := r.PathValue("id"), r.PathValue("action")
	var err error
	done := ""
	switch action {
	case "pause", "resume":
		paused := action == "pause"
		_, err = s.webhooks.Update(ctx, v.actor(), id, webhook.Input{Paused: &paused})
		done = map[bool]string{true: "paused", false: "resumed"}[paused]
	case "rotate":
		e, secret, err := s.webhooks.Rotate(ctx, v.actor(), id)
		if err != nil {
			s.webhookRefused(w, r, v, err, nil)
			return
		}
		s.showSecret(w, r, v, e, secret, "Rotated the signing secret. Copy the new one now: for 24 hours deliveries carry a signature with each.")
		return
	case "delete":
		err = s.webhooks.Delete(ctx, v.actor(), id)
		done = "deleted"
	case "replay":
		_, err = s.webhooks.Replay(ctx, v.actor(), id, r.PostForm.Get("ref"))
		done = "replayed"
	default:
		s.notFound(w, r)
		return
	}
	if err != nil {
		s.webhookRefused(w, r, v, err, nil)
		return
	}
	to := "/ops/webhooks?done=" + done
	if action != "delete" {
		to += "&endpoint=" + url.QueryEscape(id)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
