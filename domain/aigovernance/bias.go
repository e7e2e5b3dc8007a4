package aigovernance

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Bias metrics. Each group's rate is positive / total of its counts:
// for demographic parity the share of favourable outcomes (selection
// rate), for equal opportunity the true positive rate (total = the
// group's actual positives). The metric compares the groups' rates.
const (
	// DemographicParityDifference is the largest selection rate minus the smallest.
	DemographicParityDifference = "demographic_parity_difference"
	// EqualOpportunityDifference is the largest true positive rate minus the smallest.
	EqualOpportunityDifference = "equal_opportunity_difference"
	// DisparateImpactRatio is the smallest selection rate over the largest (the "four-fifths rule" reads it against 0.8).
	DisparateImpactRatio = "disparate_impact_ratio"
)

// Metrics lists them.
var Metrics = []string{DemographicParityDifference, EqualOpportunityDifference, DisparateImpactRatio}

// Directions: which side of the threshold passes.
const (
	LowerIsBetter  = "lower_is_better"  // pass when value <= threshold (differences)
	HigherIsBetter = "higher_is_better" // pass when value >= threshold (ratios)
)

// DefaultDirection is the direction of a metric when the test gives none.
func DefaultDirection(metric string) string {
	if metric == DisparateImpactRatio {
		return HigherIsBetter
	}
	return LowerIsBetter
}

// BiasTestSpec is what a bias test is defined with.
type BiasTestSpec struct {
	ModelID   string
	Name      string
	Metric    string
	Attribute string   // the protected attribute ("sex", "age_band")
	Groups    []string // its groups compared ("female", "male")
	Threshold float64
	Direction string // "" is the metric's default
}

// BiasTestDefined: a team defined a bias test of a model (stream "aibiastest-<id>").
type BiasTestDefined struct {
	TestID    string    `json:"test_id"`
	ModelID   string    `json:"model_id"`
	Name      string    `json:"name"`
	Metric    string    `json:"metric"`
	Attribute string    `json:"attribute"`
	Groups    []string  `json:"groups"`
	Threshold float64   `json:"threshold"`
	Direction string    `json:"direction"`
	DefinedAt time.Time `json:"defined_at"`
}

// GroupCounts are one group's counts in a run.
type GroupCounts struct {
	Group    string `json:"group"`
	Positive int64  `json:"positive"`
	Total    int64  `json:"total"`
}

// GroupResult is one group's outcome in a run: its rate and how it
// compares with the best-off group (Gap: rate - max for differences,
// rate / max for the ratio), and whether that comparison passes.
type GroupResult struct {
	Group    string  `json:"group"`
	Positive int64   `json:"positive"`
	Total    int64   `json:"total"`
	Rate     float64 `json:"rate"`
	Gap      float64 `json:"gap"`
	Passed   bool    `json:"passed"`
}

// BiasTestRunRecorded: a run of a bias test on a version of its model, with the
// result per group and the metric's value, pass or fail decided here.
type BiasTestRunRecorded struct {
	TestID       string        `json:"test_id"`
	RunID        string        `json:"run_id"`
	ModelID      string        `json:"model_id"`
	ModelVersion string        `json:"model_version"`
	Dataset      string        `json:"dataset,omitempty"`
	Metric       string        `json:"metric"`
	Threshold    float64       `json:"threshold"`
	Direction    string        `json:"direction"`
	Value        float64       `json:"value"`
	Passed       bool          `json:"passed"`
	Groups       []GroupResult `json:"groups"`
	RanAt        time.Time     `json:"ran_at"`
}

func (BiasTestDefined) EventType() string     { return "BiasTestDefined" }
func (BiasTestRunRecorded) EventType() string { return "BiasTestRunRecorded" }

// BiasTest is the aggregate of a test definition and its runs.
type BiasTest struct {
	defined bool
	def     BiasTestDefined
	runs    map[string]bool
}

// RehydrateBiasTest folds a bias test's events.
func RehydrateBiasTest(events ...Event) *BiasTest {
	b := &BiasTest{runs: map[string]bool{}}
	for _, e := range events {
		switch e := e.(type) {
		case BiasTestDefined:
			b.defined, b.def = true, e
		case BiasTestRunRecorded:
			b.runs[e.RunID] = true
		}
	}
	return b
}

// ModelID is the model the test is of.
func (b *BiasTest) ModelID() string { return b.def.ModelID }

// DefineBiasTest decides a bias test.
func DefineBiasTest(id string, s BiasTestSpec, now time.Time) ([]Event, error) {
	var v domain.Validator
	name := strings.TrimSpace(s.Name)
	v.Check(strings.TrimSpace(s.ModelID) != "", "model_id", "is required")
	v.Check(name != "" && len(name) <= MaxName, "name", "is required (at most %d bytes)", MaxName)
	v.Check(slices.Contains(Metrics, s.Metric), "metric", "%q is not one of %s", s.Metric, strings.Join(Metrics, ", "))
	attr := strings.TrimSpace(s.Attribute)
	v.Check(attr != "" && len(attr) <= MaxName, "attribute", "is required (at most %d bytes)", MaxName)
	groups := cleanList(&v, "groups", s.Groups, MaxName, MaxGroups)
	v.Check(len(groups) >= 2, "groups", "at least two distinct groups are compared")
	dir := s.Direction
	if dir == "" {
		dir = DefaultDirection(s.Metric)
	}
	v.Check(dir == LowerIsBetter || dir == HigherIsBetter, "direction", "%q is not one of lower_is_better, higher_is_better", dir)
	v.Check(!math.IsNaN(s.Threshold) && s.Threshold >= 0 && s.Threshold <= 1, "threshold", "must be between 0 and 1")
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{BiasTestDefined{TestID: id, ModelID: strings.TrimSpace(s.ModelID), Name: name, Metric: s.Metric, Attribute: attr,
		Groups: groups, Threshold: s.Threshold, Direction: dir, DefinedAt: now}}, nil
}

// Evaluate computes the metric over the groups' counts: the value, each
// group's result and pass or fail (the value against the threshold in
// the test's direction). The counts must name exactly the test's groups.
func Evaluate(metric string, threshold float64, direction string, counts []GroupCounts) (float64, bool, []GroupResult) {
	rates := make([]float64, len(counts))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, c := range counts {
		rates[i] = float64(c.Positive) / float64(c.Total)
		lo, hi = math.Min(lo, rates[i]), math.Max(hi, rates[i])
	}
	pass := func(x float64) bool {
		if direction == HigherIsBetter {
			return x >= threshold
		}
		return x <= threshold
	}
	ratio := metric == DisparateImpactRatio
	value := hi - lo
	if ratio {
		value = 1
		if hi > 0 {
			value = lo / hi
		}
	}
	value = round6(value)
	out := make([]GroupResult, len(counts))
	for i, c := range counts {
		gap := hi - rates[i]
		if ratio {
			gap = 1
			if hi > 0 {
				gap = rates[i] / hi
			}
		}
		gap = round6(gap)
		out[i] = GroupResult{Group: c.Group, Positive: c.Positive, Total: c.Total, Rate: round6(rates[i]), Gap: gap, Passed: pass(gap)}
	}
	slices.SortFunc(out, func(a, b GroupResult) int { return strings.Compare(a.Group, b.Group) })
	return value, pass(value), out
}

// round6 keeps six decimals, so that the same counts give the same value
// on every platform and in every read model.
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// RecordRun decides a run of the test on modelVersion (the model's
// version when the run is recorded, passed by the handler): every group
// of the test once, each with 0 <= positive <= total and total > 0. A
// run id already recorded appends nothing (a retried upload).
func (b *BiasTest) RecordRun(runID, modelVersion, dataset string, counts []GroupCounts, now time.Time) ([]Event, error) {
	if !b.defined {
		return nil, domain.ErrNotFound
	}
	var v domain.Validator
	runID = strings.TrimSpace(runID)
	v.Check(runID != "" && len(runID) <= MaxIDLen, "run_id", "is required (at most %d bytes)", MaxIDLen)
	v.Check(modelVersion != "", "model_version", "is required")
	v.Check(len(dataset) <= MaxName, "dataset", "at most %d bytes", MaxName)
	v.Check(len(counts) > 0, "groups", "is required")
	seen := map[string]bool{}
	for i, c := range counts {
		f := fmt.Sprintf("groups[%d]", i)
		v.Check(c.Total > 0, f+".total", "must be positive")
		v.Check(c.Positive >= 0 && c.Positive <= c.Total, f+".positive", "must be between 0 and total")
		v.Check(!seen[c.Group], f+".group", "%q appears twice", c.Group)
		seen[c.Group] = true
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var missing, extra []string
	for _, g := range b.def.Groups {
		if !seen[g] {
			missing = append(missing, g)
		}
	}
	for _, c := range counts {
		if !slices.Contains(b.def.Groups, c.Group) {
			extra = append(extra, c.Group)
		}
	}
	if len(missing)+len(extra) > 0 {
		return nil, domain.Rule(CodeBiasGroups, "the run must give every group of the test once: missing %v, not of the test %v", missing, extra)
	}
	if b.runs[runID] {
		return nil, nil
	}
	value, passed, groups := Evaluate(b.def.Metric, b.def.Threshold, b.def.Direction, counts)
	return []Event{BiasTestRunRecorded{TestID: b.def.TestID, RunID: runID, ModelID: b.def.ModelID, ModelVersion: modelVersion, Dataset: dataset,
		Metric: b.def.Metric, Threshold: b.def.Threshold, Direction: b.def.Direction, Value: value, Passed: passed, Groups: groups, RanAt: now}}, nil
}
