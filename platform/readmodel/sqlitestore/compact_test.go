package sqlitestore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
)

// fillAndSwap writes 3,000 documents of ~1 KB into a shadow collection
// and swaps it over the live one twice, as two rebuilds do: the first
// live table's pages are left free.
func fillAndSwap(t *testing.T, s *sqlitestore.Store) {
	t.Helper()
	ctx := context.Background()
	pad := strings.Repeat("x", 1000)
	for round := range 2 {
		docs := make([]readmodel.Doc, 3000)
		for i := range docs {
			docs[i] = readmodel.Doc{"_id": fmt.Sprintf("d-%05d", i), "team_id": "t", "pad": pad, "round": round}
		}
		require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "p@rebuild", Checkpoint: int64(round + 1),
			Puts: map[string][]readmodel.Doc{"things__rebuild": docs}}))
		require.NoError(t, s.Swap(ctx, readmodel.SwapSpec{Renames: map[string]string{"things__rebuild": "things"},
			Checkpoints: map[string]int64{"p": int64(round + 1), "p@rebuild": 0}}))
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

// After a swap the replaced table's pages are free; Compact gives them
// back (the file shrinks by as much), and the documents are all there.
func TestCompactGivesTheSwappedOutPagesBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cspm_test.sqlite")
	s, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	fillAndSwap(t, s)
	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	var mode int
	require.NoError(t, raw.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode))
	require.NoError(t, raw.Close())
	assert.Equal(t, 2, mode, "a new database is created with incremental auto-vacuum")

	free, err := s.FreeBytes(ctx)
	require.NoError(t, err)
	require.Greater(t, free, int64(3_000_000), "the first live table's pages are free")
	freed, err := s.Compact(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, freed, free)
	free, err = s.FreeBytes(ctx)
	require.NoError(t, err)
	assert.Zero(t, free)
	assert.Less(t, fileSize(t, path), int64(4_500_000), "about one table of 3,000 documents of 1 KB")
	sizes, err := s.CollectionBytes(ctx)
	require.NoError(t, err)
	assert.Greater(t, sizes["things"], int64(3_000_000), "the table and its primary key")
	assert.Zero(t, sizes[""], "no free pages")
	n, err := s.Count(ctx, "things", readmodel.Eq("round", 1))
	require.NoError(t, err)
	assert.EqualValues(t, 3000, n)

	freed, err = s.Compact(ctx)
	require.NoError(t, err)
	assert.Zero(t, freed, "nothing left to give back")

	// The write connection is left with no transaction open: the next
	// write commits.
	require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 99,
		Puts: map[string][]readmodel.Doc{"things": {{"_id": "after-compact", "round": 9}}}}))
}

// A database created before incremental auto-vacuum (a table made before
// the store first opened it) is converted by its first Compact, a VACUUM.
func TestCompactConvertsAnOlderDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cspm_test.sqlite")
	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = raw.ExecContext(ctx, "CREATE TABLE older (x INTEGER)")
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	s, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	fillAndSwap(t, s)
	freed, err := s.Compact(ctx)
	require.NoError(t, err)
	assert.Greater(t, freed, int64(3_000_000))
	free, err := s.FreeBytes(ctx)
	require.NoError(t, err)
	assert.Zero(t, free)

	// Now incremental: the next swap's pages go back the same way.
	raw, err = sql.Open("sqlite", path)
	require.NoError(t, err)
	var mode int
	require.NoError(t, raw.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode))
	require.NoError(t, raw.Close())
	assert.Equal(t, 2, mode, "converted")
	fillAndSwap(t, s)
	freed, err = s.Compact(ctx)
	require.NoError(t, err)
	assert.Greater(t, freed, int64(3_000_000))
	assert.Less(t, fileSize(t, path), int64(4_500_000))
}
