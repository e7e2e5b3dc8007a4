package cloudsecurity_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/projectionstest"
)

// BenchmarkComplianceFold: the compliance projection over one import of
// 20,000 results shaped like a real Prowler scan of one account (500
// checks, each mapped to 3 requirements of each of 20 frameworks; 40
// results per check; chunks of 250), through the in-memory Tx. Reports
// results/s of the fold and, for scale, the same import through the
// findings projection (which folds the lifecycle) in the same run.
//
//	go test -run '^$' -bench ComplianceFold ./projections/cloudsecurity/
func BenchmarkComplianceFold(b *testing.B) {
	const checks, frameworks, perCheck, chunk = 500, 20, 40, 250
	at := projectionstest.T0
	infos := make([]csdomain.CheckInfo, checks)
	for c := range infos {
		m := map[string][]string{}
		for f := range frameworks {
			m[fmt.Sprintf("FW-%02d-1.0", f)] = []string{fmt.Sprintf("%d.%d", c%40, f), fmt.Sprintf("%d.%d", c%40+1, f), fmt.Sprintf("x.%d", c%7)}
		}
		infos[c] = csdomain.CheckInfo{CheckID: fmt.Sprintf("check_%03d", c), Compliance: m}
	}
	var results []csdomain.CheckResult
	for c := range checks {
		for r := range perCheck {
			res := csdomain.ResultPass
			if r%3 == 0 {
				res = csdomain.ResultFail
			}
			results = append(results, csdomain.CheckResult{Provider: "aws", Account: "123456789012", Region: fmt.Sprintf("r-%d", r%10),
				Check: infos[c].CheckID, Resource: fmt.Sprintf("res-%d-%d", c, r), Result: res, ObservedAt: at})
		}
	}
	events := []eventData{
		csdomain.ImportStarted{ImportID: "imp-b", ScanID: "scan-b", Format: "prowler-ocsf", StartedAt: at},
		csdomain.ChecksDescribed{ImportID: "imp-b", EvaluatedAt: at, Checks: infos},
	}
	var scope csdomain.ImportScope
	for i := 0; i < len(results); i += chunk {
		part := results[i:min(i+chunk, len(results))]
		for _, r := range part {
			scope.Add(r)
		}
		events = append(events, csdomain.ResultsRecorded{ImportID: "imp-b", ScanID: "scan-b", EvaluatedAt: at,
			IdentityRule: csdomain.IdentityProwlerV1, Results: part})
	}
	events = append(events, csdomain.ImportCompleted{ImportID: "imp-b", ScanID: "scan-b", EvaluatedAt: at,
		IdentityRule: csdomain.IdentityProwlerV1, Scopes: scope.Scopes(), CompletedAt: at})
	ps := make([]int64, len(events))
	for i := range ps {
		ps[i] = int64(i + 1)
	}
	stream := projectionstest.Stream("team-a", ps, events...)
	ctx := context.Background()
	for _, p := range []projections.Projection{cloudsecurity.NewCompliance(), cloudsecurity.NewFindings()} {
		evs := projectionstest.Only(p, stream)
		b.Run(p.Name(), func(b *testing.B) {
			var took time.Duration
			n := 0
			for b.Loop() {
				tx := newMemTx()
				start := time.Now()
				for _, ev := range evs {
					require.NoError(b, p.Apply(ctx, tx, ev))
				}
				took += time.Since(start)
				n++
			}
			b.ReportMetric(float64(len(results)*n)/took.Seconds(), "results/s")
		})
	}
}
