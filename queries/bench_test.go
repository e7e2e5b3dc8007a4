package queries_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// The benchmark world: benchTeam has benchScans scans with
// benchFindingsPerScan findings each (100,000), a quarter of them resolved
// and a quarter suppressed; another team has 20 scans of 250 findings, so
// every query has to filter by team.
const (
	benchTeam            = "team-bench"
	benchScans           = 200
	benchFindingsPerScan = 500
)

var bench struct {
	once sync.Once
	dir  string
	env  *env
	err  error
	ok   bool // seeded completely
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.env != nil {
		for _, s := range bench.env.Stores {
			_ = s.Close()
		}
	}
	if bench.dir != "" {
		_ = os.RemoveAll(bench.dir)
	}
	closeImported()
	os.Exit(code)
}

// benchEnv seeds the benchmark world once per process, through the
// projections (see env.seed).
func benchEnv(b *testing.B) *env {
	b.Helper()
	bench.once.Do(func() {
		if bench.dir, bench.err = os.MkdirTemp("", "cspm-queries-bench-"); bench.err != nil {
			return
		}
		start := time.Now()
		bench.env = envOver(qt.OpenEnv(b, bench.dir))
		h := &qt.History{}
		benchHistory(h, benchTeam, benchScans, benchFindingsPerScan)
		benchHistory(h, "team-other", 20, 250)
		bench.env.Seed(b, h.Events)
		b.Logf("seeded %d events through the projections in %v", len(h.Events), time.Since(start).Round(time.Millisecond))
		bench.ok = true
	})
	if bench.err != nil || !bench.ok {
		b.Fatalf("benchmark world not seeded: %v", bench.err)
	}
	return bench.env
}

func benchHistory(h *qt.History, team string, scans, perScan int) {
	sevs := []csdomain.Severity{csdomain.SeverityCritical, csdomain.SeverityHigh, csdomain.SeverityHigh, csdomain.SeverityMedium,
		csdomain.SeverityMedium, csdomain.SeverityLow, csdomain.SeverityInformational}
	for s := range scans {
		id := fmt.Sprintf("%s-scan-%03d", team, s)
		requested := qt.T0.Add(time.Duration(s) * time.Hour)
		h.Add(team, orchdomain.ScanRequested{ScanID: id, AccountID: fmt.Sprintf("acc-%d", s%7), Provider: orchdomain.ProviderAWS, Tool: []string{"prowler", "scout"}[s%2], RequestedAt: requested},
			orchdomain.ScanStarted{ScanID: id, StartedAt: requested.Add(time.Minute)})
		for f := range perScan {
			fid := fmt.Sprintf("%s-f-%03d-%04d", team, s, f)
			h.Add(team, csdomain.FindingRaised{
				FindingID: fid, ScanID: id, AccountID: fmt.Sprintf("acc-%d", s%7), CheckID: fmt.Sprintf("check-%d", f%40),
				Title: "S3 bucket allows public read access", Severity: sevs[(s+f)%len(sevs)],
				ResourceID: "arn:aws:s3:::bucket-" + fid, Region: "eu-west-1", RaisedAt: requested.Add(time.Duration(f) * time.Second),
			})
			switch f % 4 {
			case 1:
				h.Add(team, csdomain.FindingResolved{FindingID: fid, Reason: "fixed", ResolvedAt: requested.Add(time.Hour)})
			case 2:
				h.Add(team, csdomain.FindingSuppressed{FindingID: fid, Reason: "accepted", SuppressedAt: requested.Add(time.Hour)})
			}
		}
		switch s % 10 {
		case 0:
			h.Add(team, orchdomain.ScanFailed{ScanID: id, Reason: "throttled", FailedAt: requested.Add(2 * time.Hour)})
		case 1, 2:
		default:
			h.Add(team, orchdomain.ScanCompleted{ScanID: id, CompletedAt: requested.Add(2 * time.Hour), ResourceCount: perScan * 3})
		}
	}
}

// measure runs op once per iteration and reports, besides ns/op, the
// median and 99th percentile of the single operations.
func measure(b *testing.B, op func(i int) error) {
	b.Helper()
	var durs []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		start := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(start))
		i++
	}
	slices.Sort(durs)
	pct := func(p float64) float64 { return float64(durs[int(p*float64(len(durs)-1))].Nanoseconds()) }
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
}

// BenchmarkDashboard: the team's dashboard at 100,000 findings, from the
// read model (one document) and computed on the fly across databases.
func BenchmarkDashboard(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	orch, cloud := e.Stores[dbregistry.ORCHESTRATION], e.Stores[dbregistry.CLOUD_SECURITY]
	b.Run("read_model", func(b *testing.B) {
		measure(b, func(int) error {
			_, err := e.dashboard.DashboardSummary(ctx, benchTeam)
			return err
		})
	})
	b.Run("on_the_fly", func(b *testing.B) {
		measure(b, func(int) error {
			_, err := baselineDashboard(ctx, orch, cloud, benchTeam)
			return err
		})
	})
}

// BenchmarkGetScan: a scan with its finding counts (500 findings per
// scan, 200 scans visited in turn), from the read models (two reads of one
// database) and computed on the fly across databases, by reading the
// scan's findings or by letting the database group them (CountBy).
func BenchmarkGetScan(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	orch, cloud := e.Stores[dbregistry.ORCHESTRATION], e.Stores[dbregistry.CLOUD_SECURITY]
	scan := func(i int) string { return fmt.Sprintf("%s-scan-%03d", benchTeam, i%benchScans) }
	b.Run("read_model", func(b *testing.B) {
		measure(b, func(i int) error {
			_, err := e.scans.GetScan(ctx, benchTeam, scan(i))
			return err
		})
	})
	b.Run("on_the_fly", func(b *testing.B) {
		measure(b, func(i int) error {
			_, err := baselineScan(ctx, orch, cloud, benchTeam, scan(i))
			return err
		})
	})
	b.Run("on_the_fly_countby", func(b *testing.B) {
		measure(b, func(i int) error {
			_, err := baselineScanCountBy(ctx, orch, cloud, benchTeam, scan(i))
			return err
		})
	})
}

// BenchmarkListFindings: the first page (50) of a filtered finding list,
// and a page deep in the list.
func BenchmarkListFindings(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		f    csquery.FindingFilter
	}{
		{"all", csquery.FindingFilter{}},
		{"severity=critical", csquery.FindingFilter{Severity: []string{"critical"}}},
		{"severity=critical,high&status=open", csquery.FindingFilter{Severity: []string{"critical", "high"}, Status: "open"}},
		{"scan", csquery.FindingFilter{ScanID: benchTeam + "-scan-100"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			measure(b, func(int) error {
				_, err := e.findings.ListFindings(ctx, benchTeam, tc.f, queries.Page{})
				return err
			})
		})
	}
}

// TestBaselineAgreesWithReadModels: the on-the-fly answers the benchmarks
// compare with are the read models' answers.
func TestBaselineAgreesWithReadModels(t *testing.T) {
	t.Parallel()
	h := &qt.History{}
	benchHistory(h, benchTeam, 14, 30)
	benchHistory(h, "team-other", 3, 10)
	e := newEnv(t, h.Events)
	ctx := context.Background()
	orch, cloud := e.Stores[dbregistry.ORCHESTRATION], e.Stores[dbregistry.CLOUD_SECURITY]

	want, err := e.dashboard.DashboardSummary(ctx, benchTeam)
	require.NoError(t, err)
	got, err := baselineDashboard(ctx, orch, cloud, benchTeam)
	require.NoError(t, err)
	// The baseline computes the scans and findings; this world has no
	// vulnerabilities (the section is empty, decision 57).
	require.Zero(t, want.Vulnerabilities.OpenTotal)
	want.Vulnerabilities = got.Vulnerabilities
	// Nor jobs or certificates (the scan-engine section is empty, decision 79).
	require.Zero(t, want.ScanEngine.Jobs.RunningTotal+want.ScanEngine.Jobs.FailedTotal+
		want.ScanEngine.Certificates.ExpiredTotal+want.ScanEngine.Certificates.ExpiringTotal)
	want.ScanEngine = got.ScanEngine
	require.Equal(t, want, got)
	require.Len(t, got.RecentScans, 10)
	require.Equal(t, int64(14*30), got.Findings.Total)

	for s := range 14 {
		id := fmt.Sprintf("%s-scan-%03d", benchTeam, s)
		scan, err := e.scans.GetScan(ctx, benchTeam, id)
		require.NoError(t, err)
		counts, err := baselineScan(ctx, orch, cloud, benchTeam, id)
		require.NoError(t, err)
		require.Equal(t, scan.Findings, counts, id)
		counts, err = baselineScanCountBy(ctx, orch, cloud, benchTeam, id)
		require.NoError(t, err)
		require.Equal(t, scan.Findings, counts, id)
	}
}
