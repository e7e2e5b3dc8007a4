package risk_test

// The cost of the computed KRIs (docs/risk-management.md, "Figures"): the
// SLA fold alone (the baseline, vulnerabilities.sla) and risk.kris (the
// same fold over its own collections, then the counts and points) over
// the same imports, in memory:
//
//	go test -run '^$' -bench KRIs -benchtime 20x ./projections/risk/

import (
	"context"
	"fmt"
	"testing"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	riskproj "github.com/cspm-es/cspm-es/projections/risk"
	vulnproj "github.com/cspm-es/cspm-es/projections/vulnerabilities"
)

// benchImports: two imports of one account, 2,000 results each (a quarter
// critical, the second passing half of the first's failures), in chunks
// of 500.
func benchImports() []projections.Event {
	var all []projections.Event
	for scan := range 2 {
		var results []csdomain.CheckResult
		for i := range 2000 {
			sev := csdomain.SeverityHigh
			if i%4 == 0 {
				sev = csdomain.SeverityCritical
			}
			r := csdomain.ResultFail
			if scan == 1 && i%2 == 0 {
				r = csdomain.ResultPass
			}
			results = append(results, pt.Result(fmt.Sprintf("check_%d", i%50), "eu-west-1", fmt.Sprintf("arn:r%d", i), r, sev))
		}
		all = append(all, seq("team-a", int64(len(all)+1), pt.ImportEvents(fmt.Sprintf("s%d", scan), scan+1, 500, results...)...)...)
	}
	return all
}

func BenchmarkKRIs(b *testing.B) {
	events := benchImports()
	for _, c := range []struct {
		name string
		p    projections.Projection
	}{{"sla_baseline", vulnproj.NewSLA()}, {"risk_kris", riskproj.NewKRIs()}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				tx := pt.NewMemTx()
				for _, ev := range events {
					if err := c.p.Apply(ctx, tx, ev); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/4000/1e3, "µs/result")
		})
	}
}
