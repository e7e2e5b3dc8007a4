package orchestration

import (
	"context"
	"fmt"
	"time"

	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// The scan-job process manager's state (docs/scan-jobs.md).
const (
	JobReactorName         = "orchestration.scan_job_reactor"
	JobActionsCollection   = "scan_job_actions"
	JobActionDispatch      = "dispatch" // a planned job to put on the queue
	JobActionWatch         = "watch"    // a dispatched or running job: timed out when due_at passes
	JobActionDrop          = "drop"     // a cancelled run whose queued jobs leave the queue
	runInfoPrefix          = "run/"
	dropPrefix             = "drop/"
	defaultWatchForQueued  = 24 * time.Hour
	defaultWatchForRunning = 10 * time.Minute
)

// JobReactor is the process manager's projection: with its own checkpoint,
// it keeps in scan_job_actions what the process manager has to do next —
// dispatch a planned job, watch a dispatched or running one (its due_at is
// when it is timed out without news), drop a cancelled run's queued jobs.
// An action is removed by the event that shows it done (ScanJobDispatched,
// a job's end), so replaying the stream rebuilds the same list and doing
// an action twice is harmless (the commands carry deterministic
// idempotency keys, the queue de-duplicates by job key).
type JobReactor struct {
	// QueuedFor is how long a dispatched job may wait for a worker,
	// RunningFor how long a running job may go without a heartbeat.
	QueuedFor, RunningFor time.Duration
}

var _ projections.Projection = JobReactor{}

// NewJobReactor returns the reactor projection with its deadlines (zero: 24h, 10m).
func NewJobReactor(queuedFor, runningFor time.Duration) JobReactor {
	if queuedFor <= 0 {
		queuedFor = defaultWatchForQueued
	}
	if runningFor <= 0 {
		runningFor = defaultWatchForRunning
	}
	return JobReactor{QueuedFor: queuedFor, RunningFor: runningFor}
}

// Name implements projections.Projection.
func (JobReactor) Name() string { return JobReactorName }

// Database implements projections.Projection.
func (JobReactor) Database() dbregistry.Constant { return dbregistry.ORCHESTRATION }

// EventTypes implements projections.Projection.
func (JobReactor) EventTypes() []string {
	return append(JobEventTypes(), orchdomain.ScanRequested{}.EventType())
}

// Collections implements projections.Projection: actions by kind and due time.
func (JobReactor) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{{Name: JobActionsCollection, Indexes: []readmodel.Index{
		{Name: "by_action_due", Fields: []readmodel.IndexField{{Path: "action"}, {Path: "due_at"}}},
		// Drop actions expire an hour after the cancellation: the process
		// manager purges the run's queued jobs while they last.
		{Name: "expire_drop", Fields: []readmodel.IndexField{{Path: "expire_at"}}, TTL: time.Hour},
	}}}
}

// JobAction is one entry of scan_job_actions.
type JobAction struct {
	ID          string
	Action      string
	TeamID      string
	ScanID      string
	JobID       string
	Tool        string
	Target      string
	Region      string
	AccountID   string
	MaxAttempts int
	Attempt     int
	DueAt       time.Time
}

// JobActionFrom reads an action document.
func JobActionFrom(d readmodel.Doc) JobAction {
	return JobAction{ID: d.ID(), Action: fold.Str(d, "action"), TeamID: fold.Str(d, "team_id"), ScanID: fold.Str(d, "scan_id"),
		JobID: fold.Str(d, "job_id"), Tool: fold.Str(d, "tool"), Target: fold.Str(d, "target"), Region: fold.Str(d, "region"),
		AccountID: fold.Str(d, "account_id"), MaxAttempts: int(fold.Num(d, "max_attempts")), Attempt: int(fold.Num(d, "attempt")),
		DueAt: fold.Time(d, "due_at")}
}

func (a JobAction) doc() readmodel.Doc {
	return readmodel.Doc{"_id": a.ID, "action": a.Action, "team_id": a.TeamID, "scan_id": a.ScanID, "job_id": a.JobID,
		"tool": a.Tool, "target": a.Target, "region": a.Region, "account_id": a.AccountID,
		"max_attempts": int64(a.MaxAttempts), "attempt": int64(a.Attempt), "due_at": a.DueAt}
}

func actionID(scanID, jobID string) string { return scanID + "/" + jobID }

// Apply implements projections.Projection.
func (r JobReactor) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	get := func(scanID, jobID string) (JobAction, bool, error) {
		d, found, err := fold.Get(ctx, tx, JobActionsCollection, actionID(scanID, jobID))
		if err != nil {
			return JobAction{}, false, fmt.Errorf("%s: %w", JobReactorName, err)
		}
		return JobActionFrom(d), found, nil
	}
	watch := func(scanID, jobID string, due time.Time, attempt int) error {
		a, found, err := get(scanID, jobID)
		if err != nil || !found {
			return err
		}
		a.Action, a.DueAt, a.Attempt = JobActionWatch, due, max(a.Attempt, attempt)
		tx.Put(JobActionsCollection, a.doc())
		return nil
	}
	plan := func(scanID string, jobs []orchdomain.PlannedJob, at time.Time) error {
		info, _, err := fold.Get(ctx, tx, JobActionsCollection, runInfoPrefix+scanID)
		if err != nil {
			return fmt.Errorf("%s: %w", JobReactorName, err)
		}
		for _, p := range jobs {
			tx.Put(JobActionsCollection, JobAction{ID: actionID(scanID, p.JobID), Action: JobActionDispatch, TeamID: team,
				ScanID: scanID, JobID: p.JobID, Tool: p.Tool, Target: p.Target, Region: p.Region,
				AccountID: fold.Str(info, "account_id"), MaxAttempts: int(fold.Num(info, "max_attempts")), DueAt: at}.doc())
		}
		return nil
	}
	switch e := fold.Value(ev.Data).(type) {
	case orchdomain.ScanRequested:
		// Kept until the run finishes: what its jobs' messages carry.
		doc, _, err := fold.Get(ctx, tx, JobActionsCollection, runInfoPrefix+e.ScanID)
		if err != nil {
			return err
		}
		if doc == nil {
			doc = readmodel.Doc{}
		}
		doc["_id"], doc["action"], doc["account_id"], doc["due_at"] = runInfoPrefix+e.ScanID, "run", e.AccountID, e.RequestedAt
		tx.Put(JobActionsCollection, doc)
	case orchdomain.ScanJobsPlanned:
		doc, _, err := fold.Get(ctx, tx, JobActionsCollection, runInfoPrefix+e.ScanID)
		if err != nil {
			return err
		}
		if doc == nil {
			doc = readmodel.Doc{}
		}
		doc["_id"], doc["action"], doc["max_attempts"] = runInfoPrefix+e.ScanID, "run", int64(e.MaxAttempts)
		if _, ok := doc["due_at"]; !ok {
			doc["due_at"] = e.PlannedAt
		}
		tx.Put(JobActionsCollection, doc)
		return plan(e.ScanID, e.Jobs, e.PlannedAt)
	case orchdomain.ScanJobSplit:
		tx.Delete(JobActionsCollection, actionID(e.ScanID, e.JobID))
		return plan(e.ScanID, e.SubJobs, e.SplitAt)
	case orchdomain.ScanJobDispatched:
		return watch(e.ScanID, e.JobID, e.DispatchedAt.Add(r.QueuedFor), 0)
	case orchdomain.ScanJobStarted:
		return watch(e.ScanID, e.JobID, e.StartedAt.Add(r.RunningFor), e.Attempt)
	case orchdomain.ScanJobHeartbeat:
		return watch(e.ScanID, e.JobID, e.BeatAt.Add(r.RunningFor), e.Attempt)
	case orchdomain.ScanJobSucceeded:
		tx.Delete(JobActionsCollection, actionID(e.ScanID, e.JobID))
	case orchdomain.ScanJobFailed:
		tx.Delete(JobActionsCollection, actionID(e.ScanID, e.JobID))
	case orchdomain.ScanJobTimedOut:
		tx.Delete(JobActionsCollection, actionID(e.ScanID, e.JobID))
	case orchdomain.ScanJobCancelled:
		tx.Delete(JobActionsCollection, actionID(e.ScanID, e.JobID))
	case orchdomain.ScanRunCancelled:
		drop := JobAction{ID: dropPrefix + e.ScanID, Action: JobActionDrop, TeamID: team, ScanID: e.ScanID, DueAt: e.CancelledAt}.doc()
		drop["expire_at"] = e.CancelledAt
		tx.Put(JobActionsCollection, drop)
	case orchdomain.ScanRunFinished:
		tx.Delete(JobActionsCollection, runInfoPrefix+e.ScanID)
	}
	return nil
}
