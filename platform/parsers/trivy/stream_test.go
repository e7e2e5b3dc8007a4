package trivy_test

import (
	"bytes"
	"io"
	"runtime"
	"strings"
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

// endless is a report whose one vulnerability never ends.
type endless struct {
	head []byte
	n    int64
}

func (e *endless) Read(p []byte) (int, error) {
	if len(e.head) > 0 {
		n := copy(p, e.head)
		e.head = e.head[n:]
		e.n += int64(n)
		return n, nil
	}
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestLimits_EndlessElementStopsAtTheLimit(t *testing.T) {
	e := &endless{head: []byte(`{"SchemaVersion":2,"ArtifactType":"filesystem","Results":[{"Target":"x","Class":"lang-pkgs","Type":"npm","Vulnerabilities":[{"Title":"`)}
	_, err := trivy.Parse(t.Context(), e, func(trivy.Item) error { return nil })
	requireParseError(t, err, trivy.ErrTooLarge)
	assert.Less(t, e.n, int64(trivy.MaxElementBytes+(1<<20)), "read %d bytes", e.n)
}

func TestLimits_LongIdentifier(t *testing.T) {
	report := strings.Replace(string(sample(t, jar)), `"PkgName": "org.apache.tomcat:tomcat-catalina"`, `"PkgName": "`+strings.Repeat("a", trivy.MaxIdentifierBytes+1)+`"`, 1)
	_, _, err := parseAll(t, []byte(report))
	pe := requireParseError(t, err, trivy.ErrTooLarge)
	assert.Equal(t, "PkgName", pe.Field)
}

func TestLimits_HeldItems(t *testing.T) {
	// A result whose Target comes after more than MaxHeldItems secrets
	var b bytes.Buffer
	b.WriteString(`{"SchemaVersion":2,"ArtifactType":"filesystem","Results":[{"Class":"secret","Secrets":[`)
	for i := 0; i <= trivy.MaxHeldItems; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"RuleID":"r","Severity":"LOW","StartLine":1,"EndLine":1}`)
	}
	b.WriteString(`],"Target":"f"}]}`)
	_, _, err := parseAll(t, b.Bytes())
	requireParseError(t, err, trivy.ErrTooLarge)
	// One fewer is held and emitted once the Target is read
	held := bytes.Replace(b.Bytes(), []byte(`{"RuleID":"r","Severity":"LOW","StartLine":1,"EndLine":1},`), nil, 1)
	items, _, err := parseAll(t, held)
	require.NoError(t, err)
	require.Len(t, items, trivy.MaxHeldItems)
	assert.Equal(t, "f", items[0].Secret.Target)
}

func TestLimits_HugeArrayOfUnreadValuesIsSkippedInBoundedMemory(t *testing.T) {
	// Licenses (not read) with many elements: skipped token by token
	var b bytes.Buffer
	b.WriteString(`{"SchemaVersion":2,"ArtifactType":"filesystem","Results":[{"Target":"f","Class":"license","Licenses":[`)
	for i := 0; i < 100_000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"Severity":"LOW","Name":"MIT","PkgName":"p"}`)
	}
	b.WriteString(`]}]}`)
	_, s, err := parseAll(t, b.Bytes())
	require.NoError(t, err)
	assert.Equal(t, 1, s.SkippedResults)
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
