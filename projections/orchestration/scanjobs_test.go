package orchestration_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/orchestration"
)

var jobRun = []eventData{
	orchdomain.ScanRequested{ScanID: "r1", AccountID: "web", Provider: orchdomain.ProviderOther, Tool: "nuclei,testssl", RequestedAt: t0},
	orchdomain.ScanJobsPlanned{ScanID: "r1", MaxAttempts: 3, PlannedAt: t0, Jobs: []orchdomain.PlannedJob{
		{JobID: "j0001", Tool: "nuclei", Target: "https://a"}, {JobID: "j0002", Tool: "testssl", Target: "a:443"}}},
	orchdomain.ScanJobSplit{ScanID: "r1", JobID: "j0002", SplitAt: at(time.Second), SubJobs: []orchdomain.PlannedJob{
		{JobID: "j0002.1", Tool: "testssl", Target: "a:443", ParentID: "j0002"}}},
	orchdomain.ScanJobDispatched{ScanID: "r1", JobID: "j0001", DispatchedAt: at(2 * time.Second)},
	orchdomain.ScanStarted{ScanID: "r1", StartedAt: at(time.Minute)},
	orchdomain.ScanJobStarted{ScanID: "r1", JobID: "j0001", Attempt: 1, Worker: "w1", StartedAt: at(time.Minute)},
	orchdomain.ScanJobRetried{ScanID: "r1", JobID: "j0001", Attempt: 2, Reason: "lease", RetriedAt: at(2 * time.Minute)},
	orchdomain.ScanJobStarted{ScanID: "r1", JobID: "j0001", Attempt: 2, Worker: "w2", StartedAt: at(2 * time.Minute)},
	orchdomain.ScanJobHeartbeat{ScanID: "r1", JobID: "j0001", Attempt: 2, Progress: 40, BeatAt: at(3 * time.Minute)},
	orchdomain.ScanJobSucceeded{ScanID: "r1", JobID: "j0001", Attempt: 2, ImportID: "imp-1", ReportScanID: "scn-1", SucceededAt: at(4 * time.Minute)},
	orchdomain.ScanJobTimedOut{ScanID: "r1", JobID: "j0002.1", Reason: "no news", TimedOutAt: at(5 * time.Minute)},
	orchdomain.ScanRunFinished{ScanID: "r1", Outcome: orchdomain.StatusPartial, Succeeded: 1, Failed: 1, FinishedAt: at(5 * time.Minute)},
}

// only keeps the events p listens to, at their positions in the stream.
func only(p interface{ EventTypes() []string }, evs []projections.Event) []projections.Event {
	var out []projections.Event
	for _, e := range evs {
		if slices.Contains(p.EventTypes(), e.Type) {
			out = append(out, e)
		}
	}
	return out
}

func ps(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

func TestScanJobsProjection(t *testing.T) {
	t.Parallel()
	tx := apply(t, orchestration.NewScanJobs(), only(orchestration.NewScanJobs(), stream("team-a", ps(len(jobRun)), jobRun...))...)
	j1 := tx.Doc(t, orchestration.ScanJobsCollection, orchestration.JobKey("team-a", "r1", "j0001"))
	assert.Equal(t, "succeeded", j1["status"])
	assert.Equal(t, int64(2), j1["attempt"])
	assert.Equal(t, int64(1), j1["retries"])
	assert.Equal(t, "imp-1", j1["import_id"])
	assert.Equal(t, int64(100), j1["progress"])
	assert.Equal(t, "w2", j1["worker"])
	assert.Equal(t, "split", tx.Doc(t, orchestration.ScanJobsCollection, orchestration.JobKey("team-a", "r1", "j0002"))["status"])
	sub := tx.Doc(t, orchestration.SubJobsCollection, orchestration.JobKey("team-a", "r1", "j0002.1"))
	assert.Equal(t, "timed_out", sub["status"])
	assert.Equal(t, "j0002", sub["parent_id"])

	runs := apply(t, orchestration.NewScanRuns(), only(orchestration.NewScanRuns(), stream("team-a", ps(len(jobRun)), jobRun...))...)
	run := runs.Doc(t, orchestration.ScanRunsCollection, "r1")
	assert.Equal(t, "partial", run["status"])
	assert.Equal(t, map[string]any{"planned": int64(2), "max_attempts": int64(3), "succeeded": int64(1), "failed": int64(1),
		"cancelled": int64(0), "finished_at": at(5 * time.Minute)}, run["jobs"])
}

// The reactor's actions: every planned job to dispatch, then watched with
// a deadline once dispatched, started or heard from; gone once ended.
func TestJobReactor(t *testing.T) {
	t.Parallel()
	r := orchestration.NewJobReactor(time.Hour, time.Minute)
	tx := apply(t, r, only(r, stream("team-a", ps(3), jobRun[:3]...))...)
	a := orchestration.JobActionFrom(tx.Doc(t, orchestration.JobActionsCollection, "r1/j0001"))
	assert.Equal(t, orchestration.JobAction{ID: "r1/j0001", Action: "dispatch", TeamID: "team-a", ScanID: "r1", JobID: "j0001",
		Tool: "nuclei", Target: "https://a", AccountID: "web", MaxAttempts: 3, DueAt: t0}, a)
	_, split := tx.Colls[orchestration.JobActionsCollection]["r1/j0002"]
	assert.False(t, split, "a split job's sub-jobs are dispatched, not it")
	assert.Equal(t, "dispatch", tx.Doc(t, orchestration.JobActionsCollection, "r1/j0002.1")["action"])

	tx = apply(t, r, only(r, stream("team-a", ps(9), jobRun[:9]...))...)
	a = orchestration.JobActionFrom(tx.Doc(t, orchestration.JobActionsCollection, "r1/j0001"))
	assert.Equal(t, "watch", a.Action)
	assert.Equal(t, at(4*time.Minute), a.DueAt, "a minute after the last heartbeat")
	assert.Equal(t, 2, a.Attempt)

	tx = apply(t, r, only(r, stream("team-a", ps(len(jobRun)), jobRun...))...)
	require.Empty(t, tx.Colls[orchestration.JobActionsCollection], "nothing left to do once the run finished")

	cancelled := append(append([]eventData{}, jobRun[:4]...),
		orchdomain.ScanRunCancelled{ScanID: "r1", CancelledAt: at(time.Hour)},
		orchdomain.ScanJobCancelled{ScanID: "r1", JobID: "j0001", CancelledAt: at(time.Hour)},
		orchdomain.ScanJobCancelled{ScanID: "r1", JobID: "j0002.1", CancelledAt: at(time.Hour)},
		orchdomain.ScanRunFinished{ScanID: "r1", Outcome: orchdomain.StatusCancelled, Cancelled: 2, FinishedAt: at(time.Hour)})
	tx = apply(t, r, only(r, stream("team-a", ps(len(cancelled)), cancelled...))...)
	docs := tx.Colls[orchestration.JobActionsCollection]
	require.Len(t, docs, 1)
	assert.Equal(t, "drop", fold.Str(docs["drop/r1"], "action"))
}
