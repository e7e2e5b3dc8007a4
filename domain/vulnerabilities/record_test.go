package vulnerabilities_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

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
}

func TestMerge_NewerRecordNamesTheFieldsItChanges(t *testing.T) {
	// Given a stored record and a later one with a new CVSS v4 score, a new severity and a new date
	stored := record()
	incoming := record()
	incoming.CVSS = map[string]vuln.CVSS{"nvd": {V3Vector: "CVSS:3.1/AV:L", V3Score: 7.8, V4Vector: "CVSS:4.0/AV:L", V4Score: 8.5}}
	incoming.Severity = vuln.SeverityHigh
	incoming.SeveritySource = "nvd"
	incoming.LastModifiedAt = stored.LastModifiedAt.Add(24 * time.Hour)
	// When merged
	out := vuln.Merge(stored, incoming)
	// Then it applies, naming exactly those fields
	assert.True(t, out.Apply)
	assert.Equal(t, []string{vuln.FieldCVSS, vuln.FieldSeverity, vuln.FieldSeveritySource, vuln.FieldLastModifiedAt}, out.Changed)
}

func TestMerge_OlderRecordIsNotApplied(t *testing.T) {
	// Given a stored record and an older report's record of the same id (an older database)
	stored := record()
	older := record()
	older.Description = "old text"
	older.LastModifiedAt = stored.LastModifiedAt.Add(-time.Hour)
	// Then the stored one stays, and the other way round the newer applies
	assert.Equal(t, vuln.MergeOutcome{Reason: "older"}, vuln.Merge(stored, older))
	assert.Equal(t, vuln.MergeOutcome{Apply: true, Changed: []string{vuln.FieldDescription, vuln.FieldLastModifiedAt}}, vuln.Merge(older, stored))
}

func TestMerge_Undated(t *testing.T) {
	stored := record()
	undated := record()
	undated.Title = "other"
	undated.LastModifiedAt = time.Time{}
	// An undated record never overrides a dated one
	assert.Equal(t, "older", vuln.Merge(stored, undated).Reason)
	// A dated one replaces an undated one; two undated: the later import wins
	assert.True(t, vuln.Merge(undated, stored).Apply)
	other := undated
	other.Title = "third"
	assert.Equal(t, vuln.MergeOutcome{Apply: true, Changed: []string{vuln.FieldTitle}}, vuln.Merge(undated, other))
}

func TestMerge_SameDateDifferentContentApplies(t *testing.T) {
	// Given two databases of the same day that disagree (a re-published record)
	stored := record()
	incoming := record()
	incoming.CWEs = []string{"CWE-273", "CWE-284"}
	// Then the incoming one is the newer word
	assert.Equal(t, vuln.MergeOutcome{Apply: true, Changed: []string{vuln.FieldCWEs}}, vuln.Merge(stored, incoming))
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
