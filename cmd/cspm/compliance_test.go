package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

const complianceCIS = "ours_v5_shaped_compliance_cis_5.0_aws_scan2.csv"

// A findings report and Prowler's own compliance report of the same scan,
// both through `cspm import` (POST /api/v1/imports): the findings map every
// CloudTrail check to CIS-5.0 3.1 (so 3.1 fails: kms and a muted
// cloudwatch failure); the compliance report, as Prowler computed it,
// passes 3.1 and fails 3.5. The framework's page shows the difference.
func TestCompliance_FindingsAndComplianceReportOfOneScan(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	imp := func(args ...string) cscmd.ImportResult {
		r := a.cli(t, nil, append([]string{"import"}, append(args, "--server", a.base, "--json")...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		var res cscmd.ImportResult
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), r.stdout)
		require.Equal(t, "completed", res.Status, r.stdout)
		return res
	}
	findings := imp(prowlerTestdata(pairAfter))
	report := imp(prowlerTestdata(complianceCIS), "--format", "prowler-compliance-csv")

	var fw csquery.FrameworkCompliance
	must(t, a.get(t, fmt.Sprintf("/api/v1/compliance/CIS-5.0?account=111122223333&min_position=%d", report.Position)), 200).data(t, &fw)
	require.NotNil(t, fw.Evaluation)
	assert.Equal(t, "compliance_report", fw.Evaluation.Source, "the report is dated later (local time, no zone): the current evaluation")
	assert.Equal(t, map[string]string{"3.1": "pass", "3.5": "fail"}, reqStatuses(fw.Requirements))
	require.NotNil(t, fw.ComparedWith)
	assert.Equal(t, findings.ImportID, fw.ComparedWith.ImportID)
	assert.Equal(t, []csquery.Difference{
		{Requirement: "3.1", Findings: "fail", Report: "pass", ReportImportID: report.ImportID},
		{Requirement: "3.5", Findings: "not_evaluated", Report: "fail", ReportImportID: report.ImportID},
	}, fw.Differences)

	// The findings' own evaluation, by its scan, compared the same way.
	must(t, a.get(t, "/api/v1/compliance/CIS-5.0?scan_id="+findings.ScanID), 200).data(t, &fw)
	assert.Equal(t, "findings", fw.Evaluation.Source)
	assert.Equal(t, map[string]string{"3.1": "fail"}, reqStatuses(fw.Requirements))
	assert.Equal(t, int64(1), fw.Requirements[0].MutedFail, "the muted cloudwatch failure still fails 3.1")
	require.Len(t, fw.Differences, 2)

	var ov csquery.ComplianceOverview
	must(t, a.get(t, "/api/v1/compliance"), 200).data(t, &ov)
	assert.NotEmpty(t, ov.Frameworks)
}

func reqStatuses(rs []csquery.Requirement) map[string]string {
	out := map[string]string{}
	for _, r := range rs {
		out[r.ID] = r.Status
	}
	return out
}
