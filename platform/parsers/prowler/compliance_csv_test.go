package prowler

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

func parseComplianceFile(t *testing.T, name string) ([]cloudsecurity.Observation, Summary) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := f.Read(head)
	got, err := Detect(head[:n])
	require.NoError(t, err)
	require.Equal(t, FormatComplianceCSV, got)
	_, err = f.Seek(0, 0)
	require.NoError(t, err)
	var obs []cloudsecurity.Observation
	sum, err := Parse(context.Background(), f, FormatComplianceCSV, func(o cloudsecurity.Observation) error {
		obs = append(obs, o)
		return nil
	})
	require.NoError(t, err)
	return obs, sum
}

// A CIS-layout report (no FRAMEWORK column: "CIS", the version comes from
// the file name at import): the manual row is skipped; each finding is one
// observation mapped to its requirement; the naive ASSESSMENTDATE is UTC.
func TestComplianceCSV_CIS(t *testing.T) {
	t.Parallel()
	obs, sum := parseComplianceFile(t, "ours_v5_shaped_compliance_cis_5.0_aws_scan2.csv")
	require.Len(t, obs, 3)
	assert.Equal(t, 3, sum.Observations)
	at := time.Date(2026, 3, 2, 10, 30, 0, 654321000, time.UTC)
	want := []struct {
		check, region string
		result        cloudsecurity.Result
		req           string
	}{
		{"cloudtrail_multi_region_enabled", "eu-west-1", cloudsecurity.ResultPass, "3.1"},
		{"cloudtrail_multi_region_enabled", "us-east-1", cloudsecurity.ResultPass, "3.1"},
		{"cloudtrail_kms_encryption_enabled", "eu-north-1", cloudsecurity.ResultFail, "3.5"},
	}
	for i, w := range want {
		o := obs[i]
		assert.Equal(t, w.check, o.CheckID)
		assert.Equal(t, w.region, o.Region)
		assert.Equal(t, w.result, o.Result)
		assert.Equal(t, map[string][]string{"CIS": {w.req}}, o.Compliance)
		assert.Equal(t, "aws", o.Provider)
		assert.Equal(t, "111122223333", o.AccountUID)
		assert.Equal(t, "arn:aws:cloudtrail:eu-north-1:111122223333:trail/org-audit-trail", o.ResourceUID)
		assert.True(t, o.ObservedAt.Equal(at), "%v", o.ObservedAt)
	}
	assert.Contains(t, obs[2].StatusDetail, `"quoted; text"`)
}

// A generic-layout report (FRAMEWORK and NAME: "NIST-CSF-2.0"): the rows
// of one finding (adjacent) are one observation with every requirement.
func TestComplianceCSV_Generic(t *testing.T) {
	t.Parallel()
	obs, _ := parseComplianceFile(t, "ours_v5_shaped_compliance_nist_csf_2.0_aws_scan2.csv")
	require.Len(t, obs, 4)
	assert.Equal(t, map[string][]string{"NIST-CSF-2.0": {"DE.CM-01", "DE.CM-03"}}, obs[0].Compliance)
	assert.Equal(t, "eu-west-1", obs[0].Region)
	assert.Equal(t, map[string][]string{"NIST-CSF-2.0": {"DE.CM-01", "DE.CM-03"}}, obs[1].Compliance)
	assert.Equal(t, "us-east-1", obs[1].Region)
	assert.Equal(t, cloudsecurity.ResultFail, obs[2].Result)
	assert.Equal(t, "cloudtrail_cloudwatch_logging_enabled", obs[3].CheckID)
	assert.True(t, obs[3].Muted)
}

func TestComplianceCSV_Broken(t *testing.T) {
	t.Parallel()
	hdr := "PROVIDER;ACCOUNTID;REGION;ASSESSMENTDATE;REQUIREMENTS_ID;STATUS;STATUSEXTENDED;RESOURCEID;RESOURCENAME;CHECKID;MUTED;FRAMEWORK;NAME\r\n"
	for _, tc := range []struct{ name, body, field string }{
		{"no framework", strings.Replace(hdr, ";FRAMEWORK;NAME", "", 1) + "aws;1;r;2026-03-02 10:30:00;3.1;PASS;x;res;n;c;False\r\n", "FRAMEWORK"},
		{"bad status", hdr + "aws;1;r;2026-03-02 10:30:00;3.1;MAYBE;x;res;n;c;False;CIS;v1.0\r\n", "STATUS"},
		{"no account", hdr + "aws;;r;2026-03-02 10:30:00;3.1;PASS;x;res;n;c;False;CIS;v1.0\r\n", "ACCOUNTID"},
		{"bad muted", hdr + "aws;1;r;2026-03-02 10:30:00;3.1;PASS;x;res;n;c;maybe;CIS;v1.0\r\n", "MUTED"},
	} {
		_, err := Parse(context.Background(), strings.NewReader(tc.body), FormatComplianceCSV, func(cloudsecurity.Observation) error { return nil })
		var pe *ParseError
		require.ErrorAs(t, err, &pe, tc.name)
		assert.Equal(t, tc.field, pe.Field, tc.name)
		assert.Equal(t, 2, pe.Line, tc.name)
	}
	_, err := Parse(context.Background(), strings.NewReader("PROVIDER;REQUIREMENTS_ID;STATUS\r\n"), FormatComplianceCSV, func(cloudsecurity.Observation) error { return nil })
	assert.ErrorIs(t, err, ErrMalformed)
}
