package relay

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cspm-es/cspm-es/platform/metrics"
)

// Metrics receives the relay's measurements; it must be safe for
// concurrent use and fast (it is called once per acknowledged event).
type Metrics interface {
	// Published: the stream acknowledged an event appended age ago
	// (duplicate: it was there already).
	Published(age time.Duration, duplicate bool)
	// Lag sets how many events of the store the stream does not hold yet.
	Lag(events int64)
	// ByReference: an event too large for the bus was published by
	// reference.
	ByReference()
	// Health sets the age of the oldest event not on the bus (0 when none)
	// and whether the relay is stalled.
	Health(lagSeconds float64, stalled bool)
}

type nopMetrics struct{}

func (nopMetrics) Published(time.Duration, bool) {}
func (nopMetrics) Lag(int64)                     {}
func (nopMetrics) ByReference()                  {}
func (nopMetrics) Health(float64, bool)          {}

// PrometheusMetrics exports the relay's measurements:
//
//	cspm_relay_events_published_total{duplicate}  counter
//	cspm_relay_publish_age_seconds                histogram (append → acknowledged by the stream)
//	cspm_relay_lag_events                         gauge
//	cspm_relay_events_by_reference_total          counter (too large for the bus: read from the store)
//	cspm_relay_lag_seconds                        gauge (age of the oldest event not on the bus)
//	cspm_relay_stalled                            gauge (1 while stalled)
type PrometheusMetrics struct {
	published                  *prometheus.CounterVec
	publishedNew, publishedDup prometheus.Counter // its two series, resolved once
	age                        prometheus.Histogram
	lag                        prometheus.Gauge
	byRef                      prometheus.Counter
	lagSecs, stalled           prometheus.Gauge
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
		byRef: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "cspm", Subsystem: "relay",
			Name: "events_by_reference_total", Help: "Events too large for the bus, published by reference (consumers read them from the event store)."}),
		lagSecs: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "cspm", Subsystem: "relay",
			Name: "lag_seconds", Help: "Age of the oldest event of the store not on the bus yet (0 when none)."}),
		stalled: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "cspm", Subsystem: "relay",
			Name: "stalled", Help: "1 while events are pending and the relay has made no progress for longer than the stall timeout."}),
	}
	// A second relay on the same registry shares the collectors there.
	var err error
	if m.published, err = metrics.Register(reg, m.published); err != nil {
		return nil, err
	}
	if m.age, err = metrics.Register(reg, m.age); err != nil {
		return nil, err
	}
	if m.lag, err = metrics.Register(reg, m.lag); err != nil {
		return nil, err
	}
	if m.byRef, err = metrics.Register(reg, m.byRef); err != nil {
		return nil, err
	}
	if m.lagSecs, err = metrics.Register(reg, m.lagSecs); err != nil {
		return nil, err
	}
	if m.stalled, err = metrics.Register(reg, m.stalled); err != nil {
		return nil, err
	}
	m.publishedNew, m.publishedDup = m.published.WithLabelValues("false"), m.published.WithLabelValues("true")
	return m, nil
}

// Published implements Metrics.
func (m *PrometheusMetrics) Published(age time.Duration, duplicate bool) {
	if duplicate {
		m.publishedDup.Inc()
		return
	}
	m.publishedNew.Inc()
	m.age.Observe(age.Seconds())
}

// Lag implements Metrics.
func (m *PrometheusMetrics) Lag(events int64) { m.lag.Set(float64(events)) }

// ByReference implements Metrics.
func (m *PrometheusMetrics) ByReference() { m.byRef.Inc() }

// Health implements Metrics.
func (m *PrometheusMetrics) Health(lagSeconds float64, stalled bool) {
	m.lagSecs.Set(lagSeconds)
	v := 0.0
	if stalled {
		v = 1
	}
	m.stalled.Set(v)
}
