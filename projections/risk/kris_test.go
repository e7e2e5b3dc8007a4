package risk_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	riskproj "github.com/cspm-es/cspm-es/projections/risk"
)

// point is one recorded point of a series.
type point struct {
	At    time.Time
	Value float64
}

// points are the series' points of team, by time.
func points(tx *pt.MemTx, team, series string) []point {
	var out []point
	for _, d := range tx.Colls[riskproj.KRIPointsCollection] {
		if d["team_id"] == team && d["series"] == series {
			out = append(out, point{At: d["measured_at"].(time.Time), Value: d["value"].(float64)})
		}
	}
	slices.SortFunc(out, func(a, b point) int { return a.At.Compare(b.At) })
	return out
}

// seq numbers the events of several streams one after the other.
// (only those risk.kris folds: an import's ChecksDescribed is not).
func seq(team string, first int64, data ...pt.EventData) []projections.Event {
	types := riskproj.NewKRIs().EventTypes()
	data = slices.DeleteFunc(slices.Clone(data), func(d pt.EventData) bool { return !slices.Contains(types, d.EventType()) })
	ps := make([]int64, len(data))
	for i := range ps {
		ps[i] = first + int64(i)
	}
	return pt.Stream(team, ps, data...)
}

func crit(check, resource string, r csdomain.Result) csdomain.CheckResult {
	return pt.Result(check, "eu-west-1", resource, r, csdomain.SeverityCritical)
}

func TestKRIs_OpenCriticalFindings(t *testing.T) {
	acct := riskproj.SeriesOf(rdomain.SourceOpenCriticalFindings, pt.PairAccount)
	other := pt.Result("s3_public", "eu-west-1", "arn:b", csdomain.ResultFail, csdomain.SeverityCritical)
	other.Account = "999999999999"
	h := func(n int) time.Time { return pt.T0.Add(time.Duration(n) * time.Hour) }
	cases := []struct {
		name  string
		given [][]pt.EventData // imports, in order
		then  []point          // the account's series
		other []point          // the other account's series
	}{
		{
			name: "an import with two critical failures and a high one: 2 at its evaluation",
			given: [][]pt.EventData{pt.ImportEvents("s1", 1, 10,
				crit("iam_root_mfa", "arn:r", csdomain.ResultFail), crit("s3_public", "arn:a", csdomain.ResultFail),
				pt.Result("ec2_ssh", "eu-west-1", "arn:i", csdomain.ResultFail, csdomain.SeverityHigh))},
			then: []point{{h(1), 2}},
		},
		{
			name: "a later import passes one: 1 at its evaluation",
			given: [][]pt.EventData{
				pt.ImportEvents("s1", 1, 10, crit("iam_root_mfa", "arn:r", csdomain.ResultFail), crit("s3_public", "arn:a", csdomain.ResultFail)),
				pt.ImportEvents("s2", 2, 10, crit("iam_root_mfa", "arn:r", csdomain.ResultPass)),
			},
			then: []point{{h(1), 2}, {h(2), 1}},
		},
		{
			name: "an import of another account changes nothing of this one (scope rule)",
			given: [][]pt.EventData{
				pt.ImportEvents("s1", 1, 10, crit("iam_root_mfa", "arn:r", csdomain.ResultFail)),
				pt.ImportEvents("s2", 2, 10, other),
			},
			then:  []point{{h(1), 1}},
			other: []point{{h(2), 1}},
		},
		{
			name: "one import in chunks, a new failure and a fix: one point, the value after its completion",
			given: [][]pt.EventData{
				pt.ImportEvents("s1", 1, 10, crit("iam_root_mfa", "arn:r", csdomain.ResultFail), crit("s3_public", "arn:a", csdomain.ResultFail)),
				pt.ImportEvents("s2", 2, 1, crit("s3_public", "arn:a", csdomain.ResultFail), crit("kms_public", "arn:k", csdomain.ResultFail),
					crit("iam_root_mfa", "arn:r", csdomain.ResultPass)),
			},
			then: []point{{h(1), 2}, {h(2), 2}},
		},
		{
			name: "an import with failures but no critical one: 0",
			given: [][]pt.EventData{pt.ImportEvents("s1", 1, 10,
				pt.Result("ec2_ssh", "eu-west-1", "arn:i", csdomain.ResultFail, csdomain.SeverityHigh))},
			then: []point{{h(1), 0}},
		},
		{
			name: "an import that sees the same failures again records no new point",
			given: [][]pt.EventData{
				pt.ImportEvents("s1", 1, 10, crit("iam_root_mfa", "arn:r", csdomain.ResultFail)),
				pt.ImportEvents("s2", 2, 10, crit("iam_root_mfa", "arn:r", csdomain.ResultFail)),
			},
			then: []point{{h(1), 1}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var all []projections.Event
			for _, imp := range c.given {
				all = append(all, seq("team-a", int64(len(all)+1), imp...)...)
			}
			tx := pt.Apply(t, riskproj.NewKRIs(), append(all, all...)...) // redelivered: nothing changes
			assert.Equal(t, c.then, points(tx, "team-a", acct))
			assert.Equal(t, c.other, points(tx, "team-a", riskproj.SeriesOf(rdomain.SourceOpenCriticalFindings, "999999999999")))
			assert.Empty(t, points(tx, "team-b", acct), "team b has no point of team a's account")
			// Rebuild equivalence: the same events in the same order, the same documents.
			assert.Equal(t, tx.Colls, pt.Apply(t, riskproj.NewKRIs(), all...).Colls)
		})
	}
}

func TestKRIs_AcceptedFindingIsNotOpen(t *testing.T) {
	acct := riskproj.SeriesOf(rdomain.SourceOpenCriticalFindings, pt.PairAccount)
	imp := seq("team-a", 1, pt.ImportEvents("s1", 1, 10, crit("iam_root_mfa", "arn:r", csdomain.ResultFail), crit("s3_public", "arn:a", csdomain.ResultFail))...)
	tx := pt.Apply(t, riskproj.NewKRIs(), imp...)
	var fid string
	for id, d := range tx.Colls[riskproj.KRISLAPrefix+"sla_clocks"] {
		if d["check"] == "s3_public" {
			fid = id
		}
	}
	require.NotEmpty(t, fid)
	acc := seq("team-a", 10, rdomain.RiskAccepted{AcceptanceID: "a1", Scope: rdomain.Scope{FindingIDs: []string{fid}}, Reason: "r",
		Approver: "c", ExpiresAt: pt.At(30 * 24 * time.Hour), AcceptedAt: pt.At(3 * time.Hour)})
	tx = pt.Apply(t, riskproj.NewKRIs(), append(imp, acc...)...)
	assert.Equal(t, []point{{pt.At(time.Hour), 2}, {pt.At(3 * time.Hour), 1}}, points(tx, "team-a", acct), "an accepted finding is muted")
}

func TestKRIs_KEVOverdue(t *testing.T) {
	series := riskproj.SeriesOf(rdomain.SourceKEVOverdue, "")
	img := vuln.ArtifactIdentity{Kind: vuln.ArtifactImage, Basis: vuln.BasisImageID, Key: "sha256:aa"}
	o := vuln.Occurrence{VulnerabilityID: "CVE-2024-0001", Package: vuln.Package{Class: vuln.ClassOS, Type: "alpine", Name: "openssl", InstalledVersion: "1.0"}, Severity: vuln.SeverityLow}
	scan := func(id string, at time.Time, os ...vuln.Occurrence) []pt.EventData {
		return []pt.EventData{
			vuln.ScanResultsRecorded{ImportID: id, ArtifactID: "art-1", Identity: img, IdentityRule: vuln.IdentityTrivyV1, ScannedAt: at, Occurrences: os},
			vuln.ArtifactScanned{ImportID: id, ArtifactID: "art-1", Identity: img, IdentityRule: vuln.IdentityTrivyV1, ScannedAt: at, CompletedAt: at},
		}
	}
	d := func(n int) time.Time { return pt.T0.AddDate(0, 0, n) }
	kev := ti.KEVEntryPublished{ImportID: "kev-1", Entry: ti.KEVEntry{CVEID: "CVE-2024-0001", VendorProject: "v", Product: "p",
		VulnerabilityName: "n", DateAdded: pt.T0, DueDate: d(14)}, PublishedAt: d(1)}
	cases := []struct {
		name  string
		given []pt.EventData
		then  []point
	}{
		{"listed in KEV, not yet due: 0", slices.Concat(scan("v1", d(0), o), []pt.EventData{kev}), []point{{d(1), 0}}},
		{"seen again after its due date: 1", slices.Concat(scan("v1", d(0), o), []pt.EventData{kev}, scan("v2", d(20), o)),
			[]point{{d(1), 0}, {d(20), 1}}},
		{"fixed (a later scan no longer sees it): 0", slices.Concat(scan("v1", d(0), o), []pt.EventData{kev}, scan("v2", d(20), o), scan("v3", d(30))),
			[]point{{d(1), 0}, {d(20), 1}, {d(30), 0}}},
		{"not in KEV: no point", scan("v1", d(0), o), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			all := seq("team-a", 1, c.given...)
			tx := pt.Apply(t, riskproj.NewKRIs(), append(all, all...)...)
			assert.Equal(t, c.then, points(tx, "team-a", series))
		})
	}
}

func TestKRIs_Collections(t *testing.T) {
	for _, spec := range riskproj.NewKRIs().Collections() {
		require.NoError(t, spec.Validate())
	}
}
