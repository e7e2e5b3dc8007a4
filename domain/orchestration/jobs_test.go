package orchestration_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/orchestration"
)

var (
	runRequested = orchestration.ScanRequested{ScanID: "r1", AccountID: "web", Provider: orchestration.ProviderOther, Tool: "nuclei,testssl", RequestedAt: t0}
	planned      = orchestration.ScanJobsPlanned{ScanID: "r1", MaxAttempts: 2, PlannedAt: t0, Jobs: []orchestration.PlannedJob{
		{JobID: "j0001", Tool: "nuclei", Target: "https://a.example"},
		{JobID: "j0002", Tool: "testssl", Target: "https://a.example"},
	}}
	dispatched1 = orchestration.ScanJobDispatched{ScanID: "r1", JobID: "j0001", DispatchedAt: at(time.Second)}
	runStarted  = orchestration.ScanStarted{ScanID: "r1", StartedAt: at(time.Minute)}
	started1    = orchestration.ScanJobStarted{ScanID: "r1", JobID: "j0001", Attempt: 1, Worker: "w1", StartedAt: at(time.Minute)}
	started2    = orchestration.ScanJobStarted{ScanID: "r1", JobID: "j0002", Attempt: 1, Worker: "w2", StartedAt: at(time.Minute)}
	succeeded1  = orchestration.ScanJobSucceeded{ScanID: "r1", JobID: "j0001", Attempt: 1, ImportID: "imp-1", ReportScanID: "scn-1", SucceededAt: at(time.Hour)}
	failed2     = orchestration.ScanJobFailed{ScanID: "r1", JobID: "j0002", Attempt: 1, Reason: "report rejected", FailedAt: at(time.Hour)}
)

func TestPlan(t *testing.T) {
	t.Parallel()
	valid := orchestration.PlanRequest{ScanID: "r1", AccountID: "web", Provider: "other", Tools: []string{"nuclei", "testssl"},
		Targets: []string{"https://a.example"}, MaxAttempts: 2, RequestedAt: t0}
	with := func(change func(*orchestration.PlanRequest)) orchestration.PlanRequest {
		r := valid
		change(&r)
		return r
	}
	tests := []struct {
		name string
		when orchestration.PlanRequest
		then then
	}{
		{name: "one job per target and tool", when: valid, then: then{Events: []orchestration.Event{
			orchestration.ScanRequested{ScanID: "r1", AccountID: "web", Provider: orchestration.ProviderOther, Tool: "nuclei,testssl", Target: "https://a.example", RequestedAt: t0},
			planned,
		}}},
		{name: "regions multiply the jobs; duplicates and blanks are dropped; attempts default", when: orchestration.PlanRequest{
			ScanID: "r2", AccountID: "123", Provider: "aws", Tools: []string{"prowler", " prowler", ""}, Targets: []string{"123"},
			Regions: []string{"eu-west-1", "us-east-1"}, RequestedAt: t0,
		}, then: then{Events: []orchestration.Event{
			orchestration.ScanRequested{ScanID: "r2", AccountID: "123", Provider: orchestration.ProviderAWS, Tool: "prowler", Target: "123", RequestedAt: t0},
			orchestration.ScanJobsPlanned{ScanID: "r2", MaxAttempts: orchestration.DefaultMaxAttempts, PlannedAt: t0, Jobs: []orchestration.PlannedJob{
				{JobID: "j0001", Tool: "prowler", Target: "123", Region: "eu-west-1"},
				{JobID: "j0002", Tool: "prowler", Target: "123", Region: "us-east-1"},
			}},
		}}},
		{name: "every missing field is named", when: orchestration.PlanRequest{MaxAttempts: 11},
			then: then{Fields: []string{"scan_id", "account_id", "provider", "tools", "targets", "max_attempts", "requested_at"}}},
		{name: "too many jobs", when: with(func(r *orchestration.PlanRequest) {
			r.Targets = nil
			for i := range 600 {
				r.Targets = append(r.Targets, "t"+strings.Repeat("x", i%5)+string(rune('a'+i%26))+strings.Repeat("y", i/26))
			}
		}), then: then{Fields: []string{"targets"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := orchestration.Plan(tc.when)
			assertOutcome(t, tc.then, got, err)
		})
	}
}

type decision = func(*orchestration.ScanRun) ([]orchestration.Event, error)

func TestJobLifecycle(t *testing.T) {
	t.Parallel()
	base := []orchestration.Event{runRequested, planned}
	given := func(evs ...orchestration.Event) []orchestration.Event {
		return append(append([]orchestration.Event{}, base...), evs...)
	}
	tests := []struct {
		name  string
		given []orchestration.Event
		when  decision
		then  then
	}{
		{name: "a planned job is dispatched", given: given(),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.Dispatch("j0001", at(time.Second))
			},
			then: then{Events: []orchestration.Event{dispatched1}}},
		{name: "a job is dispatched once", given: given(dispatched1),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.Dispatch("j0001", at(time.Second))
			},
			then: then{RuleCode: orchestration.CodeJobAlreadyQueued}},
		{name: "an unknown job", given: given(),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.Dispatch("j9", at(time.Second))
			},
			then: then{RuleCode: orchestration.CodeJobNotFound}},
		{name: "the first job to start starts the run", given: given(dispatched1),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.StartJob("j0001", 1, "w1", at(time.Minute))
			},
			then: then{Events: []orchestration.Event{runStarted, started1}}},
		{name: "a second job starts without restarting the run", given: given(runStarted, started1),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.StartJob("j0002", 1, "w2", at(time.Minute))
			},
			then: then{Events: []orchestration.Event{started2}}},
		{name: "a later delivery after a lost lease is a retry (attempt 2)", given: given(runStarted, started1),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.StartJob("j0001", 2, "w2", at(2*time.Minute))
			},
			then: then{Events: []orchestration.Event{
				orchestration.ScanJobRetried{ScanID: "r1", JobID: "j0001", Attempt: 2, Reason: "the lease of attempt 1 expired", RetriedAt: at(2 * time.Minute)},
				orchestration.ScanJobStarted{ScanID: "r1", JobID: "j0001", Attempt: 2, Worker: "w2", StartedAt: at(2 * time.Minute)},
			}}},
		{name: "a redelivered attempt already recorded is stale", given: given(runStarted, started1),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.StartJob("j0001", 1, "w1", at(time.Minute))
			},
			then: then{RuleCode: orchestration.CodeJobAttemptStale}},
		{name: "no more attempts than the plan allows", given: given(runStarted, started1),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.StartJob("j0001", 3, "w1", at(time.Minute))
			},
			then: then{RuleCode: orchestration.CodeJobAttemptsExceeded}},
		{name: "a heartbeat reports progress", given: given(runStarted, started1),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.Beat("j0001", 1, 40, at(2*time.Minute))
			},
			then: then{Events: []orchestration.Event{orchestration.ScanJobHeartbeat{ScanID: "r1", JobID: "j0001", Attempt: 1, Progress: 40, BeatAt: at(2 * time.Minute)}}}},
		{name: "the worker of a lost lease cannot report", given: given(runStarted, started1, orchestration.ScanJobStarted{ScanID: "r1", JobID: "j0001", Attempt: 2, StartedAt: at(2 * time.Minute)}),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.SucceedJob("j0001", 1, "imp-1", "", at(time.Hour))
			},
			then: then{RuleCode: orchestration.CodeJobAttemptStale}},
		{name: "a job succeeding while another runs does not finish the run", given: given(runStarted, started1, started2),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.SucceedJob("j0001", 1, "imp-1", "scn-1", at(time.Hour))
			},
			then: then{Events: []orchestration.Event{succeeded1}}},
		{name: "the last job ending finishes the run: partial when some failed", given: given(runStarted, started1, started2, succeeded1),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.FailJob("j0002", 1, "report rejected", at(time.Hour))
			},
			then: then{Events: []orchestration.Event{failed2, orchestration.ScanRunFinished{ScanID: "r1", Outcome: orchestration.StatusPartial, Succeeded: 1, Failed: 1, FinishedAt: at(time.Hour)}}}},
		{name: "completed when every job succeeded", given: given(runStarted, started1, started2, succeeded1),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.SucceedJob("j0002", 1, "imp-2", "", at(time.Hour))
			},
			then: then{Events: []orchestration.Event{
				orchestration.ScanJobSucceeded{ScanID: "r1", JobID: "j0002", Attempt: 1, ImportID: "imp-2", SucceededAt: at(time.Hour)},
				orchestration.ScanRunFinished{ScanID: "r1", Outcome: orchestration.StatusCompleted, Succeeded: 2, FinishedAt: at(time.Hour)}}}},
		{name: "failed when none succeeded; a timeout is a failure", given: given(runStarted, started1, started2, failed2),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.TimeOutJob("j0001", 0, "tool ran over 5m", at(time.Hour))
			},
			then: then{Events: []orchestration.Event{
				orchestration.ScanJobTimedOut{ScanID: "r1", JobID: "j0001", Attempt: 1, Reason: "tool ran over 5m", TimedOutAt: at(time.Hour)},
				orchestration.ScanRunFinished{ScanID: "r1", Outcome: orchestration.StatusFailed, Failed: 2, FinishedAt: at(time.Hour)}}}},
		{name: "an ended job does not change", given: given(runStarted, started1, succeeded1),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.FailJob("j0001", 0, "late", at(time.Hour))
			},
			then: then{RuleCode: orchestration.CodeJobEnded}},
		{name: "cancel ends what has not ended", given: given(runStarted, started1, succeeded1, started2),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.Cancel("operator", at(time.Hour))
			},
			then: then{Events: []orchestration.Event{
				orchestration.ScanRunCancelled{ScanID: "r1", Reason: "operator", CancelledAt: at(time.Hour)},
				orchestration.ScanJobCancelled{ScanID: "r1", JobID: "j0002", CancelledAt: at(time.Hour)},
				orchestration.ScanRunFinished{ScanID: "r1", Outcome: orchestration.StatusCancelled, Succeeded: 1, Cancelled: 1, FinishedAt: at(time.Hour)}}}},
		{name: "a cancelled run's queued job does not start", given: given(orchestration.ScanRunCancelled{ScanID: "r1", CancelledAt: at(time.Second)},
			orchestration.ScanJobCancelled{ScanID: "r1", JobID: "j0001", CancelledAt: at(time.Second)}),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.StartJob("j0001", 1, "w1", at(time.Minute))
			},
			then: then{RuleCode: orchestration.CodeJobEnded}},
		{name: "a finished run is not cancelled", given: given(orchestration.ScanRunFinished{ScanID: "r1", Outcome: orchestration.StatusCompleted, FinishedAt: at(time.Hour)}),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) { return s.Cancel("", at(2*time.Hour)) },
			then: then{RuleCode: orchestration.CodeScanFinished}},
		{name: "a run with jobs is not completed by hand", given: given(runStarted),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) { return s.Complete(1, at(time.Hour)) },
			then: then{RuleCode: orchestration.CodeScanHasJobs}},
		{name: "a run without jobs is not cancelled here", given: []orchestration.Event{requested},
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) { return s.Cancel("", at(time.Hour)) },
			then: then{RuleCode: orchestration.CodeScanHasNoJobs}},
		{name: "a job splits into sub-jobs", given: given(dispatched1),
			when: func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
				return s.Split("j0001", []orchestration.PlannedJob{{Region: "eu-west-1"}, {Region: "us-east-1"}}, at(time.Second))
			},
			then: then{Events: []orchestration.Event{orchestration.ScanJobSplit{ScanID: "r1", JobID: "j0001", SplitAt: at(time.Second), SubJobs: []orchestration.PlannedJob{
				{JobID: "j0001.1", Tool: "nuclei", Target: "https://a.example", Region: "eu-west-1", ParentID: "j0001"},
				{JobID: "j0001.2", Tool: "nuclei", Target: "https://a.example", Region: "us-east-1", ParentID: "j0001"},
			}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := orchestration.Rehydrate(tc.given...)
			before := s.Jobs()
			got, err := tc.when(s)
			assertOutcome(t, tc.then, got, err)
			assert.Equal(t, before, s.Jobs(), "a decision must not change the aggregate")
		})
	}
}

// A split job ends with its sub-jobs, and the run counts the sub-jobs.
func TestSubJobsEndTheirParent(t *testing.T) {
	t.Parallel()
	split := orchestration.ScanJobSplit{ScanID: "r1", JobID: "j0002", SplitAt: at(time.Second), SubJobs: []orchestration.PlannedJob{
		{JobID: "j0002.1", Tool: "testssl", Target: "a:443", ParentID: "j0002"}, {JobID: "j0002.2", Tool: "testssl", Target: "b:443", ParentID: "j0002"},
	}}
	s := orchestration.Rehydrate(runRequested, planned, split, runStarted, started1, succeeded1,
		orchestration.ScanJobStarted{ScanID: "r1", JobID: "j0002.1", Attempt: 1, StartedAt: at(time.Minute)},
		orchestration.ScanJobSucceeded{ScanID: "r1", JobID: "j0002.1", Attempt: 1, SucceededAt: at(time.Hour)},
		orchestration.ScanJobStarted{ScanID: "r1", JobID: "j0002.2", Attempt: 1, StartedAt: at(time.Minute)},
	)
	got, err := s.FailJob("j0002.2", 1, "unreachable", at(time.Hour))
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, orchestration.ScanRunFinished{ScanID: "r1", Outcome: orchestration.StatusPartial, Succeeded: 2, Failed: 1, FinishedAt: at(time.Hour)}, got[1])
	for _, e := range got {
		s.Apply(e)
	}
	jobs := s.Jobs()
	require.Len(t, jobs, 4)
	assert.Equal(t, orchestration.JobFailed, jobs[1].Status, "the parent ends failed when a sub-job failed")
	assert.Equal(t, orchestration.StatusPartial, s.State().Status)
	assert.Error(t, s.AllowsFindings(), "a run with jobs takes no report itself: each job's import is its own scan")
}
