package main

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	as "github.com/cspm-es/cspm-es/domain/assessments"
)

const (
	isolationFramework = "nist-csf-2.0-aws"
	csfCatalogue       = "../../platform/parsers/prowler/testdata/frameworks/prowler_compliance_nist_csf_2.0_aws_subset.json"
)

// loadCSF loads the real Prowler NIST CSF subset over HTTP (admin) and
// waits for it to be readable.
func loadCSF(t *testing.T, a *testApp, as ...string) {
	t.Helper()
	raw, err := os.ReadFile(csfCatalogue)
	require.NoError(t, err)
	var body any
	require.NoError(t, json.Unmarshal(raw, &body))
	ans := a.call(t, http.MethodPost, "/api/v1/catalogs?version=2025-06", body, as...)
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, ans.status, "%s", ans.raw)
	eventually(t, 30*time.Second, "the catalogue is projected", func() bool {
		return a.call(t, http.MethodGet, "/api/v1/frameworks/"+isolationFramework+"/versions", nil, as...).status == http.StatusOK
	})
}

// isolationAssessmentsWorld gives team A an assessment of the CSF (open,
// answered) and one closed; it returns their ids.
func isolationAssessmentsWorld(t *testing.T, a *testApp, asA []string) []string {
	t.Helper()
	loadCSF(t, a, asA...)
	var ids []string
	for i, name := range []string{"iso-a-assessment-open", "iso-a-assessment-closed"} {
		var res api.CommandResult
		must(t, a.call(t, http.MethodPost, "/api/v1/assessments", map[string]any{"name": name, "framework": isolationFramework,
			"scope": map[string]any{"accounts": []string{"111122223333"}}}, asA...), http.StatusCreated).data(t, &res)
		ids = append(ids, res.ID)
		must(t, a.call(t, http.MethodPost, "/api/v1/assessments/"+res.ID+"/answers", map[string]any{"requirement_id": "ds_6", "status": "compliant"}, asA...), http.StatusAccepted)
		if i == 1 {
			must(t, a.call(t, http.MethodPatch, "/api/v1/assessments/"+res.ID, map[string]any{"assignees": []string{"iso-a-assignee"}}, asA...), http.StatusAccepted)
		}
	}
	return ids
}

// TestAssessmentEvidenceThroughTheApp: the real catalogue loaded over
// HTTP, a report imported, an assessment of the report's account: its
// evidence is the report's results as of the assessment's date; a report
// evaluated after that date leaves it as it was.
func TestAssessmentEvidenceThroughTheApp(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	admin := issueTestKey(t, a, "team-a", "admin")
	asA := []string{"Authorization", "Bearer " + admin.Key}
	loadCSF(t, a, asA...)
	report := func(name string) any {
		raw, err := os.ReadFile(prowlerTestdata(name))
		require.NoError(t, err)
		var v any
		require.NoError(t, json.Unmarshal(raw, &v))
		return v
	}
	var before cscmd.ImportResult
	must(t, a.call(t, http.MethodPost, "/api/v1/imports", report(pairBefore), asA...), http.StatusAccepted).data(t, &before)
	asOf := time.Now().UTC().Add(-time.Minute) // after scan 1 (2025), before any report imported from now on
	var res api.CommandResult
	must(t, a.call(t, http.MethodPost, "/api/v1/assessments", map[string]any{"name": "evidence", "framework": isolationFramework,
		"as_of": asOf.Format(time.RFC3339), "scope": map[string]any{"accounts": []string{"111122223333"}}}, asA...), http.StatusCreated).data(t, &res)
	var ev as.EvidenceView
	eventually(t, 30*time.Second, "the evidence is projected", func() bool {
		ans := a.call(t, http.MethodGet, "/api/v1/assessments/"+res.ID+"/evidence?min_position="+itoa(res.Position), nil, asA...)
		if ans.status != http.StatusOK || stale(ans) {
			return false
		}
		ans.data(t, &ev)
		return true
	})
	require.True(t, ev.Catalogue)
	require.Equal(t, 27, ev.Counts.Requirements)
	require.Equal(t, 1, ev.Revision, "scan 1's import")
	require.Equal(t, before.ImportID, ev.Sources[0].ImportID)
	require.NotEmpty(t, ev.Checks)
	require.Positive(t, ev.Counts.Fail, "scan 1 fails CloudTrail checks")

	// Scan 2 is evaluated in 2025 too, before the date: it revises the evidence.
	var after cscmd.ImportResult
	must(t, a.call(t, http.MethodPost, "/api/v1/imports", report(pairAfter), asA...), http.StatusAccepted).data(t, &after)
	eventually(t, 30*time.Second, "the evidence is revised", func() bool {
		ans := a.call(t, http.MethodGet, "/api/v1/assessments/"+res.ID+"/evidence?min_position="+itoa(after.Position), nil, asA...)
		if stale(ans) {
			return false
		}
		ans.data(t, &ev)
		return ev.Revision == 2
	})
	var all []map[string]any
	must(t, a.call(t, http.MethodGet, "/api/v1/assessments/all", nil, asA...), http.StatusOK).data(t, &all)
	kinds := map[any]int{}
	for _, e := range all {
		kinds[e["kind"]]++
	}
	require.Equal(t, 1, kinds["assessment"])
	require.Positive(t, kinds["cloud_compliance"], "the imports' compliance per framework")
}

// `cspm catalogs load` loads the real CISO Assistant libraries beside a
// running server (the same file again: unchanged), and the server lists
// them.
func TestCatalogsLoadCLI(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	dir := "../../platform/parsers/cisoassistant/testdata/"
	r := a.cli(t, nil, "catalogs", "load", dir+"nist_ai_rmf_1.0_ciso-assistant-library.json")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Equal(t, "nist-ai-rmf-1.0 1: loaded (113 requirements, 72 assessable)\n", r.stdout)
	r = a.cli(t, nil, "catalogs", "load", dir+"eu_ai_act_chapter3_section2_ciso-assistant-library_subset.json")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Equal(t, "ai-act 2: loaded (101 requirements, 88 assessable)\n", r.stdout)
	r = a.cli(t, nil, "catalogs", "load", dir+"nist_ai_rmf_1.0_ciso-assistant-library.json")
	require.Equal(t, "nist-ai-rmf-1.0 1: unchanged (113 requirements, 72 assessable)\n", r.stdout)
	r = a.cli(t, nil, "catalogs", "load", "../../go.mod")
	require.Equal(t, exitUsage, r.code, "not a catalogue: %s", r.stderr)
	var list []map[string]any
	eventually(t, 30*time.Second, "both frameworks are listed", func() bool {
		must(t, a.call(t, http.MethodGet, "/api/v1/catalogs", nil), http.StatusOK).data(t, &list)
		return len(list) == 2
	})
	require.Equal(t, "ai-act", list[0]["id"], "by name: EU before NIST")
	require.EqualValues(t, 88, list[0]["assessable"])
}
