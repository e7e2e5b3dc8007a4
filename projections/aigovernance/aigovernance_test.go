package aigovernance_test

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ai "github.com/cspm-es/cspm-es/domain/aigovernance"
	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/platform/parsers/cisoassistant"
	"github.com/cspm-es/cspm-es/projections"
	pai "github.com/cspm-es/cspm-es/projections/aigovernance"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

const (
	teamA = "team-a"
	teamB = "team-b"
)

// euAIAct is the EU AI Act catalogue (the CISO Assistant library subset).
func euAIAct(t *testing.T) as.FrameworkVersionLoaded {
	f, err := os.Open("../../platform/parsers/cisoassistant/testdata/eu_ai_act_chapter3_section2_ciso-assistant-library_subset.json")
	require.NoError(t, err)
	defer f.Close()
	lib, err := cisoassistant.Parse(f)
	require.NoError(t, err)
	c := lib.Catalogue
	return as.FrameworkVersionLoaded{Framework: c.Framework, Version: "2", Name: c.Name, Source: c.Source, ContentHash: "h", Requirements: c.Requirements, LoadedAt: pt.T0}
}

// world is three streams of team A (a model, its assessment, the
// catalogue) and one of team B naming team A's model id in its scope.
func world(t *testing.T) (cat as.FrameworkVersionLoaded, streams [][]projections.Event) {
	cat = euAIAct(t)
	reqs := as.AssessedRequirements(cat.Requirements)
	model := []pt.EventData{
		ai.ModelRegistered{ModelID: "m1", Name: "credit-scoring", Version: "1.0", Owner: "risk", Status: ai.StatusStaging, RegisteredAt: pt.T0},
		ai.ModelRiskClassified{ModelID: "m1", RiskClass: ai.Limited, Rationale: "chatbot", ClassifiedAt: pt.At(time.Hour)},
		ai.ModelRiskClassified{ModelID: "m1", RiskClass: ai.HighRisk, PreviousClass: ai.Limited, Rationale: "Annex III 5(b)", ClassifiedAt: pt.At(2 * time.Hour)},
		ai.ModelVersionReleased{ModelID: "m1", Version: "1.1", PreviousVersion: "1.0", ReleasedAt: pt.At(3 * time.Hour)},
	}
	ref := as.FrameworkRef{Framework: ai.EUAIActFramework, Version: "2"}
	asm := []pt.EventData{
		as.AssessmentCreated{AssessmentID: "as-1", Name: "credit AI Act", Framework: ref, Requirements: reqs, Scope: as.Scope{Models: []string{"m1"}}, AsOf: pt.T0, CreatedAt: pt.T0},
		as.RequirementAnswered{AssessmentID: "as-1", RequirementID: reqs[0].ID, Status: as.Compliant, AnsweredAt: pt.T0},
		as.RequirementAnswered{AssessmentID: "as-1", RequirementID: reqs[1].ID, Status: as.NotApplicable, AnsweredAt: pt.T0},
		as.RequirementAnswered{AssessmentID: "as-1", RequirementID: reqs[2].ID, Status: as.NonCompliant, Comment: "no risk system", AnsweredAt: pt.T0},
	}
	other := []pt.EventData{
		as.AssessmentCreated{AssessmentID: "as-b", Name: "B", Framework: ref, Requirements: reqs, Scope: as.Scope{Models: []string{"m1"}}, AsOf: pt.T0, CreatedAt: pt.T0},
	}
	unassessed := []pt.EventData{
		ai.ModelRegistered{ModelID: "m2", Name: "cv-screening", Version: "1", Owner: "hr", Status: ai.StatusDevelopment, RegisteredAt: pt.T0},
		ai.ModelRiskClassified{ModelID: "m2", RiskClass: ai.HighRisk, Rationale: "Annex III 4(a)", ClassifiedAt: pt.T0},
	}
	streams = [][]projections.Event{
		pt.Stream(teamA, []int64{1, 5, 6, 9}, model...),
		pt.Stream(teamA, []int64{11, 12}, unassessed...),
		pt.Stream(teamA, []int64{3, 4, 7, 8}, asm...),
		pt.Stream(teamA, []int64{2}, cat),
		pt.Stream(teamB, []int64{10}, other...),
	}
	return cat, streams
}

func TestObligations_HighRiskModelAssessed(t *testing.T) {
	cat, streams := world(t)
	p := pai.NewObligations()
	tx := pt.Apply(t, p, slices.Concat(pt.OnlyStreams(p, streams)...)...)
	d := tx.Doc(t, pai.ObligationsCollection, "m1")
	require.Equal(t, teamA, d["team_id"])
	require.Equal(t, "high", d["risk_class"])
	require.Equal(t, ai.RegimeHighRisk, d["regime"])
	require.Equal(t, "as-1", d["assessment_id"], "team B's assessment naming the id is not this model's")
	require.Equal(t, int64(88), d["requirements"])
	require.Equal(t, int64(86), d["open"], "compliant and not applicable close; non compliant stays open")
	require.Len(t, d["open_ids"], 86)
	reqs := as.AssessedRequirements(cat.Requirements)
	require.Equal(t, reqs[2].ID, d["open_ids"].([]any)[0])

	m2 := tx.Doc(t, pai.ObligationsCollection, "m2")
	require.Equal(t, "", m2["assessment_id"])
	require.Equal(t, int64(88), m2["open"], "not assessed: every requirement of the latest catalogue, whenever the catalogue arrives")
	require.Equal(t, "2", m2["framework_version"])

	latest := tx.Doc(t, pai.CatalogueCollection, pai.LatestCatalogue)
	require.Equal(t, int64(88), latest["assessable"])
	var labels map[string]pai.CatalogueLabel
	require.NoError(t, json.Unmarshal([]byte(latest["labels"].(string)), &labels))
	require.Equal(t, pai.CatalogueLabel{RefID: "9.1", Article: "Article 9"}, labels["urn:intuitem:risk:req_node:ai-act:9.1"])
	pt.AssertOrderIndependent(t, p, pt.OnlyStreams(p, streams))
}

func TestObligations_ByClass(t *testing.T) {
	reg := func(id string) ai.ModelRegistered {
		return ai.ModelRegistered{ModelID: id, Name: id, Version: "1", Owner: "o", Status: ai.StatusDevelopment, RegisteredAt: pt.T0}
	}
	cls := func(id string, c ai.RiskClass) ai.ModelRiskClassified {
		return ai.ModelRiskClassified{ModelID: id, RiskClass: c, Rationale: "r", ClassifiedAt: pt.T0}
	}
	evs := slices.Concat(
		pt.Stream(teamA, []int64{1, 2, 3}, reg("lim"), cls("lim", ai.Limited), ai.TransparencyDeclared{ModelID: "lim", Met: []string{"art50-1"}, NotApplicable: []string{"art50-3"}, DeclaredAt: pt.T0}),
		pt.Stream(teamA, []int64{4, 5}, reg("min"), cls("min", ai.Minimal)),
		pt.Stream(teamA, []int64{6, 7}, reg("pro"), cls("pro", ai.Prohibited)),
		pt.Stream(teamA, []int64{8, 9}, reg("hi"), cls("hi", ai.HighRisk)),
		pt.Stream(teamA, []int64{10}, reg("new")),
	)
	tx := pt.Apply(t, pai.NewObligations(), evs...)
	for _, tc := range []struct {
		id, regime string
		open       int64
		deployable bool
	}{
		{"lim", ai.RegimeTransparency, 2, true},
		{"min", ai.RegimeNone, 0, true},
		{"pro", ai.RegimeProhibited, 0, false},
		{"hi", ai.RegimeHighRisk, 0, true}, // not assessed: the query counts the catalogue
		{"new", ai.RegimeUnclassified, 0, true},
	} {
		d := tx.Doc(t, pai.ObligationsCollection, tc.id)
		require.Equal(t, tc.regime, d["regime"], tc.id)
		require.Equal(t, tc.open, d["open"], tc.id)
		require.Equal(t, tc.deployable, d["deployable"], tc.id)
	}
	require.Equal(t, []any{"art50-2", "art50-4"}, tx.Doc(t, pai.ObligationsCollection, "lim")["open_ids"])
	require.Equal(t, "", tx.Doc(t, pai.ObligationsCollection, "hi")["assessment_id"])
}

func TestRegistry_ModelsBiasIncidents(t *testing.T) {
	_, streams := world(t)
	run := func(id, version string, value float64, passed bool, at time.Duration) ai.BiasTestRunRecorded {
		return ai.BiasTestRunRecorded{TestID: "b1", RunID: id, ModelID: "m1", ModelVersion: version, Metric: ai.DemographicParityDifference, Threshold: 0.1,
			Direction: ai.LowerIsBetter, Value: value, Passed: passed, Groups: []ai.GroupResult{{Group: "f", Positive: 1, Total: 2, Rate: 0.5, Passed: passed}},
			RanAt: pt.At(at)}
	}
	bias := pt.Stream(teamA, []int64{11, 12, 13}, ai.BiasTestDefined{TestID: "b1", ModelID: "m1", Name: "parity", Metric: ai.DemographicParityDifference,
		Attribute: "sex", Groups: []string{"f", "m"}, Threshold: 0.1, Direction: ai.LowerIsBetter, DefinedAt: pt.T0},
		run("r1", "1.0", 0.2, false, time.Hour), run("r2", "1.1", 0.05, true, 2*time.Hour))
	inc := pt.Stream(teamA, []int64{14, 15}, ai.ModelIncidentReported{IncidentID: "i1", ModelID: "m1", Title: "drift", Severity: ai.SeverityHigh, ReportedAt: pt.T0},
		ai.ModelIncidentStatusChanged{IncidentID: "i1", ModelID: "m1", From: ai.IncidentOpen, To: ai.IncidentMitigated, ChangedAt: pt.At(time.Hour)})
	all := pt.OnlyStreams(pai.NewRegistry(), append(streams, bias, inc))
	tx := pt.Apply(t, pai.NewRegistry(), slices.Concat(all...)...)
	m := tx.Doc(t, pai.ModelsCollection, "m1")
	require.Equal(t, "high", m["risk_class"])
	require.Equal(t, "1.1", m["version"])
	require.Equal(t, []any{"1.0", "1.1"}, m["versions"])
	require.Equal(t, int64(2), m["classifications"])
	var history []any
	for _, d := range tx.Colls[pai.ClassificationsCollection] {
		if d["model_id"] == "m1" {
			history = append(history, d["risk_class"])
		}
	}
	require.ElementsMatch(t, []any{"limited", "high"}, history, "the history is kept")
	b := tx.Doc(t, pai.BiasTestsCollection, "b1")
	require.Equal(t, int64(2), b["runs"])
	require.Equal(t, true, b["last_passed"])
	require.Len(t, tx.Colls[pai.BiasRunsCollection], 2)
	require.Equal(t, "mitigated", tx.Doc(t, pai.IncidentsCollection, "i1")["status"])
	pt.AssertOrderIndependent(t, pai.NewRegistry(), all)
}

// Every index a query uses starts with team_id (invariant 9).
func TestIndexesStartWithTeam(t *testing.T) {
	for _, p := range []projections.Projection{pai.NewRegistry(), pai.NewObligations()} {
		for _, spec := range p.Collections() {
			for _, ix := range spec.Indexes {
				require.Equal(t, "team_id", ix.Fields[0].Path, "%s.%s must start with team_id", spec.Name, ix.Name)
			}
		}
	}
}
