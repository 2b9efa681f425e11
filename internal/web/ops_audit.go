package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/audit"
)

// auditPageData is the operator's audit log: the entries, newest first,
// filtered by actor, action and object, a page at a time.
type auditPageData struct {
	Layout
	Actor, Action, Object string // the filters, as typed
	Entries               []auditRow
	// NextURL is the page after this one; FirstURL the first, when this
	// is not it; CSVURL the whole selection as a file.
	NextURL, FirstURL, CSVURL string
	Filtered                  bool
}

// auditRow is an entry as the page shows it.
type auditRow struct {
	Seq                          int64
	At                           time.Time
	Actor, ActorName             string
	Action, Object, RequestID    string
	Changes                      []auditChange
	Details                      string // the details' JSON, "" when {}
	ActorURL, ObjectURL, HashTip string
}

// auditChange is one line of an entry's before and after: a field (empty
// when the state is not an object of fields) and its values.
type auditChange struct {
	Field, Before, After string
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, v *visitor) {
	q := r.URL.Query()
	d := &auditPageData{Layout: Layout{Title: "Audit log", Nav: "ops-audit", Visitor: v, CSRF: s.sessionToken(v)},
		Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Object: strings.TrimSpace(q.Get("object"))}
	d.Filtered = d.Actor != "" || d.Action != "" || d.Object != ""
	filters := url.Values{}
	for k, v := range map[string]string{"actor": d.Actor, "action": d.Action, "object": d.Object} {
		if v != "" {
			filters.Set(k, v)
		}
	}
	d.CSVURL = "/v1/admin/audit.csv"
	if len(filters) > 0 {
		d.CSVURL += "?" + filters.Encode()
	}
	cursor := q.Get("cursor")
	p, err := s.audit.Find(r.Context(), audit.Filter{Actor: d.Actor, Action: d.Action, Object: d.Object, Cursor: cursor})
	if fanfare.ErrorCode(err) == fanfare.EInvalid {
		d.Error = sentence(fanfare.ErrorMessage(err)) + " Nothing was changed."
		s.render(w, r, http.StatusBadRequest, "ops_audit", d)
		return
	} else if err != nil {
		s.internalError(w, r, err)
		return
	}
	for _, e := range p.Entries {
		d.Entries = append(d.Entries, auditRowOf(e))
	}
	if p.Next != "" {
		next := url.Values{}
		for k, v := range filters {
			next[k] = v
		}
		next.Set("cursor", p.Next)
		d.NextURL = "/ops/audit?" + next.Encode()
	}
	if cursor != "" {
		d.FirstURL = "/ops/audit"
		if len(filters) > 0 {
			d.FirstURL += "?" + filters.Encode()
		}
	}
	s.render(w, r, http.StatusOK, "ops_audit", d)
}

// auditRowOf lays e out for the page: its before and after as one line per
// field when both are objects.
func auditRowOf(e audit.Entry) auditRow {
	row := auditRow{Seq: e.Seq, At: e.CreatedAt, Actor: e.Actor, ActorName: e.ActorName, Action: e.Action, Object: e.Object,
		RequestID: e.RequestID, HashTip: e.Hash}
	if d := compactJSON(e.Details); d != "{}" {
		row.Details = d
	}
	row.ActorURL = "/ops/audit?actor=" + url.QueryEscape(e.Actor)
	row.ObjectURL = "/ops/audit?object=" + url.QueryEscape(e.Object)
	var before, after map[string]json.RawMessage
	errB := json.Unmarshal(e.Before, &before)
	errA := json.Unmarshal(e.After, &after)
	if errB == nil && errA == nil && (before != nil || after != nil) {
		var fields []string
		for k := range before {
			fields = append(fields, k)
		}
		for k := range after {
			if _, ok := before[k]; !ok {
				fields = append(fields, k)
			}
		}
		slices.Sort(fields)
		for _, f := range fields {
			row.Changes = append(row.Changes, auditChange{Field: f, Before: readable(before[f]), After: readable(after[f])})
		}
		return row
	}
	if b, a := readable(e.Before), readable(e.After); b != "—" || a != "—" {
		row.Changes = []auditChange{{Before: b, After: a}}
	}
	return row
}

// readable shows a JSON value as a person reads it: text without its
// quotes, anything else as compact JSON, nothing (absent or null) as a dash.
func readable(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return "—"
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if s == "" {
			return "“”"
		}
		return s
	}
	return compactJSON(v)
}
