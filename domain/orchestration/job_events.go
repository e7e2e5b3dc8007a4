package orchestration

import "time"

// PlannedJob is one unit of work of a scan run: one tool against one target
// (a URL, a host:port, an account) and, when the request names regions, one
// region. A sub-job names the job it was split from in ParentID.
type PlannedJob struct {
	JobID    string `json:"job_id"`
	Tool     string `json:"tool"`
	Target   string `json:"target"`
	Region   string `json:"region,omitempty"`
	ParentID string `json:"parent_id,omitempty"`
}

// ScanJobsPlanned: the jobs of a requested scan run were planned (recorded
// with ScanRequested, in the same append). MaxAttempts bounds how many
// times a job may start (a lease lost is an attempt).
type ScanJobsPlanned struct {
	ScanID      string       `json:"scan_id"`
	Jobs        []PlannedJob `json:"jobs"`
	MaxAttempts int          `json:"max_attempts"`
	PlannedAt   time.Time    `json:"planned_at"`
}

// ScanJobSplit: a job was split into sub-jobs (for instance one per region);
// the job ends when every sub-job has ended.
type ScanJobSplit struct {
	ScanID  string       `json:"scan_id"`
	JobID   string       `json:"job_id"`
	SubJobs []PlannedJob `json:"sub_jobs"`
	SplitAt time.Time    `json:"split_at"`
}

// ScanJobDispatched: the job was put on the work queue.
type ScanJobDispatched struct {
	ScanID       string    `json:"scan_id"`
	JobID        string    `json:"job_id"`
	DispatchedAt time.Time `json:"dispatched_at"`
}

// ScanJobStarted: a worker took the job's lease and began attempt Attempt.
type ScanJobStarted struct {
	ScanID    string    `json:"scan_id"`
	JobID     string    `json:"job_id"`
	Attempt   int       `json:"attempt"`
	Worker    string    `json:"worker"`
	StartedAt time.Time `json:"started_at"`
}

// ScanJobRetried: the job was given another attempt (Attempt is the new
// one), because the previous attempt's lease expired or it failed in a way
// worth retrying.
type ScanJobRetried struct {
	ScanID    string    `json:"scan_id"`
	JobID     string    `json:"job_id"`
	Attempt   int       `json:"attempt"`
	Reason    string    `json:"reason"`
	RetriedAt time.Time `json:"retried_at"`
}

// ScanJobHeartbeat: the worker running the attempt is alive (its lease was
// extended) and reports its progress (0 to 100).
type ScanJobHeartbeat struct {
	ScanID   string    `json:"scan_id"`
	JobID    string    `json:"job_id"`
	Attempt  int       `json:"attempt"`
	Progress int       `json:"progress"`
	BeatAt   time.Time `json:"beat_at"`
}

// ScanJobSucceeded: the attempt finished and its report was imported as
// ImportID (which created or completed the scan ReportScanID).
type ScanJobSucceeded struct {
	ScanID       string    `json:"scan_id"`
	JobID        string    `json:"job_id"`
	Attempt      int       `json:"attempt"`
	ImportID     string    `json:"import_id,omitempty"`
	ReportScanID string    `json:"report_scan_id,omitempty"`
	SucceededAt  time.Time `json:"succeeded_at"`
}

// ScanJobFailed: the job failed for good (the tool failed, its report was
// rejected, or it ran out of attempts).
type ScanJobFailed struct {
	ScanID   string    `json:"scan_id"`
	JobID    string    `json:"job_id"`
	Attempt  int       `json:"attempt"`
	Reason   string    `json:"reason"`
	FailedAt time.Time `json:"failed_at"`
}

// ScanJobTimedOut: the job ran out of time (its tool was killed by the
// worker, or no worker held its lease before its deadline).
type ScanJobTimedOut struct {
	ScanID     string    `json:"scan_id"`
	JobID      string    `json:"job_id"`
	Attempt    int       `json:"attempt"`
	Reason     string    `json:"reason"`
	TimedOutAt time.Time `json:"timed_out_at"`
}

// ScanJobCancelled: the job will not run (or stop running): its run was
// cancelled.
type ScanJobCancelled struct {
	ScanID      string    `json:"scan_id"`
	JobID       string    `json:"job_id"`
	CancelledAt time.Time `json:"cancelled_at"`
}

// ScanRunCancelled: the run was cancelled; its jobs that had not ended are
// cancelled in the same append.
type ScanRunCancelled struct {
	ScanID      string    `json:"scan_id"`
	Reason      string    `json:"reason,omitempty"`
	CancelledAt time.Time `json:"cancelled_at"`
}

// ScanRunFinished: every job of the run has ended (recorded in the append of
// the last one). Outcome is completed (all succeeded), partial (some
// failed), failed (none succeeded) or cancelled.
type ScanRunFinished struct {
	ScanID     string    `json:"scan_id"`
	Outcome    Status    `json:"outcome"`
	Succeeded  int       `json:"succeeded"`
	Failed     int       `json:"failed"`
	Cancelled  int       `json:"cancelled"`
	FinishedAt time.Time `json:"finished_at"`
}

func (ScanJobsPlanned) EventType() string   { return "ScanJobsPlanned" }
func (ScanJobSplit) EventType() string      { return "ScanJobSplit" }
func (ScanJobDispatched) EventType() string { return "ScanJobDispatched" }
func (ScanJobStarted) EventType() string    { return "ScanJobStarted" }
func (ScanJobRetried) EventType() string    { return "ScanJobRetried" }
func (ScanJobHeartbeat) EventType() string  { return "ScanJobHeartbeat" }
func (ScanJobSucceeded) EventType() string  { return "ScanJobSucceeded" }
func (ScanJobFailed) EventType() string     { return "ScanJobFailed" }
func (ScanJobTimedOut) EventType() string   { return "ScanJobTimedOut" }
func (ScanJobCancelled) EventType() string  { return "ScanJobCancelled" }
func (ScanRunCancelled) EventType() string  { return "ScanRunCancelled" }
func (ScanRunFinished) EventType() string   { return "ScanRunFinished" }
