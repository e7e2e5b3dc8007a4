package platform_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/platform"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

func trivyReport(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "trivy", "testdata", name))
	require.NoError(t, err)
	return b
}

// TestDashboardVulnerabilities: team-a imports three real Trivy reports
// (teamdojo, alpine 3.10, spring4shell) and a cloud-security pair; CISA
// lists CVE-2020-15999 (teamdojo's freetype, MEDIUM) and CVE-2022-22965
// (spring4shell). The section counts the open KEV occurrences, gives the
// same SLA numbers as GET /api/v1/sla/summary at several "now"s, and
// lists the images by open critical, then high, then total.
func TestDashboardVulnerabilities(t *testing.T) {
	t.Parallel()
	trivy := qt.TrivyEvents(t,
		qt.TrivyImport{Team: "team-a", Report: trivyReport(t, "trivy_image_teamdojo_scheme2_defectdojo_kev_cve.json")},
		qt.TrivyImport{Team: "team-a", Report: trivyReport(t, "trivy_image_alpine-3.10_registry_with_repodigests.json")},
		qt.TrivyImport{Team: "team-a", Report: trivyReport(t, "trivy_image_spring4shell-jre11_golden_kev_cve.json")},
		// A filesystem scan: its occurrences count, it is no image.
		qt.TrivyImport{Team: "team-a", Report: trivyReport(t, "trivy_0.69_fs_jar_cvssv4_multi_fixedversion_defectdojo.json")},
	)
	next := trivy[len(trivy)-1].Position + 1
	cloud, next := pt.Imports("team-a", next, pt.PairScan1(), pt.PairScan2())
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	entry := func(cve, due string) ti.KEVEntry {
		return ti.KEVEntry{CVEID: cve, VendorProject: "v", Product: "p", VulnerabilityName: "n", DateAdded: day("2021-11-03"), DueDate: day(due)}
	}
	kev := pt.Stream("team-admin", pt.Positions(next, next+1),
		ti.KEVEntryPublished{ImportID: "k1", Entry: entry("CVE-2020-15999", "2021-11-17"), PublishedAt: day("2026-02-10")},
		ti.KEVEntryPublished{ImportID: "k1", Entry: entry("CVE-2022-22965", "2022-04-25"), PublishedAt: day("2026-02-10")},
	)
	env := qt.NewEnv(t, slices.Concat(trivy, slices.Concat(cloud...), kev))
	ctx := t.Context()

	for _, now := range []time.Time{day("2025-03-01"), day("2026-02-20"), day("2026-03-01"), day("2026-08-01")} {
		clock := func() time.Time { return now }
		d, err := platform.New(platform.Stores{Platform: env.Stores[dbregistry.PLATFORM]}).WithClock(clock).DashboardSummary(ctx, "team-a")
		require.NoError(t, err)
		sum, err := vulnquery.NewSLA(env.Stores[dbregistry.VULNERABILITIES], clock).Summary(ctx, "team-a")
		require.NoError(t, err)
		v := d.Vulnerabilities
		assert.Equal(t, sum.Total, v.SLA.Total, "the same numbers as /sla/summary at %s", now)
		assert.Equal(t, sum.ByModule, v.SLA.ByModule, "%s", now)
		assert.Equal(t, sum.Total.Breached, v.SLA.Breached)
		assert.Equal(t, sum.Total.DueIn7Days, v.SLA.DueIn7Days)
		assert.Contains(t, v.SLA.ByModule, "cloud_findings", "both modules")
		assert.Contains(t, v.SLA.ByModule, "vulnerabilities")
	}

	d, err := envOver(env).svc.DashboardSummary(ctx, "team-a")
	require.NoError(t, err)
	v := d.Vulnerabilities
	assert.Equal(t, int64(1), v.KEVOpenBySeverity.Medium, "freetype's CVE-2020-15999")
	assert.Equal(t, v.KEVOpenBySeverity.Critical+v.KEVOpenBySeverity.High+v.KEVOpenBySeverity.Medium+v.KEVOpenBySeverity.Low+
		v.KEVOpenBySeverity.Unknown, v.KEVOpenTotal)
	assert.Greater(t, v.KEVOpenTotal, int64(1), "and spring4shell's CVE-2022-22965")

	// The KEV occurrences the dashboard counts are the ones ?kev=true lists.
	yes := true
	occ, err := vulnquery.New(env.Stores[dbregistry.VULNERABILITIES]).ListOccurrences(ctx, "team-a", vulnquery.OccurrenceFilter{KEV: &yes}, queries.Page{Limit: 100})
	require.NoError(t, err)
	assert.Len(t, occ.Items, int(v.KEVOpenTotal))

	imgs := v.TopVulnerableImages
	require.Len(t, imgs, 3)
	for i := 1; i < len(imgs); i++ {
		a, b := imgs[i-1], imgs[i]
		assert.True(t, a.OpenBySeverity.Critical > b.OpenBySeverity.Critical ||
			(a.OpenBySeverity.Critical == b.OpenBySeverity.Critical && (a.OpenBySeverity.High > b.OpenBySeverity.High ||
				(a.OpenBySeverity.High == b.OpenBySeverity.High && a.OpenTotal >= b.OpenTotal))), "critical, then high, then total: %+v", imgs)
	}
	var total, kevs int64
	for _, img := range imgs {
		total += img.OpenTotal
		kevs += img.KEVOpen
	}
	assert.Less(t, total, v.OpenTotal, "the filesystem scan's occurrences are counted, not listed among images")
	assert.Equal(t, v.KEVOpenTotal, kevs)
	var alpine *platform.VulnerableImage
	for i := range imgs {
		if imgs[i].Repository != "" && imgs[i].Digest != "" && len(imgs[i].Tags) > 0 && imgs[i].Name == "alpine:3.10" {
			alpine = &imgs[i]
		}
	}
	require.NotNil(t, alpine, "%+v", imgs)
	assert.Equal(t, []string{"alpine:3.10"}, alpine.Tags)

	// Another team sees none of it.
	b, err := envOver(env).svc.DashboardSummary(ctx, "team-b")
	require.NoError(t, err)
	assert.Equal(t, noVulns, b.Vulnerabilities)
}
