package bia

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Result is how one process recovered in an exercise's run.
type Result struct {
	ProcessID string    `json:"process_id"`
	Name      string    `json:"name,omitempty"`
	RTO       *Duration `json:"rto,omitempty"` // the target then
	Recovery  Duration  `json:"recovery"`
	RTOMet    *bool     `json:"rto_met,omitempty"` // absent: no target
	RPO       *Duration `json:"rpo,omitempty"`
	DataLoss  *Duration `json:"data_loss,omitempty"`
	RPOMet    *bool     `json:"rpo_met,omitempty"`
	Notes     string    `json:"notes,omitempty"`
}

// Run is an exercise's run.
type Run struct {
	StartedAt  time.Time `json:"started_at"`
	EndedAt    time.Time `json:"ended_at"`
	Outcome    string    `json:"outcome"` // passed, failed, no_targets
	Met        int64     `json:"met"`
	Missed     int64     `json:"missed"`
	Notes      string    `json:"notes,omitempty"`
	RecordedAt time.Time `json:"recorded_at"`
}

// Lesson is a lesson learned from an exercise.
type Lesson struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Owner      string    `json:"owner"`
	ProcessID  string    `json:"process_id,omitempty"`
	DueDate    time.Time `json:"due_date,omitzero"`
	Status     string    `json:"status"` // open, in_progress, done
	RecordedAt time.Time `json:"recorded_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Exercise is an exercise of a BIA.
type Exercise struct {
	ID           string    `json:"id"`
	BIAID        string    `json:"bia_id"`
	Title        string    `json:"title"`
	Scenario     string    `json:"scenario"`
	Owner        string    `json:"owner"`
	PlannedFor   time.Time `json:"planned_for"`
	ProcessIDs   []string  `json:"process_ids"`
	Status       string    `json:"status"` // planned, completed, cancelled
	Run          *Run      `json:"run,omitempty"`
	Results      []Result  `json:"results"`
	Lessons      []Lesson  `json:"lessons"`
	LessonsTotal int64     `json:"lessons_total"`
	LessonsDone  int64     `json:"lessons_done"`
	CancelledAt  time.Time `json:"cancelled_at,omitzero"`
	CancelReason string    `json:"cancel_reason,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// ExerciseList is one page of exercises, by planned date.
type ExerciseList struct {
	Items      []Exercise `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// ExerciseFilter narrows ListExercises.
type ExerciseFilter struct {
	BIAID  string
	Status string // planned, completed, cancelled
}

func minutesAt(d map[string]any, key string) *Duration {
	if _, ok := d[key].(int64); !ok {
		return nil
	}
	m := queries.Num(d, key)
	return durationOf(&m)
}

func flagAt(d map[string]any, key string) *bool {
	b, ok := d[key].(bool)
	if !ok {
		return nil
	}
	return &b
}

func exerciseOf(d readmodel.Doc) Exercise {
	x := Exercise{ID: queries.Str(d, "exercise_id"), BIAID: queries.Str(d, "bia_id"), Title: queries.Str(d, "title"),
		Scenario: queries.Str(d, "scenario"), Owner: queries.Str(d, "owner"), PlannedFor: queries.When(d, "planned_for"),
		ProcessIDs: []string{}, Status: queries.Str(d, "status"), Results: []Result{}, Lessons: []Lesson{},
		LessonsTotal: queries.Num(d, "lessons_total"), LessonsDone: queries.Num(d, "lessons_done"),
		CancelledAt: queries.When(d, "cancelled_at"), CancelReason: queries.Str(d, "cancel_reason"),
		CreatedAt: queries.When(d, "created_at"), UpdatedAt: queries.When(d, "updated_at")}
	if ps, ok := d["process_ids"].([]any); ok {
		for _, p := range ps {
			if s, ok := p.(string); ok {
				x.ProcessIDs = append(x.ProcessIDs, s)
			}
		}
	}
	if r := queries.Obj(d, "run"); r != nil {
		x.Run = &Run{StartedAt: queries.When(r, "started_at"), EndedAt: queries.When(r, "ended_at"), Outcome: queries.Str(r, "outcome"),
			Met: queries.Num(r, "met"), Missed: queries.Num(r, "missed"), Notes: queries.Str(r, "notes"), RecordedAt: queries.When(r, "recorded_at")}
	}
	for _, r := range queries.Objs(d, "results") {
		rec := queries.Num(r, "recovery_minutes")
		x.Results = append(x.Results, Result{ProcessID: queries.Str(r, "process_id"), Name: queries.Str(r, "name"),
			RTO: minutesAt(r, "rto_minutes"), Recovery: *durationOf(&rec), RTOMet: flagAt(r, "rto_met"),
			RPO: minutesAt(r, "rpo_minutes"), DataLoss: minutesAt(r, "data_loss_minutes"), RPOMet: flagAt(r, "rpo_met"),
			Notes: queries.Str(r, "notes")})
	}
	for _, l := range queries.Objs(d, "lessons") {
		x.Lessons = append(x.Lessons, Lesson{ID: queries.Str(l, "lesson_id"), Title: queries.Str(l, "title"), Owner: queries.Str(l, "owner"),
			ProcessID: queries.Str(l, "process_id"), DueDate: queries.When(l, "due_date"), Status: queries.Str(l, "status"),
			RecordedAt: queries.When(l, "recorded_at"), UpdatedAt: queries.When(l, "updated_at")})
	}
	return x
}

var exerciseStatuses = []string{string(bia.ExercisePlannedStatus), string(bia.ExerciseCompletedStatus), string(bia.ExerciseCancelledStatus)}

// ListExercises returns one page of the team's exercises, soonest
// planned first.
func (s *Service) ListExercises(ctx context.Context, team string, f ExerciseFilter, p queries.Page) (ExerciseList, error) {
	if team == "" {
		return ExerciseList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	status := strings.ToLower(strings.TrimSpace(f.Status))
	v.Check(status == "" || queries.OneOf(exerciseStatuses, status), "status", "%q is not one of planned, completed, cancelled", f.Status)
	queries.CheckText(&v, "bia_id", f.BIAID)
	if err := v.Err(); err != nil {
		return ExerciseList{}, err
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "status", status)
	terms = queries.AppendEq(terms, "bia_id", strings.TrimSpace(f.BIAID))
	page, err := queries.Find(ctx, s.store, exercisesCollection, readmodel.FindOptions{Filter: readmodel.And(terms...),
		Sort: []readmodel.SortField{readmodel.Asc("planned_for")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return ExerciseList{}, fmt.Errorf("list exercises: %w", err)
	}
	out := ExerciseList{Items: make([]Exercise, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = exerciseOf(d)
	}
	return out, nil
}

// GetExercise returns the team's exercise; queries.ErrNotFound for
// another team's.
func (s *Service) GetExercise(ctx context.Context, team, id string) (Exercise, error) {
	if team == "" {
		return Exercise{}, queries.ErrNoTeam
	}
	d, err := s.store.Get(ctx, exercisesCollection, team+"/"+id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return Exercise{}, queries.NotFound("exercise", id)
	case err != nil:
		return Exercise{}, fmt.Errorf("get exercise %q: %w", id, err)
	case queries.Str(d, "team_id") != team:
		return Exercise{}, queries.NotFound("exercise", id)
	}
	return exerciseOf(d), nil
}
