package bia

import (
	"context"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain/bia"
)

// PlanExercise plans an exercise of some processes of a BIA of the
// caller's team.
type PlanExercise struct {
	BIAID      string    `json:"-"`
	Title      string    `json:"title"`
	Scenario   string    `json:"scenario"`
	Owner      string    `json:"owner"`
	PlannedFor time.Time `json:"planned_for"`
	ProcessIDs []string  `json:"process_ids"`
}

// RunResult is one process's recovery in a run.
type RunResult struct {
	ProcessID string `json:"process_id"`
	Recovery  string `json:"recovery"`            // a duration: "3h30m"
	DataLoss  string `json:"data_loss,omitempty"` // a duration
	Notes     string `json:"notes,omitempty"`
}

// RecordExerciseRun records how a planned exercise ran.
type RecordExerciseRun struct {
	ExerciseID string      `json:"-"`
	StartedAt  time.Time   `json:"started_at"`
	EndedAt    time.Time   `json:"ended_at"`
	Results    []RunResult `json:"results"`
	Notes      string      `json:"notes,omitempty"`
}

// CancelExercise cancels a planned exercise.
type CancelExercise struct {
	ExerciseID string `json:"-"`
	Reason     string `json:"reason"`
}

// RecordLesson records a lesson learned from a run exercise; LessonID is
// generated (UUIDv7) when empty.
type RecordLesson struct {
	ExerciseID string     `json:"-"`
	LessonID   string     `json:"lesson_id,omitempty"`
	Title      string     `json:"title"`
	Owner      string     `json:"owner"`
	ProcessID  string     `json:"process_id,omitempty"`
	DueDate    *time.Time `json:"due_date,omitempty"`
}

// UpdateLesson changes a lesson's owner (kept when empty) and status.
type UpdateLesson struct {
	ExerciseID string `json:"-"`
	LessonID   string `json:"-"`
	Owner      string `json:"owner,omitempty"`
	Status     string `json:"status,omitempty"`
}

// PlanExercise plans an exercise under a new id (Result.ID) of the
// team's BIA, as the BIA is now (its processes).
func (h *Handlers) PlanExercise(ctx context.Context, meta commands.Meta, cmd PlanExercise) (commands.Result, error) {
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	c := exerciseCall("PlanExercise", "", cmd)
	c.TargetID = cmd.BIAID // the idempotency fingerprint names the BIA
	c.StreamID = ExerciseStreamID(id)
	return commands.Create(ctx, h.kit, meta, c, "", func() ([]bia.Event, error) {
		snap, err := h.loadAnalysis(ctx, meta, "PlanExercise", cmd.BIAID)
		if err != nil {
			return nil, err
		}
		return bia.PlanExercise(id, snap, bia.ExerciseSpec{Title: cmd.Title, Scenario: cmd.Scenario, Owner: cmd.Owner,
			PlannedFor: timeOr0(&cmd.PlannedFor), ProcessIDs: cmd.ProcessIDs}, h.kit.Now())
	})
}

// RecordExerciseRun records the run of the team's planned exercise,
// compared with the targets its BIA holds now.
func (h *Handlers) RecordExerciseRun(ctx context.Context, meta commands.Meta, cmd RecordExerciseRun) (commands.Result, error) {
	return h.decideExercise(ctx, meta, exerciseCall("RecordExerciseRun", cmd.ExerciseID, cmd), func(x *bia.Exercise) ([]bia.Event, error) {
		snap, err := h.loadAnalysis(ctx, meta, "RecordExerciseRun", x.BIAID())
		if err != nil {
			return nil, err
		}
		results := make([]bia.RunResult, len(cmd.Results))
		for i, r := range cmd.Results {
			results[i] = bia.RunResult{ProcessID: r.ProcessID, Recovery: r.Recovery, DataLoss: r.DataLoss, Notes: r.Notes}
		}
		return x.RecordRun(snap, timeOr0(&cmd.StartedAt), timeOr0(&cmd.EndedAt), results, cmd.Notes, h.kit.Now())
	})
}

// CancelExercise cancels the team's planned exercise.
func (h *Handlers) CancelExercise(ctx context.Context, meta commands.Meta, cmd CancelExercise) (commands.Result, error) {
	return h.decideExercise(ctx, meta, exerciseCall("CancelExercise", cmd.ExerciseID, cmd), func(x *bia.Exercise) ([]bia.Event, error) {
		return x.Cancel(cmd.Reason, h.kit.Now())
	})
}

// RecordLesson records a lesson of the team's run exercise; it returns
// the lesson id.
func (h *Handlers) RecordLesson(ctx context.Context, meta commands.Meta, cmd RecordLesson) (commands.Result, string, error) {
	lid := cmd.LessonID
	if lid == "" {
		id, err := commands.NewID()
		if err != nil {
			return commands.Result{}, "", err
		}
		lid = id
	}
	res, err := h.decideExercise(ctx, meta, exerciseCall("RecordLesson", cmd.ExerciseID, cmd), func(x *bia.Exercise) ([]bia.Event, error) {
		return x.RecordLesson(lid, bia.LessonSpec{Title: cmd.Title, Owner: cmd.Owner, ProcessID: cmd.ProcessID, DueDate: timeOr0(cmd.DueDate)}, h.kit.Now())
	})
	return res, lid, err
}

// UpdateLesson changes a lesson of the team's exercise.
func (h *Handlers) UpdateLesson(ctx context.Context, meta commands.Meta, cmd UpdateLesson) (commands.Result, error) {
	c := exerciseCall("UpdateLesson", cmd.ExerciseID, cmd)
	c.TargetID = cmd.ExerciseID + "/" + cmd.LessonID
	if err := commands.RequireID("exercise_id", cmd.ExerciseID); err != nil {
		return commands.Result{}, err
	}
	return commands.Update(ctx, h.kit, meta, c, func(history []bia.Event) ([]bia.Event, error) {
		return bia.RehydrateExercise(history...).UpdateLesson(cmd.LessonID, cmd.Owner, bia.LessonStatus(cmd.Status), h.kit.Now())
	})
}

func (h *Handlers) decideExercise(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*bia.Exercise) ([]bia.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("exercise_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	return commands.Update(ctx, h.kit, meta, c, func(history []bia.Event) ([]bia.Event, error) {
		return decide(bia.RehydrateExercise(history...))
	})
}
