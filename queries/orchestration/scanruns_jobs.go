package orchestration

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// The scan-job read models (projections/orchestration ScanJobs).
const (
	scanJobsCollection = "scan_jobs"
	subJobsCollection  = "sub_jobs"
	maxRunJobs         = 1000 // orchdomain.MaxPlannedJobs: a run's jobs fit one read
)

// ScanJob is a job of a scan run (GET /api/v1/scan-runs/{id}).
type ScanJob struct {
	JobID        string    `json:"job_id"`
	ParentID     string    `json:"parent_id,omitempty"`
	Tool         string    `json:"tool"`
	Target       string    `json:"target"`
	Region       string    `json:"region,omitempty"`
	Status       string    `json:"status"`
	Attempt      int64     `json:"attempt"`
	Retries      int64     `json:"retries"`
	Progress     int64     `json:"progress"`
	Worker       string    `json:"worker,omitempty"`
	ImportID     string    `json:"import_id,omitempty"`
	ReportScanID string    `json:"report_scan_id,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	PlannedAt    time.Time `json:"planned_at,omitzero"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	LastBeatAt   time.Time `json:"last_beat_at,omitzero"`
	EndedAt      time.Time `json:"ended_at,omitzero"`
}

// RunProgress counts a run's jobs (sub-jobs in place of the jobs they
// were split from) by where they are.
type RunProgress struct {
	Jobs      int64 `json:"jobs"`
	Queued    int64 `json:"queued"` // planned or dispatched
	Running   int64 `json:"running"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"` // failed or timed out
	Cancelled int64 `json:"cancelled"`
	Percent   int64 `json:"percent"` // of the jobs that have ended
}

// ScanRunDetail is a scan run with its jobs and progress.
type ScanRunDetail struct {
	Scan
	MaxAttempts int64       `json:"max_attempts"`
	Progress    RunProgress `json:"progress"`
	Jobs        []ScanJob   `json:"jobs"`
	SubJobs     []ScanJob   `json:"sub_jobs"`
}

// GetScanRun returns the team's scan run id planned with jobs, its jobs,
// sub-jobs and progress. A scan of another team, or one not planned with
// jobs, is queries.ErrNotFound.
func (s *Service) GetScanRun(ctx context.Context, team, id string) (ScanRunDetail, error) {
	if team == "" {
		return ScanRunDetail{}, queries.ErrNoTeam
	}
	run, err := s.orchestration.Get(ctx, scanRunsCollection, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return ScanRunDetail{}, queries.NotFound("scan run", id)
	case err != nil:
		return ScanRunDetail{}, fmt.Errorf("get scan run %q: %w", id, err)
	case queries.Str(run, "team_id") != team:
		return ScanRunDetail{}, queries.NotFound("scan run", id)
	}
	jobs, _ := run["jobs"].(map[string]any)
	if jobs == nil {
		return ScanRunDetail{}, queries.NotFound("scan run", id)
	}
	out := ScanRunDetail{Scan: scanOf(run), MaxAttempts: queries.Num(jobs, "max_attempts"), Jobs: []ScanJob{}, SubJobs: []ScanJob{}}
	for _, coll := range []string{scanJobsCollection, subJobsCollection} {
		page, err := queries.Find(ctx, s.orchestration, coll, readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("scan_id", id)),
			Sort:   []readmodel.SortField{{Path: "job_id"}},
			Limit:  maxRunJobs,
		})
		if err != nil {
			return ScanRunDetail{}, fmt.Errorf("get the jobs of scan run %q: %w", id, err)
		}
		for _, d := range page.Docs {
			j := jobOf(d)
			if coll == scanJobsCollection {
				out.Jobs = append(out.Jobs, j)
			} else {
				out.SubJobs = append(out.SubJobs, j)
			}
			if j.Status != string(orchdomain.JobSplit) {
				out.Progress.add(orchdomain.JobStatus(j.Status))
			}
		}
	}
	if out.Progress.Jobs > 0 {
		out.Progress.Percent = (out.Progress.Succeeded + out.Progress.Failed + out.Progress.Cancelled) * 100 / out.Progress.Jobs
	}
	return out, nil
}

func (p *RunProgress) add(st orchdomain.JobStatus) {
	p.Jobs++
	switch st {
	case orchdomain.JobPlanned, orchdomain.JobDispatched:
		p.Queued++
	case orchdomain.JobRunning:
		p.Running++
	case orchdomain.JobSucceeded:
		p.Succeeded++
	case orchdomain.JobFailed, orchdomain.JobTimedOut:
		p.Failed++
	case orchdomain.JobCancelled:
		p.Cancelled++
	}
}

func jobOf(d readmodel.Doc) ScanJob {
	return ScanJob{
		JobID: queries.Str(d, "job_id"), ParentID: queries.Str(d, "parent_id"), Tool: queries.Str(d, "tool"),
		Target: queries.Str(d, "target"), Region: queries.Str(d, "region"), Status: queries.Str(d, "status"),
		Attempt: queries.Num(d, "attempt"), Retries: queries.Num(d, "retries"), Progress: queries.Num(d, "progress"),
		Worker: queries.Str(d, "worker"), ImportID: queries.Str(d, "import_id"), ReportScanID: queries.Str(d, "report_scan_id"),
		Reason: queries.Str(d, "reason"), PlannedAt: queries.When(d, "planned_at"), StartedAt: queries.When(d, "started_at"),
		LastBeatAt: queries.When(d, "last_beat_at"), EndedAt: queries.When(d, "ended_at"),
	}
}

// ListScanRuns returns one page of the team's scan runs planned with
// jobs, most recently requested first.
func (s *Service) ListScanRuns(ctx context.Context, team string, p queries.Page) (ScanList, error) {
	if team == "" {
		return ScanList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	if err := v.Err(); err != nil {
		return ScanList{}, err
	}
	page, err := queries.Find(ctx, s.orchestration, scanRunsCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Exists("jobs", true)),
		Sort:   []readmodel.SortField{readmodel.Desc("requested_at")},
		Limit:  p.Size(),
		Cursor: p.Cursor,
	})
	if err != nil {
		return ScanList{}, fmt.Errorf("list scan runs: %w", err)
	}
	out := ScanList{Items: make([]Scan, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = scanOf(d)
	}
	return out, nil
}
