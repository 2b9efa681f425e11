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

// Actor is whoever a request acts for: a logged-in user, or the host app or
// operator authenticated by the API key.
type Actor struct {
	UserID string // empty for the API key
	Handle string
	Role   Role
}

// ID returns a stable identifier of the actor, used to scope idempotency keys
// and to record who moved money.
func (a Actor) ID() string {
	if a.UserID != "" {
		return a.UserID
	}
	return "apikey:" + string(a.Role)
}

// IsOperator reports whether the actor may use operator routes.
func (a Actor) IsOperator() bool { return a.Role == RoleOperator }

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

type requestIDKey struct{}

// NewContextWithRequestID returns a copy of ctx carrying the id of the
// request it serves: the X-Request-Id the server answers with. The audit
// log records it with every entry written in that context.
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the id of the request ctx serves, or "" for
// work outside a request (jobs, the command line).
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
