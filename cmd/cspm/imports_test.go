package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
)

// prowlerTestdata is the Prowler parser's test reports.
func prowlerTestdata(name string) string {
	return filepath.Join("..", "..", "platform", "parsers", "prowler", "testdata", name)
}

const (
	pairBefore = "ours_v5.34_shaped_ocsf_cloudtrail_scan1_before.ocsf.json"
	pairAfter  = "ours_v5.34_shaped_ocsf_cloudtrail_scan2_after.ocsf.json"
)

// `cspm import` of a CloudTrail hardening's before/after pair: the first
// report raises four findings, the second fixes them and raises two; the
// same report again appends nothing; a broken report is rejected whole.
func TestImportCLI_BeforeAfterPair(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)

	r := a.cli(t, nil, "import", prowlerTestdata(pairBefore), "--server", a.base)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `^imported .*scan1_before.ocsf.json \(prowler-ocsf, prowler 5\.34\.\d+, [\d.]+ KiB\) as imp-[0-9a-f]{32} into scan scn-[0-9a-f]{32}\n`, r.stdout)
	assert.Contains(t, r.stdout, "changes   new 4, reopened 0, fixed 0, unchanged 0")

	r = a.cli(t, nil, "import", prowlerTestdata(pairAfter), "--server", a.base, "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var second struct {
		cscmd.ImportResult
		Delta *orchquery.DeltaCounts `json:"delta"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &second), r.stdout)
	require.NotNil(t, second.Delta, r.stdout)
	assert.Equal(t, int64(4), second.Delta.Fixed.Sum())
	assert.Equal(t, int64(2), second.Delta.New.Sum())
	assert.Equal(t, "completed", second.Status)

	var findings []csquery.Finding
	must(t, a.get(t, fmt.Sprintf("/api/v1/findings?status=fixed&min_position=%d", second.Position)), 200).data(t, &findings)
	assert.Len(t, findings, 4)
	must(t, a.get(t, "/api/v1/findings?status=open"), 200).data(t, &findings)
	assert.Len(t, findings, 2)

	head := a.head(t)
	r = a.cli(t, nil, "import", prowlerTestdata(pairAfter), "--server", a.base)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "was imported before as "+second.ImportID)
	assert.Equal(t, head, a.head(t), "nothing appended")

	broken := filepath.Join(t.TempDir(), "broken.json")
	require.NoError(t, os.WriteFile(broken, []byte(`[{"status_code": "FAIL"}`), 0o600))
	r = a.cli(t, nil, "import", broken, "--server", a.base)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "was rejected whole, nothing of it imported")
	assert.Contains(t, r.stderr, "/api/v1/imports/imp-")
	assert.Equal(t, head+1, a.head(t), "only the rejection is recorded")

	r = a.cli(t, nil, "import", prowlerTestdata(pairAfter), "--server", a.base, "--format", "nessus")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "format")
	r = a.cli(t, nil, "import", "--server", a.base)
	assert.Equal(t, exitUsage, r.code, r.stderr)
}

// head is the app's event store head.
func (a *testApp) head(t *testing.T) int64 {
	t.Helper()
	p, err := a.store.HeadPosition(t.Context())
	require.NoError(t, err)
	return p
}

// sharedFixture is a third-party sample kept beside the repository (the
// external fixtures directory of the CI checkout; docs/parsers.md names
// the samples that may not be copied here). The
// test needing it fails when it is missing, unless
// CSPM_SKIP_SHARED_FIXTURES=1 says to skip it (out loud).
func sharedFixture(t *testing.T, tool, name string) string {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "fixtures", "external", tool, name)
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CSPM_SKIP_SHARED_FIXTURES") == "1" {
			t.Skipf("SKIPPED: %s is not here (CSPM_SKIP_SHARED_FIXTURES=1): this test did not run", path)
		}
		t.Fatalf("%s: %v; the shared fixtures sit beside the repository in CI (set CSPM_SKIP_SHARED_FIXTURES=1 to skip this test)", path, err)
	}
	return path
}

// The real before/after pair of a Prowler 5.34 CloudTrail hardening
// (account 018134828551, 15 minutes apart), imported in order. The rules
// imply, and the test states:
//   - scan 1 raises its 6 FAILs (high 3, medium 1, low 2), all new;
//   - scan 2 evaluated the regions eu-west-1, us-east-1, eu-north-1 and
//     the checks of all six, so it fixes all six, though none of its
//     results names the same resource (the FAILs were on per-region
//     placeholder trails, the PASSes are on the real trail), and bedrock's
//     PASS is reported from eu-north-1 while its FAIL was in eu-west-1;
//   - its three FAILs are new (medium 1, low 2); its PASSes, the Critical
//     one included, are evidence and raise nothing; nothing reopens.
func TestImport_RealBeforeAfterPair(t *testing.T) {
	t.Parallel()
	before := sharedFixture(t, "prowler", "prowler_v5.34_ocsf_aws_cloudtrail_scan1_before.ocsf.json")
	after := sharedFixture(t, "prowler", "prowler_v5.34_ocsf_aws_cloudtrail_scan2_after.ocsf.json")
	a := startApp(t, nil)

	deltaOf := func(file string) (cscmd.ImportResult, orchquery.DeltaCounts) {
		t.Helper()
		r := a.cli(t, nil, "import", file, "--server", a.base, "--json")
		require.Equal(t, exitOK, r.code, r.stderr)
		var out struct {
			cscmd.ImportResult
			Delta *orchquery.DeltaCounts `json:"delta"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
		require.NotNil(t, out.Delta, "the delta was read: %s", r.stdout)
		return out.ImportResult, *out.Delta
	}
	sev := func(high, medium, low int64) queries.SeverityCounts {
		return queries.SeverityCounts{High: high, Medium: medium, Low: low}
	}

	imp1, d1 := deltaOf(before)
	assert.Equal(t, "prowler", imp1.Tool)
	assert.Equal(t, orchquery.DeltaCounts{New: sev(3, 1, 2), Failing: sev(3, 1, 2)}, d1)

	imp2, d2 := deltaOf(after)
	assert.Equal(t, orchquery.DeltaCounts{New: sev(0, 1, 2), Fixed: sev(3, 1, 2), Failing: sev(0, 1, 2)}, d2)
	assert.Equal(t, 11, imp2.Counts.Results)

	var list orchquery.DeltaList
	must(t, a.get(t, fmt.Sprintf("/api/v1/scans/%s/delta?change=fixed&min_position=%d", imp2.ScanID, imp2.Position)), 200).data(t, &list)
	fixed := list.Items
	require.Len(t, fixed, 6)
	var h csquery.History
	must(t, a.get(t, fmt.Sprintf("/api/v1/findings/%s/history?min_position=%d", fixed[0].FindingID, imp2.Position)), 200).data(t, &h)
	require.Len(t, h.Transitions, 2)
	assert.Equal(t, []string{"raised", "fixed"}, []string{h.Transitions[0].Kind, h.Transitions[1].Kind})
	assert.Equal(t, imp1.ScanID, h.Transitions[0].ScanID)
	assert.Equal(t, imp2.ScanID, h.Transitions[1].ScanID)
	assert.Equal(t, imp2.ImportID, h.Transitions[1].ImportID)
	assert.NotEmpty(t, h.Transitions[1].Actor)
}
