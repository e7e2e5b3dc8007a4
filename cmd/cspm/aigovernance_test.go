package main

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	acmd "github.com/cspm-es/cspm-es/commands/assessments"
	aiquery "github.com/cspm-es/cspm-es/queries/aigovernance"
	aquery "github.com/cspm-es/cspm-es/queries/assessments"
)

const euAIActCatalogue = "../../platform/parsers/cisoassistant/testdata/eu_ai_act_chapter3_section2_ciso-assistant-library_subset.json"

// loadEUAIAct loads the real EU AI Act catalogue over HTTP (admin)
// through the assessments module's loader, and asserts its counts: the
// Chapter III header and Section 2, 101 nodes, 88 assessable paragraphs
// of Articles 8 to 15.
func loadEUAIAct(t *testing.T, a *testApp, as ...string) {
	t.Helper()
	raw, err := os.ReadFile(euAIActCatalogue)
	require.NoError(t, err)
	var body any
	require.NoError(t, json.Unmarshal(raw, &body))
	ans := a.call(t, http.MethodPost, "/api/v1/catalogs", body, as...)
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, ans.status, "%s", ans.raw)
	var loaded acmd.CatalogLoadResult
	ans.data(t, &loaded)
	require.NotNil(t, loaded.Framework)
	require.Equal(t, "ai-act", loaded.Framework.Framework)
	require.Equal(t, 101, loaded.Framework.Requirements)
	require.Equal(t, 88, loaded.Framework.Assessable)
	var versions []aquery.FrameworkVersion
	eventually(t, 30*time.Second, "the EU AI Act catalogue is projected", func() bool {
		ans := a.call(t, http.MethodGet, "/api/v1/frameworks/ai-act/versions?requirements=true", nil, as...)
		if ans.status != http.StatusOK {
			return false
		}
		ans.data(t, &versions)
		return len(versions) == 1
	})
	var articles []string
	assessable := 0
	for _, n := range versions[0].Nodes {
		if n.Depth == 3 {
			articles = append(articles, n.Label())
		}
		if n.Assessable {
			assessable++
		}
	}
	require.Equal(t, []string{"Article 8", "Article 9", "Article 10", "Article 11", "Article 12", "Article 13", "Article 14", "Article 15"}, articles)
	require.Equal(t, 88, assessable)
}

func aiCreated(t *testing.T, ans *answer) api.CommandResult {
	t.Helper()
	var res api.CommandResult
	must(t, ans, http.StatusCreated).data(t, &res)
	return res
}

// aiWorld is team A's AI governance data (isolationAIGovernanceWorld).
type aiWorld struct {
	models, tests, incidents, assessments, secrets []string
}

// isolationAIGovernanceWorld gives team A models in each state (a
// high-risk model in production assessed against the EU AI Act, a
// prohibited one, a retired one), a bias test with runs on two versions,
// incidents open and closed.
func isolationAIGovernanceWorld(t *testing.T, a *testApp, asA []string) aiWorld {
	t.Helper()
	loadEUAIAct(t, a, asA...)
	var w aiWorld
	model := func(name, status string) string {
		res := aiCreated(t, a.call(t, http.MethodPost, "/api/v1/ai/models", map[string]any{"name": name, "version": "1.0", "owner": "iso-a-owner",
			"status": status, "assets": []string{"iso-a-asset-" + name}}, asA...))
		w.models = append(w.models, res.ID)
		w.secrets = append(w.secrets, name, "iso-a-asset-"+name)
		return res.ID
	}
	high := model("iso-a-model-high", "staging")
	must(t, a.call(t, http.MethodPost, "/api/v1/ai/models/"+high+"/classification", map[string]any{"risk_class": "high", "rationale": "iso-a-rationale"}, asA...), http.StatusAccepted)
	must(t, a.call(t, http.MethodPost, "/api/v1/ai/models/"+high+"/status", map[string]any{"status": "production"}, asA...), http.StatusAccepted)
	prohibited := model("iso-a-model-prohibited", "development")
	must(t, a.call(t, http.MethodPost, "/api/v1/ai/models/"+prohibited+"/classification", map[string]any{"risk_class": "prohibited", "rationale": "iso-a-social-scoring"}, asA...), http.StatusAccepted)
	retired := model("iso-a-model-retired", "production")
	must(t, a.call(t, http.MethodPost, "/api/v1/ai/models/"+retired+"/retire", nil, asA...), http.StatusAccepted)
	asm := aiCreated(t, a.call(t, http.MethodPost, "/api/v1/assessments", map[string]any{"name": "iso-a-ai-assessment", "framework": "ai-act",
		"scope": map[string]any{"models": []string{high}}}, asA...))
	w.assessments = append(w.assessments, asm.ID)
	must(t, a.call(t, http.MethodPost, "/api/v1/assessments/"+asm.ID+"/answers", map[string]any{"requirement_id": "urn:intuitem:risk:req_node:ai-act:8.1", "status": "compliant"}, asA...), http.StatusAccepted)
	bt := aiCreated(t, a.call(t, http.MethodPost, "/api/v1/ai/bias-tests", map[string]any{"model_id": high, "name": "iso-a-bias-test", "metric": "demographic_parity_difference",
		"attribute": "sex", "groups": []string{"iso-a-group-f", "iso-a-group-m"}, "threshold": 0.1}, asA...))
	w.tests = append(w.tests, bt.ID)
	run := func(id string, f int) {
		must(t, a.call(t, http.MethodPost, "/api/v1/ai/bias-tests/"+bt.ID+"/runs", map[string]any{"run_id": id, "groups": []map[string]any{
			{"group": "iso-a-group-f", "positive": f, "total": 100}, {"group": "iso-a-group-m", "positive": 50, "total": 100}}}, asA...), http.StatusAccepted)
	}
	run("iso-a-run-1", 30)
	must(t, a.call(t, http.MethodPost, "/api/v1/ai/models/"+high+"/versions", map[string]any{"version": "1.1"}, asA...), http.StatusAccepted)
	run("iso-a-run-2", 47)
	for i, title := range []string{"iso-a-incident-open", "iso-a-incident-closed"} {
		inc := aiCreated(t, a.call(t, http.MethodPost, "/api/v1/ai/incidents", map[string]any{"model_id": high, "title": title, "severity": "high"}, asA...))
		w.incidents = append(w.incidents, inc.ID)
		if i == 1 {
			must(t, a.call(t, http.MethodPost, "/api/v1/ai/incidents/"+inc.ID+"/status", map[string]any{"status": "closed", "note": "iso-a-note"}, asA...), http.StatusAccepted)
		}
	}
	w.secrets = append(w.secrets, "iso-a-owner", "iso-a-rationale", "iso-a-social-scoring", "iso-a-ai-assessment", "iso-a-bias-test", "iso-a-group-f",
		"iso-a-run-1", "iso-a-incident-open", "iso-a-incident-closed", "iso-a-note")
	w.secrets = append(append(append(append(w.secrets, w.models...), w.tests...), w.incidents...), w.assessments...)
	return w
}

// TestAIGovernanceThroughTheApp: the EU AI Act catalogue loaded over
// HTTP; a high-risk model assessed through an assessment of it that names
// the model; its open obligations, classification history, bias trend
// across versions and incidents over HTTP; a prohibited model refused
// production with the rule named.
func TestAIGovernanceThroughTheApp(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	admin := issueTestKey(t, a, "team-a", "admin")
	asA := []string{"Authorization", "Bearer " + admin.Key}
	w := isolationAIGovernanceWorld(t, a, asA)
	high, prohibited := w.models[0], w.models[1]

	ans := a.call(t, http.MethodPost, "/api/v1/ai/models/"+prohibited+"/status", map[string]any{"status": "production"}, asA...)
	require.Equal(t, http.StatusUnprocessableEntity, ans.status, "%s", ans.raw)
	require.Contains(t, string(ans.raw), `"code":"AI_PROHIBITED_DEPLOYMENT"`)

	head, err := a.store.HeadPosition(t.Context())
	require.NoError(t, err)
	var o aiquery.ModelObligations
	eventually(t, 30*time.Second, "the obligations are projected", func() bool {
		ans := a.call(t, http.MethodGet, "/api/v1/ai/models/"+high+"/obligations?min_position="+itoa(head), nil, asA...)
		if ans.status != http.StatusOK || stale(ans) {
			return false
		}
		ans.data(t, &o)
		return true
	})
	require.True(t, o.Assessed)
	require.Equal(t, w.assessments[0], o.AssessmentID)
	require.EqualValues(t, 88, o.Requirements)
	require.EqualValues(t, 87, o.Open, "8.1 answered compliant")
	require.Len(t, o.OpenObligations, 87)
	require.Equal(t, "Article 8", o.OpenObligations[0].Article)

	var m aiquery.ModelDetail
	must(t, a.call(t, http.MethodGet, "/api/v1/ai/models/"+high, nil, asA...), http.StatusOK).data(t, &m)
	require.Equal(t, "high", m.RiskClass)
	require.Equal(t, "production", m.Status)
	require.Len(t, m.Classifications, 1)
	var state map[string]any
	must(t, a.call(t, http.MethodGet, "/api/v1/audit/streams/aimodel-"+high+"/state", nil, asA...), http.StatusOK).data(t, &state)
	require.Contains(t, string(aiJSON(t, state)), `"risk_class":"high"`, "the audit replay's view of the model")

	var counts map[string]int64
	must(t, a.call(t, http.MethodGet, "/api/v1/ai/risk-classes", nil, asA...), http.StatusOK).data(t, &counts)
	require.Equal(t, map[string]int64{"prohibited": 1, "high": 1, "limited": 0, "minimal": 0, "unclassified": 0}, counts, "the retired model left out")

	var r aiquery.BiasResults
	must(t, a.call(t, http.MethodGet, "/api/v1/ai/bias-tests/"+w.tests[0]+"/results", nil, asA...), http.StatusOK).data(t, &r)
	require.Len(t, r.Runs, 2)
	require.False(t, r.Runs[0].Passed)
	require.True(t, r.Runs[1].Passed)
	require.Len(t, r.Versions, 2)
	require.Equal(t, "improved", r.Versions[1].Trend)

	// The unified view holds the EU AI Act assessment and each model's class.
	var all []map[string]any
	must(t, a.call(t, http.MethodGet, "/api/v1/assessments/all?kind=ai_risk_classification", nil, asA...), http.StatusOK).data(t, &all)
	require.Len(t, all, 2, "the high-risk and the prohibited model (the retired one was never classified)")

	// The closed incident's status change may still be on its way to the
	// registry (no min_position here): wait for it.
	var open []aiquery.Incident
	eventually(t, 30*time.Second, "the closed incident is projected closed", func() bool {
		open = nil
		must(t, a.call(t, http.MethodGet, "/api/v1/ai/incidents?status=open", nil, asA...), http.StatusOK).data(t, &open)
		return len(open) == 1
	})
	require.Len(t, open, 1)
	require.Equal(t, "iso-a-incident-open", open[0].Title)
}

func aiJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
