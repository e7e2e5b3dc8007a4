package platform_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy/trivygen"
	"github.com/cspm-es/cspm-es/projections"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
	"github.com/cspm-es/cspm-es/queries/platform"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// BenchmarkDashboardVulnerabilities: GET /api/v1/dashboard/summary with the
// vulnerabilities section, p50/p99, for a team with N trivygen images
// (CSPM_BENCH_DASHBOARD_IMAGES, 12 by default) of 2,000 occurrences each
// and a KEV catalogue of 1,500 CVEs flagging 10% of them, seeded by the two
// dashboard projections' own Apply (one batch per import); baseline in the
// same run: one document read by _id. The section is two documents by _id,
// the SLA summary document and one bounded read of at most 10 images.
func BenchmarkDashboardVulnerabilities(b *testing.B) {
	images := 12
	if v, err := strconv.Atoi(os.Getenv("CSPM_BENCH_DASHBOARD_IMAGES")); err == nil && v > 0 {
		images = v
	}
	const team, per = "bench-team", 2_000
	dir := b.TempDir()
	var kevCVEs []string
	for j := 0; j < per/2; j += per / 200 {
		kevCVEs = append(kevCVEs, fmt.Sprintf("CVE-20%02d-%05d", 10+j%15, j))
	}
	for j := len(kevCVEs); j < 1500; j++ {
		kevCVEs = append(kevCVEs, fmt.Sprintf("CVE-2009-%05d", j))
	}
	start := time.Now()
	env := qt.OpenEnv(b, filepath.Join(dir, "readmodels"))
	b.Cleanup(func() { env.Close(b) })
	env.SeedChunksWith(b, []projections.Projection{platformproj.NewDashboard(), platformproj.NewDashboardVulnerabilities()},
		qt.TrivyKEVChunks(b, dir, func(i int) *qt.TrivyImport {
			if i >= images {
				return nil
			}
			var buf bytes.Buffer
			_, err := trivygen.Write(&buf, trivygen.Options{Seed: uint64(i + 1), Occurrences: per, Tag: fmt.Sprintf("registry.example.com/app%d:latest", i)})
			require.NoError(b, err)
			return &qt.TrivyImport{Team: team, Report: buf.Bytes()}
		}, qt.KEVFeed("2026.02.01", kevCVEs)))
	b.Logf("seeded %d occurrences (%d images) in %s", images*per, images, time.Since(start).Round(time.Second))
	store := env.Stores[dbregistry.PLATFORM]
	svc := platform.New(platform.Stores{Platform: store}).WithClock(func() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) })
	ctx := context.Background()
	d, err := svc.DashboardSummary(ctx, team)
	require.NoError(b, err)
	v := d.Vulnerabilities
	require.EqualValues(b, images*per, v.OpenTotal)
	require.NotZero(b, v.KEVOpenTotal)
	require.Len(b, v.TopVulnerableImages, min(images, platform.TopImages))
	b.Logf("open %d, KEV %d, breached %d, due in 7 days %d", v.OpenTotal, v.KEVOpenTotal, v.SLA.Breached, v.SLA.DueIn7Days)

	for _, q := range []struct {
		name string
		op   func() error
	}{
		{"baseline/get_one_document", func() error {
			_, err := store.Get(ctx, platformproj.DashboardVulnerabilitiesCollection, team)
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
