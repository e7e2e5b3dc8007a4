package cloudsecurity_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/cloudsecurity"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// GET /findings shows `accepted`: a finding accepted by id, the findings
// of a check accepted by a rule within their account, but not a rule of
// another account, a revoked acceptance, nor another team's acceptance of
// the same id.
func TestFindingsShowAccepted(t *testing.T) {
	t.Parallel()
	h := qt.ImportPair("team-a")
	bedrock := qt.PairFinding("team-a", "cloudtrail_bedrock_logging_enabled", "eu-west-1", pt.Trail("eu-west-1"))
	multi := qt.PairFinding("team-a", "cloudtrail_multi_region_enabled", "us-east-1", pt.Trail("us-east-1"))
	accept := func(id string, sc rdomain.Scope) rdomain.RiskAccepted {
		return rdomain.RiskAccepted{AcceptanceID: id, Scope: sc, Reason: "r", Approver: "c", AcceptedAt: pt.T0, ExpiresAt: pt.T0.Add(90 * 24 * time.Hour)}
	}
	rule := func(accounts ...string) rdomain.Scope {
		return rdomain.Scope{Rule: &rdomain.AcceptanceRule{Module: rdomain.ModuleFindings, Checks: []string{"cloudtrail_multi_region_enabled_logging_management_events"}, Accounts: accounts}}
	}
	h.AddAs("team-a", "admin", accept("a1", rdomain.Scope{FindingIDs: []string{bedrock}}))
	h.AddAs("team-a", "admin", accept("a2", rdomain.Scope{FindingIDs: []string{multi}}), rdomain.RiskAcceptanceRevoked{AcceptanceID: "a2", RevokedAt: pt.T0.Add(time.Hour)})
	h.AddAs("team-a", "admin", accept("r1", rule(pt.PairAccount)))
	h.AddAs("team-a", "admin", accept("r2", rule("999999999999")))
	h.AddAs("team-b", "admin", accept("b1", rdomain.Scope{FindingIDs: []string{qt.PairFinding("team-a", "cloudtrail_multi_region_enabled", "eu-west-1", pt.Trail("eu-west-1"))}}))
	e := newEnv(t, h.Events)

	list, err := e.svc.ListFindings(context.Background(), "team-a", cloudsecurity.FindingFilter{}, queries.Page{Limit: 100})
	require.NoError(t, err)
	got := map[string][]string{}
	byCheck := map[string]int{}
	for _, f := range list.Items {
		if f.Accepted {
			got[f.ID] = f.AcceptanceIDs
			byCheck[f.CheckID]++
		} else {
			assert.Empty(t, f.AcceptanceIDs)
		}
	}
	assert.Equal(t, []string{"a1"}, got[bedrock], "accepted by id")
	assert.NotContains(t, got, multi, "its acceptance was revoked")
	assert.Equal(t, map[string]int{"cloudtrail_bedrock_logging_enabled": 1, "cloudtrail_multi_region_enabled_logging_management_events": 2}, byCheck,
		"the rule's check in its account (both regions); not team b's acceptance, not the rule of another account")
	for id, accs := range got {
		if id != bedrock {
			assert.Equal(t, []string{"r1"}, accs)
		}
	}
}
