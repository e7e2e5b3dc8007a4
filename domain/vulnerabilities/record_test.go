package vulnerabilities_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
)

func record() vuln.Record {
	r := vuln.Record{
		ID: "cve-2019-18276", Title: "bash: saved UID", Description: "An issue",
		CWEs: []string{"cwe-273"}, References: []string{"https://b", "https://a", "https://b"},
		CVSS:             map[string]vuln.CVSS{"nvd": {V3Vector: "CVSS:3.1/AV:L", V3Score: 7.8}},
		VendorSeverities: map[string]vuln.Severity{"nvd": vuln.SeverityHigh, "debian": vuln.SeverityLow},
		Severity:         vuln.SeverityLow, SeveritySource: "debian",
		PublishedAt:    time.Date(2019, 11, 28, 1, 15, 0, 0, time.UTC),
		LastModifiedAt: time.Date(2021, 5, 26, 12, 15, 0, 0, time.UTC),
	}
	r.Normalize()
	return r
}

func TestRecordNormalize(t *testing.T) {
	r := record()
	assert.Equal(t, "CVE-2019-18276", r.ID)
	assert.Equal(t, []string{"CWE-273"}, r.CWEs)
	assert.Equal(t, []string{"https://b", "https://a"}, r.References)
	assert.Equal(t, "GHSA-fpj8-gq4v-p354", vuln.NormalizeID(" ghsa-FPJ8-gq4v-p354"))
	assert.Equal(t, "TEMP-0841856-B18BAF", vuln.NormalizeID("TEMP-0841856-B18BAF"))
	assert.True(t, vuln.IsCVE(vuln.NormalizeID("cve-2020-1")))
}

func TestMerge_SameContentIsNothing(t *testing.T) {
	// Given a stored record and the same record with its references reordered
	stored := record()
	incoming := record()
	incoming.References = []string{"https://a", "https://b"}
	// Then nothing changes
	assert.Equal(t, vuln.MergeOutcome{Reason: "unchanged"}, vuln.Merge(stored, incoming))
	assert.Empty(t, vuln.ChangedFields(stored, incoming))
}

func TestMerge_NewerRecordReplacesTheStoredOneWhole(t *testing.T) {
	// Given a stored record and a later one with a new CVSS v4 score, a new severity, a dropped CWE and a new date
	stored := record()
	incoming := record()
	incoming.CVSS = map[string]vuln.CVSS{"nvd": {V3Vector: "CVSS:3.1/AV:L", V3Score: 7.8, V4Vector: "CVSS:4.0/AV:L", V4Score: 8.5}}
	incoming.Severity = vuln.SeverityHigh
	incoming.SeveritySource = "nvd"
	incoming.CWEs = nil
	incoming.LastModifiedAt = stored.LastModifiedAt.Add(24 * time.Hour)
	// When merged
	out := vuln.Merge(stored, incoming)
	// Then the incoming record is stored as it is (the CWE is dropped), naming exactly those fields
	assert.True(t, out.Apply)
	assert.Equal(t, incoming, out.Record)
	assert.Equal(t, []string{vuln.FieldCWEs, vuln.FieldCVSS, vuln.FieldSeverity, vuln.FieldSeveritySource, vuln.FieldLastModifiedAt}, out.Changed)
}

func TestMerge_OlderRecordIsNotApplied(t *testing.T) {
	// Given a stored record and an older report's record of the same id (an older database)
	stored := record()
	older := record()
	older.Description = "old text"
	older.LastModifiedAt = stored.LastModifiedAt.Add(-time.Hour)
	// Then the stored one stays
	assert.Equal(t, vuln.MergeOutcome{Reason: "older"}, vuln.Merge(stored, older))
	// And the other way round (the older one stored first, the newer arriving late) the newer applies
	out := vuln.Merge(older, stored)
	assert.True(t, out.Apply)
	assert.Equal(t, stored, out.Record)
	assert.Equal(t, []string{vuln.FieldDescription, vuln.FieldLastModifiedAt}, out.Changed)
	// An older record with the same texts is still older: nothing is applied either
	same := stored
	same.LastModifiedAt = stored.LastModifiedAt.Add(-time.Hour)
	assert.Equal(t, "older", vuln.Merge(stored, same).Reason)
}

func TestMerge_Undated(t *testing.T) {
	stored := record()
	undated := record()
	undated.Title = "other"
	undated.LastModifiedAt = time.Time{}
	// An undated record never overrides a dated one
	assert.Equal(t, "older", vuln.Merge(stored, undated).Reason)
	// A dated one replaces an undated one
	out := vuln.Merge(undated, stored)
	assert.True(t, out.Apply)
	assert.Equal(t, stored, out.Record)
	// Two undated ones: the stored texts stay, what it lacks is filled
	other := undated
	other.Title = "third"
	other.CVSS = map[string]vuln.CVSS{"ghsa": {V4Vector: "CVSS:4.0/AV:N", V4Score: 6.3}}
	out = vuln.Merge(undated, other)
	assert.True(t, out.Apply)
	assert.Equal(t, "other", out.Record.Title)
	assert.Equal(t, []string{vuln.FieldCVSS}, out.Changed)
}

// TestMerge_SameDateTwoScannerVersionsSettle: two Trivy versions over the same database state write different
// fields (an older one no VendorSeverity and no CVSS v4, a newer one both). Imported in turn, the entry takes what
// each adds once, then nothing changes: no update back and forth.
func TestMerge_SameDateTwoScannerVersionsSettle(t *testing.T) {
	newer := record()
	newer.CVSS = map[string]vuln.CVSS{"nvd": {V3Vector: "CVSS:3.1/AV:L", V3Score: 7.8}, "ghsa": {V4Vector: "CVSS:4.0/AV:L", V4Score: 8.5}}
	older := record()
	older.VendorSeverities = nil
	older.Aliases = []string{"DSA-4535-1"}

	// Given the older scanner's record stored, when the newer scanner's arrives
	out := vuln.Merge(older, newer)
	// Then it fills the vendor severities and the v4 source, keeping the stored aliases
	require.True(t, out.Apply)
	assert.Equal(t, []string{vuln.FieldCVSS, vuln.FieldVendorSeverities}, out.Changed)
	assert.Equal(t, []string{"DSA-4535-1"}, out.Record.Aliases)
	assert.Equal(t, newer.VendorSeverities, out.Record.VendorSeverities)
	// And when either arrives again, nothing changes
	settled := out.Record
	assert.Equal(t, "unchanged", vuln.Merge(settled, older).Reason)
	assert.Equal(t, "unchanged", vuln.Merge(settled, newer).Reason)
	// A conflicting value of the same date does not override the stored one
	conflicting := newer
	conflicting.Description = "edited"
	assert.Equal(t, "unchanged", vuln.Merge(settled, conflicting).Reason)
}

func TestSeverity(t *testing.T) {
	s, ok := vuln.ParseSeverity("CRITICAL")
	assert.True(t, ok)
	assert.Equal(t, vuln.SeverityCritical, s)
	s, ok = vuln.ParseSeverity("UNKNOWN")
	assert.True(t, ok)
	assert.Equal(t, 0, s.Rank())
	_, ok = vuln.ParseSeverity("")
	assert.False(t, ok)
	s, ok = vuln.SeverityOfVendorLevel(3)
	assert.True(t, ok)
	assert.Equal(t, vuln.SeverityHigh, s)
	_, ok = vuln.SeverityOfVendorLevel(5)
	assert.False(t, ok)
}
