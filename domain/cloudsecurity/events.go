package cloudsecurity

import "time"

// Event is a Finding event. EventType is its stored type name: part of the
// stored format, so it never changes, whatever the Go type is called.
type Event interface {
	EventType() string
}

// FindingRaised: a scan found a problem with a resource (the first event of a Finding).
type FindingRaised struct {
	FindingID   string    `json:"finding_id"`
	ScanID      string    `json:"scan_id"`
	AccountID   string    `json:"account_id"`
	CheckID     string    `json:"check_id"`
	Title       string    `json:"title"`
	Severity    Severity  `json:"severity"`
	ResourceID  string    `json:"resource_id"`
	Region      string    `json:"region,omitempty"`
	Description string    `json:"description,omitempty"`
	RaisedAt    time.Time `json:"raised_at"`
}

// FindingResolved: the problem is gone (fixed, or no longer applies).
type FindingResolved struct {
	FindingID  string    `json:"finding_id"`
	Reason     string    `json:"reason,omitempty"`
	ResolvedAt time.Time `json:"resolved_at"`
}

// FindingSuppressed: the problem is accepted for now (until Until, when set).
type FindingSuppressed struct {
	FindingID    string    `json:"finding_id"`
	Reason       string    `json:"reason"`
	Until        time.Time `json:"until,omitzero"`
	SuppressedAt time.Time `json:"suppressed_at"`
}

func (FindingRaised) EventType() string     { return "FindingRaised" }
func (FindingResolved) EventType() string   { return "FindingResolved" }
func (FindingSuppressed) EventType() string { return "FindingSuppressed" }
