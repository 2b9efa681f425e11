package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
	"github.com/fanfarehq/fanfare/internal/account"
)

// userBody is a user as the API shows it. The password hash never leaves
// the account package.
type userBody struct {
	ID          string    `json:"id"`
	Handle      string    `json:"handle" example:"ayla"`
	DisplayName string    `json:"display_name" example:"Ayla"`
	Region      string    `json:"region" example:"TR" doc:"ISO 3166-1 alpha-2"`
	BirthDate   string    `json:"birth_date" format:"date" example:"1998-04-02"`
	AccountType string    `json:"account_type" enum:"personal,business"`
	Followers   int64     `json:"followers"`
	Standing    string    `json:"standing" enum:"good,warned,restricted,banned"`
	Role        string    `json:"role" enum:"fan,operator"`
	CreatedAt   time.Time `json:"created_at"`
	ExternalID  string    `json:"external_id,omitempty" doc:"The host app's own id of a user it created (PUT /v1/admin/users/by-external-id/{external_id})"`
}

func newUserBody(u *fanfare.User) userBody {
	return userBody{
		ID:          u.ID,
		Handle:      u.Handle,
		DisplayName: u.DisplayName,
		Region:      u.Region,
		BirthDate:   u.BirthDate,
		AccountType: string(u.AccountType),
		Followers:   u.Followers,
		Standing:    string(u.Standing),
		Role:        string(u.Role),
		CreatedAt:   u.CreatedAt.UTC(),
		ExternalID:  u.ExternalID,
	}
}

type userOutput struct {
	Body userBody
}

type signUpInput struct {
	Body struct {
		Handle      string `json:"handle" minLength:"2" maxLength:"24" pattern:"^[A-Za-z0-9_.]+$" doc:"2 to 24 characters among a-z, 0-9, '_' and '.'; no leading, trailing or doubled '.'; stored lower-cased; me, admin, api, system, operator and root are reserved"`
		DisplayName string `json:"display_name,omitempty" maxLength:"50" doc:"Defaults to the handle"`
		Password    string `json:"password" minLength:"10" maxLength:"256"`
		Region      string `json:"region" minLength:"2" maxLength:"2" doc:"ISO 3166-1 alpha-2 country code, e.g. FR"`
		BirthDate   string `json:"birth_date" maxLength:"10" doc:"YYYY-MM-DD; not in the future, at most 130 years ago" example:"1998-04-02"`
		AccountType string `json:"account_type,omitempty" enum:"personal,business" doc:"Default personal"`
	}
}

type loginInput struct {
	Body struct {
		Handle   string `json:"handle" maxLength:"64"`
		Password string `json:"password" maxLength:"1024"`
	}
}

type loginOutput struct {
	Body struct {
		Token     string    `json:"token" doc:"Send as Authorization: Bearer <token>"`
		ExpiresAt time.Time `json:"expires_at"`
		User      userBody  `json:"user"`
	}
}

type logoutInput struct {
	Authorization string `header:"Authorization" hidden:"true"`
	Cookie        string `cookie:"fanfare_session" hidden:"true"`
}

type logoutOutput struct {
	SetCookie string `header:"Set-Cookie" doc:"Clears the session cookie when one was sent"`
}

type patchUserInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The user's id or handle"`
	Body struct {
		Followers *int64  `json:"followers,omitempty" minimum:"0" maximum:"1000000000000"`
		Standing  *string `json:"standing,omitempty" enum:"good,warned,restricted,banned"`
		Region    *string `json:"region,omitempty" minLength:"2" maxLength:"2" doc:"ISO 3166-1 alpha-2"`
	}
}

// limitsDoc says how log-in and sign-up are limited.
const limitsDoc = "Log-ins and sign-ups are limited per client address (429 rate_limited with Retry-After, in seconds; " +
	"requests bearing the API key are not counted), and password checks queue in a bounded line: beyond it, " +
	"503 unavailable with Retry-After."

func (s *Server) registerAccount() {
	register(s, public, huma.Operation{
		OperationID:   "signUp",
		Method:        http.MethodPost,
		Path:          "/v1/users",
		Summary:       "Sign up",
		Description:   limitsDoc + " Switched off (403 forbidden) when FANFARE_PASSWORD_SIGNUP=false: the host app then creates the users.",
		Tags:          []string{"users"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusForbidden, http.StatusConflict, http.StatusTooManyRequests, http.StatusServiceUnavailable},
		Middlewares:   huma.Middlewares{s.throttle},
	}, func(ctx context.Context, in *signUpInput) (*userOutput, error) {
		if s.noSignUp {
			return nil, fanfare.Errorf(fanfare.EForbidden, "sign-up with a password is switched off here: the host app creates the users")
		}
		u, err := s.accounts.Create(ctx, account.CreateInput{
			Handle:      in.Body.Handle,
			DisplayName: in.Body.DisplayName,
			Password:    in.Body.Password,
			Region:      in.Body.Region,
			BirthDate:   in.Body.BirthDate,
			AccountType: fanfare.AccountType(in.Body.AccountType),
		})
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: newUserBody(u)}, nil
	})

	register(s, public, huma.Operation{
		OperationID: "login",
		Method:      http.MethodPost,
		Path:        "/v1/auth/login",
		Summary:     "Log in: exchange a handle and password for a session token",
		Description: limitsDoc + " Failed log-ins are limited per handle too: a successful log-in clears the count.",
		Tags:        []string{"users"},
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable},
		Middlewares: huma.Middlewares{s.throttle},
	}, func(ctx context.Context, in *loginInput) (*loginOutput, error) {
		done, err := s.guard.Login(in.Body.Handle)
		if err != nil {
			return nil, err
		}
		sess, err := s.accounts.Login(ctx, in.Body.Handle, in.Body.Password)
		done(err)
		if err != nil {
			return nil, err
		}
		if st := stateFrom(ctx); st != nil {
			st.actor = sess.User.ID
		}
		out := &loginOutput{}
		out.Body.Token = sess.Token
		out.Body.ExpiresAt = sess.ExpiresAt.UTC()
		out.Body.User = newUserBody(sess.User)
		return out, nil
	})

	register(s, user, huma.Operation{
		OperationID:   "logout",
		Method:        http.MethodPost,
		Path:          "/v1/auth/logout",
		Summary:       "Log out: end the session of the token sent",
		Tags:          []string{"users"},
		DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *logoutInput) (*logoutOutput, error) {
		tok := in.Cookie
		if scheme, t, ok := strings.Cut(in.Authorization, " "); ok && strings.EqualFold(scheme, "Bearer") {
			tok = strings.TrimSpace(t)
		}
		if err := s.accounts.Logout(ctx, tok); err != nil {
			return nil, err
		}
		out := &logoutOutput{}
		if in.Cookie != "" {
			out.SetCookie = (&http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
				HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode}).String()
		}
		return out, nil
	})

	register(s, user, huma.Operation{
		OperationID: "me",
		Method:      http.MethodGet,
		Path:        "/v1/me",
		Summary:     "The logged-in user",
		Tags:        []string{"users"},
	}, func(ctx context.Context, _ *struct{}) (*userOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		u, err := s.accounts.ByID(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: newUserBody(u)}, nil
	})

	register(s, operator, huma.Operation{
		OperationID: "updateUser",
		Method:      http.MethodPatch,
		Path:        "/v1/users/{id}",
		Summary:     "Host app / operator: set a user's followers, standing or region",
		Description: "Each change is written to the audit log. Fields left out are unchanged.",
		Tags:        []string{"users"},
		Metadata:    scoped(fanfare.ScopeUsersWrite),
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound},
	}, func(ctx context.Context, in *patchUserInput) (*userOutput, error) {
		a, _ := fanfare.ActorFromContext(ctx)
		up := account.UpdateInput{Followers: in.Body.Followers, Region: in.Body.Region}
		if in.Body.Standing != nil {
			st := fanfare.Standing(*in.Body.Standing)
			up.Standing = &st
		}
		u, err := s.accounts.Resolve(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		u, err = s.accounts.Update(ctx, a, u.ID, up)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: newUserBody(u)}, nil
	})
}
