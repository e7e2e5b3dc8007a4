package queries

import (
	"context"
	"errors"
	"fmt"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// DashboardSummary returns the team's dashboard: one read of the
// dashboard_summaries document the platform.dashboard projection keeps. A
// team with no scans and no findings yet gets zero counts.
func (s *Service) DashboardSummary(ctx context.Context, team string) (Dashboard, error) {
	if team == "" {
		return Dashboard{}, ErrNoTeam
	}
	out := Dashboard{TeamID: team, RecentScans: []RecentScan{}}
	d, err := s.platform.Get(ctx, dashboardCollection, team)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return out, nil
	case err != nil:
		return Dashboard{}, fmt.Errorf("get dashboard: %w", err)
	case str(d, "team_id") != team:
		return out, nil
	}
	scans := obj(d, "scans_by_status")
	out.Scans = ScanTotals{Total: num(d, "scans_total"), ByStatus: scanStatusCounts(scans)}
	out.Findings = DashboardFindings{
		Total:          num(d, "findings_total"),
		BySeverity:     severityCounts(obj(d, "findings_by_severity")),
		ByStatus:       findingStatusCounts(obj(d, "findings_by_status")),
		OpenBySeverity: severityCounts(obj(d, "open_findings_by_severity")),
	}
	recent, _ := d["recent_scans"].([]any)
	for _, r := range recent {
		m, _ := r.(map[string]any)
		out.RecentScans = append(out.RecentScans, RecentScan{
			ID: str(m, "scan_id"), Status: str(m, "status"), Tool: str(m, "tool"),
			AccountID: str(m, "account_id"), RequestedAt: when(m, "requested_at"),
		})
	}
	out.UpdatedPosition = num(d, "updated_position")
	return out, nil
}
