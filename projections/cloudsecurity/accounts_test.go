package cloudsecurity_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/projectionstest"
)

var pairAccountID = csdomain.AccountID("team-a", "aws", acct)

// describe sets the accounts an import's completion lists.
func describe(evs []eventData, accounts ...csdomain.AccountSeen) []eventData {
	evs = slices.Clone(evs)
	c := evs[len(evs)-1].(csdomain.ImportCompleted)
	c.Accounts = accounts
	evs[len(evs)-1] = c
	return evs
}

func accountDoc(t *testing.T, tx *projectionstest.MemTx, id string) readmodel.Doc {
	t.Helper()
	return tx.Doc(t, cloudsecurity.AccountsCollection, id)
}

func trendOf(d readmodel.Doc) []string {
	var out []string
	for _, e := range fold.Objs(d, "trend") {
		out = append(out, fold.Str(e, "scan_id")+"="+string(rune('0'+fold.Num(e, "failing"))))
	}
	return out
}

// An account is first seen in an import: its description is the report's,
// its open findings by severity the lifecycle's, its trend what each scan
// reported failing. Scan 2 fixes scan 1's six findings and raises three.
func TestAccounts_FirstSeenInImport(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewAccounts()
	s1 := describe(scan1(), csdomain.AccountSeen{Provider: "aws", UID: acct, Name: "audit", Organization: "o-1",
		Tags: map[string]string{"env": "prod"}})
	streams, _ := imports("team-a", 1, s1, scan2())
	streams = projectionstest.OnlyStreams(p, streams)

	tx := apply(t, p, streams[0]...)
	d := accountDoc(t, tx, pairAccountID)
	assert.Equal(t, "aws", d["provider"])
	assert.Equal(t, acct, d["uid"])
	assert.Equal(t, "audit", d["name"])
	assert.Equal(t, "o-1", d["organization"])
	assert.Equal(t, map[string]string{"env": "prod"}, fold.TagsFrom(d, "tags"))
	assert.Equal(t, "active", d["status"])
	assert.Equal(t, false, d["registered"])
	assert.Equal(t, t0.Add(time.Hour), d["first_seen"])
	assert.Equal(t, "scan-1", d["last_scan_scan"])
	assert.Equal(t, int64(6), d["open_total"])
	assert.Equal(t, map[string]any{"critical": int64(0), "high": int64(3), "medium": int64(1), "low": int64(2), "informational": int64(0)},
		d["open_by_severity"])
	assert.Equal(t, []string{"scan-1=6"}, trendOf(d))

	tx = apply(t, p, slices.Concat(streams...)...)
	d = accountDoc(t, tx, pairAccountID)
	assert.Equal(t, int64(3), d["open_total"])
	assert.Equal(t, map[string]any{"critical": int64(0), "high": int64(0), "medium": int64(1), "low": int64(2), "informational": int64(0)},
		d["open_by_severity"])
	assert.Equal(t, "scan-2", d["last_scan_scan"])
	assert.Equal(t, t0.Add(2*time.Hour), d["last_seen"])
	assert.Equal(t, t0.Add(time.Hour), d["first_seen"])
	assert.Equal(t, []string{"scan-1=6", "scan-2=3"}, trendOf(d))
	assert.Equal(t, "audit", d["name"], "scan 2 names no account: the name stands")
	assert.Empty(t, fold.Objs(d, "pending_trend"))
	assert.Len(t, tx.Colls[cloudsecurity.AccountsCollection], 1)
}

// Registered by a person, then seen in an import: one account; what the
// person said wins over the report; a retired account stays retired when
// an import still names it, its facts kept.
func TestAccounts_RegisteredThenImported(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewAccounts()
	imps, next := imports("team-a", 10, describe(scan1(), csdomain.AccountSeen{Provider: "aws", UID: acct, Name: "from-report",
		Tags: map[string]string{"env": "dev"}}))
	account := stream("team-a", positions(1, 2, 3),
		csdomain.CloudAccountRegistered{AccountID: pairAccountID, Provider: "aws", UID: acct, Name: "Audit", RegisteredAt: t0},
		csdomain.CloudAccountTagged{AccountID: pairAccountID, Tags: map[string]string{"owner": "sec"}, TaggedAt: t0},
		csdomain.CloudAccountRetired{AccountID: pairAccountID, Reason: "closed", RetiredAt: t0})
	later, _ := imports("team-a", next, scan2())
	all := slices.Concat(account, projectionstest.Only(p, imps[0]), projectionstest.Only(p, later[0]))
	tx := apply(t, p, all...)
	require.Len(t, tx.Colls[cloudsecurity.AccountsCollection], 1)
	d := accountDoc(t, tx, pairAccountID)
	assert.Equal(t, "Audit", d["name"])
	assert.Equal(t, map[string]string{"owner": "sec"}, fold.TagsFrom(d, "tags"))
	assert.Equal(t, "retired", d["status"])
	assert.Equal(t, true, d["registered"])
	assert.Equal(t, "scan-2", d["last_scan_scan"])
	assert.Equal(t, int64(3), d["open_total"])
}

// The same account (provider and uid) reported by two tools, or in two
// formats, is one account.
func TestAccounts_SameAccountFromTwoTools(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewAccounts()
	a := describe(scan1(), csdomain.AccountSeen{Provider: "aws", UID: acct, Name: "audit"})
	other := projectionstest.ImportEvents("scan-other-tool", 3, 5,
		res("iam_root_mfa_enabled", "us-east-1", "arn:aws:iam::"+acct+":root", csdomain.ResultFail, csdomain.SeverityCritical))
	streams, _ := imports("team-a", 1, a, other)
	tx := apply(t, p, projectionstest.Only(p, slices.Concat(streams...))...)
	require.Len(t, tx.Colls[cloudsecurity.AccountsCollection], 1)
	d := accountDoc(t, tx, pairAccountID)
	assert.Equal(t, int64(7), d["open_total"])
	assert.Equal(t, []string{"scan-1=6", "scan-other-tool=1"}, trendOf(d))
}

// Accounts are per team.
func TestAccounts_PerTeam(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewAccounts()
	a, next := imports("team-a", 1, scan1())
	b, _ := imports("team-b", next, scan1())
	tx := apply(t, p, projectionstest.Only(p, slices.Concat(a[0], b[0]))...)
	teams := map[string]string{}
	for id, d := range tx.Colls[cloudsecurity.AccountsCollection] {
		teams[fold.Str(d, "team_id")] = id
	}
	assert.Equal(t, map[string]string{"team-a": pairAccountID, "team-b": csdomain.AccountID("team-b", "aws", acct)}, teams)
}

// Findings raised through the API count on their scan's account until
// resolved; a person resolving an imported finding closes it too.
func TestAccounts_APIFindingsAndResolution(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewAccounts()
	imps, next := imports("team-a", 1, scan1())
	fid := csdomain.Identity{Rule: csdomain.IdentityProwlerV1, Scope: csdomain.Scope{Provider: "aws", Account: acct,
		Region: "eu-west-1", Check: "cloudtrail_multi_region_enabled"}, Resource: trail("eu-west-1")}.FindingID("team-a")
	scan := stream("team-a", positions(next), orchdomain.ScanRequested{ScanID: "api-scan", AccountID: acct, Provider: "aws",
		Tool: "custom", RequestedAt: t0})
	raised := stream("team-a", positions(next+1, next+2),
		csdomain.FindingRaised{FindingID: "f-1", ScanID: "api-scan", AccountID: acct, CheckID: "c", Title: "t",
			Severity: csdomain.SeverityCritical, ResourceID: "r", RaisedAt: t0},
		csdomain.FindingResolved{FindingID: "f-1", ResolvedAt: t0.Add(3 * time.Hour)})
	triage := stream("team-a", positions(next+3), csdomain.FindingResolved{FindingID: fid, Reason: "fixed by hand", ResolvedAt: t0.Add(2 * time.Hour)})
	base := projectionstest.Only(p, imps[0])

	tx := apply(t, p, slices.Concat(base, scan, raised[:1])...)
	d := accountDoc(t, tx, pairAccountID)
	assert.Equal(t, int64(7), d["open_total"])
	assert.Equal(t, int64(1), fold.Num(fold.Obj(d, "open_by_severity"), "critical"))

	tx = apply(t, p, slices.Concat(base, scan, raised, triage)...)
	d = accountDoc(t, tx, pairAccountID)
	assert.Equal(t, int64(5), d["open_total"], "the API finding resolved, one imported finding resolved by hand")
	assert.Equal(t, int64(2), fold.Num(fold.Obj(d, "open_by_severity"), "high"))
}

// The accounts of imports, account commands and interleaved scans are the
// same in any order (each stream's kept), and a rebuild (the events again,
// from nothing) gives the same documents.
func TestAccounts_OrderIndependent(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewAccounts()
	a, b, c := projectionstest.InterleavedScans()
	s1 := describe(scan1(), csdomain.AccountSeen{Provider: "aws", UID: acct, Name: "audit", Tags: map[string]string{"env": "prod"}})
	s2 := describe(scan2(), csdomain.AccountSeen{Provider: "aws", UID: acct, Name: "audit-2"})
	streams, next := imports("team-a", 1, s1, s2, a, b, c)
	streams = projectionstest.OnlyStreams(p, streams)
	streams = append(streams, stream("team-a", positions(next, next+1),
		csdomain.CloudAccountRenamed{AccountID: pairAccountID, Name: "Audit", RenamedAt: t0},
		csdomain.CloudAccountTagged{AccountID: pairAccountID, Tags: map[string]string{"owner": "sec"}, TaggedAt: t0}))
	assertOrderIndependent(t, p, streams)

	tx := apply(t, p, slices.Concat(streams...)...)
	d := accountDoc(t, tx, pairAccountID)
	assert.Equal(t, "Audit", d["name"])
	assert.Len(t, trendOf(d), 5)
	assert.Equal(t, tx.Colls, apply(t, p, slices.Concat(streams...)...).Colls, "rebuild")
}
