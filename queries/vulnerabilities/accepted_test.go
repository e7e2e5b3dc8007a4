package vulnerabilities_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/queriestest"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// GET /vulnerabilities shows `accepted`: team A accepts CVE-2019-1549 by
// rule; its occurrences are accepted (with the acceptance's id), the
// other CVE's are not, and team B's occurrences of the same CVE are not.
func TestOccurrencesShowAccepted(t *testing.T) {
	events := queriestest.TrivyEvents(t,
		queriestest.TrivyImport{Team: "team-a", Report: sample(t, alpine)},
		queriestest.TrivyImport{Team: "team-b", Report: sample(t, alpine)},
	)
	acc := rdomain.RiskAccepted{AcceptanceID: "r1", Scope: rdomain.Scope{Rule: &rdomain.AcceptanceRule{Module: rdomain.ModuleVulnerabilities,
		VulnerabilityIDs: []string{"CVE-2019-1549"}}}, Reason: "r", Approver: "c", AcceptedAt: slaNow, ExpiresAt: slaNow.Add(30 * 24 * time.Hour)}
	events = append(events, projections.Event{RecordedEvent: events[len(events)-1].RecordedEvent, Data: acc})
	last := &events[len(events)-1]
	last.Type, last.EventID, last.Position, last.Metadata.TeamID = acc.EventType(), "ev-acc", last.Position+1, "team-a"
	env := queriestest.NewEnv(t, events)
	q := vulnquery.New(env.Stores[dbregistry.VULNERABILITIES])

	cases := []struct {
		name, team, cve string
		then            bool
	}{
		{"the rule's CVE in team A: accepted", "team-a", "CVE-2019-1549", true},
		{"another CVE in team A: not accepted", "team-a", "CVE-2019-1551", false},
		{"the rule's CVE in team B: not accepted", "team-b", "CVE-2019-1549", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			list, err := q.ListOccurrences(t.Context(), c.team, vulnquery.OccurrenceFilter{VulnerabilityID: c.cve}, queries.Page{})
			require.NoError(t, err)
			require.NotEmpty(t, list.Items)
			for _, o := range list.Items {
				assert.Equal(t, c.then, o.Accepted, o.ID)
				if c.then {
					assert.Equal(t, []string{"r1"}, o.AcceptanceIDs)
				} else {
					assert.Empty(t, o.AcceptanceIDs)
				}
			}
		})
	}
}
