package prowler_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/platform/parsers/prowler"
)

func TestParseFramework_NISTCSFSubset(t *testing.T) {
	b, err := os.ReadFile("testdata/frameworks/prowler_compliance_nist_csf_2.0_aws_subset.json")
	require.NoError(t, err)
	require.True(t, prowler.IsFramework(b[:min(len(b), 4096)]))
	c, err := prowler.ParseFramework(strings.NewReader(string(b)))
	require.NoError(t, err)
	require.Equal(t, "nist-csf-2.0-aws", c.Framework)
	require.Equal(t, assessments.SourceProwler, c.Source)
	require.Len(t, c.Requirements, 27)
	require.Equal(t, 27, c.Assessable())
	manual, sections := 0, map[string]int{}
	var ds6 assessments.Requirement
	for _, r := range c.Requirements {
		if len(r.Checks) == 0 {
			manual++
		}
		sections[r.Section]++
		if r.RefID == "PR.DS-6" {
			ds6 = r
		}
	}
	require.Equal(t, "ds_6", ds6.ID)
	require.Equal(t, "Protect (PR)", ds6.Section)
	require.Equal(t, []string{"cloudtrail_log_file_validation_enabled"}, ds6.Checks)
	require.Equal(t, 3, manual, "GV.OC-1..3 have no checks")
	require.Len(t, sections, 4, "%v", sections)
}

func TestParseFramework_Refused(t *testing.T) {
	for _, body := range []string{`[`, `{"Framework":"X"}`, `{"Framework":"X","Requirements":[{"Id":""}]}`} {
		_, err := prowler.ParseFramework(strings.NewReader(body))
		var fe *prowler.FrameworkError
		require.ErrorAs(t, err, &fe, body)
	}
}
