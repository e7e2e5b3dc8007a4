package cloudsecurity

import "time"

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
	// Imported findings (source "import"): their lifecycle across scans
	// (docs/findings-lifecycle.md).
	Source        string    `json:"source"` // api or import
	Provider      string    `json:"provider,omitempty"`
	FirstSeen     time.Time `json:"first_seen,omitzero"`
	LastSeen      time.Time `json:"last_seen,omitzero"`
	FailingSince  time.Time `json:"failing_since,omitzero"`
	TimesReopened int64     `json:"times_reopened,omitempty"`
	ClosedAt      time.Time `json:"closed_at,omitzero"`       // when it was fixed or resolved
	ClosedByScan  string    `json:"closed_by_scan,omitempty"` // the scan that fixed it
	LastScanID    string    `json:"last_scan_id,omitempty"`
	// Muted: a muting rule in force matches the finding (MutedBy names
	// the rules); it is counted apart. Suppressed: a person suppressed it
	// (SuppressedAt, SuppressedUntil and Reason say when and why).
	Muted      bool     `json:"muted"`
	MutedBy    []string `json:"muted_by,omitempty"`
	Suppressed bool     `json:"suppressed"`
	// Accepted: a risk acceptance is in force for it, naming it by id or
	// by a rule of its check (and account); AcceptanceIDs are those
	// acceptances (docs/risk-management.md).
	Accepted      bool     `json:"accepted"`
	AcceptanceIDs []string `json:"acceptance_ids,omitempty"`
}

// FindingList is one page of findings, most recently raised first.
type FindingList struct {
	Items      []Finding `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}
