package bia

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the exercises projection and its collection.
const (
	ExercisesName       = "bia.exercises"
	ExercisesCollection = "bia_exercises"
)

// Exercises keeps one document per exercise of a team (_id
// "<team>/<exercise id>"): its BIA, title, scenario, owner, date and
// processes, status (planned, completed, cancelled), the run with each
// process's result (RTO and RPO met or missed), and the lessons learned
// with their owners and statuses. Each exercise is one stream, applied
// in order; a redelivered event changes nothing.
type Exercises struct{}

var _ projections.Projection = Exercises{}

// NewExercises returns the "bia.exercises" projection.
func NewExercises() Exercises { return Exercises{} }

// Name implements projections.Projection.
func (Exercises) Name() string { return ExercisesName }

// Database implements projections.Projection.
func (Exercises) Database() dbregistry.Constant { return dbregistry.BIA }

// EventTypes implements projections.Projection.
func (Exercises) EventTypes() []string { return append([]string(nil), bia.ExerciseEventTypes...) }

// Collections implements projections.Projection.
func (Exercises) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{{Name: ExercisesCollection, Indexes: []readmodel.Index{
		// GET /api/v1/bia-exercises (?status=, ?bia_id=), soonest planned first.
		{Name: "by_team_planned", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "planned_for"}}},
		{Name: "by_team_status_planned", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "status"}, {Path: "planned_for"}}},
		{Name: "by_team_bia_planned", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "bia_id"}, {Path: "planned_for"}}},
	}}}
}

// ExerciseDocID is the _id of a team's exercise.
func ExerciseDocID(team, id string) string { return team + "/" + id }

func minutesOrNil(m *bia.Minutes) any {
	if m == nil {
		return nil
	}
	return *m
}

func boolOrNil(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

func exerciseID(e any) string {
	switch e := e.(type) {
	case bia.ExercisePlanned:
		return e.ExerciseID
	case bia.ExerciseRun:
		return e.ExerciseID
	case bia.ExerciseCancelled:
		return e.ExerciseID
	case bia.LessonLearnedRecorded:
		return e.ExerciseID
	case bia.LessonLearnedUpdated:
		return e.ExerciseID
	}
	return ""
}

// Apply implements projections.Projection.
func (Exercises) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	data := fold.Value(ev.Data)
	team, id := ev.Metadata.TeamID, exerciseID(data)
	if team == "" || id == "" {
		return nil
	}
	d, found, err := fold.Get(ctx, tx, ExercisesCollection, ExerciseDocID(team, id))
	if err != nil {
		return fmt.Errorf("%s: %w", ExercisesName, err)
	}
	if found && fold.Num(d, "updated_position") >= ev.Position {
		return nil
	}
	if !found {
		d = readmodel.Doc{"_id": ExerciseDocID(team, id), "team_id": team, "exercise_id": id, "status": string(bia.ExercisePlannedStatus),
			"run": nil, "results": []any{}, "lessons": []any{}, "lessons_total": int64(0), "lessons_done": int64(0),
			"cancelled_at": nil, "cancel_reason": ""}
	}
	d["updated_position"] = ev.Position
	switch e := data.(type) {
	case bia.ExercisePlanned:
		procs := make([]any, len(e.ProcessIDs))
		for i, p := range e.ProcessIDs {
			procs[i] = p
		}
		d["bia_id"], d["title"], d["scenario"], d["owner"] = e.BIAID, e.Title, e.Scenario, e.Owner
		d["planned_for"], d["process_ids"], d["created_at"], d["updated_at"] = e.PlannedFor, procs, e.PlannedAt, e.PlannedAt
		d["created_by"] = ev.Metadata.Actor
	case bia.ExerciseRun:
		results := make([]any, len(e.Results))
		for i, r := range e.Results {
			results[i] = map[string]any{"process_id": r.ProcessID, "name": r.Name, "rto_minutes": minutesOrNil(r.RTO),
				"recovery_minutes": r.Recovery, "rto_met": boolOrNil(r.RTOMet), "rpo_minutes": minutesOrNil(r.RPO),
				"data_loss_minutes": minutesOrNil(r.DataLoss), "rpo_met": boolOrNil(r.RPOMet), "notes": r.Notes}
		}
		d["status"], d["results"], d["updated_at"] = string(bia.ExerciseCompletedStatus), results, e.RecordedAt
		d["run"] = map[string]any{"started_at": e.StartedAt, "ended_at": e.EndedAt, "outcome": e.Outcome, "met": int64(e.Met),
			"missed": int64(e.Missed), "notes": e.Notes, "recorded_at": e.RecordedAt}
	case bia.ExerciseCancelled:
		d["status"], d["cancelled_at"], d["cancel_reason"], d["updated_at"] = string(bia.ExerciseCancelledStatus), e.CancelledAt, e.Reason, e.CancelledAt
	case bia.LessonLearnedRecorded:
		lessons := fold.Objs(d, "lessons")
		lessons = append(lessons, map[string]any{"lesson_id": e.LessonID, "title": e.Title, "owner": e.Owner, "process_id": e.ProcessID,
			"due_date": fold.TimeOrNil(e.DueDate), "status": string(e.Status), "recorded_at": e.RecordedAt, "updated_at": e.RecordedAt})
		setLessons(d, lessons, e.RecordedAt)
	case bia.LessonLearnedUpdated:
		lessons := fold.Objs(d, "lessons")
		for _, l := range lessons {
			if fold.Str(l, "lesson_id") == e.LessonID {
				l["owner"], l["status"], l["updated_at"] = e.Owner, string(e.Status), e.UpdatedAt
			}
		}
		setLessons(d, lessons, e.UpdatedAt)
	}
	tx.Put(ExercisesCollection, d)
	return nil
}

func setLessons(d readmodel.Doc, lessons []map[string]any, at any) {
	slices.SortFunc(lessons, func(a, b map[string]any) int {
		return strings.Compare(fold.Str(a, "lesson_id"), fold.Str(b, "lesson_id"))
	})
	out := make([]any, len(lessons))
	done := int64(0)
	for i, l := range lessons {
		out[i] = l
		if fold.Str(l, "status") == string(bia.LessonDone) {
			done++
		}
	}
	d["lessons"], d["lessons_total"], d["lessons_done"], d["updated_at"] = out, int64(len(lessons)), done, at
}
