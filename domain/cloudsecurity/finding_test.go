package cloudsecurity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/domaintest"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

var (
	raised = cloudsecurity.FindingRaised{
		FindingID: "f1", ScanID: "s1", AccountID: "acc-1", CheckID: "s3_bucket_public",
		Title: "Bucket is public", Severity: cloudsecurity.SeverityHigh, ResourceID: "arn:aws:s3:::b",
		Region: "eu-west-1", RaisedAt: t0,
	}
	resolved   = cloudsecurity.FindingResolved{FindingID: "f1", Reason: "fixed", ResolvedAt: at(time.Hour)}
	suppressed = cloudsecurity.FindingSuppressed{FindingID: "f1", Reason: "accepted risk", SuppressedAt: at(time.Hour)}
	// suppressedUntil ends two hours after t0.
	suppressedUntil = cloudsecurity.FindingSuppressed{FindingID: "f1", Reason: "accepted risk", Until: at(2 * time.Hour), SuppressedAt: at(time.Hour)}
)

// then is the expected outcome of a decision (domaintest.Then).
type then = domaintest.Then[cloudsecurity.Event]

func assertOutcome(t *testing.T, want then, got []cloudsecurity.Event, err error) {
	t.Helper()
	domaintest.AssertOutcome(t, want, got, err)
}

func TestRaise(t *testing.T) {
	t.Parallel()
	valid := cloudsecurity.NewFinding{
		FindingID: "f1", ScanID: "s1", AccountID: "acc-1", CheckID: "s3_bucket_public",
		Title: "Bucket is public", Severity: "high", ResourceID: "arn:aws:s3:::b", Region: "eu-west-1", RaisedAt: t0,
	}
	with := func(change func(*cloudsecurity.NewFinding)) cloudsecurity.NewFinding {
		n := valid
		change(&n)
		return n
	}
	tests := []struct {
		name string
		when cloudsecurity.NewFinding
		then then
	}{
		{
			name: "valid finding is raised",
			when: valid,
			then: then{Events: []cloudsecurity.Event{raised}},
		},
		{
			name: "severity is parsed case-insensitively and stored in lower case",
			when: with(func(n *cloudsecurity.NewFinding) { n.Severity = " HiGh " }),
			then: then{Events: []cloudsecurity.Event{raised}},
		},
		{
			name: "informational severity",
			when: with(func(n *cloudsecurity.NewFinding) { n.Severity, n.Region = "Informational", "" }),
			then: then{Events: []cloudsecurity.Event{cloudsecurity.FindingRaised{
				FindingID: "f1", ScanID: "s1", AccountID: "acc-1", CheckID: "s3_bucket_public",
				Title: "Bucket is public", Severity: cloudsecurity.SeverityInformational, ResourceID: "arn:aws:s3:::b", RaisedAt: t0,
			}}},
		},
		{
			name: "unknown severity",
			when: with(func(n *cloudsecurity.NewFinding) { n.Severity = "severe" }),
			then: then{Fields: []string{"severity"}},
		},
		{
			name: "every missing field is named",
			when: cloudsecurity.NewFinding{Title: "   "},
			then: then{Fields: []string{"finding_id", "scan_id", "account_id", "check_id", "title", "severity", "resource_id", "raised_at"}},
		},
		{
			name: "finding id with a space",
			when: with(func(n *cloudsecurity.NewFinding) { n.FindingID = "f 1" }),
			then: then{Fields: []string{"finding_id"}},
		},
		{
			name: "every text field over its limit is named",
			when: with(func(n *cloudsecurity.NewFinding) {
				n.ScanID = strings.Repeat("s", domain.MaxShortText+1)
				n.AccountID = strings.Repeat("a", domain.MaxShortText+1)
				n.CheckID = strings.Repeat("c", domain.MaxShortText+1)
				n.Title = strings.Repeat("<", domain.MaxTitle+1)
				n.ResourceID = strings.Repeat("r", domain.MaxReference+1)
				n.Region = strings.Repeat("g", domain.MaxShortText+1)
				n.Description = strings.Repeat("d", domain.MaxDescription+1)
			}),
			then: then{Fields: []string{"scan_id", "account_id", "check_id", "title", "resource_id", "region", "description"}},
		},
		{
			name: "a description may hold line breaks and tabs, a title may not",
			when: with(func(n *cloudsecurity.NewFinding) { n.Title, n.Description = "two\nlines", "two\nlines\tand a tab" }),
			then: then{Fields: []string{"title"}},
		},
		{
			name: "invalid UTF-8 is named",
			when: with(func(n *cloudsecurity.NewFinding) { n.Title = "bad \xff byte" }),
			then: then{Fields: []string{"title"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := cloudsecurity.Raise(tc.when)
			assertOutcome(t, tc.then, got, err)
		})
	}
}

func TestFindingLifecycle(t *testing.T) {
	t.Parallel()
	resolve := func(reason string, d time.Duration) func(*cloudsecurity.Finding) ([]cloudsecurity.Event, error) {
		return func(f *cloudsecurity.Finding) ([]cloudsecurity.Event, error) { return f.Resolve(reason, at(d)) }
	}
	suppress := func(s cloudsecurity.Suppression, d time.Duration) func(*cloudsecurity.Finding) ([]cloudsecurity.Event, error) {
		return func(f *cloudsecurity.Finding) ([]cloudsecurity.Event, error) { return f.Suppress(s, at(d)) }
	}
	tests := []struct {
		name  string
		given []cloudsecurity.Event
		when  func(*cloudsecurity.Finding) ([]cloudsecurity.Event, error)
		then  then
	}{
		// Resolve
		{
			name:  "open finding is resolved",
			given: []cloudsecurity.Event{raised},
			when:  resolve(" fixed ", time.Hour),
			then:  then{Events: []cloudsecurity.Event{resolved}},
		},
		{
			name:  "resolve without a reason",
			given: []cloudsecurity.Event{raised},
			when:  resolve("", time.Hour),
			then:  then{Events: []cloudsecurity.Event{cloudsecurity.FindingResolved{FindingID: "f1", ResolvedAt: at(time.Hour)}}},
		},
		{
			name:  "suppressed finding is resolved",
			given: []cloudsecurity.Event{raised, suppressed},
			when:  resolve("fixed", 3*time.Hour),
			then:  then{Events: []cloudsecurity.Event{cloudsecurity.FindingResolved{FindingID: "f1", Reason: "fixed", ResolvedAt: at(3 * time.Hour)}}},
		},
		{
			name:  "cannot resolve a resolved finding",
			given: []cloudsecurity.Event{raised, resolved},
			when:  resolve("again", 2*time.Hour),
			then:  then{RuleCode: cloudsecurity.CodeFindingAlreadyResolved},
		},
		{
			name:  "cannot resolve before the finding was raised",
			given: []cloudsecurity.Event{raised},
			when:  resolve("fixed", -time.Second),
			then:  then{RuleCode: cloudsecurity.CodeTimestampOutOfOrder},
		},
		{
			name: "cannot resolve a finding that was never raised",
			when: resolve("fixed", time.Hour),
			then: then{RuleCode: cloudsecurity.CodeFindingNotRaised},
		},
		{
			name:  "resolve needs a time",
			given: []cloudsecurity.Event{raised},
			when:  func(f *cloudsecurity.Finding) ([]cloudsecurity.Event, error) { return f.Resolve("fixed", time.Time{}) },
			then:  then{Fields: []string{"resolved_at"}},
		},
		// Suppress
		{
			name:  "open finding is suppressed with no end",
			given: []cloudsecurity.Event{raised},
			when:  suppress(cloudsecurity.Suppression{Reason: " accepted risk "}, time.Hour),
			then:  then{Events: []cloudsecurity.Event{suppressed}},
		},
		{
			name:  "open finding is suppressed until a future time",
			given: []cloudsecurity.Event{raised},
			when:  suppress(cloudsecurity.Suppression{Reason: "accepted risk", Until: at(2 * time.Hour)}, time.Hour),
			then:  then{Events: []cloudsecurity.Event{suppressedUntil}},
		},
		{
			name:  "suppression needs a reason",
			given: []cloudsecurity.Event{raised},
			when:  suppress(cloudsecurity.Suppression{Reason: "  "}, time.Hour),
			then:  then{Fields: []string{"reason"}},
		},
		{
			name:  "suppression reason over its limit",
			given: []cloudsecurity.Event{raised},
			when:  suppress(cloudsecurity.Suppression{Reason: strings.Repeat("x", domain.MaxReason+1)}, time.Hour),
			then:  then{Fields: []string{"reason"}},
		},
		{
			name:  "until must be in the future",
			given: []cloudsecurity.Event{raised},
			when:  suppress(cloudsecurity.Suppression{Reason: "accepted risk", Until: at(time.Hour)}, time.Hour),
			then:  then{Fields: []string{"until"}},
		},
		{
			name:  "every invalid field is named",
			given: []cloudsecurity.Event{raised},
			when:  suppress(cloudsecurity.Suppression{Until: at(-time.Hour)}, time.Hour),
			then:  then{Fields: []string{"reason", "until"}},
		},
		{
			name:  "cannot suppress a resolved finding",
			given: []cloudsecurity.Event{raised, resolved},
			when:  suppress(cloudsecurity.Suppression{Reason: "accepted risk"}, 2*time.Hour),
			then:  then{RuleCode: cloudsecurity.CodeFindingAlreadyResolved},
		},
		{
			name:  "cannot suppress a suppressed finding",
			given: []cloudsecurity.Event{raised, suppressed},
			when:  suppress(cloudsecurity.Suppression{Reason: "again"}, 2*time.Hour),
			then:  then{RuleCode: cloudsecurity.CodeFindingAlreadySuppressed},
		},
		{
			name:  "cannot suppress while a suppression still runs",
			given: []cloudsecurity.Event{raised, suppressedUntil},
			when:  suppress(cloudsecurity.Suppression{Reason: "again"}, 2*time.Hour-time.Second),
			then:  then{RuleCode: cloudsecurity.CodeFindingAlreadySuppressed},
		},
		{
			name:  "suppress again once the suppression has ended",
			given: []cloudsecurity.Event{raised, suppressedUntil},
			when:  suppress(cloudsecurity.Suppression{Reason: "still accepted", Until: at(48 * time.Hour)}, 3*time.Hour),
			then: then{Events: []cloudsecurity.Event{cloudsecurity.FindingSuppressed{
				FindingID: "f1", Reason: "still accepted", Until: at(48 * time.Hour), SuppressedAt: at(3 * time.Hour),
			}}},
		},
		{
			name:  "cannot suppress before the finding was raised",
			given: []cloudsecurity.Event{raised},
			when:  suppress(cloudsecurity.Suppression{Reason: "accepted risk"}, -time.Second),
			then:  then{RuleCode: cloudsecurity.CodeTimestampOutOfOrder},
		},
		{
			name: "cannot suppress a finding that was never raised",
			when: suppress(cloudsecurity.Suppression{Reason: "accepted risk"}, time.Hour),
			then: then{RuleCode: cloudsecurity.CodeFindingNotRaised},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := cloudsecurity.Rehydrate(tc.given...)
			before := f.State()
			got, err := tc.when(f)
			assertOutcome(t, tc.then, got, err)
			assert.Equal(t, before, f.State(), "a decision must not change the aggregate")
		})
	}
}

func TestRehydrateState(t *testing.T) {
	t.Parallel()
	base := cloudsecurity.FindingState{
		FindingID: "f1", ScanID: "s1", AccountID: "acc-1", CheckID: "s3_bucket_public",
		Title: "Bucket is public", Severity: cloudsecurity.SeverityHigh, ResourceID: "arn:aws:s3:::b",
		Region: "eu-west-1", RaisedAt: t0,
	}
	with := func(change func(*cloudsecurity.FindingState)) cloudsecurity.FindingState {
		s := base
		change(&s)
		return s
	}
	tests := []struct {
		name  string
		given []cloudsecurity.Event
		then  cloudsecurity.FindingState
	}{
		{
			name:  "open",
			given: []cloudsecurity.Event{raised},
			then:  with(func(s *cloudsecurity.FindingState) { s.Status = cloudsecurity.StatusOpen }),
		},
		{
			name:  "suppressed",
			given: []cloudsecurity.Event{raised, suppressedUntil},
			then: with(func(s *cloudsecurity.FindingState) {
				s.Status, s.SuppressedAt, s.SuppressionReason, s.SuppressedUntil = cloudsecurity.StatusSuppressed, at(time.Hour), "accepted risk", at(2*time.Hour)
			}),
		},
		{
			name:  "resolved after a suppression keeps its history",
			given: []cloudsecurity.Event{raised, suppressed, cloudsecurity.FindingResolved{FindingID: "f1", Reason: "fixed", ResolvedAt: at(3 * time.Hour)}},
			then: with(func(s *cloudsecurity.FindingState) {
				s.Status, s.SuppressedAt, s.SuppressionReason = cloudsecurity.StatusResolved, at(time.Hour), "accepted risk"
				s.ResolvedAt, s.ResolutionReason = at(3*time.Hour), "fixed"
			}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.then, cloudsecurity.Rehydrate(tc.given...).State())
		})
	}
}
