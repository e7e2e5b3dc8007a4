package platform_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/platform"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

func TestDashboardSummary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
	ctx := context.Background()

	got, err := e.svc.DashboardSummary(ctx, "team-a")
	require.NoError(t, err)
	all := qt.CountFindings(func(f qt.FindingSpec) bool { return f.Team == "team-a" })
	open := qt.CountFindings(func(f qt.FindingSpec) bool { return f.Team == "team-a" && f.Status == "open" })
	assert.Equal(t, platform.Dashboard{
		TeamID: "team-a",
		Scans:  platform.ScanTotals{Total: 4, ByStatus: queries.ScanStatusCounts{Requested: 1, Running: 1, Completed: 1, Failed: 1}},
		Findings: platform.DashboardFindings{
			Total: all.Total, BySeverity: all.BySeverity, ByStatus: all.ByStatus, OpenBySeverity: open.BySeverity,
		},
		RecentScans: []platform.RecentScan{
			{ID: "s4", Status: "requested", Tool: "scout", AccountID: "acc-1", RequestedAt: qt.At(3 * time.Hour)},
			{ID: "s3", Status: "failed", Tool: "scout", AccountID: "acc-1", RequestedAt: qt.At(2 * time.Hour)},
			{ID: "s2", Status: "running", Tool: "prowler", AccountID: "acc-2", RequestedAt: qt.At(time.Hour)},
			{ID: "s1", Status: "completed", Tool: "prowler", AccountID: "acc-1", RequestedAt: qt.T0},
		},
		Posture: platform.Posture{ // no imports: the API findings only
			OpenFindings: platform.OpenFindings{Total: open.BySeverity.Sum(), BySeverity: open.BySeverity},
			ByAccount:    []platform.AccountPosture{}, TopFailingChecks: []platform.CheckCount{},
		},
		Vulnerabilities: noVulns,
		ScanEngine:      noScanEngine,
		UpdatedPosition: got.UpdatedPosition,
	}, got)
	assert.NotZero(t, got.UpdatedPosition)

	b, err := e.svc.DashboardSummary(ctx, "team-b")
	require.NoError(t, err)
	assert.Equal(t, int64(1), b.Scans.Total)
	assert.Equal(t, int64(12), b.Findings.Total)
	assert.Equal(t, []string{"s9"}, qt.IDs(b.RecentScans, func(r platform.RecentScan) string { return r.ID }))

	none, err := e.svc.DashboardSummary(ctx, "team-c")
	require.NoError(t, err)
	assert.Equal(t, platform.Dashboard{TeamID: "team-c", RecentScans: []platform.RecentScan{},
		Posture: platform.Posture{ByAccount: []platform.AccountPosture{}, TopFailingChecks: []platform.CheckCount{}}, Vulnerabilities: noVulns, ScanEngine: noScanEngine}, none)
}

// noVulns is the vulnerabilities section of a team without scans.
var noVulns = platform.DashboardVulnerabilities{SLA: platform.DashboardSLA{ByModule: map[string]queries.SLACounts{}},
	TopVulnerableImages: []platform.VulnerableImage{}}

// noScanEngine is the scan-engine section of a team without jobs or
// certificates.
var noScanEngine = platform.DashboardScanEngine{Jobs: platform.DashboardJobs{Running: []platform.DashboardJob{}, Failed: []platform.DashboardJob{}},
	Certificates: platform.DashboardCertificates{Expiring: []platform.DashboardCertificate{}, Expired: []platform.DashboardCertificate{}}}

// TestResponseJSON pins the snake_case shape of the dashboard's response body.
func TestResponseJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
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
		"posture": {
			"open_findings": {"total": 7, "by_severity": {"critical": 2, "high": 3, "medium": 0, "low": 1, "informational": 1}},
			"by_account": [], "last_scan": null,
			"last_7_days": {"new": 0, "reopened": 0, "fixed": 0}, "last_30_days": {"new": 0, "reopened": 0, "fixed": 0},
			"top_failing_checks": [], "muted": {"by_tool": 0}, "compliance": null
		},
		"vulnerabilities": {"open_total": 0, "open_by_severity": {"critical": 0, "high": 0, "medium": 0, "low": 0, "unknown": 0},
			"kev_open_total": 0, "kev_open_by_severity": {"critical": 0, "high": 0, "medium": 0, "low": 0, "unknown": 0},
			"sla": {"breached": 0, "due_in_7_days": 0, "by_module": {},
				"total": {"open": 0, "breached": 0, "due_in_7_days": 0, "no_deadline": 0, "met": 0, "missed": 0, "resolved_no_sla": 0}},
			"top_vulnerable_images": []},
		"scan_engine": {
			"jobs": {"running_total": 0, "running_by_status": {"dispatched": 0, "running": 0}, "running": [],
				"failed_total": 0, "failed_by_status": {"failed": 0, "timed_out": 0}, "failed": []},
			"certificates": {"expired_total": 0, "expiring_total": 0, "expiring": [], "expired": []}},
		"updated_position": `+qt.JSONNumber(d.UpdatedPosition)+`
	}`, string(raw))
}

// TestNoTeam: the platform queries need the caller's team.
func TestNoTeam(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.svc.DashboardSummary(ctx, "")
	assert.ErrorIs(t, err, queries.ErrNoTeam)
}

// The posture of the imported pair: scan 2 (a day after scan 1 here, as
// the query's clock sees it) fixed six findings and raised three; bob
// resolved one of those.
func TestDashboardSummary_Posture(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.ImportPair("team-a").Events)
	e.svc.WithClock(func() time.Time { return qt.T0.Add(24 * time.Hour) })
	got, err := e.svc.DashboardSummary(context.Background(), "team-a")
	require.NoError(t, err)
	p := got.Posture
	assert.Equal(t, platform.OpenFindings{Total: 2, BySeverity: queries.SeverityCounts{Low: 2}}, p.OpenFindings)
	require.Len(t, p.ByAccount, 1)
	assert.Equal(t, int64(2), p.ByAccount[0].Total)
	require.NotNil(t, p.LastScan)
	assert.Equal(t, "scan-2", p.LastScan.ScanID)
	assert.Equal(t, platform.ChangeCounts{New: 3, Fixed: 6}, p.LastScan.ChangeCounts)
	assert.Equal(t, platform.ChangeCounts{New: 9, Fixed: 6}, p.Last7Days)
	assert.Equal(t, p.Last7Days, p.Last30Days)
	assert.Equal(t, []platform.CheckCount{{CheckID: "cloudtrail_cloudwatch_logging_enabled", Open: 1}, {CheckID: "cloudtrail_s3_dataevents_read_enabled", Open: 1}},
		p.TopFailingChecks)
	assert.Nil(t, p.Compliance)

	// Forty days on, the pair's day is out of the last 30.
	e.svc.WithClock(func() time.Time { return qt.T0.Add(40 * 24 * time.Hour) })
	got, err = e.svc.DashboardSummary(context.Background(), "team-a")
	require.NoError(t, err)
	assert.Equal(t, platform.ChangeCounts{}, got.Posture.Last30Days)
}
