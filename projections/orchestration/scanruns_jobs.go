package orchestration

import (
	"context"
	"fmt"
	"time"

	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// runJobs is what a scan_runs document says of a run planned with jobs:
// how many were planned, and once the run finished, how they ended. The
// jobs themselves are in scan_jobs and sub_jobs (ScanJobs).
type runJobs struct {
	Planned     int64
	MaxAttempts int64
	Succeeded   int64
	Failed      int64
	Cancelled   int64
	FinishedAt  time.Time
}

func jobsOf(d readmodel.Doc) runJobs {
	m := fold.Obj(d, "jobs")
	if m == nil {
		return runJobs{}
	}
	return runJobs{Planned: fold.Num(m, "planned"), MaxAttempts: fold.Num(m, "max_attempts"), Succeeded: fold.Num(m, "succeeded"),
		Failed: fold.Num(m, "failed"), Cancelled: fold.Num(m, "cancelled"), FinishedAt: fold.Time(m, "finished_at")}
}

func (j runJobs) doc() any {
	if j.Planned == 0 {
		return nil
	}
	return map[string]any{"planned": j.Planned, "max_attempts": j.MaxAttempts, "succeeded": j.Succeeded, "failed": j.Failed,
		"cancelled": j.Cancelled, "finished_at": fold.TimeOrNil(j.FinishedAt)}
}

// applyRunJobs folds ScanJobsPlanned and ScanRunFinished into the run's
// scan_runs document.
func applyRunJobs(ctx context.Context, tx projections.Tx, ev projections.Event, e any) error {
	var scanID string
	switch e := e.(type) {
	case orchdomain.ScanJobsPlanned:
		scanID = e.ScanID
	case orchdomain.ScanRunFinished:
		scanID = e.ScanID
	}
	if scanID == "" {
		return nil
	}
	doc, _, err := fold.Get(ctx, tx, ScanRunsCollection, scanID)
	if err != nil {
		return fmt.Errorf("%s: %w", ScanRunsName, err)
	}
	run := scanRunFrom(doc)
	run.jobs = jobsOf(doc)
	run.ID, run.TeamID = scanID, ev.Metadata.TeamID
	run.UpdatedPosition = max(run.UpdatedPosition, ev.Position)
	switch e := e.(type) {
	case orchdomain.ScanJobsPlanned:
		run.jobs.Planned, run.jobs.MaxAttempts = int64(len(e.Jobs)), int64(e.MaxAttempts)
	case orchdomain.ScanRunFinished:
		run.Status = orchdomain.LaterStatus(run.Status, e.Outcome)
		run.jobs.Succeeded, run.jobs.Failed, run.jobs.Cancelled = int64(e.Succeeded), int64(e.Failed), int64(e.Cancelled)
		run.jobs.FinishedAt = e.FinishedAt
		if e.Outcome == orchdomain.StatusFailed || e.Outcome == orchdomain.StatusCancelled {
			run.FailedAt = e.FinishedAt
		} else {
			run.CompletedAt = e.FinishedAt
		}
	}
	tx.Put(ScanRunsCollection, run.doc())
	return nil
}
