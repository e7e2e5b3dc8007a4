package queries

import "time"

// Scan is one scan run.
type Scan struct {
	ID              string    `json:"id"`
	AccountID       string    `json:"account_id"`
	Provider        string    `json:"provider"`
	Tool            string    `json:"tool"`
	Target          string    `json:"target,omitempty"`
	Status          string    `json:"status"`
	RequestedAt     time.Time `json:"requested_at,omitzero"`
	StartedAt       time.Time `json:"started_at,omitzero"`
	CompletedAt     time.Time `json:"completed_at,omitzero"`
	FailedAt        time.Time `json:"failed_at,omitzero"`
	FailureReason   string    `json:"failure_reason,omitempty"`
	ResourceCount   int64     `json:"resource_count"`
	UpdatedPosition int64     `json:"updated_position"`
}

// ScanList is one page of scans, most recently requested first.
type ScanList struct {
	Items      []Scan `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// ScanDetail is a scan with the counts of the findings raised in it.
type ScanDetail struct {
	Scan
	Findings FindingCounts `json:"findings"`
}

// FindingCounts counts findings in total, by severity and by status.
type FindingCounts struct {
	Total      int64               `json:"total"`
	BySeverity SeverityCounts      `json:"by_severity"`
	ByStatus   FindingStatusCounts `json:"by_status"`
}

// SeverityCounts counts findings per severity.
type SeverityCounts struct {
	Critical      int64 `json:"critical"`
	High          int64 `json:"high"`
	Medium        int64 `json:"medium"`
	Low           int64 `json:"low"`
	Informational int64 `json:"informational"`
}

// FindingStatusCounts counts findings per status.
type FindingStatusCounts struct {
	Open       int64 `json:"open"`
	Resolved   int64 `json:"resolved"`
	Suppressed int64 `json:"suppressed"`
}

// ScanStatusCounts counts scans per status.
type ScanStatusCounts struct {
	Requested int64 `json:"requested"`
	Running   int64 `json:"running"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
}

// Finding is one finding.
type Finding struct {
	ID              string    `json:"id"`
	ScanID          string    `json:"scan_id"`
	AccountID       string    `json:"account_id"`
	CheckID         string    `json:"check_id"`
	Title           string    `json:"title"`
	Severity        string    `json:"severity"`
	ResourceID      string    `json:"resource_id"`
	Region          string    `json:"region,omitempty"`
	Description     string    `json:"description,omitempty"`
	Status          string    `json:"status"`
	RaisedAt        time.Time `json:"raised_at,omitzero"`
	ResolvedAt      time.Time `json:"resolved_at,omitzero"`
	SuppressedAt    time.Time `json:"suppressed_at,omitzero"`
	SuppressedUntil time.Time `json:"suppressed_until,omitzero"`
	Reason          string    `json:"reason,omitempty"`
	UpdatedPosition int64     `json:"updated_position"`
}

// FindingList is one page of findings, most recently raised first.
type FindingList struct {
	Items      []Finding `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// Dashboard is a team's overview: totals over all its scans and findings,
// and its most recently requested scans.
type Dashboard struct {
	TeamID          string            `json:"team_id"`
	Scans           ScanTotals        `json:"scans"`
	Findings        DashboardFindings `json:"findings"`
	RecentScans     []RecentScan      `json:"recent_scans"`
	UpdatedPosition int64             `json:"updated_position"`
}

// ScanTotals counts a team's scans.
type ScanTotals struct {
	Total    int64            `json:"total"`
	ByStatus ScanStatusCounts `json:"by_status"`
}

// DashboardFindings counts a team's findings.
type DashboardFindings struct {
	Total          int64               `json:"total"`
	BySeverity     SeverityCounts      `json:"by_severity"`
	ByStatus       FindingStatusCounts `json:"by_status"`
	OpenBySeverity SeverityCounts      `json:"open_by_severity"`
}

// RecentScan is one of the dashboard's latest scans.
type RecentScan struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	Tool        string    `json:"tool"`
	AccountID   string    `json:"account_id"`
	RequestedAt time.Time `json:"requested_at,omitzero"`
}

func severityCounts(m map[string]any) SeverityCounts {
	return SeverityCounts{
		Critical: num(m, "critical"), High: num(m, "high"), Medium: num(m, "medium"),
		Low: num(m, "low"), Informational: num(m, "informational"),
	}
}

func findingStatusCounts(m map[string]any) FindingStatusCounts {
	return FindingStatusCounts{Open: num(m, "open"), Resolved: num(m, "resolved"), Suppressed: num(m, "suppressed")}
}

func scanStatusCounts(m map[string]any) ScanStatusCounts {
	return ScanStatusCounts{
		Requested: num(m, "requested"), Running: num(m, "running"),
		Completed: num(m, "completed"), Failed: num(m, "failed"),
	}
}
