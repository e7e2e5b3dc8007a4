package aigovernance_test

import (
	"testing"

	. "github.com/cspm-es/cspm-es/domain/aigovernance"
	"github.com/cspm-es/cspm-es/domain/domaintest"
)

func defined(metric string, threshold float64) BiasTestDefined {
	return BiasTestDefined{TestID: "b1", ModelID: "m1", Name: "approval parity", Metric: metric, Attribute: "sex",
		Groups: []string{"female", "male"}, Threshold: threshold, Direction: DefaultDirection(metric), DefinedAt: t0}
}

func TestDefineBiasTest(t *testing.T) {
	cases := []struct {
		name string
		when BiasTestSpec
		then then
	}{
		{"a difference is lower-is-better by default",
			BiasTestSpec{ModelID: "m1", Name: "approval parity", Metric: DemographicParityDifference, Attribute: "sex", Groups: []string{"male", "female"}, Threshold: 0.1},
			then{Events: []Event{BiasTestDefined{TestID: "b1", ModelID: "m1", Name: "approval parity", Metric: DemographicParityDifference,
				Attribute: "sex", Groups: []string{"female", "male"}, Threshold: 0.1, Direction: LowerIsBetter, DefinedAt: t1}}}},
		{"a ratio is higher-is-better by default",
			BiasTestSpec{ModelID: "m1", Name: "4/5", Metric: DisparateImpactRatio, Attribute: "age", Groups: []string{"<40", ">=40"}, Threshold: 0.8},
			then{Events: []Event{BiasTestDefined{TestID: "b1", ModelID: "m1", Name: "4/5", Metric: DisparateImpactRatio,
				Attribute: "age", Groups: []string{"<40", ">=40"}, Threshold: 0.8, Direction: HigherIsBetter, DefinedAt: t1}}}},
		{"one group is no comparison",
			BiasTestSpec{ModelID: "m1", Name: "x", Metric: EqualOpportunityDifference, Attribute: "sex", Groups: []string{"f", "f"}, Threshold: 0.1},
			then{Fields: []string{"groups"}}},
		{"everything wrong",
			BiasTestSpec{Metric: "accuracy", Threshold: 2, Direction: "sideways"},
			then{Fields: []string{"model_id", "name", "metric", "attribute", "groups", "direction", "threshold"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DefineBiasTest("b1", tc.when, t1)
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}

func TestRecordBiasRun(t *testing.T) {
	counts := func(fp, ft, mp, mt int64) []GroupCounts {
		return []GroupCounts{{Group: "male", Positive: mp, Total: mt}, {Group: "female", Positive: fp, Total: ft}}
	}
	run := func(def BiasTestDefined, value float64, passed bool, groups ...GroupResult) BiasTestRunRecorded {
		return BiasTestRunRecorded{TestID: "b1", RunID: "r1", ModelID: "m1", ModelVersion: "1.0", Metric: def.Metric, Threshold: def.Threshold,
			Direction: def.Direction, Value: value, Passed: passed, Groups: groups, RanAt: t1}
	}
	dpd, dir := defined(DemographicParityDifference, 0.1), defined(DisparateImpactRatio, 0.8)
	cases := []struct {
		name   string
		given  []Event
		counts []GroupCounts
		then   then
	}{
		{"parity within the threshold passes", []Event{dpd}, counts(45, 100, 50, 100),
			then{Events: []Event{run(dpd, 0.05, true,
				GroupResult{Group: "female", Positive: 45, Total: 100, Rate: 0.45, Gap: 0.05, Passed: true},
				GroupResult{Group: "male", Positive: 50, Total: 100, Rate: 0.5, Gap: 0, Passed: true})}}},
		{"parity beyond the threshold fails", []Event{dpd}, counts(30, 100, 50, 100),
			then{Events: []Event{run(dpd, 0.2, false,
				GroupResult{Group: "female", Positive: 30, Total: 100, Rate: 0.3, Gap: 0.2, Passed: false},
				GroupResult{Group: "male", Positive: 50, Total: 100, Rate: 0.5, Gap: 0, Passed: true})}}},
		{"the four-fifths rule fails under 0.8", []Event{dir}, counts(30, 100, 50, 100),
			then{Events: []Event{run(dir, 0.6, false,
				GroupResult{Group: "female", Positive: 30, Total: 100, Rate: 0.3, Gap: 0.6, Passed: false},
				GroupResult{Group: "male", Positive: 50, Total: 100, Rate: 0.5, Gap: 1, Passed: true})}}},
		{"the run id again appends nothing", []Event{dpd, run(dpd, 0.05, true)}, counts(45, 100, 50, 100), then{}},
		{"a group missing", []Event{dpd}, []GroupCounts{{Group: "male", Positive: 1, Total: 2}, {Group: "other", Positive: 1, Total: 2}},
			then{RuleCode: CodeBiasGroups}},
		{"counts out of range", []Event{dpd}, counts(5, 0, 3, 2), then{Fields: []string{"groups[0].positive", "groups[1].total", "groups[1].positive"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RehydrateBiasTest(tc.given...).RecordRun("r1", "1.0", "", tc.counts, t1)
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}

func TestIncidentStatus(t *testing.T) {
	reported := ModelIncidentReported{IncidentID: "i1", ModelID: "m1", Title: "drift", Severity: SeverityHigh, ReportedAt: t0}
	to := func(from, to string) ModelIncidentStatusChanged {
		return ModelIncidentStatusChanged{IncidentID: "i1", ModelID: "m1", From: from, To: to, ChangedBy: "alice", ChangedAt: t1}
	}
	cases := []struct {
		name  string
		given []Event
		when  string
		then  then
	}{
		{"open to mitigated", []Event{reported}, IncidentMitigated, then{Events: []Event{to(IncidentOpen, IncidentMitigated)}}},
		{"mitigated back to open", []Event{reported, to(IncidentOpen, IncidentMitigated)}, IncidentOpen, then{Events: []Event{to(IncidentMitigated, IncidentOpen)}}},
		{"open to closed", []Event{reported}, IncidentClosed, then{Events: []Event{to(IncidentOpen, IncidentClosed)}}},
		{"the same status appends nothing", []Event{reported}, IncidentOpen, then{}},
		{"closed is final", []Event{reported, to(IncidentOpen, IncidentClosed)}, IncidentOpen, then{RuleCode: CodeIncidentClosed}},
		{"unknown status", []Event{reported}, "resolved", then{Fields: []string{"status"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RehydrateIncident(tc.given...).ChangeStatus(tc.when, "", "alice", t1)
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
	_, err := ReportIncident("i1", "", "", "", "severe", "alice", t1)
	domaintest.AssertOutcome(t, then{Fields: []string{"model_id", "title", "severity"}}, nil, err)
}
