package bia_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	biacmd "github.com/cspm-es/cspm-es/commands/bia"
	"github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/bia"
)

var (
	teamA = commands.Meta{TeamID: "team-a", Actor: "key:a"}
	teamB = commands.Meta{TeamID: "team-b", Actor: "key:b"}
)

func payroll() bia.ProcessSpec {
	return bia.ProcessSpec{Name: "Payroll", Owner: "hr", Criticality: "high", RTO: "4h", RPO: "1h", MTD: "1d",
		Impacts: []bia.ThresholdSpec{{Category: "financial", After: "4h", Level: "high"}}}
}

// The BIA commands end to end on a real store: a BIA is built, submitted
// and approved; an exercise of it is planned, run and learned from;
// another team reaches none of it; bad input appends nothing.
func TestBIACommands(t *testing.T) {
	d := commandstest.New(t)
	h := biacmd.New(d.Kit)
	ctx := t.Context()

	res, err := h.CreateBIA(ctx, teamA, biacmd.CreateBIA{Title: "Finance", Owner: "cfo"})
	require.NoError(t, err)
	commandstest.AssertUUIDv7(t, res.ID)
	id := res.ID
	_, pid, err := h.AddProcess(ctx, teamA, biacmd.AddProcess{BIAID: id, ProcessSpec: payroll()})
	require.NoError(t, err)
	commandstest.AssertUUIDv7(t, pid)
	_, _, err = h.AddProcess(ctx, teamA, biacmd.AddProcess{BIAID: id, ProcessID: "wiki", ProcessSpec: bia.ProcessSpec{Name: "Wiki", Owner: "it", Criticality: "low"}})
	require.NoError(t, err)

	// Bad input: 400 naming the field, nothing appended.
	head := d.Head(t)
	bad := payroll()
	bad.RTO, bad.MTD = "2d", "1d"
	_, err = h.ChangeProcess(ctx, teamA, biacmd.ChangeProcess{BIAID: id, ProcessID: pid, ProcessSpec: bad})
	commandstest.RequireFields(t, err, "mtd")
	assert.Equal(t, head, d.Head(t))

	// Another team: not found, whatever it tries.
	for _, try := range []func() error{
		func() error {
			_, _, err := h.AddProcess(ctx, teamB, biacmd.AddProcess{BIAID: id, ProcessSpec: payroll()})
			return err
		},
		func() error { _, err := h.ApproveBIA(ctx, teamB, biacmd.ApproveBIA{BIAID: id}); return err },
		func() error {
			_, err := h.PlanExercise(ctx, teamB, biacmd.PlanExercise{BIAID: id, Title: "t", Scenario: "s", Owner: "o", PlannedFor: commandstest.T0, ProcessIDs: []string{pid}})
			return err
		},
	} {
		assert.True(t, errors.Is(try(), domain.ErrNotFound))
	}
	assert.Equal(t, head, d.Head(t))

	// The wiki has no objectives: the BIA cannot go to review.
	_, err = h.SubmitBIA(ctx, teamA, biacmd.SubmitBIA{BIAID: id})
	commandstest.RequireRule(t, err, bia.CodeBIAIncomplete)
	wiki := payroll()
	wiki.Name = "Wiki"
	_, err = h.ChangeProcess(ctx, teamA, biacmd.ChangeProcess{BIAID: id, ProcessID: "wiki", ProcessSpec: wiki})
	require.NoError(t, err)
	_, err = h.SubmitBIA(ctx, teamA, biacmd.SubmitBIA{BIAID: id})
	require.NoError(t, err)
	_, err = h.ApproveBIA(ctx, commands.Meta{TeamID: "team-a", Actor: "key:ciso"}, biacmd.ApproveBIA{BIAID: id, Comment: "ok"})
	require.NoError(t, err)
	evs := d.Decoded(t, biacmd.AnalysisStreamID(id))
	assert.Equal(t, bia.BIAApproved{BIAID: id, Revision: 4, ApprovedBy: "key:ciso", Comment: "ok", ApprovedAt: commandstest.T0}, evs[len(evs)-1])

	// An exercise: planned, run against the RTOs, lessons learned.
	res, err = h.PlanExercise(ctx, teamA, biacmd.PlanExercise{BIAID: id, Title: "DR", Scenario: "region down", Owner: "it",
		PlannedFor: commandstest.T0.Add(24 * time.Hour), ProcessIDs: []string{pid, "wiki"}})
	require.NoError(t, err)
	ex := res.ID
	_, err = h.PlanExercise(ctx, teamA, biacmd.PlanExercise{BIAID: id, Title: "DR", Scenario: "s", Owner: "it", PlannedFor: commandstest.T0, ProcessIDs: []string{"nope"}})
	commandstest.RequireFields(t, err, "process_ids[0]")
	d.Clock.Advance(48 * time.Hour)
	_, err = h.RecordExerciseRun(ctx, teamA, biacmd.RecordExerciseRun{ExerciseID: ex, StartedAt: commandstest.T0.Add(24 * time.Hour),
		EndedAt: commandstest.T0.Add(30 * time.Hour), Results: []biacmd.RunResult{{ProcessID: pid, Recovery: "3h"}, {ProcessID: "wiki", Recovery: "5h"}}})
	require.NoError(t, err)
	run := d.Decoded(t, biacmd.ExerciseStreamID(ex))[1].(bia.ExerciseRun)
	assert.Equal(t, bia.OutcomeFailed, run.Outcome)
	assert.Equal(t, 1, run.Met)
	assert.Equal(t, 1, run.Missed)
	_, lid, err := h.RecordLesson(ctx, teamA, biacmd.RecordLesson{ExerciseID: ex, Title: "speed up the wiki restore", Owner: "it", ProcessID: "wiki"})
	require.NoError(t, err)
	_, err = h.UpdateLesson(ctx, teamA, biacmd.UpdateLesson{ExerciseID: ex, LessonID: lid, Status: "done"})
	require.NoError(t, err)
	_, err = h.UpdateLesson(ctx, teamB, biacmd.UpdateLesson{ExerciseID: ex, LessonID: lid, Status: "open"})
	assert.True(t, errors.Is(err, domain.ErrNotFound))
}
