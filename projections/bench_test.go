package projections_test

// Benchmarks (docs/projections-runtime.md records the figures):
//
//	go test -run '^$' -bench . -benchtime 1x ./projections/
//
// CSPM_BENCH_LIVE_EVENTS (default 100000) and CSPM_BENCH_REBUILD_EVENTS
// (default 1000000) size them. The rebuild's event store is built once and
// kept in os.TempDir() (cspm-projections-bench-<count>.sqlite).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

func benchCount(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// appendBench appends n events to store: streams of perStream increments,
// appended perStream events at a time, teams team-0..9.
func appendBench(b *testing.B, store eventstore.Store, codec *eventstore.Codec, n, perStream int) {
	b.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += perStream {
		k := min(perStream, n-i)
		s := i / perStream
		req := eventstore.AppendRequest{StreamID: fmt.Sprintf("bench-%07d", s), StreamType: pt.StreamType,
			Expected: eventstore.NoStream, Metadata: eventstore.Metadata{TeamID: fmt.Sprintf("team-%d", s%10), Actor: "bench"}}
		for j := range k {
			ne, err := codec.Encode(pt.Incremented{By: int64(1 + (i+j)%7)})
			require.NoError(b, err)
			req.Events = append(req.Events, ne)
		}
		_, err := store.Append(ctx, req)
		require.NoError(b, err)
	}
}

// BenchmarkLive measures the live loop: N events are in the stream before
// the runtime starts; the clock runs from Start until the projection has
// processed them all. raw is the floor: the same documents committed
// straight into a read-model store in batches of the same size.
func BenchmarkLive(b *testing.B) {
	n := benchCount("CSPM_BENCH_LIVE_EVENTS", 100_000)
	env := pt.NewEnv(b, pt.EnvOptions{NoRelay: true})
	appendBench(b, env.Events, env.Codec, n, 10)
	published, err := env.Relay.CatchUp(context.Background())
	require.NoError(b, err)
	require.Equal(b, n, published)
	evs, err := env.Events.ReadAll(context.Background(), 0, 0)
	require.NoError(b, err)

	cfg := projections.RuntimeConfig{BatchSize: benchCount("CSPM_BENCH_BATCH", 500)} // default: production's
	if ms := benchCount("CSPM_BENCH_LINGER_US", 0); ms > 0 {
		cfg.Linger = time.Duration(ms) * time.Microsecond
	}
	for _, kind := range []string{"ledger", "counter"} {
		b.Run(kind, func(b *testing.B) {
			var liveTook, rawTook, liveCPU time.Duration
			for i := range b.N {
				store := openBenchStore(b)
				deps := env.Deps()
				deps.Stores = map[dbregistry.Constant]readmodel.Store{dbregistry.PLATFORM: store}
				rt := projections.NewRuntime(cfg, deps)
				name := fmt.Sprintf("bench.%s.%d.%d", kind, i, time.Now().UnixNano())
				var p projections.Projection = pt.NewLedger(name, dbregistry.PLATFORM)
				if kind == "counter" {
					p = pt.NewCounter(name, dbregistry.PLATFORM)
				}
				rt.Register(p)
				began := time.Now()
				cpu0 := cpuTime()
				require.NoError(b, rt.Start(context.Background()))
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				require.True(b, rt.WaitFor(ctx, []string{name}, int64(n)))
				cancel()
				liveTook += time.Since(began)
				liveCPU += cpuTime() - cpu0
				require.NoError(b, rt.Stop(context.Background()))

				if kind == "ledger" {
					rawTook += rawCommit(b, openBenchStore(b), evs, cfg.BatchSize)
				}
			}
			b.ReportMetric(float64(n*b.N)/liveTook.Seconds(), "events/s")
			b.ReportMetric(liveCPU.Seconds()/liveTook.Seconds(), "cpus")
			if rawTook > 0 {
				b.ReportMetric(float64(n*b.N)/rawTook.Seconds(), "raw_events/s")
				b.ReportMetric(rawTook.Seconds()/liveTook.Seconds(), "x_raw")
			}
		})
	}
}

// rawCommit commits a Ledger document per event, batch at a time.
func rawCommit(b *testing.B, store readmodel.Store, evs []eventstore.RecordedEvent, batch int) time.Duration {
	b.Helper()
	ctx := context.Background()
	require.NoError(b, store.EnsureCollection(ctx, readmodel.CollectionSpec{Name: pt.LedgerCollection}))
	began := time.Now()
	for i := 0; i < len(evs); i += batch {
		chunk := evs[i:min(i+batch, len(evs))]
		docs := make([]readmodel.Doc, len(chunk))
		for j, e := range chunk {
			docs[j] = pt.LedgerDoc(e.EventID, e.StreamID, e.Metadata.TeamID, e.Type, e.Position, e.Version)
		}
		require.NoError(b, store.Commit(ctx, readmodel.Batch{Projection: "raw", Checkpoint: chunk[len(chunk)-1].Position,
			Puts: map[string][]readmodel.Doc{pt.LedgerCollection: docs}}))
	}
	return time.Since(began)
}

func openBenchStore(b *testing.B) readmodel.Store {
	b.Helper()
	s, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "rm.sqlite"), sqlitestore.Options{Synchronous: "normal"})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkRebuild rebuilds a projection from an event store of N events
// (no live loop, no NATS): counter (read-modify-write of a stream and a
// team document per event: 10,000 stream documents) and ledger (one new
// document per event).
func BenchmarkRebuild(b *testing.B) {
	n := benchCount("CSPM_BENCH_REBUILD_EVENTS", 1_000_000)
	path := rebuildFixture(b, n)
	events, err := sqlite.Open(context.Background(), path, sqlite.Options{Synchronous: "normal", Logger: pt.Logger()})
	require.NoError(b, err)
	b.Cleanup(func() { _ = events.Close() })

	for _, kind := range []string{"counter", "ledger"} {
		b.Run(kind, func(b *testing.B) {
			var took time.Duration
			for i := range b.N {
				store := openBenchStore(b)
				rt := projections.NewRuntime(projections.RuntimeConfig{}, projections.RuntimeDeps{
					Events: events, Codec: pt.Codec(), Logger: pt.Logger(),
					Stores: map[dbregistry.Constant]readmodel.Store{dbregistry.PLATFORM: store},
				})
				name := fmt.Sprintf("bench.rebuild.%s.%d", kind, i)
				var p projections.Projection = pt.NewCounter(name, dbregistry.PLATFORM)
				if kind == "ledger" {
					p = pt.NewLedger(name, dbregistry.PLATFORM)
				}
				rt.Register(p)
				began := time.Now()
				require.NoError(b, rt.Rebuild(context.Background(), name, nil))
				took += time.Since(began)
				cp, err := store.Checkpoint(context.Background(), name)
				require.NoError(b, err)
				require.Equal(b, int64(n), cp)
			}
			b.ReportMetric(float64(n*b.N)/took.Seconds(), "events/s")
			b.ReportMetric(took.Seconds()/float64(b.N), "s/rebuild")
		})
	}
}

// rebuildFixture returns an event store file of n events, built once (in
// streams of 100, appended whole) and kept in os.TempDir().
func rebuildFixture(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("cspm-projections-bench-%d.sqlite", n))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".building"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(tmp + suffix)
	}
	began := time.Now()
	store, err := sqlite.Open(context.Background(), tmp, sqlite.Options{Synchronous: "normal", Logger: pt.Logger()})
	require.NoError(b, err)
	appendBench(b, store, pt.Codec(), n, 100)
	require.NoError(b, store.Close())
	require.NoError(b, os.Rename(tmp, path))
	b.Logf("built the event store fixture of %d events in %s: %s", n, time.Since(began).Round(time.Millisecond), path)
	return path
}

// cpuTime is the process's CPU time so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
