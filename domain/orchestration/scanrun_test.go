package orchestration_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/domain/domaintest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/orchestration"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

var (
	requested = orchestration.ScanRequested{ScanID: "s1", AccountID: "acc-1", Provider: orchestration.ProviderAWS, Tool: "prowler", RequestedAt: t0}
	started   = orchestration.ScanStarted{ScanID: "s1", StartedAt: at(time.Minute)}
	completed = orchestration.ScanCompleted{ScanID: "s1", CompletedAt: at(time.Hour), ResourceCount: 42}
	failed    = orchestration.ScanFailed{ScanID: "s1", Reason: "credentials expired", FailedAt: at(time.Hour)}
)

// then is the expected outcome of a decision (domaintest.Then).
type then = domaintest.Then[orchestration.Event]

func assertOutcome(t *testing.T, want then, got []orchestration.Event, err error) {
	t.Helper()
	domaintest.AssertOutcome(t, want, got, err)
}

func TestRequest(t *testing.T) {
	t.Parallel()
	valid := orchestration.ScanRequest{ScanID: "s1", AccountID: "acc-1", Provider: "aws", Tool: "prowler", RequestedAt: t0}
	with := func(change func(*orchestration.ScanRequest)) orchestration.ScanRequest {
		r := valid
		change(&r)
		return r
	}
	tests := []struct {
		name string
		when orchestration.ScanRequest
		then then
	}{
		{
			name: "valid request is recorded",
			when: valid,
			then: then{Events: []orchestration.Event{requested}},
		},
		{
			name: "provider is parsed case-insensitively and text is trimmed",
			when: with(func(r *orchestration.ScanRequest) {
				r.Provider, r.AccountID, r.Tool, r.Target = " Kubernetes ", " acc-1 ", " trivy ", " ns/prod "
			}),
			then: then{Events: []orchestration.Event{orchestration.ScanRequested{
				ScanID: "s1", AccountID: "acc-1", Provider: orchestration.ProviderKubernetes, Tool: "trivy", Target: "ns/prod", RequestedAt: t0,
			}}},
		},
		{
			name: "every provider of the closed set is accepted",
			when: with(func(r *orchestration.ScanRequest) { r.Provider = "other" }),
			then: then{Events: []orchestration.Event{orchestration.ScanRequested{
				ScanID: "s1", AccountID: "acc-1", Provider: orchestration.ProviderOther, Tool: "prowler", RequestedAt: t0,
			}}},
		},
		{
			name: "unknown provider",
			when: with(func(r *orchestration.ScanRequest) { r.Provider = "oracle" }),
			then: then{Fields: []string{"provider"}},
		},
		{
			name: "every missing field is named",
			when: orchestration.ScanRequest{AccountID: "  "},
			then: then{Fields: []string{"scan_id", "account_id", "provider", "tool", "requested_at"}},
		},
		{
			name: "scan id with a slash",
			when: with(func(r *orchestration.ScanRequest) { r.ScanID = "a/b" }),
			then: then{Fields: []string{"scan_id"}},
		},
		{
			name: "scan id too long",
			when: with(func(r *orchestration.ScanRequest) { r.ScanID = strings.Repeat("x", orchestration.MaxIDLength+1) }),
			then: then{Fields: []string{"scan_id"}},
		},
		{
			name: "text over its limit is named, at the limit it is accepted",
			when: with(func(r *orchestration.ScanRequest) {
				r.AccountID = strings.Repeat("a", domain.MaxShortText+1)
				r.Tool = strings.Repeat("é", domain.MaxShortText) // characters, not bytes
				r.Target = strings.Repeat("t", domain.MaxReference+1)
			}),
			then: then{Fields: []string{"account_id", "target"}},
		},
		{
			name: "control characters in a one-line field",
			when: with(func(r *orchestration.ScanRequest) { r.Tool = "prow\x00ler" }),
			then: then{Fields: []string{"tool"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := orchestration.Request(tc.when)
			assertOutcome(t, tc.then, got, err)
		})
	}
}

func TestScanRunLifecycle(t *testing.T) {
	t.Parallel()
	start := func(d time.Duration) func(*orchestration.ScanRun) ([]orchestration.Event, error) {
		return func(s *orchestration.ScanRun) ([]orchestration.Event, error) { return s.Start(at(d)) }
	}
	complete := func(n int, d time.Duration) func(*orchestration.ScanRun) ([]orchestration.Event, error) {
		return func(s *orchestration.ScanRun) ([]orchestration.Event, error) { return s.Complete(n, at(d)) }
	}
	fail := func(reason string, d time.Duration) func(*orchestration.ScanRun) ([]orchestration.Event, error) {
		return func(s *orchestration.ScanRun) ([]orchestration.Event, error) { return s.Fail(reason, at(d)) }
	}
	tests := []struct {
		name  string
		given []orchestration.Event
		when  func(*orchestration.ScanRun) ([]orchestration.Event, error)
		then  then
	}{
		// Start
		{
			name:  "requested scan starts",
			given: []orchestration.Event{requested},
			when:  start(time.Minute),
			then:  then{Events: []orchestration.Event{started}},
		},
		{
			name:  "start at the same instant as the request",
			given: []orchestration.Event{requested},
			when:  start(0),
			then:  then{Events: []orchestration.Event{orchestration.ScanStarted{ScanID: "s1", StartedAt: t0}}},
		},
		{
			name:  "cannot start twice",
			given: []orchestration.Event{requested, started},
			when:  start(2 * time.Minute),
			then:  then{RuleCode: orchestration.CodeScanAlreadyStarted},
		},
		{
			name:  "cannot start a completed scan",
			given: []orchestration.Event{requested, started, completed},
			when:  start(2 * time.Hour),
			then:  then{RuleCode: orchestration.CodeScanAlreadyStarted},
		},
		{
			name:  "cannot start a failed scan",
			given: []orchestration.Event{requested, failed},
			when:  start(2 * time.Hour),
			then:  then{RuleCode: orchestration.CodeScanAlreadyFailed},
		},
		{
			name:  "cannot start before the request",
			given: []orchestration.Event{requested},
			when:  start(-time.Second),
			then:  then{RuleCode: orchestration.CodeTimestampOutOfOrder},
		},
		{
			name:  "start needs a time",
			given: []orchestration.Event{requested},
			when:  func(s *orchestration.ScanRun) ([]orchestration.Event, error) { return s.Start(time.Time{}) },
			then:  then{Fields: []string{"started_at"}},
		},
		// Complete
		{
			name:  "running scan completes",
			given: []orchestration.Event{requested, started},
			when:  complete(42, time.Hour),
			then:  then{Events: []orchestration.Event{completed}},
		},
		{
			name:  "complete with no resources",
			given: []orchestration.Event{requested, started},
			when:  complete(0, time.Hour),
			then:  then{Events: []orchestration.Event{orchestration.ScanCompleted{ScanID: "s1", CompletedAt: at(time.Hour)}}},
		},
		{
			name:  "cannot complete a scan that never started",
			given: []orchestration.Event{requested},
			when:  complete(1, time.Hour),
			then:  then{RuleCode: orchestration.CodeScanNotRunning},
		},
		{
			name:  "cannot complete twice",
			given: []orchestration.Event{requested, started, completed},
			when:  complete(1, 2*time.Hour),
			then:  then{RuleCode: orchestration.CodeScanAlreadyCompleted},
		},
		{
			name:  "cannot complete a failed scan",
			given: []orchestration.Event{requested, started, failed},
			when:  complete(1, 2*time.Hour),
			then:  then{RuleCode: orchestration.CodeScanAlreadyFailed},
		},
		{
			name:  "cannot complete before the start",
			given: []orchestration.Event{requested, started},
			when:  complete(1, 30*time.Second),
			then:  then{RuleCode: orchestration.CodeTimestampOutOfOrder},
		},
		{
			name:  "negative resource count and missing time",
			given: []orchestration.Event{requested, started},
			when:  func(s *orchestration.ScanRun) ([]orchestration.Event, error) { return s.Complete(-1, time.Time{}) },
			then:  then{Fields: []string{"resource_count", "completed_at"}},
		},
		// Fail
		{
			name:  "running scan fails",
			given: []orchestration.Event{requested, started},
			when:  fail("credentials expired", time.Hour),
			then:  then{Events: []orchestration.Event{failed}},
		},
		{
			name:  "requested scan fails and the reason is trimmed",
			given: []orchestration.Event{requested},
			when:  fail("  credentials expired\n", time.Hour),
			then:  then{Events: []orchestration.Event{failed}},
		},
		{
			name:  "reason is required",
			given: []orchestration.Event{requested, started},
			when:  fail("   ", time.Hour),
			then:  then{Fields: []string{"reason"}},
		},
		{
			// 180,000 '<' was once a 1 MB event that froze the relay.
			name:  "reason over its limit",
			given: []orchestration.Event{requested, started},
			when:  fail(strings.Repeat("<", domain.MaxReason+1), time.Hour),
			then:  then{Fields: []string{"reason"}},
		},
		{
			name:  "cannot fail a completed scan",
			given: []orchestration.Event{requested, started, completed},
			when:  fail("late error", 2*time.Hour),
			then:  then{RuleCode: orchestration.CodeScanAlreadyCompleted},
		},
		{
			name:  "cannot fail twice",
			given: []orchestration.Event{requested, failed},
			when:  fail("again", 2*time.Hour),
			then:  then{RuleCode: orchestration.CodeScanAlreadyFailed},
		},
		{
			name:  "cannot fail before the start",
			given: []orchestration.Event{requested, started},
			when:  fail("boom", 30*time.Second),
			then:  then{RuleCode: orchestration.CodeTimestampOutOfOrder},
		},
		{
			name:  "cannot fail a scan that was never requested",
			given: nil,
			when:  fail("boom", time.Hour),
			then:  then{RuleCode: orchestration.CodeScanNotRequested},
		},
		{
			name:  "cannot start a scan that was never requested",
			given: nil,
			when:  start(time.Minute),
			then:  then{RuleCode: orchestration.CodeScanNotRequested},
		},
		{
			name:  "cannot complete a scan that was never requested",
			given: nil,
			when:  complete(1, time.Hour),
			then:  then{RuleCode: orchestration.CodeScanNotRequested},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := orchestration.Rehydrate(tc.given...)
			before := s.State()
			got, err := tc.when(s)
			assertOutcome(t, tc.then, got, err)
			assert.Equal(t, before, s.State(), "a decision must not change the aggregate")
		})
	}
}

func TestAllowsFindings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		given   []orchestration.Event
		allowed bool
	}{
		{name: "requested", given: []orchestration.Event{requested}},
		{name: "running", given: []orchestration.Event{requested, started}, allowed: true},
		{name: "completed", given: []orchestration.Event{requested, started, completed}, allowed: true},
		{name: "failed", given: []orchestration.Event{requested, started, failed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := orchestration.Rehydrate(tc.given...).AllowsFindings()
			if tc.allowed {
				assert.NoError(t, err)
				return
			}
			var re *domain.RuleError
			require.True(t, errors.As(err, &re))
			assert.Equal(t, orchestration.CodeScanNotAccepting, re.Code)
		})
	}
}

func TestRehydrateState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given []orchestration.Event
		then  orchestration.ScanRunState
	}{
		{
			name:  "completed scan",
			given: []orchestration.Event{requested, started, completed},
			then: orchestration.ScanRunState{
				ScanID: "s1", AccountID: "acc-1", Provider: orchestration.ProviderAWS, Tool: "prowler",
				Status: orchestration.StatusCompleted, RequestedAt: t0, StartedAt: at(time.Minute),
				CompletedAt: at(time.Hour), ResourceCount: 42,
			},
		},
		{
			name:  "failed before starting",
			given: []orchestration.Event{requested, failed},
			then: orchestration.ScanRunState{
				ScanID: "s1", AccountID: "acc-1", Provider: orchestration.ProviderAWS, Tool: "prowler",
				Status: orchestration.StatusFailed, RequestedAt: t0, FailedAt: at(time.Hour),
				FailureReason: "credentials expired",
			},
		},
		{
			name:  "apply never rejects, even out of order",
			given: []orchestration.Event{completed, requested},
			then: orchestration.ScanRunState{
				ScanID: "s1", AccountID: "acc-1", Provider: orchestration.ProviderAWS, Tool: "prowler",
				Status: orchestration.StatusRequested, RequestedAt: t0, CompletedAt: at(time.Hour), ResourceCount: 42,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.then, orchestration.Rehydrate(tc.given...).State())
		})
	}
}
