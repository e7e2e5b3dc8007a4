package queries_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/queries"
)

func TestDashboardSummary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, worldEvents().events)
	ctx := context.Background()

	got, err := e.svc.DashboardSummary(ctx, "team-a")
	require.NoError(t, err)
	all := countFindings(func(f findingSpec) bool { return f.team == "team-a" })
	open := countFindings(func(f findingSpec) bool { return f.team == "team-a" && f.status == "open" })
	assert.Equal(t, queries.Dashboard{
		TeamID: "team-a",
		Scans:  queries.ScanTotals{Total: 4, ByStatus: queries.ScanStatusCounts{Requested: 1, Running: 1, Completed: 1, Failed: 1}},
		Findings: queries.DashboardFindings{
			Total: all.Total, BySeverity: all.BySeverity, ByStatus: all.ByStatus, OpenBySeverity: open.BySeverity,
		},
		RecentScans: []queries.RecentScan{
			{ID: "s4", Status: "requested", Tool: "scout", AccountID: "acc-1", RequestedAt: at(3 * time.Hour)},
			{ID: "s3", Status: "failed", Tool: "scout", AccountID: "acc-1", RequestedAt: at(2 * time.Hour)},
			{ID: "s2", Status: "running", Tool: "prowler", AccountID: "acc-2", RequestedAt: at(time.Hour)},
			{ID: "s1", Status: "completed", Tool: "prowler", AccountID: "acc-1", RequestedAt: t0},
		},
		UpdatedPosition: got.UpdatedPosition,
	}, got)
	assert.NotZero(t, got.UpdatedPosition)

	b, err := e.svc.DashboardSummary(ctx, "team-b")
	require.NoError(t, err)
	assert.Equal(t, int64(1), b.Scans.Total)
	assert.Equal(t, int64(12), b.Findings.Total)
	assert.Equal(t, []string{"s9"}, ids(b.RecentScans, func(r queries.RecentScan) string { return r.ID }))

	none, err := e.svc.DashboardSummary(ctx, "team-c")
	require.NoError(t, err)
	assert.Equal(t, queries.Dashboard{TeamID: "team-c", RecentScans: []queries.RecentScan{}}, none)
}

// TestResponseJSON pins the snake_case shape of the response bodies.
func TestResponseJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, worldEvents().events)
	ctx := context.Background()
	d, err := e.svc.DashboardSummary(ctx, "team-b")
	require.NoError(t, err)
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"team_id": "team-b",
		"scans": {"total": 1, "by_status": {"requested": 0, "running": 1, "completed": 0, "failed": 0}},
		"findings": {"total": 12,
			"by_severity": {"critical": 3, "high": 5, "medium": 2, "low": 1, "informational": 1},
			"by_status": {"open": 7, "resolved": 3, "suppressed": 2},
			"open_by_severity": {"critical": 2, "high": 3, "medium": 0, "low": 1, "informational": 1}},
		"recent_scans": [{"id": "s9", "status": "running", "tool": "prowler", "account_id": "acc-1", "requested_at": "2025-03-01T16:00:00Z"}],
		"updated_position": `+jsonNumber(d.UpdatedPosition)+`
	}`, string(raw))

	s, err := e.svc.GetScan(ctx, "team-a", "s3")
	require.NoError(t, err)
	raw, err = json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"id": "s3", "account_id": "acc-1", "provider": "aws", "tool": "scout", "status": "failed",
		"requested_at": "2025-03-01T14:00:00Z", "failed_at": "2025-03-01T14:01:00Z", "failure_reason": "boom",
		"resource_count": 0, "updated_position": `+jsonNumber(s.UpdatedPosition)+`,
		"findings": {"total": 0, "by_severity": {"critical": 0, "high": 0, "medium": 0, "low": 0, "informational": 0},
			"by_status": {"open": 0, "resolved": 0, "suppressed": 0}}
	}`, string(raw))
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
