package vulnerabilities_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/queriestest"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// rateAs rewrites a real Trivy report so the scanner rates every
// occurrence of cve as sev (no fixture rates a KEV CVE LOW).
func rateAs(t *testing.T, report []byte, cve, sev string) []byte {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(report, &doc))
	n := 0
	results, _ := doc["Results"].([]any)
	for _, r := range results {
		vulns, _ := r.(map[string]any)["Vulnerabilities"].([]any)
		for _, v := range vulns {
			m := v.(map[string]any)
			if m["VulnerabilityID"] == cve {
				m["Severity"] = sev
				n++
			}
		}
	}
	require.Positive(t, n, "%s is in the report", cve)
	out, err := json.Marshal(doc)
	require.NoError(t, err)
	return out
}

// TestKEVRatedLowByTheScanner: the issue's "a KEV CVE that the scanner
// rates LOW is flagged KEV and gets KEV's due date". The teamdojo report
// is imported through the real import with CVE-2020-15999 (in KEV, due
// 2021-11-17) rewritten to LOW; CISA lists it before or after the import.
// The occurrence keeps the scanner's LOW, is flagged KEV, and its SLA
// clock is due at KEV's due date (LOW's policy would give 180 days from
// the first sighting, 2026-02-01: not breached on 2026-03-01).
func TestKEVRatedLowByTheScanner(t *testing.T) {
	yes := true
	for _, kevFirst := range []bool{false, true} {
		trivy := queriestest.TrivyEvents(t,
			queriestest.TrivyImport{Team: "team-a", Report: rateAs(t, sample(t, teamdojo), freetypeCVE, "LOW")})
		n := int64(len(trivy))
		kev := pt.Stream("team-admin", []int64{n + 1},
			ti.KEVEntryPublished{ImportID: "k1", Entry: kevEntry(freetypeCVE, due1), PublishedAt: at(time.Hour)})
		events := slices.Concat(trivy, kev)
		if kevFirst {
			events = slices.Concat(kev, trivy)
		}
		env := queriestest.NewEnv(t, events)
		db := env.Stores[dbregistry.VULNERABILITIES]
		ctx := t.Context()

		l, err := vulnquery.New(db).ListOccurrences(ctx, "team-a", vulnquery.OccurrenceFilter{KEV: &yes}, queries.Page{})
		require.NoError(t, err)
		require.Len(t, l.Items, 1, "kev first: %v", kevFirst)
		o := l.Items[0]
		assert.Equal(t, freetypeCVE, o.VulnerabilityID)
		assert.Equal(t, "low", o.Severity, "the scanner's rating is kept")
		assert.True(t, o.KEV, "flagged KEV whatever the scanner's rating")
		assert.Equal(t, due1, o.KEVDueDate)

		sla := vulnquery.NewSLA(db, func() time.Time { return at(2 * time.Hour) })
		br, err := sla.ListBreaches(ctx, "team-a", vulnquery.BreachFilter{KEV: &yes}, queries.Page{})
		require.NoError(t, err)
		require.Len(t, br.Items, 1, "kev first: %v", kevFirst)
		b := br.Items[0]
		assert.Equal(t, freetypeCVE, b.VulnerabilityID)
		assert.Equal(t, "low", b.Severity)
		assert.Equal(t, "kev", b.DueSource)
		assert.Equal(t, due1, b.DueAt, "KEV's dueDate, not LOW's policy days")
		assert.True(t, b.KEV)
		low, err := sla.ListBreaches(ctx, "team-a", vulnquery.BreachFilter{Severity: "low"}, queries.Page{})
		require.NoError(t, err)
		require.Len(t, low.Items, 1, "the only LOW clock breached is the KEV one")
	}
}
