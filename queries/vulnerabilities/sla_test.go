package vulnerabilities_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/queriestest"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

var slaNow = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// slaWorld: team A imports the alpine report (scanned 2021-08-25, four
// medium occurrences) and the teamdojo one (imported 2026-02-01, no
// creation time; CVE-2020-15999 rated MEDIUM), team B the alpine one; then
// CISA lists CVE-2020-15999 (its real dueDate, 2021-11-17). Measured on
// 2026-03-01 under the default policy.
func slaWorld(t *testing.T) *vulnquery.SLAService {
	events := queriestest.TrivyEvents(t,
		queriestest.TrivyImport{Team: "team-a", Report: sample(t, alpine)},
		queriestest.TrivyImport{Team: "team-a", Report: sample(t, teamdojo)},
		queriestest.TrivyImport{Team: "team-b", Report: sample(t, alpine)},
	)
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	kev := ti.KEVEntryPublished{ImportID: "kev-1", Entry: ti.KEVEntry{CVEID: "CVE-2020-15999", VendorProject: "Google", Product: "FreeType",
		VulnerabilityName: "n", DateAdded: day("2021-11-03"), DueDate: day("2021-11-17")}, PublishedAt: day("2026-02-10")}
	events = append(events, projections.Event{RecordedEvent: events[len(events)-1].RecordedEvent, Data: kev})
	last := &events[len(events)-1]
	last.Type, last.EventID, last.Position, last.Metadata.TeamID = kev.EventType(), "ev-kev", last.Position+1, "team-admin"
	env := queriestest.NewEnv(t, events)
	return vulnquery.NewSLA(env.Stores[dbregistry.VULNERABILITIES], func() time.Time { return slaNow })
}

func TestSLABreachesAndSummary(t *testing.T) {
	s := slaWorld(t)
	ctx := t.Context()
	list, err := s.ListBreaches(ctx, "team-a", vulnquery.BreachFilter{}, queries.Page{})
	require.NoError(t, err)
	require.Len(t, list.Items, 6)
	first := list.Items[0]
	assert.Equal(t, "CVE-2020-15999", first.VulnerabilityID, "the KEV one is the most overdue: KEV's due date, not 90 days from 2026-02-01")
	assert.Equal(t, "medium", first.Severity)
	assert.Equal(t, "kev", first.DueSource)
	assert.Equal(t, time.Date(2021, 11, 17, 0, 0, 0, 0, time.UTC), first.DueAt)
	assert.True(t, first.KEV)
	for _, b := range list.Items[1:5] {
		assert.Equal(t, "policy", b.DueSource)
		assert.Contains(t, []string{"CVE-2019-1549", "CVE-2019-1551"}, b.VulnerabilityID)
	}
	assert.Equal(t, "critical", list.Items[5].Severity)
	for i := 1; i < len(list.Items); i++ {
		assert.False(t, list.Items[i].DueAt.Before(list.Items[i-1].DueAt), "most overdue first")
	}

	kev := true
	only, err := s.ListBreaches(ctx, "team-a", vulnquery.BreachFilter{KEV: &kev}, queries.Page{})
	require.NoError(t, err)
	require.Len(t, only.Items, 1)
	crit, err := s.ListBreaches(ctx, "team-a", vulnquery.BreachFilter{Severity: "CRITICAL", Module: "vulnerabilities"}, queries.Page{})
	require.NoError(t, err)
	require.Len(t, crit.Items, 1)

	// Pages of two continue where the last stopped.
	var paged []string
	p := queries.Page{Limit: 2}
	for {
		page, err := s.ListBreaches(ctx, "team-a", vulnquery.BreachFilter{}, p)
		require.NoError(t, err)
		for _, b := range page.Items {
			paged = append(paged, b.ID)
		}
		if page.NextCursor == "" {
			break
		}
		p.Cursor = page.NextCursor
	}
	assert.Equal(t, queriestest.IDs(list.Items, func(b vulnquery.Breach) string { return b.ID }), paged)

	_, err = s.ListBreaches(ctx, "team-a", vulnquery.BreachFilter{Module: "nope"}, queries.Page{})
	var ve *domain.ValidationError
	require.True(t, errors.As(err, &ve))
	assert.Equal(t, "module", ve.Fields[0].Field)

	sum, err := s.Summary(ctx, "team-a")
	require.NoError(t, err)
	assert.Equal(t, vulnquery.SLACounts{Open: 9, Breached: 6, DueIn7Days: 1}, sum.Total, "krb5-libs HIGH is due 2026-03-03")
	assert.Equal(t, sum.Total, sum.ByModule["vulnerabilities"])
	assert.Equal(t, int64(1), sum.BySeverity["critical"].Breached)

	// Team B: its alpine occurrences only, no KEV one.
	b, err := s.ListBreaches(ctx, "team-b", vulnquery.BreachFilter{}, queries.Page{})
	require.NoError(t, err)
	assert.Len(t, b.Items, 4)
	pol, err := s.GetPolicy(ctx, "team-b")
	require.NoError(t, err)
	assert.True(t, pol.Default)
}
