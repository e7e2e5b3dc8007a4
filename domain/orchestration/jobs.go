package orchestration

import (
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// JobStatus is where a scan job is: planned → dispatched → running →
// succeeded | failed | timed_out, or cancelled from any status before an end;
// split when it was divided into sub-jobs (it ends when they all have).
type JobStatus string

const (
	JobPlanned    JobStatus = "planned"
	JobDispatched JobStatus = "dispatched"
	JobRunning    JobStatus = "running"
	JobSplit      JobStatus = "split"
	JobSucceeded  JobStatus = "succeeded"
	JobFailed     JobStatus = "failed"
	JobTimedOut   JobStatus = "timed_out"
	JobCancelled  JobStatus = "cancelled"
)

// Ended reports whether a job in status s will not change any more.
func (s JobStatus) Ended() bool {
	return s == JobSucceeded || s == JobFailed || s == JobTimedOut || s == JobCancelled
}

// Statuses a run with jobs ends in, besides completed and failed.
const (
	StatusPartial   Status = "partial"
	StatusCancelled Status = "cancelled"
)

// Limits of a plan.
const (
	DefaultMaxAttempts = 3
	MaxMaxAttempts     = 10
	MaxPlannedJobs     = 1000
	MaxSubJobs         = 100
)

// Rule codes of the job decisions.
const (
	CodeScanHasJobs         = "SCAN_HAS_JOBS"
	CodeScanHasNoJobs       = "SCAN_HAS_NO_JOBS"
	CodeScanFinished        = "SCAN_FINISHED"
	CodeJobNotFound         = "JOB_NOT_FOUND"
	CodeJobEnded            = "JOB_ENDED"
	CodeJobAlreadyQueued    = "JOB_ALREADY_DISPATCHED"
	CodeJobNotRunning       = "JOB_NOT_RUNNING"
	CodeJobAttemptStale     = "JOB_ATTEMPT_STALE"
	CodeJobAttemptsExceeded = "JOB_ATTEMPTS_EXHAUSTED"
)

// PlanRequest asks for a scan run whose jobs are planned from the cross
// product of its targets, tools and (optional) regions.
type PlanRequest struct {
	ScanID      string
	AccountID   string
	Provider    string
	Tools       []string
	Targets     []string
	Regions     []string
	MaxAttempts int // 0: DefaultMaxAttempts
	RequestedAt time.Time
}

// Plan decides a new scan run with jobs: ScanRequested then ScanJobsPlanned
// (job ids j0001, j0002, ... in target, tool, region order), or a
// *domain.ValidationError naming every invalid field.
func Plan(r PlanRequest) ([]Event, error) {
	var v domain.Validator
	checkID(&v, "scan_id", r.ScanID)
	accountID := strings.TrimSpace(r.AccountID)
	v.Check(accountID != "", "account_id", "is required")
	v.Text("account_id", accountID, domain.MaxShortText)
	provider, ok := ParseProvider(r.Provider)
	v.Check(ok, "provider", "must be one of aws, azure, gcp, kubernetes, other")
	tools := uniqueTrimmed(r.Tools)
	targets := uniqueTrimmed(r.Targets)
	regions := uniqueTrimmed(r.Regions)
	v.Check(len(tools) > 0, "tools", "must name at least one tool")
	for _, t := range tools {
		v.Text("tools", t, domain.MaxShortText)
	}
	v.Check(len(targets) > 0, "targets", "must name at least one target")
	for _, t := range targets {
		v.Text("targets", t, domain.MaxReference)
	}
	for _, rg := range regions {
		v.Text("regions", rg, domain.MaxShortText)
	}
	n := len(tools) * len(targets) * max(1, len(regions))
	v.Check(n <= MaxPlannedJobs, "targets", "plan %d jobs: at most %d may be planned at once", n, MaxPlannedJobs)
	attempts := r.MaxAttempts
	if attempts == 0 {
		attempts = DefaultMaxAttempts
	}
	v.Check(attempts >= 1 && attempts <= MaxMaxAttempts, "max_attempts", "must be between 1 and %d", MaxMaxAttempts)
	v.Check(!r.RequestedAt.IsZero(), "requested_at", "is required")
	toolLabel := strings.Join(tools, ",")
	if len([]rune(toolLabel)) > domain.MaxShortText {
		toolLabel = string([]rune(toolLabel)[:domain.MaxShortText])
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if len(regions) == 0 {
		regions = []string{""}
	}
	jobs := make([]PlannedJob, 0, n)
	for _, target := range targets {
		for _, tool := range tools {
			for _, region := range regions {
				jobs = append(jobs, PlannedJob{JobID: fmt.Sprintf("j%04d", len(jobs)+1), Tool: tool, Target: target, Region: region})
			}
		}
	}
	req := ScanRequested{ScanID: r.ScanID, AccountID: accountID, Provider: provider, Tool: toolLabel, RequestedAt: r.RequestedAt}
	if len(targets) == 1 {
		req.Target = targets[0]
	}
	return []Event{req, ScanJobsPlanned{ScanID: r.ScanID, Jobs: jobs, MaxAttempts: attempts, PlannedAt: r.RequestedAt}}, nil
}

func uniqueTrimmed(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// job is a scan job as the aggregate knows it.
type job struct {
	PlannedJob
	status   JobStatus
	attempt  int
	progress int
	importID string
	children []string
}

// JobState is a read-only view of a job.
type JobState struct {
	PlannedJob
	Status   JobStatus `json:"status"`
	Attempt  int       `json:"attempt"`
	Progress int       `json:"progress"`
	ImportID string    `json:"import_id,omitempty"`
}

// Jobs returns the run's jobs (sub-jobs included) in plan order.
func (s *ScanRun) Jobs() []JobState {
	out := make([]JobState, 0, len(s.jobOrder))
	for _, id := range s.jobOrder {
		j := s.jobs[id]
		out = append(out, JobState{PlannedJob: j.PlannedJob, Status: j.status, Attempt: j.attempt, Progress: j.progress, ImportID: j.importID})
	}
	return out
}

// MaxAttempts is how many times a job of the run may start.
func (s *ScanRun) MaxAttempts() int { return s.maxAttempts }

// HasJobs reports whether the run was planned with jobs.
func (s *ScanRun) HasJobs() bool { return len(s.jobs) > 0 }

// Finished reports whether the run has ended (every job ended, or cancelled).
func (s *ScanRun) Finished() bool {
	switch s.status {
	case StatusCompleted, StatusFailed, StatusPartial, StatusCancelled:
		return true
	}
	return false
}

// jobFor returns the job jobID of a run that can still change, or the rule
// that says why not.
func (s *ScanRun) jobFor(jobID string) (*job, error) {
	if s.status == "" {
		return nil, notRequested()
	}
	if !s.HasJobs() {
		return nil, domain.Rule(CodeScanHasNoJobs, "scan %s has no jobs", s.id)
	}
	j, ok := s.jobs[jobID]
	if !ok {
		return nil, domain.Rule(CodeJobNotFound, "scan %s has no job %s", s.id, jobID)
	}
	if j.status.Ended() {
		return nil, domain.Rule(CodeJobEnded, "job %s of scan %s has ended (%s)", jobID, s.id, j.status)
	}
	if s.Finished() {
		return nil, domain.Rule(CodeScanFinished, "scan %s has finished (%s)", s.id, s.status)
	}
	return j, nil
}

// Dispatch decides that a planned job was put on the work queue.
func (s *ScanRun) Dispatch(jobID string, at time.Time) ([]Event, error) {
	j, err := s.jobFor(jobID)
	if err != nil {
		return nil, err
	}
	if j.status != JobPlanned {
		return nil, domain.Rule(CodeJobAlreadyQueued, "job %s of scan %s is %s", jobID, s.id, j.status)
	}
	return []Event{ScanJobDispatched{ScanID: s.id, JobID: jobID, DispatchedAt: at}}, nil
}

// StartJob decides that worker began attempt (the queue's delivery count,
// from 1) of the job. An attempt above the current one after a start means
// the previous lease expired: ScanJobRetried is recorded first. The first
// job to start also starts the run (ScanStarted).
func (s *ScanRun) StartJob(jobID string, attempt int, worker string, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Check(attempt >= 1, "attempt", "must be at least 1")
	worker = strings.TrimSpace(worker)
	v.Text("worker", worker, domain.MaxShortText)
	v.Check(!at.IsZero(), "started_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	j, err := s.jobFor(jobID)
	if err != nil {
		return nil, err
	}
	if attempt <= j.attempt {
		return nil, domain.Rule(CodeJobAttemptStale, "job %s of scan %s is at attempt %d, not before", jobID, s.id, j.attempt)
	}
	if attempt > s.maxAttempts {
		return nil, domain.Rule(CodeJobAttemptsExceeded, "job %s of scan %s may start at most %d times", jobID, s.id, s.maxAttempts)
	}
	if j.status == JobSplit {
		return nil, domain.Rule(CodeJobNotRunning, "job %s of scan %s was split: its sub-jobs run", jobID, s.id)
	}
	var out []Event
	if s.status == StatusRequested {
		out = append(out, ScanStarted{ScanID: s.id, StartedAt: at})
	}
	if j.attempt > 0 {
		out = append(out, ScanJobRetried{ScanID: s.id, JobID: jobID, Attempt: attempt,
			Reason: fmt.Sprintf("the lease of attempt %d expired", j.attempt), RetriedAt: at})
	}
	return append(out, ScanJobStarted{ScanID: s.id, JobID: jobID, Attempt: attempt, Worker: worker, StartedAt: at}), nil
}

// running returns the running job jobID at attempt, or the rule that says why not.
func (s *ScanRun) running(jobID string, attempt int) (*job, error) {
	j, err := s.jobFor(jobID)
	if err != nil {
		return nil, err
	}
	if j.status != JobRunning {
		return nil, domain.Rule(CodeJobNotRunning, "job %s of scan %s is %s, not running", jobID, s.id, j.status)
	}
	if attempt != j.attempt {
		return nil, domain.Rule(CodeJobAttemptStale, "job %s of scan %s is at attempt %d, not %d", jobID, s.id, j.attempt, attempt)
	}
	return j, nil
}

// Beat decides that the worker of attempt is alive at progress percent.
func (s *ScanRun) Beat(jobID string, attempt, progress int, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Check(progress >= 0 && progress <= 100, "progress", "must be between 0 and 100")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if _, err := s.running(jobID, attempt); err != nil {
		return nil, err
	}
	return []Event{ScanJobHeartbeat{ScanID: s.id, JobID: jobID, Attempt: attempt, Progress: progress, BeatAt: at}}, nil
}

// SucceedJob decides that attempt of the job imported its report as importID.
func (s *ScanRun) SucceedJob(jobID string, attempt int, importID, reportScanID string, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Text("import_id", importID, domain.MaxShortText)
	v.Text("report_scan_id", reportScanID, domain.MaxShortText)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if _, err := s.running(jobID, attempt); err != nil {
		return nil, err
	}
	return s.ending(ScanJobSucceeded{ScanID: s.id, JobID: jobID, Attempt: attempt, ImportID: importID, ReportScanID: reportScanID, SucceededAt: at}, at), nil
}

// FailJob decides that the job failed for good. attempt 0 fails whatever
// attempt the job is at (the queue gave up on it); otherwise it must be the
// running attempt.
func (s *ScanRun) FailJob(jobID string, attempt int, reason string, at time.Time) ([]Event, error) {
	reason, err := checkReason(reason)
	if err != nil {
		return nil, err
	}
	j, err := s.endable(jobID, attempt)
	if err != nil {
		return nil, err
	}
	return s.ending(ScanJobFailed{ScanID: s.id, JobID: jobID, Attempt: j.attempt, Reason: reason, FailedAt: at}, at), nil
}

// TimeOutJob decides that the job ran out of time (attempt as in FailJob).
func (s *ScanRun) TimeOutJob(jobID string, attempt int, reason string, at time.Time) ([]Event, error) {
	reason, err := checkReason(reason)
	if err != nil {
		return nil, err
	}
	j, err := s.endable(jobID, attempt)
	if err != nil {
		return nil, err
	}
	return s.ending(ScanJobTimedOut{ScanID: s.id, JobID: jobID, Attempt: j.attempt, Reason: reason, TimedOutAt: at}, at), nil
}

func (s *ScanRun) endable(jobID string, attempt int) (*job, error) {
	if attempt != 0 {
		return s.running(jobID, attempt)
	}
	j, err := s.jobFor(jobID)
	if err == nil && j.status == JobSplit {
		return nil, domain.Rule(CodeJobNotRunning, "job %s of scan %s was split: its sub-jobs end it", jobID, s.id)
	}
	return j, err
}

func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	var v domain.Validator
	v.Check(reason != "", "reason", "is required")
	v.MultilineText("reason", reason, domain.MaxReason)
	return reason, v.Err()
}

// Split decides that a job not yet running is divided into sub-jobs (tool,
// target and region each; ids <job>.1, <job>.2, ...).
func (s *ScanRun) Split(jobID string, parts []PlannedJob, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Check(len(parts) > 0 && len(parts) <= MaxSubJobs, "sub_jobs", "must name 1 to %d sub-jobs", MaxSubJobs)
	if err := v.Err(); err != nil {
		return nil, err
	}
	j, err := s.jobFor(jobID)
	if err != nil {
		return nil, err
	}
	if j.status != JobPlanned && j.status != JobDispatched {
		return nil, domain.Rule(CodeJobNotRunning, "job %s of scan %s is %s: only a job not yet started splits", jobID, s.id, j.status)
	}
	subs := make([]PlannedJob, len(parts))
	for i, p := range parts {
		subs[i] = PlannedJob{JobID: fmt.Sprintf("%s.%d", jobID, i+1), Tool: or(p.Tool, j.Tool), Target: or(p.Target, j.Target), Region: or(p.Region, j.Region), ParentID: jobID}
	}
	return []Event{ScanJobSplit{ScanID: s.id, JobID: jobID, SubJobs: subs, SplitAt: at}}, nil
}

func or(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return strings.TrimSpace(a)
	}
	return b
}

// Cancel decides that the run is cancelled: every job that has not ended is
// cancelled in the same append, and the run finishes as cancelled.
func (s *ScanRun) Cancel(reason string, at time.Time) ([]Event, error) {
	reason = strings.TrimSpace(reason)
	var v domain.Validator
	v.MultilineText("reason", reason, domain.MaxReason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if s.status == "" {
		return nil, notRequested()
	}
	if !s.HasJobs() {
		return nil, domain.Rule(CodeScanHasNoJobs, "scan %s has no jobs to cancel", s.id)
	}
	if s.Finished() {
		return nil, domain.Rule(CodeScanFinished, "scan %s has finished (%s)", s.id, s.status)
	}
	out := []Event{ScanRunCancelled{ScanID: s.id, Reason: reason, CancelledAt: at}}
	succeeded, failed, cancelled := 0, 0, 0
	for _, id := range s.jobOrder {
		j := s.jobs[id]
		switch {
		case j.status == JobSucceeded:
			succeeded++
		case j.status.Ended():
			failed++
		case j.status == JobSplit:
		default:
			out = append(out, ScanJobCancelled{ScanID: s.id, JobID: id, CancelledAt: at})
			cancelled++
		}
	}
	return append(out, ScanRunFinished{ScanID: s.id, Outcome: StatusCancelled, Succeeded: succeeded, Failed: failed, Cancelled: cancelled, FinishedAt: at}), nil
}

// ending returns ended, followed by ScanRunFinished when it ends the last
// job of the run.
func (s *ScanRun) ending(ended Event, at time.Time) []Event {
	next := s.clone()
	next.Apply(ended)
	succeeded, failed, open := 0, 0, 0
	for _, id := range next.jobOrder {
		j := next.jobs[id]
		if len(j.children) > 0 {
			continue // counted through its sub-jobs
		}
		switch {
		case j.status == JobSucceeded:
			succeeded++
		case j.status.Ended():
			failed++
		default:
			open++
		}
	}
	if open > 0 {
		return []Event{ended}
	}
	outcome := StatusCompleted
	switch {
	case succeeded == 0:
		outcome = StatusFailed
	case failed > 0:
		outcome = StatusPartial
	}
	return []Event{ended, ScanRunFinished{ScanID: s.id, Outcome: outcome, Succeeded: succeeded, Failed: failed, FinishedAt: at}}
}

func (s *ScanRun) clone() *ScanRun {
	c := *s
	c.jobs = make(map[string]*job, len(s.jobs))
	for id, j := range s.jobs {
		cj := *j
		cj.children = append([]string(nil), j.children...)
		c.jobs[id] = &cj
	}
	c.jobOrder = append([]string(nil), s.jobOrder...)
	return &c
}

// applyJob records the effect of a job event.
func (s *ScanRun) applyJob(e Event) {
	if s.jobs == nil {
		s.jobs = map[string]*job{}
	}
	get := func(id string) *job {
		if j, ok := s.jobs[id]; ok {
			return j
		}
		j := &job{PlannedJob: PlannedJob{JobID: id}, status: JobPlanned}
		s.jobs[id] = j
		s.jobOrder = append(s.jobOrder, id)
		return j
	}
	add := func(p PlannedJob) {
		j := get(p.JobID)
		j.PlannedJob = p
	}
	end := func(id string, st JobStatus, attempt int) {
		j := get(id)
		j.status, j.attempt = st, max(j.attempt, attempt)
		if st == JobSucceeded {
			j.progress = 100
		}
		s.settleParent(j.ParentID)
	}
	switch e := e.(type) {
	case ScanJobsPlanned:
		s.maxAttempts = e.MaxAttempts
		for _, p := range e.Jobs {
			add(p)
		}
	case ScanJobSplit:
		parent := get(e.JobID)
		parent.status = JobSplit
		for _, p := range e.SubJobs {
			add(p)
			parent.children = append(parent.children, p.JobID)
		}
	case ScanJobDispatched:
		if j := get(e.JobID); j.status == JobPlanned {
			j.status = JobDispatched
		}
	case ScanJobRetried:
		j := get(e.JobID)
		j.attempt = max(j.attempt, e.Attempt-1)
	case ScanJobStarted:
		j := get(e.JobID)
		if !j.status.Ended() {
			j.status = JobRunning
		}
		j.attempt = max(j.attempt, e.Attempt)
	case ScanJobHeartbeat:
		j := get(e.JobID)
		j.progress = max(j.progress, e.Progress)
	case ScanJobSucceeded:
		get(e.JobID).importID = e.ImportID
		end(e.JobID, JobSucceeded, e.Attempt)
	case ScanJobFailed:
		end(e.JobID, JobFailed, e.Attempt)
	case ScanJobTimedOut:
		end(e.JobID, JobTimedOut, e.Attempt)
	case ScanJobCancelled:
		end(e.JobID, JobCancelled, 0)
	case ScanRunCancelled:
	case ScanRunFinished:
		s.status = e.Outcome
		s.lastAt = e.FinishedAt
		switch e.Outcome {
		case StatusFailed, StatusCancelled:
			s.failedAt = e.FinishedAt
		default:
			s.completedAt = e.FinishedAt
		}
	}
}

// settleParent ends a split job once every sub-job has: succeeded when all
// did, failed otherwise.
func (s *ScanRun) settleParent(parentID string) {
	p, ok := s.jobs[parentID]
	if !ok || len(p.children) == 0 {
		return
	}
	status := JobSucceeded
	for _, c := range p.children {
		cs := s.jobs[c].status
		if !cs.Ended() {
			return
		}
		if cs != JobSucceeded {
			status = JobFailed
		}
	}
	p.status = status
	s.settleParent(p.ParentID)
}
