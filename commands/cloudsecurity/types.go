package cloudsecurity

import "time"

// FindingInput is one finding of a batch raised in a scan.
type FindingInput struct {
	FindingID   string `json:"finding_id,omitempty"` // optional; generated when empty
	CheckID     string `json:"check_id"`
	Title       string `json:"title"`
	Severity    string `json:"severity"` // critical | high | medium | low | informational
	ResourceID  string `json:"resource_id"`
	Region      string `json:"region,omitempty"`
	Description string `json:"description,omitempty"`
}

// RaiseFindings raises a batch of findings in a scan (one Finding stream each).
// The whole batch is validated before anything is appended.
type RaiseFindings struct {
	ScanID   string         `json:"-"`
	Findings []FindingInput `json:"findings"`
}

// ResolveFinding marks an open or suppressed finding as resolved.
type ResolveFinding struct {
	FindingID string `json:"-"`
	Reason    string `json:"reason,omitempty"`
}

// SuppressFinding suppresses an open finding (accepted risk, false positive...).
type SuppressFinding struct {
	FindingID string     `json:"-"`
	Reason    string     `json:"reason"`
	Until     *time.Time `json:"until,omitempty"`
}
