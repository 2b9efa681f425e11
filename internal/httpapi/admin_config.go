package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/settings"
)

// configSettings is the settings document, named apart from the features'
// own settings in the OpenAPI document.
type configSettings settings.Settings

// configBody is the stored settings and their version.
type configBody struct {
	Version   int64          `json:"version" doc:"The document's version: send it back (If-Match or version) with a change"`
	UpdatedAt time.Time      `json:"updated_at" doc:"When the document was last changed"`
	UpdatedBy string         `json:"updated_by" doc:"Who changed it last: an actor, or config:environment for the defaults written at the first start"`
	Settings  configSettings `json:"settings"`
}

type configOutput struct {
	ETag string `header:"ETag" doc:"The version, quoted: send it as If-Match with a change"`
	Body configBody
}

type configPutInput struct {
	IfMatch string `header:"If-Match" maxLength:"40" doc:"The version the change is made on, as GET gave it in ETag (\"7\" or 7); or give version in the body"`
	Body    struct {
		Version  int64          `json:"version,omitempty" required:"false" minimum:"0" doc:"The version the change is made on, when If-Match is not sent"`
		Settings configSettings `json:"settings" doc:"The whole document"`
	}
}

func configOf(c settings.Current) *configOutput {
	return &configOutput{ETag: strconv.Quote(strconv.FormatInt(c.Version, 10)),
		Body: configBody{Version: c.Version, UpdatedAt: c.UpdatedAt, UpdatedBy: c.UpdatedBy, Settings: configSettings(c.Settings)}}
}

// matchVersion reads the version a change is made on: If-Match ("7", W/"7"
// or 7) or the body's version.
//
// Codes: validation_failed (neither, or a bad If-Match).
func matchVersion(ifMatch string, body int64) (int64, error) {
	if ifMatch = strings.TrimSpace(ifMatch); ifMatch != "" {
		v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(ifMatch, "W/"), `"`), 10, 64)
		if err != nil || v < 1 {
			return 0, fanfare.Errorf(fanfare.EInvalid, "If-Match must be the version GET /v1/admin/config gave, such as \"7\"")
		}
		return v, nil
	}
	if body < 1 {
		return 0, fanfare.Errorf(fanfare.EInvalid, "send the version the change is made on: If-Match, or version in the body")
	}
	return body, nil
}

// invalidSettings is the problem of a refused document, naming each field.
func invalidSettings(inv *settings.Invalid) *Problem {
	p := newProblem(Status(fanfare.EInvalid), fanfare.EInvalid, "the settings are out of bounds: "+inv.Fields[0].Path+": "+inv.Fields[0].Message)
	for _, f := range inv.Fields {
		p.Errors = append(p.Errors, &huma.ErrorDetail{Location: "body.settings." + f.Path, Message: f.Message})
	}
	return p
}

func (s *Server) registerConfig() {
	if s.settings == nil {
		return
	}
	register(s, operator, huma.Operation{
		OperationID: "getConfig",
		Method:      http.MethodGet,
		Path:        "/v1/admin/config",
		Summary:     "Operator: the stored settings",
		Description: "The run-time settings in force: coin packs and prices, creator shares, tip bounds, limits, payouts, shoutout " +
			"windows and bounds, subscription bounds. ETag and version name the document's version, to send back with a change.",
		Tags: []string{"operator"},
	}, func(ctx context.Context, _ *struct{}) (*configOutput, error) {
		return configOf(s.settings.Current()), nil
	})

	register(s, operator, huma.Operation{
		OperationID: "putConfig",
		Method:      http.MethodPut,
		Path:        "/v1/admin/config",
		Summary:     "Operator: replace the stored settings",
		Description: "Replaces the whole document, made on the version given in If-Match (or version in the body): a stale version " +
			"answers 409 conflict and changes nothing. A document out of bounds answers 400 validation_failed naming each field in " +
			"errors (location body.settings.<path>) and changes nothing. The change is written to the audit log with the changed " +
			"fields before and after, in force on this server at once and on every server within 2 seconds. " +
			"Sending the stored document again changes nothing.",
		Tags:   []string{"operator"},
		Errors: []int{http.StatusBadRequest, http.StatusConflict},
	}, func(ctx context.Context, in *configPutInput) (*configOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		v, err := matchVersion(in.IfMatch, in.Body.Version)
		if err != nil {
			return nil, err
		}
		c, err := s.settings.Update(ctx, a, v, settings.Settings(in.Body.Settings))
		var inv *settings.Invalid
		if errors.As(err, &inv) {
			return nil, invalidSettings(inv)
		}
		if err != nil {
			return nil, err
		}
		return configOf(c), nil
	})
}
