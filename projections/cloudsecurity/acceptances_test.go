package cloudsecurity_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/projections"
	csproj "github.com/cspm-es/cspm-es/projections/cloudsecurity"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// cloudsecurity.acceptances folds the acceptances with the register's
// code: a finding accepted twice (one revoked) is accepted; one fixed while
// accepted is not; the documents are the same in every arrival order.
func TestAcceptances(t *testing.T) {
	t.Parallel()
	p := csproj.NewAcceptances()
	for _, spec := range p.Collections() {
		require.NoError(t, spec.Validate())
	}
	streams := [][]projections.Event{
		pt.Stream("team-a", pt.Positions(1, 4),
			rdomain.RiskAccepted{AcceptanceID: "a1", Scope: rdomain.Scope{FindingIDs: []string{"f1"}}, Reason: "r", Approver: "c", ExpiresAt: pt.At(30 * 24 * 3600e9), AcceptedAt: pt.T0},
			rdomain.RiskAcceptanceRevoked{AcceptanceID: "a1", RevokedAt: pt.At(3600e9)}),
		pt.Stream("team-a", pt.Positions(2, 3),
			rdomain.RiskAccepted{AcceptanceID: "a2", Scope: rdomain.Scope{FindingIDs: []string{"f1", "f2"}}, Reason: "r", Approver: "c", ExpiresAt: pt.At(60 * 24 * 3600e9), AcceptedAt: pt.T0},
			rdomain.AcceptedItemFixed{AcceptanceID: "a2", ItemID: "f2", Module: rdomain.ModuleFindings, FixedAt: pt.At(2 * 3600e9)}),
	}
	var all []projections.Event
	for _, s := range streams {
		all = append(all, s...)
	}
	tx := pt.Apply(t, p, all...)
	assert.Equal(t, true, tx.Colls[csproj.AcceptedItemsCollection]["team-a/f1"]["accepted"])
	assert.Equal(t, false, tx.Colls[csproj.AcceptedItemsCollection]["team-a/f2"]["accepted"], "fixed while accepted")
	pt.AssertOrderIndependent(t, p, streams)
}
