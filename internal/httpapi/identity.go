package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
)

type externalIDInput struct {
	ExternalID string `path:"external_id" maxLength:"128" doc:"The host app's own id of the user: 1 to 128 printable ASCII characters other than space, '/', '?', '#' and '%'"`
}

type upsertUserInput struct {
	ExternalID string `path:"external_id" maxLength:"128" doc:"The host app's own id of the user: 1 to 128 printable ASCII characters other than space, '/', '?', '#' and '%'"`
	Body       struct {
		Handle      string  `json:"handle" minLength:"2" maxLength:"24" pattern:"^[A-Za-z0-9_.]+$" doc:"As at sign-up: 2 to 24 characters among a-z, 0-9, '_' and '.'; stored lower-cased"`
		DisplayName string  `json:"display_name,omitempty" maxLength:"50" doc:"Defaults to the handle"`
		Region      string  `json:"region" minLength:"2" maxLength:"2" doc:"ISO 3166-1 alpha-2 country code, e.g. FR"`
		BirthDate   string  `json:"birth_date" maxLength:"10" doc:"YYYY-MM-DD; not in the future, at most 130 years ago" example:"1998-04-02"`
		AccountType string  `json:"account_type,omitempty" enum:"personal,business" doc:"Default personal"`
		Followers   *int64  `json:"followers,omitempty" minimum:"0" maximum:"1000000000000" doc:"Left out: 0 for a new user, unchanged otherwise"`
		Standing    *string `json:"standing,omitempty" enum:"good,warned,restricted,banned" doc:"Left out: good for a new user, unchanged otherwise"`
	}
}

type upsertUserOutput struct {
	Status int
	Body   userBody
}

type mintSessionInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The user's id or handle"`
	Body *struct {
		TTL int64 `json:"ttl,omitempty" minimum:"60" maximum:"2592000" doc:"The session's lifetime in seconds, 60 to 2592000 (30 days); default 86400 (24 hours)"`
	} `required:"false"`
}

type mintSessionOutput struct {
	Body struct {
		Token     string    `json:"token" doc:"The user's session token: Authorization: Bearer <token>. Shown once."`
		ExpiresAt time.Time `json:"expires_at"`
		UserID    string    `json:"user_id"`
	}
}

// apiKeyBody is a stored API key as the API shows it: never its secret.
type apiKeyBody struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Kind       string     `json:"kind" enum:"host,operator"`
	Scopes     []string   `json:"scopes" doc:"A host key's scopes; empty for an operator key, which may do everything"`
	Person     string     `json:"person,omitempty" doc:"Who an operator key belongs to"`
	CreatedBy  string     `json:"created_by" doc:"Who created it, as the audit log names actors"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty" doc:"Written at most once a minute"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func newAPIKeyBody(k *account.Key) apiKeyBody {
	b := apiKeyBody{ID: k.ID, Name: k.Name, Kind: string(k.Kind), Scopes: k.Scopes, Person: k.Person, CreatedBy: k.CreatedBy,
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
	if b.Scopes == nil {
		b.Scopes = []string{}
	}
	return b
}

type createAPIKeyInput struct {
	Body struct {
		Name   string   `json:"name" minLength:"1" maxLength:"64" doc:"What the key is for, e.g. backend-2026-06"`
		Kind   string   `json:"kind" enum:"host,operator"`
		Scopes []string `json:"scopes,omitempty" maxItems:"8" doc:"A host key's scopes, at least one: users:write, sessions:mint, read, webhooks:write. None for an operator key."`
		Person string   `json:"person,omitempty" maxLength:"64" doc:"Required for an operator key: the person it belongs to"`
	}
}

// createdAPIKeyBody is a key just created: with its secret, this once.
type createdAPIKeyBody struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind" enum:"host,operator"`
	Scopes    []string  `json:"scopes" doc:"A host key's scopes; empty for an operator key, which may do everything"`
	Person    string    `json:"person,omitempty" doc:"Who an operator key belongs to"`
	CreatedBy string    `json:"created_by" doc:"Who created it, as the audit log names actors"`
	CreatedAt time.Time `json:"created_at"`
	Secret    string    `json:"secret" doc:"The key itself, ffk_<id>_<secret>: send it as Authorization: Bearer <secret>. Shown this once; only its hash is stored."`
}

type createAPIKeyOutput struct {
	Body createdAPIKeyBody
}

type apiKeysOutput struct {
	Body struct {
		Keys []apiKeyBody `json:"keys"`
	}
}

type apiKeyRefInput struct {
	ID string `path:"id" maxLength:"64"`
}

type apiKeyOutput struct {
	Body apiKeyBody
}

func (s *Server) registerIdentity() {
	register(s, operator, huma.Operation{
		OperationID: "upsertUserByExternalID",
		Method:      http.MethodPut,
		Path:        "/v1/admin/users/by-external-id/{external_id}",
		Summary:     "Host app: create or update a user by the host's own id",
		Description: "Creates the user (201) or brings it up to date (200), idempotently: the same body twice leaves the same user and " +
			"writes nothing the second time. The fields are checked as at sign-up; the user has no password (a log-in with one is refused) " +
			"and acts through a minted session (POST /v1/admin/users/{id}/sessions) or the host's own JWT whose `sub` is the external id. " +
			"A change is the same as PATCH /v1/users/{id}'s, audited: restricting or banning a creator refunds their open shoutouts. " +
			"A handle that belongs to another user is refused with 409 conflict.",
		Tags:     []string{"host app"},
		Metadata: scoped(fanfare.ScopeUsersWrite),
		Errors:   []int{http.StatusBadRequest, http.StatusConflict},
	}, func(ctx context.Context, in *upsertUserInput) (*upsertUserOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		up := account.UpsertInput{Handle: in.Body.Handle, DisplayName: in.Body.DisplayName, Region: in.Body.Region,
			BirthDate: in.Body.BirthDate, AccountType: fanfare.AccountType(in.Body.AccountType), Followers: in.Body.Followers}
		if in.Body.Standing != nil {
			st := fanfare.Standing(*in.Body.Standing)
			up.Standing = &st
		}
		u, created, err := s.accounts.Upsert(ctx, a, in.ExternalID, up)
		if err != nil {
			return nil, err
		}
		out := &upsertUserOutput{Status: http.StatusOK, Body: newUserBody(u)}
		if created {
			out.Status = http.StatusCreated
		}
		return out, nil
	})
	// The answer is 200 or 201: document the second like the first.
	if put := s.api.OpenAPI().Paths["/v1/admin/users/by-external-id/{external_id}"].Put; put != nil {
		if ok := put.Responses["200"]; ok != nil {
			created := *ok
			ok.Description = "The user, updated or unchanged"
			created.Description = "The user, created"
			put.Responses["201"] = &created
		}
	}

	register(s, operator, huma.Operation{
		OperationID: "userByExternalID",
		Method:      http.MethodGet,
		Path:        "/v1/admin/users/by-external-id/{external_id}",
		Summary:     "Host app: the user with the host's own id",
		Tags:        []string{"host app"},
		Metadata:    scoped(fanfare.ScopeRead),
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound},
	}, func(ctx context.Context, in *externalIDInput) (*userOutput, error) {
		u, err := s.accounts.ByExternalID(ctx, in.ExternalID)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: newUserBody(u)}, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "mintSession",
		Method:      http.MethodPost,
		Path:        "/v1/admin/users/{id}/sessions",
		Summary:     "Host app: open a session for a user",
		Description: "Returns a session token the host's backend hands to its client, which sends it as `Authorization: Bearer <token>` " +
			"on every user route until `expires_at` (or POST /v1/auth/logout). The minting is audited, never the token.",
		Tags:          []string{"host app"},
		Metadata:      scoped(fanfare.ScopeSessionsMint),
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound},
	}, func(ctx context.Context, in *mintSessionInput) (*mintSessionOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		u, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		var ttl time.Duration
		if in.Body != nil {
			ttl = time.Duration(in.Body.TTL) * time.Second
		}
		sess, err := s.accounts.MintSession(ctx, a, u.ID, ttl)
		if err != nil {
			return nil, err
		}
		out := &mintSessionOutput{}
		out.Body.Token = sess.Token
		out.Body.ExpiresAt = sess.ExpiresAt.UTC()
		out.Body.UserID = u.ID
		return out, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "createAPIKey",
		Method:      http.MethodPost,
		Path:        "/v1/admin/api-keys",
		Summary:     "Create an API key",
		Description: "A host key (`kind: host`) may call only the routes its scopes name: `users:write` (PUT /v1/admin/users/by-external-id/{external_id}, " +
			"PATCH /v1/users/{id}), `sessions:mint` (POST /v1/admin/users/{id}/sessions), `read` (GET /v1/admin/users/by-external-id/{external_id}), " +
			"`webhooks:write` (the webhook endpoints). An operator key (`kind: operator`) belongs to a named person and may do what an operator does, " +
			"recorded in the audit log as `key:<id>`. Several keys may be live at once, to rotate without downtime. The secret is shown once. Audited.",
		Tags:          []string{"api keys"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *createAPIKeyInput) (*createAPIKeyOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		k, secret, err := s.accounts.CreateKey(ctx, a, account.KeyInput{Name: in.Body.Name, Kind: account.KeyKind(in.Body.Kind),
			Scopes: in.Body.Scopes, Person: in.Body.Person})
		if err != nil {
			return nil, err
		}
		b := newAPIKeyBody(k)
		return &createAPIKeyOutput{Body: createdAPIKeyBody{ID: b.ID, Name: b.Name, Kind: b.Kind, Scopes: b.Scopes, Person: b.Person,
			CreatedBy: b.CreatedBy, CreatedAt: b.CreatedAt, Secret: secret}}, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "apiKeys",
		Method:      http.MethodGet,
		Path:        "/v1/admin/api-keys",
		Summary:     "The API keys, revoked ones included (never their secrets)",
		Tags:        []string{"api keys"},
	}, func(ctx context.Context, _ *struct{}) (*apiKeysOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		keys, err := s.accounts.Keys(ctx, a)
		if err != nil {
			return nil, err
		}
		out := &apiKeysOutput{}
		out.Body.Keys = make([]apiKeyBody, len(keys))
		for i := range keys {
			out.Body.Keys[i] = newAPIKeyBody(&keys[i])
		}
		return out, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "revokeAPIKey",
		Method:      http.MethodDelete,
		Path:        "/v1/admin/api-keys/{id}",
		Summary:     "Revoke an API key",
		Description: "For good: the key stops working at once on this server, within a second on the others. Revoking a revoked key changes nothing. Audited.",
		Tags:        []string{"api keys"},
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *apiKeyRefInput) (*apiKeyOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		k, err := s.accounts.RevokeKey(ctx, a, in.ID)
		if err != nil {
			return nil, err
		}
		return &apiKeyOutput{Body: newAPIKeyBody(k)}, nil
	})
}
