package queriestest

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// TestRebuiltLayout: after rebuild --all, every collection a projection
// declares SmallDocs is a WITHOUT ROWID table and every other one a rowid
// table (the rebuild's shadows are declared like the live collections),
// and the compaction left no free pages (decision 108).
func TestRebuiltLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	events, codec := worldStore(t, dir)

	env := OpenEnv(t, filepath.Join(dir, "rm"))
	t.Cleanup(func() { env.Close(t) })
	stores := map[dbregistry.Constant]readmodel.Store{}
	for c, s := range env.Stores {
		stores[c] = s
	}
	rt := projections.NewRuntime(projections.RuntimeConfig{}, projections.RuntimeDeps{Events: events, Codec: codec, Stores: stores, Logger: slog.New(slog.DiscardHandler)})
	for _, p := range AllProjections() {
		rt.Register(p)
	}
	require.NoError(t, rt.RebuildAll(ctx, nil))

	reg := dbregistry.MustNew("")
	small := 0
	for _, p := range AllProjections() {
		raw, err := sql.Open("sqlite", filepath.Join(dir, "rm", reg.Name(p.Database())+".sqlite"))
		require.NoError(t, err)
		for _, spec := range p.Collections() {
			var ddl string
			require.NoError(t, raw.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`, spec.Name).Scan(&ddl), spec.Name)
			require.Equal(t, spec.SmallDocs, strings.Contains(ddl, "WITHOUT ROWID"), "%s: %s", spec.Name, ddl)
			if spec.SmallDocs {
				small++
			}
		}
		require.NoError(t, raw.Close())
	}
	require.Equal(t, 5, small, "dashboard_findings, scan_finding_index, account_findings, webhook_findings, scan_deltas")
	for c, s := range env.Stores {
		free, err := s.FreeBytes(ctx)
		require.NoError(t, err)
		require.Zero(t, free, reg.Name(c))
	}
}
