package cloudsecurity_test

import (
	"cmp"
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

func findingID(f cloudsecurity.Finding) string { return f.ID }

// wantFindings lists the ids of the world's findings that match, in list
// order: raised_at descending, then id descending.
func wantFindings(match func(qt.FindingSpec) bool) []string {
	var fs []qt.FindingSpec
	for _, f := range qt.FindingSpecs() {
		if match(f) {
			fs = append(fs, f)
		}
	}
	slices.SortFunc(fs, func(a, b qt.FindingSpec) int { return cmp.Or(cmp.Compare(b.Raised, a.Raised), cmp.Compare(b.ID, a.ID)) })
	out := make([]string, len(fs))
	for i, f := range fs { // an empty list is [], as ids returns
		out[i] = f.ID
	}
	return out
}

// listAll walks every page of a finding list and returns the ids in order.
func listAll(t *testing.T, svc *cloudsecurity.Service, team string, f cloudsecurity.FindingFilter, limit int) []string {
	t.Helper()
	seen := []string{}
	page := queries.Page{Limit: limit}
	for range 100 {
		got, err := svc.ListFindings(context.Background(), team, f, page)
		require.NoError(t, err)
		require.LessOrEqual(t, len(got.Items), max(limit, 1))
		seen = append(seen, qt.IDs(got.Items, findingID)...)
		if got.NextCursor == "" {
			return seen
		}
		page.Cursor = got.NextCursor
	}
	t.Fatal("the walk did not end")
	return nil
}

func TestListFindings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
	in := func(set ...string) func(string) bool {
		return func(s string) bool { return slices.Contains(set, s) }
	}
	tests := []struct {
		name   string
		team   string
		filter cloudsecurity.FindingFilter
		match  func(qt.FindingSpec) bool
	}{
		{"all of a team", "team-a", cloudsecurity.FindingFilter{}, func(f qt.FindingSpec) bool { return f.Team == "team-a" }},
		{"one severity", "team-a", cloudsecurity.FindingFilter{Severity: []string{"high"}},
			func(f qt.FindingSpec) bool { return f.Team == "team-a" && f.Severity == "high" }},
		{"several severities, any case, repeated", "team-a", cloudsecurity.FindingFilter{Severity: []string{"CRITICAL", "low", "critical"}},
			func(f qt.FindingSpec) bool { return f.Team == "team-a" && in("critical", "low")(f.Severity) }},
		{"by status", "team-a", cloudsecurity.FindingFilter{Status: "suppressed"},
			func(f qt.FindingSpec) bool { return f.Team == "team-a" && f.Status == "suppressed" }},
		{"by account", "team-a", cloudsecurity.FindingFilter{AccountID: "acc-2"},
			func(f qt.FindingSpec) bool { return f.Team == "team-a" && f.Account == "acc-2" }},
		{"by scan", "team-a", cloudsecurity.FindingFilter{ScanID: "s1"},
			func(f qt.FindingSpec) bool { return f.Team == "team-a" && f.Scan == "s1" }},
		{"every filter", "team-a", cloudsecurity.FindingFilter{Severity: []string{"medium", "high"}, Status: "open", AccountID: "acc-1", ScanID: "s1"},
			func(f qt.FindingSpec) bool {
				return f.Team == "team-a" && in("medium", "high")(f.Severity) && f.Status == "open" && f.Account == "acc-1" && f.Scan == "s1"
			}},
		{"another team's account id matches only its own findings", "team-b", cloudsecurity.FindingFilter{AccountID: "acc-1"},
			func(f qt.FindingSpec) bool { return f.Team == "team-b" }},
		{"another team's view of a scan id", "team-b", cloudsecurity.FindingFilter{ScanID: "s1"},
			func(f qt.FindingSpec) bool { return f.Team == "team-b" && f.Scan == "s1" }},
		{"a team without findings", "team-c", cloudsecurity.FindingFilter{}, func(qt.FindingSpec) bool { return false }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := wantFindings(tc.match)
			got, err := e.svc.ListFindings(context.Background(), tc.team, tc.filter, queries.Page{Limit: queries.MaxLimit})
			require.NoError(t, err)
			assert.Equal(t, want, qt.IDs(got.Items, findingID))
			for _, limit := range []int{1, 4, 7} {
				assert.Equal(t, want, listAll(t, e.svc, tc.team, tc.filter, limit), "pages of %d", limit)
			}
		})
	}
}

func TestListFindingsFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
	got, err := e.svc.ListFindings(context.Background(), "team-a", cloudsecurity.FindingFilter{ScanID: "s2", Status: "resolved"}, queries.Page{Limit: 1})
	require.NoError(t, err)
	require.Len(t, got.Items, 1)
	f := got.Items[0]
	assert.Equal(t, "team-a-s2-f10", f.ID)
	assert.Equal(t, cloudsecurity.Finding{
		ID: "team-a-s2-f10", ScanID: "s2", AccountID: "acc-2", CheckID: "check-medium", Title: "title of team-a-s2-f10",
		Severity: "medium", ResourceID: "arn:team-a-s2-f10", Region: "eu-west-1", Status: "resolved",
		RaisedAt: f.RaisedAt, ResolvedAt: f.RaisedAt.Add(3600e9), Reason: "fixed", UpdatedPosition: f.UpdatedPosition, Source: "api",
	}, f)
	assert.NotZero(t, f.UpdatedPosition)
	assert.NotEmpty(t, got.NextCursor)
}

func TestListFindingsValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
	ctx := context.Background()
	scanQueries := orchquery.New(orchquery.Stores{Orchestration: e.Stores[dbregistry.ORCHESTRATION]})
	scans, err := scanQueries.ListScans(ctx, "team-a", orchquery.ScanFilter{}, queries.Page{Limit: 1})
	require.NoError(t, err)
	tests := []struct {
		name   string
		filter cloudsecurity.FindingFilter
		page   queries.Page
		fields []string
	}{
		{"unknown severity", cloudsecurity.FindingFilter{Severity: []string{"high", "severe"}}, queries.Page{}, []string{"severity"}},
		{"unknown status", cloudsecurity.FindingFilter{Status: "closed"}, queries.Page{}, []string{"status"}},
		{"limit", cloudsecurity.FindingFilter{}, queries.Page{Limit: 100000}, []string{"limit"}},
		{"every problem at once", cloudsecurity.FindingFilter{Severity: []string{"x", "y"}, Status: "z"}, queries.Page{Limit: -5},
			[]string{"severity", "severity", "status", "limit"}},
		{"malformed cursor", cloudsecurity.FindingFilter{}, queries.Page{Cursor: "bm90IGEgY3Vyc29y"}, []string{"cursor"}},
		{"a cursor of another list", cloudsecurity.FindingFilter{}, queries.Page{Cursor: scans.NextCursor}, []string{"cursor"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.svc.ListFindings(ctx, "team-a", tc.filter, tc.page)
			assert.Equal(t, tc.fields, qt.FieldsOf(t, err))
		})
	}
}

// TestNoTeam: the findings queries need the caller's team.
func TestNoTeam(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, err := e.svc.ListFindings(context.Background(), "", cloudsecurity.FindingFilter{}, queries.Page{})
	assert.ErrorIs(t, err, queries.ErrNoTeam)
}
