package bia_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/bia"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func at(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

func m(v bia.Minutes) *bia.Minutes { return &v }

func f(v float64) *float64 { return &v }

// payroll is a complete process spec.
func payroll() bia.ProcessSpec {
	return bia.ProcessSpec{Name: "Payroll", Owner: "hr-lead", Criticality: "high", RTO: "4h", RPO: "1h", MTD: "1d",
		Impacts: []bia.ThresholdSpec{
			{Category: "financial", After: "1d", Level: "high", Amount: f(50000), Unit: "EUR"},
			{Category: "financial", After: "1h", Level: "low", Amount: f(1000), Unit: "EUR"},
			{Category: "legal", After: "3d", Level: "critical"},
			{Category: "operational", After: "4h", Level: "moderate"},
		},
		Assets: []string{"arn:aws:rds:eu-west-1:1:db/pay", "arn:aws:s3:::pay"}, Suppliers: []bia.Supplier{{Name: "PayCo", Service: "payslips"}}}
}

func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var verr *domain.ValidationError
	require.ErrorAs(t, err, &verr)
	var out []string
	for _, fe := range verr.Fields {
		out = append(out, fe.Field)
	}
	return out
}

func ruleOf(t *testing.T, err error) string {
	t.Helper()
	var rule *domain.RuleError
	require.True(t, errors.As(err, &rule), "want a rule error, got %v", err)
	return rule.Code
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]bia.Minutes{"30m": 30, "4h": 240, "1d": 1440, "3d": 3 * 1440, "1w": 7 * 1440, "1d12h": 36 * 60, " 2H 30M ": 150, "0m": 0} {
		got, err := bia.ParseDuration(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "4", "h", "4s", "1y", "99999999w", "-1h"} {
		_, err := bia.ParseDuration(in)
		assert.Error(t, err, in)
	}
	assert.Equal(t, "1d12h", bia.FormatDuration(36*60))
	assert.Equal(t, "1w1d1h1m", bia.FormatDuration(bia.Week+bia.Day+bia.Hour+1))
}

// TestNewProcess: given a spec, when it is checked, then the process, or a
// 400 naming each bad field.
func TestNewProcess(t *testing.T) {
	p, err := bia.NewProcess("payroll", payroll())
	require.NoError(t, err)
	assert.Equal(t, []bia.Threshold{
		{Category: bia.Financial, After: 60, Level: bia.LevelLow, Amount: f(1000), Unit: "EUR"},
		{Category: bia.Financial, After: bia.Day, Level: bia.LevelHigh, Amount: f(50000), Unit: "EUR"},
		{Category: bia.Operational, After: 4 * bia.Hour, Level: bia.LevelModerate},
		{Category: bia.Legal, After: 3 * bia.Day, Level: bia.LevelCritical},
	}, p.Impacts, "sorted by category, then time")
	assert.Equal(t, m(240), p.RTO)
	assert.True(t, p.Complete())

	cases := []struct {
		name   string
		change func(*bia.ProcessSpec)
		fields []string
	}{
		{"MTD shorter than RTO", func(s *bia.ProcessSpec) { s.RTO, s.MTD = "1d", "4h" }, []string{"mtd"}},
		{"MTD past the first critical impact", func(s *bia.ProcessSpec) { s.MTD = "1w" }, []string{"mtd"}},
		{"zero RTO", func(s *bia.ProcessSpec) { s.RTO = "0m" }, []string{"rto"}},
		{"zero RPO is allowed", func(s *bia.ProcessSpec) { s.RPO = "0m" }, nil},
		{"bad duration", func(s *bia.ProcessSpec) { s.RPO = "soon" }, []string{"rpo"}},
		{"missing name, owner, criticality", func(s *bia.ProcessSpec) { s.Name, s.Owner, s.Criticality = "", " ", "vital" },
			[]string{"name", "owner", "criticality"}},
		{"impact falls over time", func(s *bia.ProcessSpec) { s.Impacts[0].Level = "negligible" }, []string{"impacts[0].level"}},
		{"amount falls over time", func(s *bia.ProcessSpec) { s.Impacts[1].Amount = f(60000) }, []string{"impacts[0].amount"}},
		{"amounts in two units", func(s *bia.ProcessSpec) { s.Impacts[0].Unit = "USD" }, []string{"impacts[0].unit"}},
		{"unknown category and level", func(s *bia.ProcessSpec) { s.Impacts[2].Category, s.Impacts[3].Level = "moral", "dire" },
			[]string{"impacts[2].category", "impacts[3].level"}},
		{"two thresholds at one time point", func(s *bia.ProcessSpec) { s.Impacts[1].After = "24h" }, []string{"impacts[1].after"}},
		{"threshold without time", func(s *bia.ProcessSpec) { s.Impacts[3].After = "" }, []string{"impacts[3].after"}},
		{"negative amount, unit without amount", func(s *bia.ProcessSpec) { s.Impacts[1].Amount = f(-1); s.Impacts[2].Unit = "EUR" },
			[]string{"impacts[1].amount", "impacts[2].unit"}},
		{"asset twice, supplier without name", func(s *bia.ProcessSpec) {
			s.Assets = append(s.Assets, s.Assets[0])
			s.Suppliers = append(s.Suppliers, bia.Supplier{Service: "x"})
		}, []string{"assets[2]", "suppliers[1].name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := payroll()
			s.Impacts = append([]bia.ThresholdSpec(nil), s.Impacts...)
			c.change(&s)
			_, err := bia.NewProcess("payroll", s)
			if c.fields == nil {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, c.fields, fieldsOf(t, err))
		})
	}
}

func created(t *testing.T) []bia.Event {
	t.Helper()
	evs, err := bia.CreateAnalysis("bia-1", bia.Details{Title: "Finance BIA", Owner: "cfo"}, t0)
	require.NoError(t, err)
	return evs
}

func then(t *testing.T, h []bia.Event, evs []bia.Event, err error) []bia.Event {
	t.Helper()
	require.NoError(t, err)
	return append(h, evs...)
}

// TestAnalysis_Lifecycle: given/when/then over the BIA's statuses.
func TestAnalysis_Lifecycle(t *testing.T) {
	h := created(t)
	a := bia.RehydrateAnalysis(h...)
	// An empty draft cannot be submitted.
	_, err := a.Submit(at(1))
	assert.Equal(t, bia.CodeBIAIncomplete, ruleOf(t, err))

	// A process without objectives: still incomplete.
	evs, err := a.AddProcess("payroll", bia.ProcessSpec{Name: "Payroll", Owner: "hr", Criticality: "high"}, at(1))
	h = then(t, h, evs, err)
	assert.Equal(t, bia.Progress{Processes: 1, Complete: 0, Percent: 0}, evs[0].(bia.BusinessProcessAdded).Progress)
	a = bia.RehydrateAnalysis(h...)
	_, err = a.Submit(at(2))
	assert.Equal(t, bia.CodeBIAIncomplete, ruleOf(t, err))
	_, err = a.AddProcess("payroll", payroll(), at(2))
	assert.Equal(t, bia.CodeProcessExists, ruleOf(t, err))
	_, err = a.AddProcess("payroll-2", bia.ProcessSpec{Name: "PAYROLL", Owner: "hr", Criticality: "low"}, at(2))
	assert.Equal(t, []string{"name"}, fieldsOf(t, err), "names are unique in a BIA, whatever the case")

	// Completed, it is submitted, then frozen.
	evs, err = a.ChangeProcess("payroll", payroll(), at(2))
	h = then(t, h, evs, err)
	assert.Equal(t, bia.Progress{Processes: 1, Complete: 1, Percent: 100}, evs[0].(bia.BusinessProcessChanged).Progress)
	a = bia.RehydrateAnalysis(h...)
	_, err = a.ChangeProcess("payroll", payroll(), at(3))
	assert.Equal(t, bia.CodeNothingChanged, ruleOf(t, err))
	evs, err = a.Submit(at(3))
	h = then(t, h, evs, err)
	a = bia.RehydrateAnalysis(h...)
	assert.Equal(t, bia.StatusInReview, a.Snapshot().Status)
	_, err = a.AddProcess("billing", payroll(), at(4))
	assert.Equal(t, bia.CodeBIANotDraft, ruleOf(t, err))

	// Approved: names the revision it approved.
	evs, err = a.Approve("ciso", "ok", at(4))
	h = then(t, h, evs, err)
	assert.Equal(t, 3, evs[0].(bia.BIAApproved).Revision, "created, added, changed")
	a = bia.RehydrateAnalysis(h...)
	_, err = a.Approve("ciso", "", at(5))
	assert.Equal(t, bia.CodeBIANotInReview, ruleOf(t, err))
	_, err = a.RemoveProcess("payroll", "", at(5))
	assert.Equal(t, bia.CodeBIANotDraft, ruleOf(t, err))

	// Reopened to change it: a draft again, the approval kept as history.
	_, err = a.Reopen("", at(5))
	assert.Equal(t, []string{"reason"}, fieldsOf(t, err))
	evs, err = a.Reopen("new supplier", at(5))
	h = then(t, h, evs, err)
	assert.Equal(t, bia.StatusApproved, evs[0].(bia.BIAReopened).From)
	a = bia.RehydrateAnalysis(h...)
	_, err = a.Reopen("again", at(6))
	assert.Equal(t, bia.CodeBIAAlreadyDraft, ruleOf(t, err))
	evs, err = a.RemoveProcess("payroll", "outsourced", at(6))
	h = then(t, h, evs, err)
	assert.Equal(t, bia.Progress{}, evs[0].(bia.BusinessProcessRemoved).Progress)
	s := bia.RehydrateAnalysis(h...).Snapshot()
	assert.Empty(t, s.Processes)
	assert.Equal(t, bia.StatusDraft, s.Status)
	require.NotNil(t, s.Approval)
	assert.Equal(t, 3, s.Approval.Revision)
	assert.Equal(t, 4, s.Revision)

	// A BIA that does not exist.
	_, err = bia.RehydrateAnalysis().AddProcess("x", payroll(), t0)
	assert.Equal(t, bia.CodeBIANotCreated, ruleOf(t, err))
	_, err = bia.CreateAnalysis("bia-2", bia.Details{}, t0)
	assert.Equal(t, []string{"title", "owner"}, fieldsOf(t, err))
}

// TestCompare: what changed between two versions of a BIA.
func TestCompare(t *testing.T) {
	h := created(t)
	a := bia.RehydrateAnalysis(h...)
	evs, err := a.AddProcess("payroll", payroll(), at(1))
	h = then(t, h, evs, err)
	a = bia.RehydrateAnalysis(h...)
	evs, err = a.AddProcess("billing", bia.ProcessSpec{Name: "Billing", Owner: "fin", Criticality: "medium"}, at(1))
	h = then(t, h, evs, err)
	before := bia.RehydrateAnalysis(h...).Snapshot()

	a = bia.RehydrateAnalysis(h...)
	s := payroll()
	s.RTO, s.Owner = "2h", "payroll-lead"
	s.Impacts = []bia.ThresholdSpec{s.Impacts[0], s.Impacts[1], {Category: "legal", After: "3d", Level: "high"}, {Category: "reputational", After: "1w", Level: "low"}}
	evs, err = a.ChangeProcess("payroll", s, at(2))
	h = then(t, h, evs, err)
	a = bia.RehydrateAnalysis(h...)
	evs, err = a.RemoveProcess("billing", "", at(2))
	h = then(t, h, evs, err)
	a = bia.RehydrateAnalysis(h...)
	evs, err = a.AddProcess("treasury", bia.ProcessSpec{Name: "Treasury", Owner: "fin", Criticality: "critical"}, at(2))
	h = then(t, h, evs, err)
	after := bia.RehydrateAnalysis(h...).Snapshot()

	ch := bia.Compare(before, after)
	assert.Equal(t, 3, ch.FromRevision)
	assert.Equal(t, 6, ch.ToRevision)
	assert.Empty(t, ch.Fields)
	assert.Equal(t, []bia.ProcessRef{{ProcessID: "treasury", Name: "Treasury"}}, ch.Added)
	assert.Equal(t, []bia.ProcessRef{{ProcessID: "billing", Name: "Billing"}}, ch.Removed)
	require.Len(t, ch.Changed, 1)
	assert.Equal(t, []bia.FieldChange{{Field: "owner", From: "hr-lead", To: "payroll-lead"}, {Field: "rto", From: "4h", To: "2h"},
		{Field: "impacts", From: "4 thresholds", To: "4 thresholds"}}, ch.Changed[0].Fields)
	assert.Equal(t, []bia.ThresholdChange{
		{Category: bia.Operational, After: "4h", Change: "removed", From: "moderate"},
		{Category: bia.Legal, After: "3d", Change: "changed", From: "critical", To: "high"},
		{Category: bia.Reputational, After: "1w", Change: "added", To: "low"},
	}, ch.Changed[0].Thresholds)

	// From before the BIA existed: everything is added.
	all := bia.Compare(bia.Snapshot{}, before)
	assert.Len(t, all.Added, 2)
	assert.Equal(t, bia.FieldChange{Field: "title", From: "", To: "Finance BIA"}, all.Fields[0])
}

func planned(t *testing.T) (bia.Snapshot, []bia.Event) {
	t.Helper()
	h := created(t)
	evs, err := bia.RehydrateAnalysis(h...).AddProcess("payroll", payroll(), at(1))
	h = then(t, h, evs, err)
	evs, err = bia.RehydrateAnalysis(h...).AddProcess("wiki", bia.ProcessSpec{Name: "Wiki", Owner: "it", Criticality: "low"}, at(1))
	h = then(t, h, evs, err)
	snap := bia.RehydrateAnalysis(h...).Snapshot()
	x, err := bia.PlanExercise("ex-1", snap, bia.ExerciseSpec{Title: "DR test", Scenario: "region outage", Owner: "it",
		PlannedFor: at(48), ProcessIDs: []string{"wiki", "payroll"}}, at(2))
	require.NoError(t, err)
	return snap, x
}

// TestExercise: planned, run (RTO met or missed from actual vs RTO),
// lessons learned.
func TestExercise(t *testing.T) {
	snap, h := planned(t)
	assert.Equal(t, []string{"payroll", "wiki"}, h[0].(bia.ExercisePlanned).ProcessIDs)
	_, err := bia.PlanExercise("ex-2", snap, bia.ExerciseSpec{Title: "x", Scenario: "y", Owner: "z", PlannedFor: t0, ProcessIDs: []string{"nope", "wiki", "wiki"}}, t0)
	assert.Equal(t, []string{"process_ids[0]", "process_ids[2]"}, fieldsOf(t, err))

	x := bia.RehydrateExercise(h...)
	_, err = x.RecordLesson("l1", bia.LessonSpec{Title: "t", Owner: "o"}, at(3))
	assert.Equal(t, bia.CodeExerciseNotRun, ruleOf(t, err))

	runs := []struct {
		name    string
		results []bia.RunResult
		fields  []string
		outcome string
		met     []*bool
	}{
		{"a process left out", []bia.RunResult{{ProcessID: "payroll", Recovery: "3h"}}, []string{"results"}, "", nil},
		{"another exercise's process", []bia.RunResult{{ProcessID: "mail", Recovery: "1h"}, {ProcessID: "payroll", Recovery: "x"}, {ProcessID: "wiki", Recovery: "1h"}},
			[]string{"results[0].process_id", "results[1].recovery"}, "", nil},
		{"RTO met (3h ≤ 4h), RPO missed (2h > 1h)", []bia.RunResult{{ProcessID: "payroll", Recovery: "3h", DataLoss: "2h"}, {ProcessID: "wiki", Recovery: "1d"}},
			nil, bia.OutcomeFailed, []*bool{ptr(true), ptr(false)}},
		{"RTO exactly met", []bia.RunResult{{ProcessID: "payroll", Recovery: "4h"}, {ProcessID: "wiki", Recovery: "1d"}},
			nil, bia.OutcomePassed, []*bool{ptr(true), nil}},
		{"RTO missed", []bia.RunResult{{ProcessID: "wiki", Recovery: "1m"}, {ProcessID: "payroll", Recovery: "4h1m"}},
			nil, bia.OutcomeFailed, []*bool{ptr(false), nil}},
	}
	for _, c := range runs {
		t.Run(c.name, func(t *testing.T) {
			evs, err := x.RecordRun(snap, at(48), at(56), c.results, "", at(60))
			if c.fields != nil {
				assert.Equal(t, c.fields, fieldsOf(t, err))
				return
			}
			require.NoError(t, err)
			run := evs[0].(bia.ExerciseRun)
			assert.Equal(t, c.outcome, run.Outcome)
			assert.Equal(t, "payroll", run.Results[0].ProcessID)
			assert.Equal(t, c.met, []*bool{run.Results[0].RTOMet, run.Results[0].RPOMet})
			assert.Nil(t, run.Results[1].RTOMet, "the wiki has no RTO")
		})
	}
	_, err = x.RecordRun(snap, at(48), at(70), []bia.RunResult{{ProcessID: "payroll", Recovery: "1h"}, {ProcessID: "wiki", Recovery: "1h"}}, "", at(60))
	assert.Equal(t, []string{"ended_at"}, fieldsOf(t, err), "a run cannot end in the future")

	evs, err := x.RecordRun(snap, at(48), at(56), runs[3].results, "smooth", at(60))
	h = then(t, h, evs, err)
	x = bia.RehydrateExercise(h...)
	_, err = x.RecordRun(snap, at(48), at(56), runs[3].results, "", at(61))
	assert.Equal(t, bia.CodeExerciseNotPlanned, ruleOf(t, err))
	_, err = x.Cancel("late", at(61))
	assert.Equal(t, bia.CodeExerciseNotPlanned, ruleOf(t, err))

	// Lessons: recorded open, then done; progress counts them.
	evs, err = x.RecordLesson("l1", bia.LessonSpec{Title: "automate payroll restore", Owner: "it", ProcessID: "payroll"}, at(62))
	h = then(t, h, evs, err)
	x = bia.RehydrateExercise(h...)
	evs, err = x.RecordLesson("l2", bia.LessonSpec{Title: "document wiki restore", Owner: "it"}, at(62))
	h = then(t, h, evs, err)
	assert.Equal(t, bia.LessonProgress{Lessons: 2}, evs[0].(bia.LessonLearnedRecorded).Progress)
	x = bia.RehydrateExercise(h...)
	_, err = x.RecordLesson("l1", bia.LessonSpec{Title: "t", Owner: "o"}, at(63))
	assert.Equal(t, bia.CodeLessonExists, ruleOf(t, err))
	evs, err = x.UpdateLesson("l1", "", bia.LessonDone, at(63))
	h = then(t, h, evs, err)
	assert.Equal(t, bia.LessonLearnedUpdated{ExerciseID: "ex-1", LessonID: "l1", Owner: "it", Status: bia.LessonDone,
		Progress: bia.LessonProgress{Lessons: 2, Done: 1}, UpdatedAt: at(63)}, evs[0])
	x = bia.RehydrateExercise(h...)
	_, err = x.UpdateLesson("l1", "it", bia.LessonDone, at(64))
	assert.Equal(t, bia.CodeNothingChanged, ruleOf(t, err))
	_, err = x.UpdateLesson("l9", "", bia.LessonDone, at(64))
	assert.Equal(t, bia.CodeLessonNotFound, ruleOf(t, err))
	_, err = x.UpdateLesson("l2", "", "closed", at(64))
	assert.Equal(t, []string{"status"}, fieldsOf(t, err))

	// A planned exercise can be cancelled, then nothing runs.
	_, h2 := planned(t)
	x = bia.RehydrateExercise(h2...)
	evs, err = x.Cancel("budget", at(3))
	h2 = then(t, h2, evs, err)
	_, err = bia.RehydrateExercise(h2...).RecordRun(snap, at(48), at(56), runs[3].results, "", at(60))
	assert.Equal(t, bia.CodeExerciseNotPlanned, ruleOf(t, err))
}

func ptr(b bool) *bool { return &b }
