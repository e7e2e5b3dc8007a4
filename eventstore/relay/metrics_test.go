package relay_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore/relay"
)

// Two relays on one registry count into the same series.
func TestPrometheusMetricsShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := relay.NewPrometheusMetrics(reg)
	require.NoError(t, err)
	b, err := relay.NewPrometheusMetrics(reg)
	require.NoError(t, err)
	a.Published(time.Millisecond, false)
	b.Published(time.Millisecond, false)
	b.Published(0, true)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	counts := map[string]float64{}
	var observed uint64
	for _, mf := range mfs {
		switch mf.GetName() {
		case "cspm_relay_events_published_total":
			for _, m := range mf.GetMetric() {
				counts[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		case "cspm_relay_publish_age_seconds":
			observed = mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	assert.Equal(t, map[string]float64{"false": 2, "true": 1}, counts)
	assert.Equal(t, uint64(2), observed, "duplicates have no age")
}
