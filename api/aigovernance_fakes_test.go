package api_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/commands"
	aicmd "github.com/cspm-es/cspm-es/commands/aigovernance"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/access"
	ai "github.com/cspm-es/cspm-es/domain/aigovernance"
	"github.com/cspm-es/cspm-es/queries"
	aiquery "github.com/cspm-es/cspm-es/queries/aigovernance"
)

// fakeAIGovernance serves the AI governance routes: one model ("m-1") of
// team-a, prohibited-refused in production as "m-prohibited", a bias
// test "bt-1", an incident "inc-1".
type fakeAIGovernance struct{}

func aiResult(id string) commands.Result {
	return commands.Result{ID: id, StreamID: "aimodel-" + id, Version: 2, Position: 42, EventIDs: []string{"0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e52"}}
}

func aiTeamA(m commands.Meta, id string, ids ...string) error {
	if m.TeamID != "team-a" {
		return domain.ErrNotFound
	}
	for _, x := range ids {
		if x == id {
			return nil
		}
	}
	return domain.ErrNotFound
}

func (fakeAIGovernance) RegisterModel(_ context.Context, _ commands.Meta, cmd aicmd.RegisterModel) (commands.Result, error) {
	if cmd.Name == "" {
		var v domain.Validator
		v.Add("name", "is required")
		return commands.Result{}, v.Err()
	}
	return aiResult("m-2"), nil
}

func (fakeAIGovernance) ReleaseModelVersion(_ context.Context, m commands.Meta, cmd aicmd.ReleaseModelVersion) (commands.Result, error) {
	return aiResult(cmd.ModelID), aiTeamA(m, cmd.ModelID, "m-1")
}

func (fakeAIGovernance) ChangeModelStatus(_ context.Context, m commands.Meta, cmd aicmd.ChangeModelStatus) (commands.Result, error) {
	if err := aiTeamA(m, cmd.ModelID, "m-1", "m-prohibited"); err != nil {
		return commands.Result{}, err
	}
	if cmd.ModelID == "m-prohibited" && cmd.Status == ai.StatusProduction {
		return commands.Result{}, domain.Rule(ai.CodeProhibitedDeployment, "model m-prohibited is classified prohibited under the EU AI Act (Article 5)")
	}
	return aiResult(cmd.ModelID), nil
}

func (fakeAIGovernance) LinkModelAssets(_ context.Context, m commands.Meta, cmd aicmd.ModelAssets) (commands.Result, error) {
	return aiResult(cmd.ModelID), aiTeamA(m, cmd.ModelID, "m-1")
}

func (fakeAIGovernance) UnlinkModelAssets(_ context.Context, m commands.Meta, cmd aicmd.ModelAssets) (commands.Result, error) {
	return aiResult(cmd.ModelID), aiTeamA(m, cmd.ModelID, "m-1")
}

func (fakeAIGovernance) RetireModel(_ context.Context, m commands.Meta, cmd aicmd.RetireModel) (commands.Result, error) {
	return aiResult(cmd.ModelID), aiTeamA(m, cmd.ModelID, "m-1")
}

func (fakeAIGovernance) ClassifyModel(_ context.Context, m commands.Meta, cmd aicmd.ClassifyModel) (commands.Result, error) {
	return aiResult(cmd.ModelID), aiTeamA(m, cmd.ModelID, "m-1")
}

func (fakeAIGovernance) DeclareTransparency(_ context.Context, m commands.Meta, cmd aicmd.DeclareTransparency) (commands.Result, error) {
	return aiResult(cmd.ModelID), aiTeamA(m, cmd.ModelID, "m-1")
}

func (fakeAIGovernance) DefineBiasTest(_ context.Context, m commands.Meta, cmd aicmd.DefineBiasTest) (commands.Result, error) {
	if aiTeamA(m, cmd.ModelID, "m-1", "0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e51") != nil {
		var v domain.Validator
		v.Add("model_id", "is not a model of the team")
		return commands.Result{}, v.Err()
	}
	return aiResult("bt-2"), nil
}

func (fakeAIGovernance) RecordBiasRun(_ context.Context, m commands.Meta, cmd aicmd.RecordBiasRun) (commands.Result, error) {
	return aiResult(cmd.TestID), aiTeamA(m, cmd.TestID, "bt-1")
}

func (fakeAIGovernance) ReportIncident(_ context.Context, m commands.Meta, cmd aicmd.ReportIncident) (commands.Result, error) {
	return aiResult("inc-2"), nil
}

func (fakeAIGovernance) ChangeIncidentStatus(_ context.Context, m commands.Meta, cmd aicmd.ChangeIncidentStatus) (commands.Result, error) {
	return aiResult(cmd.IncidentID), aiTeamA(m, cmd.IncidentID, "inc-1")
}

func fakeAIModel() aiquery.Model {
	return aiquery.Model{ID: "m-1", Name: "credit-scoring", Version: "1.1", Versions: []string{"1.0", "1.1"}, DataCategories: []string{"financial"},
		Owner: "risk-team", Status: ai.StatusStaging, Assets: []string{"i-0abc"}, RiskClass: "high", Rationale: "Annex III 5(b)",
		ClassifiedAt: &fakeAt, RegisteredAt: fakeAt, UpdatedAt: fakeAt}
}

func (fakeAIGovernance) ListModels(_ context.Context, team, class, _ string, _ queries.Page) (aiquery.ModelList, error) {
	if class == "severe" {
		var v domain.Validator
		v.Add("risk_class", "not a class")
		return aiquery.ModelList{}, v.Err()
	}
	if team != "team-a" {
		return aiquery.ModelList{}, nil
	}
	return aiquery.ModelList{Items: []aiquery.Model{fakeAIModel()}}, nil
}

func (fakeAIGovernance) ModelsByClass(context.Context, string) (map[string]int64, error) {
	return map[string]int64{"prohibited": 0, "high": 1, "limited": 0, "minimal": 0, "unclassified": 0}, nil
}

func (fakeAIGovernance) GetModel(_ context.Context, team, id string) (aiquery.ModelDetail, error) {
	if team != "team-a" || id != "m-1" {
		return aiquery.ModelDetail{}, queries.NotFound("model", id)
	}
	return aiquery.ModelDetail{Model: fakeAIModel(), Classifications: []aiquery.Classification{
		{RiskClass: "limited", Rationale: "chat", ClassifiedAt: fakeAt}, {RiskClass: "high", PreviousClass: "limited", Rationale: "Annex III 5(b)", ClassifiedAt: fakeAt}}}, nil
}

func fakeAIObligations() aiquery.ModelObligations {
	return aiquery.ModelObligations{ModelID: "m-1", Name: "credit-scoring", Status: ai.StatusStaging, RiskClass: "high", Regime: ai.RegimeHighRisk,
		Deployable: true, Assessed: true, AssessmentID: "as-ai", AssessmentName: "credit EU AI Act", AssessmentStatus: "open", FrameworkVersion: "2",
		Requirements: 88, Open: 87}
}

func (fakeAIGovernance) ListObligations(_ context.Context, team, _ string, _ queries.Page) (aiquery.ObligationList, error) {
	if team != "team-a" {
		return aiquery.ObligationList{}, nil
	}
	return aiquery.ObligationList{Items: []aiquery.ModelObligations{fakeAIObligations()}}, nil
}

func (fakeAIGovernance) Obligations(_ context.Context, team, id string) (aiquery.ModelObligations, error) {
	if team != "team-a" || id != "m-1" {
		return aiquery.ModelObligations{}, queries.NotFound("model", id)
	}
	o := fakeAIObligations()
	o.OpenObligations = []aiquery.OpenObligation{{ID: "urn:intuitem:risk:req_node:ai-act:8.2", RefID: "8.2", Article: "Article 8"}}
	return o, nil
}

func fakeAIBiasTest() aiquery.BiasTest {
	v, p := 0.04, true
	return aiquery.BiasTest{ID: "bt-1", ModelID: "m-1", Name: "approval parity", Metric: ai.DemographicParityDifference, Attribute: "sex",
		Groups: []string{"female", "male"}, Threshold: 0.1, Direction: ai.LowerIsBetter, DefinedAt: fakeAt, Runs: 2, LastRunAt: &fakeAt,
		LastValue: &v, LastPassed: &p, LastModelVersion: "1.1"}
}

func (fakeAIGovernance) ListBiasTests(_ context.Context, team, _ string, _ queries.Page) (aiquery.BiasTestList, error) {
	if team != "team-a" {
		return aiquery.BiasTestList{}, nil
	}
	return aiquery.BiasTestList{Items: []aiquery.BiasTest{fakeAIBiasTest()}}, nil
}

func (fakeAIGovernance) BiasResults(_ context.Context, team, id string) (aiquery.BiasResults, error) {
	if team != "team-a" || id != "bt-1" {
		return aiquery.BiasResults{}, queries.NotFound("bias test", id)
	}
	runs := []aiquery.BiasRun{
		{RunID: "r1", ModelVersion: "1.0", Value: 0.2, Passed: false, RanAt: fakeAt, Groups: []aiquery.GroupResult{
			{Group: "female", Positive: 30, Total: 100, Rate: 0.3, Gap: 0.2}, {Group: "male", Positive: 50, Total: 100, Rate: 0.5, Passed: true}}},
		{RunID: "r2", ModelVersion: "1.1", Value: 0.04, Passed: true, RanAt: fakeAt, Groups: []aiquery.GroupResult{
			{Group: "female", Positive: 46, Total: 100, Rate: 0.46, Gap: 0.04, Passed: true}, {Group: "male", Positive: 50, Total: 100, Rate: 0.5, Passed: true}}},
	}
	return aiquery.BiasResults{Test: fakeAIBiasTest(), Runs: runs, Versions: aiquery.Trend(runs, ai.LowerIsBetter)}, nil
}

func (fakeAIGovernance) ListIncidents(_ context.Context, team, _, _ string, _ queries.Page) (aiquery.IncidentList, error) {
	if team != "team-a" {
		return aiquery.IncidentList{}, nil
	}
	return aiquery.IncidentList{Items: []aiquery.Incident{{ID: "inc-1", ModelID: "m-1", Title: "approval drift", Severity: ai.SeverityHigh,
		Status: ai.IncidentMitigated, ReportedAt: fakeAt, UpdatedAt: fakeAt}}}, nil
}

// aiGovernanceContract: every route answers its documented shape; a
// viewer cannot write; another team's model is 404; a prohibited model
// refused production is 422 naming the rule.
func aiGovernanceContract(t *testing.T, c *contract) {
	analyst := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-a")}
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	viewerB := "Bearer " + testKey(access.Viewer, "team-b")
	c.send(t, request{Path: "/api/v1/ai/models", Body: exampleBody(t, c.doc, "registerModel"), Header: viewer}, 403, docValid)
	c.send(t, request{Path: "/api/v1/ai/models", Body: exampleBody(t, c.doc, "registerModel"), Header: analyst}, 201, docValid)
	bad := c.send(t, request{Path: "/api/v1/ai/models", Body: `{"version": "1", "owner": "o"}`, Header: analyst}, 400, docEither)
	assert.Contains(t, string(bad.Raw), `"field":"name"`)
	c.get(t, "/api/v1/ai/models?risk_class=high&status=staging", 200, docValid)
	c.get(t, "/api/v1/ai/models?risk_class=severe", 400, docInvalid)
	c.get(t, "/api/v1/ai/risk-classes", 200, docValid)
	c.get(t, "/api/v1/ai/models/m-1", 200, docValid)
	c.get(t, "/api/v1/ai/models/m-1", 404, docValid, "Authorization", viewerB)
	for _, op := range []struct{ path, op string }{
		{"/versions", "releaseModelVersion"}, {"/status", "changeModelStatus"}, {"/assets", "linkModelAssets"},
		{"/assets/unlink", "unlinkModelAssets"}, {"/classification", "classifyModel"}, {"/transparency", "declareTransparency"},
		{"/retire", "retireModel"},
	} {
		c.send(t, request{Path: "/api/v1/ai/models/m-1" + op.path, Body: exampleBody(t, c.doc, op.op), Header: analyst}, 202, docValid)
	}
	c.send(t, request{Path: "/api/v1/ai/models/m-1/retire", Header: analyst}, 202, docValid)
	res := c.send(t, request{Path: "/api/v1/ai/models/m-prohibited/status", Body: `{"status": "production"}`, Header: analyst}, 422, docValid)
	assert.Equal(t, ai.CodeProhibitedDeployment, res.Env.Error.Code)
	c.get(t, "/api/v1/ai/obligations?risk_class=high", 200, docValid)
	c.get(t, "/api/v1/ai/models/m-1/obligations", 200, docValid)
	c.send(t, request{Path: "/api/v1/ai/bias-tests", Body: exampleBody(t, c.doc, "defineBiasTest"), Header: analyst}, 201, docValid)
	c.get(t, "/api/v1/ai/bias-tests?model_id=m-1", 200, docValid)
	c.send(t, request{Path: "/api/v1/ai/bias-tests/bt-1/runs", Body: exampleBody(t, c.doc, "recordBiasRun"), Header: analyst}, 202, docValid)
	c.get(t, "/api/v1/ai/bias-tests/bt-1/results", 200, docValid)
	c.get(t, "/api/v1/ai/bias-tests/bt-1/results", 404, docValid, "Authorization", viewerB)
	c.send(t, request{Path: "/api/v1/ai/incidents", Body: exampleBody(t, c.doc, "reportIncident"), Header: analyst}, 201, docValid)
	c.get(t, "/api/v1/ai/incidents?status=mitigated", 200, docValid)
	c.send(t, request{Path: "/api/v1/ai/incidents/inc-1/status", Body: exampleBody(t, c.doc, "changeIncidentStatus"), Header: analyst}, 202, docValid)
}
