package trivygen_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy/trivygen"
)

func TestGenerated_ParsesWithTheCountsAsked(t *testing.T) {
	var a, b bytes.Buffer
	st, err := trivygen.Write(&a, trivygen.Options{Seed: 1, Occurrences: 1_000})
	require.NoError(t, err)
	_, err = trivygen.Write(&b, trivygen.Options{Seed: 1, Occurrences: 1_000})
	require.NoError(t, err)
	assert.Equal(t, a.Bytes(), b.Bytes(), "deterministic")
	n := 0
	sum, err := trivy.Parse(t.Context(), bytes.NewReader(a.Bytes()), func(trivy.Item) error { n++; return nil })
	require.NoError(t, err)
	assert.Equal(t, 1_000, n)
	assert.Equal(t, 1_000, sum.Vulnerabilities)
	assert.Equal(t, st.ImageID, sum.Artifact.ImageID)
	assert.Equal(t, st.Bytes, int64(a.Len()))
}
