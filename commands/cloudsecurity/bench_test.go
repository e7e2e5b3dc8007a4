package cloudsecurity_test

// Benchmarks of imports (docs/imports.md, "Benchmarks", records the
// figures):
//
//	go test -run '^$' -bench 'Import' -benchtime 1x ./commands/cloudsecurity/
//
// CSPM_BENCH_IMPORT_FINDINGS (default 100,000) sizes the reports: synthetic
// Prowler OCSF reports of ~5.7 KB per finding (prowlergen), written once
// per process into a temporary directory and streamed from disk.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/parsers/prowler/prowlergen"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchReports.dir != "" {
		_ = os.RemoveAll(benchReports.dir)
	}
	os.Exit(code)
}

func benchFindings() int {
	if n, err := strconv.Atoi(os.Getenv("CSPM_BENCH_IMPORT_FINDINGS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// The scan times of the benchmark reports: the first scan, and the same
// scan a day later.
var (
	benchScan1 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	benchScan2 = benchScan1.Add(24 * time.Hour)
)

// benchOptions shape the benchmark reports: 3 accounts × 6 regions × 40
// checks × enough resources that every finding of a report has its own
// identity (prowlergen cycles through them), Prowler's default mix of
// results (30% FAIL, 1% MANUAL, 2% muted, the rest PASS). The same seed
// at another Start is the same scan again: the same results, later.
func benchOptions(n int, start time.Time) prowlergen.Options {
	const accounts, regions, checks = 3, 6, 40
	return prowlergen.Options{Seed: 1, Accounts: accounts, Regions: regions, Checks: checks,
		ResourcesPerCheck: (n + accounts*regions*checks - 1) / (accounts * regions * checks), Start: start}
}

var benchReports struct {
	mu    sync.Mutex
	dir   string
	paths map[string]benchReport
}

type benchReport struct {
	path  string
	stats prowlergen.Stats
}

// report returns a report of n findings scanned at start, written once
// per process.
func report(b *testing.B, n int, start time.Time) benchReport {
	b.Helper()
	benchReports.mu.Lock()
	defer benchReports.mu.Unlock()
	key := fmt.Sprintf("%d-%d", n, start.Unix())
	if r, ok := benchReports.paths[key]; ok {
		return r
	}
	if benchReports.dir == "" {
		dir, err := os.MkdirTemp("", "cspm-import-bench-")
		require.NoError(b, err)
		benchReports.dir, benchReports.paths = dir, map[string]benchReport{}
	}
	path := filepath.Join(benchReports.dir, key+".ocsf.json")
	f, err := os.Create(path)
	require.NoError(b, err)
	began := time.Now()
	st, err := prowlergen.GenerateOCSF(f, n, benchOptions(n, start))
	require.NoError(b, err)
	require.NoError(b, f.Close())
	b.Logf("generated %d findings (%d fail, %d pass, %d manual, %d muted), %.0f MB, in %v: %s",
		st.Findings, st.Fail, st.Pass, st.Manual, st.Muted, float64(st.Bytes)/1e6, time.Since(began).Round(time.Millisecond), path)
	r := benchReport{path: path, stats: st}
	benchReports.paths[key] = r
	return r
}

// benchStore opens an event store as cspm serve does by default
// (synchronous=full) in a directory of its own.
func benchStore(b *testing.B) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "events.sqlite"), sqlite.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	return s
}

var benchMeta = commands.Meta{TeamID: "team-bench", Actor: "bench", CorrelationID: "corr-bench", Route: "bench"}

// importFile imports the report at path into a store and returns what it
// did, timed.
func importFile(b testing.TB, store *sqlite.Store, path string) (cloudsecurity.ImportResult, time.Duration) {
	b.Helper()
	h := cloudsecurity.New(commands.NewKit(store, eventstore.NewDomainCodec(), time.Now)).WithImports(parsersPort{}, store)
	f, err := os.Open(path)
	require.NoError(b, err)
	defer f.Close()
	began := time.Now()
	res, err := h.ImportReport(context.Background(), benchMeta, cloudsecurity.ImportReport{Body: f, FileName: filepath.Base(path)})
	took := time.Since(began)
	require.NoError(b, err)
	require.Equal(b, cloudsecurity.ImportCompleted, res.Status)
	return res, took
}

// ceilingData is the payload of the ceiling's events (~200 bytes, the
// event store benchmarks' typical event).
var ceilingData = json.RawMessage(`{"account_id":"acc-0001","duration_ms":48213,"findings":{"critical":1,"high":7,"low":31,"medium":12},"provider":"aws","region":"eu-west-1","scan_id":"scan-000000001","status":"completed"}`)

// appendCeiling is the store's raw batch-100 append ceiling: AppendBatch of
// 100 one-event requests to new streams, batches back to back for about
// d, on a store of its own; events/s.
func appendCeiling(b *testing.B, d time.Duration) float64 {
	b.Helper()
	s := benchStore(b)
	ctx := context.Background()
	md := eventstore.Metadata{TeamID: benchMeta.TeamID, Actor: benchMeta.Actor, CorrelationID: benchMeta.CorrelationID, CommandID: "cmd-1"}
	events := []eventstore.NewEvent{{Type: "ScanCompleted", SchemaVersion: 1, Data: ceilingData}}
	reqs := make([]eventstore.AppendRequest, 100)
	n := 0
	began := time.Now()
	for i := 0; time.Since(began) < d; i++ {
		for k := range reqs {
			reqs[k] = eventstore.AppendRequest{StreamID: fmt.Sprintf("scan-%d-%d", i, k), StreamType: "scan_run",
				Expected: eventstore.NoStream, Events: events, Metadata: md}
		}
		_, err := s.AppendBatch(ctx, reqs)
		require.NoError(b, err)
		n += len(reqs)
	}
	return float64(n) / time.Since(began).Seconds()
}

// BenchmarkImport imports a report of 100,000 findings (~570 MB of
// Prowler OCSF, streamed from disk) into a new event store, and measures,
// in the same run and on the same kind of store, the store's raw batch-100
// append ceiling (the mean of a measure before and one after the import):
// the goal is findings/s ≥ 0.5 × ceiling events/s
// (x_ceiling ≥ 0.5). It also reports the events the import appended and
// its memory: the peak of the Go heap in use (sampled every 20ms) and the
// process's peak RSS during the import (VmHWM, reset before it).
func BenchmarkImport(b *testing.B) {
	n := benchFindings()
	r := report(b, n, benchScan1)
	b.ResetTimer()
	var ceiling, perSec float64
	var events int
	var heapPeak, rssPeak uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// The ceiling is measured before and after the import (the
		// machine's load drifts), on a store of its own each time.
		ceiling += appendCeiling(b, 2*time.Second) / 2
		store := benchStore(b)
		runtime.GC()
		mem := sampleMemory()
		b.StartTimer()
		res, took := importFile(b, store, r.path)
		b.StopTimer()
		heap, rss := mem()
		heapPeak, rssPeak = max(heapPeak, heap), max(rssPeak, rss)
		require.Equal(b, n, res.Counts.Results)
		perSec += float64(n) / took.Seconds()
		events = res.Events
		ceiling += appendCeiling(b, 2*time.Second) / 2
		b.StartTimer()
	}
	ceiling, perSec = ceiling/float64(b.N), perSec/float64(b.N)
	b.ReportMetric(ceiling, "ceiling_events/s")
	b.ReportMetric(perSec, "findings/s")
	b.ReportMetric(perSec/ceiling, "x_ceiling")
	b.ReportMetric(float64(events), "events/import")
	b.ReportMetric(float64(r.stats.Bytes)/1e6, "report_MB")
	b.ReportMetric(float64(heapPeak)/(1<<20), "peak_heap_MiB")
	if rssPeak > 0 {
		b.ReportMetric(float64(rssPeak)/(1<<20), "peak_rss_MiB")
	}
}

// sampleMemory samples the Go heap in use every 20ms until the returned
// function is called, which stops it and returns the peak heap in use and
// the process's peak RSS since the call (0 where /proc cannot tell: the
// peak is reset through /proc/self/clear_refs, Linux only).
func sampleMemory() func() (heap, rss uint64) {
	rssReset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(stop)
		heap := <-done
		if !rssReset {
			return heap, 0
		}
		return heap, vmHWM()
	}
}

// vmHWM is the process's peak resident set size, in bytes (0 if unknown).
func vmHWM() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// BenchmarkReimportUnchanged imports the same scan twice: a report of
// 100,000 findings, then the same findings scanned a day later (the same
// results, later times). It reports the events the second import appended,
// per 100 of its findings (the goal is ≤ 1) and per 100 of its failing
// ones, and checks, through the real findings projection, that every
// finding's last_seen moved to the second scan while first_seen stayed.
func BenchmarkReimportUnchanged(b *testing.B) {
	n := benchFindings()
	r1, r2 := report(b, n, benchScan1), report(b, n, benchScan2)
	b.ResetTimer()
	var events int
	var perSec float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		store := benchStore(b)
		first, _ := importFile(b, store, r1.path)
		b.StartTimer()
		second, took := importFile(b, store, r2.path)
		b.StopTimer()
		require.NotEqual(b, first.ScanID, second.ScanID)
		events, perSec = second.Events, perSec+float64(n)/took.Seconds()
		if i == 0 {
			b.ReportMetric(float64(requireLastSeenMoved(b, store, first, second)), "findings_checked")
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(events), "events/reimport")
	b.ReportMetric(float64(events)*100/float64(n), "events/100_findings")
	b.ReportMetric(float64(events)*100/float64(r2.stats.Fail), "events/100_failing")
	b.ReportMetric(perSec/float64(b.N), "findings/s")
}
