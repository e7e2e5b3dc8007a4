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
	s := openAt(t, path, sqlitestore.Options{})
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

	s := openAt(t, path, sqlitestore.Options{})
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

// A swapped-in table's indexes were filled in arrival order: a
// descending index of increasing keys splits its pages in two at each
// insert, and they stay about half full; Compact builds them again full (REINDEX), and gives the old pages
// back.
func TestCompactRebuildsTheSwappedInIndexesFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cspm_test.sqlite")
	s := openAt(t, path, sqlitestore.Options{})
	ix := readmodel.Index{Name: "by_team_key", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "key", Desc: true}}}
	require.NoError(t, s.EnsureCollection(ctx, readmodel.CollectionSpec{Name: "things__rebuild", Indexes: []readmodel.Index{ix}}))
	// Keys arrive in time order, each before the others in the index
	// (descending), in batches, as a rebuild writes the findings.
	for batch := range 40 {
		docs := make([]readmodel.Doc, 250)
		for i := range docs {
			n := batch*250 + i
			docs[i] = readmodel.Doc{"_id": fmt.Sprintf("d-%05d", n), "team_id": fmt.Sprintf("team-%d", n%7), "key": fmt.Sprintf("k-%08d", n)}
		}
		require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "p@rebuild", Checkpoint: int64(batch + 1),
			Puts: map[string][]readmodel.Doc{"things__rebuild": docs}}))
	}
	unused := func() (unused, size int64) {
		raw, err := sql.Open("sqlite", path)
		require.NoError(t, err)
		defer raw.Close()
		require.NoError(t, raw.QueryRowContext(ctx, `SELECT sum(d.unused), sum(d.pgsize) FROM dbstat d JOIN sqlite_schema m ON m.name = d.name
			WHERE m.type = 'index' AND m.tbl_name = 'things'`).Scan(&unused, &size))
		return unused, size
	}
	require.NoError(t, s.Swap(ctx, readmodel.SwapSpec{Renames: map[string]string{"things__rebuild": "things"}, Checkpoints: map[string]int64{"p": 40, "p@rebuild": 0}}))
	before, sizeBefore := unused()
	require.Greater(t, before, sizeBefore/4, "filled out of order, the index pages are far from full")

	freed, err := s.Compact(ctx)
	require.NoError(t, err)
	after, sizeAfter := unused()
	assert.Less(t, after, sizeAfter/10, "rebuilt full")
	assert.Less(t, sizeAfter, sizeBefore*3/4)
	assert.Positive(t, freed)
	free, err := s.FreeBytes(ctx)
	require.NoError(t, err)
	assert.Zero(t, free)

	page, err := s.Find(ctx, "things", readmodel.FindOptions{Filter: readmodel.Eq("team_id", "team-3"),
		Sort: []readmodel.SortField{readmodel.Desc("key")}, Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, page.Docs, 1000)
	n, err := s.Count(ctx, "things", readmodel.Filter{})
	require.NoError(t, err)
	assert.EqualValues(t, 10_000, n)
}

// Schema version 2 creates collections as WITHOUT ROWID tables; a file of
// version 1 (rowid tables) opens, its tables are read and written as they
// are, and a swap replaces one by a WITHOUT ROWID table.
func TestVersion1FileOpensAndItsTablesAreReplacedOnSwap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cspm_test.sqlite")
	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	for _, q := range []string{
		"PRAGMA auto_vacuum = INCREMENTAL",
		"PRAGMA journal_mode = WAL",
		`CREATE TABLE _checkpoints (projection TEXT PRIMARY KEY NOT NULL, pos INTEGER NOT NULL, updated_at TEXT NOT NULL) STRICT`,
		`CREATE TABLE _indexes (collection TEXT NOT NULL, name TEXT NOT NULL, physical TEXT NOT NULL UNIQUE, spec TEXT NOT NULL, PRIMARY KEY (collection, name)) STRICT`,
		`CREATE TABLE things (id TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL, pos INTEGER NOT NULL) STRICT`,
		`INSERT INTO things VALUES ('old-1', '{"team_id":"t","n":1}', 1)`,
		`CREATE INDEX ix_by_team_0badf00d ON things (json_extract(doc, '$.team_id'), id)`,
		`INSERT INTO _indexes VALUES ('things', 'by_team', 'ix_by_team_0badf00d', '{"fields":[{"Path":"team_id","Desc":false}]}')`,
		`INSERT INTO _checkpoints VALUES ('p', 1, '2026-01-01T00:00:00Z')`,
		"PRAGMA user_version = 1",
	} {
		_, err := raw.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	require.NoError(t, raw.Close())
	layout := func(table string) (version int, ddl string) {
		raw, err := sql.Open("sqlite", path)
		require.NoError(t, err)
		defer raw.Close()
		require.NoError(t, raw.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version))
		require.NoError(t, raw.QueryRowContext(ctx, "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", table).Scan(&ddl))
		return version, ddl
	}

	s := openAt(t, path, sqlitestore.Options{})
	version, ddl := layout("things")
	assert.Equal(t, 2, version)
	assert.NotContains(t, ddl, "WITHOUT ROWID", "a version 1 table is kept as it is")
	spec := readmodel.CollectionSpec{Name: "things", SmallDocs: true, Indexes: []readmodel.Index{{Name: "by_team", Fields: []readmodel.IndexField{{Path: "team_id"}}}}}
	require.NoError(t, s.EnsureCollection(ctx, spec))
	require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 2, Puts: map[string][]readmodel.Doc{
		"things": {{"_id": "old-1", "team_id": "t", "n": 2}, {"_id": "new-1", "team_id": "t", "n": 3}}}}))
	page, err := s.Find(ctx, "things", readmodel.FindOptions{Filter: readmodel.Eq("team_id", "t")})
	require.NoError(t, err)
	require.Len(t, page.Docs, 2)
	assert.EqualValues(t, 3, page.Docs[0]["n"])
	assert.EqualValues(t, 2, page.Docs[1]["n"])

	require.NoError(t, s.EnsureCollection(ctx, readmodel.CollectionSpec{Name: "things__rebuild", SmallDocs: true, Indexes: spec.Indexes}))
	require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "p@rebuild", Checkpoint: 2, Puts: map[string][]readmodel.Doc{
		"things__rebuild": {{"_id": "old-1", "team_id": "t", "n": 2}}}}))
	require.NoError(t, s.Swap(ctx, readmodel.SwapSpec{Renames: map[string]string{"things__rebuild": "things"}, Checkpoints: map[string]int64{"p": 2, "p@rebuild": 0}}))
	_, err = s.Compact(ctx)
	require.NoError(t, err)
	_, ddl = layout("things")
	assert.Contains(t, ddl, "WITHOUT ROWID")
	doc, err := s.Get(ctx, "things", "old-1")
	require.NoError(t, err)
	assert.EqualValues(t, 2, doc["n"])
	n, err := s.Count(ctx, "things", readmodel.Eq("team_id", "t"))
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}
