package orchestration_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	"github.com/cspm-es/cspm-es/queries/orchestration"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

func scanID(s orchestration.Scan) string { return s.ID }

func TestListScans(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
	ctx := context.Background()
	tests := []struct {
		name   string
		team   string
		filter orchestration.ScanFilter
		want   []string
	}{
		{"all of a team, latest request first", "team-a", orchestration.ScanFilter{}, []string{"s4", "s3", "s2", "s1"}},
		{"by status", "team-a", orchestration.ScanFilter{Status: "running"}, []string{"s2"}},
		{"status in any case", "team-a", orchestration.ScanFilter{Status: " Completed "}, []string{"s1"}},
		{"by account", "team-a", orchestration.ScanFilter{AccountID: "acc-1"}, []string{"s4", "s3", "s1"}},
		{"by tool", "team-a", orchestration.ScanFilter{Tool: "scout"}, []string{"s4", "s3"}},
		{"every filter", "team-a", orchestration.ScanFilter{Status: "failed", AccountID: "acc-1", Tool: "scout"}, []string{"s3"}},
		{"nothing matches", "team-a", orchestration.ScanFilter{Tool: "nuclei"}, []string{}},
		{"another team sees only its own", "team-b", orchestration.ScanFilter{AccountID: "acc-1"}, []string{"s9"}},
		{"a team without scans", "team-c", orchestration.ScanFilter{}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.svc.ListScans(ctx, tc.team, tc.filter, queries.Page{})
			require.NoError(t, err)
			assert.Equal(t, tc.want, qt.IDs(got.Items, scanID))
			assert.Empty(t, got.NextCursor)
		})
	}
}

func TestListScansFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
	got, err := e.svc.ListScans(context.Background(), "team-a", orchestration.ScanFilter{Status: "completed"}, queries.Page{})
	require.NoError(t, err)
	require.Len(t, got.Items, 1)
	assert.Equal(t, orchestration.Scan{
		ID: "s1", AccountID: "acc-1", Provider: "aws", Tool: "prowler", Status: "completed",
		RequestedAt: qt.T0, StartedAt: qt.At(time.Minute), CompletedAt: qt.At(time.Hour), ResourceCount: 10, UpdatedPosition: 3,
	}, got.Items[0])
}

func TestListScansPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
	var seen []string
	page := queries.Page{Limit: 3}
	for range 10 {
		got, err := e.svc.ListScans(context.Background(), "team-a", orchestration.ScanFilter{}, page)
		require.NoError(t, err)
		seen = append(seen, qt.IDs(got.Items, scanID)...)
		if got.NextCursor == "" {
			break
		}
		page.Cursor = got.NextCursor
	}
	assert.Equal(t, []string{"s4", "s3", "s2", "s1"}, seen)
}

func TestGetScan(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
	ctx := context.Background()

	got, err := e.svc.GetScan(ctx, "team-a", "s1")
	require.NoError(t, err)
	assert.Equal(t, "s1", got.ID)
	assert.Equal(t, "completed", got.Status)
	want := countFindings(func(f qt.FindingSpec) bool { return f.Team == "team-a" && f.Scan == "s1" })
	assert.Equal(t, want, got.Findings)
	assert.Equal(t, int64(28), got.Findings.Total, "team-b's findings naming s1 are not counted in team-a's scan")

	got, err = e.svc.GetScan(ctx, "team-a", "s4")
	require.NoError(t, err)
	assert.Equal(t, orchestration.FindingCounts{}, got.Findings, "a scan without findings has zero counts")

	got, err = e.svc.GetScan(ctx, "team-b", "s9")
	require.NoError(t, err)
	assert.Equal(t, int64(9), got.Findings.Total)
}

func TestGetScanNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
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
	_, err := e.svc.ListScans(ctx, "", orchestration.ScanFilter{}, queries.Page{})
	assert.ErrorIs(t, err, queries.ErrNoTeam)
	_, err = e.svc.GetScan(ctx, "", "s1")
	assert.ErrorIs(t, err, queries.ErrNoTeam)
}

// countFindings counts the world's findings that match.
func countFindings(match func(qt.FindingSpec) bool) orchestration.FindingCounts {
	c := qt.CountFindings(match)
	return orchestration.FindingCounts{Total: c.Total, BySeverity: c.BySeverity, ByStatus: c.ByStatus}
}

func TestListScansValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
	ctx := context.Background()
	long := string(make([]byte, 300))
	findings := csquery.New(csquery.Stores{CloudSecurity: e.Stores[dbregistry.CLOUD_SECURITY]})
	otherList, err := findings.ListFindings(ctx, "team-a", csquery.FindingFilter{}, queries.Page{Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, otherList.NextCursor)
	tests := []struct {
		name   string
		filter orchestration.ScanFilter
		page   queries.Page
		fields []string
	}{
		{"unknown status", orchestration.ScanFilter{Status: "done"}, queries.Page{}, []string{"status"}},
		{"limit too large", orchestration.ScanFilter{}, queries.Page{Limit: queries.MaxLimit + 1}, []string{"limit"}},
		{"negative limit", orchestration.ScanFilter{}, queries.Page{Limit: -1}, []string{"limit"}},
		{"every problem at once", orchestration.ScanFilter{Status: "x", AccountID: long, Tool: long}, queries.Page{Limit: -1}, []string{"status", "account_id", "tool", "limit"}},
		{"malformed cursor", orchestration.ScanFilter{}, queries.Page{Cursor: "!!"}, []string{"cursor"}},
		{"a cursor of another list", orchestration.ScanFilter{}, queries.Page{Cursor: otherList.NextCursor}, []string{"cursor"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.svc.ListScans(ctx, "team-a", tc.filter, tc.page)
			assert.Equal(t, tc.fields, qt.FieldsOf(t, err))
		})
	}
}

// TestResponseJSON pins the snake_case shape of a scan's response body.
func TestResponseJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.WorldEvents().Events)
	ctx := context.Background()
	s, err := e.svc.GetScan(ctx, "team-a", "s3")
	require.NoError(t, err)
	raw, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"id": "s3", "account_id": "acc-1", "provider": "aws", "tool": "scout", "status": "failed",
		"requested_at": "2025-03-01T14:00:00Z", "failed_at": "2025-03-01T14:01:00Z", "failure_reason": "boom",
		"resource_count": 0, "updated_position": `+qt.JSONNumber(s.UpdatedPosition)+`,
		"findings": {"total": 0, "by_severity": {"critical": 0, "high": 0, "medium": 0, "low": 0, "informational": 0},
			"by_status": {"open": 0, "resolved": 0, "suppressed": 0}}
	}`, string(raw))
}
