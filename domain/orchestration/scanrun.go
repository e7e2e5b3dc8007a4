// Package orchestration is the domain of scan orchestration: the ScanRun
// aggregate, its events and its rules. Pure Go: it imports the standard
// library and domain only.
//
// Decisions (Request, and the ScanRun methods Start, Complete, Fail) check
// the rules and return the events to record; they never change the
// aggregate. Rehydrate and Apply rebuild it from recorded events and never
// reject one.
package orchestration

import (
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Status is where a scan run is in its lifecycle:
// requested → running → completed | failed (a requested scan may also fail).
type Status string

const (
	StatusRequested Status = "requested"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
)

// Rule codes of the *domain.RuleError values the decisions return.
const (
	CodeScanNotRequested     = "SCAN_NOT_REQUESTED"
	CodeScanAlreadyStarted   = "SCAN_ALREADY_STARTED"
	CodeScanNotRunning       = "SCAN_NOT_RUNNING"
	CodeScanAlreadyCompleted = "SCAN_ALREADY_COMPLETED"
	CodeScanAlreadyFailed    = "SCAN_ALREADY_FAILED"
	CodeScanNotAccepting     = "SCAN_NOT_ACCEPTING_FINDINGS"
	CodeTimestampOutOfOrder  = "TIMESTAMP_OUT_OF_ORDER"
)

// ScanRequest is what a caller asks for when requesting a scan.
type ScanRequest struct {
	ScanID      string
	AccountID   string
	Provider    string // any case; see ParseProvider
	Tool        string
	Target      string // optional
	RequestedAt time.Time
}

// Request decides a new scan run: ScanRequested, or a *domain.ValidationError
// naming every invalid field (scan_id, account_id, provider, tool, requested_at).
func Request(r ScanRequest) ([]Event, error) {
	var v domain.Validator
	checkID(&v, "scan_id", r.ScanID)
	accountID := strings.TrimSpace(r.AccountID)
	v.Check(accountID != "", "account_id", "is required")
	v.Text("account_id", accountID, domain.MaxShortText)
	provider, ok := ParseProvider(r.Provider)
	v.Check(ok, "provider", "must be one of aws, azure, gcp, kubernetes, other")
	tool := strings.TrimSpace(r.Tool)
	v.Check(tool != "", "tool", "is required")
	v.Text("tool", tool, domain.MaxShortText)
	v.Text("target", strings.TrimSpace(r.Target), domain.MaxReference)
	v.Check(!r.RequestedAt.IsZero(), "requested_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{ScanRequested{
		ScanID:      r.ScanID,
		AccountID:   accountID,
		Provider:    provider,
		Tool:        tool,
		Target:      strings.TrimSpace(r.Target),
		RequestedAt: r.RequestedAt,
	}}, nil
}

// ScanRun is one scan of a cloud account. Build it with Rehydrate.
type ScanRun struct {
	id            string
	accountID     string
	provider      Provider
	tool          string
	target        string
	status        Status
	requestedAt   time.Time
	startedAt     time.Time
	completedAt   time.Time
	failedAt      time.Time
	failureReason string
	resourceCount int
	lastAt        time.Time // when the latest step happened

	// A run planned with jobs (jobs.go) moves by its jobs, never by hand.
	jobs        map[string]*job
	jobOrder    []string
	maxAttempts int
}

// byHand refuses a hand-moved step on a run planned with jobs.
func (s *ScanRun) byHand() error {
	if s.HasJobs() {
		return domain.Rule(CodeScanHasJobs, "scan %s runs by its jobs: it is not started, completed or failed by hand", s.id)
	}
	return nil
}

// Start decides that the requested scan began running at at.
func (s *ScanRun) Start(at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Check(!at.IsZero(), "started_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.byHand(); err != nil {
		return nil, err
	}
	switch s.status {
	case StatusRequested:
	case StatusRunning, StatusCompleted:
		return nil, domain.Rule(CodeScanAlreadyStarted, "scan %s has already started", s.id)
	case StatusFailed:
		return nil, domain.Rule(CodeScanAlreadyFailed, "scan %s has failed and cannot start", s.id)
	default:
		return nil, notRequested()
	}
	if err := s.notBeforeLastStep("started_at", at); err != nil {
		return nil, err
	}
	return []Event{ScanStarted{ScanID: s.id, StartedAt: at}}, nil
}

// Complete decides that the running scan finished at at, having looked at
// resourceCount resources.
func (s *ScanRun) Complete(resourceCount int, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Check(resourceCount >= 0, "resource_count", "must not be negative")
	v.Check(!at.IsZero(), "completed_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.byHand(); err != nil {
		return nil, err
	}
	switch s.status {
	case StatusRunning:
	case StatusCompleted:
		return nil, domain.Rule(CodeScanAlreadyCompleted, "scan %s has already completed", s.id)
	case StatusFailed:
		return nil, domain.Rule(CodeScanAlreadyFailed, "scan %s has failed and cannot complete", s.id)
	case StatusRequested:
		return nil, domain.Rule(CodeScanNotRunning, "scan %s is not running: it must start before it completes", s.id)
	default:
		return nil, notRequested()
	}
	if err := s.notBeforeLastStep("completed_at", at); err != nil {
		return nil, err
	}
	return []Event{ScanCompleted{ScanID: s.id, CompletedAt: at, ResourceCount: resourceCount}}, nil
}

// Fail decides that the requested or running scan stopped at at for reason.
func (s *ScanRun) Fail(reason string, at time.Time) ([]Event, error) {
	reason = strings.TrimSpace(reason)
	var v domain.Validator
	v.Check(reason != "", "reason", "is required")
	v.MultilineText("reason", reason, domain.MaxReason)
	v.Check(!at.IsZero(), "failed_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.byHand(); err != nil {
		return nil, err
	}
	switch s.status {
	case StatusRequested, StatusRunning:
	case StatusCompleted:
		return nil, domain.Rule(CodeScanAlreadyCompleted, "scan %s has completed and cannot fail", s.id)
	case StatusFailed:
		return nil, domain.Rule(CodeScanAlreadyFailed, "scan %s has already failed", s.id)
	default:
		return nil, notRequested()
	}
	if err := s.notBeforeLastStep("failed_at", at); err != nil {
		return nil, err
	}
	return []Event{ScanFailed{ScanID: s.id, Reason: reason, FailedAt: at}}, nil
}

// AllowsFindings returns nil when findings may be raised in the scan (it is
// running or completed) and a *domain.RuleError otherwise.
func (s *ScanRun) AllowsFindings() error {
	if s.HasJobs() {
		return domain.Rule(CodeScanNotAccepting, "scan %s runs by its jobs: each job's report is imported as its own scan", s.id)
	}
	if s.status == StatusRunning || s.status == StatusCompleted {
		return nil
	}
	return domain.Rule(CodeScanNotAccepting, "scan %s is %s: findings need a running or completed scan", s.id, s.status)
}

func notRequested() error { return domain.Rule(CodeScanNotRequested, "the scan was never requested") }

func (s *ScanRun) notBeforeLastStep(field string, at time.Time) error {
	if at.Before(s.lastAt) {
		return domain.Rule(CodeTimestampOutOfOrder, "%s %s is before the scan's previous step (%s)",
			field, at.Format(time.RFC3339Nano), s.lastAt.Format(time.RFC3339Nano))
	}
	return nil
}

// Rehydrate rebuilds a scan run from its recorded events, oldest first.
func Rehydrate(events ...Event) *ScanRun {
	s := &ScanRun{}
	for _, e := range events {
		s.Apply(e)
	}
	return s
}

// Apply records the effect of one event. It never rejects: the event has
// happened. Events of other aggregates are ignored.
func (s *ScanRun) Apply(e Event) {
	switch e := e.(type) {
	case ScanRequested:
		s.id, s.accountID, s.provider, s.tool, s.target = e.ScanID, e.AccountID, e.Provider, e.Tool, e.Target
		s.status, s.requestedAt = StatusRequested, e.RequestedAt
		s.lastAt = e.RequestedAt
	case ScanStarted:
		s.status, s.startedAt = StatusRunning, e.StartedAt
		s.lastAt = e.StartedAt
	case ScanCompleted:
		s.status, s.completedAt, s.resourceCount = StatusCompleted, e.CompletedAt, e.ResourceCount
		s.lastAt = e.CompletedAt
	case ScanFailed:
		s.status, s.failedAt, s.failureReason = StatusFailed, e.FailedAt, e.Reason
		s.lastAt = e.FailedAt
	default:
		s.applyJob(e)
	}
}

// ScanRunState is a read-only view of a scan run, for audit replay.
type ScanRunState struct {
	ScanID        string    `json:"scan_id"`
	AccountID     string    `json:"account_id"`
	Provider      Provider  `json:"provider"`
	Tool          string    `json:"tool"`
	Target        string    `json:"target,omitempty"`
	Status        Status    `json:"status"`
	RequestedAt   time.Time `json:"requested_at"`
	StartedAt     time.Time `json:"started_at,omitzero"`
	CompletedAt   time.Time `json:"completed_at,omitzero"`
	FailedAt      time.Time `json:"failed_at,omitzero"`
	FailureReason string    `json:"failure_reason,omitempty"`
	ResourceCount int       `json:"resource_count"`
}

// State returns the scan run's current state.
func (s *ScanRun) State() ScanRunState {
	return ScanRunState{
		ScanID:        s.id,
		AccountID:     s.accountID,
		Provider:      s.provider,
		Tool:          s.tool,
		Target:        s.target,
		Status:        s.status,
		RequestedAt:   s.requestedAt,
		StartedAt:     s.startedAt,
		CompletedAt:   s.completedAt,
		FailedAt:      s.failedAt,
		FailureReason: s.failureReason,
		ResourceCount: s.resourceCount,
	}
}
