package securityscans

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

const team = "team-a"

// importOf parses a real report through the registry and builds the
// events the import appends (results in chunks of 17), as stream pos.
func importOf(t *testing.T, file, scan string, pos int64, undatedAt time.Time) []projections.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", file))
	require.NoError(t, err)
	var reg parsers.Registry
	format, err := reg.Detect(b[:min(len(b), 64<<10)])
	require.NoError(t, err)
	var results []csdomain.CheckResult
	var scope csdomain.ImportScope
	var rule csdomain.IdentityRule
	info, err := reg.Parse(context.Background(), bytes.NewReader(b), format, func(o csdomain.Observation) error {
		if o.ObservedAt.IsZero() {
			o.ObservedAt = undatedAt
		}
		rule, _ = csdomain.RuleFor(o.Tool)
		r, err := csdomain.ResultOf(o)
		require.NoError(t, err)
		results = append(results, r)
		scope.Add(r)
		return nil
	})
	require.NoError(t, err)
	at := results[0].ObservedAt
	imp := "imp-" + scan
	data := []pt.EventData{csdomain.ImportStarted{ImportID: imp, ScanID: scan, Format: info.Format, Tool: info.Tool, ToolVersion: info.ToolVersion, StartedAt: at}}
	if len(info.Certificates) > 0 {
		data = append(data, csdomain.CertificatesObserved{ImportID: imp, ScanID: scan, Tool: info.Tool, EvaluatedAt: at, Certificates: info.Certificates})
	}
	for i := 0; i < len(results); i += 17 {
		data = append(data, csdomain.ResultsRecorded{ImportID: imp, ScanID: scan, EvaluatedAt: at, IdentityRule: rule, Results: results[i:min(i+17, len(results))]})
	}
	data = append(data, csdomain.ImportCompleted{ImportID: imp, ScanID: scan, EvaluatedAt: at, IdentityRule: rule,
		Scopes: csdomain.WholeTargets(rule, scope.Scopes()), Problems: info.Problems, ProblemsCount: info.ProblemsCount, CompletedAt: at})
	positions := make([]int64, len(data))
	for i := range positions {
		positions[i] = pos + int64(i)
	}
	return pt.Stream(team, positions, data...)
}

func streams(t *testing.T) [][]projections.Event {
	day := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return [][]projections.Event{
		importOf(t, "zap/testdata/zap_2021-12-01_baseline_itsecgames_report.json", "scn-z1", 1000, day),
		importOf(t, "zap/testdata/zap_2021-12-02_baseline_itsecgames_report.json", "scn-z2", 2000, day),
		importOf(t, "testssl/testdata/ours_testssl_3.2_flat_fatal_and_ok_cves.json", "scn-t1", 3000, day),
		importOf(t, "testssl/testdata/testssl_3.0rc2_jsonpretty_www.google.com.json", "scn-t2", 4000, day),
		importOf(t, "sslyze/testdata/sslyze_5.0.1_one_target_many_vuln_trimmed.json", "scn-s1", 5000, day),
		importOf(t, "nuclei/testdata/nuclei_v3_2026_dvwa_subset.jsonl", "scn-n1", 6000, day),
	}
}

func TestLatestResultsPerTargetAndTool(t *testing.T) {
	var all []projections.Event
	for _, s := range streams(t) {
		all = append(all, s...)
	}
	tx := pt.Apply(t, New(), all...)

	zap := tx.Doc(t, TargetResultsCollection, ResultsDocID(team, "zap", "http://www.itsecgames.com"))
	require.Equal(t, "scn-z2", zap["scan_id"]) // the latest of the pair
	require.Len(t, fold.Objs(zap, "results"), 51)
	require.Equal(t, int64(51), fold.Num(fold.Obj(zap, "counts"), "fail"))
	require.Equal(t, "2.11.0", zap["tool_version"])
	first := fold.Objs(zap, "results")[0]
	require.Equal(t, "medium", first["severity"]) // most severe first
	require.NotEmpty(t, first["finding_id"])

	ok := tx.Doc(t, TargetResultsCollection, ResultsDocID(team, "testssl", "ok.example:443"))
	require.Equal(t, int64(1), fold.Num(fold.Obj(ok, "counts"), "fail"))
	require.Equal(t, int64(4), fold.Num(fold.Obj(ok, "counts"), "pass"))
	require.Len(t, fold.Objs(ok, "problems"), 1) // the WARN engine problem
	require.Len(t, fold.Objs(ok, "certificates"), 1)
	down := tx.Doc(t, TargetResultsCollection, ResultsDocID(team, "testssl", "down.example:443"))
	require.Empty(t, fold.Objs(down, "results"))
	require.Equal(t, "FATAL", fold.Objs(down, "problems")[0]["level"])

	ss := tx.Doc(t, TargetResultsCollection, ResultsDocID(team, "sslyze", "example.com:443"))
	require.Equal(t, int64(3), fold.Num(fold.Obj(ss, "counts"), "fail"))
	require.Equal(t, time.Date(2022, 5, 17, 12, 0, 0, 0, time.UTC), fold.Time(fold.Objs(ss, "certificates")[0], "not_after"))

	target := tx.Doc(t, TargetsCollection, TargetDocID(team, "http://www.itsecgames.com"))
	require.Equal(t, int64(51), fold.Num(target, "failing"))
	require.Len(t, tx.Colls[TargetsCollection], 6) // itsecgames, ok, down, google, example.com, dvwa
}

func TestOrderIndependence(t *testing.T) {
	pt.AssertOrderIndependent(t, New(), streams(t))
}

// A rebuild applies the same events again from zero; a redelivery applies
// some again: both give the same documents.
func TestRebuildAndRedeliveryEquivalence(t *testing.T) {
	var all []projections.Event
	for _, s := range streams(t) {
		all = append(all, s...)
	}
	want := pt.Apply(t, New(), all...).Colls
	tx := pt.Apply(t, New(), all...)
	for _, ev := range all[len(all)/2:] { // the second half delivered again
		require.NoError(t, New().Apply(context.Background(), tx, ev))
	}
	require.Equal(t, want, tx.Colls)
}

func TestProwlerImportsAreNotFolded(t *testing.T) {
	evs := pt.ImportEvents("scn-p", 0, 10, pt.Result("c1", "eu-west-1", "r1", csdomain.ResultFail, csdomain.SeverityHigh))
	tx := pt.Apply(t, New(), pt.Stream(team, pt.Positions(2, 3), evs[1:]...)...) // ChecksDescribed is not listened to
	require.Empty(t, tx.Colls[TargetResultsCollection])
}
