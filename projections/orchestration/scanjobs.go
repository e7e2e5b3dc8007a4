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

// Names of the scan-job read models.
const (
	ScanJobsName       = "orchestration.scan_jobs"
	ScanJobsCollection = "scan_jobs"
	SubJobsCollection  = "sub_jobs"
)

// JobEventTypes are the events of a run's jobs.
func JobEventTypes() []string {
	return []string{
		orchdomain.ScanJobsPlanned{}.EventType(), orchdomain.ScanJobSplit{}.EventType(),
		orchdomain.ScanJobDispatched{}.EventType(), orchdomain.ScanJobStarted{}.EventType(),
		orchdomain.ScanJobRetried{}.EventType(), orchdomain.ScanJobHeartbeat{}.EventType(),
		orchdomain.ScanJobSucceeded{}.EventType(), orchdomain.ScanJobFailed{}.EventType(),
		orchdomain.ScanJobTimedOut{}.EventType(), orchdomain.ScanJobCancelled{}.EventType(),
		orchdomain.ScanRunCancelled{}.EventType(), orchdomain.ScanRunFinished{}.EventType(),
	}
}

// ScanJobs projects each job of a run planned with jobs into scan_jobs (a
// job of the plan) or sub_jobs (a job split from one): _id Key(team,
// "<scan>/<job>"). A job's events are all on its run's stream, so they
// arrive in order; each sets only what it says.
type ScanJobs struct{}

var _ projections.Projection = ScanJobs{}

// NewScanJobs returns the "orchestration.scan_jobs" projection.
func NewScanJobs() ScanJobs { return ScanJobs{} }

// Name implements projections.Projection.
func (ScanJobs) Name() string { return ScanJobsName }

// Database implements projections.Projection.
func (ScanJobs) Database() dbregistry.Constant { return dbregistry.ORCHESTRATION }

// EventTypes implements projections.Projection.
func (ScanJobs) EventTypes() []string { return JobEventTypes() }

// Collections implements projections.Projection: a run's jobs in plan
// order, and by status (running and failed jobs of a team). ended_at
// carries the TTL of scan results.
func (ScanJobs) Collections() []readmodel.CollectionSpec {
	ix := func() []readmodel.Index {
		return []readmodel.Index{
			{Name: "by_team_scan", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "scan_id"}, {Path: "job_id"}}},
			{Name: "by_team_status", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "status"}, {Path: "updated_at", Desc: true}}},
			{Name: "expire_ended", Fields: []readmodel.IndexField{{Path: "ended_at"}}, TTL: ResultTTL},
		}
	}
	return []readmodel.CollectionSpec{{Name: ScanJobsCollection, Indexes: ix()}, {Name: SubJobsCollection, Indexes: ix()}}
}

// JobKey is the _id of a job's document.
func JobKey(team, scanID, jobID string) string { return Key(team, scanID+"/"+jobID) }

// Apply implements projections.Projection.
func (ScanJobs) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	put := func(p orchdomain.PlannedJob, scanID string, at time.Time) {
		coll := ScanJobsCollection
		if p.ParentID != "" {
			coll = SubJobsCollection
		}
		tx.Put(coll, readmodel.Doc{
			"_id": JobKey(team, scanID, p.JobID), "team_id": team, "scan_id": scanID, "job_id": p.JobID,
			"parent_id": p.ParentID, "tool": p.Tool, "target": p.Target, "region": p.Region,
			"status": string(orchdomain.JobPlanned), "attempt": int64(0), "progress": int64(0),
			"planned_at": at, "updated_at": at, "ended_at": nil, "updated_position": ev.Position,
		})
	}
	update := func(scanID, jobID string, change func(readmodel.Doc)) error {
		for _, coll := range []string{ScanJobsCollection, SubJobsCollection} {
			doc, found, err := fold.Get(ctx, tx, coll, JobKey(team, scanID, jobID))
			if err != nil {
				return fmt.Errorf("%s: %w", ScanJobsName, err)
			}
			if found {
				change(doc)
				doc["updated_position"] = ev.Position
				tx.Put(coll, doc)
				return nil
			}
		}
		return nil // a job never planned: nothing to project
	}
	set := func(st orchdomain.JobStatus, at time.Time, attempt int, extra map[string]any) func(readmodel.Doc) {
		return func(d readmodel.Doc) {
			if !orchdomain.JobStatus(fold.Str(d, "status")).Ended() {
				d["status"] = string(st)
			}
			d["updated_at"] = at
			if attempt > 0 {
				d["attempt"] = max(fold.Num(d, "attempt"), int64(attempt))
			}
			if st.Ended() {
				d["ended_at"] = at
			}
			for k, v := range extra {
				d[k] = v
			}
		}
	}
	switch e := fold.Value(ev.Data).(type) {
	case orchdomain.ScanJobsPlanned:
		for _, p := range e.Jobs {
			put(p, e.ScanID, e.PlannedAt)
		}
	case orchdomain.ScanJobSplit:
		for _, p := range e.SubJobs {
			put(p, e.ScanID, e.SplitAt)
		}
		return update(e.ScanID, e.JobID, set(orchdomain.JobSplit, e.SplitAt, 0, nil))
	case orchdomain.ScanJobDispatched:
		return update(e.ScanID, e.JobID, set(orchdomain.JobDispatched, e.DispatchedAt, 0, map[string]any{"dispatched_at": e.DispatchedAt}))
	case orchdomain.ScanJobStarted:
		return update(e.ScanID, e.JobID, set(orchdomain.JobRunning, e.StartedAt, e.Attempt, map[string]any{"started_at": e.StartedAt, "worker": e.Worker, "last_beat_at": e.StartedAt}))
	case orchdomain.ScanJobRetried:
		return update(e.ScanID, e.JobID, func(d readmodel.Doc) {
			d["retries"] = fold.Num(d, "retries") + 1
			d["last_retry_reason"] = e.Reason
		})
	case orchdomain.ScanJobHeartbeat:
		return update(e.ScanID, e.JobID, func(d readmodel.Doc) {
			d["progress"] = max(fold.Num(d, "progress"), int64(e.Progress))
			d["last_beat_at"] = e.BeatAt
		})
	case orchdomain.ScanJobSucceeded:
		return update(e.ScanID, e.JobID, set(orchdomain.JobSucceeded, e.SucceededAt, e.Attempt, map[string]any{
			"import_id": e.ImportID, "report_scan_id": e.ReportScanID, "progress": int64(100)}))
	case orchdomain.ScanJobFailed:
		return update(e.ScanID, e.JobID, set(orchdomain.JobFailed, e.FailedAt, e.Attempt, map[string]any{"reason": e.Reason}))
	case orchdomain.ScanJobTimedOut:
		return update(e.ScanID, e.JobID, set(orchdomain.JobTimedOut, e.TimedOutAt, e.Attempt, map[string]any{"reason": e.Reason}))
	case orchdomain.ScanJobCancelled:
		return update(e.ScanID, e.JobID, set(orchdomain.JobCancelled, e.CancelledAt, 0, nil))
	}
	return nil
}
