package bia

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Exercises test the recovery of some of a BIA's processes: planned (a
// scenario, a date, the processes), run once (the actual recovery time of
// each, compared here with its RTO and RPO as the BIA held them at the
// run), then lessons learned, each with an owner and a status.

// ExerciseStatus is an exercise's status.
type ExerciseStatus string

// The exercise statuses.
const (
	ExercisePlannedStatus   ExerciseStatus = "planned"
	ExerciseCompletedStatus ExerciseStatus = "completed"
	ExerciseCancelledStatus ExerciseStatus = "cancelled"
)

// Outcome of a run: passed (every target met), failed (one missed),
// no_targets (no process had a target to compare with).
const (
	OutcomePassed    = "passed"
	OutcomeFailed    = "failed"
	OutcomeNoTargets = "no_targets"
)

// LessonStatus is a lesson's status.
type LessonStatus string

// The lesson statuses.
const (
	LessonOpen       LessonStatus = "open"
	LessonInProgress LessonStatus = "in_progress"
	LessonDone       LessonStatus = "done"
)

// LessonStatuses lists them.
var LessonStatuses = []LessonStatus{LessonOpen, LessonInProgress, LessonDone}

// LessonProgress: lessons done of all.
type LessonProgress struct {
	Lessons int `json:"lessons"`
	Done    int `json:"done"`
}

// ExercisePlanned: an exercise of the BIA's processes is planned for
// PlannedFor.
type ExercisePlanned struct {
	ExerciseID string    `json:"exercise_id"`
	BIAID      string    `json:"bia_id"`
	Title      string    `json:"title"`
	Scenario   string    `json:"scenario"`
	Owner      string    `json:"owner"`
	PlannedFor time.Time `json:"planned_for"`
	ProcessIDs []string  `json:"process_ids"` // sorted
	PlannedAt  time.Time `json:"planned_at"`
}

// ProcessResult is how one process recovered in a run, against the
// targets the BIA held for it then (nil: none; met nil: nothing to compare).
type ProcessResult struct {
	ProcessID string   `json:"process_id"`
	Name      string   `json:"name"`
	RTO       *Minutes `json:"rto_minutes,omitempty"`
	Recovery  Minutes  `json:"recovery_minutes"`
	RTOMet    *bool    `json:"rto_met,omitempty"`
	RPO       *Minutes `json:"rpo_minutes,omitempty"`
	DataLoss  *Minutes `json:"data_loss_minutes,omitempty"`
	RPOMet    *bool    `json:"rpo_met,omitempty"`
	Notes     string   `json:"notes,omitempty"`
}

// ExerciseRun: the exercise ran from StartedAt to EndedAt with Results
// (one per planned process, sorted by process id).
type ExerciseRun struct {
	ExerciseID string          `json:"exercise_id"`
	BIAID      string          `json:"bia_id"`
	StartedAt  time.Time       `json:"started_at"`
	EndedAt    time.Time       `json:"ended_at"`
	Results    []ProcessResult `json:"results"`
	Met        int             `json:"met"`    // targets met (RTO and RPO counted apart)
	Missed     int             `json:"missed"` // targets missed
	Outcome    string          `json:"outcome"`
	Notes      string          `json:"notes,omitempty"`
	RecordedAt time.Time       `json:"recorded_at"`
}

// ExerciseCancelled: the planned exercise will not run.
type ExerciseCancelled struct {
	ExerciseID  string    `json:"exercise_id"`
	Reason      string    `json:"reason"`
	CancelledAt time.Time `json:"cancelled_at"`
}

// LessonLearnedRecorded: a lesson of the run, to act on.
type LessonLearnedRecorded struct {
	ExerciseID string         `json:"exercise_id"`
	LessonID   string         `json:"lesson_id"`
	Title      string         `json:"title"`
	Owner      string         `json:"owner"`
	ProcessID  string         `json:"process_id,omitempty"`
	DueDate    time.Time      `json:"due_date,omitzero"`
	Status     LessonStatus   `json:"status"`
	Progress   LessonProgress `json:"progress"`
	RecordedAt time.Time      `json:"recorded_at"`
}

// LessonLearnedUpdated: the lesson's owner and status from UpdatedAt.
type LessonLearnedUpdated struct {
	ExerciseID string         `json:"exercise_id"`
	LessonID   string         `json:"lesson_id"`
	Owner      string         `json:"owner"`
	Status     LessonStatus   `json:"status"`
	Progress   LessonProgress `json:"progress"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

func (ExercisePlanned) EventType() string       { return "BIAExercisePlanned" }
func (ExerciseRun) EventType() string           { return "BIAExerciseRun" }
func (ExerciseCancelled) EventType() string     { return "BIAExerciseCancelled" }
func (LessonLearnedRecorded) EventType() string { return "BIALessonLearnedRecorded" }
func (LessonLearnedUpdated) EventType() string  { return "BIALessonLearnedUpdated" }

// ExerciseEventTypes are the event types of an exercise stream.
var ExerciseEventTypes = []string{ExercisePlanned{}.EventType(), ExerciseRun{}.EventType(), ExerciseCancelled{}.EventType(),
	LessonLearnedRecorded{}.EventType(), LessonLearnedUpdated{}.EventType()}

// Rule codes of exercises.
const (
	CodeExerciseNotPlanned = "EXERCISE_NOT_PLANNED"
	CodeExerciseNotRun     = "EXERCISE_NOT_RUN"
	CodeExerciseNotCreated = "EXERCISE_NOT_CREATED"
	CodeLessonNotFound     = "LESSON_NOT_FOUND"
	CodeLessonExists       = "LESSON_EXISTS"
	CodeTooManyLessons     = "EXERCISE_TOO_MANY_LESSONS"
)

// MaxLessons bounds an exercise's lessons.
const MaxLessons = 200

// ExerciseSpec is an exercise as planned.
type ExerciseSpec struct {
	Title      string
	Scenario   string
	Owner      string
	PlannedFor time.Time
	ProcessIDs []string
}

// PlanExercise decides exercise id of the BIA bia (as it is now): every
// process named must be one of its processes.
func PlanExercise(id string, bia Snapshot, s ExerciseSpec, at time.Time) ([]Event, error) {
	var v domain.Validator
	s.Title, s.Scenario, s.Owner = strings.TrimSpace(s.Title), strings.TrimSpace(s.Scenario), strings.TrimSpace(s.Owner)
	v.Check(id != "", "exercise_id", "is required")
	v.Check(s.Title != "", "title", "is required")
	v.Text("title", s.Title, domain.MaxShortText)
	v.Check(s.Scenario != "", "scenario", "is required")
	v.MultilineText("scenario", s.Scenario, domain.MaxDescription)
	v.Check(s.Owner != "", "owner", "is required")
	v.Text("owner", s.Owner, domain.MaxShortText)
	v.Check(!s.PlannedFor.IsZero(), "planned_for", "is required")
	v.Check(len(s.ProcessIDs) > 0, "process_ids", "name at least one process of the BIA")
	ids := map[string]bool{}
	for i, p := range s.ProcessIDs {
		f := fmt.Sprintf("process_ids[%d]", i)
		if _, ok := bia.Process(p); !ok {
			v.Add(f, "%q is not a process of the BIA %s", p, bia.BIAID)
		}
		v.Check(!ids[p], f, "%q is listed twice", p)
		ids[p] = true
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	procs := slices.Sorted(func(yield func(string) bool) {
		for p := range ids {
			if !yield(p) {
				return
			}
		}
	})
	return []Event{ExercisePlanned{ExerciseID: id, BIAID: bia.BIAID, Title: s.Title, Scenario: s.Scenario, Owner: s.Owner,
		PlannedFor: s.PlannedFor, ProcessIDs: procs, PlannedAt: at}}, nil
}

type lesson struct {
	owner  string
	status LessonStatus
}

// Exercise is an exercise aggregate. Build it with RehydrateExercise.
type Exercise struct {
	created   bool
	id, bia   string
	status    ExerciseStatus
	processes []string
	lessons   map[string]lesson
}

// RehydrateExercise folds an exercise's events.
func RehydrateExercise(events ...Event) *Exercise {
	x := &Exercise{lessons: map[string]lesson{}}
	for _, e := range events {
		switch e := e.(type) {
		case ExercisePlanned:
			x.created, x.id, x.bia, x.status, x.processes = true, e.ExerciseID, e.BIAID, ExercisePlannedStatus, e.ProcessIDs
		case ExerciseRun:
			x.status = ExerciseCompletedStatus
		case ExerciseCancelled:
			x.status = ExerciseCancelledStatus
		case LessonLearnedRecorded:
			x.lessons[e.LessonID] = lesson{e.Owner, e.Status}
		case LessonLearnedUpdated:
			x.lessons[e.LessonID] = lesson{e.Owner, e.Status}
		}
	}
	return x
}

// BIAID is the BIA the exercise tests.
func (x *Exercise) BIAID() string { return x.bia }

// Status is the exercise's status.
func (x *Exercise) Status() ExerciseStatus { return x.status }

func (x *Exercise) planned() error {
	switch {
	case !x.created:
		return domain.Rule(CodeExerciseNotCreated, "the exercise does not exist")
	case x.status != ExercisePlannedStatus:
		return domain.Rule(CodeExerciseNotPlanned, "the exercise %s is %s", x.id, x.status)
	}
	return nil
}

// RunResult is how a process recovered, as a person reports it.
type RunResult struct {
	ProcessID string
	Recovery  string // a duration: how long the process took to recover
	DataLoss  string // a duration of data lost (optional)
	Notes     string
}

// RecordRun decides the planned exercise ran from started to ended with
// results (one per planned process), compared with the targets of bia
// (the BIA as it is now).
func (x *Exercise) RecordRun(bia Snapshot, started, ended time.Time, results []RunResult, notes string, at time.Time) ([]Event, error) {
	if err := x.planned(); err != nil {
		return nil, err
	}
	var v domain.Validator
	notes = strings.TrimSpace(notes)
	v.Check(!started.IsZero(), "started_at", "is required")
	v.Check(!ended.IsZero(), "ended_at", "is required")
	v.Check(started.IsZero() || ended.IsZero() || !ended.Before(started), "ended_at", "must not be before started_at")
	v.Check(ended.IsZero() || !ended.After(at), "ended_at", "must not be in the future")
	v.MultilineText("notes", notes, domain.MaxReason)
	seen := map[string]bool{}
	out := ExerciseRun{ExerciseID: x.id, BIAID: x.bia, StartedAt: started, EndedAt: ended, Notes: notes, RecordedAt: at}
	for i, r := range results {
		f := fmt.Sprintf("results[%d]", i)
		if !slices.Contains(x.processes, r.ProcessID) {
			v.Add(f+".process_id", "%q is not a process of this exercise", r.ProcessID)
			continue
		}
		if seen[r.ProcessID] {
			v.Add(f+".process_id", "%q has a result already", r.ProcessID)
			continue
		}
		seen[r.ProcessID] = true
		pr := ProcessResult{ProcessID: r.ProcessID, Notes: strings.TrimSpace(r.Notes)}
		v.MultilineText(f+".notes", pr.Notes, domain.MaxReason)
		rec := duration(&v, f+".recovery", r.Recovery, true)
		if rec == nil {
			v.Check(strings.TrimSpace(r.Recovery) != "", f+".recovery", "is required (how long the process took to recover, e.g. 3h30m)")
			continue
		}
		pr.Recovery = *rec
		pr.DataLoss = duration(&v, f+".data_loss", r.DataLoss, true)
		if p, ok := bia.Process(r.ProcessID); ok {
			pr.Name, pr.RTO, pr.RPO = p.Name, p.RTO, p.RPO
		}
		if pr.RTO != nil {
			met := pr.Recovery <= *pr.RTO
			pr.RTOMet = &met
		}
		if pr.RPO != nil && pr.DataLoss != nil {
			met := *pr.DataLoss <= *pr.RPO
			pr.RPOMet = &met
		}
		for _, m := range []*bool{pr.RTOMet, pr.RPOMet} {
			switch {
			case m == nil:
			case *m:
				out.Met++
			default:
				out.Missed++
			}
		}
		out.Results = append(out.Results, pr)
	}
	for _, p := range x.processes {
		v.Check(seen[p], "results", "process %q has no result", p)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out.Results, func(a, b ProcessResult) int { return strings.Compare(a.ProcessID, b.ProcessID) })
	switch {
	case out.Missed > 0:
		out.Outcome = OutcomeFailed
	case out.Met > 0:
		out.Outcome = OutcomePassed
	default:
		out.Outcome = OutcomeNoTargets
	}
	return []Event{out}, nil
}

// Cancel decides the planned exercise will not run.
func (x *Exercise) Cancel(reason string, at time.Time) ([]Event, error) {
	if err := x.planned(); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	var v domain.Validator
	v.Check(reason != "", "reason", "is required")
	v.MultilineText("reason", reason, domain.MaxReason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{ExerciseCancelled{ExerciseID: x.id, Reason: reason, CancelledAt: at}}, nil
}

func (x *Exercise) progress(id string, l lesson) LessonProgress {
	all := map[string]lesson{}
	for k, v := range x.lessons {
		all[k] = v
	}
	all[id] = l
	p := LessonProgress{Lessons: len(all)}
	for _, v := range all {
		if v.status == LessonDone {
			p.Done++
		}
	}
	return p
}

// LessonSpec is a lesson as a person writes it.
type LessonSpec struct {
	Title     string
	Owner     string
	ProcessID string
	DueDate   time.Time
}

// RecordLesson decides a lesson learned of the run exercise, open.
func (x *Exercise) RecordLesson(id string, s LessonSpec, at time.Time) ([]Event, error) {
	if !x.created {
		return nil, domain.Rule(CodeExerciseNotCreated, "the exercise does not exist")
	}
	if x.status != ExerciseCompletedStatus {
		return nil, domain.Rule(CodeExerciseNotRun, "the exercise %s is %s: lessons follow its run", x.id, x.status)
	}
	if _, ok := x.lessons[id]; ok {
		return nil, domain.Rule(CodeLessonExists, "the exercise %s has a lesson %s already", x.id, id)
	}
	if len(x.lessons) >= MaxLessons {
		return nil, domain.Rule(CodeTooManyLessons, "an exercise holds at most %d lessons", MaxLessons)
	}
	var v domain.Validator
	s.Title, s.Owner, s.ProcessID = strings.TrimSpace(s.Title), strings.TrimSpace(s.Owner), strings.TrimSpace(s.ProcessID)
	v.Check(id != "" && len(id) <= 64 && validID(id), "lesson_id", "may contain only A-Z, a-z, 0-9 and . _ : - (1 to 64)")
	v.Check(s.Title != "", "title", "is required")
	v.MultilineText("title", s.Title, domain.MaxReason)
	v.Check(s.Owner != "", "owner", "is required")
	v.Text("owner", s.Owner, domain.MaxShortText)
	v.Check(s.ProcessID == "" || slices.Contains(x.processes, s.ProcessID), "process_id", "%q is not a process of this exercise", s.ProcessID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	l := lesson{s.Owner, LessonOpen}
	return []Event{LessonLearnedRecorded{ExerciseID: x.id, LessonID: id, Title: s.Title, Owner: s.Owner, ProcessID: s.ProcessID,
		DueDate: s.DueDate, Status: LessonOpen, Progress: x.progress(id, l), RecordedAt: at}}, nil
}

// UpdateLesson decides the lesson's owner (kept when empty) and status.
func (x *Exercise) UpdateLesson(id, owner string, status LessonStatus, at time.Time) ([]Event, error) {
	if !x.created {
		return nil, domain.Rule(CodeExerciseNotCreated, "the exercise does not exist")
	}
	old, ok := x.lessons[id]
	if !ok {
		return nil, domain.Rule(CodeLessonNotFound, "the exercise %s has no lesson %s", x.id, id)
	}
	owner = strings.TrimSpace(owner)
	if owner == "" {
		owner = old.owner
	}
	if status == "" {
		status = old.status
	}
	var v domain.Validator
	v.Text("owner", owner, domain.MaxShortText)
	v.Check(slices.Contains(LessonStatuses, status), "status", "%q is not one of open, in_progress, done", status)
	if err := v.Err(); err != nil {
		return nil, err
	}
	l := lesson{owner, status}
	if l == old {
		return nil, domain.Rule(CodeNothingChanged, "the lesson %s is so already", id)
	}
	return []Event{LessonLearnedUpdated{ExerciseID: x.id, LessonID: id, Owner: owner, Status: status, Progress: x.progress(id, l), UpdatedAt: at}}, nil
}
