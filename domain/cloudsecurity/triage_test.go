package cloudsecurity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/domaintest"
)

type thenTriage = domaintest.Then[cloudsecurity.Event]

const importedID = "fnd-0123456789abcdef0123456789abcdef"

// scanned is an imported finding as the scans leave it: open, last seen
// failing at t0.
func scanned(status string, lastSeen time.Time) cloudsecurity.ScannedFinding {
	return cloudsecurity.ScannedFinding{FindingID: importedID, Status: status, LastSeen: lastSeen}
}

func TestTriageResolve(t *testing.T) {
	t.Parallel()
	open := scanned(cloudsecurity.LifecycleOpen, t0)
	resolved := cloudsecurity.FindingResolved{FindingID: importedID, Reason: "fixed by hand", ResolvedAt: t0.Add(time.Hour)}
	suppressed := cloudsecurity.FindingSuppressed{FindingID: importedID, Reason: "accepted", SuppressedAt: t0.Add(2 * time.Hour)}
	tests := []struct {
		name   string
		given  []cloudsecurity.Event
		seen   cloudsecurity.ScannedFinding
		reason string
		at     time.Time
		then   thenTriage
	}{
		{name: "the first triage of an open finding starts its stream", seen: open, reason: " fixed by hand ", at: t0.Add(time.Hour),
			then: thenTriage{Events: []cloudsecurity.Event{resolved}}},
		{name: "twice in a row: the first resolution stands", given: []cloudsecurity.Event{resolved}, seen: open, at: t0.Add(3 * time.Hour),
			then: thenTriage{RuleCode: cloudsecurity.CodeFindingAlreadyResolved}},
		{name: "twice in a row once the read model shows the first", given: []cloudsecurity.Event{resolved},
			seen: scanned(cloudsecurity.LifecycleResolved, t0), at: t0.Add(3 * time.Hour),
			then: thenTriage{RuleCode: cloudsecurity.CodeFindingAlreadyResolved}},
		{name: "again once a scan reported it failing after the resolution (reopened)", given: []cloudsecurity.Event{resolved},
			seen: scanned(cloudsecurity.LifecycleOpen, t0.Add(2*time.Hour)), at: t0.Add(3 * time.Hour),
			then: thenTriage{Events: []cloudsecurity.Event{cloudsecurity.FindingResolved{FindingID: importedID, ResolvedAt: t0.Add(3 * time.Hour)}}}},
		{name: "a finding a scan fixed has nothing to resolve", seen: scanned(cloudsecurity.LifecycleFixed, t0), at: t0.Add(time.Hour),
			then: thenTriage{RuleCode: cloudsecurity.CodeFindingAlreadyFixed}},
		{name: "a suppressed finding may be resolved", given: []cloudsecurity.Event{suppressed}, seen: open, at: t0.Add(3 * time.Hour),
			then: thenTriage{Events: []cloudsecurity.Event{cloudsecurity.FindingResolved{FindingID: importedID, ResolvedAt: t0.Add(3 * time.Hour)}}}},
		{name: "before the latest triage step", given: []cloudsecurity.Event{suppressed}, seen: open, at: t0.Add(time.Hour),
			then: thenTriage{RuleCode: cloudsecurity.CodeTimestampOutOfOrder}},
		{name: "reason over its limit", seen: open, reason: strings.Repeat("r", 4097), at: t0.Add(time.Hour),
			then: thenTriage{Fields: []string{"reason"}}},
		{name: "not an imported finding's id", seen: cloudsecurity.ScannedFinding{FindingID: "f-1", Status: cloudsecurity.LifecycleOpen},
			at: t0.Add(time.Hour), then: thenTriage{Fields: []string{"finding_id"}}},
		{name: "no time", seen: open, then: thenTriage{Fields: []string{"resolved_at"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := cloudsecurity.RehydrateTriage(tc.given...).Resolve(tc.seen, tc.reason, tc.at)
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}

func TestTriageSuppress(t *testing.T) {
	t.Parallel()
	open := scanned(cloudsecurity.LifecycleOpen, t0)
	until := t0.Add(48 * time.Hour)
	forGood := cloudsecurity.FindingSuppressed{FindingID: importedID, Reason: "accepted", SuppressedAt: t0.Add(time.Hour)}
	forTwoDays := cloudsecurity.FindingSuppressed{FindingID: importedID, Reason: "accepted", Until: until, SuppressedAt: t0.Add(time.Hour)}
	resolved := cloudsecurity.FindingResolved{FindingID: importedID, ResolvedAt: t0.Add(2 * time.Hour)}
	tests := []struct {
		name  string
		given []cloudsecurity.Event
		seen  cloudsecurity.ScannedFinding
		s     cloudsecurity.Suppression
		at    time.Time
		then  thenTriage
	}{
		{name: "for good", seen: open, s: cloudsecurity.Suppression{Reason: " accepted "}, at: t0.Add(time.Hour),
			then: thenTriage{Events: []cloudsecurity.Event{forGood}}},
		{name: "until a time in the future", seen: open, s: cloudsecurity.Suppression{Reason: "accepted", Until: until}, at: t0.Add(time.Hour),
			then: thenTriage{Events: []cloudsecurity.Event{forTwoDays}}},
		{name: "whatever the scans say: a fixed finding", seen: scanned(cloudsecurity.LifecycleFixed, t0),
			s: cloudsecurity.Suppression{Reason: "accepted"}, at: t0.Add(time.Hour), then: thenTriage{Events: []cloudsecurity.Event{forGood}}},
		{name: "a resolved finding", given: []cloudsecurity.Event{resolved}, seen: scanned(cloudsecurity.LifecycleResolved, t0),
			s: cloudsecurity.Suppression{Reason: "accepted"}, at: t0.Add(3 * time.Hour),
			then: thenTriage{Events: []cloudsecurity.Event{cloudsecurity.FindingSuppressed{FindingID: importedID, Reason: "accepted", SuppressedAt: t0.Add(3 * time.Hour)}}}},
		{name: "already suppressed for good", given: []cloudsecurity.Event{forGood}, seen: open,
			s: cloudsecurity.Suppression{Reason: "again"}, at: t0.Add(time.Hour * 100), then: thenTriage{RuleCode: cloudsecurity.CodeFindingAlreadySuppressed}},
		{name: "already suppressed, until later", given: []cloudsecurity.Event{forTwoDays}, seen: open,
			s: cloudsecurity.Suppression{Reason: "again"}, at: t0.Add(2 * time.Hour), then: thenTriage{RuleCode: cloudsecurity.CodeFindingAlreadySuppressed}},
		{name: "again once the suppression ended", given: []cloudsecurity.Event{forTwoDays}, seen: open,
			s: cloudsecurity.Suppression{Reason: "again"}, at: until,
			then: thenTriage{Events: []cloudsecurity.Event{cloudsecurity.FindingSuppressed{FindingID: importedID, Reason: "again", SuppressedAt: until}}}},
		{name: "reason required, until in the future", seen: open, s: cloudsecurity.Suppression{Reason: " ", Until: t0}, at: t0.Add(time.Hour),
			then: thenTriage{Fields: []string{"reason", "until"}}},
		{name: "before the latest triage step", given: []cloudsecurity.Event{resolved}, seen: open,
			s: cloudsecurity.Suppression{Reason: "accepted"}, at: t0.Add(time.Hour), then: thenTriage{RuleCode: cloudsecurity.CodeTimestampOutOfOrder}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := cloudsecurity.RehydrateTriage(tc.given...).Suppress(tc.seen, tc.s, tc.at)
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}
