package api_test

import (
	"context"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	biacmd "github.com/cspm-es/cspm-es/commands/bia"
	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/queries"
	biaquery "github.com/cspm-es/cspm-es/queries/bia"
)

// fakeBIA serves the BIA routes: every command accepted, one BIA, one
// exercise.
type fakeBIA struct{}

func biaResult(stream string) commands.Result {
	return commands.Result{ID: "0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e50", StreamID: stream, Version: 2, Position: 42,
		EventIDs: []string{"0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e51"}}
}

func (fakeBIA) CreateBIA(context.Context, commands.Meta, biacmd.CreateBIA) (commands.Result, error) {
	return biaResult("bia-x"), nil
}
func (fakeBIA) UpdateBIA(context.Context, commands.Meta, biacmd.UpdateBIA) (commands.Result, error) {
	return biaResult("bia-x"), nil
}
func (fakeBIA) AddProcess(context.Context, commands.Meta, biacmd.AddProcess) (commands.Result, string, error) {
	return biaResult("bia-x"), "payroll", nil
}
func (fakeBIA) ChangeProcess(context.Context, commands.Meta, biacmd.ChangeProcess) (commands.Result, error) {
	return biaResult("bia-x"), nil
}
func (fakeBIA) RemoveProcess(context.Context, commands.Meta, biacmd.RemoveProcess) (commands.Result, error) {
	return biaResult("bia-x"), nil
}
func (fakeBIA) SubmitBIA(context.Context, commands.Meta, biacmd.SubmitBIA) (commands.Result, error) {
	return biaResult("bia-x"), nil
}
func (fakeBIA) ApproveBIA(context.Context, commands.Meta, biacmd.ApproveBIA) (commands.Result, error) {
	return biaResult("bia-x"), nil
}
func (fakeBIA) ReopenBIA(context.Context, commands.Meta, biacmd.ReopenBIA) (commands.Result, error) {
	return biaResult("bia-x"), nil
}
func (fakeBIA) PlanExercise(context.Context, commands.Meta, biacmd.PlanExercise) (commands.Result, error) {
	return biaResult("biaexercise-x"), nil
}
func (fakeBIA) RecordExerciseRun(context.Context, commands.Meta, biacmd.RecordExerciseRun) (commands.Result, error) {
	return biaResult("biaexercise-x"), nil
}
func (fakeBIA) CancelExercise(context.Context, commands.Meta, biacmd.CancelExercise) (commands.Result, error) {
	return biaResult("biaexercise-x"), nil
}
func (fakeBIA) RecordLesson(context.Context, commands.Meta, biacmd.RecordLesson) (commands.Result, string, error) {
	return biaResult("biaexercise-x"), "l1", nil
}
func (fakeBIA) UpdateLesson(context.Context, commands.Meta, biacmd.UpdateLesson) (commands.Result, error) {
	return biaResult("biaexercise-x"), nil
}

var biaAt = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func (fakeBIA) ListBIAs(context.Context, string, string, queries.Page) (biaquery.List, error) {
	return biaquery.List{Items: []biaquery.Summary{{ID: "b1", Title: "Finance", Owner: "cfo", Status: "draft", Revision: 1,
		CreatedAt: biaAt, UpdatedAt: biaAt}}}, nil
}

func (fakeBIA) GetBIA(context.Context, string, string) (biaquery.Analysis, error) {
	rto := &biaquery.Duration{Minutes: 240, Text: "4h"}
	return biaquery.Analysis{Summary: biaquery.Summary{ID: "b1", Title: "Finance", Owner: "cfo", Status: "approved", Revision: 2,
		Progress: bia.Progress{Processes: 1, Complete: 1, Percent: 100}, ApprovedBy: "key:k1", ApprovedAt: biaAt, CreatedAt: biaAt, UpdatedAt: biaAt},
		Approval: &biaquery.Approval{By: "key:k1", Revision: 2, At: biaAt},
		Processes: []biaquery.Process{{ID: "payroll", Name: "Payroll", Owner: "hr", Criticality: "high", RTO: rto, RPO: rto, MTD: rto, Complete: true,
			Impacts: []biaquery.Threshold{{Category: "financial", After: *rto, Level: "high"}},
			Assets:  []string{"a1"}, Suppliers: []bia.Supplier{{Name: "PayCo"}}}}}, nil
}

func (fakeBIA) GetChanges(context.Context, string, string, time.Time, time.Time) (biaquery.Changes, error) {
	return biaquery.Changes{BIAID: "b1", To: biaAt, ToVer: &biaquery.Version{Version: 2, At: biaAt, Event: "BusinessProcessAdded", Revision: 2, Status: "draft"},
		Versions: 2, Changes: bia.Compare(bia.Snapshot{}, bia.Snapshot{BIAID: "b1", Details: bia.Details{Title: "Finance", Owner: "cfo"}, Status: bia.StatusDraft})}, nil
}

func (fakeBIA) ListExercises(context.Context, string, biaquery.ExerciseFilter, queries.Page) (biaquery.ExerciseList, error) {
	return biaquery.ExerciseList{Items: []biaquery.Exercise{fakeExercise()}}, nil
}

func (fakeBIA) GetExercise(context.Context, string, string) (biaquery.Exercise, error) {
	return fakeExercise(), nil
}

func fakeExercise() biaquery.Exercise {
	met := false
	return biaquery.Exercise{ID: "x1", BIAID: "b1", Title: "DR", Scenario: "region down", Owner: "it", PlannedFor: biaAt, ProcessIDs: []string{"payroll"},
		Status: "completed", Run: &biaquery.Run{StartedAt: biaAt, EndedAt: biaAt, Outcome: "failed", Missed: 1, RecordedAt: biaAt},
		Results: []biaquery.Result{{ProcessID: "payroll", Recovery: biaquery.Duration{Minutes: 300, Text: "5h"}, RTOMet: &met}},
		Lessons: []biaquery.Lesson{}, CreatedAt: biaAt, UpdatedAt: biaAt}
}

// biaService is api.BIAService as the process wires it.
type biaService struct {
	*biacmd.Handlers
	*biaquery.Service
}
