package kev_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/parsers/kev"
)

func countRansomware(c threatintel.Catalogue) (known int) {
	for _, e := range c.Entries {
		if e.RansomwareKnown() {
			known++
		}
	}
	return known
}

func byID(c threatintel.Catalogue, id string) threatintel.KEVEntry {
	for _, e := range c.Entries {
		if e.CVEID == id {
			return e
		}
	}
	return threatintel.KEVEntry{}
}

func TestSamples_Counts(t *testing.T) {
	for _, tc := range []struct {
		file             string
		version          string
		released         time.Time
		count, entries   int
		known, emptyCWEs int
	}{
		{may22, "2025.05.22", time.Date(2025, 5, 22, 17, 0, 28, 778500000, time.UTC), 1352, 15, -1, -1},
		{jun09, "2025.06.09", time.Date(2025, 6, 9, 12, 35, 28, 591000000, time.UTC), 1360, 23, -1, -1},
		{aug25, "2025.08.25", time.Date(2025, 8, 25, 17, 4, 19, 979600000, time.UTC), 1404, 52, 14, 5},
		{aug25CSV, "", time.Time{}, -1, 40, 5, 5},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c := mustParse(t, tc.file)
			assert.Equal(t, tc.version, c.Version)
			assert.True(t, tc.released.Equal(c.ReleasedAt), "%v", c.ReleasedAt)
			assert.Equal(t, tc.count, c.Count)
			assert.Len(t, c.Entries, tc.entries)
			if tc.known >= 0 {
				assert.Equal(t, tc.known, countRansomware(c))
				empty := 0
				for _, e := range c.Entries {
					if len(e.CWEs) == 0 {
						empty++
					}
				}
				assert.Equal(t, tc.emptyCWEs, empty)
			}
		})
	}
}

func TestSamples_StrictParseRejectsExcerpts(t *testing.T) {
	// The excerpts keep the real catalogue's count: read as a whole feed they are truncated.
	_, err := parse(t, sample(t, aug25), kev.FormatJSON, kev.Options{})
	require.ErrorIs(t, err, kev.ErrCountMismatch)
	var pe *kev.ParseError
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, "count", pe.Field)
	assert.Contains(t, err.Error(), "1404")
}

func TestSamples_EdgeCases(t *testing.T) {
	c := mustParse(t, aug25)
	// Zerologon's due date precedes its dateAdded (carried over from an older directive)
	z := byID(c, "CVE-2020-1472")
	assert.True(t, z.DueDate.Before(z.DateAdded))
	assert.Equal(t, "2020-09-21", z.DueDate.Format(threatintel.DateLayout))
	// The two CVEs the Trivy samples hold are there
	assert.NotEmpty(t, byID(c, "CVE-2022-22965").CVEID)
	assert.NotEmpty(t, byID(c, "CVE-2020-15999").CVEID)
	// Untrimmed vendor or product values are kept raw, trimmed for matching
	untrimmed := 0
	for _, e := range c.Entries {
		if e.Vendor() != e.VendorProject || e.ProductName() != e.Product {
			untrimmed++
		}
	}
	assert.Equal(t, 2, untrimmed)
}

func TestSamples_CSVAgreesWithJSON(t *testing.T) {
	// The CSV twin of the same release says the same of its 40 entries, cwes split from one cell.
	j := mustParse(t, aug25)
	c := mustParse(t, aug25CSV)
	for _, e := range c.Entries {
		assert.Equal(t, byID(j, e.CVEID), e, e.CVEID)
	}
	assert.Equal(t, []string{"CWE-59", "CWE-436"}, byID(c, "CVE-2025-48384").CWEs)
}

// TestSamples_DiffPair: the 2025.05.22 -> 2025.06.09 pair, the sets worked out by hand from the files:
// 9 published, 9 updated (8 knownRansomwareCampaignUse Unknown -> Known, 1 shortDescription), 1 withdrawn, 5 unchanged.
func TestSamples_DiffPair(t *testing.T) {
	d := threatintel.DiffCatalogues(mustParse(t, may22), mustParse(t, jun09))
	var published, withdrawn []string
	for _, e := range d.Published {
		published = append(published, e.CVEID)
	}
	for _, e := range d.Withdrawn {
		withdrawn = append(withdrawn, e.CVEID)
	}
	assert.Equal(t, []string{"CVE-2021-32030", "CVE-2023-39780", "CVE-2024-56145", "CVE-2025-21479", "CVE-2025-21480",
		"CVE-2025-27038", "CVE-2025-35939", "CVE-2025-3935", "CVE-2025-5419"}, published)
	assert.Equal(t, []string{"CVE-2025-4664"}, withdrawn)
	updated := map[string][]string{}
	confirmed := 0
	for _, u := range d.Updated {
		updated[u.Entry.CVEID] = u.Changed
		if u.RansomwareConfirmed {
			confirmed++
		}
	}
	ransom := []string{threatintel.FieldRansomware}
	assert.Equal(t, map[string][]string{
		"CVE-2012-1710": ransom, "CVE-2012-4681": ransom, "CVE-2021-44529": ransom, "CVE-2022-27924": ransom,
		"CVE-2022-30333": ransom, "CVE-2023-43208": ransom, "CVE-2024-21762": ransom, "CVE-2024-57727": ransom,
		"CVE-2025-4428": {threatintel.FieldShortDescription},
	}, updated)
	assert.Equal(t, 8, confirmed)
	assert.Equal(t, 5, d.Unchanged) // CVE-2023-38950, CVE-2024-11182, CVE-2024-27443, CVE-2025-27920, CVE-2025-4632
	// And the way back: what was published is withdrawn, what was withdrawn published
	back := threatintel.DiffCatalogues(mustParse(t, jun09), mustParse(t, may22))
	assert.Len(t, back.Withdrawn, 9)
	require.Len(t, back.Published, 1)
	assert.Equal(t, "CVE-2025-4664", back.Published[0].CVEID)
	assert.Len(t, back.Updated, 9)
}

func TestDetect(t *testing.T) {
	f, ok := kev.Detect(sample(t, aug25)[:512])
	assert.True(t, ok)
	assert.Equal(t, kev.FormatJSON, f)
	f, ok = kev.Detect(sample(t, aug25CSV)[:512])
	assert.True(t, ok)
	assert.Equal(t, kev.FormatCSV, f)
	_, ok = kev.Detect([]byte(`{"SchemaVersion": 2, "Results": []}`))
	assert.False(t, ok)
	_, ok = kev.Detect([]byte("CHECK_ID;STATUS"))
	assert.False(t, ok)
	_, ok = kev.Detect(nil)
	assert.False(t, ok)
}
