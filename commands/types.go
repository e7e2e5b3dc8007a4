// Package commands holds the command handlers: validate, load the aggregate
// from its stream, decide, append (retrying on conflict where the command
// allows it). One file per aggregate's commands.
package commands

import "time"

// Meta is who sends a command and how to make it safe to retry. TeamID comes
// from the caller's credentials, never from a request body.
type Meta struct {
	TeamID         string
	Actor          string
	CorrelationID  string
	IdempotencyKey string // optional; a retry with the same key returns the first Result
	// Route is what issued the command, for the audit log: "POST
	// /api/v1/scans/:id/start" (method and route template) over HTTP,
	// "cli keys create" from the CLI.
	Route string
}

// Result is what an accepted command returns (docs/architecture.md §6).
type Result struct {
	ID        string   `json:"id"` // the aggregate's id (scan id, finding id)
	StreamID  string   `json:"stream_id"`
	Version   int64    `json:"version"`
	Position  int64    `json:"position"` // pass this position to read your writes
	EventIDs  []string `json:"event_ids"`
	Duplicate bool     `json:"duplicate,omitempty"` // an idempotent retry: nothing was appended
}

// BatchResult is the outcome of a command that appends to several streams.
type BatchResult struct {
	Items     []Result `json:"items"`
	Position  int64    `json:"position"` // the highest position of the batch
	Duplicate bool     `json:"duplicate,omitempty"`
}

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
