package securityscans_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	ssdomain "github.com/cspm-es/cspm-es/domain/securityscans"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/queriestest"
	ssquery "github.com/cspm-es/cspm-es/queries/securityscans"

	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// A testssl.sh import of two targets seen on 2026-01-01: one failing
// result, one certificate valid until 2026-02-15.
func world(t *testing.T) *queriestest.Env {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	res := func(target, check string, r csdomain.Result, sev csdomain.Severity) csdomain.CheckResult {
		return csdomain.CheckResult{Provider: "tls", Account: target, Check: check, Resource: target + "/192.0.2.1", Result: r, Severity: sev, ObservedAt: at}
	}
	var scope csdomain.ImportScope
	results := []csdomain.CheckResult{res("a.example:443", "TLS1", csdomain.ResultFail, csdomain.SeverityLow),
		res("a.example:443", "heartbleed", csdomain.ResultPass, ""), res("b.example:443", "TLS1", csdomain.ResultPass, "")}
	for _, r := range results {
		scope.Add(r)
	}
	evs := pt.Stream("team-a", pt.Positions(1, 2, 3, 4),
		csdomain.ImportStarted{ImportID: "imp-1", ScanID: "scn-1", Format: "testssl-json", Tool: "testssl", ToolVersion: "3.2", StartedAt: at},
		csdomain.CertificatesObserved{ImportID: "imp-1", ScanID: "scn-1", Tool: "testssl", EvaluatedAt: at,
			Certificates: []csdomain.CertificateSeen{{Target: "a.example:443", Cert: "cert1", NotAfter: time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)}}},
		csdomain.ResultsRecorded{ImportID: "imp-1", ScanID: "scn-1", EvaluatedAt: at, IdentityRule: csdomain.IdentityTestsslV1, Results: results},
		csdomain.ImportCompleted{ImportID: "imp-1", ScanID: "scn-1", EvaluatedAt: at, IdentityRule: csdomain.IdentityTestsslV1, Scopes: scope.Scopes(),
			Problems: []csdomain.ScanProblem{{Target: "c.example:443", Check: "scanProblem", Level: "FATAL", Message: "Can't connect"}}, CompletedAt: at})
	return queriestest.NewEnv(t, evs)
}

func TestTargetsAndResults_TheClockJudgesCertificates(t *testing.T) {
	env := world(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	svc := ssquery.New(env.Stores[dbregistry.SECURITY_SCANS], func() time.Time { return now })

	list, err := svc.ListTargets(ctx, "team-a", "", queries.Page{})
	require.NoError(t, err)
	require.Len(t, list.Items, 3)
	require.Equal(t, []string{"a.example:443", "b.example:443", "c.example:443"}, []string{list.Items[0].Target, list.Items[1].Target, list.Items[2].Target})
	require.Equal(t, int64(1), list.Items[0].Failing)
	require.Equal(t, int64(1), list.Items[2].Tools[0].Problems)

	res, err := svc.GetTargetResults(ctx, "team-a", ssdomain.TargetID("a.example:443"))
	require.NoError(t, err)
	require.Len(t, res.OpenFindings, 1)
	require.Equal(t, "valid", res.Certificates[0].Status)
	require.Equal(t, int64(36), res.Certificates[0].DaysLeft)

	now = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) // within 30 days
	res, err = svc.GetTargetResults(ctx, "team-a", "a.example:443")
	require.NoError(t, err)
	require.Equal(t, "expiring", res.Certificates[0].Status)
	require.Len(t, res.OpenFindings, 1)

	now = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) // expired since the scan: the clock's finding
	res, err = svc.GetTargetResults(ctx, "team-a", "a.example:443")
	require.NoError(t, err)
	require.Equal(t, "expired", res.Certificates[0].Status)
	require.True(t, res.Certificates[0].ExpiredSinceScan)
	require.Len(t, res.OpenFindings, 2)
	require.Equal(t, "clock", res.OpenFindings[1].Source)

	_, err = svc.GetTargetResults(ctx, "team-b", "a.example:443")
	require.ErrorIs(t, err, queries.ErrNotFound)
	_, err = svc.ListTargets(ctx, "team-a", "ftp", queries.Page{})
	require.Error(t, err)
}
