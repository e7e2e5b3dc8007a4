package platform_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	cs "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// The CIS-5.0 mapping Prowler 5.34 gives the CloudTrail checks.
func cisMapped(events []pt.EventData) []pt.EventData {
	cis50 := map[string][]string{
		"cloudtrail_multi_region_enabled":        {"3.1"},
		"cloudtrail_log_file_validation_enabled": {"3.2"},
		"cloudtrail_kms_encryption_enabled":      {"3.5"},
		"cloudtrail_s3_dataevents_read_enabled":  {"3.9"},
	}
	out := slices.Clone(events)
	for i, e := range out {
		if cd, ok := e.(csdomain.ChecksDescribed); ok {
			cd.Checks = slices.Clone(cd.Checks)
			for j := range cd.Checks {
				if ids := cis50[cd.Checks[j].CheckID]; ids != nil {
					cd.Checks[j].Compliance = map[string][]string{"CIS-5.0": ids}
				}
			}
			out[i] = cd
		}
	}
	return out
}

// The dashboard's compliance per framework and GET /api/v1/compliance's
// frameworks agree on the same imports (the pair: scan 2 current, 2 of 4
// CIS-5.0 requirements pass).
func TestDashboardSummary_ComplianceAgreesWithTheOverview(t *testing.T) {
	t.Parallel()
	streams, _ := pt.Imports("team-a", 1, cisMapped(pt.PairScan1()), cisMapped(pt.PairScan2()))
	e := newEnv(t, slices.Concat[[]projections.Event](streams...))
	ctx := context.Background()
	got, err := e.svc.DashboardSummary(ctx, "team-a")
	require.NoError(t, err)
	ov, err := cs.New(cs.Stores{CloudSecurity: e.Stores[dbregistry.CLOUD_SECURITY]}).GetComplianceOverview(ctx, "team-a", "", queries.Page{})
	require.NoError(t, err)

	c := got.Posture.Compliance
	require.NotNil(t, c)
	assert.Equal(t, ov.Formula, c.Formula)
	require.Len(t, c.Frameworks, len(ov.Frameworks))
	require.Len(t, c.Frameworks, 1)
	for i, f := range ov.Frameworks {
		d := c.Frameworks[i]
		assert.Equal(t, f.Framework, d.Framework)
		assert.Equal(t, f.Accounts, d.Accounts)
		assert.Equal(t, f.Counts.Passed, d.Counts.Passed)
		assert.Equal(t, f.Counts.Failed, d.Counts.Failed)
		assert.Equal(t, f.Counts.Manual, d.Counts.Manual)
		assert.Equal(t, f.Counts.NotEvaluated, d.Counts.NotEvaluated)
		assert.Equal(t, f.Counts.MutedFail, d.Counts.MutedFail)
		assert.Equal(t, f.Counts.Requirements, d.Counts.Requirements)
		assert.Equal(t, f.Score, d.Score)
	}
	require.NotNil(t, c.Frameworks[0].Score)
	assert.Equal(t, 0.5, *c.Frameworks[0].Score)
	assert.Equal(t, pt.T0.Add(2*3600e9), c.Frameworks[0].LastEvaluatedAt)

	// The other team sees none of it.
	other, err := e.svc.DashboardSummary(ctx, "team-b")
	require.NoError(t, err)
	assert.Nil(t, other.Posture.Compliance)
}
