package cloudsecurity_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// The CIS-5.0 mapping Prowler 5.34 gives the CloudTrail checks.
var cis50 = map[string][]string{
	"cloudtrail_multi_region_enabled":        {"3.1"},
	"cloudtrail_log_file_validation_enabled": {"3.2"},
	"cloudtrail_kms_encryption_enabled":      {"3.5"},
	"cloudtrail_s3_dataevents_read_enabled":  {"3.9"},
}

func mapped(events []projectionstest.EventData) []projectionstest.EventData {
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

// complianceEnv: the before/after CloudTrail pair of team-a (scan 1 at
// T0+1h fails 3.1 in three regions; scan 2 at T0+2h passes 3.1 and 3.2,
// fails 3.5 and 3.9).
func complianceEnv(t *testing.T) *env {
	streams, _ := projectionstest.Imports("team-a", 1, mapped(projectionstest.PairScan1()), mapped(projectionstest.PairScan2()))
	return newEnv(t, slices.Concat[[]projections.Event](streams...))
}

func statuses(rs []cloudsecurity.Requirement) map[string]string {
	out := map[string]string{}
	for _, r := range rs {
		out[r.ID] = r.Status
	}
	return out
}

func TestCompliance_Queries(t *testing.T) {
	t.Parallel()
	e := complianceEnv(t)
	ctx := context.Background()
	const acct = projectionstest.PairAccount

	ov, err := e.svc.GetComplianceOverview(ctx, "team-a", "", queries.Page{})
	require.NoError(t, err)
	assert.Equal(t, csdomain.ScoreFormula, ov.Formula)
	require.Len(t, ov.Frameworks, 1)
	assert.Equal(t, cloudsecurity.FrameworkScore{Framework: "CIS-5.0", Accounts: 1,
		Counts: cloudsecurity.ComplianceCounts{Requirements: 4, Passed: 2, Failed: 2}, Score: ptr(0.5)}, ov.Frameworks[0])
	require.Len(t, ov.Accounts, 1)
	assert.Equal(t, "scan-2", ov.Accounts[0].ScanID)

	// Now, as of a time between the scans, and of scan 1.
	now, err := e.svc.GetFrameworkCompliance(ctx, "team-a", cloudsecurity.FrameworkQuery{Framework: "CIS-5.0", Account: acct})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"3.1": "pass", "3.2": "pass", "3.5": "fail", "3.9": "fail"}, statuses(now.Requirements))
	assert.Equal(t, 0.5, *now.Score)
	between, err := e.svc.GetFrameworkCompliance(ctx, "team-a", cloudsecurity.FrameworkQuery{Framework: "CIS-5.0", Account: acct,
		AsOf: projectionstest.T0.Add(90 * time.Minute)})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"3.1": "fail"}, statuses(between.Requirements))
	assert.Equal(t, 0.0, *between.Score)
	require.NotNil(t, between.Evaluation.ValidTo)
	assert.Equal(t, projectionstest.T0.Add(2*time.Hour), *between.Evaluation.ValidTo)
	byScan, err := e.svc.GetFrameworkCompliance(ctx, "team-a", cloudsecurity.FrameworkQuery{Framework: "CIS-5.0", ScanID: "scan-1"})
	require.NoError(t, err)
	assert.Equal(t, between.Requirements, byScan.Requirements)
	_, err = e.svc.GetFrameworkCompliance(ctx, "team-a", cloudsecurity.FrameworkQuery{Framework: "CIS-5.0", Account: acct,
		AsOf: projectionstest.T0})
	assert.ErrorIs(t, err, queries.ErrNotFound, "nothing was evaluated before scan 1")

	// The team's view: one account.
	team, err := e.svc.GetFrameworkCompliance(ctx, "team-a", cloudsecurity.FrameworkQuery{Framework: "CIS-5.0", Page: queries.Page{Limit: 3}})
	require.NoError(t, err)
	assert.Equal(t, "team", team.Scope)
	assert.Len(t, team.Requirements, 3)
	assert.NotEmpty(t, team.NextCursor)
	assert.Equal(t, int64(1), team.Requirements[0].Accounts.Fail+team.Requirements[0].Accounts.Pass)

	// Changes between the scans, one per page.
	var moves []cloudsecurity.RequirementMove
	page := queries.Page{Limit: 1}
	for range 10 {
		ch, err := e.svc.GetComplianceChanges(ctx, "team-a", cloudsecurity.ChangesQuery{Framework: "CIS-5.0", From: "scan-1", To: "scan-2", Page: page})
		require.NoError(t, err)
		moves = append(moves, ch.Requirements...)
		if ch.NextCursor == "" {
			break
		}
		page.Cursor = ch.NextCursor
	}
	assert.Equal(t, []cloudsecurity.RequirementMove{
		{Requirement: "3.1", From: "fail", To: "pass", FailFrom: 3, FailTo: 0},
		{Requirement: "3.2", From: "not_evaluated", To: "pass"},
		{Requirement: "3.5", From: "not_evaluated", To: "fail", FailTo: 1},
		{Requirement: "3.9", From: "not_evaluated", To: "fail", FailTo: 1},
	}, moves)

	// Without from and to: the account's current evaluation against the one before.
	latest, err := e.svc.GetComplianceChanges(ctx, "team-a", cloudsecurity.ChangesQuery{Framework: "CIS-5.0", Account: acct})
	require.NoError(t, err)
	assert.Equal(t, "scan-1", latest.From.ScanID)
	assert.Equal(t, "scan-2", latest.To.ScanID)
	assert.Equal(t, moves, latest.Requirements)

	// The findings that moved 3.1: scan 1's three failures.
	ch, err := e.svc.GetComplianceChanges(ctx, "team-a", cloudsecurity.ChangesQuery{Framework: "CIS-5.0", Account: acct,
		From: projectionstest.T0.Add(time.Hour).Format(time.RFC3339), To: projectionstest.T0.Add(3 * time.Hour).Format(time.RFC3339), Requirement: "3.1"})
	require.NoError(t, err)
	require.Len(t, ch.Findings, 3)
	for _, f := range ch.Findings {
		assert.Equal(t, "cloudtrail_multi_region_enabled", f.Check)
		assert.Equal(t, "failing", f.From)
		assert.Equal(t, "not_failing", f.To)
	}
	id := csdomain.Identity{Rule: csdomain.IdentityProwlerV1, Scope: csdomain.Scope{Provider: "aws", Account: acct,
		Region: "us-east-1", Check: "cloudtrail_multi_region_enabled"}, Resource: projectionstest.Trail("us-east-1")}.FindingID("team-a")
	assert.True(t, slices.ContainsFunc(ch.Findings, func(f cloudsecurity.MovedFinding) bool { return f.FindingID == id }))

	// One per page, the pages make the whole, in finding id order.
	var walked []cloudsecurity.MovedFinding
	page = queries.Page{Limit: 1}
	for range 10 {
		p, err := e.svc.GetComplianceChanges(ctx, "team-a", cloudsecurity.ChangesQuery{Framework: "CIS-5.0", From: "scan-1", To: "scan-2",
			Requirement: "3.1", Page: page})
		require.NoError(t, err)
		walked = append(walked, p.Findings...)
		if p.NextCursor == "" {
			break
		}
		page.Cursor = p.NextCursor
	}
	assert.Equal(t, ch.Findings, walked)
	assert.True(t, slices.IsSortedFunc(walked, func(a, b cloudsecurity.MovedFinding) int { return strings.Compare(a.FindingID, b.FindingID) }))
}

func TestCompliance_QueriesBadInputAndIsolation(t *testing.T) {
	t.Parallel()
	e := complianceEnv(t)
	ctx := context.Background()
	var ve *domain.ValidationError
	_, err := e.svc.GetFrameworkCompliance(ctx, "team-a", cloudsecurity.FrameworkQuery{Framework: "CIS-5.0", AsOf: time.Now()})
	require.ErrorAs(t, err, &ve)
	assert.Contains(t, err.Error(), "account")
	_, err = e.svc.GetComplianceChanges(ctx, "team-a", cloudsecurity.ChangesQuery{Framework: "CIS-5.0", To: "2026-01-01T00:00:00Z"})
	require.ErrorAs(t, err, &ve)
	assert.Contains(t, err.Error(), "account")
	_, err = e.svc.GetComplianceChanges(ctx, "team-a", cloudsecurity.ChangesQuery{Framework: "CIS-5.0"})
	require.ErrorAs(t, err, &ve)
	_, err = e.svc.GetFrameworkCompliance(ctx, "team-a", cloudsecurity.FrameworkQuery{Framework: "CIS-5.0", Page: queries.Page{Cursor: "!!"}})
	require.ErrorAs(t, err, &ve)

	// Team b sees nothing of team a's.
	ov, err := e.svc.GetComplianceOverview(ctx, "team-b", "", queries.Page{})
	require.NoError(t, err)
	assert.Empty(t, ov.Frameworks)
	assert.Empty(t, ov.Accounts)
	_, err = e.svc.GetFrameworkCompliance(ctx, "team-b", cloudsecurity.FrameworkQuery{Framework: "CIS-5.0"})
	assert.ErrorIs(t, err, queries.ErrNotFound)
	_, err = e.svc.GetFrameworkCompliance(ctx, "team-b", cloudsecurity.FrameworkQuery{Framework: "CIS-5.0", ScanID: "scan-1"})
	assert.ErrorIs(t, err, queries.ErrNotFound)
	_, err = e.svc.GetComplianceChanges(ctx, "team-b", cloudsecurity.ChangesQuery{Framework: "CIS-5.0", From: "scan-1", To: "scan-2"})
	assert.ErrorIs(t, err, queries.ErrNotFound)
}

func ptr(v float64) *float64 { return &v }
