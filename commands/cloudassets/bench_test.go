package cloudassets_test

// The inventory import's benchmark (docs/assets.md, docs/imports.md
// "Benchmarks" record the figures):
//
//	go test -run '^$' -bench SteampipeImport -benchtime 1x ./commands/cloudassets/
//
// CSPM_BENCH_STEAMPIPE_ROWS (default 100,000) sizes the report: a
// Steampipe envelope of aws_s3_bucket rows (~1 KB each: arn, akas,
// account, region, tags, tags_src, policy, versioning, _ctx) over 10
// accounts × 6 regions, written once into a temporary directory and
// streamed from disk.

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
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/cloudassets"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
)

func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("CSPM_BENCH_STEAMPIPE_ROWS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// writeEnvelope writes n bucket rows as `steampipe query --output json`
// (v0.24+) does.
func writeEnvelope(b *testing.B, path string, n int) int64 {
	f, err := os.Create(path)
	require.NoError(b, err)
	w := bufio.NewWriterSize(f, 1<<20)
	regions := []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "sa-east-1"}
	fmt.Fprint(w, `{"columns":[{"name":"name","data_type":"text"},{"name":"arn","data_type":"text"},{"name":"account_id","data_type":"text"},{"name":"region","data_type":"text"},{"name":"akas","data_type":"jsonb"},{"name":"tags","data_type":"jsonb"},{"name":"tags_src","data_type":"jsonb"},{"name":"policy","data_type":"jsonb"},{"name":"versioning_enabled","data_type":"bool"},{"name":"_ctx","data_type":"jsonb"}],"rows":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			w.WriteByte(',')
		}
		name := fmt.Sprintf("acme-bucket-%07d", i)
		arn := "arn:aws:s3:::" + name
		acct := fmt.Sprintf("1111%08d", i%10)
		row := map[string]any{
			"name": name, "arn": arn, "account_id": acct, "region": regions[(i/10)%len(regions)], "akas": []string{arn},
			"tags":     map[string]string{"env": []string{"prod", "dev", "staging"}[i%3], "owner": fmt.Sprintf("team-%d", i%17), "cost_center": fmt.Sprint(1000 + i%50)},
			"tags_src": []map[string]string{{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": fmt.Sprintf("team-%d", i%17)}},
			"policy": map[string]any{"Version": "2012-10-17", "Statement": []map[string]any{{"Effect": "Allow", "Principal": map[string]string{"AWS": "arn:aws:iam::" + acct + ":root"},
				"Action": "s3:GetObject", "Resource": arn + "/*"}}},
			"versioning_enabled": i%2 == 0,
			"_ctx":               map[string]any{"connection_name": "aws_" + acct, "steampipe": map[string]string{"sdk_version": "5.10.0"}},
		}
		raw, err := json.Marshal(row)
		require.NoError(b, err)
		w.Write(raw)
	}
	fmt.Fprint(w, `],"metadata":{"Duration":123456789,"rows_returned":`+strconv.Itoa(n)+`}}`)
	require.NoError(b, w.Flush())
	st, err := f.Stat()
	require.NoError(b, err)
	require.NoError(b, f.Close())
	return st.Size()
}

// appendCeiling is the store's raw batch-100 append ceiling (events/s of
// ~200-byte events), measured for d on a store of its own.
func appendCeiling(b *testing.B, d time.Duration) float64 {
	s := benchStore(b)
	ctx := context.Background()
	md := eventstore.Metadata{TeamID: "team-bench", Actor: "bench", CorrelationID: "corr", CommandID: "cmd-1"}
	data := json.RawMessage(`{"account_id":"acc-0001","duration_ms":48213,"findings":{"critical":1,"high":7,"low":31,"medium":12},"provider":"aws","region":"eu-west-1","scan_id":"scan-000000001","status":"completed"}`)
	events := []eventstore.NewEvent{{Type: "ScanCompleted", SchemaVersion: 1, Data: data}}
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

func benchStore(b *testing.B) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "events.sqlite"), sqlite.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkSteampipeImport imports an envelope of 100,000 rows into a new
// event store (synchronous=full, as cspm serve), and reports rows/s, the
// events appended, MB/s, the peak Go heap and the process's peak RSS
// during the import, and, as the baseline measured in the same run, the
// store's batch-100 append ceiling in events/s (before and after).
func BenchmarkSteampipeImport(b *testing.B) {
	n := benchRows()
	path := filepath.Join(b.TempDir(), "buckets.json")
	size := writeEnvelope(b, path, n)
	b.Logf("%d rows, %.1f MB", n, float64(size)/1e6)
	b.ResetTimer()
	var ceiling, perSec float64
	var events int
	var heapPeak, rssPeak uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ceiling += appendCeiling(b, 2*time.Second) / 2
		store := benchStore(b)
		h := cloudassets.New(commands.NewKit(store, eventstore.NewDomainCodec(), time.Now), parsersPort{}, store)
		f, err := os.Open(path)
		require.NoError(b, err)
		runtime.GC()
		mem := sampleMemory()
		b.StartTimer()
		began := time.Now()
		res, err := h.ImportInventory(context.Background(), commands.Meta{TeamID: "team-bench", Actor: "bench", CorrelationID: "c", Route: "bench"},
			cloudassets.ImportInventory{Format: "steampipe-json", Table: "aws_s3_bucket", Sync: "complete", Body: f})
		took := time.Since(began)
		b.StopTimer()
		heap, rss := mem()
		_ = f.Close()
		require.NoError(b, err)
		require.Equal(b, n, res.Counts.Assets)
		heapPeak, rssPeak = max(heapPeak, heap), max(rssPeak, rss)
		perSec += float64(n) / took.Seconds()
		events = res.Events
		ceiling += appendCeiling(b, 2*time.Second) / 2
		b.StartTimer()
	}
	ceiling, perSec = ceiling/float64(b.N), perSec/float64(b.N)
	b.ReportMetric(perSec, "rows/s")
	b.ReportMetric(ceiling, "ceiling_events/s")
	b.ReportMetric(float64(events), "events/import")
	b.ReportMetric(float64(size)/1e6, "report_MB")
	b.ReportMetric(float64(heapPeak)/(1<<20), "peak_heap_MiB")
	if rssPeak > 0 {
		b.ReportMetric(float64(rssPeak)/(1<<20), "peak_rss_MiB")
	}
}

// sampleMemory samples the Go heap in use every 20ms until the returned
// function is called; it returns the peak heap and the process's peak RSS
// since the call (VmHWM, reset through /proc/self/clear_refs; 0 where it
// cannot be).
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

func vmHWM() uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
