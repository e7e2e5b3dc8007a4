package cloudsecurity_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cs "github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

func res(check string, r cs.Result, muted bool) cs.CheckResult {
	return cs.CheckResult{Provider: "aws", Account: "111", Check: check, Resource: "r-" + check, Result: r, Muted: muted}
}

func TestCompliance_RequirementRule(t *testing.T) {
	// Given checks a and b mapped to CIS 1.1, c to 1.2 and 1.3, d (manual) to 2.1, e to 2.2 (no result)
	mapping := cs.MappingOf([]cs.CheckInfo{
		{CheckID: "a", Compliance: map[string][]string{"CIS": {"1.1"}}},
		{CheckID: "b", Compliance: map[string][]string{"CIS": {"1.1"}}},
		{CheckID: "c", Compliance: map[string][]string{"CIS": {"1.2", "1.3"}, "ISO": {"A.5"}}},
		{CheckID: "d", Compliance: map[string][]string{"CIS": {"2.1"}}},
		{CheckID: "e", Compliance: map[string][]string{"CIS": {"2.2"}}},
		{CheckID: "f", Compliance: map[string][]string{"CIS": {"3.1"}}},
	})
	// When a passes, b fails (muted by the tool), c passes, d is manual, f passes and fails
	ev := cs.EvaluateCompliance(mapping, []cs.CheckResult{
		res("a", cs.ResultPass, false), res("b", cs.ResultFail, true), res("c", cs.ResultPass, false),
		res("d", cs.ResultManual, false), res("f", cs.ResultPass, false), res("f", cs.ResultFail, false),
	})
	// Then a muted failure still fails its requirement; manual and not evaluated stand apart
	cis := ev["CIS"].Requirements
	assert.Equal(t, cs.RequirementFail, cis["1.1"].Status())
	assert.True(t, cis["1.1"].OnlyMutedFailures())
	assert.Equal(t, cs.RequirementPass, cis["1.2"].Status())
	assert.Equal(t, cs.RequirementPass, cis["1.3"].Status())
	assert.Equal(t, cs.RequirementManual, cis["2.1"].Status())
	assert.Equal(t, cs.RequirementNotEvaluated, cis["2.2"].Status())
	assert.Equal(t, cs.RequirementFail, cis["3.1"].Status())
	assert.False(t, cis["3.1"].OnlyMutedFailures())
	score := ev["CIS"].Score()
	assert.Equal(t, cs.ComplianceScore{Requirements: 6, Passed: 2, Failed: 2, Manual: 1, NotEvaluated: 1, MutedFail: 1}, score)
	v, ok := score.Score()
	require.True(t, ok)
	assert.InDelta(t, 0.5, v, 1e-9) // 2 / (2 + 2): manual and not evaluated are not passed
	assert.Equal(t, cs.RequirementPass, ev["ISO"].Requirements["A.5"].Status())
}

func TestCompliance_NoScoreWithoutEvaluations(t *testing.T) {
	// Given only manual and not evaluated requirements, when scored, then there is no score (not 0, not 100%)
	s := cs.ComplianceScore{Requirements: 2, Manual: 1, NotEvaluated: 1}
	_, ok := s.Score()
	assert.False(t, ok)
}

func TestSummarizeCompliance(t *testing.T) {
	// Given two accounts in CIS and one in ISO
	got := cs.SummarizeCompliance([]cs.AccountFrameworkScore{
		{Account: "1", Framework: "CIS", Score: cs.ComplianceScore{Requirements: 4, Passed: 3, Failed: 1}},
		{Account: "2", Framework: "CIS", Score: cs.ComplianceScore{Requirements: 4, Passed: 1, Failed: 1, Manual: 2}},
		{Account: "1", Framework: "ISO", Score: cs.ComplianceScore{Requirements: 1, NotEvaluated: 1}},
	})
	// Then the score of the sum is passed / (passed + failed) over every account's requirements
	require.Len(t, got, 2)
	assert.Equal(t, "CIS", got[0].Framework)
	assert.Equal(t, 2, got[0].Accounts)
	assert.Equal(t, cs.ComplianceScore{Requirements: 8, Passed: 4, Failed: 2, Manual: 2}, got[0].Counts)
	require.NotNil(t, got[0].Score)
	assert.InDelta(t, 4.0/6.0, *got[0].Score, 1e-9)
	assert.Nil(t, got[1].Score)
}

func TestCompareRequirements(t *testing.T) {
	st := func(id string, s cs.RequirementStatus) cs.RequirementState {
		return cs.RequirementState{ID: id, Status: s}
	}
	a := []cs.RequirementState{st("1", cs.RequirementFail), st("2", cs.RequirementPass), st("3", cs.RequirementPass), st("5", cs.RequirementFail)}
	b := []cs.RequirementState{st("1", cs.RequirementPass), st("2", cs.RequirementPass), st("3", cs.RequirementFail), st("4", cs.RequirementManual)}
	all, _, more := cs.CompareRequirements(a, b, "", 0)
	assert.False(t, more)
	assert.Equal(t, []cs.RequirementChange{
		{Requirement: "1", From: cs.RequirementFail, To: cs.RequirementPass},
		{Requirement: "3", From: cs.RequirementPass, To: cs.RequirementFail},
		{Requirement: "4", From: cs.RequirementNotEvaluated, To: cs.RequirementManual},
		{Requirement: "5", From: cs.RequirementFail, To: cs.RequirementNotEvaluated},
	}, all)
	// Paged two at a time, the pages make the whole
	p1, last, more := cs.CompareRequirements(a, b, "", 2)
	assert.True(t, more)
	p2, _, more := cs.CompareRequirements(a, b, last, 2)
	assert.False(t, more)
	assert.Equal(t, all, append(p1, p2...))
}

func TestReportFramework(t *testing.T) {
	for _, tc := range []struct{ fw, file, want string }{
		{"CIS", "prowler-output-123456789012-20250101120000_cis_5.0_aws.csv", "CIS-5.0"},
		{"CIS", "out/x_cis_4.0.1_aws.csv", "CIS-4.0.1"},
		{"CIS", "report.csv", "CIS"},
		{"CIS", "", "CIS"},
		{"NIST-CSF-2.0", "x_nist_csf_2.0_aws.csv", "NIST-CSF-2.0"},
		{"NIST-CSF", "x_nist_csf_2.0_aws.csv", "NIST-CSF-2.0"},
		{"MITRE-ATTACK", "x_mitre_attack_aws.csv", "MITRE-ATTACK"},
	} {
		assert.Equal(t, tc.want, cs.ReportFramework(tc.fw, tc.file), "%s in %s", tc.fw, tc.file)
	}
}

func TestRequirementRowsRoundTrip(t *testing.T) {
	rows := []cs.RequirementRow{
		{ID: "1.1", Status: cs.RequirementManual, Tally: cs.RequirementTally{Manual: 1}},
		{ID: "DE.CM-01", Status: cs.RequirementFail, Tally: cs.RequirementTally{Pass: 2, Fail: 3, MutedFail: 1}, Checks: []string{"a", "b"}},
		{ID: "x", Status: cs.RequirementNotEvaluated, Checks: []string{"c"}},
	}
	got := cs.DecodeRequirementRows(cs.EncodeRequirementRows(rows))
	assert.Equal(t, rows, got)
	assert.Equal(t, []cs.RequirementState{{ID: "1.1", Status: cs.RequirementManual}, {ID: "DE.CM-01", Status: cs.RequirementFail},
		{ID: "x", Status: cs.RequirementNotEvaluated}}, cs.DecodeRequirementStates(cs.EncodeRequirementRows(rows)))
	team := []cs.TeamRequirementRow{{ID: "1.1", Pass: 1, Fail: 2, Manual: 3, NotEvaluated: 4, MutedFail: 5}, {ID: "2"}}
	assert.Equal(t, team, cs.DecodeTeamRows(cs.EncodeTeamRows(team)))
	assert.Nil(t, cs.DecodeRequirementRows(""))
}
