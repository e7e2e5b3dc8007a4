package kev_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/kev"
)

// whole is a small, complete, valid feed (count matches).
const whole = `{"title":"t","catalogVersion":"2025.06.09","dateReleased":"2025-06-09T12:35:28.591Z","count":2,"vulnerabilities":[
{"cveID":"CVE-2025-0001","vendorProject":"V","product":"P","vulnerabilityName":"N","dateAdded":"2025-06-09","shortDescription":"d","requiredAction":"a","dueDate":"2025-06-30","knownRansomwareCampaignUse":"Unknown","notes":"","cwes":[]},
{"cveID":"CVE-2025-0002","vendorProject":"V","product":"P","vulnerabilityName":"N","dateAdded":"2025-06-09","shortDescription":"d","requiredAction":"a","dueDate":"2025-06-30","knownRansomwareCampaignUse":"Known","notes":"n","cwes":["CWE-79"],"forensicTriage":"Yes","futureField":1}]}`

func TestBroken_WholeFeedParses(t *testing.T) {
	c, err := parse(t, []byte(whole), kev.FormatJSON, kev.Options{})
	require.NoError(t, err)
	assert.Len(t, c.Entries, 2)
	assert.Equal(t, "Yes", c.Entries[1].ForensicTriage)
}

// TestBroken_TruncatedFeedIsRejectedAtEveryCut: a feed cut anywhere (as the 2025-02-25 commit of the mirror was) is
// rejected, never read as a smaller catalogue: a cut inside the JSON is truncated, and even a cut that closes the JSON
// by luck cannot pass the count.
func TestBroken_TruncatedFeedIsRejectedAtEveryCut(t *testing.T) {
	for _, feed := range [][]byte{[]byte(whole), sample(t, jun09)} {
		for cut := 1; cut < len(bytes.TrimSpace(feed)); cut += 7 {
			_, err := parse(t, feed[:cut], kev.FormatJSON, kev.Options{})
			require.Error(t, err, "cut at %d", cut)
			var pe *kev.ParseError
			require.True(t, errors.As(err, &pe), "cut at %d: %v", cut, err)
		}
	}
	_, err := parse(t, []byte(whole[:len(whole)/2]), kev.FormatJSON, kev.Options{})
	require.ErrorIs(t, err, kev.ErrTruncated)
}

func TestBroken_CountMismatch(t *testing.T) {
	// A feed whose entries were cut at an element boundary and closed again: count says 2, one entry
	i := strings.Index(whole, `,
{"cveID":"CVE-2025-0002"`)
	cut := whole[:i] + "]}"
	_, err := parse(t, []byte(cut), kev.FormatJSON, kev.Options{})
	require.ErrorIs(t, err, kev.ErrCountMismatch)
	// More entries than the count is also refused, partial or not
	more := strings.Replace(whole, `"count":2`, `"count":1`, 1)
	_, err = parse(t, []byte(more), kev.FormatJSON, kev.Options{AllowPartial: true})
	require.ErrorIs(t, err, kev.ErrCountMismatch)
}

func TestBroken_Invalid(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           error
		field          string
	}{
		{"no catalogVersion", `"catalogVersion":"2025.06.09",`, ``, kev.ErrMissingField, "catalogVersion"},
		{"no count", `"count":2,`, ``, kev.ErrMissingField, "count"},
		{"no entries", `"vulnerabilities":[`, `"x":[`, kev.ErrMissingField, "vulnerabilities"},
		{"bad release time", `2025-06-09T12:35:28.591Z`, `09/06/2025`, kev.ErrInvalidValue, "dateReleased"},
		{"bad dateAdded", `"dateAdded":"2025-06-09","shortDescription":"d","requiredAction":"a","dueDate":"2025-06-30","knownRansomwareCampaignUse":"Known"`, `"dateAdded":"2025-13-09","shortDescription":"d","requiredAction":"a","dueDate":"2025-06-30","knownRansomwareCampaignUse":"Known"`, kev.ErrInvalidValue, "dateAdded"},
		{"no dueDate", `"dueDate":"2025-06-30","knownRansomwareCampaignUse":"Unknown"`, `"knownRansomwareCampaignUse":"Unknown"`, kev.ErrMissingField, "dueDate"},
		{"empty product", `"product":"P","vulnerabilityName":"N","dateAdded":"2025-06-09","shortDescription":"d","requiredAction":"a","dueDate":"2025-06-30","knownRansomwareCampaignUse":"Unknown"`, `"product":" ","vulnerabilityName":"N","dateAdded":"2025-06-09","shortDescription":"d","requiredAction":"a","dueDate":"2025-06-30","knownRansomwareCampaignUse":"Unknown"`, kev.ErrMissingField, "product"},
		{"bad ransomware flag", `"Known"`, `"true"`, kev.ErrInvalidValue, "knownRansomwareCampaignUse"},
		{"bad cve id", `CVE-2025-0002`, `CVE-25-2`, kev.ErrInvalidValue, "cveID"},
		{"duplicate", `CVE-2025-0002`, `CVE-2025-0001`, kev.ErrDuplicate, "cveID"},
		{"cwes as a string", `"cwes":["CWE-79"]`, `"cwes":"CWE-79"`, kev.ErrInvalidValue, "cwes"},
		{"count as a string", `"count":2`, `"count":"2"`, kev.ErrInvalidValue, "count"},
		{"content after", `}]}`, `}]}{}`, kev.ErrMalformed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			feed := strings.Replace(whole, tc.old, tc.new, 1)
			require.NotEqual(t, whole, feed)
			_, err := parse(t, []byte(feed), kev.FormatJSON, kev.Options{})
			require.ErrorIs(t, err, tc.want)
			var pe *kev.ParseError
			require.True(t, errors.As(err, &pe))
			assert.Equal(t, tc.field, pe.Field, err.Error())
		})
	}
}

func TestBroken_NotAnObject(t *testing.T) {
	_, err := parse(t, []byte("["+whole+"]"), kev.FormatJSON, kev.Options{})
	require.ErrorIs(t, err, kev.ErrMalformed)
}

func TestBroken_Empty(t *testing.T) {
	for _, f := range []kev.Format{kev.FormatJSON, kev.FormatCSV} {
		_, err := parse(t, []byte(" \n"), f, kev.Options{})
		require.ErrorIs(t, err, kev.ErrEmptyReport)
	}
}

func TestBroken_CSV(t *testing.T) {
	csv := sample(t, aug25CSV)
	lines := strings.SplitAfter(string(csv), "\n")
	// A header without the required columns
	_, err := parse(t, []byte("cveID,vendorProject\nCVE-2025-0001,V\n"), kev.FormatCSV, kev.Options{})
	require.ErrorIs(t, err, kev.ErrMalformed)
	// A record cut inside a quoted field
	cut := strings.Join(lines[:5], "") + lines[5][:len(lines[5])/2]
	_, err = parse(t, []byte(cut), kev.FormatCSV, kev.Options{})
	require.Error(t, err)
	// A bad date names its line
	bad := strings.Join(lines[:3], "") + strings.Replace(lines[3], ",2025-08-", ",2025-8-", 1)
	_, err = parse(t, []byte(bad), kev.FormatCSV, kev.Options{})
	require.ErrorIs(t, err, kev.ErrInvalidValue)
	var pe *kev.ParseError
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, 4, pe.Line)
	// A header-only CSV is an empty catalogue
	c, err := parse(t, []byte(lines[0]), kev.FormatCSV, kev.Options{})
	require.NoError(t, err)
	assert.Empty(t, c.Entries)
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk gone") }

func TestBroken_ReadErrorIsNotTheFeedsFault(t *testing.T) {
	_, err := kev.Parse(context.Background(), failingReader{}, kev.FormatJSON, kev.Options{})
	require.Error(t, err)
	var pe *kev.ParseError
	assert.False(t, errors.As(err, &pe))
}
