package trivy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
)

func requireParseError(t *testing.T, err error, want error) *trivy.ParseError {
	t.Helper()
	require.ErrorIs(t, err, want)
	var pe *trivy.ParseError
	require.True(t, errors.As(err, &pe), "%v is a *ParseError", err)
	return pe
}

// TestBroken_TruncatedAtEveryCut: a report cut anywhere is rejected (a cut between elements is not a smaller report).
func TestBroken_TruncatedAtEveryCut(t *testing.T) {
	for _, name := range []string{alpine, misconfig, legacy} {
		data := bytes.TrimSpace(sample(t, name))
		for cut := 1; cut < len(data); cut += 13 {
			_, _, err := parseAll(t, data[:cut])
			var pe *trivy.ParseError
			require.True(t, errors.As(err, &pe), "%s cut at %d: %v", name, cut, err)
		}
	}
	data := sample(t, alpine)
	_, _, err := parseAll(t, data[:len(data)/2])
	requireParseError(t, err, trivy.ErrTruncated)
}

func TestBroken_Invalid(t *testing.T) {
	base := string(sample(t, jar))
	for _, tc := range []struct {
		name, old, new string
		want           error
		field          string
	}{
		{"schema version 1", `"SchemaVersion": 2`, `"SchemaVersion": 1`, trivy.ErrInvalidValue, "SchemaVersion"},
		{"no schema version", `"SchemaVersion": 2,`, ``, trivy.ErrMissingField, "SchemaVersion"},
		{"vm artifact", `"ArtifactType": "filesystem"`, `"ArtifactType": "vm"`, trivy.ErrInvalidValue, "ArtifactType"},
		{"no artifact type", `"ArtifactType": "filesystem",`, ``, trivy.ErrMissingField, "ArtifactType"},
		{"bad severity", `"Severity": "MEDIUM"`, `"Severity": "SEVERE"`, trivy.ErrInvalidValue, "Severity"},
		{"bad status", `"Status": "fixed"`, `"Status": "patched"`, trivy.ErrInvalidValue, "Status"},
		{"no id", `"VulnerabilityID": "CVE-2025-66614"`, `"VulnerabilityID": ""`, trivy.ErrMissingField, "VulnerabilityID"},
		{"bad date", `"PublishedDate": "2026-02-17T19:21:55.31Z"`, `"PublishedDate": "17/02/2026"`, trivy.ErrInvalidValue, "PublishedDate"},
		{"bad vendor level", `"ghsa": 2`, `"ghsa": 9`, trivy.ErrInvalidValue, "VendorSeverity.ghsa"},
		{"score as string", `"V40Score": 6.3`, `"V40Score": "6.3"`, trivy.ErrInvalidValue, "CVSS.V40Score"},
		{"content after", `}` + "\n", "}\n{}", trivy.ErrMalformed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := strings.LastIndex(base, tc.old)
			require.GreaterOrEqual(t, i, 0, "sample holds %q", tc.old)
			report := base[:i] + tc.new + base[i+len(tc.old):]
			if tc.name != "content after" {
				report = strings.Replace(base, tc.old, tc.new, 1)
			}
			_, _, err := parseAll(t, []byte(report))
			pe := requireParseError(t, err, tc.want)
			assert.Equal(t, tc.field, pe.Field, err.Error())
		})
	}
}

func TestBroken_ErrorNamesWhere(t *testing.T) {
	report := strings.Replace(string(sample(t, teamdojo)), `"Severity": "CRITICAL"`, `"Severity": "urgent"`, 1)
	_, _, err := parseAll(t, []byte(report))
	pe := requireParseError(t, err, trivy.ErrInvalidValue)
	assert.Regexp(t, `^Results\[\d+\]\.Vulnerabilities\[\d+\]$`, pe.Path)
	assert.Contains(t, err.Error(), "urgent")
}

func TestBroken_NotAReport(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"", trivy.ErrEmptyReport},
		{" \n ", trivy.ErrEmptyReport},
		{`"text"`, trivy.ErrMalformed},
		{`[1, 2]`, trivy.ErrMalformed},
		{`{"SchemaVersion": 2, "ArtifactType": "filesystem", "Results": {}}`, trivy.ErrMalformed},
		{`{"SchemaVersion": 2, "ArtifactType": "filesystem", "Results": [{"Target": "x", "Class": "os-pkgs", "Type": "alpine", "Vulnerabilities": [{"PkgName": 3}]}]}`, trivy.ErrInvalidValue},
		{`{"SchemaVersion": 2, "ArtifactType": "filesystem", "Results": [{"Target": "x", "Class": "config", "Type": "dockerfile", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "a"}]}]}`, trivy.ErrInvalidValue},
	} {
		_, _, err := parseAll(t, []byte(tc.in))
		requireParseError(t, err, tc.want)
	}
}

func TestBroken_EmptyReportsAreValid(t *testing.T) {
	// A clean image: Results without Vulnerabilities; a report with no Results; an empty legacy array
	for _, in := range []string{
		`{"SchemaVersion": 2, "ArtifactName": "x:1", "ArtifactType": "container_image", "Metadata": {"ImageID": "sha256:` + strings.Repeat("a", 64) + `"}, "Results": [{"Target": "x:1 (alpine 3.20.0)", "Class": "os-pkgs", "Type": "alpine"}]}`,
		`{"SchemaVersion": 2, "ArtifactName": ".", "ArtifactType": "filesystem"}`,
		`[]`,
	} {
		items, _, err := parseAll(t, []byte(in))
		require.NoError(t, err, in)
		assert.Empty(t, items)
	}
}

func TestBroken_CallbackAndContextErrorsComeBackAsTheyAre(t *testing.T) {
	stop := errors.New("stop")
	_, err := trivy.Parse(context.Background(), bytes.NewReader(sample(t, alpine)), func(trivy.Item) error { return stop })
	require.ErrorIs(t, err, stop)
	var pe *trivy.ParseError
	assert.False(t, errors.As(err, &pe))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = trivy.Parse(ctx, bytes.NewReader(sample(t, alpine)), func(trivy.Item) error { return nil })
	require.ErrorIs(t, err, context.Canceled)
}

type failAfter struct {
	r io.Reader
	n int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestBroken_ReadErrorIsNotTheReportsFault(t *testing.T) {
	_, err := trivy.Parse(context.Background(), &failAfter{r: bytes.NewReader(sample(t, alpine)), n: 700}, func(trivy.Item) error { return nil })
	require.ErrorContains(t, err, "connection reset")
	var pe *trivy.ParseError
	assert.False(t, errors.As(err, &pe))
}
