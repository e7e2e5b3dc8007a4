package prowler

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// parseBytes parses b as format f and returns what was emitted.
func parseBytes(t testing.TB, b []byte, f Format) ([]cloudsecurity.Observation, Summary, error) {
	t.Helper()
	var obs []cloudsecurity.Observation
	sum, err := Parse(context.Background(), bytes.NewReader(b), f, func(o cloudsecurity.Observation) error {
		obs = append(obs, o)
		return nil
	})
	return obs, sum, err
}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func parseSample(t testing.TB, name string, f Format) ([]cloudsecurity.Observation, Summary) {
	t.Helper()
	obs, sum, err := parseBytes(t, readSample(t, name), f)
	require.NoError(t, err, name)
	return obs, sum
}

type sev = cloudsecurity.Severity

const (
	crit = cloudsecurity.SeverityCritical
	high = cloudsecurity.SeverityHigh
	med  = cloudsecurity.SeverityMedium
	low  = cloudsecurity.SeverityLow
	info = cloudsecurity.SeverityInformational
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// The expected numbers were counted in the files with a short Python
// script (json/csv modules), independently of this package.
var sampleCases = []struct {
	file        string
	format      Format
	results     Counts
	severities  map[sev]int
	checks      map[string]Counts
	version     string
	scanIDs     []string
	accounts    []Account
	first, last time.Time
}{
	{
		file: "prowler_v4.2_ocsf_1.2_aws.ocsf.json", format: FormatOCSF,
		// status New with status_id 3 on every finding; only one is muted
		// (status Suppressed).
		results:    Counts{Fail: 3, Muted: 1},
		severities: map[sev]int{high: 3},
		checks: map[string]Counts{
			"iam_role_administratoraccess_policy_permissive_trust_relationship": {Fail: 1},
			"iam_role_cross_account_readonlyaccess_policy":                      {Fail: 1},
			"iam_role_permissive_trust_relationship":                            {Fail: 1, Muted: 1},
		},
		version:  "4.2.1",
		accounts: []Account{{Provider: "aws", UID: "123456789012"}},
		// event_time, naive: read as UTC.
		first: utc("2024-06-03T14:15:19.382075Z"), last: utc("2024-06-03T14:15:19.382075Z"),
	},
	{
		file: "prowler_v4.5_ocsf_1.2_aws_time_dt.ocsf.json", format: FormatOCSF,
		results:    Counts{Fail: 3, Muted: 1},
		severities: map[sev]int{high: 3},
		checks: map[string]Counts{
			"iam_role_administratoraccess_policy_permissive_trust_relationship": {Fail: 1},
			"iam_role_cross_account_readonlyaccess_policy":                      {Fail: 1},
			"iam_role_permissive_trust_relationship":                            {Fail: 1, Muted: 1},
		},
		version:  "4.2.1",
		accounts: []Account{{Provider: "aws", UID: "123456789012"}},
		first:    utc("2024-06-03T14:15:19.382075Z"), last: utc("2024-06-03T14:15:19.382075Z"),
	},
	{
		file: "prowler_v5.4_ocsf_aws_placeholders.ocsf.json", format: FormatOCSF,
		results:    Counts{Fail: 2, Manual: 1},
		severities: map[sev]int{low: 1, med: 2},
		checks: map[string]Counts{
			"accessanalyzer_enabled":                                                        {Fail: 1},
			"account_maintain_current_contact_details":                                      {Manual: 1},
			"account_maintain_different_contact_details_to_security_billing_and_operations": {Fail: 1},
		},
		version:  "<prowler_version>",
		accounts: []Account{{Provider: "aws", UID: "<account_uid>"}},
		// time (epoch) 1739539623; time_dt says 14:27:03 (the machine's
		// local time, UTC+1).
		first: utc("2025-02-14T13:27:03Z"), last: utc("2025-02-14T13:27:03Z"),
	},
	{
		file: "prowler_v5.4_ocsf_azure_placeholders.ocsf.json", format: FormatOCSF,
		results:    Counts{Fail: 3},
		severities: map[sev]int{low: 1, med: 1, high: 1},
		checks: map[string]Counts{
			"appinsights_ensure_is_configured":                             {Fail: 1},
			"defender_additional_email_configured_with_a_security_contact": {Fail: 1},
			"defender_ensure_defender_for_app_services_is_on":              {Fail: 1},
		},
		version:  "5.4.0",
		accounts: []Account{{Provider: "azure", UID: "<subscription_uid>", Name: "<subscription_name>"}},
		first:    utc("2025-02-14T13:27:30Z"), last: utc("2025-02-14T13:27:30Z"),
	},
	{
		file: "prowler_v5.4_ocsf_gcp_placeholders.ocsf.json", format: FormatOCSF,
		results:    Counts{Fail: 3},
		severities: map[sev]int{med: 2, crit: 1},
		checks: map[string]Counts{
			"apikeys_key_exists":                                    {Fail: 1},
			"artifacts_container_analysis_enabled":                  {Fail: 1},
			"compute_firewall_rdp_access_from_the_internet_allowed": {Fail: 1},
		},
		version:  "5.4.0",
		accounts: []Account{{Provider: "gcp", UID: "<project_id>", Name: "<project_name>"}},
		first:    utc("2025-02-14T13:27:20Z"), last: utc("2025-02-14T13:27:20Z"),
	},
	{
		file: "prowler_v5.4_csv_aws_placeholders.csv", format: FormatCSV,
		results:    Counts{Fail: 2, Manual: 2},
		severities: map[sev]int{low: 1, med: 3},
		checks: map[string]Counts{
			"accessanalyzer_enabled":                                                        {Fail: 1},
			"account_maintain_current_contact_details":                                      {Manual: 1},
			"account_maintain_different_contact_details_to_security_billing_and_operations": {Fail: 1},
			"account_security_contact_information_is_registered":                            {Manual: 1},
		},
		version:  "<prowler_version>",
		accounts: []Account{{Provider: "aws", UID: "<account_uid>"}},
		// TIMESTAMP "2025-02-14 14:27:03.913874": naive, read as UTC.
		first: utc("2025-02-14T14:27:03.913874Z"), last: utc("2025-02-14T14:27:03.913874Z"),
	},
	{
		file: "prowler_v3_native_json_aws.json", format: FormatNativeJSON,
		results:    Counts{Fail: 3},
		severities: map[sev]int{high: 1, med: 1, low: 1},
		checks: map[string]Counts{
			"acm_certificates_expiration_check":        {Fail: 1},
			"accessanalyzer_enabled":                   {Fail: 1},
			"account_maintain_current_contact_details": {Fail: 1},
		},
		version:  "", // Prowler 3 JSON does not say
		accounts: []Account{{Provider: "aws", UID: "999999999999"}},
		first:    utc("2023-04-25T23:49:42.744599Z"), last: utc("2023-04-25T23:49:42.744599Z"),
	},
	{
		file: "prowler_v3.3_asff_aws_subset.asff.json", format: FormatASFF,
		// 15 FAILED, 15 PASSED, 4 INFOED (manual).
		results:    Counts{Fail: 15, Pass: 15, Manual: 4},
		severities: map[sev]int{crit: 7, high: 8, med: 12, low: 7},
		checks: map[string]Counts{
			"accessanalyzer_enabled":                                                    {Fail: 1, Pass: 1},
			"accessanalyzer_enabled_without_findings":                                   {Fail: 1, Pass: 1},
			"account_maintain_current_contact_details":                                  {Manual: 1},
			"account_security_contact_information_is_registered":                        {Manual: 1},
			"account_security_questions_are_registered_in_the_aws_account":              {Manual: 1},
			"awslambda_function_invoke_api_operations_cloudtrail_logging_enabled":       {Fail: 1},
			"awslambda_function_no_secrets_in_code":                                     {Pass: 1},
			"awslambda_function_no_secrets_in_variables":                                {Pass: 1},
			"awslambda_function_not_publicly_accessible":                                {Pass: 1},
			"awslambda_function_using_supported_runtimes":                               {Fail: 1},
			"cloudtrail_multi_region_enabled":                                           {Fail: 1},
			"cloudtrail_s3_dataevents_read_enabled":                                     {Fail: 1},
			"cloudwatch_changes_to_network_acls_alarm_configured":                       {Fail: 1},
			"cloudwatch_changes_to_network_gateways_alarm_configured":                   {Fail: 1},
			"cloudwatch_changes_to_network_route_tables_alarm_configured":               {Fail: 1},
			"cloudwatch_cross_account_sharing_disabled":                                 {Pass: 1},
			"cloudwatch_log_group_no_secrets_in_logs":                                   {Pass: 1},
			"ec2_securitygroup_allow_ingress_from_internet_to_any_port":                 {Pass: 1},
			"ec2_securitygroup_allow_ingress_from_internet_to_port_mongodb_27017_27018": {Pass: 1},
			"ec2_securitygroup_allow_ingress_from_internet_to_tcp_ftp_port_20_21":       {Pass: 1},
			"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22":              {Pass: 1},
			"ec2_securitygroup_from_launch_wizard":                                      {Pass: 1},
			"ec2_securitygroup_in_use_without_ingress_filtering":                        {Fail: 1},
			"iam_disable_30_days_credentials":                                           {Pass: 1},
			"iam_no_custom_policy_permissive_role_assumption":                           {Pass: 1},
			"iam_no_root_access_key":                                                    {Fail: 1},
			"iam_policy_attached_only_to_group_or_roles":                                {Pass: 1},
			"iam_role_cross_service_confused_deputy_prevention":                         {Fail: 1},
			"iam_root_hardware_mfa_enabled":                                             {Fail: 1},
			"iam_root_mfa_enabled":                                                      {Fail: 1},
			"s3_account_level_public_access_blocks":                                     {Fail: 1},
			"trustedadvisor_errors_and_warnings":                                        {Manual: 1},
		},
		version:  "3.3.0",
		accounts: []Account{{Provider: "aws", UID: "123456789012"}},
		first:    utc("2023-03-18T15:43:31Z"), last: utc("2023-03-18T15:43:31Z"),
	},
	{
		file: "ours_v5.34_shaped_ocsf_cloudtrail_scan1_before.ocsf.json", format: FormatOCSF,
		results:    Counts{Fail: 4},
		severities: map[sev]int{high: 2, med: 1, low: 1},
		checks: map[string]Counts{
			"cloudtrail_multi_region_enabled":                           {Fail: 2},
			"cloudtrail_bedrock_logging_enabled":                        {Fail: 1},
			"cloudtrail_multi_region_enabled_logging_management_events": {Fail: 1},
		},
		version:  "5.34.0",
		scanIDs:  []string{"019ca1f0-2b5c-7a10-8e3e-5a1e0f000001"},
		accounts: []Account{{Provider: "aws", UID: "111122223333"}},
		first:    utc("2026-03-02T09:15:00Z"), last: utc("2026-03-02T09:15:00Z"),
	},
	{
		file: "ours_v5.34_shaped_ocsf_cloudtrail_scan2_after.ocsf.json", format: FormatOCSF,
		results:    Counts{Fail: 2, Pass: 5, Muted: 1},
		severities: map[sev]int{crit: 1, high: 2, med: 2, low: 2},
		checks: map[string]Counts{
			"cloudtrail_multi_region_enabled":                           {Pass: 2},
			"cloudtrail_bedrock_logging_enabled":                        {Pass: 1},
			"cloudtrail_multi_region_enabled_logging_management_events": {Pass: 1},
			"cloudtrail_kms_encryption_enabled":                         {Fail: 1},
			"cloudtrail_logs_s3_bucket_is_not_publicly_accessible":      {Pass: 1},
			"cloudtrail_cloudwatch_logging_enabled":                     {Fail: 1, Muted: 1},
		},
		version:  "5.34.0",
		scanIDs:  []string{"019ca1fd-e6a0-7b20-9f4f-6b2f1f000002"},
		accounts: []Account{{Provider: "aws", UID: "111122223333"}},
		first:    utc("2026-03-02T09:30:00Z"), last: utc("2026-03-02T09:30:00Z"),
	},
	{
		file: "ours_v3_shaped_csv_aws.csv", format: FormatCSV,
		// WARNING (allowlisted) is a muted failure; INFO is manual.
		results:    Counts{Fail: 3, Pass: 1, Manual: 1, Muted: 1},
		severities: map[sev]int{crit: 1, med: 3, info: 1},
		checks: map[string]Counts{
			"s3_bucket_default_encryption":                                 {Fail: 1, Pass: 1},
			"account_security_questions_are_registered_in_the_aws_account": {Manual: 1},
			"s3_bucket_public_access":                                      {Fail: 1, Muted: 1},
			"s3_bucket_server_access_logging_enabled":                      {Fail: 1},
		},
		version:  "",
		accounts: []Account{{Provider: "aws", UID: "111122223333"}},
		first:    utc("2023-05-04T08:09:10.111213Z"), last: utc("2023-05-04T08:09:10.111213Z"),
	},
}

func TestParse_Samples(t *testing.T) {
	t.Parallel()
	for _, tc := range sampleCases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			obs, sum := parseSample(t, tc.file, tc.format)
			assert.Equal(t, tc.format, sum.Format)
			assert.Equal(t, tc.results.Total(), sum.Observations)
			assert.Len(t, obs, sum.Observations)
			assert.Equal(t, tc.results, sum.Results)
			assert.Equal(t, tc.severities, sum.BySeverity)
			assert.Equal(t, tc.checks, sum.ByCheck)
			assert.Equal(t, tc.version, sum.ToolVersion)
			if tc.scanIDs == nil {
				tc.scanIDs = []string{}
			}
			assert.Equal(t, tc.scanIDs, sum.ScanIDs)
			assert.Equal(t, tc.accounts, sum.Accounts)
			assert.Equal(t, []string{tc.accounts[0].Provider}, sum.Providers)
			assert.Equal(t, tc.first, sum.FirstObservedAt)
			assert.Equal(t, tc.last, sum.LastObservedAt)
			assert.Zero(t, sum.Skipped)
			for i, o := range obs {
				assertWellFormed(t, i, o)
			}
		})
	}
}

// assertWellFormed checks what every observation promises.
func assertWellFormed(t *testing.T, i int, o cloudsecurity.Observation) {
	t.Helper()
	assert.Equal(t, "prowler", o.Tool, "observation %d", i)
	assert.NotEmpty(t, o.CheckID, "observation %d", i)
	assert.NotEmpty(t, o.AccountUID, "observation %d", i)
	assert.Equal(t, strings.ToLower(o.Provider), o.Provider, "observation %d", i)
	assert.Contains(t, []cloudsecurity.Result{cloudsecurity.ResultFail, cloudsecurity.ResultPass, cloudsecurity.ResultManual}, o.Result, "observation %d", i)
	if o.Severity != "" {
		_, ok := cloudsecurity.ParseSeverity(string(o.Severity))
		assert.True(t, ok, "observation %d severity %q", i, o.Severity)
	}
	assert.Equal(t, time.UTC, o.ObservedAt.Location(), "observation %d", i)
	assert.False(t, o.ObservedAt.IsZero(), "observation %d", i)
	for _, r := range o.References {
		assert.True(t, strings.HasPrefix(r, "https://") || strings.HasPrefix(r, "http://"), "observation %d reference %q", i, r)
	}
	for fw, ids := range o.Compliance {
		assert.NotEmpty(t, fw)
		assert.NotEmpty(t, ids, "observation %d framework %s", i, fw)
	}
}
