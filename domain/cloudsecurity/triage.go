package cloudsecurity

import (
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Triage of imported findings. A finding an import revealed has no stream
// of its own facts: what the scans said of it is in the imports' results,
// and its lifecycle (open, fixed, reopened) is a fold over them. What a
// person decides about it is recorded in its triage stream
// ("finding-<id>"), which its first triage starts: FindingResolved and
// FindingSuppressed, the events a raised finding's stream holds too. The
// rules of a triage look at that stream's own events and at what the
// scans say of the finding now (ScannedFinding: the findings read model,
// which the command reads through a port).

// CodeFindingAlreadyFixed: a scan already fixed the imported finding
// (it stopped reporting it failing); there is nothing for a person to
// resolve until a scan reports it failing again.
const CodeFindingAlreadyFixed = "FINDING_ALREADY_FIXED"

// ScannedFinding is what the scans say of an imported finding now.
type ScannedFinding struct {
	FindingID string
	Status    string    // LifecycleOpen, LifecycleFixed or LifecycleResolved
	LastSeen  time.Time // its latest failing evaluation
}

// Triage is a person's decisions about an imported finding: the events of
// its triage stream. Build it with RehydrateTriage; the zero Triage is a
// finding nobody triaged yet.
type Triage struct {
	findingID         string
	resolved          bool
	resolvedAt        time.Time // the latest resolution
	resolutionReason  string
	suppressed        bool
	suppressedAt      time.Time // the latest suppression
	suppressedUntil   time.Time // of the latest suppression; zero: for good
	suppressionReason string
	lastAt            time.Time // the latest triage step
}

// RehydrateTriage rebuilds the triage of a finding from its triage
// stream's events, oldest first.
func RehydrateTriage(events ...Event) *Triage {
	t := &Triage{}
	for _, e := range events {
		t.Apply(e)
	}
	return t
}

// Apply records one event's effect; other events are ignored.
func (t *Triage) Apply(e Event) {
	switch e := e.(type) {
	case FindingResolved:
		t.findingID, t.resolved, t.resolvedAt, t.resolutionReason = e.FindingID, true, e.ResolvedAt, e.Reason
		t.lastAt = later(t.lastAt, e.ResolvedAt)
	case FindingSuppressed:
		t.findingID, t.suppressed, t.suppressedAt, t.suppressedUntil, t.suppressionReason = e.FindingID, true, e.SuppressedAt, e.Until, e.Reason
		t.lastAt = later(t.lastAt, e.SuppressedAt)
	}
}

// TriageState is a read-only view of an imported finding's triage, for
// audit replay (what the scans said of it is in the imports).
type TriageState struct {
	FindingID         string    `json:"finding_id"`
	Resolved          bool      `json:"resolved"`
	ResolvedAt        time.Time `json:"resolved_at,omitzero"`
	ResolutionReason  string    `json:"resolution_reason,omitempty"`
	Suppressed        bool      `json:"suppressed"`
	SuppressedAt      time.Time `json:"suppressed_at,omitzero"`
	SuppressedUntil   time.Time `json:"suppressed_until,omitzero"`
	SuppressionReason string    `json:"suppression_reason,omitempty"`
}

// State is the triage as it stands.
func (t *Triage) State() TriageState {
	return TriageState{FindingID: t.findingID, Resolved: t.resolved, ResolvedAt: t.resolvedAt, ResolutionReason: t.resolutionReason,
		Suppressed: t.suppressed, SuppressedAt: t.suppressedAt, SuppressedUntil: t.suppressedUntil, SuppressionReason: t.suppressionReason}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Resolve decides that a person resolved the imported finding f at at;
// reason is optional. Resolving closes the finding's current run of
// failures: it stays resolved until a scan reports it failing again. So
// it is refused
//   - FINDING_ALREADY_RESOLVED while an earlier resolution stands: no scan
//     has reported the finding failing after it (whether or not the read
//     model shows that resolution yet), or the scans say it is resolved;
//   - FINDING_ALREADY_FIXED when a scan fixed it (nothing is failing);
//   - TIMESTAMP_OUT_OF_ORDER when at precedes the latest triage step.
func (t *Triage) Resolve(f ScannedFinding, reason string, at time.Time) ([]Event, error) {
	reason = strings.TrimSpace(reason)
	var v domain.Validator
	checkID(&v, "finding_id", f.FindingID)
	v.Check(f.FindingID == "" || IsImportedFinding(f.FindingID), "finding_id", "must be an imported finding's id (%s...)", ImportedFindingPrefix)
	v.MultilineText("reason", reason, domain.MaxReason)
	v.Check(!at.IsZero(), "resolved_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch {
	case t.resolved && !f.LastSeen.After(t.resolvedAt):
		return nil, domain.Rule(CodeFindingAlreadyResolved, "finding %s is already resolved (no scan has reported it failing since %s)",
			f.FindingID, t.resolvedAt.Format(time.RFC3339))
	case f.Status == LifecycleResolved:
		return nil, domain.Rule(CodeFindingAlreadyResolved, "finding %s is already resolved", f.FindingID)
	case f.Status == LifecycleFixed:
		return nil, domain.Rule(CodeFindingAlreadyFixed, "finding %s was fixed by a scan; nothing to resolve until a scan reports it failing again", f.FindingID)
	}
	if err := t.notBeforeLastStep("resolved_at", at); err != nil {
		return nil, err
	}
	return []Event{FindingResolved{FindingID: f.FindingID, Reason: reason, ResolvedAt: at}}, nil
}

// Suppress decides that a person suppressed the imported finding f at at,
// for good or until s.Until (in the future). Suppressing marks the finding
// without changing its lifecycle, so it is allowed whatever the scans say
// of it (a fixed finding stays suppressed should it reopen). It is refused
//   - FINDING_ALREADY_SUPPRESSED while the latest suppression is in force
//     (it has no end, or its end is after at);
//   - TIMESTAMP_OUT_OF_ORDER when at precedes the latest triage step.
func (t *Triage) Suppress(f ScannedFinding, s Suppression, at time.Time) ([]Event, error) {
	reason := strings.TrimSpace(s.Reason)
	var v domain.Validator
	checkID(&v, "finding_id", f.FindingID)
	v.Check(f.FindingID == "" || IsImportedFinding(f.FindingID), "finding_id", "must be an imported finding's id (%s...)", ImportedFindingPrefix)
	v.Check(reason != "", "reason", "is required")
	v.MultilineText("reason", reason, domain.MaxReason)
	v.Check(s.Until.IsZero() || s.Until.After(at), "until", "must be in the future")
	v.Check(!at.IsZero(), "suppressed_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if t.suppressed && (t.suppressedUntil.IsZero() || at.Before(t.suppressedUntil)) {
		return nil, domain.Rule(CodeFindingAlreadySuppressed, "finding %s is already suppressed", f.FindingID)
	}
	if err := t.notBeforeLastStep("suppressed_at", at); err != nil {
		return nil, err
	}
	return []Event{FindingSuppressed{FindingID: f.FindingID, Reason: reason, Until: s.Until, SuppressedAt: at}}, nil
}

func (t *Triage) notBeforeLastStep(field string, at time.Time) error {
	if at.Before(t.lastAt) {
		return domain.Rule(CodeTimestampOutOfOrder, "%s %s is before the finding's previous triage (%s)",
			field, at.Format(time.RFC3339Nano), t.lastAt.Format(time.RFC3339Nano))
	}
	return nil
}
