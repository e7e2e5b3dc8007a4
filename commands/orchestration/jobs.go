package orchestration

import (
	"context"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
)

// PlanScan requests a scan run whose jobs are planned from its targets,
// tools and regions (POST /api/v1/scan-runs).
type PlanScan struct {
	ScanID      string   `json:"scan_id,omitempty"` // optional; generated (UUIDv7) when empty
	AccountID   string   `json:"account_id"`
	Provider    string   `json:"provider"`
	Tools       []string `json:"tools"`
	Targets     []string `json:"targets"`
	Regions     []string `json:"regions,omitempty"`
	MaxAttempts int      `json:"max_attempts,omitempty"`
}

// JobRef names one job of a scan run.
type JobRef struct {
	ScanID string `json:"-"`
	JobID  string `json:"job_id"`
}

// DispatchJob records that a planned job was put on the work queue.
type DispatchJob struct {
	JobRef
}

// StartJob records that a worker began attempt Attempt of a job.
type StartJob struct {
	JobRef
	Attempt int    `json:"attempt"`
	Worker  string `json:"worker"`
}

// BeatJob records a worker's heartbeat (progress 0-100) on its attempt.
type BeatJob struct {
	JobRef
	Attempt  int `json:"attempt"`
	Progress int `json:"progress"`
}

// SucceedJob records that an attempt imported its report.
type SucceedJob struct {
	JobRef
	Attempt      int    `json:"attempt"`
	ImportID     string `json:"import_id,omitempty"`
	ReportScanID string `json:"report_scan_id,omitempty"`
}

// FailJob records that a job failed (TimedOut: ran out of time). Attempt 0
// ends whatever attempt the job is at.
type FailJob struct {
	JobRef
	Attempt  int    `json:"attempt"`
	Reason   string `json:"reason"`
	TimedOut bool   `json:"timed_out,omitempty"`
}

// SplitJob divides a job not yet started into sub-jobs.
type SplitJob struct {
	JobRef
	SubJobs []orchdomain.PlannedJob `json:"sub_jobs"`
}

// CancelScan cancels a scan run with jobs (POST /api/v1/scan-runs/{id}/cancel).
type CancelScan struct {
	ScanID string `json:"-"`
	Reason string `json:"reason,omitempty"`
}

// PlanScan creates a ScanRun stream planned with jobs.
func (h *Handlers) PlanScan(ctx context.Context, meta commands.Meta, cmd PlanScan) (commands.Result, error) {
	scanID := cmd.ScanID
	if scanID == "" {
		id, err := commands.NewID()
		if err != nil {
			return commands.Result{}, err
		}
		scanID = id
	}
	c := commands.ScanCall("PlanScan", cmd.ScanID, cmd)
	c.StreamID = commands.ScanStreamID(scanID)
	return commands.Create(ctx, h.kit, meta, c, "scan_id", func() ([]orchdomain.Event, error) {
		return orchdomain.Plan(orchdomain.PlanRequest{
			ScanID: scanID, AccountID: cmd.AccountID, Provider: cmd.Provider,
			Tools: cmd.Tools, Targets: cmd.Targets, Regions: cmd.Regions,
			MaxAttempts: cmd.MaxAttempts, RequestedAt: h.kit.Now(),
		})
	})
}

// DispatchJob records ScanJobDispatched.
func (h *Handlers) DispatchJob(ctx context.Context, meta commands.Meta, cmd DispatchJob) (commands.Result, error) {
	return h.decideJob(ctx, meta, "DispatchJob", cmd.ScanID, cmd, func(s *orchdomain.ScanRun, now time.Time) ([]orchdomain.Event, error) {
		return s.Dispatch(cmd.JobID, now)
	})
}

// StartJob records ScanJobStarted (and ScanJobRetried, ScanStarted as the aggregate decides).
func (h *Handlers) StartJob(ctx context.Context, meta commands.Meta, cmd StartJob) (commands.Result, error) {
	return h.decideJob(ctx, meta, "StartJob", cmd.ScanID, cmd, func(s *orchdomain.ScanRun, now time.Time) ([]orchdomain.Event, error) {
		return s.StartJob(cmd.JobID, cmd.Attempt, cmd.Worker, now)
	})
}

// BeatJob records ScanJobHeartbeat.
func (h *Handlers) BeatJob(ctx context.Context, meta commands.Meta, cmd BeatJob) (commands.Result, error) {
	return h.decideJob(ctx, meta, "BeatJob", cmd.ScanID, cmd, func(s *orchdomain.ScanRun, now time.Time) ([]orchdomain.Event, error) {
		return s.Beat(cmd.JobID, cmd.Attempt, cmd.Progress, now)
	})
}

// SucceedJob records ScanJobSucceeded (and ScanRunFinished when it was the last job).
func (h *Handlers) SucceedJob(ctx context.Context, meta commands.Meta, cmd SucceedJob) (commands.Result, error) {
	return h.decideJob(ctx, meta, "SucceedJob", cmd.ScanID, cmd, func(s *orchdomain.ScanRun, now time.Time) ([]orchdomain.Event, error) {
		return s.SucceedJob(cmd.JobID, cmd.Attempt, cmd.ImportID, cmd.ReportScanID, now)
	})
}

// FailJob records ScanJobFailed or ScanJobTimedOut (and ScanRunFinished when it was the last job).
func (h *Handlers) FailJob(ctx context.Context, meta commands.Meta, cmd FailJob) (commands.Result, error) {
	return h.decideJob(ctx, meta, "FailJob", cmd.ScanID, cmd, func(s *orchdomain.ScanRun, now time.Time) ([]orchdomain.Event, error) {
		if cmd.TimedOut {
			return s.TimeOutJob(cmd.JobID, cmd.Attempt, cmd.Reason, now)
		}
		return s.FailJob(cmd.JobID, cmd.Attempt, cmd.Reason, now)
	})
}

// SplitJob records ScanJobSplit.
func (h *Handlers) SplitJob(ctx context.Context, meta commands.Meta, cmd SplitJob) (commands.Result, error) {
	return h.decideJob(ctx, meta, "SplitJob", cmd.ScanID, cmd, func(s *orchdomain.ScanRun, now time.Time) ([]orchdomain.Event, error) {
		return s.Split(cmd.JobID, cmd.SubJobs, now)
	})
}

// CancelScan records ScanRunCancelled with its jobs' cancellations.
func (h *Handlers) CancelScan(ctx context.Context, meta commands.Meta, cmd CancelScan) (commands.Result, error) {
	return h.decideJob(ctx, meta, "CancelScan", cmd.ScanID, cmd, func(s *orchdomain.ScanRun, now time.Time) ([]orchdomain.Event, error) {
		return s.Cancel(cmd.Reason, now)
	})
}

func (h *Handlers) decideJob(ctx context.Context, meta commands.Meta, name, scanID string, body any, decide func(*orchdomain.ScanRun, time.Time) ([]orchdomain.Event, error)) (commands.Result, error) {
	return h.decideScan(ctx, meta, commands.ScanCall(name, scanID, body), func(s *orchdomain.ScanRun) ([]orchdomain.Event, error) {
		return decide(s, h.kit.Now())
	})
}
