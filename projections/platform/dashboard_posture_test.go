package platform_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/platform"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

func postureOf(t *testing.T, tx *pt.MemTx, team string) map[string]any {
	t.Helper()
	return fold.Obj(tx.Doc(t, platform.DashboardCollection, team), "posture")
}

// The pair: scan 1 raises six findings, scan 2 (an hour later, the same
// UTC day) fixes them and raises three.
func TestDashboardPosture_Pair(t *testing.T) {
	t.Parallel()
	p := platform.NewDashboard()
	streams, _ := pt.Imports("team-a", 1, pt.PairScan1(), pt.PairScan2())
	streams = pt.OnlyStreams(p, streams)
	account := csdomain.AccountID("team-a", "aws", pt.PairAccount)

	ps := postureOf(t, apply(t, p, streams[0]...), "team-a")
	assert.Equal(t, int64(6), ps["open_total"])
	assert.Equal(t, sev(0, 3, 1, 2, 0), ps["open_by_severity"])
	assert.Equal(t, []any{map[string]any{"account_id": account, "provider": "aws", "uid": pt.PairAccount,
		"open_total": int64(6), "open_by_severity": sev(0, 3, 1, 2, 0)}}, ps["by_account"])
	assert.Equal(t, []any{
		map[string]any{"check_id": "cloudtrail_bedrock_logging_enabled", "open": int64(1)},
		map[string]any{"check_id": "cloudtrail_multi_region_enabled", "open": int64(3)},
		map[string]any{"check_id": "cloudtrail_multi_region_enabled_logging_management_events", "open": int64(2)},
	}, ps["by_check"])
	assert.Equal(t, map[string]any{"scan_id": "scan-1", "at": t0.Add(time.Hour), "new": int64(6), "reopened": int64(0), "fixed": int64(0)},
		ps["last_scan"])
	assert.Equal(t, []any{map[string]any{"day": "2025-03-01", "new": int64(6), "reopened": int64(0), "fixed": int64(0)}}, ps["days"])

	ps = postureOf(t, apply(t, p, slices.Concat(streams...)...), "team-a")
	assert.Equal(t, int64(3), ps["open_total"])
	assert.Equal(t, sev(0, 0, 1, 2, 0), ps["open_by_severity"])
	assert.Equal(t, map[string]any{"scan_id": "scan-2", "at": t0.Add(2 * time.Hour), "new": int64(3), "reopened": int64(0), "fixed": int64(6)},
		ps["last_scan"])
	assert.Equal(t, []any{map[string]any{"day": "2025-03-01", "new": int64(9), "reopened": int64(0), "fixed": int64(6)}}, ps["days"])
	assert.Len(t, ps["by_check"], 3)
}

// A person resolving an imported finding closes it in the posture; a
// failing result the tool muted is counted apart.
func TestDashboardPosture_ResolvedAndMuted(t *testing.T) {
	t.Parallel()
	p := platform.NewDashboard()
	r := pt.Result("s3_bucket_public_access", "eu-west-1", "arn:aws:s3:::b", csdomain.ResultFail, csdomain.SeverityCritical)
	r.Muted = true
	imp := pt.ImportEvents("scan-m", 1, 5, r,
		pt.Result("iam_root_mfa_enabled", "us-east-1", "arn:aws:iam::1:root", csdomain.ResultFail, csdomain.SeverityHigh))
	streams, next := pt.Imports("team-a", 1, imp)
	fid := pt.Result("iam_root_mfa_enabled", "us-east-1", "arn:aws:iam::1:root", csdomain.ResultFail, csdomain.SeverityHigh).
		Identity(csdomain.IdentityProwlerV1).FindingID("team-a")
	triage := stream("team-a", positions(next), csdomain.FindingResolved{FindingID: fid, Reason: "done", ResolvedAt: t0.Add(2 * time.Hour)})
	ps := postureOf(t, apply(t, p, slices.Concat(pt.Only(p, streams[0]), triage)...), "team-a")
	assert.Equal(t, int64(1), ps["open_total"])
	assert.Equal(t, int64(1), ps["open_muted_by_tool"])
	assert.Equal(t, sev(1, 0, 0, 0, 0), ps["open_by_severity"])
}

// The day buckets keep PostureDays days back from the latest scan's day,
// whatever order the scans arrive in.
func TestDashboardPosture_DayWindow(t *testing.T) {
	t.Parallel()
	p := platform.NewDashboard()
	old := pt.ImportEventsAt("scan-old", t0, 5, pt.Result("c1", "eu-west-1", "r1", csdomain.ResultFail, csdomain.SeverityLow))
	mid := pt.ImportEventsAt("scan-mid", t0.AddDate(0, 0, 10), 5, pt.Result("c2", "eu-west-1", "r2", csdomain.ResultFail, csdomain.SeverityLow))
	late := pt.ImportEventsAt("scan-late", t0.AddDate(0, 0, 50), 5, pt.Result("c3", "eu-west-1", "r3", csdomain.ResultFail, csdomain.SeverityLow))
	streams, _ := pt.Imports("team-a", 1, old, mid, late)
	streams = pt.OnlyStreams(p, streams)
	ps := postureOf(t, apply(t, p, slices.Concat(streams...)...), "team-a")
	var days []string
	for _, d := range fold.Objs(ps, "days") {
		days = append(days, fold.Str(d, "day"))
	}
	assert.Equal(t, []string{"2025-03-11", "2025-04-20"}, days, "the first scan's day left the window")
	assert.Equal(t, int64(3), ps["open_total"], "open findings are not windowed")
	assertOrderIndependent(t, p, streams)
}

// The posture (and the whole dashboard) is the same in any interleaving
// of imports, the interleaved scans of one scope included, and a rebuild
// gives the same documents. (A person's resolution follows the import
// that revealed the finding: the command refuses one the read model does
// not know.)
func TestDashboardPosture_OrderIndependentAndRebuild(t *testing.T) {
	t.Parallel()
	p := platform.NewDashboard()
	a, b, c := pt.InterleavedScans()
	streams, _ := pt.Imports("team-a", 1, pt.PairScan1(), pt.PairScan2(), a, b, c)
	streams = pt.OnlyStreams(p, streams)
	assertOrderIndependent(t, p, streams)

	tx := apply(t, p, slices.Concat(streams...)...)
	require.Equal(t, tx.Colls, apply(t, p, slices.Concat(streams...)...).Colls, "rebuild")
	ps := postureOf(t, tx, "team-a")
	// Open: scan 2's three, and buckets 1, 3, 4 and 5.
	assert.Equal(t, int64(7), ps["open_total"])
	assert.Equal(t, "scan-c", fold.Str(fold.Obj(ps, "last_scan"), "scan_id"))
	assert.Equal(t, map[string]any{"scan_id": "scan-c", "at": t0.Add(3 * time.Hour), "new": int64(1), "reopened": int64(1), "fixed": int64(0)},
		ps["last_scan"])
}
