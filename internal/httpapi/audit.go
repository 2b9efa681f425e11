package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare/internal/audit"
)

type auditFilterInput struct {
	Actor  string `query:"actor" maxLength:"200" doc:"Only this actor: a user id, or the API key's apikey:operator"`
	Action string `query:"action" maxLength:"200" doc:"Only this action (user.update); ending with a dot, every action it begins (user.)"`
	Object string `query:"object" maxLength:"200" doc:"Only this object (user:<id>, shoutout:<id>, eligibility:<feature>)"`
}

type auditListInput struct {
	Actor  string `query:"actor" maxLength:"200" doc:"Only this actor: a user id, or the API key's apikey:operator"`
	Action string `query:"action" maxLength:"200" doc:"Only this action (user.update); ending with a dot, every action it begins (user.)"`
	Object string `query:"object" maxLength:"200" doc:"Only this object (user:<id>, shoutout:<id>, eligibility:<feature>)"`
	Cursor string `query:"cursor" maxLength:"128" doc:"next_cursor of the previous page; empty for the first"`
	Limit  int    `query:"limit" minimum:"0" maximum:"500" doc:"Entries per page, 1 to 500 (default 50)"`
}

func (in auditFilterInput) filter() audit.Filter {
	return audit.Filter{Actor: in.Actor, Action: in.Action, Object: in.Object}
}

type auditEntryBody struct {
	Seq       int64           `json:"seq" doc:"The entry's place in the chain: 1, 2, 3, ... in the order entries were appended"`
	ID        string          `json:"id"`
	CreatedAt time.Time       `json:"created_at"`
	Actor     string          `json:"actor" doc:"Who acted: a user id, or apikey:operator for the API key"`
	ActorName string          `json:"actor_name,omitempty" doc:"The actor's handle, when known"`
	Action    string          `json:"action" doc:"What was done: user.update, wallet.grant, wallet.freeze, eligibility.update, ..."`
	Object    string          `json:"object" doc:"What it was done to: user:<id>, shoutout:<id>, eligibility:<feature>"`
	RequestID string          `json:"request_id,omitempty" doc:"The X-Request-Id of the request that did it; absent for work outside a request"`
	Details   json.RawMessage `json:"details" doc:"What else the action carried (a reason, a note): a JSON object"`
	Before    json.RawMessage `json:"before" doc:"The state of what changed, before (null when there was none)"`
	After     json.RawMessage `json:"after" doc:"The state of what changed, after"`
	Hash      string          `json:"hash" doc:"The entry's link in the chain: hex SHA-256 of the previous entry's hash and this entry's fields"`
}

type auditPageBody struct {
	Items      []auditEntryBody `json:"items"`
	NextCursor string           `json:"next_cursor,omitempty" doc:"Absent on the last page"`
}

type auditPageOutput struct {
	Body auditPageBody
}

func auditEntry(e audit.Entry) auditEntryBody {
	return auditEntryBody{Seq: e.Seq, ID: e.ID, CreatedAt: e.CreatedAt.UTC(), Actor: e.Actor, ActorName: e.ActorName,
		Action: e.Action, Object: e.Object, RequestID: e.RequestID, Details: e.Details, Before: e.Before, After: e.After, Hash: e.Hash}
}

func (s *Server) registerAudit() {
	register(s, operator, huma.Operation{
		OperationID: "auditLog",
		Method:      http.MethodGet,
		Path:        "/v1/admin/audit",
		Summary:     "Operator: the audit log, newest first",
		Description: "Every operator action and configuration change: who (`actor`, `actor_name`), when, what (`action`, `object`), " +
			"the state `before` and `after`, and the `request_id` of the request that did it. The log is append-only and hash-chained " +
			"(`seq`, `hash`); `fanfare verify` checks the chain. Filters are exact; `action` ending with a dot (`user.`) is a prefix.",
		Tags:   []string{"operator"},
		Errors: []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *auditListInput) (*auditPageOutput, error) {
		f := audit.Filter{Actor: in.Actor, Action: in.Action, Object: in.Object, Cursor: in.Cursor, Limit: in.Limit}
		p, err := audit.Find(ctx, s.db, f)
		if err != nil {
			return nil, err
		}
		out := &auditPageOutput{Body: auditPageBody{Items: make([]auditEntryBody, 0, len(p.Entries)), NextCursor: p.Next}}
		for _, e := range p.Entries {
			out.Body.Items = append(out.Body.Items, auditEntry(e))
		}
		return out, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "auditLogCSV",
		Method:      http.MethodGet,
		Path:        "/v1/admin/audit.csv",
		Summary:     "Operator: the audit log as CSV",
		Description: "The entries the same filters select, every one of them, newest first, streamed: one header row (" +
			"seq, id, created_at, actor, actor_name, action, object, request_id, details, before, after, hash), then one row per entry (RFC 4180). " +
			"A cell a spreadsheet would read as a formula (beginning with =, +, -, @, a tab or a carriage return) starts with a single quote.",
		Tags:   []string{"operator"},
		Errors: []int{http.StatusBadRequest},
		Responses: map[string]*huma.Response{
			"200": {Description: "The audit log, as a file to save", Content: map[string]*huma.MediaType{
				"text/csv": {Schema: &huma.Schema{Type: huma.TypeString}},
			}},
		},
	}, func(ctx context.Context, in *auditFilterInput) (*huma.StreamResponse, error) {
		f := in.filter()
		if _, err := f.Check(); err != nil {
			return nil, err
		}
		return &huma.StreamResponse{Body: func(hc huma.Context) {
			hc.SetHeader("Content-Type", "text/csv; charset=utf-8")
			hc.SetHeader("Content-Disposition", `attachment; filename="audit.csv"`)
			hc.SetStatus(http.StatusOK)
			// Once the first row is out, a failure can only cut the file
			// short: the client sees a truncated download.
			_ = audit.Export(hc.Context(), s.db, f, hc.BodyWriter())
		}}, nil
	})
}
