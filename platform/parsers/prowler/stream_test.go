package prowler

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/prowler/prowlergen"
)

// heapBound is what a parse may add to the heap in use, whatever the
// report's size: one element in the decoder (MaxElementBytes at most),
// the read buffers, the summary, and garbage the collector has not yet
// reclaimed. A parser that read the report whole would exceed it with the
// 50 MB report below.
const heapBound = 16 << 20

// peakHeap samples HeapInuse.
type peakHeap struct {
	base, peak uint64
	startAlloc uint64
	ms         runtime.MemStats
}

func startPeakHeap() *peakHeap {
	p := &peakHeap{}
	runtime.GC()
	runtime.ReadMemStats(&p.ms)
	p.base, p.peak, p.startAlloc = p.ms.HeapInuse, p.ms.HeapInuse, p.ms.TotalAlloc
	return p
}

func (p *peakHeap) sample() {
	runtime.ReadMemStats(&p.ms)
	if p.ms.HeapInuse > p.peak {
		p.peak = p.ms.HeapInuse
	}
}

func (p *peakHeap) growth() uint64 { return p.peak - p.base }

// generate streams a generated report through a pipe: it is never whole
// in memory.
func generate(n int, opt prowlergen.Options) (io.Reader, <-chan prowlergen.Stats) {
	pr, pw := io.Pipe()
	done := make(chan prowlergen.Stats, 1)
	go func() {
		st, err := prowlergen.GenerateOCSF(pw, n, opt)
		pw.CloseWithError(err)
		done <- st
	}()
	return pr, done
}

// Not parallel: it measures the heap.
func TestParse_50MBReportInBoundedHeap(t *testing.T) {
	const findings = 9_200 // about 5.7 KB each: more than 50 MB
	r, done := generate(findings, prowlergen.Options{Seed: 50})
	heap := startPeakHeap()
	n := 0
	sum, err := Parse(t.Context(), r, FormatOCSF, func(o observation) error {
		n++
		if n%250 == 0 {
			heap.sample()
		}
		return nil
	})
	require.NoError(t, err)
	heap.sample()
	st := <-done
	require.GreaterOrEqual(t, st.Bytes, int64(50<<20), "the report is 50 MB or more")

	assert.Equal(t, st.Findings, sum.Observations)
	assert.Equal(t, Counts{Fail: st.Fail, Pass: st.Pass, Manual: st.Manual, Muted: st.Muted}, sum.Results)
	assert.Len(t, sum.Accounts, 3)
	assert.Len(t, sum.ScanIDs, 3, "one scan id per account, as Prowler writes them")
	assert.Len(t, sum.ByCheck, 40)
	assert.Less(t, heap.growth(), uint64(heapBound), "heap growth while parsing %d MB", st.Bytes>>20)
	allocated := heap.ms.TotalAlloc - heap.startAlloc
	t.Logf("report %.1f MB, %d findings: heap in use grew by at most %.1f MiB; %.1f KB allocated per finding (parser and generator)",
		float64(st.Bytes)/1e6, st.Findings, float64(heap.growth())/(1<<20), float64(allocated)/float64(st.Findings)/1e3)
}

// endless yields prefix, then filler forever.
type endless struct {
	prefix []byte
	filler byte
	read   int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := copy(p, e.prefix)
	e.prefix = e.prefix[n:]
	for i := n; i < len(p); i++ {
		p[i] = e.filler
	}
	e.read += int64(len(p))
	return len(p), nil
}

// An element that never ends is cut at the limit: the parser stops
// reading shortly after MaxElementBytes and does not grow a buffer to the
// size of the input.
func TestParse_EndlessElementStopsAtTheLimit(t *testing.T) {
	for _, tc := range []struct {
		format Format
		prefix string
	}{
		{FormatOCSF, `[` + okOCSF + `,{"message":"`},
		{FormatASFF, `[{"Id":"`},
		{FormatCSV, csvHeader + okCSVRow + `x;2025-02-14 14:27:03;1;u;aws;c;FAIL;"`},
		{FormatCSV, csvHeader + strings.Repeat("y", 100)},
	} {
		src := &endless{prefix: []byte(tc.prefix), filler: 'x'}
		heap := startPeakHeap()
		_, err := Parse(t.Context(), src, tc.format, func(observation) error { return nil })
		heap.sample()
		require.ErrorIs(t, err, ErrTooLarge, tc.format)
		assert.Less(t, src.read, int64(MaxElementBytes+1<<20), "%s: stopped reading near the limit", tc.format)
		allocated := heap.ms.TotalAlloc - heap.startAlloc
		// Buffers double up to the limit: a bounded total, although the
		// input never ends.
		assert.Less(t, allocated, uint64(10*MaxElementBytes), "%s: allocated %d MiB", tc.format, allocated>>20)
	}
}

var (
	streamMB   = flag.Int("prowler.stream-mb", 64, "size in MB of the report BenchmarkParseOCSFStream generates and parses")
	streamFile = flag.String("prowler.stream-file", "", "a json-ocsf report BenchmarkParseOCSFStream parses instead of generating one")
)

// BenchmarkParseOCSF parses an in-memory generated report of 20,000
// findings (~114 MB; the generator is not measured).
func BenchmarkParseOCSF(b *testing.B) {
	var buf bytes.Buffer
	st, err := prowlergen.GenerateOCSF(&buf, 20_000, prowlergen.Options{Seed: 1})
	require.NoError(b, err)
	raw := buf.Bytes()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sum, err := Parse(context.Background(), bytes.NewReader(raw), FormatOCSF, func(observation) error { return nil })
		if err != nil || sum.Observations != st.Findings {
			b.Fatalf("parse: %v, %d observations", err, sum.Observations)
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(len(raw))*float64(b.N)/1e6/secs, "MB/s")
	b.ReportMetric(float64(st.Findings)*float64(b.N)/secs, "obs/s")
}

// BenchmarkParseOCSFStream parses a large report as a stream and reports
// throughput and the peak heap growth: a report of -prowler.stream-mb MB
// generated through a pipe (generator included in the figures), or the
// file -prowler.stream-file (parser alone). Run once for large sizes:
//
//	go run ./platform/parsers/prowler/prowlergen/cmd/prowlergen -mb 500 -o /tmp/r500.ocsf.json
//	go test -c -o /tmp/prowler.test ./platform/parsers/prowler
//	/usr/bin/time -v /tmp/prowler.test -test.run '^$' -test.bench BenchmarkParseOCSFStream \
//	    -test.benchtime 1x -prowler.stream-file /tmp/r500.ocsf.json
func BenchmarkParseOCSFStream(b *testing.B) {
	for b.Loop() {
		var r io.Reader
		var size int64
		want := -1
		var done <-chan prowlergen.Stats
		if *streamFile != "" {
			f, err := os.Open(*streamFile)
			require.NoError(b, err)
			defer f.Close()
			fi, err := f.Stat()
			require.NoError(b, err)
			r, size = f, fi.Size()
		} else {
			r, done = generate(*streamMB*1_000_000/prowlergen.AverageFindingBytes, prowlergen.Options{Seed: 500})
		}
		heap := startPeakHeap()
		n := 0
		sum, err := Parse(context.Background(), r, FormatOCSF, func(observation) error {
			n++
			if n%1000 == 0 {
				heap.sample()
			}
			return nil
		})
		if done != nil {
			st := <-done
			want, size = st.Findings, st.Bytes
		}
		if err != nil || (want >= 0 && sum.Observations != want) {
			b.Fatalf("parse: %v, %d observations (want %d)", err, sum.Observations, want)
		}
		secs := b.Elapsed().Seconds()
		b.ReportMetric(float64(size)/1e6, "report-MB")
		b.ReportMetric(float64(size)/1e6/secs, "MB/s")
		b.ReportMetric(float64(sum.Observations)/secs, "obs/s")
		b.ReportMetric(float64(heap.growth())/(1<<20), "peak-heap-growth-MiB")
	}
}
