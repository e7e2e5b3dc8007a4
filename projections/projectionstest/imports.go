package projectionstest

import (
	"slices"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
)

// Builders of import events, as the import command appends them, for the
// projections that fold imports (findings, scan deltas).

// PairAccount is the account of the before/after pair below.
const PairAccount = "018134828551"

// Result is one result of a test report.
func Result(check, region, resource string, result csdomain.Result, sev csdomain.Severity) csdomain.CheckResult {
	return csdomain.CheckResult{Provider: "aws", Account: PairAccount, Region: region, Check: check, Resource: resource,
		Result: result, Severity: sev, ObservedAt: T0}
}

// Trail is the synthetic per-region trail ARN Prowler reports a missing
// trail on.
func Trail(region string) string {
	return "arn:aws:cloudtrail:" + region + ":" + PairAccount + ":trail"
}

// RealTrail is the trail the hardening created.
var RealTrail = "arn:aws:cloudtrail:eu-north-1:" + PairAccount + ":trail/security-audit-trail"

// ImportEvents builds the events of one import of scan at T0+hour: the
// checks, the results in chunks of chunk, the completion.
func ImportEvents(scan string, hour int, chunk int, results ...csdomain.CheckResult) []EventData {
	return ImportEventsAt(scan, T0.Add(time.Duration(hour)*time.Hour), chunk, results...)
}

// ImportEventsAt is ImportEvents of a scan evaluated at at.
func ImportEventsAt(scan string, at time.Time, chunk int, results ...csdomain.CheckResult) []EventData {
	at = at.UTC().Truncate(time.Millisecond)
	importID := "imp-" + scan
	var checks []csdomain.CheckInfo
	var scope csdomain.ImportScope
	results = slices.Clone(results)
	for i := range results {
		results[i].ObservedAt = at
		scope.Add(results[i])
		if !slices.ContainsFunc(checks, func(c csdomain.CheckInfo) bool { return c.CheckID == results[i].Check }) {
			checks = append(checks, csdomain.CheckInfo{CheckID: results[i].Check, Title: "Title of " + results[i].Check, Service: "cloudtrail"})
		}
	}
	out := []EventData{csdomain.ChecksDescribed{ImportID: importID, EvaluatedAt: at, Checks: checks}}
	for i := 0; i < len(results); i += chunk {
		out = append(out, csdomain.ResultsRecorded{ImportID: importID, ScanID: scan, EvaluatedAt: at,
			IdentityRule: csdomain.IdentityProwlerV1, Results: results[i:min(i+chunk, len(results))]})
	}
	return append(out, csdomain.ImportCompleted{ImportID: importID, ScanID: scan, EvaluatedAt: at,
		IdentityRule: csdomain.IdentityProwlerV1, ObservedFrom: at, ObservedTo: at, Scopes: scope.Scopes(), CompletedAt: at})
}

// PairScan1 and PairScan2 are shaped like the real before/after pair of a
// Prowler 5.34 CloudTrail hardening: the failures of scan 1 sit on
// synthetic per-region trail ARNs, the passes of scan 2 on the real trail,
// and bedrock's pass is reported from another region than its failure.
func PairScan1() []EventData {
	return ImportEvents("scan-1", 1, 2,
		Result("cloudtrail_bedrock_logging_enabled", "eu-west-1", Trail("eu-west-1"), csdomain.ResultFail, csdomain.SeverityMedium),
		Result("cloudtrail_multi_region_enabled", "eu-west-1", Trail("eu-west-1"), csdomain.ResultFail, csdomain.SeverityHigh),
		Result("cloudtrail_multi_region_enabled", "us-east-1", Trail("us-east-1"), csdomain.ResultFail, csdomain.SeverityHigh),
		Result("cloudtrail_multi_region_enabled", "eu-north-1", Trail("eu-north-1"), csdomain.ResultFail, csdomain.SeverityHigh),
		Result("cloudtrail_multi_region_enabled_logging_management_events", "eu-west-1", Trail("eu-west-1"), csdomain.ResultFail, csdomain.SeverityLow),
		Result("cloudtrail_multi_region_enabled_logging_management_events", "us-east-1", Trail("us-east-1"), csdomain.ResultFail, csdomain.SeverityLow),
	)
}

func PairScan2() []EventData {
	return ImportEvents("scan-2", 2, 3,
		Result("cloudtrail_bedrock_logging_enabled", "eu-north-1", RealTrail, csdomain.ResultPass, csdomain.SeverityMedium),
		Result("cloudtrail_multi_region_enabled", "eu-west-1", RealTrail, csdomain.ResultPass, csdomain.SeverityHigh),
		Result("cloudtrail_multi_region_enabled", "us-east-1", RealTrail, csdomain.ResultPass, csdomain.SeverityHigh),
		Result("cloudtrail_multi_region_enabled", "eu-north-1", RealTrail, csdomain.ResultPass, csdomain.SeverityHigh),
		Result("cloudtrail_multi_region_enabled_logging_management_events", "eu-west-1", RealTrail, csdomain.ResultPass, csdomain.SeverityLow),
		Result("cloudtrail_multi_region_enabled_logging_management_events", "us-east-1", RealTrail, csdomain.ResultPass, csdomain.SeverityLow),
		Result("cloudtrail_kms_encryption_enabled", "eu-north-1", RealTrail, csdomain.ResultFail, csdomain.SeverityMedium),
		Result("cloudtrail_cloudwatch_logging_enabled", "eu-north-1", RealTrail, csdomain.ResultFail, csdomain.SeverityLow),
		Result("cloudtrail_s3_dataevents_read_enabled", "eu-west-1", Trail("eu-west-1"), csdomain.ResultFail, csdomain.SeverityLow),
		Result("cloudtrail_logs_s3_bucket_is_not_publicly_accessible", "eu-north-1", RealTrail, csdomain.ResultPass, csdomain.SeverityCritical),
		Result("cloudtrail_log_file_validation_enabled", "eu-north-1", RealTrail, csdomain.ResultPass, csdomain.SeverityMedium),
	)
}

// InterleavedScans are three scans of one scope (a check in a region of an
// account), an hour apart, each result in a chunk of its own so that their
// imports can interleave at every result:
//
//   - bucket-1 fails in A and B: one run, raised by A, open;
//   - bucket-2 fails in A only (B reports it passing): fixed by B;
//   - bucket-3 fails in B only: raised by B, open;
//   - bucket-4 fails in A and C, not in B (B does not report it): raised
//     by A, fixed by B, reopened by C;
//   - bucket-5 fails in C only, whose other results are elsewhere.
func InterleavedScans() (a, b, c []EventData) {
	const check, region = "s3_bucket_public_access", "eu-west-1"
	bucket := func(n string) string { return "arn:aws:s3:::bucket-" + n }
	r := func(n string, result csdomain.Result) csdomain.CheckResult {
		return Result(check, region, bucket(n), result, csdomain.SeverityHigh)
	}
	fail, pass := csdomain.ResultFail, csdomain.ResultPass
	a = ImportEvents("scan-a", 1, 1, r("1", fail), r("2", fail), r("4", fail))
	b = ImportEvents("scan-b", 2, 1, r("1", fail), r("2", pass), r("3", fail))
	c = ImportEvents("scan-c", 3, 1, r("1", fail), r("3", fail), r("4", fail), r("5", fail))
	return a, b, c
}

// Imports streams imports of team one after the other, positions from
// first on; next is the position after the last.
func Imports(team string, first int64, imps ...[]EventData) (streams [][]projections.Event, next int64) {
	for _, imp := range imps {
		ps := make([]int64, len(imp))
		for i := range ps {
			ps[i] = first + int64(i)
		}
		streams = append(streams, Stream(team, ps, imp...))
		first += int64(len(imp))
	}
	return streams, first
}

// Only keeps the events p listens to (the runtime delivers no others).
func Only(p projections.Projection, events []projections.Event) []projections.Event {
	types := p.EventTypes()
	var out []projections.Event
	for _, e := range events {
		if slices.Contains(types, e.Type) {
			out = append(out, e)
		}
	}
	return out
}

// OnlyStreams is Only for each stream.
func OnlyStreams(p projections.Projection, streams [][]projections.Event) [][]projections.Event {
	out := make([][]projections.Event, len(streams))
	for i, s := range streams {
		out[i] = Only(p, s)
	}
	return out
}
