package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/ratelimit"
	"github.com/fanfarehq/fanfare/internal/store"
)

// Codes of failures that only the HTTP layer meets. Business codes are
// declared in the fanfare package.
const (
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeUnsupportedMediaType is the business code: a request body the
	// API cannot read and an upload whose content is not of an accepted
	// type answer the same.
	CodeUnsupportedMediaType = fanfare.EUnsupportedMedia
	CodeNotAcceptable        = "not_acceptable"
	CodeRequestTimeout       = "request_timeout"
	// CodeUpgradeRequired refuses a request without a WebSocket upgrade
	// on a WebSocket route (426, with Upgrade: websocket).
	CodeUpgradeRequired = "upgrade_required"
	// CodeRangeNotSatisfiable refuses a Range outside a video (416, with
	// Content-Range: bytes */size).
	CodeRangeNotSatisfiable = "range_not_satisfiable"
)

// statusByCode is the one table from error codes to HTTP statuses.
var statusByCode = map[string]int{
	fanfare.EInvalid:                http.StatusBadRequest,
	fanfare.EIdempotencyKeyRequired: http.StatusBadRequest,
	fanfare.ESignatureInvalid:       http.StatusBadRequest,
	fanfare.EUnauthorized:           http.StatusUnauthorized,
	fanfare.EPaymentDeclined:        http.StatusPaymentRequired,
	fanfare.EForbidden:              http.StatusForbidden,
	fanfare.ESubscribersOnly:        http.StatusForbidden,
	fanfare.ENotEligible:            http.StatusForbidden,
	fanfare.ERegionBlocked:          http.StatusForbidden,
	fanfare.ENotFound:               http.StatusNotFound,
	CodeMethodNotAllowed:            http.StatusMethodNotAllowed,
	CodeNotAcceptable:               http.StatusNotAcceptable,
	CodeRequestTimeout:              http.StatusRequestTimeout,
	fanfare.EConflict:               http.StatusConflict,
	fanfare.EIdempotencyConflict:    http.StatusConflict,
	fanfare.EInvalidState:           http.StatusConflict,
	fanfare.ECapacityFull:           http.StatusConflict,
	fanfare.EPaused:                 http.StatusConflict,
	fanfare.ENotEnoughRecipients:    http.StatusConflict,
	fanfare.EDeadlinePassed:         http.StatusConflict,
	fanfare.EInsufficientFunds:      http.StatusConflict,
	fanfare.EWalletFrozen:           http.StatusConflict,
	fanfare.ESpendLimit:             http.StatusConflict,
	fanfare.EPayoutLimit:            http.StatusConflict,
	fanfare.EPayoutsHeld:            http.StatusConflict,
	fanfare.EPayoutAccountRequired:  http.StatusConflict,
	CodeUpgradeRequired:             http.StatusUpgradeRequired,
	CodeRangeNotSatisfiable:         http.StatusRequestedRangeNotSatisfiable,
	fanfare.EPurchaseLimit:          http.StatusTooManyRequests,
	fanfare.ERateLimited:            http.StatusTooManyRequests,
	fanfare.ETooLarge:               http.StatusRequestEntityTooLarge,
	CodeUnsupportedMediaType:        http.StatusUnsupportedMediaType,
	fanfare.EInternal:               http.StatusInternalServerError,
	fanfare.EUnavailable:            http.StatusServiceUnavailable,
}

// Status returns the HTTP status of an error code; an unknown code is an
// internal error.
func Status(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// codeForStatus names the failures that huma and the router report by
// status only.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return fanfare.EInvalid
	case http.StatusUnauthorized:
		return fanfare.EUnauthorized
	case http.StatusForbidden:
		return fanfare.EForbidden
	case http.StatusNotFound:
		return fanfare.ENotFound
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusNotAcceptable:
		return CodeNotAcceptable
	case http.StatusRequestTimeout:
		return CodeRequestTimeout
	case http.StatusConflict:
		return fanfare.EConflict
	case http.StatusRequestEntityTooLarge:
		return fanfare.ETooLarge
	case http.StatusUnsupportedMediaType:
		return CodeUnsupportedMediaType
	case http.StatusUpgradeRequired:
		return CodeUpgradeRequired
	case http.StatusServiceUnavailable:
		return fanfare.EUnavailable
	}
	if status >= 500 {
		return fanfare.EInternal
	}
	return fanfare.EInvalid
}

// Problem is an RFC 9457 problem details object, the body of every error
// response.
type Problem struct {
	Type   string              `json:"type" doc:"A URI reference that identifies the problem type; about:blank, the code says which problem it is."`
	Title  string              `json:"title" doc:"The HTTP status phrase."`
	Status int                 `json:"status" doc:"The HTTP status code."`
	Detail string              `json:"detail" doc:"What went wrong, for a person."`
	Code   string              `json:"code" doc:"Stable machine-readable code, e.g. validation_failed, insufficient_funds, idempotency_conflict."`
	Errors []*huma.ErrorDetail `json:"errors,omitempty" doc:"Per-field details of a validation failure."`
	// Reasons lists every rule behind a not_eligible or region_blocked
	// refusal.
	Reasons []fanfare.Reason `json:"reasons,omitempty" doc:"Each rule behind a not_eligible or region_blocked refusal, with a stable code and a sentence."`
	// retryAfter, when set, is sent as Retry-After: how long the client
	// should wait before it tries again.
	retryAfter time.Duration
}

// Error returns the detail.
func (p *Problem) Error() string { return p.Detail }

// GetStatus returns the HTTP status; it lets huma write a *Problem.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma send problems as application/problem+json.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

func newProblem(status int, code, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
}

// databaseRetryAfter is how long a client is asked to wait when the
// database cannot be reached: about as long as a restart of PostgreSQL.
const databaseRetryAfter = 2 * time.Second

// problemFor turns any error into the problem a client sees. Internal
// errors are logged with the request's logger and reported without detail.
// Whatever its path through the services, a failure to reach the database
// (store.IsUnavailable) is answered here, and only here, as 503
// unavailable with Retry-After: the request may succeed once the database
// is back, and a write retried with the same Idempotency-Key is applied
// once.
func problemFor(ctx context.Context, err error) *Problem {
	var p *Problem
	var fe *fanfare.Error
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &fe) && Status(fe.Code) != http.StatusInternalServerError:
		p := newProblem(Status(fe.Code), fe.Code, fe.Message)
		p.Reasons = fe.Reasons
		p.retryAfter = fe.RetryAfter
		return p
	case store.IsUnavailable(err):
		loggerFrom(ctx).LogAttrs(ctx, slog.LevelWarn, "database unavailable", slog.String("error", err.Error()))
		p := newProblem(http.StatusServiceUnavailable, fanfare.EUnavailable,
			"the database cannot be reached; try again in a moment (a write with the same Idempotency-Key is applied once)")
		p.retryAfter = databaseRetryAfter
		return p
	case fe != nil:
		logError(ctx, "unmapped or internal error code", err)
		return newProblem(http.StatusInternalServerError, fanfare.EInternal, "internal error")
	case errors.As(err, &tooLarge):
		return newProblem(http.StatusRequestEntityTooLarge, fanfare.ETooLarge,
			fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit-1))
	}
	logError(ctx, "internal error", err)
	return newProblem(http.StatusInternalServerError, fanfare.EInternal, "internal error")
}

func logError(ctx context.Context, msg string, err error) {
	loggerFrom(ctx).LogAttrs(ctx, slog.LevelError, msg, slog.String("error", err.Error()))
}

// humaError replaces huma's error constructor, so that the errors huma
// raises itself (undecodable bodies, schema violations, oversize bodies) and
// the errors handlers return come out as the same Problem with a code.
func humaError(ctx context.Context, status int, msg string, errs ...error) *Problem {
	for _, err := range errs {
		var fe *fanfare.Error
		var tooLarge *http.MaxBytesError
		if errors.As(err, &fe) || errors.As(err, &tooLarge) || store.IsUnavailable(err) {
			return problemFor(ctx, err)
		}
	}
	code := codeForStatus(status)
	if status == http.StatusUnprocessableEntity || (status < 500 && code == fanfare.EInvalid) {
		status = http.StatusBadRequest
	}
	if status >= 500 {
		for _, err := range errs {
			if err != nil {
				logError(ctx, msg, err)
			}
		}
		if len(errs) == 0 && ctx != nil {
			logError(ctx, "internal error", errors.New(msg))
		}
		p := newProblem(status, code, "internal error")
		if status == http.StatusServiceUnavailable {
			p.Detail = msg
		}
		return p
	}
	p := newProblem(status, code, msg)
	switch status {
	case http.StatusRequestEntityTooLarge:
		p.Detail = "the request body is too large"
	case http.StatusUnsupportedMediaType:
		p.Detail = "the request body must be JSON (Content-Type: application/json)"
		return p
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		d := &huma.ErrorDetail{Message: err.Error()}
		var hd huma.ErrorDetailer
		if errors.As(err, &hd) {
			// The offending value is left out: it may be a password, or the
			// whole body.
			src := hd.ErrorDetail()
			d = &huma.ErrorDetail{Message: src.Message, Location: src.Location}
		}
		p.Errors = append(p.Errors, d)
	}
	if code == fanfare.EInvalid && len(p.Errors) > 0 {
		first := p.Errors[0]
		p.Detail = msg + ": " + first.Message
		if first.Location != "" {
			p.Detail = msg + ": " + first.Location + ": " + first.Message
		}
		if n := len(p.Errors) - 1; n > 0 {
			p.Detail += fmt.Sprintf(" (and %d more)", n)
		}
	}
	return p
}

func init() {
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return humaError(context.Background(), status, msg, errs...)
	}
	huma.NewErrorWithContext = func(hc huma.Context, status int, msg string, errs ...error) huma.StatusError {
		ctx := context.Background()
		if hc != nil {
			ctx = hc.Context()
		}
		p := humaError(ctx, status, msg, errs...)
		if hc != nil && p.retryAfter > 0 {
			hc.SetHeader("Retry-After", ratelimit.RetryAfter(p.retryAfter))
		}
		return p
	}
	// "Coins" is not "coins": a field in the wrong case is unknown, like
	// any other unknown field.
	huma.ValidateStrictCasing = true
}

// writeProblem writes p outside huma (router misses, authentication,
// panics).
func writeProblem(w http.ResponseWriter, p *Problem) {
	b, err := json.Marshal(p)
	if err != nil {
		b = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"internal error","code":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(p.retryAfter))
	}
	w.WriteHeader(p.Status)
	w.Write(append(b, '\n'))
}
