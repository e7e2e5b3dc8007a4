package queries_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/queries"
)

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func scanID(s queries.Scan) string { return s.ID }

func TestListScans(t *testing.T) {
	t.Parallel()
	e := newEnv(t, worldEvents().events)
	ctx := context.Background()
	tests := []struct {
		name   string
		team   string
		filter queries.ScanFilter
		want   []string
	}{
		{"all of a team, latest request first", "team-a", queries.ScanFilter{}, []string{"s4", "s3", "s2", "s1"}},
		{"by status", "team-a", queries.ScanFilter{Status: "running"}, []string{"s2"}},
		{"status in any case", "team-a", queries.ScanFilter{Status: " Completed "}, []string{"s1"}},
		{"by account", "team-a", queries.ScanFilter{AccountID: "acc-1"}, []string{"s4", "s3", "s1"}},
		{"by tool", "team-a", queries.ScanFilter{Tool: "scout"}, []string{"s4", "s3"}},
		{"every filter", "team-a", queries.ScanFilter{Status: "failed", AccountID: "acc-1", Tool: "scout"}, []string{"s3"}},
		{"nothing matches", "team-a", queries.ScanFilter{Tool: "nuclei"}, []string{}},
		{"another team sees only its own", "team-b", queries.ScanFilter{AccountID: "acc-1"}, []string{"s9"}},
		{"a team without scans", "team-c", queries.ScanFilter{}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.svc.ListScans(ctx, tc.team, tc.filter, queries.Page{})
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(got.Items, scanID))
			assert.Empty(t, got.NextCursor)
		})
	}
}

func TestListScansFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, worldEvents().events)
	got, err := e.svc.ListScans(context.Background(), "team-a", queries.ScanFilter{Status: "completed"}, queries.Page{})
	require.NoError(t, err)
	require.Len(t, got.Items, 1)
	assert.Equal(t, queries.Scan{
		ID: "s1", AccountID: "acc-1", Provider: "aws", Tool: "prowler", Status: "completed",
		RequestedAt: t0, StartedAt: at(time.Minute), CompletedAt: at(time.Hour), ResourceCount: 10, UpdatedPosition: 3,
	}, got.Items[0])
}

func TestListScansPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, worldEvents().events)
	var seen []string
	page := queries.Page{Limit: 3}
	for range 10 {
		got, err := e.svc.ListScans(context.Background(), "team-a", queries.ScanFilter{}, page)
		require.NoError(t, err)
		seen = append(seen, ids(got.Items, scanID)...)
		if got.NextCursor == "" {
			break
		}
		page.Cursor = got.NextCursor
	}
	assert.Equal(t, []string{"s4", "s3", "s2", "s1"}, seen)
}

func TestGetScan(t *testing.T) {
	t.Parallel()
	e := newEnv(t, worldEvents().events)
	ctx := context.Background()

	got, err := e.svc.GetScan(ctx, "team-a", "s1")
	require.NoError(t, err)
	assert.Equal(t, "s1", got.ID)
	assert.Equal(t, "completed", got.Status)
	want := countFindings(func(f findingSpec) bool { return f.team == "team-a" && f.scan == "s1" })
	assert.Equal(t, want, got.Findings)
	assert.Equal(t, int64(28), got.Findings.Total, "team-b's findings naming s1 are not counted in team-a's scan")

	got, err = e.svc.GetScan(ctx, "team-a", "s4")
	require.NoError(t, err)
	assert.Equal(t, queries.FindingCounts{}, got.Findings, "a scan without findings has zero counts")

	got, err = e.svc.GetScan(ctx, "team-b", "s9")
	require.NoError(t, err)
	assert.Equal(t, int64(9), got.Findings.Total)
}

func TestGetScanNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, worldEvents().events)
	for _, tc := range []struct{ name, team, id string }{
		{"unknown scan", "team-a", "nope"},
		{"another team's scan", "team-b", "s1"},
		{"another team's scan, the other way", "team-a", "s9"},
		{"empty id", "team-a", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.GetScan(context.Background(), tc.team, tc.id)
			require.ErrorIs(t, err, queries.ErrNotFound)
			require.ErrorIs(t, err, domain.ErrNotFound)
		})
	}
}

func TestNoTeam(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.svc.ListScans(ctx, "", queries.ScanFilter{}, queries.Page{})
	assert.ErrorIs(t, err, queries.ErrNoTeam)
	_, err = e.svc.GetScan(ctx, "", "s1")
	assert.ErrorIs(t, err, queries.ErrNoTeam)
	_, err = e.svc.ListFindings(ctx, "", queries.FindingFilter{}, queries.Page{})
	assert.ErrorIs(t, err, queries.ErrNoTeam)
	_, err = e.svc.DashboardSummary(ctx, "")
	assert.ErrorIs(t, err, queries.ErrNoTeam)
}

// countFindings counts the world's findings that match.
func countFindings(match func(findingSpec) bool) queries.FindingCounts {
	var c queries.FindingCounts
	for _, f := range findingSpecs() {
		if !match(f) {
			continue
		}
		c.Total++
		addSeverity(&c.BySeverity, f.severity)
		switch f.status {
		case "open":
			c.ByStatus.Open++
		case "resolved":
			c.ByStatus.Resolved++
		case "suppressed":
			c.ByStatus.Suppressed++
		}
	}
	return c
}

func addSeverity(c *queries.SeverityCounts, sev string) { addSeverityN(c, sev, 1) }

// fieldsOf returns the fields a *domain.ValidationError names.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *domain.ValidationError
	require.True(t, errors.As(err, &ve), "want a *domain.ValidationError, got %v", err)
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestListScansValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, worldEvents().events)
	ctx := context.Background()
	long := string(make([]byte, 300))
	otherList, err := e.svc.ListFindings(ctx, "team-a", queries.FindingFilter{}, queries.Page{Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, otherList.NextCursor)
	tests := []struct {
		name   string
		filter queries.ScanFilter
		page   queries.Page
		fields []string
	}{
		{"unknown status", queries.ScanFilter{Status: "done"}, queries.Page{}, []string{"status"}},
		{"limit too large", queries.ScanFilter{}, queries.Page{Limit: queries.MaxLimit + 1}, []string{"limit"}},
		{"negative limit", queries.ScanFilter{}, queries.Page{Limit: -1}, []string{"limit"}},
		{"every problem at once", queries.ScanFilter{Status: "x", AccountID: long, Tool: long}, queries.Page{Limit: -1}, []string{"status", "account_id", "tool", "limit"}},
		{"malformed cursor", queries.ScanFilter{}, queries.Page{Cursor: "!!"}, []string{"cursor"}},
		{"a cursor of another list", queries.ScanFilter{}, queries.Page{Cursor: otherList.NextCursor}, []string{"cursor"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.svc.ListScans(ctx, "team-a", tc.filter, tc.page)
			assert.Equal(t, tc.fields, fieldsOf(t, err))
		})
	}
}
