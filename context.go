package fanfare

import "context"

// Role says what an actor may do.
type Role string

// Roles. A creator is not a role of its own: any user who receives money is a
// creator, and eligibility rules decide what each one may receive.
const (
	RoleFan      Role = "fan"
	RoleOperator Role = "operator"
	RoleHostApp  Role = "host_app"
)

// Scopes of a host app's API key: what its backend may do on routes
// otherwise reserved to operators. An operator holds every scope.
const (
	ScopeUsersWrite    = "users:write"    // create and update users (by external id, PATCH /v1/users/{id})
	ScopeSessionsMint  = "sessions:mint"  // mint session tokens for users
	ScopeRead          = "read"           // read users by external id
	ScopeWebhooksWrite = "webhooks:write" // manage outgoing webhook endpoints
)

// Scopes lists every scope a host key may hold.
var Scopes = []string{ScopeUsersWrite, ScopeSessionsMint, ScopeRead, ScopeWebhooksWrite}

// Actor is whoever a request acts for: a logged-in user, the host app's
// backend, or an operator (a user with the operator role, an operator key
// tied to a person, or the bootstrap key FANFARE_API_KEY).
type Actor struct {
	UserID string // empty for an API key
	Handle string
	Role   Role
	// KeyID is the id of the stored API key that authenticated the request;
	// empty for a user and for the bootstrap key. KeyName is the key's
	// name, Person the person an operator key belongs to, Scopes a host
	// key's scopes.
	KeyID   string
	KeyName string
	Person  string
	Scopes  []string
}

// ID returns a stable identifier of the actor, used to scope idempotency keys
// and to record who moved money and who acted in the audit log: a user's
// id, "key:<id>" for a stored API key, "apikey:operator" for the bootstrap
// key.
func (a Actor) ID() string {
	if a.UserID != "" {
		return a.UserID
	}
	if a.KeyID != "" {
		return "key:" + a.KeyID
	}
	return "apikey:" + string(a.Role)
}

// IsOperator reports whether the actor may use operator routes.
func (a Actor) IsOperator() bool { return a.Role == RoleOperator }

// IsHostKey reports whether the actor is a host app's API key, limited to
// its scopes.
func (a Actor) IsHostKey() bool { return a.Role == RoleHostApp && a.UserID == "" }

// Has reports whether the actor may do what scope allows: an operator
// may do everything, a host key what its scopes list, nobody else any.
func (a Actor) Has(scope string) bool {
	if a.IsOperator() {
		return true
	}
	if !a.IsHostKey() {
		return false
	}
	for _, s := range a.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

type actorKey struct{}

// NewContextWithActor returns a copy of ctx carrying the actor.
func NewContextWithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the authenticated actor, if any.
func ActorFromContext(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}
