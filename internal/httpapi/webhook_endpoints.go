package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/webhook"
)

// webhookEndpoint is an endpoint as the API shows it: never its secret.
type webhookEndpoint struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	Events      []string `json:"events" doc:"The event types delivered, or [\"*\"] for all (docs/webhook-events.md)"`
	State       string   `json:"state" enum:"active,paused,auto_paused,disabled" doc:"active: events are delivered; paused (by an operator) and auto_paused (every attempt failed for 3 days): deliveries wait, and are sent once it is active again; disabled: it answered 410 Gone, nothing is sent until it is resumed"`
	StateReason string   `json:"state_reason,omitempty" doc:"Why it is paused or disabled"`
	// FailingSince is set while attempts fail.
	FailingSince        *time.Time `json:"failing_since,omitempty" doc:"The first failed attempt since the last success"`
	PreviousSecretUntil *time.Time `json:"previous_secret_until,omitempty" doc:"Until then, after a rotation, deliveries carry a signature made with the previous secret too"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

func endpointBody(e webhook.Endpoint) webhookEndpoint {
	b := webhookEndpoint{ID: e.ID, URL: e.URL, Description: e.Description, Events: e.Events, State: e.State, StateReason: e.StateReason,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	if !e.FailingSince.IsZero() {
		t := e.FailingSince
		b.FailingSince = &t
	}
	if !e.PreviousSecretUntil.IsZero() {
		t := e.PreviousSecretUntil
		b.PreviousSecretUntil = &t
	}
	return b
}

type webhookSecretBody struct {
	webhookEndpoint
	Secret string `json:"secret" doc:"The signing secret (whsec_ and base64): shown only in this answer. Verify each delivery's webhook-signature with it (docs/webhooks.md)."`
}

type webhookSecretOutput struct {
	Body webhookSecretBody
}

type webhookEndpointOutput struct {
	Body webhookEndpoint
}

type webhookEndpointsOutput struct {
	Body struct {
		Endpoints []webhookEndpoint `json:"endpoints"`
	}
}

type webhookIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"The endpoint's id"`
}

type createWebhookInput struct {
	Body struct {
		URL         string   `json:"url" minLength:"1" maxLength:"2000" doc:"https:// (plain http:// only to this machine's loopback interface, or with FANFARE_WEBHOOK_ALLOW_HTTP=true); its host may not resolve to a private or special address unless FANFARE_WEBHOOK_ALLOW_PRIVATE allows it"`
		Events      []string `json:"events" minItems:"1" maxItems:"32" doc:"Event types (see docs/webhook-events.md), or [\"*\"] for all"`
		Description string   `json:"description,omitempty" maxLength:"500"`
	}
}

type updateWebhookInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The endpoint's id"`
	Body struct {
		URL         *string  `json:"url,omitempty" maxLength:"2000" doc:"A new URL, under the same rules as at creation"`
		Events      []string `json:"events,omitempty" maxItems:"32" doc:"A new list of event types, or [\"*\"]"`
		Description *string  `json:"description,omitempty" maxLength:"500"`
		Paused      *bool    `json:"paused,omitempty" doc:"true pauses the endpoint (deliveries wait); false makes it active again, whether paused, auto-paused or disabled, and what waited within its window is delivered"`
	}
}

type webhookAttempt struct {
	ID        string    `json:"id" doc:"The attempt's id (a replay takes it, or the event's id)"`
	EventID   string    `json:"event_id" doc:"The event's webhook-id"`
	EventType string    `json:"event_type"`
	Attempt   int       `json:"attempt" doc:"1 for the first attempt of the event to this endpoint"`
	Status    int       `json:"status" doc:"The answer's HTTP status; 0 when there was no answer (see error)"`
	LatencyMS float64   `json:"latency_ms"`
	Response  string    `json:"response,omitempty" doc:"The answer's first KiB"`
	Error     string    `json:"error,omitempty" doc:"Why there was no answer"`
	At        time.Time `json:"at"`
}

type webhookLogInput struct {
	ID     string `path:"id" maxLength:"64" doc:"The endpoint's id"`
	Cursor string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page; empty for the newest"`
	Limit  int    `query:"limit" minimum:"0" maximum:"200" doc:"Attempts per page (default 50)"`
}

type webhookLogOutput struct {
	Body struct {
		Deliveries []webhookAttempt `json:"deliveries" doc:"Every attempt, newest first"`
		NextCursor string           `json:"next_cursor,omitempty"`
	}
}

type replayWebhookInput struct {
	ID  string `path:"id" maxLength:"64" doc:"The endpoint's id"`
	Ref string `path:"ref" maxLength:"300" doc:"An attempt's id from the delivery log, or an event's id (webhook-id)"`
}

type replayWebhookOutput struct {
	Body struct {
		EventID string `json:"event_id"`
		Queued  bool   `json:"queued" doc:"Always true: the event is due to the endpoint now (and retried on the schedule if it fails)"`
	}
}

func (s *Server) registerWebhookEndpoints() {
	if s.webhooks == nil {
		return
	}
	tags := []string{"webhooks", "operator"}
	register(s, operator, huma.Operation{
		OperationID:   "createWebhookEndpoint",
		Metadata:      scoped(fanfare.ScopeWebhooksWrite),
		Method:        http.MethodPost,
		Path:          "/v1/admin/webhooks",
		Summary:       "Operator: register a webhook endpoint",
		Description:   "Events of the types given are delivered to the URL in the Standard Webhooks format, signed with the secret this answer shows once. A URL that is not https:// or reaches a private address is refused (400 validation_failed naming why); so is an unknown event type.",
		Tags:          tags,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *createWebhookInput) (*webhookSecretOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		d := in.Body.Description
		e, secret, err := s.webhooks.Create(ctx, a, webhook.Input{URL: &in.Body.URL, Events: in.Body.Events, Description: &d})
		if err != nil {
			return nil, err
		}
		return &webhookSecretOutput{Body: webhookSecretBody{endpointBody(e), secret}}, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "listWebhookEndpoints",
		Metadata:    scoped(fanfare.ScopeWebhooksWrite),
		Method:      http.MethodGet,
		Path:        "/v1/admin/webhooks",
		Summary:     "Operator: the webhook endpoints",
		Description: "Every endpoint, oldest first, with its state; never its secret.",
		Tags:        tags,
	}, func(ctx context.Context, _ *struct{}) (*webhookEndpointsOutput, error) {
		eps, err := s.webhooks.List(ctx)
		if err != nil {
			return nil, err
		}
		out := &webhookEndpointsOutput{}
		out.Body.Endpoints = []webhookEndpoint{}
		for _, e := range eps {
			out.Body.Endpoints = append(out.Body.Endpoints, endpointBody(e))
		}
		return out, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "getWebhookEndpoint",
		Metadata:    scoped(fanfare.ScopeWebhooksWrite),
		Method:      http.MethodGet,
		Path:        "/v1/admin/webhooks/{id}",
		Summary:     "Operator: a webhook endpoint",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *webhookIDInput) (*webhookEndpointOutput, error) {
		e, err := s.webhooks.Get(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return &webhookEndpointOutput{Body: endpointBody(e)}, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "updateWebhookEndpoint",
		Metadata:    scoped(fanfare.ScopeWebhooksWrite),
		Method:      http.MethodPatch,
		Path:        "/v1/admin/webhooks/{id}",
		Summary:     "Operator: change, pause or resume a webhook endpoint",
		Description: "Only the fields given change. The change, with the endpoint before and after, is written to the audit log.",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound},
	}, func(ctx context.Context, in *updateWebhookInput) (*webhookEndpointOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		e, err := s.webhooks.Update(ctx, a, in.ID, webhook.Input{URL: in.Body.URL, Events: in.Body.Events, Description: in.Body.Description, Paused: in.Body.Paused})
		if err != nil {
			return nil, err
		}
		return &webhookEndpointOutput{Body: endpointBody(e)}, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "rotateWebhookSecret",
		Metadata:    scoped(fanfare.ScopeWebhooksWrite),
		Method:      http.MethodPost,
		Path:        "/v1/admin/webhooks/{id}/rotate",
		Summary:     "Operator: give a webhook endpoint a new signing secret",
		Description: "The new secret is shown once. For 24 hours each delivery carries two signatures in webhook-signature (space-separated), one per secret, so the host can switch without missing an event; then only the new one.",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *webhookIDInput) (*webhookSecretOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		e, secret, err := s.webhooks.Rotate(ctx, a, in.ID)
		if err != nil {
			return nil, err
		}
		return &webhookSecretOutput{Body: webhookSecretBody{endpointBody(e), secret}}, nil
	})

	register(s, operator, huma.Operation{
		OperationID:   "deleteWebhookEndpoint",
		Metadata:      scoped(fanfare.ScopeWebhooksWrite),
		Method:        http.MethodDelete,
		Path:          "/v1/admin/webhooks/{id}",
		Summary:       "Operator: delete a webhook endpoint",
		Description:   "Its waiting deliveries and its log go with it.",
		Tags:          tags,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusNotFound},
	}, func(ctx context.Context, in *webhookIDInput) (*struct{}, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		return nil, s.webhooks.Delete(ctx, a, in.ID)
	})

	register(s, operator, huma.Operation{
		OperationID: "listWebhookDeliveries",
		Metadata:    scoped(fanfare.ScopeWebhooksWrite),
		Method:      http.MethodGet,
		Path:        "/v1/admin/webhooks/{id}/deliveries",
		Summary:     "Operator: a webhook endpoint's delivery log",
		Description: "Every attempt, newest first: the event, the attempt's number, the answer's status and first KiB, how long it took, the error when there was no answer. Kept 7 days.",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound},
	}, func(ctx context.Context, in *webhookLogInput) (*webhookLogOutput, error) {
		log, next, err := s.webhooks.Log(ctx, in.ID, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		out := &webhookLogOutput{}
		out.Body.Deliveries = []webhookAttempt{}
		for _, a := range log {
			out.Body.Deliveries = append(out.Body.Deliveries, webhookAttempt{ID: a.ID, EventID: a.EventID, EventType: a.EventType, Attempt: a.Attempt,
				Status: a.Status, LatencyMS: float64(a.Latency.Microseconds()) / 1000, Response: a.Response, Error: a.Error, At: a.At})
		}
		out.Body.NextCursor = next
		return out, nil
	})

	register(s, operator, huma.Operation{
		OperationID:   "replayWebhookDelivery",
		Metadata:      scoped(fanfare.ScopeWebhooksWrite),
		Method:        http.MethodPost,
		Path:          "/v1/admin/webhooks/{id}/deliveries/{ref}/replay",
		Summary:       "Operator: deliver an event to a webhook endpoint again",
		Description:   "The event (named by an attempt's id or its own id) is due to the endpoint now, with the same webhook-id, whether it was delivered, given up or never sent to it; it is retried on the schedule if it fails. Events are kept 7 days.",
		Tags:          tags,
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusNotFound},
	}, func(ctx context.Context, in *replayWebhookInput) (*replayWebhookOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		id, err := s.webhooks.Replay(ctx, a, in.ID, in.Ref)
		if err != nil {
			return nil, err
		}
		out := &replayWebhookOutput{}
		out.Body.EventID, out.Body.Queued = id, true
		return out, nil
	})
}
