package bia_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/queries"
	qbia "github.com/cspm-es/cspm-es/queries/bia"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

func day(n int) time.Time { return qt.T0.Add(time.Duration(n) * 24 * time.Hour) }

// world: team-a's BIA "b1" built over days 0-3, approved on day 4, reopened
// and changed on day 10; an exercise of it; team-b's BIA "b2".
func world(t *testing.T) *qbia.Service {
	t.Helper()
	h := &qt.History{}
	var b1 []bia.Event
	step := func(team string, evs []bia.Event, err error) {
		t.Helper()
		require.NoError(t, err)
		b1 = append(b1, evs...)
		for _, e := range evs {
			h.Add(team, e)
		}
	}
	a := func() *bia.Analysis { return bia.RehydrateAnalysis(b1...) }
	spec := func(name, rto string, level string) bia.ProcessSpec {
		return bia.ProcessSpec{Name: name, Owner: "o", Criticality: "high", RTO: rto, RPO: "1h", MTD: "1d",
			Impacts: []bia.ThresholdSpec{{Category: "financial", After: "1d", Level: level, Amount: ptr(1000.0), Unit: "EUR"}}}
	}
	evs, err := bia.CreateAnalysis("b1", bia.Details{Title: "Finance", Owner: "cfo", DueDate: day(30)}, day(0))
	step("team-a", evs, err)
	evs, err = a().AddProcess("payroll", spec("Payroll", "4h", "high"), day(1))
	step("team-a", evs, err)
	evs, err = a().AddProcess("wiki", spec("Wiki", "8h", "low"), day(2))
	step("team-a", evs, err)
	evs, err = a().Submit(day(3))
	step("team-a", evs, err)
	evs, err = a().Approve("key:ciso", "ok", day(4))
	step("team-a", evs, err)
	snap := a().Snapshot()
	evs, err = a().Reopen("new supplier", day(10))
	step("team-a", evs, err)
	evs, err = a().ChangeProcess("payroll", spec("Payroll", "2h", "critical"), day(10))
	step("team-a", evs, err)
	evs, err = a().RemoveProcess("wiki", "retired", day(11))
	step("team-a", evs, err)

	x, err := bia.PlanExercise("x1", snap, bia.ExerciseSpec{Title: "DR", Scenario: "region down", Owner: "it", PlannedFor: day(6), ProcessIDs: []string{"payroll"}}, day(5))
	require.NoError(t, err)
	run, err := bia.RehydrateExercise(x...).RecordRun(snap, day(6), day(6).Add(5*time.Hour), []bia.RunResult{{ProcessID: "payroll", Recovery: "5h"}}, "", day(7))
	require.NoError(t, err)
	for _, e := range append(x, run...) {
		h.Add("team-a", e)
	}
	b2, err := bia.CreateAnalysis("b2", bia.Details{Title: "Other team", Owner: "x"}, day(0))
	require.NoError(t, err)
	h.Add("team-b", b2[0])
	e := qt.NewEnv(t, h.Events)
	return qbia.New(e.Stores[dbregistry.BIA], func() time.Time { return day(20) })
}

func ptr[T any](v T) *T { return &v }

func TestBIAQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := world(t)

	list, err := s.ListBIAs(ctx, "team-a", "", queries.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)
	assert.Equal(t, "draft", list.Items[0].Status)
	assert.Equal(t, bia.Progress{Processes: 1, Complete: 1, Percent: 100}, list.Items[0].Progress)
	none, err := s.ListBIAs(ctx, "team-a", "approved", queries.Page{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, none.Items)
	_, err = s.ListBIAs(ctx, "team-a", "done", queries.Page{Limit: 10})
	var verr *domain.ValidationError
	require.ErrorAs(t, err, &verr)
	assert.Equal(t, "status", verr.Fields[0].Field)

	got, err := s.GetBIA(ctx, "team-a", "b1")
	require.NoError(t, err)
	require.Len(t, got.Processes, 1)
	assert.Equal(t, &qbia.Duration{Minutes: 120, Text: "2h"}, got.Processes[0].RTO)
	assert.Equal(t, "1d", got.Processes[0].Impacts[0].After.Text)
	require.NotNil(t, got.Approval)
	assert.Equal(t, "key:ciso", got.Approval.By)
	_, err = s.GetBIA(ctx, "team-b", "b1")
	assert.True(t, errors.Is(err, queries.ErrNotFound), "another team's BIA is not found")

	// Between the approval and now: reopened, payroll changed, wiki removed.
	ch, err := s.GetChanges(ctx, "team-a", "b1", day(5), time.Time{})
	require.NoError(t, err)
	assert.Equal(t, "BIAApproved", ch.FromVer.Event)
	assert.Equal(t, "BusinessProcessRemoved", ch.ToVer.Event)
	assert.Equal(t, 3, ch.Versions)
	assert.Equal(t, []bia.FieldChange{{Field: "status", From: "approved", To: "draft"}}, ch.Fields)
	assert.Equal(t, []bia.ProcessRef{{ProcessID: "wiki", Name: "Wiki"}}, ch.Removed)
	require.Len(t, ch.Changed, 1)
	assert.Equal(t, []bia.ThresholdChange{{Category: bia.Financial, After: "1d", Change: "changed", From: "high 1000 EUR", To: "critical 1000 EUR"}},
		ch.Changed[0].Thresholds)

	// Without from: since the last approval, the same answer.
	since, err := s.GetChanges(ctx, "team-a", "b1", time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, day(4), since.From)
	assert.Equal(t, ch.Changes, since.Changes)

	// Between day 1 and day 2: the wiki added; from before it existed: all.
	ch, err = s.GetChanges(ctx, "team-a", "b1", day(1), day(2))
	require.NoError(t, err)
	assert.Equal(t, []bia.ProcessRef{{ProcessID: "wiki", Name: "Wiki"}}, ch.Added)
	assert.Empty(t, ch.Changed)
	ch, err = s.GetChanges(ctx, "team-a", "b1", qt.T0.Add(-time.Hour), day(4))
	require.NoError(t, err)
	assert.Nil(t, ch.FromVer)
	assert.Len(t, ch.Added, 2)

	_, err = s.GetChanges(ctx, "team-a", "b1", day(5), day(4))
	require.ErrorAs(t, err, &verr)
	assert.Equal(t, "to", verr.Fields[0].Field)
	_, err = s.GetChanges(ctx, "team-b", "b1", day(1), day(2))
	assert.True(t, errors.Is(err, queries.ErrNotFound))

	// The exercise: RTO missed (5h > 4h then).
	xs, err := s.ListExercises(ctx, "team-a", qbia.ExerciseFilter{BIAID: "b1", Status: "completed"}, queries.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, xs.Items, 1)
	x := xs.Items[0]
	assert.Equal(t, "failed", x.Run.Outcome)
	assert.Equal(t, ptr(false), x.Results[0].RTOMet)
	assert.Equal(t, "4h", x.Results[0].RTO.Text)
	other, err := s.ListExercises(ctx, "team-b", qbia.ExerciseFilter{}, queries.Page{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, other.Items)
	_, err = s.GetExercise(ctx, "team-b", "x1")
	assert.True(t, errors.Is(err, queries.ErrNotFound))
}
