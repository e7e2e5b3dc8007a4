package api_test

import (
	"context"
	"time"

	"github.com/cspm-es/cspm-es/queries"
	ssquery "github.com/cspm-es/cspm-es/queries/securityscans"
)

// fakeSecurityScans serves the security-scan routes: one target, its
// results.
type fakeSecurityScans struct{}

func (fakeSecurityScans) ListTargets(context.Context, string, string, queries.Page) (ssquery.TargetList, error) {
	at := time.Date(2021, 12, 2, 9, 19, 35, 0, time.UTC)
	return ssquery.TargetList{Items: []ssquery.Target{{ID: "tgt-0f6c3a2b1d9e8f7a6b5c4d3e2f1a0b9c", Target: "http://www.itsecgames.com", Provider: "web",
		LastEvaluatedAt: at, Failing: 51, Tools: []ssquery.ToolSummary{{Tool: "zap", EvaluatedAt: at, ScanID: "scn-1", Failing: 51}}}}}, nil
}

func (fakeSecurityScans) GetTargetResults(_ context.Context, _, target string) (ssquery.TargetResults, error) {
	at := time.Date(2022, 1, 17, 16, 45, 7, 0, time.UTC)
	na := time.Date(2022, 5, 17, 12, 0, 0, 0, time.UTC)
	return ssquery.TargetResults{ID: target, Target: "example.com:443", Provider: "tls", AsOf: at.AddDate(4, 0, 0),
		Tools: []ssquery.ToolResults{{Tool: "sslyze", ToolVersion: "5.0.1", Format: "sslyze-json", ImportID: "imp-1", ScanID: "scn-1", EvaluatedAt: at,
			Counts: map[string]int64{"results": 1, "fail": 1},
			Results: []ssquery.Result{{Check: "protocol-tls1.0", Resource: "example.com/1.1.1.1:443", Result: "fail", Severity: "medium",
				Detail: "12 cipher suites accepted", FindingID: "fnd-1", ObservedAt: at}},
			Problems: []ssquery.Problem{}}},
		OpenFindings: []ssquery.OpenFinding{{FindingID: "fnd-1", Tool: "sslyze", Check: "protocol-tls1.0", Resource: "example.com/1.1.1.1:443", Severity: "medium", Source: "scan"},
			{Tool: "sslyze", Check: "certificate-expired", Resource: "example.com:443#cert1", Severity: "high", Source: "clock"}},
		Certificates: []ssquery.Certificate{{Tool: "sslyze", Cert: "cert1", NotAfter: na, ObservedAt: at, Status: "expired", DaysLeft: -1300, ExpiredSinceScan: true}},
	}, nil
}
