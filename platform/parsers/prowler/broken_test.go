package prowler

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minimal elements of each format, to break one thing at a time.
const (
	okOCSF = `{"metadata":{"event_code":"s3_bucket_public_access","product":{"name":"Prowler","version":"5.10.0"}},
"severity":"Critical","status":"New","status_code":"FAIL","class_uid":2004,
"finding_info":{"uid":"prowler-aws-s3_bucket_public_access-111122223333-eu-west-1-b"},
"resources":[{"region":"eu-west-1","name":"b","uid":"arn:aws:s3:::b","type":"AwsS3Bucket","group":{"name":"s3"}}],
"cloud":{"account":{"uid":"111122223333"},"provider":"aws","region":"eu-west-1"},"time":1772442900}`
	okNative = `{"AssessmentStartTime":"2023-04-25T23:49:42.744599","CheckID":"s3_bucket_public_access","Status":"FAIL",
"Severity":"critical","Provider":"aws","AccountId":"111122223333","Region":"eu-west-1","ResourceArn":"arn:aws:s3:::b"}`
	okASFF = `{"SchemaVersion":"2018-10-08","Id":"prowler-s3_bucket_public_access-111122223333-eu-west-1-abc",
"ProductFields":{"ProviderName":"Prowler","ProviderVersion":"3.3.0"},"GeneratorId":"prowler-s3_bucket_public_access",
"AwsAccountId":"111122223333","CreatedAt":"2023-03-18T15:43:31Z","UpdatedAt":"2023-03-18T15:43:31Z",
"Severity":{"Label":"CRITICAL"},"Resources":[{"Type":"AwsS3Bucket","Id":"arn:aws:s3:::b","Partition":"aws","Region":"eu-west-1"}],
"Compliance":{"Status":"FAILED","RelatedRequirements":[]},"RecordState":"ACTIVE"}`
	csvHeader = "AUTH_METHOD;TIMESTAMP;ACCOUNT_UID;FINDING_UID;PROVIDER;CHECK_ID;STATUS;STATUS_EXTENDED;MUTED;SEVERITY;RESOURCE_UID;REGION;COMPLIANCE\r\n"
	okCSVRow  = "profile: default;2025-02-14 14:27:03.913874;111122223333;prowler-aws-x;aws;s3_bucket_public_access;FAIL;public;False;critical;arn:aws:s3:::b;eu-west-1;CIS-1.4: 1.20 | CIS-3.0: 1.20\r\n"
)

func arr(elements ...string) string { return "[" + strings.Join(elements, ",") + "]" }

func TestParse_BrokenShapes(t *testing.T) {
	t.Parallel()
	tooLarge := `{"pad":"` + strings.Repeat("x", MaxElementBytes) + `"}`
	cases := []struct {
		name    string
		format  Format
		input   string
		want    error  // nil: a valid report
		obs     int    // observations of a valid report
		element int    // -1: not about one element
		line    int    // CSV line
		field   string // field named
		msg     string // part of the message
	}{
		// Valid empty and minimal reports.
		{name: "empty array ocsf", format: FormatOCSF, input: "[]", obs: 0},
		{name: "empty array json", format: FormatNativeJSON, input: " [ ]\n", obs: 0},
		{name: "empty array asff", format: FormatASFF, input: "\ufeff[]", obs: 0},
		{name: "header-only csv", format: FormatCSV, input: csvHeader, obs: 0},
		{name: "header-only csv without line break", format: FormatCSV, input: strings.TrimSuffix(csvHeader, "\r\n"), obs: 0},
		{name: "one ocsf", format: FormatOCSF, input: arr(okOCSF), obs: 1},
		{name: "one native", format: FormatNativeJSON, input: arr(okNative), obs: 1},
		{name: "one asff", format: FormatASFF, input: arr(okASFF), obs: 1},
		{name: "one csv with BOM", format: FormatCSV, input: "\ufeff" + csvHeader + okCSVRow, obs: 1},
		{name: "asff archived is skipped", format: FormatASFF, input: arr(okASFF, strings.Replace(okASFF, `"ACTIVE"`, `"ARCHIVED"`, 1)), obs: 1},

		// Empty.
		{name: "zero bytes", format: FormatOCSF, input: "", want: ErrEmptyReport, element: -1},
		{name: "zero bytes csv", format: FormatCSV, input: "", want: ErrEmptyReport, element: -1},
		{name: "white space only", format: FormatASFF, input: " \n\t\r\n", want: ErrEmptyReport, element: -1},
		{name: "BOM only", format: FormatCSV, input: "\ufeff\n", want: ErrEmptyReport, element: -1},

		// Truncated.
		{name: "truncated inside an element", format: FormatOCSF, input: arr(okOCSF, okOCSF)[:len(okOCSF)+40], want: ErrTruncated, element: 1, msg: "ends inside this element"},
		{name: "array not closed", format: FormatOCSF, input: "[" + okOCSF, want: ErrTruncated, element: -1, msg: "not closed"},
		{name: "stopped after a comma (Prowler killed mid-write)", format: FormatNativeJSON, input: "[" + okNative + ",", want: ErrTruncated, element: 1},
		{name: "truncated csv row", format: FormatCSV, input: csvHeader + okCSVRow + okCSVRow[:40], want: ErrMalformed, element: -1, line: 3, msg: "wrong number of fields"},
		{name: "truncated inside a quoted csv field", format: FormatCSV, input: csvHeader + okCSVRow + `x;2025-02-14 14:27:03;1;u;aws;c;FAIL;"open quote` + "\r\nmore", want: ErrMalformed, element: -1, line: 3},

		// Not an array, not this format.
		{name: "object instead of array", format: FormatOCSF, input: okOCSF, want: ErrMalformed, element: -1, msg: "a JSON object"},
		{name: "security hub export object", format: FormatASFF, input: `{"Findings": ` + arr(okASFF) + `}`, want: ErrMalformed, element: -1, msg: "Findings"},
		{name: "array of numbers", format: FormatOCSF, input: "[1,2]", want: ErrMalformed, element: 0, msg: "not an object"},
		{name: "null element", format: FormatOCSF, input: "[null]", want: ErrMissingField, element: 0, field: "metadata.event_code"},
		{name: "content after the array", format: FormatOCSF, input: arr(okOCSF) + `{"x":1}`, want: ErrMalformed, element: -1, msg: "after the JSON array"},
		{name: "two arrays", format: FormatOCSF, input: "[][]", want: ErrMalformed, element: -1},
		{name: "missing comma", format: FormatOCSF, input: "[" + okOCSF + " " + okOCSF + "]", want: ErrMalformed, element: 1},
		{name: "not json at all", format: FormatNativeJSON, input: "hello", want: ErrMalformed, element: -1},
		{name: "ocsf given as csv", format: FormatCSV, input: arr(okOCSF), want: ErrMalformed, element: -1, line: 1, msg: "JSON, not a CSV"},
		{name: "csv given as ocsf", format: FormatOCSF, input: csvHeader + okCSVRow, want: ErrMalformed, element: -1},
		{name: "native given as asff", format: FormatASFF, input: arr(okNative), want: ErrInvalidValue, element: 0, field: "Severity", msg: "a JSON string where"},
		{name: "native without severity given as asff", format: FormatASFF, input: arr(strings.Replace(okNative, `"Severity":"critical",`, ``, 1)), want: ErrMissingField, element: 0, field: "GeneratorId"},
		{name: "asff given as ocsf", format: FormatOCSF, input: arr(okASFF), want: ErrInvalidValue, element: 0, field: "severity", msg: "a JSON object where"},
		{name: "asff without severity given as ocsf", format: FormatOCSF, input: arr(strings.Replace(okASFF, `"Severity":{"Label":"CRITICAL"},`, ``, 1)), want: ErrMissingField, element: 0, field: "metadata.event_code"},
		{name: "ocsf given as native", format: FormatNativeJSON, input: arr(okOCSF), want: ErrMissingField, element: 0, field: "CheckID"},
		{name: "comma-separated csv", format: FormatCSV, input: strings.ReplaceAll(csvHeader, ";", ","), want: ErrMalformed, element: -1, line: 1, msg: "','-separated"},
		{name: "compliance csv", format: FormatCSV, input: "PROVIDER;DESCRIPTION;ACCOUNTID;REGION;ASSESSMENTDATE;REQUIREMENTS_ID;STATUS;CHECKID\n", want: ErrMalformed, element: -1, line: 1, msg: "compliance report"},
		{name: "csv without check column", format: FormatCSV, input: "A;B;C\n1;2;3\n", want: ErrMalformed, element: -1, line: 1, msg: "the header has no CHECK_ID, no STATUS"},
		{name: "another tool's ocsf", format: FormatOCSF, input: arr(strings.Replace(okOCSF, `"Prowler"`, `"Trivy"`, 1)), want: ErrInvalidValue, element: 0, field: "metadata.product.name"},
		{name: "another ocsf class", format: FormatOCSF, input: arr(strings.Replace(okOCSF, `2004`, `3002`, 1)), want: ErrInvalidValue, element: 0, field: "class_uid"},
		{name: "another tool's asff", format: FormatASFF, input: arr(strings.Replace(okASFF, `"prowler-s3_bucket_public_access"`, `"arn:aws:guardduty:eu-west-1:111122223333:detector/x"`, 1)), want: ErrInvalidValue, element: 0, field: "GeneratorId"},

		// A row with a missing column.
		{name: "csv row with a missing column", format: FormatCSV, input: csvHeader + okCSVRow + strings.Replace(okCSVRow, ";critical", "", 1), want: ErrMalformed, element: -1, line: 3, msg: "the header has 13"},
		{name: "csv row with an extra column", format: FormatCSV, input: csvHeader + strings.Replace(okCSVRow, "\r\n", ";extra\r\n", 1), want: ErrMalformed, element: -1, line: 2},

		// Unknown severity, status, missing fields.
		{name: "unknown severity ocsf", format: FormatOCSF, input: arr(okOCSF, strings.Replace(okOCSF, `"Critical"`, `"Severe"`, 1)), want: ErrInvalidValue, element: 1, field: "severity", msg: `"Severe"`},
		{name: "unknown severity csv", format: FormatCSV, input: csvHeader + strings.Replace(okCSVRow, ";critical;", ";urgent;", 1), want: ErrInvalidValue, element: -1, line: 2, field: "SEVERITY", msg: `"urgent"`},
		{name: "unknown severity asff", format: FormatASFF, input: arr(strings.Replace(okASFF, `"CRITICAL"`, `"FATAL"`, 1)), want: ErrInvalidValue, element: 0, field: "Severity.Label"},
		{name: "unknown severity native", format: FormatNativeJSON, input: arr(strings.Replace(okNative, `"critical"`, `"sev1"`, 1)), want: ErrInvalidValue, element: 0, field: "Severity"},
		{name: "ocsf severity_id beyond 5", format: FormatOCSF, input: arr(strings.Replace(okOCSF, `"severity":"Critical"`, `"severity_id":6`, 1)), want: ErrInvalidValue, element: 0, field: "severity_id"},
		{name: "unknown status_code", format: FormatOCSF, input: arr(strings.Replace(okOCSF, `"FAIL"`, `"WARN"`, 1)), want: ErrInvalidValue, element: 0, field: "status_code"},
		{name: "no status_code (status is not the result)", format: FormatOCSF, input: arr(strings.Replace(okOCSF, `"status_code":"FAIL",`, ``, 1)), want: ErrMissingField, element: 0, field: "status_code"},
		{name: "unknown csv status", format: FormatCSV, input: csvHeader + strings.Replace(okCSVRow, ";FAIL;", ";BROKEN;", 1), want: ErrInvalidValue, element: -1, line: 2, field: "STATUS"},
		{name: "csv MUTED not a boolean", format: FormatCSV, input: csvHeader + strings.Replace(okCSVRow, ";False;", ";maybe;", 1), want: ErrInvalidValue, element: -1, line: 2, field: "MUTED"},
		{name: "unknown asff status", format: FormatASFF, input: arr(strings.Replace(okASFF, `"FAILED"`, `"BROKEN"`, 1)), want: ErrInvalidValue, element: 0, field: "Compliance.Status"},
		{name: "ocsf without account", format: FormatOCSF, input: arr(strings.Replace(okOCSF, `"uid":"111122223333"`, `"uid":""`, 1)), want: ErrMissingField, element: 0, field: "cloud.account.uid"},
		{name: "csv without account", format: FormatCSV, input: csvHeader + strings.Replace(okCSVRow, ";111122223333;", ";;", 1), want: ErrMissingField, element: -1, line: 2, field: "ACCOUNT_UID"},
		{name: "native without check", format: FormatNativeJSON, input: arr(strings.Replace(okNative, `"CheckID":"s3_bucket_public_access",`, ``, 1)), want: ErrMissingField, element: 0, field: "CheckID"},
		{name: "ocsf without time", format: FormatOCSF, input: arr(strings.Replace(okOCSF, `,"time":1772442900`, ``, 1)), want: ErrMissingField, element: 0, field: "time"},
		{name: "time in milliseconds", format: FormatOCSF, input: arr(strings.Replace(okOCSF, `1772442900`, `1772442900000`, 1)), want: ErrInvalidValue, element: 0, field: "time", msg: "milliseconds"},
		{name: "time not a time", format: FormatCSV, input: csvHeader + strings.Replace(okCSVRow, "2025-02-14 14:27:03.913874", "yesterday", 1), want: ErrInvalidValue, element: -1, line: 2, field: "TIMESTAMP"},
		{name: "time of the wrong type", format: FormatOCSF, input: arr(strings.Replace(okOCSF, `"time":1772442900`, `"time":{"s":1}`, 1)), want: ErrInvalidValue, element: 0, field: "time"},
		{name: "field of the wrong type", format: FormatOCSF, input: arr(strings.Replace(okOCSF, `"severity":"Critical"`, `"severity":5`, 1)), want: ErrInvalidValue, element: 0, field: "severity"},
		{name: "two resources", format: FormatOCSF, input: arr(strings.Replace(okOCSF, `"resources":[{`, `"resources":[{"uid":"other"},{`, 1)), want: ErrInvalidValue, element: 0, field: "resources"},
		{name: "identifier too long", format: FormatOCSF, input: arr(strings.Replace(okOCSF, `"111122223333"}`, `"`+strings.Repeat("1", MaxIdentifierBytes+1)+`"}`, 1)), want: ErrInvalidValue, element: 0, field: "account"},

		// Bounds.
		{name: "json element too large", format: FormatOCSF, input: "[" + okOCSF + "," + tooLarge + "]", want: ErrTooLarge, element: 1},
		{name: "csv record just too large", format: FormatCSV, input: csvHeader + okCSVRow + strings.Replace(okCSVRow, ";public;", `;"`+strings.Repeat("x", MaxElementBytes)+`";`, 1), want: ErrTooLarge, element: -1, line: 3},
		{name: "csv record far too large", format: FormatCSV, input: csvHeader + okCSVRow + strings.Replace(okCSVRow, ";public;", `;"`+strings.Repeat("x", MaxElementBytes+1<<20)+`";`, 1), want: ErrTooLarge, element: -1, msg: "too large: a record of more than"},
		{name: "json element far too large", format: FormatOCSF, input: "[" + okOCSF + `,{"pad":"` + strings.Repeat("x", MaxElementBytes+1<<20) + `"}]`, want: ErrTooLarge, element: 1, msg: "too large: more than"},
		{name: "white space before the array", format: FormatOCSF, input: strings.Repeat(" ", MaxElementBytes+10000) + "[]", want: ErrMalformed, element: -1, msg: "white space"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obs, sum, err := parseBytes(t, []byte(tc.input), tc.format)
			if tc.want == nil {
				require.NoError(t, err)
				assert.Len(t, obs, tc.obs)
				assert.Equal(t, tc.obs, sum.Observations)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			var pe *ParseError
			require.ErrorAs(t, err, &pe, "%v", err)
			assert.Equal(t, tc.format, pe.Format)
			assert.Equal(t, tc.element, pe.Element, "element: %v", err)
			assert.Equal(t, tc.line, pe.Line, "line: %v", err)
			assert.Equal(t, tc.field, pe.Field, "field: %v", err)
			if tc.msg != "" {
				assert.Contains(t, err.Error(), tc.msg)
			}
			assert.Equal(t, len(obs), sum.Observations, "the summary covers what was emitted before the error")
		})
	}
}

func TestParse_ASFFSkippedAndMuted(t *testing.T) {
	t.Parallel()
	warning := strings.Replace(okASFF, `"FAILED"`, `"WARNING"`, 1)
	suppressed := strings.Replace(strings.Replace(okASFF, `"FAILED"`, `"PASSED"`, 1), `"RecordState"`, `"Workflow":{"Status":"SUPPRESSED"},"RecordState"`, 1)
	notAvailable := strings.Replace(okASFF, `"FAILED"`, `"NOT_AVAILABLE"`, 1)
	archived := strings.Replace(okASFF, `"ACTIVE"`, `"ARCHIVED"`, 1)
	placeholderURL := strings.Replace(okASFF, `"RecordState"`, `"Remediation":{"Recommendation":{"Text":"t","Url":"https://docs.aws.amazon.com/securityhub/latest/userguide/what-is-securityhub.html"}},"RecordState"`, 1)
	obs, sum, err := parseBytes(t, []byte(arr(warning, suppressed, notAvailable, archived, placeholderURL)), FormatASFF)
	require.NoError(t, err)
	require.Len(t, obs, 4)
	assert.Equal(t, 1, sum.Skipped, "archived")
	assert.Equal(t, Counts{Fail: 2, Pass: 1, Manual: 1, Muted: 2}, sum.Results)
	assert.True(t, obs[0].Muted, "WARNING: muted, result unknown, read as a failure")
	assert.Equal(t, "fail", string(obs[0].Result))
	assert.True(t, obs[1].Muted, "Workflow.Status SUPPRESSED")
	assert.Equal(t, "pass", string(obs[1].Result))
	assert.Equal(t, "manual", string(obs[2].Result))
	assert.Empty(t, obs[3].References, "Prowler's filler URL is not a reference")
	assert.Equal(t, "s3", obs[0].Service)
}

func TestParse_UnknownFormat(t *testing.T) {
	t.Parallel()
	_, _, err := parseBytes(t, []byte("[]"), Format("prowler-xml"))
	assert.ErrorIs(t, err, ErrUnknownFormatName)
}

func TestParse_SmallReads(t *testing.T) {
	t.Parallel()
	// A reader that returns one byte at a time gives the same result.
	for _, tc := range sampleCases {
		raw := readSample(t, tc.file)
		want, wantSum, err := parseBytes(t, raw, tc.format)
		require.NoError(t, err)
		var got []string
		sum, err := Parse(t.Context(), &oneByteReader{r: bytes.NewReader(raw)}, tc.format, func(o observation) error {
			got = append(got, o.CheckID+"/"+string(o.Result))
			return nil
		})
		require.NoError(t, err, tc.file)
		assert.Equal(t, wantSum, sum, tc.file)
		require.Len(t, got, len(want))
	}
}

type oneByteReader struct{ r *bytes.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}
