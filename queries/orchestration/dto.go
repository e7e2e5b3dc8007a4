package orchestration

import (
	"time"

	"github.com/cspm-es/cspm-es/queries"
)

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

// ScanDetail is a scan with the counts of the findings raised in it and,
// for a scan an import completed, its delta counts.
type ScanDetail struct {
	Scan
	Findings FindingCounts `json:"findings"`
	Delta    *DeltaCounts  `json:"delta,omitempty"`
}

// FindingCounts counts findings in total, by severity and by status.
type FindingCounts struct {
	Total      int64                       `json:"total"`
	BySeverity queries.SeverityCounts      `json:"by_severity"`
	ByStatus   queries.FindingStatusCounts `json:"by_status"`
}
