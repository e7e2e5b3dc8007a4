package trivy_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
)

// sortedKeys re-encodes a report with every object's keys sorted (what jq -S or a Python json.dumps(sort_keys=True)
// does): Results come before SchemaVersion, and a result's Packages, Misconfigurations and Secrets before its Target.
func sortedKeys(t *testing.T, data []byte) []byte {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v))
	out, err := json.Marshal(v) // maps are encoded with sorted keys
	require.NoError(t, err)
	return out
}

// TestOrder_SortedKeysGiveTheSameItems: Trivy writes the header before the lists; a report whose keys were sorted
// gives the same items and summary (items of a result whose Target comes late are held, then emitted).
func TestOrder_SortedKeysGiveTheSameItems(t *testing.T) {
	for _, name := range allSamples {
		t.Run(name, func(t *testing.T) {
			want, wantSum := mustParse(t, name)
			got, gotSum, err := parseAll(t, sortedKeys(t, sample(t, name)))
			require.NoError(t, err)
			assert.Equal(t, len(want), len(got))
			// The same items, perhaps in another order within a result (Packages/Secrets moved)
			key := func(it trivy.Item) string { b, _ := json.Marshal(it); return string(b) }
			w, g := map[string]int{}, map[string]int{}
			for _, it := range want {
				w[key(it)]++
			}
			for _, it := range got {
				g[key(it)]++
			}
			assert.Equal(t, w, g)
			assert.True(t, reflect.DeepEqual(wantSum, gotSum), "summary\nwant %+v\ngot  %+v", wantSum, gotSum)
		})
	}
}

func TestDetect(t *testing.T) {
	for _, name := range allSamples {
		f, ok := trivy.Detect(sample(t, name)[:min(512, len(sample(t, name)))])
		assert.True(t, ok, name)
		want := trivy.FormatJSON
		if name == legacy {
			want = trivy.FormatLegacy
		}
		assert.Equal(t, want, f, name)
	}
	for _, other := range []string{`[{"status_code":"FAIL"}]`, `{"title":"CISA Catalog","vulnerabilities":[]}`, `{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{"SchemaVersion":1}]}`, ``, `[]`} {
		_, ok := trivy.Detect([]byte(other))
		assert.False(t, ok, other)
	}
}
