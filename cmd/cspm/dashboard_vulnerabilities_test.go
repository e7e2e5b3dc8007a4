package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	platformquery "github.com/cspm-es/cspm-es/queries/platform"
	"github.com/cspm-es/cspm-es/queries/queriestest"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// lowRatedKEVReport writes the teamdojo report with CVE-2020-15999 (in
// KEV) rated LOW by the scanner, and returns its path.
func lowRatedKEVReport(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(trivyTestdata("trivy_image_teamdojo_scheme2_defectdojo_kev_cve.json"))
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	n := 0
	for _, r := range doc["Results"].([]any) {
		vulns, _ := r.(map[string]any)["Vulnerabilities"].([]any)
		for _, v := range vulns {
			if m := v.(map[string]any); m["VulnerabilityID"] == "CVE-2020-15999" {
				m["Severity"] = "LOW"
				n++
			}
		}
	}
	require.Positive(t, n)
	out, err := json.Marshal(doc)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "teamdojo-low.json")
	require.NoError(t, os.WriteFile(p, out, 0o600))
	return p
}

// TestKEVRatedLow_ThroughTheServer: the issue's "a KEV CVE that the
// scanner rates LOW is flagged KEV and gets KEV's due date", through cspm
// import (the Trivy report and a KEV feed listing CVE-2020-15999, due
// 2026-02-10) in both orders, read back over HTTP: the occurrence is
// flagged, its clock is due at KEV's dueDate, and the dashboard's
// vulnerabilities section counts it with /sla/summary's numbers.
func TestKEVRatedLow_ThroughTheServer(t *testing.T) {
	t.Parallel()
	for _, kevFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("kev_first=%v", kevFirst), func(t *testing.T) {
			t.Parallel()
			a := startApp(t, nil)
			feed := filepath.Join(t.TempDir(), "kev.json")
			require.NoError(t, os.WriteFile(feed, queriestest.KEVFeed("2026.02.01", []string{"CVE-2020-15999"}), 0o600))
			imports := [][]string{{"import", lowRatedKEVReport(t)}, {"import", feed, "--format", "kev-json"}}
			if kevFirst {
				imports[0], imports[1] = imports[1], imports[0]
			}
			for _, args := range imports {
				r := a.cli(t, nil, append(args, "--server", a.base)...)
				require.Equal(t, exitOK, r.code, r.stderr)
			}
			head := a.head(t)

			var occ []vulnquery.Occurrence
			must(t, a.get(t, fmt.Sprintf("/api/v1/vulnerabilities?kev=true&min_position=%d", head)), 200).data(t, &occ)
			require.Len(t, occ, 1)
			assert.Equal(t, "CVE-2020-15999", occ[0].VulnerabilityID)
			assert.Equal(t, "low", occ[0].Severity)
			assert.True(t, occ[0].KEV)
			due := time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)
			assert.Equal(t, due, occ[0].KEVDueDate)

			var breaches []vulnquery.Breach
			must(t, a.get(t, fmt.Sprintf("/api/v1/sla/breaches?kev=true&min_position=%d", head)), 200).data(t, &breaches)
			require.Len(t, breaches, 1)
			assert.Equal(t, "low", breaches[0].Severity)
			assert.Equal(t, "kev", breaches[0].DueSource)
			assert.Equal(t, due, breaches[0].DueAt, "KEV's dueDate, not LOW's policy days")

			var sum vulnquery.SLASummary
			must(t, a.get(t, fmt.Sprintf("/api/v1/sla/summary?min_position=%d", head)), 200).data(t, &sum)
			var dash platformquery.Dashboard
			must(t, a.get(t, fmt.Sprintf("/api/v1/dashboard/summary?min_position=%d", head)), 200).data(t, &dash)
			v := dash.Vulnerabilities
			assert.Equal(t, int64(1), v.KEVOpenTotal)
			assert.Equal(t, int64(1), v.KEVOpenBySeverity.Low)
			assert.Equal(t, sum.Total, v.SLA.Total, "the same numbers as /sla/summary")
			assert.Equal(t, sum.Total.Breached, v.SLA.Breached)
			assert.GreaterOrEqual(t, v.SLA.Breached, int64(1))
			require.Len(t, v.TopVulnerableImages, 1)
			assert.Equal(t, int64(1), v.TopVulnerableImages[0].KEVOpen)
			assert.Equal(t, v.OpenTotal, v.TopVulnerableImages[0].OpenTotal)
		})
	}
}
