package queries_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// smallWorld is the benchmarks' import world, small: two accounts of 2
// regions × 4 checks × 20 resources.
var smallWorld = qt.ImportWorld{Team: benchTeam, Accounts: 2, Regions: 2, Checks: 4}

// SeedChunks (a chunk at a time, through the store) builds the read
// models Seed (everything in memory, committed once) builds.
func TestSeedChunksEqualsSeed(t *testing.T) {
	t.Parallel()
	var all []projections.Event
	for chunk := range smallWorld.Chunks(1) {
		all = append(all, chunk...)
	}
	whole := qt.NewEnv(t, all)
	chunked := qt.OpenEnv(t, t.TempDir())
	t.Cleanup(func() { chunked.Close(t) })
	chunked.SeedChunks(t, smallWorld.Chunks(1))

	compared := 0
	for _, p := range qt.AllProjections() {
		for _, spec := range p.Collections() {
			want := allDocs(t, whole.Stores[p.Database()], spec.Name)
			got := allDocs(t, chunked.Stores[p.Database()], spec.Name)
			require.Equal(t, want, got, "%s/%s", p.Name(), spec.Name)
			compared += len(want)
		}
	}
	assert.Greater(t, compared, 2*smallWorld.FindingsPerAccount(), "the findings and more were compared")
}

func allDocs(t *testing.T, s queries.DocFinder, coll string) []readmodel.Doc {
	t.Helper()
	var out []readmodel.Doc
	cursor := ""
	for {
		page, err := s.Find(context.Background(), coll, readmodel.FindOptions{Limit: readmodel.MaxLimit, Cursor: cursor})
		require.NoError(t, err)
		out = append(out, page.Docs...)
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// The import world answers the queries the benchmarks ask with what its
// shape implies.
func TestImportWorldQueries(t *testing.T) {
	t.Parallel()
	e := envOver(qt.OpenEnv(t, t.TempDir()))
	t.Cleanup(func() { e.Close(t) })
	e.SeedChunks(t, smallWorld.Chunks(1))
	ctx := context.Background()
	scopes := int64(smallWorld.Scopes())

	delta, err := e.scans.ScanDelta(ctx, benchTeam, smallWorld.ImportScanID(1, 2), "", queries.Page{Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, 2*scopes, delta.Counts.New.Sum(), "resources 18 and 19 of every scope")
	assert.Equal(t, scopes, delta.Counts.Fixed.Sum(), "resource 0 of every scope")
	assert.Equal(t, 17*scopes, delta.Counts.Unchanged.Sum())
	assert.Equal(t, int64(0), delta.Counts.Reopened.Sum())
	assert.Equal(t, 10, len(delta.Items))
	assert.NotEmpty(t, delta.NextCursor)
	first, err := e.scans.ScanDelta(ctx, benchTeam, smallWorld.ImportScanID(0, 1), "new", queries.Page{})
	require.NoError(t, err)
	assert.Equal(t, 18*scopes, first.Counts.New.Sum())

	all, err := e.findings.ListFindings(ctx, benchTeam, csquery.FindingFilter{}, queries.Page{Limit: queries.MaxLimit})
	require.NoError(t, err)
	assert.Equal(t, 2*smallWorld.FindingsPerAccount(), len(all.Items))
	assert.Empty(t, all.NextCursor)
	fixed, err := e.findings.ListFindings(ctx, benchTeam, csquery.FindingFilter{Status: "fixed"}, queries.Page{Limit: queries.MaxLimit})
	require.NoError(t, err)
	assert.Equal(t, int(2*scopes), len(fixed.Items), "resource 0 of every scope of both accounts")
	assert.Empty(t, fixed.NextCursor)

	h, err := e.findings.FindingHistory(ctx, benchTeam, smallWorld.ImportFindingID(1, 1, 3, 0))
	require.NoError(t, err)
	assert.Equal(t, []string{"raised", "fixed"}, kinds(h.Transitions))
	assert.Equal(t, "fixed", h.Status)
	assert.Equal(t, smallWorld.ImportScanID(1, 2), h.Transitions[1].ScanID)
	assert.Equal(t, "imp-"+smallWorld.ImportScanID(1, 2), h.Transitions[1].ImportID)
	h, err = e.findings.FindingHistory(ctx, benchTeam, smallWorld.ImportFindingID(0, 0, 1, 5))
	require.NoError(t, err)
	assert.Equal(t, []string{"raised"}, kinds(h.Transitions))
	assert.True(t, h.LastSeen.Equal(qt.ImportScanAt(0, 2)), "last seen by scan 2: %v", h.LastSeen)
	assert.True(t, h.FirstSeen.Equal(qt.ImportScanAt(0, 1)))
}

func kinds(ts []csquery.Transition) []string {
	out := make([]string, len(ts))
	for i, tr := range ts {
		out[i] = tr.Kind
	}
	return slices.Clip(out)
}
