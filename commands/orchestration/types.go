package orchestration

import "time"

// RequestScan asks for a scan of a cloud account (creates the ScanRun stream).
type RequestScan struct {
	ScanID    string `json:"scan_id,omitempty"` // optional; generated (UUIDv7) when empty
	AccountID string `json:"account_id"`
	Provider  string `json:"provider"` // aws | azure | gcp | kubernetes | other
	Tool      string `json:"tool"`     // prowler, trivy, nuclei, ...
	Target    string `json:"target,omitempty"`
}

// StartScan marks a requested scan as running.
type StartScan struct {
	ScanID    string     `json:"-"`
	StartedAt *time.Time `json:"started_at,omitempty"`
}

// CompleteScan marks a running scan as completed (→ ScanCompleted).
type CompleteScan struct {
	ScanID        string     `json:"-"`
	CompletedAt   *time.Time `json:"completed_at,omitempty"`
	ResourceCount int        `json:"resource_count,omitempty"`
}

// FailScan marks a requested or running scan as failed.
type FailScan struct {
	ScanID string `json:"-"`
	Reason string `json:"reason"`
}
