package parsers_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
)

// TestRegistry_Trivy: the registry names, detects and reads Trivy reports
// (through ParseScan), and Parse, which yields cloud-security observations,
// refuses them.
func TestRegistry_Trivy(t *testing.T) {
	var r parsers.Registry
	assert.Contains(t, r.Formats(), "trivy-json")
	assert.Contains(t, r.Formats(), "trivy-legacy")
	for name, want := range map[string]string{"trivy": "trivy-json", "trivy-json": "trivy-json", "TRIVY-LEGACY": "trivy-legacy"} {
		got, err := r.Format(name)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
		assert.True(t, r.IsScanFormat(got))
	}
	assert.False(t, r.IsScanFormat("prowler-ocsf"))

	for file, want := range map[string]string{
		"trivy/testdata/trivy_image_alpine-3.10_registry_with_repodigests.json": "trivy-json",
		"trivy/testdata/ours_legacy_alpine_array.json":                          "trivy-legacy",
	} {
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		got, err := r.Detect(b)
		require.NoError(t, err, file)
		assert.Equal(t, want, got, file)

		n := 0
		_, err = r.ParseScan(context.Background(), strings.NewReader(string(b)), func(trivy.Item) error { n++; return nil })
		require.NoError(t, err)
		assert.Positive(t, n)

		_, err = r.Parse(context.Background(), strings.NewReader(string(b)), want, func(cloudsecurity.Observation) error { return nil })
		assert.True(t, errors.Is(err, parsers.ErrUnknownFormat), "%v", err)
	}
}
