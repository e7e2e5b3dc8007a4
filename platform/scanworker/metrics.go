package scanworker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the worker's Prometheus metrics.
type Metrics struct {
	jobs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the worker's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cspm_worker_jobs_total", Help: "Scan-job deliveries a worker handled, by tool and outcome.",
		}, []string{"tool", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cspm_worker_job_duration_seconds", Help: "How long a worker spent on a scan job, by tool.",
			Buckets: prometheus.ExponentialBuckets(0.05, 3, 10),
		}, []string{"tool"}),
	}
	for _, c := range []prometheus.Collector{m.jobs, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) observe(tool, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.jobs.WithLabelValues(tool, outcome).Inc()
	if d > 0 {
		m.duration.WithLabelValues(tool).Observe(d.Seconds())
	}
}
