package prowlergen

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGenerateOCSF_DeterministicAndValid(t *testing.T) {
	t.Parallel()
	var a, b bytes.Buffer
	stA, err := GenerateOCSF(&a, 500, Options{Seed: 7})
	require.NoError(t, err)
	stB, err := GenerateOCSF(&b, 500, Options{Seed: 7})
	require.NoError(t, err)
	assert.Equal(t, a.Bytes(), b.Bytes(), "same options, same bytes")
	assert.Equal(t, stA, stB)
	assert.Equal(t, int64(a.Len()), stA.Bytes)
	assert.Equal(t, 500, stA.Findings)
	assert.Equal(t, stA.Findings, stA.Fail+stA.Pass+stA.Manual)

	var els []map[string]any
	require.NoError(t, json.Unmarshal(a.Bytes(), &els), "a JSON array")
	require.Len(t, els, 500)
	per := float64(a.Len()) / 500
	assert.True(t, per >= 3000 && per <= 6000, "realistic size: %.0f bytes per finding", per)

	var c bytes.Buffer
	_, err = GenerateOCSF(&c, 500, Options{Seed: 8})
	require.NoError(t, err)
	assert.NotEqual(t, a.Bytes(), c.Bytes(), "another seed, another report")
}

func TestGenerateOCSF_Mix(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	st, err := GenerateOCSF(&buf, 2000, Options{Seed: 1, FailRatio: -1, ManualRatio: 0.0001, MutedRatio: 0.0001})
	require.NoError(t, err)
	assert.Equal(t, 0, st.Fail, "FailRatio < 0: no failures")
	st, err = GenerateOCSF(&buf, 2000, Options{Seed: 1, FailRatio: 0.5})
	require.NoError(t, err)
	assert.InDelta(t, 1000, st.Fail, 120)
	assert.InDelta(t, 20, st.Manual, 15)
	assert.InDelta(t, 40, st.Muted, 25)
}
