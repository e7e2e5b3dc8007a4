package vulnerabilities_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/projections"
	csproj "github.com/cspm-es/cspm-es/projections/cloudsecurity"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	pv "github.com/cspm-es/cspm-es/projections/vulnerabilities"
)

var img = vuln.ArtifactIdentity{Kind: vuln.ArtifactImage, Basis: vuln.BasisImageID, Key: "sha256:aa"}

const day = 24 * time.Hour

func occ(cve, pkg string, sev vuln.Severity) vuln.Occurrence {
	return vuln.Occurrence{VulnerabilityID: cve, Package: vuln.Package{Class: vuln.ClassOS, Type: "alpine", Name: pkg, InstalledVersion: "1.0"}, Severity: sev}
}

func occID(t *testing.T, team string, o vuln.Occurrence) string {
	t.Helper()
	idn, err := vuln.OccurrenceIdentityOf(vuln.IdentityTrivyV1, img, o)
	require.NoError(t, err)
	return idn.OccurrenceID(team)
}

// scan is one Trivy import of the image at scanned: its results and completion.
func scan(id string, scanned time.Time, os ...vuln.Occurrence) []pt.EventData {
	return []pt.EventData{
		vuln.ScanResultsRecorded{ImportID: id, ArtifactID: "art-1", Identity: img, IdentityRule: vuln.IdentityTrivyV1, ScannedAt: scanned, Occurrences: os},
		vuln.ArtifactScanned{ImportID: id, ArtifactID: "art-1", Identity: img, IdentityRule: vuln.IdentityTrivyV1, ScannedAt: scanned, CompletedAt: scanned},
	}
}

func pos(first int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = first + int64(i)
	}
	return out
}

func stream(team string, first int64, data ...pt.EventData) []projections.Event {
	return pt.Stream(team, pos(first, len(data)), data...)
}

func slaKEVEntry(cve string, due time.Time) ti.KEVEntry {
	return ti.KEVEntry{CVEID: cve, VendorProject: "v", Product: "p", VulnerabilityName: "n", DateAdded: pt.T0, DueDate: due}
}

func ptr(n int) *int { return &n }

// A KEV CVE that Trivy rates LOW gets KEV's due date, not the policy's 180
// days; a withdrawal gives the policy's back.
func TestSLA_KEVOverridesALowRating(t *testing.T) {
	t.Parallel()
	p := pv.NewSLA()
	for _, spec := range p.Collections() {
		require.NoError(t, spec.Validate())
	}
	low := occ("CVE-2024-0001", "openssl", vuln.SeverityLow)
	kevDue := pt.At(14 * day)
	imp := stream("team-a", 1, scan("vim-1", pt.T0, low)...)
	kev := stream("team-admin", 10, ti.KEVEntryPublished{ImportID: "kev-1", Entry: slaKEVEntry("CVE-2024-0001", kevDue), PublishedAt: pt.At(time.Hour)})
	tx := pt.Apply(t, p, append(imp, kev...)...)
	c := tx.Doc(t, pv.SLAClocksCollection, occID(t, "team-a", low))
	assert.Equal(t, kevDue, c["due_at"])
	assert.Equal(t, pv.DueByKEV, c["due_source"])
	assert.Equal(t, true, c["kev"])
	assert.Equal(t, pv.SLAOpen, c["status"])

	// Order independence: KEV first, or the import first, same documents.
	pt.AssertOrderIndependent(t, p, [][]projections.Event{imp, kev})

	// Withdrawn: the policy's 180 days for low again.
	wd := stream("team-admin", 10, ti.KEVEntryPublished{ImportID: "kev-1", Entry: slaKEVEntry("CVE-2024-0001", kevDue), PublishedAt: pt.At(time.Hour)},
		ti.KEVEntryWithdrawn{ImportID: "kev-2", CVEID: "CVE-2024-0001", Entry: slaKEVEntry("CVE-2024-0001", kevDue), WithdrawnAt: pt.At(2 * time.Hour)})
	tx = pt.Apply(t, p, append(imp, wd...)...)
	c = tx.Doc(t, pv.SLAClocksCollection, occID(t, "team-a", low))
	assert.Equal(t, pt.At(180*day), c["due_at"])
	assert.Equal(t, false, c["kev"])
	pt.AssertOrderIndependent(t, p, [][]projections.Event{imp, wd})
}

// A policy change moves the due dates of open clocks, not the frozen
// outcome of resolved ones.
func TestSLA_PolicyChangeRecomputesOpenNotResolved(t *testing.T) {
	t.Parallel()
	p := pv.NewSLA()
	high := occ("CVE-2024-0002", "curl", vuln.SeverityHigh)  // stays open
	fixed := occ("CVE-2024-0003", "zlib", vuln.SeverityHigh) // fixed at day 10: met under 30 days
	imps := [][]projections.Event{
		stream("team-a", 1, scan("vim-1", pt.T0, high, fixed)...),
		stream("team-a", 3, scan("vim-2", pt.At(10*day), high)...),
	}
	tx := pt.Apply(t, p, imps[0][0], imps[0][1], imps[1][0], imps[1][1])
	f := tx.Doc(t, pv.SLAClocksCollection, occID(t, "team-a", fixed))
	assert.Equal(t, "resolved", f["status"])
	assert.Equal(t, pt.At(10*day), f["resolved_at"])
	assert.Equal(t, pv.SLAMet, f["outcome"])
	assert.Equal(t, pt.At(30*day), tx.Doc(t, pv.SLAClocksCollection, occID(t, "team-a", high))["due_at"])

	// The team sets high to 5 days on day 11.
	pol := vuln.SLAPolicy{Days: vuln.SLADays{Critical: ptr(3), High: ptr(5), Medium: ptr(30), Low: ptr(90)}}
	policy := stream("team-a", 20, vuln.SLAPolicySet{Policy: pol, SetAt: pt.At(11 * day)})
	all := append(append(append([]projections.Event{}, imps[0]...), imps[1]...), policy...)
	tx = pt.Apply(t, p, all...)
	o := tx.Doc(t, pv.SLAClocksCollection, occID(t, "team-a", high))
	assert.Equal(t, pt.At(5*day), o["due_at"], "open: recomputed")
	f = tx.Doc(t, pv.SLAClocksCollection, occID(t, "team-a", fixed))
	assert.Equal(t, pv.SLAMet, f["outcome"], "resolved: frozen under the policy in force at its resolution")
	assert.Equal(t, pt.At(30*day), f["due_at"])

	pt.AssertOrderIndependent(t, p, append(imps, policy))

	// The summary: one missed? no: one met, one open high due on day 5.
	s := tx.Doc(t, pv.SLASummaryCollection, "team-a")
	assert.Equal(t, map[string]any{"vulnerabilities": map[string]any{"met": map[string]any{"high": int64(1)}}}, s["resolved"])
	assert.Equal(t, map[string]any{"vulnerabilities": map[string]any{"high": map[string]any{
		"1741262400": int64(1)}}}, s["open"])
}

// A severity change (a later scan rates it critical) moves the due date.
func TestSLA_SeverityChangeMovesDueDate(t *testing.T) {
	t.Parallel()
	p := pv.NewSLA()
	med := occ("CVE-2024-0004", "bash", vuln.SeverityMedium)
	crit := med
	crit.Severity = vuln.SeverityCritical
	imps := [][]projections.Event{
		stream("team-a", 1, scan("vim-1", pt.T0, med)...),
		stream("team-a", 3, scan("vim-2", pt.At(2*day), crit)...),
	}
	tx := pt.Apply(t, p, imps[0]...)
	assert.Equal(t, pt.At(90*day), tx.Doc(t, pv.SLAClocksCollection, occID(t, "team-a", med))["due_at"])
	tx = pt.Apply(t, p, append(append([]projections.Event{}, imps[0]...), imps[1]...)...)
	c := tx.Doc(t, pv.SLAClocksCollection, occID(t, "team-a", med))
	assert.Equal(t, pt.At(7*day), c["due_at"], "critical: 7 days from the first sighting")
	assert.Equal(t, "critical", c["severity"])
	pt.AssertOrderIndependent(t, p, imps)
}

// Missed: fixed after its due date; teams apart; redelivery changes nothing.
func TestSLA_MissedAndTeams(t *testing.T) {
	t.Parallel()
	p := pv.NewSLA()
	crit := occ("CVE-2024-0005", "glibc", vuln.SeverityCritical)
	a := [][]projections.Event{
		stream("team-a", 1, scan("vim-1", pt.T0, crit)...),
		stream("team-a", 3, scan("vim-2", pt.At(9*day))...),
	}
	b := stream("team-b", 5, scan("vim-3", pt.At(day), crit)...)
	all := append(append(append([]projections.Event{}, a[0]...), a[1]...), b...)
	tx := pt.Apply(t, p, all...)
	ca := tx.Doc(t, pv.SLAClocksCollection, occID(t, "team-a", crit))
	assert.Equal(t, pv.SLAMissed, ca["outcome"])
	cb := tx.Doc(t, pv.SLAClocksCollection, occID(t, "team-b", crit))
	assert.Equal(t, pv.SLAOpen, cb["outcome"])
	assert.Equal(t, pt.At(8*day), cb["due_at"])
	again := pt.Apply(t, p, append(all, all...)...)
	assert.Equal(t, tx.Colls, again.Colls)
	pt.AssertOrderIndependent(t, p, [][]projections.Event{a[0], a[1], b})
}

// Imported cloud findings: the lifecycle of three interleaved scans of one
// scope (projectionstest.InterleavedScans), the clock from the first
// failure, resolution by the first evaluation of the scope after the last
// failure; the cloud_findings override of the policy applies to them only.
func TestSLA_CloudFindings(t *testing.T) {
	t.Parallel()
	p := pv.NewSLA()
	a, b, c := pt.InterleavedScans()
	imps, next := pt.Imports("team-a", 1, a, b, c)
	imps = pt.OnlyStreams(p, imps)
	pol := vuln.SLAPolicy{Days: vuln.SLADays{High: ptr(30)}, Modules: map[string]vuln.SLADays{vuln.SLAModuleCloudFindings: {High: ptr(2)}}}
	policy := stream("team-a", next, vuln.SLAPolicySet{Policy: pol, SetAt: pt.T0})
	all := append(append(append(append([]projections.Event{}, imps[0]...), imps[1]...), imps[2]...), policy...)
	tx := pt.Apply(t, p, all...)
	clock := func(n string) map[string]any {
		r := pt.Result("s3_bucket_public_access", "eu-west-1", "arn:aws:s3:::bucket-"+n, csdomain.ResultFail, csdomain.SeverityHigh)
		return tx.Doc(t, pv.SLAClocksCollection, r.Identity(csdomain.IdentityProwlerV1).FindingID("team-a"))
	}
	assert.Equal(t, pv.SLAOpen, clock("1")["status"])
	assert.Equal(t, pt.At(time.Hour+2*day), clock("1")["due_at"], "first failure (scan A) + the cloud_findings override")
	assert.Equal(t, "cloud_findings", clock("1")["module"])
	two := clock("2")
	assert.Equal(t, "resolved", two["status"])
	assert.Equal(t, pt.At(2*time.Hour), two["resolved_at"], "fixed by scan B")
	assert.Equal(t, pv.SLAMet, two["outcome"])
	assert.Equal(t, pv.SLAOpen, clock("4")["status"], "fixed by B, reopened by C")
	assert.Equal(t, pt.At(time.Hour), clock("4")["first_seen"])
	assert.Equal(t, pv.SLAOpen, clock("5")["status"])
	pt.AssertOrderIndependent(t, p, append(imps, policy))
}

// The clocks' open/resolved agree with the findings projection's lifecycle
// fold (status, closed_at) on the interleaved scans and the real-shaped
// CloudTrail pair, in every order tried.
func TestSLA_CloudFindingsAgreeWithTheLifecycleFold(t *testing.T) {
	t.Parallel()
	a, b, c := pt.InterleavedScans()
	for name, imps := range map[string][][]pt.EventData{"interleaved": {a, b, c}, "pair": {pt.PairScan1(), pt.PairScan2()}} {
		streams, _ := pt.Imports("team-a", 1, imps...)
		for i, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}} {
			var evs []projections.Event
			for _, k := range order {
				if k < len(streams) {
					evs = append(evs, streams[k]...)
				}
			}
			fold := pt.Apply(t, csproj.NewFindings(), pt.Only(csproj.NewFindings(), evs)...)
			sla := pt.Apply(t, pv.NewSLA(), pt.Only(pv.NewSLA(), evs)...)
			n := 0
			for id, f := range fold.Colls[csproj.FindingsCollection] {
				c, ok := sla.Colls[pv.SLAClocksCollection][id]
				require.True(t, ok, "%s/%d: %s has no clock", name, i, id)
				n++
				if f["status"] == "open" {
					assert.Equal(t, pv.SLAOpen, c["status"], "%s/%d: %s", name, i, f["resource_id"])
				} else {
					assert.Equal(t, "resolved", c["status"], "%s/%d: %s", name, i, f["resource_id"])
					assert.Equal(t, f["closed_at"], c["resolved_at"], "%s/%d: %s", name, i, f["resource_id"])
				}
			}
			assert.Equal(t, len(sla.Colls[pv.SLAClocksCollection]), n, "%s: one clock per imported finding", name)
		}
	}
}

// The occurrences' clocks agree with the occurrence projection's fold
// (status, fixed_at): fixed by a later scan, reopened, an old scan
// imported last, in several orders.
func TestSLA_OccurrencesAgreeWithTheLifecycleFold(t *testing.T) {
	t.Parallel()
	x, y, z := occ("CVE-2024-0010", "a", vuln.SeverityHigh), occ("CVE-2024-0011", "b", vuln.SeverityLow), occ("CVE-2024-0012", "c", vuln.SeverityCritical)
	streams := [][]projections.Event{
		stream("team-a", 1, scan("vim-1", pt.T0, x, y, z)...),
		stream("team-a", 3, scan("vim-2", pt.At(day), x)...),
		stream("team-a", 5, scan("vim-3", pt.At(2*day), x, y)...),
		stream("team-a", 7, scan("vim-4", pt.At(time.Hour), x, y, z)...), // an older report, imported last
	}
	for i, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}} {
		var evs []projections.Event
		for _, k := range order {
			evs = append(evs, streams[k]...)
		}
		fold := pt.Apply(t, pv.New(), pt.Only(pv.New(), evs)...)
		sla := pt.Apply(t, pv.NewSLA(), evs...)
		require.Len(t, fold.Colls[pv.OccurrencesCollection], 3)
		for id, o := range fold.Colls[pv.OccurrencesCollection] {
			c := sla.Colls[pv.SLAClocksCollection][id]
			require.NotNil(t, c, id)
			if o["status"] == "open" {
				assert.Equal(t, pv.SLAOpen, c["status"], "order %d: %s", i, o["vulnerability_id"])
			} else {
				assert.Equal(t, "resolved", c["status"], "order %d: %s", i, o["vulnerability_id"])
				assert.Equal(t, o["fixed_at"], c["resolved_at"], "order %d: %s", i, o["vulnerability_id"])
			}
		}
	}
}
