package threatintel_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ti "github.com/cspm-es/cspm-es/domain/threatintel"
)

func day(s string) time.Time {
	t, err := time.Parse(ti.DateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func entry(cve string) ti.KEVEntry {
	return ti.KEVEntry{CVEID: cve, VendorProject: "Vendor", Product: "Product", VulnerabilityName: "Vuln",
		DateAdded: day("2025-05-22"), ShortDescription: "desc", RequiredAction: "Apply mitigations",
		DueDate: day("2025-06-12"), Ransomware: ti.RansomwareUnknown, Notes: "https://a ; https://b", CWEs: []string{"CWE-22"}}
}

func catalogue(version string, es ...ti.KEVEntry) ti.Catalogue {
	return ti.Catalogue{Version: version, Count: len(es), Entries: es}
}

func ids(es []ti.KEVEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.CVEID)
	}
	return out
}

func TestDiff_FirstImportPublishesEverything(t *testing.T) {
	// Given no accepted catalogue and a first one
	next := catalogue("1", entry("CVE-2025-0002"), entry("CVE-2025-0001"))
	// When diffed
	d := ti.DiffCatalogues(ti.Catalogue{}, next)
	// Then every entry is published, in CVE order
	assert.Equal(t, []string{"CVE-2025-0001", "CVE-2025-0002"}, ids(d.Published))
	assert.Empty(t, d.Updated)
	assert.Empty(t, d.Withdrawn)
}

func TestDiff_PublishedUpdatedWithdrawn(t *testing.T) {
	// Given an accepted catalogue of A, B, C, D
	a, b, c, d := entry("CVE-2025-0001"), entry("CVE-2025-0002"), entry("CVE-2025-0003"), entry("CVE-2025-0004")
	last := catalogue("2025.05.22", a, b, c, d)
	// When a newer one drops C, adds E, confirms ransomware use on A, moves B's due date and renames D's vendor
	a2, b2, d2 := a, b, d
	a2.Ransomware = ti.RansomwareKnown
	b2.DueDate = day("2025-07-01")
	d2.VendorProject = "Vendor "
	next := catalogue("2025.06.09", entry("CVE-2025-0005"), d2, b2, a2)
	diff := ti.DiffCatalogues(last, next)
	// Then E is published, C withdrawn, A, B and D updated naming their fields
	assert.Equal(t, []string{"CVE-2025-0005"}, ids(diff.Published))
	assert.Equal(t, []string{"CVE-2025-0003"}, ids(diff.Withdrawn))
	require.Len(t, diff.Updated, 3)
	assert.Equal(t, "CVE-2025-0001", diff.Updated[0].Entry.CVEID)
	assert.Equal(t, []string{ti.FieldRansomware}, diff.Updated[0].Changed)
	assert.True(t, diff.Updated[0].RansomwareConfirmed)
	assert.Equal(t, []string{ti.FieldDueDate}, diff.Updated[1].Changed)
	assert.False(t, diff.Updated[1].RansomwareConfirmed)
	assert.Equal(t, []string{ti.FieldVendorProject}, diff.Updated[2].Changed)
	assert.Equal(t, 0, diff.Unchanged)
}

func TestDiff_ByContentNotByVersionLabel(t *testing.T) {
	// Given two catalogues with the same catalogVersion but different content
	a := entry("CVE-2025-0001")
	a2 := a
	a2.Notes = "https://c"
	last, next := catalogue("2025.02.25", a), catalogue("2025.02.25", a2)
	// Then the change is seen, and the hashes differ
	d := ti.DiffCatalogues(last, next)
	require.Len(t, d.Updated, 1)
	assert.Equal(t, []string{ti.FieldNotes}, d.Updated[0].Changed)
	assert.NotEqual(t, last.ContentHash(), next.ContentHash())
	// And two different labels with the same content are the same catalogue
	relabelled := catalogue("2025.02.26", a)
	relabelled.ReleasedAt = time.Date(2025, 2, 26, 0, 0, 0, 0, time.UTC)
	assert.True(t, ti.DiffCatalogues(last, relabelled).Empty())
	assert.Equal(t, 1, ti.DiffCatalogues(last, relabelled).Unchanged)
	assert.Equal(t, last.ContentHash(), relabelled.ContentHash())
}

func TestDiff_CWEOrderIsNoChange(t *testing.T) {
	a := entry("CVE-2025-0001")
	a.CWEs = []string{"CWE-59", "CWE-436"}
	b := a
	b.CWEs = []string{"CWE-436", "CWE-59"}
	assert.Empty(t, ti.ChangedFields(a, b))
	assert.Equal(t, catalogue("", a).ContentHash(), catalogue("", b).ContentHash())
}

func TestDiff_IsDeterministic(t *testing.T) {
	es := []ti.KEVEntry{entry("CVE-2025-0003"), entry("CVE-2025-0001"), entry("CVE-2025-0002")}
	d1 := ti.DiffCatalogues(ti.Catalogue{}, catalogue("", es...))
	d2 := ti.DiffCatalogues(ti.Catalogue{}, catalogue("", es[2], es[0], es[1]))
	assert.Equal(t, d1, d2)
}

func TestValidate(t *testing.T) {
	// Given a valid catalogue: no problems
	ok := catalogue("1", entry("CVE-2025-0001"), entry("CVE-2025-12345678"))
	assert.Empty(t, ok.Validate(false))
	// Given a count that says more entries than it holds (truncated): rejected unless partial is allowed
	cut := ok
	cut.Count = 3
	require.Len(t, cut.Validate(false), 1)
	assert.Equal(t, "count", cut.Validate(false)[0].Field)
	assert.Empty(t, cut.Validate(true))
	// A CSV has no count
	csv := ok
	csv.Count = -1
	assert.Empty(t, csv.Validate(false))
	// Given bad entries: each problem named with its field and index
	bad := entry("cve-2025-1")
	bad.Product = " "
	bad.DueDate = time.Time{}
	bad.Ransomware = "Yes"
	bad.CWEs = []string{"NVD-CWE-noinfo"}
	dup := entry("CVE-2025-0001")
	problems := catalogue("1", entry("CVE-2025-0001"), bad, dup).Validate(false)
	var fields []string
	for _, p := range problems {
		fields = append(fields, p.Field)
	}
	assert.ElementsMatch(t, []string{"cveID", ti.FieldCWEs, ti.FieldDueDate, ti.FieldRansomware, ti.FieldProduct, "cveID"}, fields)
	assert.Equal(t, 1, problems[0].Index)
	assert.Equal(t, 2, problems[len(problems)-1].Index)
}

func TestEntryTrimmedNames(t *testing.T) {
	e := entry("CVE-2025-0001")
	e.VendorProject, e.Product = "SimpleHelp ", " SimpleHelp "
	assert.Equal(t, "SimpleHelp", e.Vendor())
	assert.Equal(t, "SimpleHelp", e.ProductName())
	assert.False(t, e.RansomwareKnown())
}
