package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// BenchmarkCatchUp (issue 17, decision 104): a projection N events
// behind, catching up from the bus (every event still in the stream) and
// from the event store (the stream kept only its last 64 KiB), same run,
// same projection (Ledger: one new document per event). x_bus is the
// store catch-up's rate over the bus's. CSPM_BENCH_CATCHUP_EVENTS
// (default 50000) sizes it.
func BenchmarkCatchUp(b *testing.B) {
	n := benchCount("CSPM_BENCH_CATCHUP_EVENTS", 50_000)
	envs := map[string]*pt.Env{}
	for _, src := range []string{"bus", "store"} {
		opts := pt.EnvOptions{NoRelay: true}
		if src == "store" {
			opts.Stream = bus.StreamConfig{MaxBytes: 64 << 10}
		}
		env := pt.NewEnv(b, opts)
		appendBench(b, env.Events, env.Codec, n, 10)
		published, err := env.Relay.CatchUp(context.Background())
		require.NoError(b, err)
		require.Equal(b, n, published)
		s, err := env.JS.Stream(context.Background(), env.Stream.Name)
		require.NoError(b, err)
		first := bus.FirstSeq(s.CachedInfo().State)
		if src == "store" {
			require.Greater(b, first, int64(n*9/10), "the bus must hold only the last events")
		} else {
			require.Equal(b, int64(1), first)
		}
		envs[src] = env
	}
	took := map[string]time.Duration{}
	for i := range b.N {
		for _, src := range []string{"bus", "store"} {
			env := envs[src]
			store := openBenchStore(b)
			deps := env.Deps()
			deps.Stores = map[dbregistry.Constant]readmodel.Store{dbregistry.PLATFORM: store}
			rt := projections.NewRuntime(projections.RuntimeConfig{}, deps)
			name := fmt.Sprintf("bench.catchup.%s.%d.%d", src, i, time.Now().UnixNano())
			rt.Register(pt.NewLedger(name, dbregistry.PLATFORM))
			began := time.Now()
			require.NoError(b, rt.Start(context.Background()))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			require.True(b, rt.WaitFor(ctx, []string{name}, int64(n)))
			cancel()
			took[src] += time.Since(began)
			require.NoError(b, rt.Stop(context.Background()))
			cp, err := store.Checkpoint(context.Background(), name)
			require.NoError(b, err)
			require.Equal(b, int64(n), cp)
		}
	}
	b.ReportMetric(float64(n*b.N)/took["bus"].Seconds(), "bus_events/s")
	b.ReportMetric(float64(n*b.N)/took["store"].Seconds(), "store_events/s")
	b.ReportMetric(took["bus"].Seconds()/took["store"].Seconds(), "x_bus")
}
