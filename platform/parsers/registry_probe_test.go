package parsers_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers"
)

// TestRegistry_Probe: the registry names, detects and reads the built-in
// checks' reports (cspm-probe-json) as cloud-security observations.
func TestRegistry_Probe(t *testing.T) {
	var r parsers.Registry
	assert.Contains(t, r.Formats(), "cspm-probe-json")
	for _, name := range []string{"cspm-probe-json", "CSPM-PROBE", " cspm-probe-json "} {
		got, err := r.Format(name)
		require.NoError(t, err, name)
		assert.Equal(t, "cspm-probe-json", got, name)
	}
	raw, err := os.ReadFile("probe/testdata/tls_v1.json")
	require.NoError(t, err)
	f, err := r.Detect(raw)
	require.NoError(t, err)
	assert.Equal(t, "cspm-probe-json", f)

	n := 0
	info, err := r.Parse(context.Background(), bytes.NewReader(raw), f, func(o cloudsecurity.Observation) error {
		n++
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, parsers.Info{Format: "cspm-probe-json", Tool: "cspm-probe", ToolVersion: "1.0"}, info)
	assert.Equal(t, 8, n)
}
