package platform_test

import (
	"time"

	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/platform"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// The dashboard's risk section: top open risks by level (current, else
// inherent), KRIs red at their latest measurement (manual) or observation
// (computed), active acceptances by
// expiry; the same in every arrival order.
func TestDashboardRiskSection(t *testing.T) {
	t.Parallel()
	sc := func(level string, rank int) rdomain.Score {
		return rdomain.Score{Likelihood: "x", Impact: "y", Level: level, LevelRank: rank}
	}
	streams := [][]projections.Event{
		pt.Stream("team-a", pt.Positions(1, 2, 3),
			rdomain.RiskIdentified{RiskID: "r1", Title: "one", Owner: "o", IdentifiedAt: pt.At(0 * time.Hour)},
			rdomain.RiskScored{RiskID: "r1", Kind: rdomain.Inherent, Score: sc("critical", 4), ScoredAt: pt.At(0 * time.Hour)},
			rdomain.RiskScored{RiskID: "r1", Kind: rdomain.Current, Score: sc("medium", 2), ScoredAt: pt.At(1 * time.Hour)}),
		pt.Stream("team-a", pt.Positions(4, 5),
			rdomain.RiskIdentified{RiskID: "r2", Title: "two", Owner: "o", IdentifiedAt: pt.At(0 * time.Hour)},
			rdomain.RiskScored{RiskID: "r2", Kind: rdomain.Inherent, Score: sc("high", 3), ScoredAt: pt.At(0 * time.Hour)}),
		pt.Stream("team-a", pt.Positions(6, 7),
			rdomain.RiskIdentified{RiskID: "r3", Title: "closed", Owner: "o", IdentifiedAt: pt.At(0 * time.Hour)},
			rdomain.RiskClosed{RiskID: "r3", Reason: "gone", ClosedAt: pt.At(1 * time.Hour)}),
		pt.Stream("team-a", pt.Positions(8, 9, 10),
			rdomain.KRIDefined{KRIID: "k1", Spec: rdomain.KRISpec{Name: "criticals", Unit: "u", Direction: rdomain.HigherIsWorse, Amber: 1, Red: 5, Source: rdomain.SourceManual}, DefinedAt: pt.At(0 * time.Hour)},
			rdomain.KRIMeasured{KRIID: "k1", Value: 9, MeasuredAt: pt.At(2 * time.Hour)},
			rdomain.KRIMeasured{KRIID: "k1", Value: 0, MeasuredAt: pt.At(1 * time.Hour)}), // older: the latest stays red
		pt.Stream("team-a", pt.Positions(14, 15, 16),
			rdomain.KRIDefined{KRIID: "k2", Spec: rdomain.KRISpec{Name: "prod criticals", Unit: "findings", Direction: rdomain.HigherIsWorse, Amber: 1, Red: 3,
				Source: rdomain.SourceOpenCriticalFindings, Account: "123456789012"}, DefinedAt: pt.At(0 * time.Hour)},
			rdomain.ComputedKRIObserved{KRIID: "k2", Value: 4, State: rdomain.Red, MeasuredAt: pt.At(3 * time.Hour), ObservedAt: pt.At(3 * time.Hour)},
			rdomain.ComputedKRIObserved{KRIID: "k2", Value: 2, State: rdomain.Amber, MeasuredAt: pt.At(1 * time.Hour), ObservedAt: pt.At(4 * time.Hour)}), // older point: stays red
		pt.Stream("team-a", pt.Positions(17, 18),
			rdomain.KRIDefined{KRIID: "k3", Spec: rdomain.KRISpec{Name: "kev overdue", Unit: "occurrences", Direction: rdomain.HigherIsWorse, Amber: 1, Red: 2,
				Source: rdomain.SourceKEVOverdue}, DefinedAt: pt.At(0 * time.Hour)},
			rdomain.ComputedKRIObserved{KRIID: "k3", Value: 0, State: rdomain.Green, MeasuredAt: pt.At(2 * time.Hour), ObservedAt: pt.At(2 * time.Hour)}),
		pt.Stream("team-a", pt.Positions(11, 12),
			rdomain.RiskAccepted{AcceptanceID: "a1", Scope: rdomain.Scope{FindingIDs: []string{"f"}}, Reason: "r", Approver: "c", ExpiresAt: pt.At(100 * time.Hour), AcceptedAt: pt.At(0 * time.Hour)},
			rdomain.RiskAcceptanceRevoked{AcceptanceID: "a1", RevokedAt: pt.At(1 * time.Hour)}),
		pt.Stream("team-a", pt.Positions(13),
			rdomain.RiskAccepted{AcceptanceID: "a2", Scope: rdomain.Scope{FindingIDs: []string{"f"}}, Reason: "r", Approver: "c", ExpiresAt: pt.At(50 * time.Hour), AcceptedAt: pt.At(0 * time.Hour)}),
	}
	var all []projections.Event
	for _, s := range streams {
		all = append(all, s...)
	}
	tx := pt.Apply(t, platform.NewDashboard(), all...)
	risk, _ := tx.Doc(t, platform.DashboardCollection, "team-a")["risk"].(map[string]any)
	require.NotNil(t, risk)
	assert.Equal(t, int64(2), risk["open_risks"])
	top := risk["top_risks"].([]any)
	require.Len(t, top, 2)
	assert.Equal(t, "r2", top[0].(map[string]any)["id"], "high (inherent) above medium (current over a critical inherent)")
	assert.Equal(t, int64(2), risk["kris_in_breach_total"], "the manual KRI and the computed one observed red")
	breach := risk["kris_in_breach"].([]any)
	assert.Equal(t, "k2", breach[0].(map[string]any)["id"], "latest first")
	assert.Equal(t, 4.0, breach[0].(map[string]any)["value"])
	assert.Equal(t, int64(1), risk["active_acceptances_total"])
	assert.Equal(t, "a2", risk["active_acceptances"].([]any)[0].(map[string]any)["id"])
	pt.AssertOrderIndependent(t, platform.NewDashboard(), streams)
}
