package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the deliveries' collectors.
type Metrics struct {
	dispatched prometheus.Counter
	attempts   *prometheus.CounterVec
	latency    prometheus.Histogram
	lag        prometheus.Histogram
}

// NewMetrics registers the deliveries' collectors on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		dispatched: prometheus.NewCounter(prometheus.CounterOpts{Name: "fanfare_webhook_events_dispatched_total",
			Help: "Outbox events dispatched to the webhook endpoints."}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fanfare_webhook_attempts_total",
			Help: "Webhook delivery attempts, by result: succeeded (2xx), failed, gone (410) or expired (given up unsent)."}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fanfare_webhook_attempt_seconds",
			Help: "How long a webhook delivery attempt took.", Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fanfare_webhook_lag_seconds",
			Help: "From an event's change to its successful delivery.", Buckets: prometheus.ExponentialBuckets(0.005, 3, 14)}),
	}
	reg.MustRegister(m.dispatched, m.attempts, m.latency, m.lag)
	return m
}

func (m *Metrics) observe(r result, now time.Time) {
	switch {
	case r.expired:
		m.attempts.WithLabelValues("expired").Inc()
		return
	case r.ok():
		m.attempts.WithLabelValues("succeeded").Inc()
		m.lag.Observe(now.Sub(time.UnixMicro(r.d.eventAt)).Seconds())
	case r.status == 410:
		m.attempts.WithLabelValues("gone").Inc()
	default:
		m.attempts.WithLabelValues("failed").Inc()
	}
	m.latency.Observe(r.latency.Seconds())
}
