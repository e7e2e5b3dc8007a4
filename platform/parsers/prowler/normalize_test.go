package prowler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"Owner:security":                               {"Owner", "security"},
		"Owner: security":                              {"Owner", "security"}, // 4.x
		"url:https://example.com/a":                    {"url", "https://example.com/a"},
		"Name: web: server":                            {"Name", "web: server"},
		"aws:cloudformation:stack-name:audit":          {"aws:cloudformation:stack-name", "audit"},
		"aws:cloudformation:stack-id:arn:aws:cf:x:1:s": {"aws:cloudformation:stack-id", "arn:aws:cf:x:1:s"},
		"aws:cloudformation:logical-id: Bucket":        {"aws:cloudformation:logical-id", "Bucket"},
		"env=prod":                                     {"env", "prod"},
		"standalone":                                   {"standalone", ""},
	} {
		k, v := parseLabel(in)
		assert.Equal(t, want, [2]string{k, v}, in)
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"2026-07-17T01:02:50.516997":  "2026-07-17T01:02:50.516997Z", // naive: UTC
		"2025-02-14 14:27:03.913874":  "2025-02-14T14:27:03.913874Z", // CSV
		"2023-03-18T15:43:31Z":        "2023-03-18T15:43:31Z",        // ASFF
		"2024-06-03T16:15:19+02:00":   "2024-06-03T14:15:19Z",
		"2024-06-03 16:15:19.5+02:00": "2024-06-03T14:15:19.5Z", // Python str() of an aware time
		"1739539623":                  "2025-02-14T13:27:03Z",   // --unix-timestamp
		"1739539623.25":               "2025-02-14T13:27:03.25Z",
		" 2024-06-03T14:15:19 ":       "2024-06-03T14:15:19Z",
	} {
		got, err := parseTime(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got.Format(time.RFC3339Nano), in)
		assert.Equal(t, time.UTC, got.Location())
	}
	for _, in := range []string{"", "yesterday", "1739539623000", "1999-12-31T23:59:59Z", "2200-01-01T00:00:00Z", "-5", "NaN", "Inf"} {
		_, err := parseTime(in)
		assert.Error(t, err, in)
	}
}

func TestParseComplianceCell(t *testing.T) {
	t.Parallel()
	assert.Equal(t, map[string][]string{
		"CIS-1.4":          {"1.20"},
		"KISA-ISMS-P-2023": {"2.5.6", "2.6.4"},
	}, parseComplianceCell("CIS-1.4: 1.20 | KISA-ISMS-P-2023: 2.5.6, 2.6.4, 2.5.6 | empty: | : 1"))
	assert.Nil(t, parseComplianceCell(""))
}

func TestParseASFFRequirements(t *testing.T) {
	t.Parallel()
	cut := "NIST-800-53-Revision-5 ac_2_1 ac_2_6 ac_3_3 ac_3_3_a ac_3_3_b_1" // 63 characters: cut by Prowler
	require.Len(t, cut, 63)
	cutAtSpace := "NIST-CSF-1.1 ae_1 ae_3 ae_4 cm_1 cm_3 cm_6 cm_7 am_3 ac_6 ds_5 " // 63, ends in a space
	require.Len(t, cutAtSpace, 63)
	assert.Equal(t, map[string][]string{
		"CIS-1.5":                {"1.4"},
		"NIST-800-53-Revision-5": {"ac_2_1", "ac_2_6", "ac_3_3", "ac_3_3_a"},
		"NIST-CSF-1.1":           {"ae_1", "ae_3", "ae_4", "cm_1", "cm_3", "cm_6", "cm_7", "am_3", "ac_6", "ds_5"},
	}, parseASFFRequirements([]string{"CIS-1.5 1.4", cut, cutAtSpace, "lonely", ""}))
}

func TestNormalisation(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "m365", normProvider(" Microsoft365 "), "renamed in Prowler 5")
	assert.Equal(t, "aws", normProvider("AWS"))
	for in, want := range map[string]string{"Informational": "informational", "info": "informational", "CRITICAL": "critical", "low": "low", "": ""} {
		got, err := parseSeverity("severity", in)
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
	_, err := parseSeverity("severity", "Unknown")
	assert.ErrorIs(t, err, ErrInvalidValue)
	assert.Equal(t, "kube-system", regionFor("kubernetes", "namespace: kube-system"))
	assert.Equal(t, "eu-west-1", regionFor("aws", " eu-west-1 "))
	assert.Equal(t, "arn:aws:eks:eu-west-1:1:cluster/a-b", clusterFromFindingUID("prowler-kubernetes-core_x-arn:aws:eks:eu-west-1:1:cluster/a-b-namespace: default-pod-1", "core_x"))
	assert.Equal(t, "", clusterFromFindingUID("prowler-kubernetes-core_x--namespace: default-pod", "core_x"), "4.0 wrote no cluster")
	p, c := checkFromFindingUID("prowler-aws-s3_bucket_public_access-111122223333-eu-west-1-b")
	assert.Equal(t, [2]string{"aws", "s3_bucket_public_access"}, [2]string{p, c})
	assert.Equal(t, "s3", serviceFromCheck("s3_bucket_public_access"))
	assert.Equal(t, "eu-west-1", regionFromArn("arn:aws:securityhub:eu-west-1::product/prowler/prowler"))
	assert.Equal(t, map[string]string{"a": "1", "b": "x=y", "c": ""}, parseTagCell("a=1 | b=x=y | c | =z"))

	var tx texts
	tx.remediationText("Do it.")
	tx.reference("https://a.example/x")
	tx.reference("terraform { }")
	tx.reference("https://a.example/x")
	tx.url("https://b.example/y https://a.example/x not-a-url")
	tx.reference("")
	assert.Equal(t, "Do it.\n\nterraform { }", tx.remediation.String())
	assert.Equal(t, []string{"https://a.example/x", "https://b.example/y"}, tx.refs)
}
