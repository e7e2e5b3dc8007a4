package queriestest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ai "github.com/cspm-es/cspm-es/domain/aigovernance"
	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/platform/parsers/cisoassistant"
)

// EUAIActCatalogue is the real EU AI Act catalogue (the CISO Assistant
// library subset, Chapter III Section 2) as loaded in version "2".
func EUAIActCatalogue(t testing.TB) as.FrameworkVersionLoaded {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "platform", "parsers", "cisoassistant", "testdata",
		"eu_ai_act_chapter3_section2_ciso-assistant-library_subset.json"))
	require.NoError(t, err)
	defer f.Close()
	lib, err := cisoassistant.Parse(f)
	require.NoError(t, err)
	c := *lib.Catalogue
	return as.FrameworkVersionLoaded{Framework: c.Framework, Version: "2", Name: c.Name, Source: c.Source, ContentHash: "h-ai-act",
		Requirements: c.Requirements, LoadedAt: T0}
}

// AIGovernanceWorld is the AI governance module's part of the runtime
// test's world (team-ai): the EU AI Act catalogue, a high-risk model
// (reclassified, a second version, an asset) assessed through an EU AI
// Act assessment with answers, a limited-risk model with its
// transparency declared, a bias test run on both versions of the first,
// an incident mitigated.
func AIGovernanceWorld(t testing.TB) []StreamedEvent {
	t.Helper()
	cat := EUAIActCatalogue(t)
	reqs := as.AssessedRequirements(cat.Requirements)
	const team = "team-ai"
	ref := as.FrameworkRef{Framework: ai.EUAIActFramework, Version: "2"}
	run := func(id, version string, f, m int64) ai.BiasTestRunRecorded {
		counts := []ai.GroupCounts{{Group: "female", Positive: f, Total: 100}, {Group: "male", Positive: m, Total: 100}}
		v, ok, groups := ai.Evaluate(ai.DemographicParityDifference, 0.1, ai.LowerIsBetter, counts)
		return ai.BiasTestRunRecorded{TestID: "bt-1", RunID: id, ModelID: "m-credit", ModelVersion: version, Metric: ai.DemographicParityDifference,
			Threshold: 0.1, Direction: ai.LowerIsBetter, Value: v, Passed: ok, Groups: groups, RanAt: At(time.Duration(len(id)) * time.Hour)}
	}
	return []StreamedEvent{
		{"catalog-ai-act", "FrameworkCatalog", "team-admin", cat},
		{"aimodel-m-credit", "AIModel", team, ai.ModelRegistered{ModelID: "m-credit", Name: "credit-scoring", Version: "1.0", Owner: "risk",
			Status: ai.StatusStaging, DataCategories: []string{"financial"}, RegisteredAt: T0}},
		{"aimodel-m-credit", "AIModel", team, ai.ModelRiskClassified{ModelID: "m-credit", RiskClass: ai.Limited, Rationale: "chat", ClassifiedAt: T0}},
		{"aimodel-m-credit", "AIModel", team, ai.ModelRiskClassified{ModelID: "m-credit", RiskClass: ai.HighRisk, PreviousClass: ai.Limited,
			Rationale: "Annex III 5(b)", ClassifiedAt: At(time.Hour)}},
		{"aimodel-m-credit", "AIModel", team, ai.ModelAssetsLinked{ModelID: "m-credit", Assets: []string{"i-0abc"}, LinkedAt: T0}},
		{"assessment-as-ai", "Assessment", team, as.AssessmentCreated{AssessmentID: "as-ai", Name: "credit EU AI Act", Framework: ref,
			Requirements: reqs, Scope: as.Scope{Models: []string{"m-credit"}}, AsOf: T0, CreatedAt: T0}},
		{"assessment-as-ai", "Assessment", team, as.RequirementAnswered{AssessmentID: "as-ai", RequirementID: reqs[0].ID, Status: as.Compliant, AnsweredAt: T0}},
		{"aibiastest-bt-1", "AIBiasTest", team, ai.BiasTestDefined{TestID: "bt-1", ModelID: "m-credit", Name: "approval parity",
			Metric: ai.DemographicParityDifference, Attribute: "sex", Groups: []string{"female", "male"}, Threshold: 0.1, Direction: ai.LowerIsBetter, DefinedAt: T0}},
		{"aibiastest-bt-1", "AIBiasTest", team, run("r1", "1.0", 30, 50)},
		{"aimodel-m-credit", "AIModel", team, ai.ModelVersionReleased{ModelID: "m-credit", Version: "1.1", PreviousVersion: "1.0", ReleasedAt: At(2 * time.Hour)}},
		{"aibiastest-bt-1", "AIBiasTest", team, run("r2-", "1.1", 46, 50)},
		{"aimodel-m-chat", "AIModel", team, ai.ModelRegistered{ModelID: "m-chat", Name: "support-chat", Version: "3", Owner: "cx", Status: ai.StatusProduction, RegisteredAt: T0}},
		{"aimodel-m-chat", "AIModel", team, ai.ModelRiskClassified{ModelID: "m-chat", RiskClass: ai.Limited, Rationale: "Article 50(1)", ClassifiedAt: T0}},
		{"aimodel-m-chat", "AIModel", team, ai.TransparencyDeclared{ModelID: "m-chat", Met: []string{"art50-1"}, NotApplicable: []string{"art50-3"}, DeclaredAt: T0}},
		{"aiincident-inc-1", "AIModelIncident", team, ai.ModelIncidentReported{IncidentID: "inc-1", ModelID: "m-credit", Title: "approval drift",
			Severity: ai.SeverityHigh, ReportedAt: T0}},
		{"aiincident-inc-1", "AIModelIncident", team, ai.ModelIncidentStatusChanged{IncidentID: "inc-1", ModelID: "m-credit", From: ai.IncidentOpen,
			To: ai.IncidentMitigated, ChangedAt: At(time.Hour)}},
	}
}
