package projections

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cspm-es/cspm-es/platform/metrics"
)

// Metrics receives the runtime's measurements. Implementations must be
// safe for concurrent use and fast (they are called on the hot path).
type Metrics interface {
	// Committed: a live batch of events was committed (events is 0 for
	// the commit that parks one).
	Committed(projection string, events int, took time.Duration)
	// Skipped: deliveries at or below the checkpoint were skipped (redeliveries).
	Skipped(projection string, events int)
	// EventParked: an event was parked.
	EventParked(projection string)
	// Parked sets the number of parked events of a projection.
	Parked(projection string, total int)
	// Lag sets how many events of the stream a projection has not processed.
	Lag(projection string, events int64)
	// LagSeconds sets the age of the oldest event a projection has not
	// processed (0 when caught up) and whether it is stalled.
	LagSeconds(projection string, seconds float64, stalled bool)
	// Visible: an event appended age ago is now in a projection's read
	// model (observed by the live loop for each event it commits).
	Visible(projection string, age time.Duration)
}

type nopMetrics struct{}

func (nopMetrics) Committed(string, int, time.Duration) {}
func (nopMetrics) Skipped(string, int)                  {}
func (nopMetrics) EventParked(string)                   {}
func (nopMetrics) Parked(string, int)                   {}
func (nopMetrics) Lag(string, int64)                    {}
func (nopMetrics) LagSeconds(string, float64, bool)     {}
func (nopMetrics) Visible(string, time.Duration)        {}

// PrometheusMetrics exports the runtime's measurements:
//
//	cspm_projection_events_applied_total{projection}   counter
//	cspm_projection_events_skipped_total{projection}   counter (redeliveries)
//	cspm_projection_batch_commit_seconds{projection}   histogram
//	cspm_projection_lag_events{projection}             gauge
//	cspm_projection_lag_seconds{projection}            gauge (age of the oldest event not processed)
//	cspm_projection_stalled{projection}                gauge (1 while stalled)
//	cspm_projection_parked_events{projection}          gauge
//	cspm_projection_event_age_seconds{projection}      histogram (append → committed in the read model)
//	cspm_projection_store_catchups_total{projection}   counter (catch-ups from the event store: the bus no longer held the events)
//	cspm_projection_store_catchup_events_total{projection} counter (events read from the store by them)
type PrometheusMetrics struct {
	catchUps      *prometheus.CounterVec
	catchUpEvents *prometheus.CounterVec
	age           *prometheus.HistogramVec
	applied       *prometheus.CounterVec
	skipped       *prometheus.CounterVec
	commit        *prometheus.HistogramVec
	lag           *prometheus.GaugeVec
	lagSecs       *prometheus.GaugeVec
	stalled       *prometheus.GaugeVec
	parked        *prometheus.GaugeVec
}

// NewPrometheusMetrics registers the collectors on reg (reusing ones
// already registered there, for several runtimes on one registry).
func NewPrometheusMetrics(reg prometheus.Registerer) (*PrometheusMetrics, error) {
	labels := []string{"projection"}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "cspm", Subsystem: "projection", Name: name, Help: help}
	}
	m := &PrometheusMetrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts(opts("events_applied_total",
			"Events committed into a projection's read model by its live loop.")), labels),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts(opts("events_skipped_total",
			"Deliveries skipped because the projection had applied them already.")), labels),
		commit: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "cspm", Subsystem: "projection", Name: "batch_commit_seconds",
			Help:    "Time to commit one live batch with its checkpoint.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, labels),
		age: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "cspm", Subsystem: "projection", Name: "event_age_seconds",
			Help:    "Time from an event's append to its commit in the projection's read model (live loop).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, labels),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("lag_events",
			"Events of the stream a projection has not processed yet.")), labels),
		lagSecs: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("lag_seconds",
			"Age of the oldest event a projection has not processed yet (0 when caught up).")), labels),
		stalled: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("stalled",
			"1 while a projection has events pending and has made no progress for longer than the stall timeout.")), labels),
		parked: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("parked_events",
			"Events a projection parked after repeated failures.")), labels),
	}
	m.catchUps = prometheus.NewCounterVec(prometheus.CounterOpts(opts("store_catchups_total",
		"Catch-ups from the event store: the projection was behind the first message the bus still held (retention).")), labels)
	m.catchUpEvents = prometheus.NewCounterVec(prometheus.CounterOpts(opts("store_catchup_events_total",
		"Events read from the event store by catch-ups (the bus no longer held them).")), labels)
	var err error
	if m.catchUps, err = metrics.Register(reg, m.catchUps); err != nil {
		return nil, err
	}
	if m.catchUpEvents, err = metrics.Register(reg, m.catchUpEvents); err != nil {
		return nil, err
	}
	if m.applied, err = metrics.Register(reg, m.applied); err != nil {
		return nil, err
	}
	if m.skipped, err = metrics.Register(reg, m.skipped); err != nil {
		return nil, err
	}
	if m.commit, err = metrics.Register(reg, m.commit); err != nil {
		return nil, err
	}
	if m.age, err = metrics.Register(reg, m.age); err != nil {
		return nil, err
	}
	if m.lag, err = metrics.Register(reg, m.lag); err != nil {
		return nil, err
	}
	if m.lagSecs, err = metrics.Register(reg, m.lagSecs); err != nil {
		return nil, err
	}
	if m.stalled, err = metrics.Register(reg, m.stalled); err != nil {
		return nil, err
	}
	if m.parked, err = metrics.Register(reg, m.parked); err != nil {
		return nil, err
	}
	return m, nil
}

// Committed implements Metrics.
func (m *PrometheusMetrics) Committed(projection string, events int, took time.Duration) {
	m.applied.WithLabelValues(projection).Add(float64(events))
	m.commit.WithLabelValues(projection).Observe(took.Seconds())
}

// Skipped implements Metrics.
func (m *PrometheusMetrics) Skipped(projection string, events int) {
	m.skipped.WithLabelValues(projection).Add(float64(events))
}

// LagSeconds implements Metrics.
func (m *PrometheusMetrics) LagSeconds(projection string, seconds float64, stalled bool) {
	m.lagSecs.WithLabelValues(projection).Set(seconds)
	v := 0.0
	if stalled {
		v = 1
	}
	m.stalled.WithLabelValues(projection).Set(v)
}

// EventParked implements Metrics.
func (m *PrometheusMetrics) EventParked(projection string) {
	m.parked.WithLabelValues(projection).Inc()
}

// Parked implements Metrics.
func (m *PrometheusMetrics) Parked(projection string, total int) {
	m.parked.WithLabelValues(projection).Set(float64(total))
}

// Lag implements Metrics.
func (m *PrometheusMetrics) Lag(projection string, events int64) {
	m.lag.WithLabelValues(projection).Set(float64(events))
}

// Visible implements Metrics.
func (m *PrometheusMetrics) Visible(projection string, age time.Duration) {
	m.age.WithLabelValues(projection).Observe(age.Seconds())
}

// catchUpMetrics is what a Metrics may also count: catch-ups from the
// event store (docs/decisions.md 104). It is optional so that other
// implementations of Metrics need not change.
type catchUpMetrics interface {
	// StoreCatchUp: a catch-up from the store read events events.
	StoreCatchUp(projection string, events int64)
}

// StoreCatchUp implements catchUpMetrics.
func (m *PrometheusMetrics) StoreCatchUp(projection string, events int64) {
	m.catchUps.WithLabelValues(projection).Inc()
	m.catchUpEvents.WithLabelValues(projection).Add(float64(events))
}
