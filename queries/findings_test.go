package queries_test

import (
	"cmp"
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/queries"
)

func findingID(f queries.Finding) string { return f.ID }

// wantFindings lists the ids of the world's findings that match, in list
// order: raised_at descending, then id descending.
func wantFindings(match func(findingSpec) bool) []string {
	var fs []findingSpec
	for _, f := range findingSpecs() {
		if match(f) {
			fs = append(fs, f)
		}
	}
	slices.SortFunc(fs, func(a, b findingSpec) int { return cmp.Or(cmp.Compare(b.raised, a.raised), cmp.Compare(b.id, a.id)) })
	out := make([]string, len(fs))
	for i, f := range fs { // an empty list is [], as ids returns
		out[i] = f.id
	}
	return out
}

// listAll walks every page of a finding list and returns the ids in order.
func listAll(t *testing.T, svc *queries.Service, team string, f queries.FindingFilter, limit int) []string {
	t.Helper()
	seen := []string{}
	page := queries.Page{Limit: limit}
	for range 100 {
		got, err := svc.ListFindings(context.Background(), team, f, page)
		require.NoError(t, err)
		require.LessOrEqual(t, len(got.Items), max(limit, 1))
		seen = append(seen, ids(got.Items, findingID)...)
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
	e := newEnv(t, worldEvents().events)
	in := func(set ...string) func(string) bool {
		return func(s string) bool { return slices.Contains(set, s) }
	}
	tests := []struct {
		name   string
		team   string
		filter queries.FindingFilter
		match  func(findingSpec) bool
	}{
		{"all of a team", "team-a", queries.FindingFilter{}, func(f findingSpec) bool { return f.team == "team-a" }},
		{"one severity", "team-a", queries.FindingFilter{Severity: []string{"high"}},
			func(f findingSpec) bool { return f.team == "team-a" && f.severity == "high" }},
		{"several severities, any case, repeated", "team-a", queries.FindingFilter{Severity: []string{"CRITICAL", "low", "critical"}},
			func(f findingSpec) bool { return f.team == "team-a" && in("critical", "low")(f.severity) }},
		{"by status", "team-a", queries.FindingFilter{Status: "suppressed"},
			func(f findingSpec) bool { return f.team == "team-a" && f.status == "suppressed" }},
		{"by account", "team-a", queries.FindingFilter{AccountID: "acc-2"},
			func(f findingSpec) bool { return f.team == "team-a" && f.account == "acc-2" }},
		{"by scan", "team-a", queries.FindingFilter{ScanID: "s1"},
			func(f findingSpec) bool { return f.team == "team-a" && f.scan == "s1" }},
		{"every filter", "team-a", queries.FindingFilter{Severity: []string{"medium", "high"}, Status: "open", AccountID: "acc-1", ScanID: "s1"},
			func(f findingSpec) bool {
				return f.team == "team-a" && in("medium", "high")(f.severity) && f.status == "open" && f.account == "acc-1" && f.scan == "s1"
			}},
		{"another team's account id matches only its own findings", "team-b", queries.FindingFilter{AccountID: "acc-1"},
			func(f findingSpec) bool { return f.team == "team-b" }},
		{"another team's view of a scan id", "team-b", queries.FindingFilter{ScanID: "s1"},
			func(f findingSpec) bool { return f.team == "team-b" && f.scan == "s1" }},
		{"a team without findings", "team-c", queries.FindingFilter{}, func(findingSpec) bool { return false }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := wantFindings(tc.match)
			got, err := e.svc.ListFindings(context.Background(), tc.team, tc.filter, queries.Page{Limit: queries.MaxLimit})
			require.NoError(t, err)
			assert.Equal(t, want, ids(got.Items, findingID))
			for _, limit := range []int{1, 4, 7} {
				assert.Equal(t, want, listAll(t, e.svc, tc.team, tc.filter, limit), "pages of %d", limit)
			}
		})
	}
}

func TestListFindingsFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, worldEvents().events)
	got, err := e.svc.ListFindings(context.Background(), "team-a", queries.FindingFilter{ScanID: "s2", Status: "resolved"}, queries.Page{Limit: 1})
	require.NoError(t, err)
	require.Len(t, got.Items, 1)
	f := got.Items[0]
	assert.Equal(t, "team-a-s2-f10", f.ID)
	assert.Equal(t, queries.Finding{
		ID: "team-a-s2-f10", ScanID: "s2", AccountID: "acc-2", CheckID: "check-medium", Title: "title of team-a-s2-f10",
		Severity: "medium", ResourceID: "arn:team-a-s2-f10", Region: "eu-west-1", Status: "resolved",
		RaisedAt: f.RaisedAt, ResolvedAt: f.RaisedAt.Add(3600e9), Reason: "fixed", UpdatedPosition: f.UpdatedPosition,
	}, f)
	assert.NotZero(t, f.UpdatedPosition)
	assert.NotEmpty(t, got.NextCursor)
}

func TestListFindingsValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, worldEvents().events)
	ctx := context.Background()
	scans, err := e.svc.ListScans(ctx, "team-a", queries.ScanFilter{}, queries.Page{Limit: 1})
	require.NoError(t, err)
	tests := []struct {
		name   string
		filter queries.FindingFilter
		page   queries.Page
		fields []string
	}{
		{"unknown severity", queries.FindingFilter{Severity: []string{"high", "severe"}}, queries.Page{}, []string{"severity"}},
		{"unknown status", queries.FindingFilter{Status: "closed"}, queries.Page{}, []string{"status"}},
		{"limit", queries.FindingFilter{}, queries.Page{Limit: 100000}, []string{"limit"}},
		{"every problem at once", queries.FindingFilter{Severity: []string{"x", "y"}, Status: "z"}, queries.Page{Limit: -5},
			[]string{"severity", "severity", "status", "limit"}},
		{"malformed cursor", queries.FindingFilter{}, queries.Page{Cursor: "bm90IGEgY3Vyc29y"}, []string{"cursor"}},
		{"a cursor of another list", queries.FindingFilter{}, queries.Page{Cursor: scans.NextCursor}, []string{"cursor"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.svc.ListFindings(ctx, "team-a", tc.filter, tc.page)
			assert.Equal(t, tc.fields, fieldsOf(t, err))
		})
	}
}
