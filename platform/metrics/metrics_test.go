package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/metrics"
)

func TestRegisterReusesTheCollectorAlreadyRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.GaugeOpts{Name: "test_gauge", Help: "a gauge"}
	first, err := metrics.Register(reg, prometheus.NewGaugeVec(opts, []string{"l"}))
	require.NoError(t, err)
	second, err := metrics.Register(reg, prometheus.NewGaugeVec(opts, []string{"l"}))
	require.NoError(t, err)
	assert.Same(t, first, second, "the second registration gets the first collector")

	_, err = metrics.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "test_gauge", Help: "another help"}, []string{"l"}))
	assert.Error(t, err, "a clash that is not the same description is an error")
}
