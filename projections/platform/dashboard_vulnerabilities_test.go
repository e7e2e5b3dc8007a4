package platform_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/platform"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	vulnproj "github.com/cspm-es/cspm-es/projections/vulnerabilities"
	"github.com/cspm-es/cspm-es/queries/queriestest"
)

func trivySample(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "trivy", "testdata", name))
	require.NoError(t, err)
	return b
}

// vulnDashStreams: real Trivy imports (team-a: teamdojo, alpine and
// spring4shell; team-b: spring4shell), a cloud-security import pair of
// team-a, and a KEV stream listing CVE-2020-15999 and CVE-2022-22965 and
// withdrawing the second: each stream in its order.
func vulnDashStreams(t *testing.T) [][]projections.Event {
	trivy := queriestest.TrivyEvents(t,
		queriestest.TrivyImport{Team: "team-a", Report: trivySample(t, "trivy_image_teamdojo_scheme2_defectdojo_kev_cve.json")},
		queriestest.TrivyImport{Team: "team-a", Report: trivySample(t, "trivy_image_alpine-3.10_registry_with_repodigests.json")},
		queriestest.TrivyImport{Team: "team-a", Report: trivySample(t, "trivy_image_spring4shell-jre11_golden_kev_cve.json")},
		queriestest.TrivyImport{Team: "team-b", Report: trivySample(t, "trivy_image_spring4shell-jre11_golden_kev_cve.json")},
	)
	byStream := map[string][]projections.Event{}
	var order []string
	for _, ev := range trivy {
		if _, ok := byStream[ev.StreamID]; !ok {
			order = append(order, ev.StreamID)
		}
		byStream[ev.StreamID] = append(byStream[ev.StreamID], ev)
	}
	var streams [][]projections.Event
	for _, s := range order {
		streams = append(streams, byStream[s])
	}
	next := trivy[len(trivy)-1].Position + 1
	cloud, next := pt.Imports("team-a", next, pt.PairScan1(), pt.PairScan2())
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	entry := func(cve, due string) ti.KEVEntry {
		return ti.KEVEntry{CVEID: cve, VendorProject: "v", Product: "p", VulnerabilityName: "n", DateAdded: day("2021-11-03"), DueDate: day(due)}
	}
	kev := pt.Stream("team-admin", pt.Positions(next, next+1, next+2),
		ti.KEVEntryPublished{ImportID: "k1", Entry: entry("CVE-2020-15999", "2021-11-17"), PublishedAt: day("2026-02-10")},
		ti.KEVEntryPublished{ImportID: "k1", Entry: entry("CVE-2022-22965", "2022-04-25"), PublishedAt: day("2026-02-10")},
		ti.KEVEntryWithdrawn{ImportID: "k2", CVEID: "CVE-2022-22965", Entry: entry("CVE-2022-22965", "2022-04-25"), WithdrawnAt: day("2026-02-11")},
	)
	return pt.OnlyStreams(platform.NewDashboardVulnerabilities(), slices.Concat(streams, cloud, [][]projections.Event{kev}))
}

// The dashboard's vulnerabilities section counts what the SLA projection's
// clocks hold: its SLA summary is the one of vulnerabilities.sla (the same
// fold), and its per-team and per-image counts are the open occurrence
// clocks counted by severity and KEV flag.
func TestDashboardVulnerabilities_CountsWhatTheClocksHold(t *testing.T) {
	t.Parallel()
	streams := vulnDashStreams(t)
	events := slices.Concat(streams...)
	dash := apply(t, platform.NewDashboardVulnerabilities(), events...)
	var slaEvents []projections.Event
	for _, ev := range events {
		if slices.Contains(vulnproj.NewSLA().EventTypes(), ev.Type) {
			slaEvents = append(slaEvents, ev)
		}
	}
	sla := apply(t, vulnproj.NewSLA(), slaEvents...)

	for _, team := range []string{"team-a", "team-b"} {
		assert.Equal(t, sla.Doc(t, vulnproj.SLASummaryCollection, team), dash.Doc(t, platform.DashboardSLASummaryCollection, team),
			"the same SLA summary as /sla/summary's")
	}
	assert.NotEmpty(t, fold.Obj(fold.Obj(sla.Doc(t, vulnproj.SLASummaryCollection, "team-a"), "open"), "cloud_findings"),
		"both modules' clocks")

	// The counts, recomputed from the SLA projection's clocks.
	type key struct{ team, artifact string }
	wantTeam := map[string]map[string]any{}
	wantImg := map[key]map[string]int64{}
	for _, c := range sla.Colls[vulnproj.SLAClocksCollection] {
		if fold.Str(c, "module") != vuln.SLAModuleVulnerabilities || fold.Str(c, "status") != vulnproj.SLAOpen {
			continue
		}
		team, sev := fold.Str(c, "team_id"), fold.Str(c, "severity")
		if wantTeam[team] == nil {
			wantTeam[team] = map[string]any{"_id": team, "team_id": team}
		}
		inc := func(m map[string]any, path ...string) {
			for _, k := range path[:len(path)-1] {
				if m[k] == nil {
					m[k] = map[string]any{}
				}
				m = m[k].(map[string]any)
			}
			m[path[len(path)-1]] = fold.Num(m, path[len(path)-1]) + 1
		}
		inc(wantTeam[team], "open_by_severity", sev)
		inc(wantTeam[team], "open_total")
		k := key{team, fold.Str(c, "artifact_id")}
		if wantImg[k] == nil {
			wantImg[k] = map[string]int64{}
		}
		wantImg[k]["open_"+sev]++
		wantImg[k]["open_total"]++
		if fold.Flag(c, "kev") {
			inc(wantTeam[team], "kev_open_by_severity", sev)
			inc(wantTeam[team], "kev_open_total")
			wantImg[k]["open_kev"]++
		}
	}
	for team, want := range wantTeam {
		got := dash.Doc(t, platform.DashboardVulnerabilitiesCollection, team)
		norm, err := readmodel.NormalizeDoc(want)
		require.NoError(t, err)
		assert.Equal(t, norm, got, team)
	}
	assert.Equal(t, map[string]any{"medium": int64(1)}, dash.Doc(t, platform.DashboardVulnerabilitiesCollection, "team-a")["kev_open_by_severity"],
		"freetype's CVE-2020-15999 (MEDIUM); spring4shell's was withdrawn")
	_, hasKEV := dash.Doc(t, platform.DashboardVulnerabilitiesCollection, "team-b")["kev_open_total"]
	assert.False(t, hasKEV)
	imgs := dash.Colls[platform.DashboardVulnerableImagesCollection]
	assert.Len(t, imgs, 4, "three images of team-a, one of team-b")
	pinned := 0
	for _, img := range imgs {
		k := key{fold.Str(img, "team_id"), fold.Str(img, "artifact_id")}
		for _, f := range []string{"open_critical", "open_high", "open_medium", "open_low", "open_unknown", "open_total", "open_kev"} {
			assert.Equal(t, wantImg[k][f], fold.Num(img, f), "%v %s", k, f)
		}
		if d := fold.Str(img, "digest"); d != "" {
			pinned++
			assert.True(t, strings.HasPrefix(d, "sha256:"), d)
		}
	}
	assert.Equal(t, 3, pinned, "teamdojo's report names no digest (an unpinned image)")
	alpine := 0
	for _, img := range imgs {
		if fold.Str(img, "team_id") == "team-a" && strings.Contains(fold.Str(img, "repository"), "alpine") {
			alpine++
			assert.NotEmpty(t, img["tags"], "the tag moves name the image")
		}
	}
	assert.Equal(t, 1, alpine, "the alpine image, by its repository: %v", slices.Collect(maps.Values(imgs)))
}

// Order independence (each stream's order kept, streams interleaved) and
// rebuild equivalence (the same events folded again from nothing).
func TestDashboardVulnerabilities_OrderIndependentAndRebuild(t *testing.T) {
	t.Parallel()
	p := platform.NewDashboardVulnerabilities()
	streams := vulnDashStreams(t)
	assertOrderIndependent(t, p, streams)
	first := apply(t, p, slices.Concat(streams...)...)
	require.Equal(t, first.Colls, apply(t, p, slices.Concat(streams...)...).Colls, "rebuild")
}
