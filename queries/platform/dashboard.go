package platform

import (
	"context"
	"errors"
	"fmt"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// DashboardSummary returns the team's dashboard: one read of the
// dashboard_summaries document the platform.dashboard projection keeps. A
// team with no scans and no findings yet gets zero counts.
func (s *Service) DashboardSummary(ctx context.Context, team string) (Dashboard, error) {
	if team == "" {
		return Dashboard{}, queries.ErrNoTeam
	}
	out := Dashboard{TeamID: team, RecentScans: []RecentScan{}, Posture: emptyPosture()}
	now := s.now()
	vulns, err := s.dashboardVulnerabilities(ctx, team, now)
	if err != nil {
		return Dashboard{}, err
	}
	out.Vulnerabilities = vulns
	if out.Assessments, err = s.assessmentsInProgress(ctx, team, now); err != nil { // dashboard_assessments.go
		return Dashboard{}, err
	}
	if out.ScanEngine, err = s.dashboardScanEngine(ctx, team, now); err != nil {
		return Dashboard{}, err
	}
	d, err := s.platform.Get(ctx, dashboardCollection, team)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return out, nil
	case err != nil:
		return Dashboard{}, fmt.Errorf("get dashboard: %w", err)
	case queries.Str(d, "team_id") != team:
		return out, nil
	}
	scans := queries.Obj(d, "scans_by_status")
	out.Scans = ScanTotals{Total: queries.Num(d, "scans_total"), ByStatus: queries.ScanStatusCountsOf(scans)}
	out.Findings = DashboardFindings{
		Total:          queries.Num(d, "findings_total"),
		BySeverity:     queries.SeverityCountsOf(queries.Obj(d, "findings_by_severity")),
		ByStatus:       queries.FindingStatusCountsOf(queries.Obj(d, "findings_by_status")),
		OpenBySeverity: queries.SeverityCountsOf(queries.Obj(d, "open_findings_by_severity")),
	}
	recent, _ := d["recent_scans"].([]any)
	for _, r := range recent {
		m, _ := r.(map[string]any)
		out.RecentScans = append(out.RecentScans, RecentScan{
			ID: queries.Str(m, "scan_id"), Status: queries.Str(m, "status"), Tool: queries.Str(m, "tool"),
			AccountID: queries.Str(m, "account_id"), RequestedAt: queries.When(m, "requested_at"),
		})
	}
	out.Posture = postureOf(queries.Obj(d, "posture"), out.Findings.OpenBySeverity, s.now())
	out.Risk = riskSectionOf(queries.Obj(d, "risk"), s.now())
	out.UpdatedPosition = queries.Num(d, "updated_position")
	return out, nil
}
