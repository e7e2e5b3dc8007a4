package relay

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics receives the relay's measurements; it must be safe for
// concurrent use and fast (it is called once per acknowledged event).
type Metrics interface {
	// Published: the stream acknowledged an event appended age ago
	// (duplicate: it was there already).
	Published(age time.Duration, duplicate bool)
	// Lag sets how many events of the store the stream does not hold yet.
	Lag(events int64)
}

type nopMetrics struct{}

func (nopMetrics) Published(time.Duration, bool) {}
func (nopMetrics) Lag(int64)                     {}

// PrometheusMetrics exports the relay's measurements:
//
//	cspm_relay_events_published_total{duplicate}  counter
//	cspm_relay_publish_age_seconds                histogram (append → acknowledged by the stream)
//	cspm_relay_lag_events                         gauge
type PrometheusMetrics struct {
	published *prometheus.CounterVec
	age       prometheus.Histogram
	lag       prometheus.Gauge
}

// NewPrometheusMetrics registers the relay's collectors on reg.
func NewPrometheusMetrics(reg prometheus.Registerer) (*PrometheusMetrics, error) {
	m := &PrometheusMetrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "cspm", Subsystem: "relay",
			Name: "events_published_total", Help: "Events the stream acknowledged (duplicate: it held them already)."},
			[]string{"duplicate"}),
		age: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "cspm", Subsystem: "relay",
			Name: "publish_age_seconds", Help: "Time from an event's append to the stream's acknowledgement of it.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "cspm", Subsystem: "relay",
			Name: "lag_events", Help: "Events of the store the stream does not hold yet."}),
	}
	for _, c := range []prometheus.Collector{m.published, m.age, m.lag} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("relay: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Published implements Metrics.
func (m *PrometheusMetrics) Published(age time.Duration, duplicate bool) {
	if duplicate {
		m.published.WithLabelValues("true").Inc()
		return
	}
	m.published.WithLabelValues("false").Inc()
	m.age.Observe(age.Seconds())
}

// Lag implements Metrics.
func (m *PrometheusMetrics) Lag(events int64) { m.lag.Set(float64(events)) }
