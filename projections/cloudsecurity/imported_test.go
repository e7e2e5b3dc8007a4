package cloudsecurity_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/projectionstest"
)

const acct = projectionstest.PairAccount

var (
	res          = projectionstest.Result
	trail        = projectionstest.Trail
	importEvents = projectionstest.ImportEvents
	scan1        = projectionstest.PairScan1
	scan2        = projectionstest.PairScan2
	imports      = projectionstest.Imports
)

func findingsByStatus(tx *projectionstest.MemTx) map[string][]string {
	out := map[string][]string{}
	for _, d := range tx.Colls[cloudsecurity.FindingsCollection] {
		out[fold.Str(d, "status")] = append(out[fold.Str(d, "status")], fold.Str(d, "check_id")+"@"+fold.Str(d, "region"))
	}
	for _, l := range out {
		slices.Sort(l)
	}
	return out
}

func TestImportedFindings_BeforeAfterPair(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewFindings()
	streams, _ := imports("team-a", 1, scan1(), scan2())
	s1, s2 := streams[0], streams[1]
	tx := apply(t, p, s1...)
	assert.Equal(t, map[string][]string{"open": {
		"cloudtrail_bedrock_logging_enabled@eu-west-1",
		"cloudtrail_multi_region_enabled@eu-north-1",
		"cloudtrail_multi_region_enabled@eu-west-1",
		"cloudtrail_multi_region_enabled@us-east-1",
		"cloudtrail_multi_region_enabled_logging_management_events@eu-west-1",
		"cloudtrail_multi_region_enabled_logging_management_events@us-east-1",
	}}, findingsByStatus(tx), "scan 1 raises six findings")

	tx = apply(t, p, slices.Concat(s1, s2)...)
	assert.Equal(t, map[string][]string{
		// No uid of scan 1 reappears in scan 2: each is fixed by scope
		// (account, region, check), bedrock's too although its pass is
		// reported from eu-north-1 (scan 2 evaluated eu-west-1).
		"fixed": {
			"cloudtrail_bedrock_logging_enabled@eu-west-1",
			"cloudtrail_multi_region_enabled@eu-north-1",
			"cloudtrail_multi_region_enabled@eu-west-1",
			"cloudtrail_multi_region_enabled@us-east-1",
			"cloudtrail_multi_region_enabled_logging_management_events@eu-west-1",
			"cloudtrail_multi_region_enabled_logging_management_events@us-east-1",
		},
		// Three new failures; the critical pass raises nothing.
		"open": {
			"cloudtrail_cloudwatch_logging_enabled@eu-north-1",
			"cloudtrail_kms_encryption_enabled@eu-north-1",
			"cloudtrail_s3_dataevents_read_enabled@eu-west-1",
		},
	}, findingsByStatus(tx))

	id := csdomain.Identity{Rule: csdomain.IdentityProwlerV1, Scope: csdomain.Scope{Provider: "aws", Account: acct,
		Region: "us-east-1", Check: "cloudtrail_multi_region_enabled"}, Resource: trail("us-east-1")}.FindingID("team-a")
	d := tx.Doc(t, cloudsecurity.FindingsCollection, id)
	assert.Equal(t, "fixed", d["status"])
	assert.Equal(t, "scan-2", d["closed_by_scan"])
	assert.Equal(t, "scan-1", d["scan_id"])
	assert.Equal(t, t0.Add(time.Hour), d["first_seen"])
	assert.Equal(t, t0.Add(time.Hour), d["last_seen"])
	assert.Equal(t, "high", d["severity"])
	assert.Equal(t, "Title of cloudtrail_multi_region_enabled", d["title"])
	assert.Equal(t, cloudsecurity.SourceImport, d["source"])
	h := fold.HistoryFrom(fold.Obj(d, "history"))
	assert.Equal(t, map[string]string{"scan-1": csdomain.ChangeNew, "scan-2": csdomain.ChangeFixed}, h.ScanChanges())
}

// The same two imports give the same documents in any interleaving that
// keeps each import's order: scan 2 imported before scan 1 included.
func TestImportedFindings_OrderIndependent(t *testing.T) {
	t.Parallel()
	streams, _ := imports("team-a", 1, scan1(), scan2())
	assertOrderIndependent(t, cloudsecurity.NewFindings(), streams)
}

// A re-scan that finds the same failures changes no status; last seen
// moves to it. An empty scan evaluates nothing and fixes nothing.
func TestImportedFindings_RescanAndEmptyScan(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewFindings()
	again := importEvents("scan-1b", 5, 4,
		res("cloudtrail_multi_region_enabled", "eu-west-1", trail("eu-west-1"), csdomain.ResultFail, csdomain.SeverityHigh))
	empty := importEvents("scan-empty", 6, 4)
	streams, _ := imports("team-a", 1, scan1(), again, empty)
	tx := apply(t, p, slices.Concat(streams...)...)
	byStatus := findingsByStatus(tx)
	// scan-1b evaluated only multi_region in eu-west-1: the other five stay
	// open, and the empty scan evaluated nothing.
	assert.Len(t, byStatus["open"], 6)
	assert.Empty(t, byStatus["fixed"], "a scan fixes nothing outside what it evaluated")
	id := csdomain.Identity{Rule: csdomain.IdentityProwlerV1, Scope: csdomain.Scope{Provider: "aws", Account: acct,
		Region: "eu-west-1", Check: "cloudtrail_multi_region_enabled"}, Resource: trail("eu-west-1")}.FindingID("team-a")
	d := tx.Doc(t, cloudsecurity.FindingsCollection, id)
	assert.Equal(t, t0.Add(time.Hour), d["first_seen"])
	assert.Equal(t, t0.Add(5*time.Hour), d["last_seen"])
	assert.Zero(t, fold.Num(d, "times_reopened"), "never reopened (a zero count is not stored)")
}

// Findings are per team: the same account in two teams' imports gives two
// findings.
func TestImportedFindings_PerTeam(t *testing.T) {
	t.Parallel()
	a, next := imports("team-a", 1, scan1())
	b, _ := imports("team-b", next, scan1())
	tx := apply(t, cloudsecurity.NewFindings(), slices.Concat(a[0], b[0])...)
	teams := map[string]int{}
	for _, d := range tx.Colls[cloudsecurity.FindingsCollection] {
		teams[fold.Str(d, "team_id")]++
	}
	assert.Equal(t, map[string]int{"team-a": 6, "team-b": 6}, teams)
	for coll, docs := range tx.Colls {
		for id, d := range docs {
			require.NotEmpty(t, d["team_id"], "%s/%s carries its team", coll, id)
		}
	}
}

// A person resolves an imported finding: it is resolved until a scan
// reports it failing again, which reopens it. Suppressing one marks it
// suppressed without changing its lifecycle.
func TestImportedFindings_Triage(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewFindings()
	id := csdomain.Identity{Rule: csdomain.IdentityProwlerV1, Scope: csdomain.Scope{Provider: "aws", Account: acct,
		Region: "eu-west-1", Check: "cloudtrail_multi_region_enabled"}, Resource: trail("eu-west-1")}.FindingID("team-a")
	imps, next := imports("team-a", 1, scan1())
	triage := stream("team-a", []int64{next, next + 1},
		csdomain.FindingResolved{FindingID: id, Reason: "trail created by hand", ResolvedAt: t0.Add(90 * time.Minute)},
		csdomain.FindingSuppressed{FindingID: csdomain.Identity{Rule: csdomain.IdentityProwlerV1, Scope: csdomain.Scope{
			Provider: "aws", Account: acct, Region: "us-east-1", Check: "cloudtrail_multi_region_enabled"}, Resource: trail("us-east-1")}.FindingID("team-a"),
			Reason: "accepted", SuppressedAt: t0.Add(90 * time.Minute)})
	tx := apply(t, p, slices.Concat(imps[0], triage)...)
	d := tx.Doc(t, cloudsecurity.FindingsCollection, id)
	assert.Equal(t, "resolved", d["status"])
	assert.Equal(t, "trail created by hand", d["reason"])
	assert.Nil(t, d["expires_from"], "an imported finding keeps its history: it never expires")

	again := importEvents("scan-3", 3, 5,
		res("cloudtrail_multi_region_enabled", "eu-west-1", trail("eu-west-1"), csdomain.ResultFail, csdomain.SeverityHigh))
	more, _ := imports("team-a", next+2, again)
	tx = apply(t, p, slices.Concat(imps[0], triage, more[0])...)
	d = tx.Doc(t, cloudsecurity.FindingsCollection, id)
	assert.Equal(t, "open", d["status"])
	assert.Equal(t, int64(1), d["times_reopened"])
	h := fold.HistoryFrom(fold.Obj(d, "history"))
	var kinds []string
	for _, tr := range h.Transitions() {
		kinds = append(kinds, tr.Kind)
	}
	assert.Equal(t, []string{"raised", "resolved", "reopened"}, kinds)
	var suppressed int
	for _, d := range tx.Colls[cloudsecurity.FindingsCollection] {
		if fold.Flag(d, "suppressed") {
			suppressed++
			assert.Equal(t, "open", d["status"], "suppressing changes no lifecycle")
		}
	}
	assert.Equal(t, 1, suppressed)
}

// What tools name freely (compliance frameworks such as "CIS-5.0", tag keys
// such as "kubernetes.io/cluster/prod") is stored as values, never as
// field names, which a document store refuses with a dot in them.
func TestImportedFindings_FreeNamesAreValues(t *testing.T) {
	t.Parallel()
	r := res("eks_cluster_logging", "eu-west-1", "arn:aws:eks:eu-west-1:"+acct+":cluster/prod", csdomain.ResultFail, csdomain.SeverityHigh)
	r.Tags = map[string]string{"kubernetes.io/cluster/prod": "owned", "team": "platform"}
	evs := importEvents("scan-1", 1, 5, r)
	described := evs[0].(csdomain.ChecksDescribed)
	described.Checks[0].Compliance = map[string][]string{"CIS-5.0": {"2.1.1"}, "ISO27001-2013": {"A.12.4"}}
	evs[0] = described
	streams, _ := imports("team-a", 1, evs)
	p := cloudsecurity.NewFindings()
	tx := apply(t, p, streams[0]...)
	require.Empty(t, tx.Errs)
	var f map[string]any
	for _, d := range tx.Colls[cloudsecurity.FindingsCollection] {
		f = d
	}
	assert.Equal(t, map[string]string{"kubernetes.io/cluster/prod": "owned", "team": "platform"}, fold.TagsFrom(f, "tags"))
	for _, d := range tx.Colls[cloudsecurity.ChecksCollection] {
		assert.Equal(t, []map[string]any{
			{"framework": "CIS-5.0", "requirements": []any{"2.1.1"}},
			{"framework": "ISO27001-2013", "requirements": []any{"A.12.4"}},
		}, fold.Objs(d, "compliance"))
	}
}
