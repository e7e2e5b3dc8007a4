package platform_test

import (
	"context"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries/platform"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// BenchmarkDashboardScans: GET /api/v1/dashboard/summary with the
// scan-engine section, p50/p99, for a team with R runs of 20 jobs
// (CSPM_BENCH_SCAN_ENGINE_RUNS, 500 by default: 5,000 jobs running or
// queued, 4,000 failed or timed out) and 25,000 certificates (2,000
// expiring within 30 days, 3,000 expired, 20,000 valid), seeded by the
// projection's own Apply; baseline in the same run: one document read by
// _id. The section is one document by _id, two counts over (team,
// not_after) and at most four bounded indexed reads.
func BenchmarkDashboardScans(b *testing.B) {
	runs := 500
	if v, err := strconv.Atoi(os.Getenv("CSPM_BENCH_SCAN_ENGINE_RUNS")); err == nil && v > 0 {
		runs = v
	}
	const team = "bench-team"
	start := time.Now()
	env := qt.OpenEnv(b, filepath.Join(b.TempDir(), "readmodels"))
	b.Cleanup(func() { env.Close(b) })
	events := scanEngineLoad(team, runs, 2_000, 3_000, 20_000)
	env.SeedChunksWith(b, []projections.Projection{platformproj.NewDashboardScanEngine()}, chunksOf(events, 5_000))
	b.Logf("seeded %d events (%d jobs, 25,000 certificates) in %s", len(events), runs*20, time.Since(start).Round(time.Millisecond))
	store := env.Stores[dbregistry.PLATFORM]
	svc := platform.New(platform.Stores{Platform: store}).WithClock(func() time.Time { return pt.T0 })
	ctx := context.Background()
	d, err := svc.DashboardSummary(ctx, team)
	require.NoError(b, err)
	s := d.ScanEngine
	require.EqualValues(b, runs*10, s.Jobs.RunningTotal)
	require.EqualValues(b, runs*8, s.Jobs.FailedTotal)
	require.Len(b, s.Jobs.Running, platform.TopJobs)
	require.EqualValues(b, 2_000, s.Certificates.ExpiringTotal)
	require.EqualValues(b, 3_000, s.Certificates.ExpiredTotal)
	require.Len(b, s.Certificates.Expired, platform.TopCertificates)

	for _, q := range []struct {
		name string
		op   func() error
	}{
		{"baseline/get_one_document", func() error {
			_, err := store.Get(ctx, platformproj.DashboardScanEngineCollection, team)
			return err
		}},
		{"dashboard_summary", func() error {
			_, err := svc.DashboardSummary(ctx, team)
			return err
		}},
	} {
		b.Run(q.name, func(b *testing.B) {
			var durs []time.Duration
			for b.Loop() {
				t := time.Now()
				if err := q.op(); err != nil {
					b.Fatal(err)
				}
				durs = append(durs, time.Since(t))
			}
			slices.Sort(durs)
			pct := func(p float64) float64 { return float64(durs[int(p*float64(len(durs)-1))].Nanoseconds()) }
			b.ReportMetric(pct(0.50), "p50-ns")
			b.ReportMetric(pct(0.99), "p99-ns")
		})
	}
}

// chunksOf yields events n at a time.
func chunksOf(events []projections.Event, n int) iter.Seq[[]projections.Event] {
	return func(yield func([]projections.Event) bool) {
		for c := range slices.Chunk(events, n) {
			if !yield(c) {
				return
			}
		}
	}
}
