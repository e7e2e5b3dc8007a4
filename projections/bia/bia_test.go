package bia_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/projections"
	biaproj "github.com/cspm-es/cspm-es/projections/bia"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

func at(h int) time.Time { return pt.T0.Add(time.Duration(h) * time.Hour) }

// world decides, with the domain, two BIAs of team-a (one approved then
// reopened and changed), one of team-b, and exercises of them; it returns
// each stream's events (positions from 1, interleaved by stream).
func world(t *testing.T) (analyses, exercises [][]projections.Event) {
	t.Helper()
	must := func(evs []bia.Event, err error) []bia.Event {
		t.Helper()
		require.NoError(t, err)
		return evs
	}
	spec := func(name, rto string) bia.ProcessSpec {
		return bia.ProcessSpec{Name: name, Owner: "o", Criticality: "high", RTO: rto, RPO: "1h", MTD: "1d",
			Impacts: []bia.ThresholdSpec{{Category: "financial", After: "4h", Level: "high"}}}
	}
	build := func(id string, steps ...func(a *bia.Analysis, h int) ([]bia.Event, error)) []bia.Event {
		h := must(bia.CreateAnalysis(id, bia.Details{Title: id, Owner: "cfo"}, at(0)))
		for i, step := range steps {
			h = append(h, must(step(bia.RehydrateAnalysis(h...), i+1))...)
		}
		return h
	}
	add := func(pid, rto string) func(*bia.Analysis, int) ([]bia.Event, error) {
		return func(a *bia.Analysis, h int) ([]bia.Event, error) { return a.AddProcess(pid, spec(pid, rto), at(h)) }
	}
	b1 := build("b1", add("payroll", "4h"), add("wiki", "8h"),
		func(a *bia.Analysis, h int) ([]bia.Event, error) { return a.Submit(at(h)) },
		func(a *bia.Analysis, h int) ([]bia.Event, error) { return a.Approve("key:ciso", "", at(h)) },
		func(a *bia.Analysis, h int) ([]bia.Event, error) { return a.Reopen("supplier change", at(h)) },
		func(a *bia.Analysis, h int) ([]bia.Event, error) {
			return a.ChangeProcess("payroll", spec("payroll", "2h"), at(h))
		},
		func(a *bia.Analysis, h int) ([]bia.Event, error) { return a.RemoveProcess("wiki", "", at(h)) })
	b2 := build("b2", add("billing", "1h"))
	b3 := build("b1", add("other-team", "1h")) // team-b's BIA of the same id

	snap := bia.RehydrateAnalysis(b1[:3]...).Snapshot()
	x1 := must(bia.PlanExercise("x1", snap, bia.ExerciseSpec{Title: "DR", Scenario: "s", Owner: "it", PlannedFor: at(30), ProcessIDs: []string{"payroll", "wiki"}}, at(3)))
	x1 = append(x1, must(bia.RehydrateExercise(x1...).RecordRun(snap, at(30), at(32), []bia.RunResult{{ProcessID: "payroll", Recovery: "5h"}, {ProcessID: "wiki", Recovery: "1h", DataLoss: "2h"}}, "", at(33)))...)
	x1 = append(x1, must(bia.RehydrateExercise(x1...).RecordLesson("l2", bia.LessonSpec{Title: "b", Owner: "it"}, at(34)))...)
	x1 = append(x1, must(bia.RehydrateExercise(x1...).RecordLesson("l1", bia.LessonSpec{Title: "a", Owner: "it"}, at(34)))...)
	x1 = append(x1, must(bia.RehydrateExercise(x1...).UpdateLesson("l2", "ops", bia.LessonDone, at(35)))...)
	x2 := must(bia.PlanExercise("x2", snap, bia.ExerciseSpec{Title: "DR 2", Scenario: "s", Owner: "it", PlannedFor: at(40), ProcessIDs: []string{"wiki"}}, at(3)))
	x2 = append(x2, must(bia.RehydrateExercise(x2...).Cancel("budget", at(4)))...)

	pos := int64(1)
	stream := func(team string, evs []bia.Event) []projections.Event {
		ps := make([]int64, len(evs))
		data := make([]pt.EventData, len(evs))
		for i := range evs {
			ps[i], data[i] = pos, evs[i]
			pos++
		}
		return pt.Stream(team, ps, data...)
	}
	analyses = [][]projections.Event{stream("team-a", b1), stream("team-a", b2), stream("team-b", b3)}
	exercises = [][]projections.Event{stream("team-a", x1), stream("team-a", x2)}
	return analyses, exercises
}

// redelivered applies events with each one delivered again after the
// next (as a consumer redelivers after a lost ack).
func redelivered(evs []projections.Event) []projections.Event {
	var out []projections.Event
	for i, ev := range evs {
		out = append(out, ev)
		if i > 0 {
			out = append(out, evs[i-1])
		}
	}
	return out
}

func TestAnalyses_OrderIndependentAndRebuild(t *testing.T) {
	t.Parallel()
	analyses, _ := world(t)
	p := biaproj.NewAnalyses()
	pt.AssertOrderIndependent(t, p, analyses)
	live := pt.Apply(t, p, redelivered(slices.Concat(analyses...))...)
	rebuilt := pt.Apply(t, p, slices.Concat(analyses...)...)
	require.Equal(t, rebuilt.Colls, live.Colls, "a rebuild gives the live documents")

	d := live.Doc(t, biaproj.AnalysesCollection, "team-a/b1")
	assert.Equal(t, "draft", d["status"])
	assert.Equal(t, int64(1), d["processes"])
	assert.Equal(t, "key:ciso", d["approved_by"])
	assert.Equal(t, int64(3), d["approved_revision"])
	assert.Equal(t, int64(5), d["revision"])
	assert.Len(t, live.Colls[biaproj.VersionsCollection], 8+2+2, "one version per event")
	other := live.Doc(t, biaproj.AnalysesCollection, "team-b/b1")
	s, err := biaproj.StateOf(other)
	require.NoError(t, err)
	assert.Equal(t, "other-team", s.Processes[0].ProcessID, "the same BIA id in another team is another BIA")

	// The version before the reopening holds the approved state.
	v5 := live.Doc(t, biaproj.VersionsCollection, biaproj.VersionDocID("team-a", "b1", 5) /* b1 is the first stream: positions 1.. */)
	assert.Equal(t, "approved", v5["status"])
	assert.Equal(t, at(4), v5["at"])
	s5, err := biaproj.StateOf(v5)
	require.NoError(t, err)
	now, err := biaproj.StateOf(d)
	require.NoError(t, err)
	ch := bia.Compare(s5, now)
	assert.Equal(t, []bia.ProcessRef{{ProcessID: "wiki", Name: "wiki"}}, ch.Removed)
	require.Len(t, ch.Changed, 1)
	assert.Equal(t, []bia.FieldChange{{Field: "rto", From: "4h", To: "2h"}}, ch.Changed[0].Fields)
}

func TestExercises_OrderIndependentAndRebuild(t *testing.T) {
	t.Parallel()
	_, exercises := world(t)
	p := biaproj.NewExercises()
	pt.AssertOrderIndependent(t, p, exercises)
	live := pt.Apply(t, p, redelivered(slices.Concat(exercises...))...)
	require.Equal(t, pt.Apply(t, p, slices.Concat(exercises...)...).Colls, live.Colls, "a rebuild gives the live documents")

	x1 := live.Doc(t, biaproj.ExercisesCollection, "team-a/x1")
	assert.Equal(t, "completed", x1["status"])
	run := x1["run"].(map[string]any)
	assert.Equal(t, "failed", run["outcome"])
	assert.Equal(t, int64(2), run["missed"], "payroll: 5h > 4h; the wiki's RPO too (2h lost > 1h)")
	assert.Equal(t, int64(1), run["met"], "the wiki's RTO (1h ≤ 8h)")
	results := x1["results"].([]any)
	assert.Equal(t, false, results[0].(map[string]any)["rto_met"])
	assert.Equal(t, true, results[1].(map[string]any)["rto_met"])
	assert.Equal(t, false, results[1].(map[string]any)["rpo_met"])
	assert.Equal(t, int64(2), x1["lessons_total"])
	assert.Equal(t, int64(1), x1["lessons_done"])
	lessons := x1["lessons"].([]any)
	assert.Equal(t, "l1", lessons[0].(map[string]any)["lesson_id"], "sorted by id")
	assert.Equal(t, "ops", lessons[1].(map[string]any)["owner"])
	x2 := live.Doc(t, biaproj.ExercisesCollection, "team-a/x2")
	assert.Equal(t, "cancelled", x2["status"])
	assert.Equal(t, "budget", x2["cancel_reason"])
}
