package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fanfarehq/fanfare"
)

type statusOutput struct {
	Body struct {
		Status string `json:"status" example:"ok" doc:"ok (liveness); ready, or degraded when a node among several has lost NATS (readiness)"`
		// Broker is set on a node among several (FANFARE_NATS_URL).
		Broker string `json:"broker,omitempty" example:"connected" doc:"on a node among several: connected, or what is wrong with NATS (the rooms then serve this node's events only; gifts still commit)"`
	}
}

func (s *Server) registerHealth() {
	register(s, public, huma.Operation{
		OperationID: "healthz",
		Method:      http.MethodGet,
		Path:        "/healthz",
		Summary:     "Liveness: the process answers",
		Tags:        []string{"operations"},
	}, func(ctx context.Context, _ *struct{}) (*statusOutput, error) {
		out := &statusOutput{}
		out.Body.Status = "ok"
		return out, nil
	})

	register(s, public, huma.Operation{
		OperationID: "readyz",
		Method:      http.MethodGet,
		Path:        "/readyz",
		Summary:     "Readiness: the server has warmed up, the database answers and its schema is current",
		Tags:        []string{"operations"},
		Errors:      []int{http.StatusServiceUnavailable},
		Description: "503 unavailable until the server is ready to serve: while it warms up (`fanfare demo` seeds its world first), " +
			"when the database does not answer, or while migrations are pending; and again once it drains on its way down " +
			"(SIGTERM), while it still serves every other route, so that a load balancer sends its new clients elsewhere. " +
			"On a node among several (FANFARE_NATS_URL), `broker` says whether NATS is connected; without it the node still " +
			"serves every request, its rooms show only its own events until NATS is back, and the answer is 200 with status `degraded`.",
	}, func(ctx context.Context, _ *struct{}) (*statusOutput, error) {
		if err := s.readiness(ctx); err != nil {
			return nil, err
		}
		out := &statusOutput{}
		out.Body.Status = "ready"
		if s.broker != nil {
			out.Body.Broker = "connected"
			if err := s.broker.Status(); err != nil {
				out.Body.Status, out.Body.Broker = "degraded", err.Error()
			}
		}
		return out, nil
	})

	s.mux.HandleFunc("GET /metrics", s.metricsRoute)
}

// Ready tells a server built with Options.WarmingUp that it has warmed
// up: /readyz answers 200 from now on, as long as the database does.
func (s *Server) Ready() { s.warm.Store(true) }

// Drain tells the server that its node is going: /readyz answers 503
// unavailable from now on, so that load balancers send new clients to
// other nodes, while every other route goes on answering until the HTTP
// server shuts down.
func (s *Server) Drain() { s.draining.Store(true) }

// readiness checks that the server is not draining and has warmed up, then
// the database within a short deadline.
func (s *Server) readiness(ctx context.Context) error {
	if s.draining.Load() {
		return fanfare.Errorf(fanfare.EUnavailable, "draining: this server is shutting down")
	}
	if !s.warm.Load() {
		return fanfare.Errorf(fanfare.EUnavailable, "not ready yet: %s", s.warmingUp)
	}
	if s.db == nil {
		return fanfare.Errorf(fanfare.EUnavailable, "no database configured")
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		loggerFrom(ctx).WarnContext(ctx, "readiness: database ping failed", "error", err)
		return fanfare.Errorf(fanfare.EUnavailable, "the database does not answer")
	}
	pending, err := s.db.MigrationsPending(ctx)
	if err != nil {
		loggerFrom(ctx).WarnContext(ctx, "readiness: migration check failed", "error", err)
		return fanfare.Errorf(fanfare.EUnavailable, "the database schema cannot be checked")
	}
	if pending {
		return fanfare.Errorf(fanfare.EUnavailable, "database migrations are pending; run fanfare migrate")
	}
	return nil
}
