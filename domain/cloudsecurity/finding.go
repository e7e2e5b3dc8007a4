// Package cloudsecurity is the domain of cloud security posture: the Finding
// aggregate, its events and its rules. Pure Go: it imports the standard
// library and domain only.
//
// Decisions (Raise, and the Finding methods Resolve and Suppress) check the
// rules and return the events to record; they never change the aggregate.
// Rehydrate and Apply rebuild it from recorded events and never reject one.
package cloudsecurity

import (
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Status is where a finding is in its lifecycle: open → suppressed → resolved,
// or open → resolved.
type Status string

const (
	StatusOpen       Status = "open"
	StatusResolved   Status = "resolved"
	StatusSuppressed Status = "suppressed"
)

// Rule codes of the *domain.RuleError values the decisions return.
const (
	CodeFindingNotRaised         = "FINDING_NOT_RAISED"
	CodeFindingAlreadyResolved   = "FINDING_ALREADY_RESOLVED"
	CodeFindingAlreadySuppressed = "FINDING_ALREADY_SUPPRESSED"
	CodeTimestampOutOfOrder      = "TIMESTAMP_OUT_OF_ORDER"
)

// NewFinding is what a scan reports about one problem.
type NewFinding struct {
	FindingID   string
	ScanID      string
	AccountID   string
	CheckID     string
	Title       string
	Severity    string // any case; see ParseSeverity
	ResourceID  string
	Region      string // optional
	Description string // optional
	RaisedAt    time.Time
}

// Raise decides a new finding: FindingRaised, or a *domain.ValidationError
// naming every invalid field (finding_id, scan_id, account_id, check_id,
// title, severity, resource_id, raised_at).
func Raise(n NewFinding) ([]Event, error) {
	var v domain.Validator
	checkID(&v, "finding_id", n.FindingID)
	v.Check(!IsImportedFinding(n.FindingID), "finding_id", "must not start with %q (reserved for the findings imports reveal)", ImportedFindingPrefix)
	v.Check(n.ScanID != "", "scan_id", "is required")
	v.Text("scan_id", n.ScanID, domain.MaxShortText)
	v.Check(n.AccountID != "", "account_id", "is required")
	v.Text("account_id", n.AccountID, domain.MaxShortText)
	check := strings.TrimSpace(n.CheckID)
	v.Check(check != "", "check_id", "is required")
	v.Text("check_id", check, domain.MaxShortText)
	title := strings.TrimSpace(n.Title)
	v.Check(title != "", "title", "is required")
	v.Text("title", title, domain.MaxTitle)
	severity, ok := ParseSeverity(n.Severity)
	v.Check(ok, "severity", "must be one of critical, high, medium, low, informational")
	resourceID := strings.TrimSpace(n.ResourceID)
	v.Check(resourceID != "", "resource_id", "is required")
	v.Text("resource_id", resourceID, domain.MaxReference)
	v.Text("region", strings.TrimSpace(n.Region), domain.MaxShortText)
	v.MultilineText("description", strings.TrimSpace(n.Description), domain.MaxDescription)
	v.Check(!n.RaisedAt.IsZero(), "raised_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{FindingRaised{
		FindingID:   n.FindingID,
		ScanID:      n.ScanID,
		AccountID:   n.AccountID,
		CheckID:     check,
		Title:       title,
		Severity:    severity,
		ResourceID:  resourceID,
		Region:      strings.TrimSpace(n.Region),
		Description: strings.TrimSpace(n.Description),
		RaisedAt:    n.RaisedAt,
	}}, nil
}

// Finding is one problem a scan found. Build it with Rehydrate.
type Finding struct {
	raised            FindingRaised
	status            Status
	resolvedAt        time.Time
	resolutionReason  string
	suppressedAt      time.Time
	suppressionReason string
	suppressedUntil   time.Time
	lastAt            time.Time // when the latest step happened
}

// Resolve decides that the open or suppressed finding was resolved at at;
// reason is optional.
func (f *Finding) Resolve(reason string, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.MultilineText("reason", strings.TrimSpace(reason), domain.MaxReason)
	v.Check(!at.IsZero(), "resolved_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch f.status {
	case StatusOpen, StatusSuppressed:
	case StatusResolved:
		return nil, domain.Rule(CodeFindingAlreadyResolved, "finding %s is already resolved", f.raised.FindingID)
	default:
		return nil, domain.Rule(CodeFindingNotRaised, "the finding was never raised")
	}
	if err := f.notBeforeLastStep("resolved_at", at); err != nil {
		return nil, err
	}
	return []Event{FindingResolved{FindingID: f.raised.FindingID, Reason: strings.TrimSpace(reason), ResolvedAt: at}}, nil
}

// Suppression is why, and optionally until when, a finding is accepted.
type Suppression struct {
	Reason string
	Until  time.Time // optional: zero suppresses with no end
}

// Suppress decides that the open finding is suppressed as of at. A
// suppressed finding whose suppression has ended may be suppressed again.
func (f *Finding) Suppress(s Suppression, at time.Time) ([]Event, error) {
	reason := strings.TrimSpace(s.Reason)
	var v domain.Validator
	v.Check(reason != "", "reason", "is required")
	v.MultilineText("reason", reason, domain.MaxReason)
	v.Check(s.Until.IsZero() || s.Until.After(at), "until", "must be in the future")
	v.Check(!at.IsZero(), "suppressed_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch f.status {
	case StatusOpen:
	case StatusSuppressed:
		if f.suppressedUntil.IsZero() || at.Before(f.suppressedUntil) {
			return nil, domain.Rule(CodeFindingAlreadySuppressed, "finding %s is already suppressed", f.raised.FindingID)
		}
	case StatusResolved:
		return nil, domain.Rule(CodeFindingAlreadyResolved, "finding %s is resolved and cannot be suppressed", f.raised.FindingID)
	default:
		return nil, domain.Rule(CodeFindingNotRaised, "the finding was never raised")
	}
	if err := f.notBeforeLastStep("suppressed_at", at); err != nil {
		return nil, err
	}
	return []Event{FindingSuppressed{FindingID: f.raised.FindingID, Reason: reason, Until: s.Until, SuppressedAt: at}}, nil
}

func (f *Finding) notBeforeLastStep(field string, at time.Time) error {
	if at.Before(f.lastAt) {
		return domain.Rule(CodeTimestampOutOfOrder, "%s %s is before the finding's previous step (%s)",
			field, at.Format(time.RFC3339Nano), f.lastAt.Format(time.RFC3339Nano))
	}
	return nil
}

// Rehydrate rebuilds a finding from its recorded events, oldest first.
func Rehydrate(events ...Event) *Finding {
	f := &Finding{}
	for _, e := range events {
		f.Apply(e)
	}
	return f
}

// Apply records the effect of one event. It never rejects: the event has
// happened. Events of other aggregates are ignored.
func (f *Finding) Apply(e Event) {
	switch e := e.(type) {
	case FindingRaised:
		f.raised, f.status, f.lastAt = e, StatusOpen, e.RaisedAt
	case FindingResolved:
		f.status, f.resolvedAt, f.resolutionReason = StatusResolved, e.ResolvedAt, e.Reason
		f.lastAt = e.ResolvedAt
	case FindingSuppressed:
		f.status, f.suppressedAt, f.suppressionReason, f.suppressedUntil = StatusSuppressed, e.SuppressedAt, e.Reason, e.Until
		f.lastAt = e.SuppressedAt
	}
}

// FindingState is a read-only view of a finding, for audit replay.
type FindingState struct {
	FindingID         string    `json:"finding_id"`
	ScanID            string    `json:"scan_id"`
	AccountID         string    `json:"account_id"`
	CheckID           string    `json:"check_id"`
	Title             string    `json:"title"`
	Severity          Severity  `json:"severity"`
	ResourceID        string    `json:"resource_id"`
	Region            string    `json:"region,omitempty"`
	Description       string    `json:"description,omitempty"`
	Status            Status    `json:"status"`
	RaisedAt          time.Time `json:"raised_at"`
	ResolvedAt        time.Time `json:"resolved_at,omitzero"`
	ResolutionReason  string    `json:"resolution_reason,omitempty"`
	SuppressedAt      time.Time `json:"suppressed_at,omitzero"`
	SuppressionReason string    `json:"suppression_reason,omitempty"`
	SuppressedUntil   time.Time `json:"suppressed_until,omitzero"`
}

// State returns the finding's current state.
func (f *Finding) State() FindingState {
	r := f.raised
	return FindingState{
		FindingID:         r.FindingID,
		ScanID:            r.ScanID,
		AccountID:         r.AccountID,
		CheckID:           r.CheckID,
		Title:             r.Title,
		Severity:          r.Severity,
		ResourceID:        r.ResourceID,
		Region:            r.Region,
		Description:       r.Description,
		Status:            f.status,
		RaisedAt:          r.RaisedAt,
		ResolvedAt:        f.resolvedAt,
		ResolutionReason:  f.resolutionReason,
		SuppressedAt:      f.suppressedAt,
		SuppressionReason: f.suppressionReason,
		SuppressedUntil:   f.suppressedUntil,
	}
}
