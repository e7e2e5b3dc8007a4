package orchestration_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/orchestration"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// Scan 2 of the before/after pair fixed six findings and raised three:
// the delta counts them by severity and lists them most severe first,
// a page at a time, filtered by change.
func TestScanDelta(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.ImportPair("team-a").Events)
	ctx := context.Background()

	d, err := e.svc.ScanDelta(ctx, "team-a", "scan-2", "", queries.Page{})
	require.NoError(t, err)
	assert.Equal(t, orchestration.DeltaCounts{
		New:     queries.SeverityCounts{Medium: 1, Low: 2},
		Fixed:   queries.SeverityCounts{High: 3, Medium: 1, Low: 2},
		Failing: queries.SeverityCounts{Medium: 1, Low: 2},
	}, d.Counts)
	require.Len(t, d.Items, 9)
	assert.Equal(t, "high", d.Items[0].Severity, "most severe first")
	assert.Equal(t, "low", d.Items[8].Severity)

	var all []string
	cursor := ""
	for {
		page, err := e.svc.ScanDelta(ctx, "team-a", "scan-2", "fixed", queries.Page{Limit: 4, Cursor: cursor})
		require.NoError(t, err)
		for _, it := range page.Items {
			assert.Equal(t, "fixed", it.Change)
			assert.Equal(t, "aws", it.Provider)
			all = append(all, it.FindingID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	assert.Len(t, all, 6)

	scan, err := e.svc.GetScan(ctx, "team-a", "scan-2")
	require.NoError(t, err)
	require.NotNil(t, scan.Delta, "the scan detail carries its delta counts")
	assert.Equal(t, d.Counts, *scan.Delta)

	first, err := e.svc.ScanDelta(ctx, "team-a", "scan-1", "new", queries.Page{})
	require.NoError(t, err)
	assert.Len(t, first.Items, 6)
	assert.Equal(t, first.Counts.New, first.Counts.Failing)
	assert.Zero(t, first.Counts.Unchanged)
}

func TestScanDelta_Refusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.ImportPair("team-a").Events)
	ctx := context.Background()
	_, err := e.svc.ScanDelta(ctx, "team-b", "scan-2", "", queries.Page{})
	assert.ErrorIs(t, err, queries.ErrNotFound, "another team's scan")
	_, err = e.svc.ScanDelta(ctx, "team-a", "scan-9", "", queries.Page{})
	assert.ErrorIs(t, err, queries.ErrNotFound)
	_, err = e.svc.ScanDelta(ctx, "team-a", "scan-2", "vanished", queries.Page{Limit: -1})
	assert.Equal(t, []string{"change", "limit"}, qt.FieldsOf(t, err))
}
