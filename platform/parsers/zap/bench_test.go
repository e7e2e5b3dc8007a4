package zap

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// BenchmarkParse reads the 2021-12-01 report (161 KB, 809 instances, 56
// findings) again and again.
func BenchmarkParse(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", dec01))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	n := 0
	for b.Loop() {
		if _, err := Parse(context.Background(), bytes.NewReader(raw), func(cloudsecurity.Observation) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "findings/s")
}
