package cloudsecurity_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/cloudsecurity"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// The muting world: team A imported the first scan of the before/after
// pair (six failing findings), made three rules (one still active, one
// removed, one expired), suppressed one finding and resolved another;
// team B has a rule of its own and raised nothing.
var (
	multiRegion = csdomain.MuteMatch{Checks: []string{"cloudtrail_multi_region_enabled"}}
	ruleActive  = csdomain.MutingRuleCreated{RuleID: "r-active", Name: "multi-region trails", Reason: "org trail planned",
		Owner: "alice@example.com", Match: multiRegion, ExpiresAt: pt.T0.Add(30 * 24 * time.Hour), CreatedAt: pt.T0.Add(3 * time.Hour)}
	ruleRemoved = csdomain.MutingRuleCreated{RuleID: "r-removed", Name: "bedrock", Reason: "r", Owner: "o",
		Match: csdomain.MuteMatch{Checks: []string{"cloudtrail_bedrock_logging_enabled"}}, CreatedAt: pt.T0.Add(4 * time.Hour)}
	ruleExpired = csdomain.MutingRuleCreated{RuleID: "r-expired", Name: "us-east-1", Reason: "r", Owner: "o",
		Match: csdomain.MuteMatch{Regions: []string{"us-east-1"}}, ExpiresAt: pt.T0.Add(6 * time.Hour), CreatedAt: pt.T0.Add(5 * time.Hour)}
	ruleB = csdomain.MutingRuleCreated{RuleID: "r-b", Name: "team b", Reason: "r", Owner: "o",
		Match: csdomain.MuteMatch{Accounts: []string{pt.PairAccount}}, ExpiresAt: pt.T0.Add(time.Hour), CreatedAt: pt.T0.Add(30 * time.Minute)}
)

// pairFinding is the id of team's finding of the pair's scan 1 on check
// in region.
func pairFinding(team, check, region string) string {
	return pt.Result(check, region, pt.Trail(region), csdomain.ResultFail, csdomain.SeverityHigh).Identity(csdomain.IdentityProwlerV1).FindingID(team)
}

func mutingWorld(t *testing.T) *env {
	t.Helper()
	streams, next := pt.Imports("team-a", 1, pt.PairScan1())
	var events []projections.Event
	for _, s := range streams {
		events = append(events, s...)
	}
	add := func(team string, data ...pt.EventData) {
		ps := make([]int64, len(data))
		for i := range ps {
			ps[i] = next
			next++
		}
		events = append(events, pt.Stream(team, ps, data...)...)
	}
	add("team-a", ruleActive)
	add("team-a", ruleRemoved, csdomain.MutingRuleRemoved{RuleID: "r-removed", Reason: "bedrock logging on", RemovedAt: pt.T0.Add(5 * time.Hour)})
	add("team-a", ruleExpired, csdomain.MutingRuleExpired{RuleID: "r-expired", ExpiredAt: pt.T0.Add(6 * time.Hour)})
	add("team-b", ruleB)
	mgmt := pairFinding("team-a", "cloudtrail_multi_region_enabled_logging_management_events", "eu-west-1")
	add("team-a", csdomain.FindingSuppressed{FindingID: mgmt, Reason: "accepted", SuppressedAt: pt.T0.Add(7 * time.Hour)})
	bedrock := pairFinding("team-a", "cloudtrail_bedrock_logging_enabled", "eu-west-1")
	add("team-a", csdomain.FindingResolved{FindingID: bedrock, Reason: "fixed by hand", ResolvedAt: pt.T0.Add(7 * time.Hour)})
	return newEnv(t, events)
}

func ruleIDs(l []cloudsecurity.MutingRule) []string {
	return qt.IDs(l, func(r cloudsecurity.MutingRule) string { return r.ID })
}

func TestListMutingRules(t *testing.T) {
	t.Parallel()
	e := mutingWorld(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		team   string
		filter cloudsecurity.MutingRuleFilter
		want   []string
	}{
		{"a team's rules, most recently created first", "team-a", cloudsecurity.MutingRuleFilter{}, []string{"r-expired", "r-removed", "r-active"}},
		{"active", "team-a", cloudsecurity.MutingRuleFilter{Status: "active"}, []string{"r-active"}},
		{"removed, any case", "team-a", cloudsecurity.MutingRuleFilter{Status: " Removed"}, []string{"r-removed"}},
		{"expired", "team-a", cloudsecurity.MutingRuleFilter{Status: "expired"}, []string{"r-expired"}},
		{"another team sees only its own", "team-b", cloudsecurity.MutingRuleFilter{}, []string{"r-b"}},
		{"a team without rules", "team-c", cloudsecurity.MutingRuleFilter{}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.svc.ListMutingRules(ctx, tc.team, tc.filter, queries.Page{})
			require.NoError(t, err)
			assert.Equal(t, tc.want, ruleIDs(got.Items))
			assert.Empty(t, got.NextCursor)
			// Page by page, one at a time.
			var walked []string
			page := queries.Page{Limit: 1}
			for range 10 {
				got, err := e.svc.ListMutingRules(ctx, tc.team, tc.filter, page)
				require.NoError(t, err)
				walked = append(walked, ruleIDs(got.Items)...)
				if page.Cursor = got.NextCursor; page.Cursor == "" {
					break
				}
			}
			assert.Equal(t, tc.want, append([]string{}, walked...))
		})
	}

	t.Run("invalid filters name their parameter", func(t *testing.T) {
		_, err := e.svc.ListMutingRules(ctx, "team-a", cloudsecurity.MutingRuleFilter{Status: "paused"}, queries.Page{Limit: -1})
		requireFields(t, err, "status", "limit")
		_, err = e.svc.ListMutingRules(ctx, "team-a", cloudsecurity.MutingRuleFilter{}, queries.Page{Cursor: "bm90IGEgY3Vyc29y"})
		requireFields(t, err, "cursor")
		_, err = e.svc.ListMutingRules(ctx, "", cloudsecurity.MutingRuleFilter{}, queries.Page{})
		require.ErrorIs(t, err, queries.ErrNoTeam)
	})
}

func TestGetMutingRule(t *testing.T) {
	t.Parallel()
	e := mutingWorld(t)
	ctx := context.Background()
	got, err := e.svc.GetMutingRule(ctx, "team-a", "r-active")
	require.NoError(t, err)
	assert.Equal(t, cloudsecurity.MutingRule{ID: "r-active", Name: "multi-region trails", Reason: "org trail planned",
		Owner: "alice@example.com", Match: cloudsecurity.RuleMatch{Checks: []string{"cloudtrail_multi_region_enabled"}},
		ExpiresAt: ruleActive.ExpiresAt, Status: "active", CreatedAt: ruleActive.CreatedAt, Since: ruleActive.CreatedAt}, got)
	removed, err := e.svc.GetMutingRule(ctx, "team-a", "r-removed")
	require.NoError(t, err)
	assert.Equal(t, "removed", removed.Status)
	assert.Equal(t, pt.T0.Add(5*time.Hour), removed.EndedAt)
	assert.Equal(t, "bedrock logging on", removed.EndReason)

	for _, tc := range []struct{ team, id string }{{"team-b", "r-active"}, {"team-a", "r-b"}, {"team-a", "nope"}, {"team-a", ""}} {
		_, err := e.svc.GetMutingRule(ctx, tc.team, tc.id)
		require.ErrorIs(t, err, queries.ErrNotFound, "%s reading %q", tc.team, tc.id)
	}
}

func TestDueMutingRules(t *testing.T) {
	t.Parallel()
	e := mutingWorld(t)
	ctx := context.Background()
	due := func(now time.Time, limit int) []cloudsecurity.DueMutingRule {
		var out []cloudsecurity.DueMutingRule
		page := queries.Page{Limit: limit}
		for range 10 {
			got, err := e.svc.DueMutingRules(ctx, now, page)
			require.NoError(t, err)
			out = append(out, got.Items...)
			if page.Cursor = got.NextCursor; page.Cursor == "" {
				return out
			}
		}
		t.Fatal("the walk did not end")
		return nil
	}
	assert.Empty(t, due(pt.T0, 0), "nothing due yet")
	assert.Equal(t, []cloudsecurity.DueMutingRule{{ID: "r-b", TeamID: "team-b", ExpiresAt: ruleB.ExpiresAt}}, due(pt.T0.Add(time.Hour), 0),
		"due at its expiry; ended rules never are")
	all := []cloudsecurity.DueMutingRule{
		{ID: "r-b", TeamID: "team-b", ExpiresAt: ruleB.ExpiresAt},
		{ID: "r-active", TeamID: "team-a", ExpiresAt: ruleActive.ExpiresAt},
	}
	assert.Equal(t, all, due(pt.T0.Add(365*24*time.Hour), 0), "every team's, soonest first")
	assert.Equal(t, all, due(pt.T0.Add(365*24*time.Hour), 1), "page by page")
	_, err := e.svc.DueMutingRules(ctx, time.Time{}, queries.Page{})
	requireFields(t, err, "now")
}

func TestListFindingsMutedAndSuppressed(t *testing.T) {
	t.Parallel()
	e := mutingWorld(t)
	ctx := context.Background()
	yes, no := true, false
	list := func(f cloudsecurity.FindingFilter) []cloudsecurity.Finding {
		got, err := e.svc.ListFindings(ctx, "team-a", f, queries.Page{Limit: queries.MaxLimit})
		require.NoError(t, err)
		return got.Items
	}
	ids := func(fs []cloudsecurity.Finding) []string {
		out := qt.IDs(fs, findingID)
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	multiRegionIDs := sorted(pairFinding("team-a", "cloudtrail_multi_region_enabled", "eu-west-1"),
		pairFinding("team-a", "cloudtrail_multi_region_enabled", "us-east-1"),
		pairFinding("team-a", "cloudtrail_multi_region_enabled", "eu-north-1"))
	mgmt := pairFinding("team-a", "cloudtrail_multi_region_enabled_logging_management_events", "eu-west-1")

	everything := list(cloudsecurity.FindingFilter{})
	require.Len(t, everything, 6)
	muted := list(cloudsecurity.FindingFilter{Muted: &yes})
	assert.Equal(t, multiRegionIDs, ids(muted), "muted by the active rule only (the removed and expired rules unmuted theirs)")
	for _, f := range muted {
		assert.True(t, f.Muted)
		assert.Equal(t, []string{"r-active"}, f.MutedBy)
	}
	unmuted := list(cloudsecurity.FindingFilter{Muted: &no})
	assert.Len(t, unmuted, 3)
	for _, f := range unmuted {
		assert.False(t, f.Muted)
		assert.Empty(t, f.MutedBy)
	}

	suppressed := list(cloudsecurity.FindingFilter{Suppressed: &yes})
	assert.Equal(t, []string{mgmt}, ids(suppressed))
	assert.True(t, suppressed[0].Suppressed)
	assert.Equal(t, "accepted", suppressed[0].Reason)
	assert.Len(t, list(cloudsecurity.FindingFilter{Suppressed: &no}), 5)
	assert.Empty(t, list(cloudsecurity.FindingFilter{Suppressed: &yes, Muted: &yes}))
	assert.Len(t, list(cloudsecurity.FindingFilter{Suppressed: &no, Muted: &yes, Severity: []string{"high"}}), 3)

	// Team B's rule matches team A's account, but rules are per team.
	got, err := e.svc.ListFindings(ctx, "team-b", cloudsecurity.FindingFilter{Muted: &yes}, queries.Page{})
	require.NoError(t, err)
	assert.Empty(t, got.Items)
}

// Legacy findings (raised through the API) are never muted; a suppressed
// one reads as suppressed, and the filters see them so.
func TestListFindingsFlagsOfLegacyFindings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
	ctx := context.Background()
	yes, no := true, false
	count := func(f cloudsecurity.FindingFilter) int {
		got, err := e.svc.ListFindings(ctx, "team-a", f, queries.Page{Limit: queries.MaxLimit})
		require.NoError(t, err)
		for _, item := range got.Items {
			assert.False(t, item.Muted)
			assert.Equal(t, item.Status == "suppressed", item.Suppressed, item.ID)
		}
		return len(got.Items)
	}
	all := count(cloudsecurity.FindingFilter{})
	suppressed := len(wantFindings(func(f qt.FindingSpec) bool { return f.Team == "team-a" && f.Status == "suppressed" }))
	require.Positive(t, suppressed)
	assert.Equal(t, suppressed, count(cloudsecurity.FindingFilter{Suppressed: &yes}))
	assert.Equal(t, all-suppressed, count(cloudsecurity.FindingFilter{Suppressed: &no}))
	assert.Equal(t, all, count(cloudsecurity.FindingFilter{Muted: &no}))
	assert.Zero(t, count(cloudsecurity.FindingFilter{Muted: &yes}))
}

func TestImportedFinding(t *testing.T) {
	t.Parallel()
	e := mutingWorld(t)
	ctx := context.Background()
	multi := pairFinding("team-a", "cloudtrail_multi_region_enabled", "us-east-1")
	got, err := e.svc.ImportedFinding(ctx, "team-a", multi)
	require.NoError(t, err)
	assert.Equal(t, cloudsecurity.ScannedFinding{ID: multi, Status: "open", LastSeen: pt.T0.Add(time.Hour)}, got)
	bedrock := pairFinding("team-a", "cloudtrail_bedrock_logging_enabled", "eu-west-1")
	got, err = e.svc.ImportedFinding(ctx, "team-a", bedrock)
	require.NoError(t, err)
	assert.Equal(t, "resolved", got.Status, "resolved by hand")

	legacy := newEnv(t, qt.WorldEvents().Events)
	_, err = legacy.svc.ImportedFinding(ctx, "team-a", "team-a-s2-f10")
	require.ErrorIs(t, err, queries.ErrNotFound, "a finding raised through the API is no imported finding")
	for _, tc := range []struct{ team, id string }{{"team-b", multi}, {"team-a", pairFinding("team-b", "x", "y")}, {"team-a", ""}} {
		_, err := e.svc.ImportedFinding(ctx, tc.team, tc.id)
		require.ErrorIs(t, err, queries.ErrNotFound)
	}
}

func requireFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	assert.Equal(t, fields, qt.FieldsOf(t, err))
}
