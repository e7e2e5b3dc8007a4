package orchestration_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"

	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/orchestration"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// deltaOf reads a scan's delta: counts by category and severity, and its
// entries as change -> check@region.
func deltaOf(tx *pt.MemTx, team, scan string) (map[string]map[string]int64, map[string][]string) {
	counts := map[string]map[string]int64{}
	d := tx.Colls[orchestration.ScanDeltaCountsCollection][orchestration.Key(team, scan)]
	for cat, v := range fold.Obj(d, "counts") {
		m, _ := v.(map[string]any)
		counts[cat] = map[string]int64{}
		for sev := range m {
			counts[cat][sev] = fold.Num(m, sev)
		}
	}
	entries := map[string][]string{}
	for _, e := range tx.Colls[orchestration.ScanDeltasCollection] {
		if fold.Str(e, "scan_id") == scan && fold.Str(e, "team_id") == team {
			entries[fold.Str(e, "change")] = append(entries[fold.Str(e, "change")], fold.Str(e, "check_id")+"@"+fold.Str(e, "region"))
		}
	}
	for _, l := range entries {
		slices.Sort(l)
	}
	return counts, entries
}

// The before/after pair imported in order: scan 1 raises six findings;
// scan 2 fixes all six by scope (no uid matches), raises three, and its
// passes (the critical one included) change nothing.
func TestScanDeltas_BeforeAfterPair(t *testing.T) {
	t.Parallel()
	streams, _ := pt.Imports("team-a", 1, pt.PairScan1(), pt.PairScan2())
	p := orchestration.NewScanSummaries()
	tx := pt.Apply(t, p, pt.Only(p, slices.Concat(streams...))...)

	counts, entries := deltaOf(tx, "team-a", "scan-1")
	assert.Equal(t, map[string]int64{"high": 3, "medium": 1, "low": 2}, counts["new"])
	assert.Equal(t, counts["new"], counts["failing"], "everything scan 1 saw failing was new")
	assert.Len(t, entries["new"], 6)
	assert.Empty(t, entries["fixed"])

	counts, entries = deltaOf(tx, "team-a", "scan-2")
	assert.Equal(t, map[string]map[string]int64{
		"new":     {"medium": 1, "low": 2},
		"fixed":   {"high": 3, "medium": 1, "low": 2},
		"failing": {"medium": 1, "low": 2},
	}, counts)
	assert.Equal(t, []string{
		"cloudtrail_cloudwatch_logging_enabled@eu-north-1",
		"cloudtrail_kms_encryption_enabled@eu-north-1",
		"cloudtrail_s3_dataevents_read_enabled@eu-west-1",
	}, entries["new"])
	assert.Equal(t, []string{
		"cloudtrail_bedrock_logging_enabled@eu-west-1",
		"cloudtrail_multi_region_enabled@eu-north-1",
		"cloudtrail_multi_region_enabled@eu-west-1",
		"cloudtrail_multi_region_enabled@us-east-1",
		"cloudtrail_multi_region_enabled_logging_management_events@eu-west-1",
		"cloudtrail_multi_region_enabled_logging_management_events@us-east-1",
	}, entries["fixed"])
	assert.Empty(t, entries["reopened"])
}

// Imported in reverse order (scan 2 first), the deltas are the same: scan
// 1 slots in before scan 2, whose evaluation fixes what scan 1 raised.
func TestScanDeltas_OrderIndependent(t *testing.T) {
	t.Parallel()
	streams, _ := pt.Imports("team-a", 1, pt.PairScan1(), pt.PairScan2())
	p := orchestration.NewScanSummaries()
	pt.AssertOrderIndependent(t, p, pt.OnlyStreams(p, streams))
}

// Interleaved scans of one scope give the deltas the scans imported one
// after the other give (the fold's pending scans; decision 36).
func TestScanDeltas_InterleavedScansOfOneScope(t *testing.T) {
	t.Parallel()
	a, b, c := pt.InterleavedScans()
	streams, _ := pt.Imports("team-a", 1, a, b, c)
	p := orchestration.NewScanSummaries()
	pt.AssertOrderIndependent(t, p, pt.OnlyStreams(p, streams))
}

// A third scan that fails the multi-region check again reopens it; an
// unchanged rescan has only failing (unchanged) results.
func TestScanDeltas_ReopenedAndUnchanged(t *testing.T) {
	t.Parallel()
	s3 := pt.ImportEvents("scan-3", 3, 5,
		pt.Result("cloudtrail_multi_region_enabled", "eu-west-1", pt.Trail("eu-west-1"), "fail", "high"),
		pt.Result("cloudtrail_kms_encryption_enabled", "eu-north-1", pt.RealTrail, "fail", "medium"))
	s4 := pt.ImportEvents("scan-4", 4, 5,
		pt.Result("cloudtrail_multi_region_enabled", "eu-west-1", pt.Trail("eu-west-1"), "fail", "high"),
		pt.Result("cloudtrail_kms_encryption_enabled", "eu-north-1", pt.RealTrail, "fail", "medium"))
	streams, _ := pt.Imports("team-a", 1, pt.PairScan1(), pt.PairScan2(), s3, s4)
	p := orchestration.NewScanSummaries()
	tx := pt.Apply(t, p, pt.Only(p, slices.Concat(streams...))...)
	counts, entries := deltaOf(tx, "team-a", "scan-3")
	assert.Equal(t, []string{"cloudtrail_multi_region_enabled@eu-west-1"}, entries["reopened"])
	assert.Equal(t, map[string]int64{"high": 1, "medium": 1}, counts["failing"])
	assert.Equal(t, map[string]int64{"high": 1}, counts["reopened"])
	counts, entries = deltaOf(tx, "team-a", "scan-4")
	assert.Empty(t, entries)
	assert.Equal(t, map[string]map[string]int64{"failing": {"high": 1, "medium": 1}}, counts, "both unchanged")
}

// A rule counts as muted, in a scan's delta, the failing results it
// matched at the scan's time; a rule created after a scan leaves that
// scan's counts as they were.
func TestScanDeltas_MutedAtScanTime(t *testing.T) {
	t.Parallel()
	streams, next := pt.Imports("team-a", 1, pt.PairScan1(), pt.PairScan2())
	rule := pt.Stream("team-a", []int64{next}, csdomain.MutingRuleCreated{RuleID: "r1", Name: "n", Reason: "r", Owner: "o",
		Match:     csdomain.MuteMatch{Checks: []string{"cloudtrail_kms_encryption_enabled", "cloudtrail_multi_region_enabled"}},
		CreatedAt: pt.T0.Add(90 * time.Minute)}) // between scan 1 (+1h) and scan 2 (+2h)
	p := orchestration.NewScanSummaries()
	for name, order := range map[string][][]projections.Event{
		"rule first":   {rule, streams[0], streams[1]},
		"rule between": {streams[0], rule, streams[1]},
	} {
		tx := pt.Apply(t, p, pt.Only(p, slices.Concat(order...))...)
		counts, _ := deltaOf(tx, "team-a", "scan-1")
		assert.Empty(t, counts["muted"], "%s: the rule came after scan 1", name)
		counts, _ = deltaOf(tx, "team-a", "scan-2")
		assert.Equal(t, map[string]int64{"medium": 1}, counts["muted"], "%s: kms failed in scan 2, under the rule", name)
	}
}
