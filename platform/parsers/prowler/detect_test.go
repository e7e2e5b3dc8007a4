package prowler

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDetect_EverySample(t *testing.T) {
	t.Parallel()
	files := map[string]Format{
		"prowler_v4.2_ocsf_1.2_aws.ocsf.json":                      FormatOCSF,
		"prowler_v4.5_ocsf_1.2_aws_time_dt.ocsf.json":              FormatOCSF,
		"prowler_v5.4_ocsf_aws_placeholders.ocsf.json":             FormatOCSF,
		"prowler_v5.4_ocsf_azure_placeholders.ocsf.json":           FormatOCSF,
		"prowler_v5.4_ocsf_gcp_placeholders.ocsf.json":             FormatOCSF,
		"prowler_v5.4_ocsf_kubernetes_placeholders.ocsf.json":      FormatOCSF,
		"prowler_v5.4_csv_aws_placeholders.csv":                    FormatCSV,
		"prowler_v3_native_json_aws.json":                          FormatNativeJSON,
		"prowler_v3.3_asff_aws_subset.asff.json":                   FormatASFF,
		"ours_v5.34_shaped_ocsf_cloudtrail_scan1_before.ocsf.json": FormatOCSF,
		"ours_v5.34_shaped_ocsf_cloudtrail_scan2_after.ocsf.json":  FormatOCSF,
		"ours_v3_shaped_csv_aws.csv":                               FormatCSV,
	}
	for name, want := range files {
		raw := readSample(t, name)
		got, err := Detect(raw)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
		// The first KiB is enough: the first element is read as a stream
		// and may be cut.
		got, err = Detect(raw[:1024])
		require.NoError(t, err, name+" (1 KiB)")
		assert.Equal(t, want, got, name+" (1 KiB)")
	}
}

func TestDetect_Shapes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		head string
		want Format
		err  error
		msg  string
	}{
		{name: "ocsf", head: arr(okOCSF), want: FormatOCSF},
		{name: "ocsf 4.0 without event_code", head: `[{"activity_id":1,"finding_info":{"uid":"prowler-aws-x-1-r-n"}}]`, want: FormatOCSF},
		{name: "native", head: arr(okNative), want: FormatNativeJSON},
		{name: "asff", head: arr(okASFF), want: FormatASFF},
		{name: "csv", head: csvHeader + okCSVRow, want: FormatCSV},
		{name: "header-only csv", head: csvHeader, want: FormatCSV},
		{name: "BOM and white space", head: "\ufeff \r\n\t" + arr(okOCSF), want: FormatOCSF},
		{name: "first element cut in a string", head: arr(okASFF)[:60], want: FormatASFF},
		{name: "window longer than DetectWindow", head: arr(okOCSF) + strings.Repeat(" ", 2*DetectWindow), want: FormatOCSF},

		{name: "zero bytes", head: "", err: ErrEmptyReport},
		{name: "white space", head: " \n ", err: ErrEmptyReport},
		{name: "empty array", head: "[ ]", err: ErrAmbiguousFormat, msg: "name the format"},
		{name: "object", head: okOCSF, err: ErrUnknownFormat, msg: "a JSON object"},
		{name: "array of numbers", head: "[1]", err: ErrUnknownFormat, msg: "not of objects"},
		{name: "another tool", head: `[{"SchemaVersion":2,"ArtifactName":"img","Results":[]}]`, err: ErrUnknownFormat, msg: "keys: SchemaVersion"},
		{name: "metadata without event_code", head: `[{"metadata":{"name":"x"},"message":"m"}]`, err: ErrUnknownFormat},
		{name: "metadata.event_code is enough", head: `[{"message":"m","metadata":{"event_code":"x","product":{`, want: FormatOCSF},
		{name: "keys of two formats", head: `[{"status_code":"FAIL","CheckID":"x"}]`, err: ErrAmbiguousFormat, msg: "prowler-ocsf and prowler-json"},
		{name: "prowler 3 ocsf", head: `[{"finding":{"title":"t","uid":"u"},"resources":[],"state_id":0,"class_uid":2001,"status":"Failure"}]`, err: ErrUnknownFormat, msg: "1.0.0-rc.3"},
		{name: "comma-separated csv", head: strings.ReplaceAll(csvHeader, ";", ","), err: ErrUnknownFormat, msg: "','-separated"},
		{name: "compliance csv without its columns", head: "PROVIDER;DESCRIPTION;ACCOUNTID;REGION;ASSESSMENTDATE;REQUIREMENTS_ID;STATUS\n", err: ErrUnknownFormat, msg: "compliance report"},
		{name: "compliance csv", head: "PROVIDER;DESCRIPTION;ACCOUNTID;REGION;ASSESSMENTDATE;REQUIREMENTS_ID;STATUS;STATUSEXTENDED;RESOURCEID;CHECKID;MUTED\n", want: FormatComplianceCSV},
		{name: "plain text", head: "hello world\n", err: ErrUnknownFormat},
		{name: "no line break", head: strings.Repeat("x", DetectWindow), err: ErrUnknownFormat, msg: "no line break"},
		{name: "broken json", head: "[{]", err: ErrUnknownFormat},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Detect([]byte(tc.head))
			if tc.err == nil {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.err)
			assert.Empty(t, got)
			if tc.msg != "" {
				assert.Contains(t, err.Error(), tc.msg)
			}
		})
	}
}

func TestFormatNamesAndContentTypes(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]Format{
		"prowler-ocsf": FormatOCSF, "OCSF": FormatOCSF, "json-ocsf": FormatOCSF,
		"prowler-json": FormatNativeJSON, "json": FormatNativeJSON,
		"prowler-csv": FormatCSV, " csv ": FormatCSV,
		"prowler-asff": FormatASFF, "asff": FormatASFF, "json-asff": FormatASFF,
	} {
		got, err := ParseFormat(name)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
	}
	_, err := ParseFormat("html")
	assert.ErrorIs(t, err, ErrUnknownFormatName)

	for ct, want := range map[string]Format{
		"application/vnd.prowler.ocsf+json":              FormatOCSF,
		"application/vnd.prowler.v3+json; charset=utf-8": FormatNativeJSON,
		"application/vnd.prowler.asff+json":              FormatASFF,
		"text/csv; charset=utf-8; header=present":        FormatCSV,
		"application/csv":                                FormatCSV,
		"application/json":                               "",
		"application/json; charset=utf-8":                "",
		"application/octet-stream":                       "",
		"text/plain":                                     "",
		"":                                               "",
	} {
		got, err := FormatForContentType(ct)
		require.NoError(t, err, ct)
		assert.Equal(t, want, got, ct)
	}
	for _, ct := range []string{"application/xml", "text/html", "multipart/form-data; boundary=x", "not a type"} {
		_, err := FormatForContentType(ct)
		assert.ErrorIs(t, err, ErrUnsupportedContentType, ct)
	}
	for _, f := range Formats {
		assert.True(t, f.Valid())
		require.NotEmpty(t, f.ContentTypes())
		got, err := FormatForContentType(f.ContentTypes()[0])
		require.NoError(t, err)
		assert.Equal(t, f, got, "the canonical content type names its format")
	}
	assert.False(t, Format("prowler-html").Valid())
}
