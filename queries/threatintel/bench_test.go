package threatintel_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/queries"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
	qti "github.com/cspm-es/cspm-es/queries/threatintel"
)

// BenchmarkIndicatorMatches: one value seen on 100,000 resources of a
// team (SQLite read models): the first page of an indicator's matches, and
// the page after 50,000 (cursor). Reports p50/p99 per request; the
// baseline is an indicator whose value was never seen, in the same run.
func BenchmarkIndicatorMatches(b *testing.B) {
	const n = 100_000
	h := &qt.History{}
	h.Add("team-a", ti.IndicatorCreated{IndicatorID: "hot", Type: ti.TypeIPv4, Value: "203.0.113.7", RawValue: "203.0.113.7",
		Confidence: 50, Source: "s", ValidFrom: qt.T0, CreatedAt: qt.T0},
		ti.IndicatorCreated{IndicatorID: "cold", Type: ti.TypeIPv4, Value: "198.51.100.1", RawValue: "198.51.100.1",
			Confidence: 50, Source: "s", ValidFrom: qt.T0, CreatedAt: qt.T0})
	for chunk := 0; chunk < n; chunk += 1000 {
		results := make([]csdomain.CheckResult, 1000)
		for i := range results {
			results[i] = csdomain.CheckResult{Provider: "aws", Account: "123456789012", Region: "eu-west-1", Check: "ec2_sg_open",
				Resource: fmt.Sprintf("arn:aws:ec2:eu-west-1:123456789012:security-group/sg-%06d", chunk+i), ResourceName: "203.0.113.7",
				Result: csdomain.ResultFail, Severity: csdomain.SeverityHigh, ObservedAt: qt.T0}
		}
		h.Add("team-a", csdomain.ResultsRecorded{ImportID: "imp-b", ScanID: "scan-b", EvaluatedAt: qt.T0, Results: results})
	}
	e := qt.OpenEnv(b, b.TempDir())
	b.Cleanup(func() { e.Close(b) })
	e.Seed(b, h.Events)
	s := qti.New(e.Stores[dbregistry.THREAT_INTELLIGENCE])
	ctx := context.Background()
	first, err := s.IndicatorMatches(ctx, "team-a", "hot", queries.Page{Limit: 100})
	require.NoError(b, err)
	require.Equal(b, int64(n), first.Sightings)
	mid := first.NextCursor
	for range 499 { // to the page after 50,000
		p, err := s.IndicatorMatches(ctx, "team-a", "hot", queries.Page{Limit: 100, Cursor: mid})
		require.NoError(b, err)
		mid = p.NextCursor
	}
	for _, c := range []struct {
		name, id, cursor string
	}{{"baseline=unseen", "cold", ""}, {"first-page=100k", "hot", ""}, {"page-after-50k=100k", "hot", mid}} {
		b.Run(c.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := s.IndicatorMatches(ctx, "team-a", c.id, queries.Page{Limit: 100, Cursor: c.cursor}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50_us")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99_us")
		})
	}
}
