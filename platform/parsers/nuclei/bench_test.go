package nuclei

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// BenchmarkParse reads the DVWA subset (81 KB, 14 lines with raw requests
// and responses, cut to 1 KiB each) again and again.
func BenchmarkParse(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "nuclei_v3_2026_dvwa_subset.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	n := 0
	for b.Loop() {
		if _, err := Parse(context.Background(), bytes.NewReader(raw), FormatJSONL, func(cloudsecurity.Observation) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "results/s")
}
