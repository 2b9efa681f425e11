package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fanfarehq/fanfare"

	"github.com/fanfarehq/fanfare/internal/ledger"
)

// Metrics are the Prometheus collectors of the API and of the ledger's
// committer. Build them once per registry with NewMetrics, hand them to the
// ledger as its Observer and to the Server in Options.
type Metrics struct {
	requests       *prometheus.HistogramVec
	batchSize      prometheus.Histogram
	commitDuration prometheus.Histogram
	failedOps      prometheus.Counter
	viewers        prometheus.Gauge
	slowViewers    prometheus.Counter
}

var _ ledger.Observer = (*Metrics)(nil)

// NewMetrics registers the collectors on reg (it panics if they are
// registered there already).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fanfare_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "code"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fanfare_ledger_batch_size",
			Help:    "Operations per ledger commit (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12), // 1 .. 2048
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fanfare_ledger_commit_duration_seconds",
			Help:    "Time to commit one ledger batch.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		failedOps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fanfare_ledger_balance_check_failures_total",
			Help: "Ledger operations refused by the committer (insufficient funds, frozen wallet, bad state).",
		}),
		viewers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fanfare_room_viewers",
			Help: "Room feed WebSockets open on this node.",
		}),
		slowViewers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fanfare_room_slow_viewers_dropped_total",
			Help: "Viewers disconnected because they could not keep up with their room.",
		}),
	}
	reg.MustRegister(m.requests, m.batchSize, m.commitDuration, m.failedOps, m.viewers, m.slowViewers)
	return m
}

// BatchCommitted records one ledger batch; it implements ledger.Observer.
func (m *Metrics) BatchCommitted(size, failed int, d time.Duration) {
	m.batchSize.Observe(float64(size))
	m.commitDuration.Observe(d.Seconds())
	m.failedOps.Add(float64(failed))
}

func (m *Metrics) observeRequest(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Observe(d.Seconds())
}

// ViewerDropped counts a slow viewer dropped by its room
// (room.Options.Dropped).
func (m *Metrics) ViewerDropped() { m.slowViewers.Inc() }

// MetricsHandler serves the registry's metrics in the Prometheus text
// format, without authentication: serve it on a listener of its own
// (FANFARE_METRICS_ADDR), which only the scraper reaches.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}

// metricsRoute is /metrics on the main listener: not found unless a
// metrics token is configured, and then only for requests bearing it.
func (s *Server) metricsRoute(w http.ResponseWriter, r *http.Request) {
	if !s.hasMetricsToken {
		writeProblem(w, newProblem(http.StatusNotFound, fanfare.ENotFound, "no such route: metrics are served on the metrics listener (FANFARE_METRICS_ADDR)"))
		return
	}
	tok, fromCookie, err := credential(r)
	sum := sha256.Sum256([]byte(tok))
	if err != nil || fromCookie || subtle.ConstantTimeCompare(sum[:], s.metricsToken[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fanfare metrics"`)
		writeProblem(w, newProblem(http.StatusUnauthorized, fanfare.EUnauthorized, "send the metrics token: Authorization: Bearer <token>"))
		return
	}
	s.MetricsHandler().ServeHTTP(w, r)
}
