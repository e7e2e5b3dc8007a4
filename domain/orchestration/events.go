package orchestration

import "time"

// Event is a ScanRun event. EventType is its stored type name: part of the
// stored format, so it never changes, whatever the Go type is called.
type Event interface {
	EventType() string
}

// ScanRequested: a scan of a cloud account was asked for (the first event of a ScanRun).
type ScanRequested struct {
	ScanID      string    `json:"scan_id"`
	AccountID   string    `json:"account_id"`
	Provider    Provider  `json:"provider"`
	Tool        string    `json:"tool"`
	Target      string    `json:"target,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
}

// ScanStarted: the scan began running.
type ScanStarted struct {
	ScanID    string    `json:"scan_id"`
	StartedAt time.Time `json:"started_at"`
}

// ScanCompleted: the scan finished, having looked at ResourceCount resources.
type ScanCompleted struct {
	ScanID        string    `json:"scan_id"`
	CompletedAt   time.Time `json:"completed_at"`
	ResourceCount int       `json:"resource_count"`
}

// ScanFailed: the scan stopped without completing.
type ScanFailed struct {
	ScanID   string    `json:"scan_id"`
	Reason   string    `json:"reason"`
	FailedAt time.Time `json:"failed_at"`
}

func (ScanRequested) EventType() string { return "ScanRequested" }
func (ScanStarted) EventType() string   { return "ScanStarted" }
func (ScanCompleted) EventType() string { return "ScanCompleted" }
func (ScanFailed) EventType() string    { return "ScanFailed" }
