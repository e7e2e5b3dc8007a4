package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
	ssquery "github.com/cspm-es/cspm-es/queries/securityscans"
)

// scannerTestdata is a native scanner parser's test report.
func scannerTestdata(tool, name string) string {
	return filepath.Join("..", "..", "platform", "parsers", tool, "testdata", name)
}

type importedWithDelta struct {
	cscmd.ImportResult
	Delta *orchquery.DeltaCounts `json:"delta"`
}

func importJSON(t *testing.T, a *testApp, file string, args ...string) importedWithDelta {
	t.Helper()
	r := a.cli(t, nil, append([]string{"import", file, "--server", a.base, "--json"}, args...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	var out importedWithDelta
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	require.Equal(t, "completed", out.Status, r.stdout)
	require.NotNil(t, out.Delta, r.stdout)
	return out
}

func writeTemp(t *testing.T, name string, b []byte) string {
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

// ZAP over HTTP, detected: the 2021-12-01 → 2021-12-02 pair gives what
// identity rule zap/v1 implies (5 fixed: Reverse Tabnabbing on its 5
// pages; 0 new; 51 unchanged); then the 12-02 report as an upgraded ZAP
// would write it a day later (parameters upper case, alertRefs suffixed,
// alerts renamed) changes nothing.
func TestImportZAP_PairAndUpgrade(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	sev := func(medium, low, info int64) queries.SeverityCounts {
		return queries.SeverityCounts{Medium: medium, Low: low, Informational: info}
	}
	first := importJSON(t, a, scannerTestdata("zap", "zap_2021-12-01_baseline_itsecgames_report.json"))
	assert.Equal(t, "zap-json", first.Format)
	assert.Equal(t, "zap", first.Tool)
	assert.Equal(t, "2.11.0", first.ToolVersion)
	assert.Equal(t, sev(22, 21, 13), first.Delta.New)

	second := importJSON(t, a, scannerTestdata("zap", "zap_2021-12-02_baseline_itsecgames_report.json"))
	assert.Equal(t, orchquery.DeltaCounts{Fixed: sev(5, 0, 0), Unchanged: sev(17, 21, 13), Failing: sev(17, 21, 13)}, *second.Delta)

	raw, err := os.ReadFile(scannerTestdata("zap", "zap_2021-12-02_baseline_itsecgames_report.json"))
	require.NoError(t, err)
	var rep map[string]any
	require.NoError(t, json.Unmarshal(raw, &rep))
	rep["@generated"] = "Fri, 3 Dec 2021 09:19:35"
	for _, s := range rep["site"].([]any) {
		for _, al := range s.(map[string]any)["alerts"].([]any) {
			am := al.(map[string]any)
			am["alertRef"] = am["alertRef"].(string) + "-1"
			am["name"] = "Renamed " + am["name"].(string)
			for _, in := range am["instances"].([]any) {
				im := in.(map[string]any)
				im["param"] = strings.ToUpper(im["param"].(string))
			}
		}
	}
	upgraded, err := json.Marshal(rep)
	require.NoError(t, err)
	third := importJSON(t, a, writeTemp(t, "upgraded.json", upgraded), "--format", "zap")
	assert.Equal(t, orchquery.DeltaCounts{Unchanged: sev(17, 21, 13), Failing: sev(17, 21, 13)}, *third.Delta)

	var open []csquery.Finding
	must(t, a.get(t, "/api/v1/findings?status=open&limit=100&min_position="+strconv.FormatInt(third.Position, 10)), 200).data(t, &open)
	assert.Len(t, open, 51)

	// The target's latest results: the upgraded report's 51 findings.
	var targets []ssquery.Target
	must(t, a.get(t, "/api/v1/targets?min_position="+strconv.FormatInt(third.Position, 10)), 200).data(t, &targets)
	require.Len(t, targets, 1)
	assert.Equal(t, "http://www.itsecgames.com", targets[0].Target)
	assert.Equal(t, int64(51), targets[0].Failing)
	var res ssquery.TargetResults
	must(t, a.get(t, "/api/v1/targets/"+targets[0].ID+"/results"), 200).data(t, &res)
	require.Len(t, res.Tools, 1)
	assert.Equal(t, third.ScanID, res.Tools[0].ScanID)
	assert.Len(t, res.OpenFindings, 51)
	var fromFindings, fromTarget []string // the same findings, by the same ids
	for _, f := range open {
		fromFindings = append(fromFindings, f.ID)
	}
	for _, f := range res.OpenFindings {
		fromTarget = append(fromTarget, f.FindingID)
	}
	assert.ElementsMatch(t, fromFindings, fromTarget)
}

// testssl.sh (ours, flat, undated), SSLyze and every Nuclei sample over
// HTTP; a FATAL-only report of the same target fixes nothing; a Nuclei
// report without one of the earlier findings fixes it (the whole target
// was evaluated, decision 59).
func TestImportScanners_EachFormat(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)

	ts := importJSON(t, a, scannerTestdata("testssl", "ours_testssl_3.2_flat_fatal_and_ok_cves.json"))
	assert.Equal(t, "testssl-json", ts.Format)
	assert.Equal(t, queries.SeverityCounts{Low: 1}, ts.Delta.New) // TLS1; OK rows naming CVEs raise nothing
	require.Len(t, ts.Problems, 2)
	assert.Equal(t, "FATAL", ts.Problems[1].Level)

	r := a.cli(t, nil, "import", scannerTestdata("testssl", "ours_testssl_3.2_flat_fatal_and_ok_cves.json"), "--server", a.base)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "problem   FATAL down.example:443 scanProblem: Can't connect")

	fatal := `[{"id":"scanProblem","ip":"ok.example/192.0.2.10","port":"443","severity":"FATAL","finding":"Can't connect to '192.0.2.10:443'"}]`
	f := importJSON(t, a, writeTemp(t, "fatal.json", []byte(fatal)), "--format", "testssl-json")
	assert.Equal(t, orchquery.DeltaCounts{}, *f.Delta, "a FATAL row fixes nothing")
	require.Len(t, f.Problems, 1)

	pretty := importJSON(t, a, scannerTestdata("testssl", "testssl_3.0rc2_jsonpretty_www.google.com.json"))
	assert.Equal(t, queries.SeverityCounts{Low: 3}, pretty.Delta.New)
	assert.Equal(t, "3.0rc2", pretty.ToolVersion)

	ss := importJSON(t, a, scannerTestdata("sslyze", "sslyze_5.0.1_one_target_many_vuln_trimmed.json"))
	assert.Equal(t, "sslyze-json", ss.Format)
	assert.Equal(t, queries.SeverityCounts{Medium: 3}, ss.Delta.New)
	assert.Equal(t, 18, ss.Counts.Results)

	for name, results := range map[string]int{
		"nuclei_v2_2021_legacy_keys.jsonl":      18,
		"nuclei_v2_2022_hyphen_keys.jsonl":      2,
		"nuclei_v3_2023_json_export_array.json": 6,
		"nuclei_v3_2024_multiple_matches.jsonl": 2,
		"nuclei_v3_2026_dvwa_subset.jsonl":      13,
	} {
		n := importJSON(t, a, scannerTestdata("nuclei", name))
		assert.Equal(t, "nuclei", n.Tool, name)
		assert.Equal(t, results, n.Counts.Results, name)
		assert.Positive(t, n.Delta.New.Sum(), name)
	}

	// The 2021 report again, a day later, without phpmyadmin-setup: it is
	// fixed; the rest is unchanged.
	raw, err := os.ReadFile(scannerTestdata("nuclei", "nuclei_v2_2021_legacy_keys.jsonl"))
	require.NoError(t, err)
	var kept []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if strings.Contains(line, `"phpmyadmin-setup"`) {
			continue
		}
		kept = append(kept, strings.ReplaceAll(line, "2021-05-20T", "2021-05-21T"))
	}
	later := importJSON(t, a, writeTemp(t, "later.jsonl", []byte(strings.Join(kept, "\n")+"\n")))
	assert.Equal(t, queries.SeverityCounts{Medium: 1}, later.Delta.Fixed)
	assert.Zero(t, later.Delta.New.Sum())
}
