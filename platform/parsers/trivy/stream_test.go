package trivy_test

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy/trivygen"
)

// heapBound is what a parse may add to the heap in use whatever the report's size: one element in the decoder, the
// read buffers, the summary's sets (distinct ids and packages), and garbage not yet reclaimed. Reading the 50 MB
// report below whole would exceed it.
const heapBound = 16 << 20

// generate streams a generated report through a pipe: it is never whole in memory.
func generate(o trivygen.Options) (io.Reader, <-chan trivygen.Stats) {
	pr, pw := io.Pipe()
	done := make(chan trivygen.Stats, 1)
	go func() {
		st, err := trivygen.Write(pw, o)
		pw.CloseWithError(err)
		done <- st
	}()
	return pr, done
}

// Not parallel: it measures the heap.
func TestStream_50MBReportInBoundedHeap(t *testing.T) {
	const occurrences = 36_000
	r, done := generate(trivygen.Options{Seed: 50, Occurrences: occurrences, Vulnerabilities: 5_000})
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	n := 0
	sum, err := trivy.Parse(t.Context(), r, func(trivy.Item) error {
		if n++; n%200 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		return nil
	})
	require.NoError(t, err)
	st := <-done
	require.GreaterOrEqual(t, st.Bytes, int64(50<<20), "the report is 50 MB or more (%d)", st.Bytes)
	assert.Equal(t, occurrences, n)
	assert.Equal(t, occurrences, sum.Vulnerabilities)
	assert.Equal(t, 5_000, sum.DistinctVulnerabilities)
	t.Logf("report %.1f MB, heap growth %.1f MiB", float64(st.Bytes)/1e6, float64(peak-base)/(1<<20))
	assert.Less(t, peak-base, uint64(heapBound))
}

// BenchmarkParse: a 10,000-occurrence report (about 15 MB) from memory.
func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	st, err := trivygen.Write(&buf, trivygen.Options{Seed: 1, Occurrences: 10_000})
	require.NoError(b, err)
	b.SetBytes(st.Bytes)
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if _, err := trivy.Parse(b.Context(), bytes.NewReader(buf.Bytes()), func(trivy.Item) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Occurrences)*float64(b.N)/b.Elapsed().Seconds(), "occurrences/s")
}
