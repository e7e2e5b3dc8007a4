package integrations_test

import (
	"fmt"
	"testing"

	cs "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	in "github.com/cspm-es/cspm-es/domain/integrations"
	inproj "github.com/cspm-es/cspm-es/projections/integrations"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// BenchmarkWebhooks_ResultsChunk: the outbox's cost for one chunk of an
// import (600 results, 1 in 20 failing critical), for a team without a
// subscriber (the baseline: one read) and with one (finding state kept,
// deliveries written). In memory (MemTx): the projection's own work.
func BenchmarkWebhooks_ResultsChunk(b *testing.B) {
	chunk := cs.ResultsRecorded{ImportID: "imp", ScanID: "s", EvaluatedAt: pt.T0, IdentityRule: cs.IdentityProwlerV1}
	for i := range 600 {
		r := cs.CheckResult{Provider: "aws", Account: "1", Region: "eu-west-1", Check: "c", Resource: fmt.Sprintf("arn:r%d", i), Result: cs.ResultPass, Severity: cs.SeverityHigh, ObservedAt: pt.T0}
		if i%20 == 0 {
			r.Result, r.Severity = cs.ResultFail, cs.SeverityCritical
		}
		chunk.Results = append(chunk.Results, r)
	}
	for _, subscribed := range []bool{false, true} {
		b.Run(fmt.Sprintf("subscribed=%v", subscribed), func(b *testing.B) {
			p := inproj.NewWebhooks()
			var pos int64
			for b.Loop() {
				b.StopTimer()
				tx := pt.NewMemTx()
				if subscribed {
					pos++
					if err := p.Apply(b.Context(), tx, ev("team-a", pos, hook("h", in.EventCriticalFinding))); err != nil {
						b.Fatal(err)
					}
				}
				pos++
				e := ev("team-a", pos, chunk)
				b.StartTimer()
				if err := p.Apply(b.Context(), tx, e); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(600*float64(b.N)/b.Elapsed().Seconds(), "results/s")
		})
	}
}
