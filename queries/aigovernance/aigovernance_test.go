package aigovernance_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	ai "github.com/cspm-es/cspm-es/domain/aigovernance"
	"github.com/cspm-es/cspm-es/domain/domaintest"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/queries"
	aiq "github.com/cspm-es/cspm-es/queries/aigovernance"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

const team = "team-ai"

func service(t *testing.T, extra ...qt.EventData) *aiq.Service {
	h := &qt.History{}
	for _, d := range qt.AIGovernanceWorld(t) {
		h.Add(d.Team, d.Data)
	}
	h.Add("team-other", extra...)
	e := qt.NewEnv(t, h.Events)
	return aiq.New(e.Stores[dbregistry.AI_GOVERNANCE])
}

func TestModelsByRiskClass(t *testing.T) {
	s := service(t, ai.ModelRegistered{ModelID: "m-other", Name: "other", Version: "1", Owner: "o", Status: ai.StatusDevelopment, RegisteredAt: qt.T0})
	high, err := s.ListModels(t.Context(), team, "high", "", queries.Page{})
	require.NoError(t, err)
	require.Len(t, high.Items, 1)
	require.Equal(t, "credit-scoring", high.Items[0].Name)
	require.Equal(t, []string{"1.0", "1.1"}, high.Items[0].Versions)
	require.Equal(t, []string{"i-0abc"}, high.Items[0].Assets)
	counts, err := s.ModelsByClass(t.Context(), team)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"prohibited": 0, "high": 1, "limited": 1, "minimal": 0, "unclassified": 0}, counts,
		"team-other's model is not counted")
	_, err = s.ListModels(t.Context(), team, "severe", "gone", queries.Page{})
	domaintest.AssertOutcome(t, domaintest.Then[any]{Fields: []string{"risk_class", "status"}}, nil, err)

	m, err := s.GetModel(t.Context(), team, "m-credit")
	require.NoError(t, err)
	require.Len(t, m.Classifications, 2)
	require.Equal(t, "limited", m.Classifications[0].RiskClass)
	require.Equal(t, "limited", m.Classifications[1].PreviousClass)
	_, err = s.GetModel(t.Context(), "team-other", "m-credit")
	require.ErrorIs(t, err, queries.ErrNotFound)
}

func TestObligationsOpenPerModel(t *testing.T) {
	s := service(t)
	list, err := s.ListObligations(t.Context(), team, "", queries.Page{})
	require.NoError(t, err)
	require.Len(t, list.Items, 2)
	credit := list.Items[0]
	require.Equal(t, "m-credit", credit.ModelID, "most open first")
	require.True(t, credit.Assessed)
	require.Equal(t, "as-ai", credit.AssessmentID)
	require.Equal(t, int64(88), credit.Requirements)
	require.Equal(t, int64(87), credit.Open, "one of the 88 answered compliant")
	chat := list.Items[1]
	require.Equal(t, ai.RegimeTransparency, chat.Regime)
	require.Equal(t, int64(2), chat.Open)

	limited, err := s.ListObligations(t.Context(), team, "limited", queries.Page{})
	require.NoError(t, err)
	require.Len(t, limited.Items, 1)
	require.Equal(t, "m-chat", limited.Items[0].ModelID)

	one, err := s.Obligations(t.Context(), team, "m-credit")
	require.NoError(t, err)
	require.Len(t, one.OpenObligations, 87)
	require.Equal(t, aiq.OpenObligation{ID: "urn:intuitem:risk:req_node:ai-act:8.2", RefID: "8.2", Article: "Article 8"}, one.OpenObligations[0])
	c, err := s.Obligations(t.Context(), team, "m-chat")
	require.NoError(t, err)
	require.Equal(t, []string{"art50-2", "art50-4"}, []string{c.OpenObligations[0].ID, c.OpenObligations[1].ID})
	_, err = s.Obligations(t.Context(), "team-other", "m-credit")
	require.ErrorIs(t, err, queries.ErrNotFound)
}

// A high-risk model no assessment names owes every requirement of the
// latest catalogue.
func TestObligationsNotAssessed(t *testing.T) {
	h := &qt.History{}
	h.Add("team-admin", qt.EUAIActCatalogue(t))
	h.Add(team, ai.ModelRegistered{ModelID: "m1", Name: "cv-screening", Version: "1", Owner: "hr", Status: ai.StatusDevelopment, RegisteredAt: qt.T0},
		ai.ModelRiskClassified{ModelID: "m1", RiskClass: ai.HighRisk, Rationale: "Annex III 4(a)", ClassifiedAt: qt.T0})
	e := qt.NewEnv(t, h.Events)
	s := aiq.New(e.Stores[dbregistry.AI_GOVERNANCE])
	o, err := s.Obligations(t.Context(), team, "m1")
	require.NoError(t, err)
	require.False(t, o.Assessed)
	require.Equal(t, int64(88), o.Open)
	require.Equal(t, "2", o.FrameworkVersion)
	require.Len(t, o.OpenObligations, 88)
}

func TestBiasResultsOverTime(t *testing.T) {
	s := service(t)
	tests, err := s.ListBiasTests(t.Context(), team, "m-credit", queries.Page{})
	require.NoError(t, err)
	require.Len(t, tests.Items, 1)
	require.Equal(t, int64(2), tests.Items[0].Runs)
	r, err := s.BiasResults(t.Context(), team, "bt-1")
	require.NoError(t, err)
	require.Len(t, r.Runs, 2)
	require.InDelta(t, 0.2, r.Runs[0].Value, 1e-9)
	require.False(t, r.Runs[0].Passed)
	require.Len(t, r.Runs[0].Groups, 2)
	require.Equal(t, "female", r.Runs[0].Groups[0].Group)
	require.False(t, r.Runs[0].Groups[0].Passed)
	require.Len(t, r.Versions, 2)
	require.Equal(t, "1.0", r.Versions[0].ModelVersion)
	require.Equal(t, "1.1", r.Versions[1].ModelVersion)
	require.True(t, r.Versions[1].LatestPassed)
	require.InDelta(t, -0.16, *r.Versions[1].Change, 1e-9)
	require.Equal(t, "improved", r.Versions[1].Trend)
	_, err = s.BiasResults(t.Context(), "team-other", "bt-1")
	require.ErrorIs(t, err, queries.ErrNotFound)
}

func TestIncidents(t *testing.T) {
	s := service(t)
	l, err := s.ListIncidents(t.Context(), team, "m-credit", "mitigated", queries.Page{})
	require.NoError(t, err)
	require.Len(t, l.Items, 1)
	require.Equal(t, "approval drift", l.Items[0].Title)
	l, err = s.ListIncidents(t.Context(), team, "", "open", queries.Page{})
	require.NoError(t, err)
	require.Empty(t, l.Items)
	l, err = s.ListIncidents(t.Context(), "team-other", "", "", queries.Page{})
	require.NoError(t, err)
	require.Empty(t, l.Items)
}
