package probe_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/probe"
)

// FuzzParse: whatever the bytes, Parse either rejects them whole (an
// ErrBroken, nothing emitted) or emits observations the import accepts
// (ResultOf and CheckInfoOf do not refuse them); Detect never panics.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		f.Add(raw[:len(raw)/2])
	}
	for _, s := range []string{"", "{}", "null", `{"format":"cspm-probe-json","version":1}`, `[]`,
		`{"format":"cspm-probe-json","version":1,"probe":"tls","target":"h\u0001:1","started_at":"2026-06-01T12:00:00Z","results":[{"check":"x","result":"pass","cookie":"\t","evidence":"\u0000"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = probe.Detect(data)
		n := 0
		sum, err := probe.Parse(context.Background(), bytes.NewReader(data), func(o cloudsecurity.Observation) error {
			n++
			if _, err := cloudsecurity.ResultOf(o); err != nil {
				t.Fatalf("observation the import refuses: %v (%+v)", err, o)
			}
			if _, err := cloudsecurity.CheckInfoOf(o); err != nil {
				t.Fatalf("check the import refuses: %v (%+v)", err, o)
			}
			return nil
		})
		if err != nil {
			if !errors.Is(err, probe.ErrBroken) {
				t.Fatalf("not an ErrBroken: %v", err)
			}
			if n != 0 {
				t.Fatalf("%d observations emitted from a rejected report", n)
			}
			return
		}
		if sum.Results != n {
			t.Fatalf("summary says %d, emitted %d", sum.Results, n)
		}
	})
}
