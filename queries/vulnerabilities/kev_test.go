package vulnerabilities_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/queriestest"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

const (
	spring      = "trivy_image_spring4shell-jre11_golden_kev_cve.json"
	freetypeCVE = "CVE-2020-15999" // in KEV; MEDIUM in the teamdojo sample
	springCVE   = "CVE-2022-22965"
)

// kevT0 is after every sample's scan (the import clock is 2026-02-01).
var kevT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return kevT0.Add(d) }

var (
	due1 = time.Date(2021, 11, 17, 0, 0, 0, 0, time.UTC)
	due2 = time.Date(2022, 4, 25, 0, 0, 0, 0, time.UTC)
)

func kevEntry(cve string, due time.Time) ti.KEVEntry {
	return ti.KEVEntry{CVEID: cve, VendorProject: "v", Product: "p", VulnerabilityName: "n", DateAdded: kevT0,
		ShortDescription: "d", RequiredAction: "a", DueDate: due, Ransomware: ti.RansomwareKnown}
}

// kevWorld: team-a scans teamdojo, team-b teamdojo and spring4shell; KEV
// lists both CVEs at T0+1h, withdraws spring4shell at T0+2h.
func kevWorld(t *testing.T, kevFirst bool) *vulnquery.Service {
	trivy := queriestest.TrivyEvents(t,
		queriestest.TrivyImport{Team: "team-a", Report: sample(t, teamdojo)},
		queriestest.TrivyImport{Team: "team-b", Report: sample(t, teamdojo)},
		queriestest.TrivyImport{Team: "team-b", Report: sample(t, spring)},
	)
	n := int64(len(trivy))
	kev := pt.Stream("team-admin", []int64{n + 1, n + 2, n + 3},
		ti.KEVEntryPublished{ImportID: "k1", Entry: kevEntry(freetypeCVE, due1), PublishedAt: at(time.Hour)},
		ti.KEVEntryPublished{ImportID: "k1", Entry: kevEntry(springCVE, due2), PublishedAt: at(time.Hour)},
		ti.KEVEntryWithdrawn{ImportID: "k2", CVEID: springCVE, Entry: kevEntry(springCVE, due2), WithdrawnAt: at(2 * time.Hour)},
	)
	events := slices.Concat(trivy, kev)
	if kevFirst {
		events = slices.Concat(kev, trivy)
	}
	env := queriestest.NewEnv(t, events)
	return vulnquery.New(env.Stores[dbregistry.VULNERABILITIES])
}

func ids(l vulnquery.OccurrenceList) []string {
	out := []string{}
	for _, o := range l.Items {
		out = append(out, o.VulnerabilityID)
	}
	slices.Sort(out)
	return out
}

func TestKEVFlagAndAsOf(t *testing.T) {
	yes := true
	for _, kevFirst := range []bool{false, true} {
		s := kevWorld(t, kevFirst)
		ctx := t.Context()
		list := func(team string, asOf time.Time) []string {
			l, err := s.ListOccurrences(ctx, team, vulnquery.OccurrenceFilter{KEV: &yes, AsOf: asOf}, queries.Page{})
			require.NoError(t, err)
			return ids(l)
		}
		// Now: the freetype occurrence in both teams; spring4shell was withdrawn.
		assert.Equal(t, []string{freetypeCVE}, list("team-a", time.Time{}), "kev first: %v", kevFirst)
		assert.Equal(t, []string{freetypeCVE}, list("team-b", time.Time{}))
		a, err := s.ListOccurrences(ctx, "team-a", vulnquery.OccurrenceFilter{KEV: &yes}, queries.Page{})
		require.NoError(t, err)
		require.Len(t, a.Items, 1)
		assert.Equal(t, "medium", a.Items[0].Severity, "a KEV CVE rated MEDIUM is flagged")
		assert.Equal(t, due1, a.Items[0].KEVDueDate)
		assert.True(t, a.Items[0].KEVRansomware)
		assert.Equal(t, at(time.Hour), a.Items[0].KEVSince)

		// As of: before the listing nothing, while both listed both (team-b), after the withdrawal one.
		assert.Equal(t, []string{}, list("team-b", kevT0))
		assert.Equal(t, []string{freetypeCVE, springCVE}, list("team-b", at(90*time.Minute)))
		assert.Equal(t, []string{freetypeCVE}, list("team-b", at(3*time.Hour)))
		assert.Equal(t, []string{freetypeCVE}, list("team-a", at(90*time.Minute)), "team-a never scanned spring4shell")
		assert.Equal(t, []string{}, list("team-c", at(90*time.Minute)))

		// Paging one at a time through as_of gives the same list.
		var paged []string
		pg := queries.Page{Limit: 1}
		for {
			l, err := s.ListOccurrences(ctx, "team-b", vulnquery.OccurrenceFilter{KEV: &yes, AsOf: at(90 * time.Minute)}, pg)
			require.NoError(t, err)
			paged = append(paged, ids(l)...)
			if l.NextCursor == "" {
				break
			}
			pg.Cursor = l.NextCursor
		}
		slices.Sort(paged)
		assert.Equal(t, []string{freetypeCVE, springCVE}, paged)

		// The detail says the entry's status.
		d, err := s.GetVulnerability(ctx, "team-b", springCVE)
		require.NoError(t, err)
		assert.False(t, d.KEV)
		assert.Equal(t, at(2*time.Hour), d.KEVWithdrawnAt)
		require.Len(t, d.Occurrences, 1)
		assert.False(t, d.Occurrences[0].KEV)
		f, err := s.GetVulnerability(ctx, "team-a", freetypeCVE)
		require.NoError(t, err)
		assert.True(t, f.KEV)
		assert.Equal(t, due1, f.KEVDueDate)
	}
}

func TestKEVAsOfNeedsKEV(t *testing.T) {
	s := kevWorld(t, false)
	_, err := s.ListOccurrences(t.Context(), "team-a", vulnquery.OccurrenceFilter{AsOf: kevT0}, queries.Page{})
	var verr *domain.ValidationError
	require.True(t, errors.As(err, &verr), "%v", err)
	assert.Contains(t, err.Error(), "as_of")
}
