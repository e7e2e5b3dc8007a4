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
