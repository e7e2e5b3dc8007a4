package aigovernance_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	aicmd "github.com/cspm-es/cspm-es/commands/aigovernance"
	"github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/domain"
	ai "github.com/cspm-es/cspm-es/domain/aigovernance"
)

var (
	teamA = commands.Meta{TeamID: "team-a", Actor: "alice"}
	teamB = commands.Meta{TeamID: "team-b", Actor: "bob"}
)

func register(t *testing.T, h *aicmd.Handlers, meta commands.Meta, status string) string {
	t.Helper()
	res, err := h.RegisterModel(t.Context(), meta, aicmd.RegisterModel{Name: "credit-scoring", Version: "1.0", Provider: "in-house",
		Purpose: "creditworthiness of natural persons", DataCategories: []string{"financial", "personal"}, Owner: "risk-team", Status: status})
	require.NoError(t, err)
	return res.ID
}

func TestModelCommands(t *testing.T) {
	d := commandstest.New(t)
	h := aicmd.New(d.Kit)
	id := register(t, h, teamA, ai.StatusStaging)
	commandstest.AssertUUIDv7(t, id)

	_, err := h.ClassifyModel(t.Context(), teamA, aicmd.ClassifyModel{ModelID: id, RiskClass: ai.Prohibited, Rationale: "Article 5(1)(c): social scoring"})
	require.NoError(t, err)
	head := d.Head(t)
	_, err = h.ChangeModelStatus(t.Context(), teamA, aicmd.ChangeModelStatus{ModelID: id, Status: ai.StatusProduction})
	commandstest.RequireRule(t, err, ai.CodeProhibitedDeployment)
	require.Equal(t, head, d.Head(t), "nothing appended")

	// Reclassified: the history is kept, and production is allowed.
	_, err = h.ClassifyModel(t.Context(), teamA, aicmd.ClassifyModel{ModelID: id, RiskClass: ai.HighRisk, Rationale: "Annex III 5(b) after the scoring feature was dropped"})
	require.NoError(t, err)
	_, err = h.ChangeModelStatus(t.Context(), teamA, aicmd.ChangeModelStatus{ModelID: id, Status: ai.StatusProduction})
	require.NoError(t, err)
	again, err := h.ChangeModelStatus(t.Context(), teamA, aicmd.ChangeModelStatus{ModelID: id, Status: ai.StatusProduction})
	require.NoError(t, err)
	require.Empty(t, again.EventIDs, "the same status appends nothing")

	_, err = h.LinkModelAssets(t.Context(), teamA, aicmd.ModelAssets{ModelID: id, Assets: []string{"i-1", "i-2"}})
	require.NoError(t, err)
	_, err = h.UnlinkModelAssets(t.Context(), teamA, aicmd.ModelAssets{ModelID: id, Assets: []string{"i-1"}})
	require.NoError(t, err)
	_, err = h.ReleaseModelVersion(t.Context(), teamA, aicmd.ReleaseModelVersion{ModelID: id, Version: "1.1"})
	require.NoError(t, err)

	events := d.Decoded(t, aicmd.ModelStreamID(id))
	var classes []ai.RiskClass
	for _, e := range events {
		if c, ok := e.(ai.ModelRiskClassified); ok {
			classes = append(classes, c.RiskClass)
		}
	}
	require.Equal(t, []ai.RiskClass{ai.Prohibited, ai.HighRisk}, classes)
	require.Equal(t, ai.ModelAssetsUnlinked{ModelID: id, Assets: []string{"i-1"}, UnlinkedAt: commandstest.T0}, events[len(events)-2])

	// Another team sees no such model.
	_, err = h.RetireModel(t.Context(), teamB, aicmd.RetireModel{ModelID: id})
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, err = h.ReportIncident(t.Context(), teamB, aicmd.ReportIncident{ModelID: id, Title: "x", Severity: ai.SeverityLow})
	commandstest.RequireFields(t, err, "model_id")

	// The audit replay's state view of the stream.
	state, err := commands.State(d.Codec, d.Stream(t, aicmd.ModelStreamID(id)))
	require.NoError(t, err)
	require.Equal(t, ai.ModelState{ModelID: id, Version: "1.1", Versions: []string{"1.0", "1.1"}, Status: ai.StatusProduction, Assets: []string{"i-2"},
		RiskClass: ai.HighRisk, Rationale: "Annex III 5(b) after the scoring feature was dropped"}, state)

	_, err = h.RetireModel(t.Context(), teamA, aicmd.RetireModel{ModelID: id, Reason: "replaced"})
	require.NoError(t, err)
	_, err = h.ChangeModelStatus(t.Context(), teamA, aicmd.ChangeModelStatus{ModelID: id, Status: ai.StatusStaging})
	commandstest.RequireRule(t, err, ai.CodeModelRetired)
}

func TestBiasAndIncidentCommands(t *testing.T) {
	d := commandstest.New(t)
	h := aicmd.New(d.Kit)
	id := register(t, h, teamA, "")
	_, err := h.DefineBiasTest(t.Context(), teamB, aicmd.DefineBiasTest{ModelID: id, Name: "x", Metric: ai.DemographicParityDifference,
		Attribute: "sex", Groups: []string{"f", "m"}, Threshold: 0.1})
	commandstest.RequireFields(t, err, "model_id")
	bt, err := h.DefineBiasTest(t.Context(), teamA, aicmd.DefineBiasTest{ModelID: id, Name: "approval parity", Metric: ai.DemographicParityDifference,
		Attribute: "sex", Groups: []string{"female", "male"}, Threshold: 0.1})
	require.NoError(t, err)

	run := aicmd.RecordBiasRun{TestID: bt.ID, RunID: "run-1", Groups: []ai.GroupCounts{{Group: "female", Positive: 30, Total: 100}, {Group: "male", Positive: 50, Total: 100}}}
	r1, err := h.RecordBiasRun(t.Context(), teamA, run)
	require.NoError(t, err)
	require.Len(t, r1.EventIDs, 1)
	r2, err := h.RecordBiasRun(t.Context(), teamA, run)
	require.NoError(t, err)
	require.Empty(t, r2.EventIDs, "the same run id appends nothing")
	events := d.Decoded(t, aicmd.BiasTestStreamID(bt.ID))
	got := events[1].(ai.BiasTestRunRecorded)
	require.Equal(t, "1.0", got.ModelVersion, "the model's current version")
	require.InDelta(t, 0.2, got.Value, 1e-9)
	require.False(t, got.Passed)

	_, err = h.RecordBiasRun(t.Context(), teamB, run)
	require.ErrorIs(t, err, domain.ErrNotFound)

	inc, err := h.ReportIncident(t.Context(), teamA, aicmd.ReportIncident{ModelID: id, Title: "approval rate drift", Severity: ai.SeverityHigh})
	require.NoError(t, err)
	_, err = h.ChangeIncidentStatus(t.Context(), teamA, aicmd.ChangeIncidentStatus{IncidentID: inc.ID, Status: ai.IncidentClosed, Note: "retrained"})
	require.NoError(t, err)
	_, err = h.ChangeIncidentStatus(t.Context(), teamA, aicmd.ChangeIncidentStatus{IncidentID: inc.ID, Status: ai.IncidentOpen})
	commandstest.RequireRule(t, err, ai.CodeIncidentClosed)
	state, err := commands.State(d.Codec, d.Stream(t, aicmd.IncidentStreamID(inc.ID)))
	require.NoError(t, err)
	require.Equal(t, ai.IncidentState{IncidentID: inc.ID, ModelID: id, Status: ai.IncidentClosed}, state)
	state, err = commands.State(d.Codec, d.Stream(t, aicmd.BiasTestStreamID(bt.ID)))
	require.NoError(t, err)
	require.Equal(t, []string{"run-1"}, state.(ai.BiasTestState).Runs)
}
