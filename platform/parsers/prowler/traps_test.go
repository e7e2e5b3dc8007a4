package prowler

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// Our v5.34-shaped pair reproduces what the real before/after CloudTrail
// scans show: the FAIL is raised on a synthetic per-region resource, the
// later PASS on the real trail, whose ARN is in another region; an
// account-global check is reported from a different region each time; the
// epoch time is exact while time_dt is the machine's local time.
func TestParse_V534ShapedPair(t *testing.T) {
	t.Parallel()
	before, _ := parseSample(t, "ours_v5.34_shaped_ocsf_cloudtrail_scan1_before.ocsf.json", FormatOCSF)
	after, _ := parseSample(t, "ours_v5.34_shaped_ocsf_cloudtrail_scan2_after.ocsf.json", FormatOCSF)

	fail := before[0]
	assert.Equal(t, "cloudtrail_multi_region_enabled", fail.CheckID)
	assert.Equal(t, cloudsecurity.ResultFail, fail.Result)
	assert.Equal(t, "eu-west-1", fail.Region)
	assert.Equal(t, "arn:aws:cloudtrail:eu-west-1:111122223333:trail", fail.ResourceUID, "synthetic per-region resource")
	assert.Equal(t, "111122223333", fail.ResourceName)
	assert.Equal(t, "prowler-aws-cloudtrail_multi_region_enabled-111122223333-eu-west-1-111122223333", fail.FindingUID)
	assert.Equal(t, utc("2026-03-02T09:15:00Z"), fail.ObservedAt, "from time (epoch), not time_dt 10:15 (local)")
	assert.Equal(t, "aws", fail.Provider)
	assert.Equal(t, "cloudtrail", fail.Service)
	assert.Equal(t, cloudsecurity.SeverityHigh, fail.Severity)
	assert.Equal(t, []string{"logging", "forensics-ready"}, fail.Categories)
	assert.Equal(t, map[string][]string{"CIS-5.0": {"3.1"}, "AWS-Foundational-Security-Best-Practices": {"CloudTrail.1"}}, fail.Compliance)
	assert.Equal(t, []string{
		"https://hub.prowler.com/check/cloudtrail_multi_region_enabled",
		"https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-concepts.html",
	}, fail.References)
	assert.Equal(t, "Ours: turn it on.", fail.Remediation)

	pass := after[0]
	assert.Equal(t, "cloudtrail_multi_region_enabled", pass.CheckID)
	assert.Equal(t, cloudsecurity.ResultPass, pass.Result)
	assert.Equal(t, "eu-west-1", pass.Region, "the region Prowler ran the check in")
	assert.Equal(t, "arn:aws:cloudtrail:eu-north-1:111122223333:trail/org-audit-trail", pass.ResourceUID, "the real trail, in another region")
	assert.NotEqual(t, fail.FindingUID, pass.FindingUID, "Prowler's uid changes across the fix")
	assert.Equal(t, map[string]string{
		"aws:cloudformation:stack-name": "audit-stack",
		"Owner":                         "security-team",
		"cost-centre":                   "cc:42",
	}, pass.ResourceTags)

	bedrockBefore, bedrockAfter := before[2], after[2]
	assert.Equal(t, "cloudtrail_bedrock_logging_enabled", bedrockBefore.CheckID)
	assert.Equal(t, "cloudtrail_bedrock_logging_enabled", bedrockAfter.CheckID)
	assert.Equal(t, "eu-west-1", bedrockBefore.Region, "account-global check reported from eu-west-1")
	assert.Equal(t, "eu-north-1", bedrockAfter.Region, "then from eu-north-1")

	critical := after[5]
	assert.Equal(t, "cloudtrail_logs_s3_bucket_is_not_publicly_accessible", critical.CheckID)
	assert.Equal(t, cloudsecurity.SeverityCritical, critical.Severity)
	assert.Equal(t, cloudsecurity.ResultPass, critical.Result)

	muted := after[6]
	assert.Equal(t, cloudsecurity.ResultFail, muted.Result)
	assert.True(t, muted.Muted, "status Suppressed")
}

// The same Prowler 5.4 scan written as OCSF and as CSV gives the same
// observations, except where the formats differ: the CSV has one more
// finding, its timestamp is the machine's local time (OCSF's time is
// exact), its remediation carries the code snippets, and its compliance
// cell cannot keep a requirement id that contains ", ". (The contributor
// who scrubbed the samples replaced resource uids differently in the two
// files, so those are not compared.)
func TestParse_OCSFAndCSVOfOneScanAgree(t *testing.T) {
	t.Parallel()
	fromOCSF, _ := parseSample(t, "prowler_v5.4_ocsf_aws_placeholders.ocsf.json", FormatOCSF)
	fromCSV, _ := parseSample(t, "prowler_v5.4_csv_aws_placeholders.csv", FormatCSV)
	require.Len(t, fromOCSF, 3)
	require.Len(t, fromCSV, 4)
	for i, o := range fromOCSF {
		c := fromCSV[i]
		assert.Equal(t, o.CheckID, c.CheckID)
		assert.Equal(t, o.Result, c.Result, o.CheckID)
		assert.Equal(t, o.Muted, c.Muted, o.CheckID)
		assert.Equal(t, o.Severity, c.Severity, o.CheckID)
		assert.Equal(t, o.Provider, c.Provider)
		assert.Equal(t, o.AccountUID, c.AccountUID)
		assert.Equal(t, o.Region, c.Region)
		assert.Equal(t, o.ResourceName, c.ResourceName)
		assert.Equal(t, o.FindingUID, c.FindingUID)
		assert.Equal(t, o.CheckTitle, c.CheckTitle)
		assert.Equal(t, o.StatusDetail, c.StatusDetail)
		if o.CheckID != "account_maintain_current_contact_details" {
			assert.Equal(t, o.Compliance, c.Compliance, o.CheckID)
		}
		assert.Equal(t, o.ToolVersion, c.ToolVersion)
		assert.Equal(t, "2025-02-14T13:27:03Z", o.ObservedAt.Format("2006-01-02T15:04:05Z07:00"))
		assert.Equal(t, "2025-02-14T14:27:03Z", c.ObservedAt.Format("2006-01-02T15:04:05Z07:00"), "naive local time read as UTC")
	}
	// AWS-Account-Security-Onboarding ids contain spaces and are joined
	// with ", " in the CSV cell.
	assert.Equal(t, []string{"Enabled security services", "Create analyzers in each active regions", "Verify that events are present in SecurityHub aggregated view"},
		fromCSV[0].Compliance["AWS-Account-Security-Onboarding"])
	// OCSF keeps the id "Billing, emergency, security contacts" whole; the
	// CSV cell joins ids with ", ", so the id comes out split.
	assert.Equal(t, []string{"Billing, emergency, security contacts"}, fromOCSF[1].Compliance["AWS-Account-Security-Onboarding"])
	assert.Equal(t, []string{"Billing", "emergency", "security contacts"}, fromCSV[1].Compliance["AWS-Account-Security-Onboarding"])
	assert.Equal(t, "Enable IAM Access Analyzer for all accounts, create analyzer and take action over it is recommendations (IAM Access Analyzer is available at no additional cost).\n\naws accessanalyzer create-analyzer --analyzer-name <NAME> --type <ACCOUNT|ORGANIZATION>",
		fromCSV[0].Remediation, "the CLI snippet follows the text")
	assert.Equal(t, []string{
		"https://docs.aws.amazon.com/IAM/latest/UserGuide/what-is-access-analyzer.html",
		"https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-getting-started.html",
		"https://aws.amazon.com/iam/features/analyze-access/",
	}, fromCSV[0].References, "remediation URL, related URL (same, once), additional URLs")
	assert.NotContains(t, fromCSV[1].Remediation, "No command available.", "Prowler's placeholder is not remediation")
}

func TestParse_ASFFDetails(t *testing.T) {
	t.Parallel()
	obs, _ := parseSample(t, "prowler_v3.3_asff_aws_subset.asff.json", FormatASFF)
	first := obs[0]
	assert.Equal(t, "iam_no_root_access_key", first.CheckID, "GeneratorId without prowler-")
	assert.Equal(t, "iam", first.Service, "from the check id")
	assert.Equal(t, "123456789012", first.AccountUID)
	assert.Equal(t, "eu-west-1", first.Region)
	assert.Equal(t, "arn:aws:iam::123456789012:root", first.ResourceUID)
	assert.Equal(t, "AwsIamUser", first.ResourceType)
	assert.Equal(t, cloudsecurity.SeverityCritical, first.Severity)
	assert.Equal(t, "User <root_account> has one active access key.", first.StatusDetail)
	assert.Equal(t, []string{"1.4"}, first.Compliance["CIS-1.5"])
	// "FedRamp-Moderate-Revision-4 ac-2-1 ac-2-f ac-2-j ac-3 ac-5-c ac" is
	// 63 characters: Prowler cut it, the last id "ac" is partial.
	assert.Equal(t, []string{"ac-2-1", "ac-2-f", "ac-2-j", "ac-3", "ac-5-c"}, first.Compliance["FedRamp-Moderate-Revision-4"])
	assert.Equal(t, []string{"ac_2", "ac_3", "ac_6_10", "ac_6"}, first.Compliance["NIST-800-53-Revision-4"], "short item kept whole")

	// Two checks FAILED in ap-northeast-1 and PASSED in eu-west-1.
	byScope := map[string]cloudsecurity.Result{}
	for _, o := range obs {
		if o.CheckID == "accessanalyzer_enabled" || o.CheckID == "accessanalyzer_enabled_without_findings" {
			byScope[o.CheckID+"@"+o.Region] = o.Result
		}
	}
	assert.Equal(t, map[string]cloudsecurity.Result{
		"accessanalyzer_enabled@ap-northeast-1":                  cloudsecurity.ResultFail,
		"accessanalyzer_enabled@eu-west-1":                       cloudsecurity.ResultPass,
		"accessanalyzer_enabled_without_findings@ap-northeast-1": cloudsecurity.ResultFail,
		"accessanalyzer_enabled_without_findings@eu-west-1":      cloudsecurity.ResultPass,
	}, byScope)
}

func TestParse_V3Details(t *testing.T) {
	t.Parallel()
	obs, _ := parseSample(t, "prowler_v3_native_json_aws.json", FormatNativeJSON)
	o := obs[0]
	assert.Equal(t, "arn:aws:acm:us-east-1:999999999999:certificate/ffffffff-0000-0000-0000-000000000000", o.ResourceUID, "ResourceArn")
	assert.Equal(t, "api.teste.teste.com", o.ResourceName, "ResourceId")
	assert.Equal(t, "acm", o.Service)
	assert.Equal(t, []string{"ac-17", "sc-12"}, o.Compliance["FedRAMP-Low-Revision-4"])
	assert.Len(t, o.Compliance, 12)

	csvObs, _ := parseSample(t, "ours_v3_shaped_csv_aws.csv", FormatCSV)
	c := csvObs[0]
	assert.Equal(t, "arn:aws:s3:::logs-bucket", c.ResourceUID, "RESOURCE_ARN")
	assert.Equal(t, "logs-bucket", c.ResourceName, "RESOURCE_ID")
	assert.Equal(t, "eu-west-1", c.Region)
	assert.Equal(t, "prowler-aws-s3_bucket_default_encryption-111122223333-eu-west-1-logs-bucket", c.FindingUID)
	assert.Equal(t, map[string]string{"Owner": "platform", "env": "prod"}, c.ResourceTags)
	assert.Equal(t, map[string][]string{"CIS-1.5": {"2.1.1"}, "ENS-RD2022": {"mp.si.2.aws.s3.1"}}, c.Compliance)
	assert.Equal(t, "Ours: fix it.\n\naws s3api put-bucket-encryption --bucket <bucket_name> --server-side-encryption-configuration ...", c.Remediation)
	assert.Equal(t, "Server access logging is not enabled; ; a semicolon in the text.", csvObs[4].StatusDetail)
	warning := csvObs[3]
	assert.Equal(t, cloudsecurity.ResultFail, warning.Result)
	assert.True(t, warning.Muted)
}

// The real Kubernetes sample has its cluster scrubbed: the finding uid is
// the placeholder "<finding_uid>" and OCSF has no cloud object for
// Kubernetes, so no field names the cluster and the report is rejected.
// With the uid Prowler writes, the cluster is recovered.
func TestParse_Kubernetes(t *testing.T) {
	t.Parallel()
	raw := readSample(t, "prowler_v5.4_ocsf_kubernetes_placeholders.ocsf.json")
	_, _, err := parseBytes(t, raw, FormatOCSF)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, ErrInvalidValue)
	assert.Equal(t, 0, pe.Element)
	assert.Equal(t, "finding_info.uid", pe.Field)
	assert.Contains(t, err.Error(), "Kubernetes cluster")

	// What Prowler 5.4 writes: prowler-kubernetes-<check>-<cluster>-namespace: <ns>-<resource name>.
	withUIDs := raw
	for _, check := range []string{"apiserver_always_pull_images_plugin", "apiserver_audit_log_maxage_set", "apiserver_audit_log_maxbackup_set"} {
		withUIDs = replaceUIDAfterCheck(t, withUIDs, check, "prowler-kubernetes-"+check+"-arn:aws:eks:eu-west-1:111122223333:cluster/prod-1-namespace: <namespace>-<pod>")
	}
	obs, sum, err := parseBytes(t, withUIDs, FormatOCSF)
	require.NoError(t, err)
	require.Len(t, obs, 4)
	assert.Equal(t, Counts{Fail: 4}, sum.Results)
	assert.Equal(t, map[sev]int{med: 4}, sum.BySeverity)
	assert.Equal(t, map[string]Counts{
		"apiserver_always_pull_images_plugin": {Fail: 1},
		"apiserver_audit_log_maxage_set":      {Fail: 1},
		"apiserver_audit_log_maxbackup_set":   {Fail: 2},
	}, sum.ByCheck)
	for _, o := range obs {
		assert.Equal(t, "kubernetes", o.Provider, "no cloud object: from the uid")
		assert.Equal(t, "arn:aws:eks:eu-west-1:111122223333:cluster/prod-1", o.AccountUID, "the cluster")
		assert.Equal(t, "<namespace>", o.Region, "the namespace")
		assert.Equal(t, "<resource_uid>", o.ResourceUID)
		assert.Equal(t, "KubernetesAPIServer", o.ResourceType)
	}
	assert.Equal(t, map[string][]string{"CIS-1.10": {"1.2.11"}, "CIS-1.8": {"1.2.11"}}, obs[0].Compliance)
	// A remediation reference that is not a URL (a flag) goes to the text.
	assert.Contains(t, obs[0].Remediation, "--enable-admission-plugins=...,AlwaysPullImages,...")
	assert.NotContains(t, obs[0].References, "--enable-admission-plugins=...,AlwaysPullImages,...")

	// Recent 5.x also writes unmapped.provider_uid; it is used when the uid
	// does not name the cluster.
	withProviderUID := bytes.ReplaceAll(raw, []byte(`"unmapped": {`), []byte(`"unmapped": {"provider_uid": "prod-context", "provider": "kubernetes",`))
	obs, _, err = parseBytes(t, withProviderUID, FormatOCSF)
	require.NoError(t, err)
	assert.Equal(t, "prod-context", obs[0].AccountUID)
}

// replaceUIDAfterCheck replaces the "uid": "<finding_uid>" that follows a
// check's event_code (once per occurrence of the check).
func replaceUIDAfterCheck(t *testing.T, b []byte, check, uid string) []byte {
	t.Helper()
	marker := []byte(`"event_code": "` + check + `"`)
	var out []byte
	for {
		i := bytes.Index(b, marker)
		if i < 0 {
			return append(out, b...)
		}
		j := bytes.Index(b[i:], []byte(`"uid": "<finding_uid>"`))
		require.GreaterOrEqual(t, j, 0)
		out = append(out, b[:i+j]...)
		out = append(out, []byte(`"uid": "`+uid+`"`)...)
		b = b[i+j+len(`"uid": "<finding_uid>"`):]
	}
}

func TestParse_CallerErrorsPassThrough(t *testing.T) {
	t.Parallel()
	raw := readSample(t, "ours_v5.34_shaped_ocsf_cloudtrail_scan2_after.ocsf.json")

	stop := errors.New("store is full")
	n := 0
	sum, err := Parse(t.Context(), bytes.NewReader(raw), FormatOCSF, func(cloudsecurity.Observation) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	assert.Same(t, stop, err, "emit's error, as it is")
	assert.Equal(t, 3, sum.Observations, "the summary covers what was emitted")

	ctx, cancel := contextWithCancel(t)
	cancel()
	_, err = Parse(ctx, bytes.NewReader(raw), FormatOCSF, func(cloudsecurity.Observation) error { return nil })
	assert.ErrorIs(t, err, errContextCanceled())

	broken := errors.New("connection reset")
	_, err = Parse(t.Context(), &failingReader{data: raw[:5000], err: broken}, FormatOCSF, func(cloudsecurity.Observation) error { return nil })
	assert.ErrorIs(t, err, broken)
	var pe *ParseError
	assert.False(t, errors.As(err, &pe), "an I/O failure is not the report's fault: %v", err)
	assert.Contains(t, err.Error(), "reading the report")
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}
