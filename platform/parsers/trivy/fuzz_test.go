package trivy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
)

// FuzzParse: any input parses or is rejected with a *ParseError; never a panic, and every item emitted holds exactly
// the pointer its kind says.
func FuzzParse(f *testing.F) {
	for _, name := range allSamples {
		f.Add(sample(f, name))
	}
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"SchemaVersion":2,"ArtifactType":"filesystem"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := trivy.Parse(context.Background(), bytes.NewReader(data), func(it trivy.Item) error {
			set := 0
			for _, p := range []bool{it.Vulnerability != nil, it.Package != nil, it.Misconfiguration != nil, it.Secret != nil} {
				if p {
					set++
				}
			}
			if set != 1 {
				b, _ := json.Marshal(it)
				t.Fatalf("item %s holds %d values", b, set)
			}
			return nil
		})
		var pe *trivy.ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("not a *ParseError: %v", err)
		}
	})
}
