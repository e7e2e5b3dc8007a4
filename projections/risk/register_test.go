package risk_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	riskproj "github.com/cspm-es/cspm-es/projections/risk"
)

func day(n int) time.Time { return pt.T0.AddDate(0, 0, n) }

// registerStreams: a matrix, a risk with a plan, a KRI with measurements
// (one dated in the past), and two acceptances of the same finding (one
// revoked, one of which the item is fixed under), of team-a; a risk of
// team-b.
func registerStreams() [][]projections.Event {
	sc := rdomain.Score{Likelihood: "likely", Impact: "major", Level: "critical", LevelRank: 4}
	return [][]projections.Event{
		pt.Stream("team-a", pt.Positions(1), rdomain.RiskMatrixDefined{Version: 1, Matrix: rdomain.DefaultMatrix(), DefinedAt: day(0)}),
		pt.Stream("team-a", pt.Positions(2, 5, 9, 12),
			rdomain.RiskIdentified{RiskID: "r1", Title: "leak", Owner: "alice", Links: rdomain.Links{Findings: []string{"f1"}}, IdentifiedAt: day(0)},
			rdomain.RiskScored{RiskID: "r1", Kind: rdomain.Current, Score: sc, ScoredAt: day(1)},
			rdomain.TreatmentPlanned{RiskID: "r1", PlanID: "p1", Strategy: rdomain.Mitigate, Owner: "bob", DueDate: day(30),
				Tasks: []rdomain.Task{{TaskID: "1", Title: "a", Status: rdomain.TaskTodo}, {TaskID: "2", Title: "b", Status: rdomain.TaskTodo}}, PlannedAt: day(2)},
			rdomain.TreatmentTaskUpdated{RiskID: "r1", PlanID: "p1", TaskID: "1", Status: rdomain.TaskDone, UpdatedAt: day(3)}),
		pt.Stream("team-a", pt.Positions(3, 7, 11),
			rdomain.KRIDefined{KRIID: "k1", Spec: rdomain.KRISpec{Name: "n", Unit: "u", Direction: rdomain.HigherIsWorse, Amber: 5, Red: 10, Source: rdomain.SourceManual}, DefinedAt: day(0)},
			rdomain.KRIMeasured{KRIID: "k1", Value: 12, MeasuredAt: day(2)},
			rdomain.KRIMeasured{KRIID: "k1", Value: 1, MeasuredAt: day(1)}),
		pt.Stream("team-a", pt.Positions(4, 8),
			rdomain.RiskAccepted{AcceptanceID: "a1", Scope: rdomain.Scope{FindingIDs: []string{"f1"}}, Reason: "r", Approver: "c", ExpiresAt: day(30), AcceptedAt: day(0)},
			rdomain.RiskAcceptanceRevoked{AcceptanceID: "a1", RevokedAt: day(1)}),
		pt.Stream("team-a", pt.Positions(6, 10),
			rdomain.RiskAccepted{AcceptanceID: "a2", Scope: rdomain.Scope{FindingIDs: []string{"f1", "f2"}}, Reason: "r", Approver: "c", ExpiresAt: day(60), AcceptedAt: day(1)},
			rdomain.AcceptedItemFixed{AcceptanceID: "a2", ItemID: "f2", Module: rdomain.ModuleFindings, FixedAt: day(3)}),
		pt.Stream("team-b", pt.Positions(13), rdomain.RiskIdentified{RiskID: "r1", Title: "b's", Owner: "zed", IdentifiedAt: day(0)}),
	}
}

func TestRegisterOrderIndependent(t *testing.T) {
	pt.AssertOrderIndependent(t, riskproj.NewRegister(), registerStreams())
}

func TestRegister(t *testing.T) {
	var all []projections.Event
	for _, s := range registerStreams() {
		all = append(all, s...)
	}
	tx := pt.Apply(t, riskproj.NewRegister(), append(all, all...)...) // redelivered: nothing changes
	r := tx.Colls[riskproj.RisksCollection]["team-a/r1"]
	require.NotNil(t, r)
	assert.Equal(t, "critical", r["level"])
	plans := r["plans"].([]any)
	require.Len(t, plans, 1)
	assert.Equal(t, int64(50), plans[0].(map[string]any)["progress"])
	assert.Equal(t, "b's", tx.Colls[riskproj.RisksCollection]["team-b/r1"]["title"], "team b's risk of the same id is its own")

	k := tx.Colls[riskproj.KRIsCollection]["team-a/k1"]
	assert.Equal(t, 12.0, k["last_value"], "the latest measurement by its time, not by arrival")
	assert.Equal(t, rdomain.Red, k["state"])
	assert.Len(t, tx.Colls[riskproj.MeasurementsCollection], 2)

	f1 := tx.Colls[riskproj.AcceptedItemsCollection]["team-a/f1"]
	assert.Equal(t, true, f1["accepted"], "a1 revoked, a2 active")
	assert.Equal(t, day(60), f1["accepted_until"])
	f2 := tx.Colls[riskproj.AcceptedItemsCollection]["team-a/f2"]
	assert.Equal(t, false, f2["accepted"], "fixed while accepted")
	assert.Equal(t, rdomain.AcceptanceRevoked, tx.Colls[riskproj.AcceptancesCollection]["team-a/a1"]["status"])
	assert.Equal(t, rdomain.AcceptanceActive, tx.Colls[riskproj.AcceptancesCollection]["team-a/a2"]["status"])
}
