package platform_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/platform"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// mapped gives an import's checks a CIS-5.0 mapping (Prowler 5.34's for
// the CloudTrail checks) and a made-up second framework.
func mapped(events []eventData) []eventData {
	m := map[string]map[string][]string{
		"cloudtrail_multi_region_enabled":        {"CIS-5.0": {"3.1"}, "ISO27001-2022": {"A.8.15"}},
		"cloudtrail_log_file_validation_enabled": {"CIS-5.0": {"3.2"}, "ISO27001-2022": {"A.8.15"}},
		"cloudtrail_kms_encryption_enabled":      {"CIS-5.0": {"3.5"}},
		"cloudtrail_s3_dataevents_read_enabled":  {"CIS-5.0": {"3.9"}},
		"cloudtrail_bedrock_logging_enabled":     {"ISO27001-2022": {"A.8.16"}},
	}
	out := slices.Clone(events)
	for i, e := range out {
		if cd, ok := e.(csdomain.ChecksDescribed); ok {
			cd.Checks = slices.Clone(cd.Checks)
			for j := range cd.Checks {
				cd.Checks[j].Compliance = m[cd.Checks[j].CheckID]
			}
			out[i] = cd
		}
	}
	return out
}

// onAccount moves an import to another account (and import id).
func onAccount(account string, events []eventData) []eventData {
	out := slices.Clone(events)
	for i, e := range out {
		switch v := e.(type) {
		case csdomain.ChecksDescribed:
			v.ImportID += "-" + account
			out[i] = v
		case csdomain.ResultsRecorded:
			v.ImportID += "-" + account
			v.Results = slices.Clone(v.Results)
			for j := range v.Results {
				v.Results[j].Account = account
			}
			out[i] = v
		case csdomain.ImportCompleted:
			v.ImportID += "-" + account
			v.Scopes = slices.Clone(v.Scopes)
			for j := range v.Scopes {
				v.Scopes[j].Account = account
			}
			out[i] = v
		}
	}
	return out
}

// complianceStreams: the pair on the pair's account, and on a second
// account scan 2 only (evaluated before scan 1 of the first: "last
// evaluated" is the latest of the current evaluations).
func complianceStreams(team string) [][]projections.Event {
	early := onAccount("999999999999", mapped(pt.PairScan2()))
	for i, e := range early {
		switch v := e.(type) {
		case csdomain.ResultsRecorded:
			v.EvaluatedAt = t0
			out := slices.Clone(v.Results)
			for j := range out {
				out[j].ObservedAt = t0
			}
			v.Results = out
			early[i] = v
		case csdomain.ImportCompleted:
			v.EvaluatedAt = t0
			early[i] = v
		}
	}
	streams, _ := pt.Imports(team, 1, mapped(pt.PairScan1()), mapped(pt.PairScan2()), early)
	return streams
}

// overviewFrameworks is the compliance read model's overview (GET
// /api/v1/compliance's frameworks) of the same events.
func overviewFrameworks(t *testing.T, team string, streams [][]projections.Event) []any {
	t.Helper()
	c := cloudsecurity.NewCompliance()
	tx := apply(t, c, pt.Only(c, slices.Concat(streams...))...)
	ov := tx.Doc(t, cloudsecurity.ComplianceOverviewCollection, csdomain.ComplianceOverviewID(team))
	out := []any{}
	for _, f := range fold.Objs(ov, "frameworks") {
		out = append(out, f)
	}
	return out
}

// dashboardFrameworks is the dashboard's compliance without its
// last_evaluated_at (the overview has none).
func dashboardFrameworks(ps map[string]any) []any {
	out := []any{}
	for _, f := range fold.Objs(ps, "compliance") {
		f = maps.Clone(f)
		delete(f, "last_evaluated_at")
		out = append(out, f)
	}
	return out
}

// The dashboard's compliance per framework gives the compliance
// overview's figures on the same imports.
func TestDashboardCompliance_AgreesWithTheOverview(t *testing.T) {
	t.Parallel()
	p := platform.NewDashboard()
	streams := complianceStreams("team-a")
	ps := postureOf(t, apply(t, p, pt.Only(p, slices.Concat(streams...))...), "team-a")
	want := overviewFrameworks(t, "team-a", streams)
	require.Len(t, want, 2)
	assert.Equal(t, want, dashboardFrameworks(ps))

	// Stated: CIS-5.0 on both accounts' scan 2: 3.1 and 3.2 pass, 3.5 and
	// 3.9 fail, on each: 4 / 8. ISO: A.8.15 and A.8.16 pass on each.
	fws := fold.Objs(ps, "compliance")
	assert.Equal(t, map[string]any{"framework": "CIS-5.0", "accounts": int64(2), "score": 0.5,
		"counts": map[string]any{"requirements": int64(8), "passed": int64(4), "failed": int64(4), "manual": int64(0),
			"not_evaluated": int64(0), "muted_fail": int64(0)},
		"last_evaluated_at": t0.Add(2 * time.Hour)}, fws[0])
	assert.Equal(t, "ISO27001-2022", fws[1]["framework"])
	assert.Equal(t, 1.0, fws[1]["score"])

	// After scan 1 only: the pair's account fails 3.1, its only evaluated
	// CIS requirement; the other three are not evaluated, not passed.
	s1 := streams[:1]
	ps = postureOf(t, apply(t, p, pt.Only(p, slices.Concat(s1...))...), "team-a")
	assert.Equal(t, overviewFrameworks(t, "team-a", s1), dashboardFrameworks(ps))
	assert.Equal(t, 0.0, fold.Objs(ps, "compliance")[0]["score"])
}

func TestDashboardCompliance_OrderIndependentAndRebuild(t *testing.T) {
	t.Parallel()
	p := platform.NewDashboard()
	streams := pt.OnlyStreams(p, complianceStreams("team-a"))
	assertOrderIndependent(t, p, streams)
	tx := apply(t, p, slices.Concat(streams...)...)
	require.Equal(t, tx.Colls, apply(t, p, slices.Concat(streams...)...).Colls, "rebuild")
	// Scan 2 before scan 1 of the same account: scan 1 never becomes current.
	rev := slices.Concat(streams[1], streams[0], streams[2])
	ps := postureOf(t, apply(t, p, rev...), "team-a")
	assert.Equal(t, overviewFrameworks(t, "team-a", streams), dashboardFrameworks(ps))
}

// A muting rule created later changes nothing: the dashboard's compliance
// does not listen to muting rules, and a tool-muted failure still fails.
func TestDashboardCompliance_MutingRuleChangesNothing(t *testing.T) {
	t.Parallel()
	p := platform.NewDashboard()
	for _, typ := range []string{csdomain.MutingRuleCreated{}.EventType(), csdomain.MutingRuleChanged{}.EventType(),
		csdomain.MutingRuleRemoved{}.EventType(), csdomain.MutingRuleExpired{}.EventType()} {
		assert.NotContains(t, p.EventTypes(), typ)
	}
	streams := pt.OnlyStreams(p, complianceStreams("team-a"))
	want := apply(t, p, slices.Concat(streams...)...).Colls
	rule := stream("team-a", positions(100), csdomain.MutingRuleCreated{RuleID: "mr-1", Name: "kms",
		Match: csdomain.MuteMatch{Checks: []string{"cloudtrail_kms_encryption_enabled"}}, Reason: "accepted", CreatedAt: t0.Add(3 * time.Hour)})
	assert.Empty(t, pt.Only(p, rule))
	assert.Equal(t, want, apply(t, p, slices.Concat(streams[0], pt.Only(p, rule), streams[1], streams[2])...).Colls)
}
