package cloudsecurity_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/projectionstest"
)

const acct = "018134828551"

// res is a result of the test reports: check, region, resource, result.
func res(check, region, resource string, result csdomain.Result, sev csdomain.Severity) csdomain.CheckResult {
	return csdomain.CheckResult{Provider: "aws", Account: acct, Region: region, Check: check, Resource: resource,
		Result: result, Severity: sev, ObservedAt: t0}
}

func trail(region string) string { return "arn:aws:cloudtrail:" + region + ":" + acct + ":trail" }

var realTrail = "arn:aws:cloudtrail:eu-north-1:" + acct + ":trail/security-audit-trail"

// importEvents builds the events of one import (as the import command
// appends them): the checks, the results in chunks of chunk, completion.
func importEvents(scan string, hour int, chunk int, results ...csdomain.CheckResult) []projectionstest.EventData {
	at := t0.Add(time.Duration(hour) * time.Hour)
	importID := "imp-" + scan
	var checks []csdomain.CheckInfo
	var scope csdomain.ImportScope
	for i := range results {
		results[i].ObservedAt = at
		scope.Add(results[i])
		if !slices.ContainsFunc(checks, func(c csdomain.CheckInfo) bool { return c.CheckID == results[i].Check }) {
			checks = append(checks, csdomain.CheckInfo{CheckID: results[i].Check, Title: "Title of " + results[i].Check, Service: "cloudtrail"})
		}
	}
	out := []projectionstest.EventData{csdomain.ChecksDescribed{ImportID: importID, EvaluatedAt: at, Checks: checks}}
	for i := 0; i < len(results); i += chunk {
		out = append(out, csdomain.ResultsRecorded{ImportID: importID, ScanID: scan, EvaluatedAt: at,
			IdentityRule: csdomain.IdentityProwlerV1, Results: results[i:min(i+chunk, len(results))]})
	}
	return append(out, csdomain.ImportCompleted{ImportID: importID, ScanID: scan, EvaluatedAt: at,
		IdentityRule: csdomain.IdentityProwlerV1, ObservedFrom: at, ObservedTo: at, Scopes: scope.Scopes(), CompletedAt: at})
}

// Shaped like the real before/after pair of a Prowler 5.34 CloudTrail
// hardening (docs/parsers.md): the failures of scan 1 sit on synthetic
// per-region trail ARNs, the passes of scan 2 on the real trail, and
// bedrock's pass is reported from another region than its failure.
func scan1() []projectionstest.EventData {
	return importEvents("scan-1", 1, 2,
		res("cloudtrail_bedrock_logging_enabled", "eu-west-1", trail("eu-west-1"), csdomain.ResultFail, csdomain.SeverityMedium),
		res("cloudtrail_multi_region_enabled", "eu-west-1", trail("eu-west-1"), csdomain.ResultFail, csdomain.SeverityHigh),
		res("cloudtrail_multi_region_enabled", "us-east-1", trail("us-east-1"), csdomain.ResultFail, csdomain.SeverityHigh),
		res("cloudtrail_multi_region_enabled", "eu-north-1", trail("eu-north-1"), csdomain.ResultFail, csdomain.SeverityHigh),
		res("cloudtrail_multi_region_enabled_logging_management_events", "eu-west-1", trail("eu-west-1"), csdomain.ResultFail, csdomain.SeverityLow),
		res("cloudtrail_multi_region_enabled_logging_management_events", "us-east-1", trail("us-east-1"), csdomain.ResultFail, csdomain.SeverityLow),
	)
}

func scan2() []projectionstest.EventData {
	return importEvents("scan-2", 2, 3,
		res("cloudtrail_bedrock_logging_enabled", "eu-north-1", realTrail, csdomain.ResultPass, csdomain.SeverityMedium),
		res("cloudtrail_multi_region_enabled", "eu-west-1", realTrail, csdomain.ResultPass, csdomain.SeverityHigh),
		res("cloudtrail_multi_region_enabled", "us-east-1", realTrail, csdomain.ResultPass, csdomain.SeverityHigh),
		res("cloudtrail_multi_region_enabled", "eu-north-1", realTrail, csdomain.ResultPass, csdomain.SeverityHigh),
		res("cloudtrail_multi_region_enabled_logging_management_events", "eu-west-1", realTrail, csdomain.ResultPass, csdomain.SeverityLow),
		res("cloudtrail_multi_region_enabled_logging_management_events", "us-east-1", realTrail, csdomain.ResultPass, csdomain.SeverityLow),
		res("cloudtrail_kms_encryption_enabled", "eu-north-1", realTrail, csdomain.ResultFail, csdomain.SeverityMedium),
		res("cloudtrail_cloudwatch_logging_enabled", "eu-north-1", realTrail, csdomain.ResultFail, csdomain.SeverityLow),
		res("cloudtrail_s3_dataevents_read_enabled", "eu-west-1", trail("eu-west-1"), csdomain.ResultFail, csdomain.SeverityLow),
		res("cloudtrail_logs_s3_bucket_is_not_publicly_accessible", "eu-north-1", realTrail, csdomain.ResultPass, csdomain.SeverityCritical),
		res("cloudtrail_log_file_validation_enabled", "eu-north-1", realTrail, csdomain.ResultPass, csdomain.SeverityMedium),
	)
}

// seq is n positions from first on.
func seq(first int64, events []projectionstest.EventData) []int64 {
	out := make([]int64, len(events))
	for i := range out {
		out[i] = first + int64(i)
	}
	return out
}

// imports streams imports one after the other (positions follow on).
func imports(team string, first int64, imps ...[]projectionstest.EventData) ([][]projections.Event, int64) {
	var out [][]projections.Event
	for _, imp := range imps {
		out = append(out, stream(team, seq(first, imp), imp...))
		first += int64(len(imp))
	}
	return out, first
}

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
	assert.Equal(t, int64(0), d["times_reopened"])
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
