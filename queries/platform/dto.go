package platform

import (
	"time"

	"github.com/cspm-es/cspm-es/queries"
)

// Dashboard is a team's overview: totals over all its scans and findings,
// and its most recently requested scans.
type Dashboard struct {
	TeamID      string            `json:"team_id"`
	Scans       ScanTotals        `json:"scans"`
	Findings    DashboardFindings `json:"findings"`
	RecentScans []RecentScan      `json:"recent_scans"`
	// Posture is what the imports say (posture.go).
	Posture Posture `json:"posture"`
	// Vulnerabilities: open KEV occurrences, SLA breaches and due soon,
	// the most vulnerable images (dashboard_vulnerabilities.go, decision 57).
	Vulnerabilities DashboardVulnerabilities `json:"vulnerabilities"`
	// Assessments are the team's assessments in progress
	// (dashboard_assessments.go); absent while the team has none.
	Assessments     *AssessmentsInProgress `json:"assessments,omitempty"`
	UpdatedPosition int64                  `json:"updated_position"`
	// Risk is the risk section (dashboard_risk.go); absent for a team
	// without risk data.
	Risk *RiskSection `json:"risk,omitempty"`
	// ScanEngine: running and failed scan jobs, TLS certificates expired
	// and expiring within 30 days (dashboard_scan_engine.go, decision 79).
	ScanEngine DashboardScanEngine `json:"scan_engine"`
}

// ScanTotals counts a team's scans.
type ScanTotals struct {
	Total    int64                    `json:"total"`
	ByStatus queries.ScanStatusCounts `json:"by_status"`
}

// DashboardFindings counts a team's findings.
type DashboardFindings struct {
	Total          int64                       `json:"total"`
	BySeverity     queries.SeverityCounts      `json:"by_severity"`
	ByStatus       queries.FindingStatusCounts `json:"by_status"`
	OpenBySeverity queries.SeverityCounts      `json:"open_by_severity"`
}

// RecentScan is one of the dashboard's latest scans.
type RecentScan struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	Tool        string    `json:"tool"`
	AccountID   string    `json:"account_id"`
	RequestedAt time.Time `json:"requested_at,omitzero"`
}
