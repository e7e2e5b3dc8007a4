package main

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/api"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
	riskquery "github.com/cspm-es/cspm-es/queries/risk"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// TestRiskAcceptance_RuleScoped: in the running app, an acceptance by
// rule (module vulnerabilities, one CVE) takes the breached occurrences
// of that CVE out of the breaches, not the other CVE's; when a later scan
// no longer reports the CVE, the scheduler closes the acceptance for the
// item (AcceptedItemFixed) and the rule's acceptance stays active.
func TestRiskAcceptance_RuleScoped(t *testing.T) {
	t.Parallel()
	a := startAppWith(t, nil, fx.Decorate(func(x *acceptanceExpiry) *acceptanceExpiry {
		x.Interval = 50 * time.Millisecond
		return x
	}))
	team := a.cfg.DefaultTeam
	occ := func(cve, pkg string) vuln.Occurrence {
		return vuln.Occurrence{VulnerabilityID: cve, Package: vuln.Package{Class: vuln.ClassOS, Type: "alpine", Name: pkg, InstalledVersion: "1.0"},
			Severity: vuln.SeverityCritical}
	}
	ruled, other := occ("CVE-2024-7101", "curl"), occ("CVE-2024-7102", "zlib")
	start := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Millisecond) // critical: 7 days, long breached
	pos := appendTrivyScan(t, a, team, "rule-1", start, ruled, other)

	breaches := func(position int64) []vulnquery.Breach {
		var ans *answer
		eventually(t, 30*time.Second, "breaches at "+itoa(position), func() bool {
			ans = a.get(t, "/api/v1/sla/breaches?min_position="+itoa(position))
			return ans.status == http.StatusOK && !stale(ans)
		})
		var out []vulnquery.Breach
		ans.data(t, &out)
		return out
	}
	require.Len(t, breaches(pos), 2)

	ans := must(t, a.post(t, "/api/v1/risk-acceptances", map[string]any{"scope": map[string]any{"rule": map[string]any{"module": "vulnerabilities",
		"vulnerability_ids": []string{"CVE-2024-7101"}}}, "reason": "not reachable", "approver": "ciso", "expires_at": time.Now().Add(time.Hour)}), http.StatusCreated)
	var res api.CommandResult
	ans.data(t, &res)
	left := breaches(res.Position)
	require.Len(t, left, 1, "the rule's CVE is accepted, the other is not")
	assert.Equal(t, "CVE-2024-7102", left[0].VulnerabilityID)

	// A later scan no longer reports the rule's CVE: fixed while accepted.
	p3 := appendTrivyScan(t, a, team, "rule-2", time.Now().Truncate(time.Millisecond), other)
	var acc riskquery.Acceptance
	eventually(t, 30*time.Second, "the scheduler closes the rule's acceptance for the fixed item", func() bool {
		must(t, a.get(t, "/api/v1/risk-acceptances/"+res.ID+"?min_position="+itoa(p3)), http.StatusOK).data(t, &acc)
		return len(acc.Fixed) == 1
	})
	assert.Equal(t, "active", acc.Status, "a rule's acceptance goes on")
	events, err := a.store.ReadStream(context.Background(), "riskacceptance-"+res.ID, eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, events, 2)
	assert.Equal(t, "AcceptedItemFixed", events[1].Type)
	assert.False(t, slices.ContainsFunc(breaches(p3), func(b vulnquery.Breach) bool { return b.VulnerabilityID == "CVE-2024-7101" }))
}
