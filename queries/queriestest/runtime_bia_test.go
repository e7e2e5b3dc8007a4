package queriestest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/bia"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// biaWorld is a BIA built, approved, reopened and changed, and an
// exercise of it run with a lesson done: every BIA collection gets
// documents. It returns each stream's events, keyed by stream id.
func biaWorld(t testing.TB) (streams []string, events map[string][]pt.EventData) {
	t.Helper()
	var h []bia.Event
	step := func(evs []bia.Event, err error) {
		t.Helper()
		require.NoError(t, err)
		h = append(h, evs...)
	}
	at := func(hours int) time.Time { return pt.T0.Add(time.Duration(hours) * time.Hour) }
	a := func() *bia.Analysis { return bia.RehydrateAnalysis(h...) }
	spec := bia.ProcessSpec{Name: "Payroll", Owner: "hr", Criticality: "high", RTO: "4h", RPO: "1h", MTD: "1d",
		Impacts: []bia.ThresholdSpec{{Category: "financial", After: "1d", Level: "critical", Amount: new(float64), Unit: "EUR"}},
		Assets:  []string{"asset-1"}, Suppliers: []bia.Supplier{{Name: "PayCo"}}}
	step(bia.CreateAnalysis("b1", bia.Details{Title: "Finance", Owner: "cfo", DueDate: at(100)}, at(0)))
	step(a().AddProcess("payroll", spec, at(1)))
	step(a().Submit(at(2)))
	step(a().Approve("key:ciso", "ok", at(3)))
	snap := a().Snapshot()
	step(a().Reopen("change", at(4)))
	spec.RTO = "2h"
	step(a().ChangeProcess("payroll", spec, at(5)))

	var x []bia.Event
	xstep := func(evs []bia.Event, err error) {
		t.Helper()
		require.NoError(t, err)
		x = append(x, evs...)
	}
	xstep(bia.PlanExercise("x1", snap, bia.ExerciseSpec{Title: "DR", Scenario: "s", Owner: "it", PlannedFor: at(6), ProcessIDs: []string{"payroll"}}, at(3)))
	xstep(bia.RehydrateExercise(x...).RecordRun(snap, at(6), at(11), []bia.RunResult{{ProcessID: "payroll", Recovery: "5h", DataLoss: "30m"}}, "", at(12)))
	xstep(bia.RehydrateExercise(x...).RecordLesson("l1", bia.LessonSpec{Title: "t", Owner: "dba", DueDate: at(200)}, at(12)))
	xstep(bia.RehydrateExercise(x...).UpdateLesson("l1", "", bia.LessonDone, at(13)))

	events = map[string][]pt.EventData{}
	for _, e := range h {
		events["bia-b1"] = append(events["bia-b1"], e)
	}
	for _, e := range x {
		events["biaexercise-x1"] = append(events["biaexercise-x1"], e)
	}
	return []string{"bia-b1", "biaexercise-x1"}, events
}
