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
	st, err := GenerateOCSF(&buf, 1000, Options{Seed: 1, FailRatio: -1, ManualRatio: 0.0001, MutedRatio: 0.0001})
	require.NoError(t, err)
	assert.Equal(t, 0, st.Fail, "FailRatio < 0: no failures")
	st, err = GenerateOCSF(&buf, 1000, Options{Seed: 1, FailRatio: 0.5, ManualRatio: 0.05, MutedRatio: 0.1})
	require.NoError(t, err)
	assert.InDelta(t, 500, st.Fail, 80)
	assert.InDelta(t, 50, st.Manual, 25)
	assert.InDelta(t, 100, st.Muted, 35)
}

func TestIndentMatchesJSONIndent(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"a":[1,2,{"b":"x,y:{z}\"q\\"}],"c":{},"d":[],"e":{"f":null}}`,
		`[]`, `{}`, `[{"k":"v"},{"k":["\u00e9"]}]`,
	} {
		var want bytes.Buffer
		require.NoError(t, json.Indent(&want, []byte(in), "", "    "))
		assert.Equal(t, want.String(), string(indent(nil, []byte(in))), in)
	}
}
