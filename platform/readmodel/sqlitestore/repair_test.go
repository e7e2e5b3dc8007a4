package sqlitestore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
)

func put(t *testing.T, s *sqlitestore.Store, cp int64, id string) {
	t.Helper()
	require.NoError(t, s.Commit(t.Context(), readmodel.Batch{Projection: "p", Checkpoint: cp,
		Puts: map[string][]readmodel.Doc{"things": {{"_id": id, "n": cp}}}}))
}

func assertCorrupt(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	assert.ErrorIs(t, err, readmodel.ErrCorrupt, msgAndArgs...)
	assert.ErrorIs(t, err, readmodel.ErrUnavailable, msgAndArgs...)
}

// A file that is not a database opens broken: every call fails as corrupt
// (and unavailable). Reset moves it aside, byte for byte, and the store
// serves a fresh, empty database.
func TestOpenCorruptFile_ThenReset(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "cspm_orchestration.sqlite")
	garbage := bytes.Repeat([]byte("not a database "), 1000)
	require.NoError(t, os.WriteFile(path, garbage, 0o600))

	s, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	require.NoError(t, err, "a corrupt file does not fail the open")
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	_, err = s.Get(ctx, "things", "a")
	assertCorrupt(t, err)
	_, err = s.Find(ctx, "things", readmodel.FindOptions{Limit: 10})
	assertCorrupt(t, err)
	_, err = s.Count(ctx, "things", readmodel.Filter{})
	assertCorrupt(t, err)
	_, err = s.Checkpoint(ctx, "p")
	assertCorrupt(t, err)
	assertCorrupt(t, s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 1, Puts: map[string][]readmodel.Doc{"things": {{"_id": "a"}}}}))
	assertCorrupt(t, s.EnsureCollection(ctx, readmodel.CollectionSpec{Name: "things"}))
	assert.Contains(t, err.Error(), path)

	aside, err := s.Reset(ctx)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(aside, path+".corrupt-"), aside)
	kept, err := os.ReadFile(aside)
	require.NoError(t, err)
	assert.Equal(t, garbage, kept, "the corrupt file is kept as it was")

	cp, err := s.Checkpoint(ctx, "p")
	require.NoError(t, err)
	assert.Zero(t, cp)
	put(t, s, 1, "a")
	d, err := s.Get(ctx, "things", "a")
	require.NoError(t, err)
	assert.Equal(t, "a", d.ID())
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

// A file removed under the store: no write commits into it (the commit
// fails as corrupt), reads notice within a second at most, and Reset
// opens a fresh file (nothing to move aside).
func TestFileRemovedUnderTheStore_ThenReset(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cspm_platform.sqlite")
	s, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	put(t, s, 1, "a")

	require.NoError(t, os.Remove(path))
	err = s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 2, Puts: map[string][]readmodel.Doc{"things": {{"_id": "b"}}}})
	assertCorrupt(t, err)
	assert.Contains(t, err.Error(), path+" no longer exists")
	_, err = s.Get(ctx, "things", "a")
	assertCorrupt(t, err, "the write's check is seen by reads at once")

	aside, err := s.Reset(ctx)
	require.NoError(t, err)
	assert.Empty(t, aside)
	_, err = s.Get(ctx, "things", "a")
	assert.ErrorIs(t, err, readmodel.ErrNotFound, "a fresh database")
	put(t, s, 1, "b")
	_, err = os.Stat(path)
	require.NoError(t, err)
}

// Reads and writes running while Reset replaces the database wait for it
// and then use the new one; nothing races (go test -race).
func TestResetUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "cspm_x.sqlite"), sqlitestore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	put(t, s, 1, "a")

	var stop atomic.Bool
	var wg sync.WaitGroup
	var unexpected atomic.Value
	var cp atomic.Int64
	cp.Store(1)
	for range 3 {
		wg.Go(func() {
			for !stop.Load() {
				_, err := s.Get(ctx, "things", "a")
				if err != nil && !errors.Is(err, readmodel.ErrNotFound) {
					unexpected.Store(err)
				}
				if _, err := s.Find(ctx, "things", readmodel.FindOptions{Limit: 5}); err != nil {
					unexpected.Store(err)
				}
			}
		})
	}
	wg.Go(func() {
		for !stop.Load() {
			err := s.Commit(ctx, readmodel.Batch{Projection: "w", Checkpoint: cp.Add(1), Puts: map[string][]readmodel.Doc{"other": {{"_id": "x"}}}})
			if err != nil {
				unexpected.Store(err)
			}
		}
	})
	for range 5 {
		_, err := s.Reset(ctx)
		require.NoError(t, err)
	}
	stop.Store(true)
	wg.Wait()
	assert.Nil(t, unexpected.Load())
	require.NoError(t, s.Close())
	_, err = s.Reset(context.Background())
	assert.ErrorIs(t, err, sqlitestore.ErrClosed)
}
