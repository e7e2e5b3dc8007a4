package sqlitestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
)

func TestOpenModuleStores(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	names := []string{"acme_cspm_platform", "acme_cspm_cloud_security"}
	stores, err := sqlitestore.OpenModuleStores(t.Context(), dir, names, sqlitestore.Options{})
	require.NoError(t, err)
	require.Len(t, stores, 2)
	for _, name := range names {
		_, err := os.Stat(filepath.Join(dir, name+".sqlite"))
		require.NoError(t, err)
		require.Equal(t, filepath.Join(dir, name+".sqlite"), stores[name].Info().Database)
	}
	// Module databases are separate: a write to one is invisible in the other.
	ctx := t.Context()
	require.NoError(t, stores[names[0]].Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 1,
		Puts: map[string][]readmodel.Doc{"users": {{"_id": "u1"}}}}))
	_, err = stores[names[1]].Get(ctx, "users", "u1")
	require.ErrorIs(t, err, readmodel.ErrNotFound)
	for _, s := range stores {
		require.NoError(t, s.Close())
	}

	for _, bad := range [][]string{{"../evil"}, {"a/b"}, {""}, {"x", "x"}} {
		_, err := sqlitestore.OpenModuleStores(t.Context(), dir, bad, sqlitestore.Options{})
		require.Error(t, err, "%q", bad)
	}
	_, err = sqlitestore.OpenModuleStores(t.Context(), dir, names, sqlitestore.Options{Synchronous: "off"})
	require.Error(t, err)
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	ctx := t.Context()
	s, err := sqlitestore.Open(ctx, path, sqlitestore.Options{Synchronous: "normal"})
	require.NoError(t, err)
	require.NoError(t, s.EnsureCollection(ctx, readmodel.CollectionSpec{Name: "items", Indexes: []readmodel.Index{
		{Name: "by_k", Fields: []readmodel.IndexField{{Path: "k"}}, Unique: true}}}))
	require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 9, Puts: map[string][]readmodel.Doc{"items": {{"_id": "a", "k": 1}}}}))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	_, err = s.Get(ctx, "items", "a")
	require.ErrorIs(t, err, sqlitestore.ErrClosed)
	require.ErrorIs(t, s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 10}), sqlitestore.ErrClosed)

	s, err = sqlitestore.Open(ctx, path, sqlitestore.Options{})
	require.NoError(t, err)
	defer s.Close()
	cp, err := s.Checkpoint(ctx, "p")
	require.NoError(t, err)
	require.Equal(t, int64(9), cp)
	err = s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 10, Puts: map[string][]readmodel.Doc{"items": {{"_id": "b", "k": 1}}}})
	require.ErrorIs(t, err, readmodel.ErrDuplicate, "indexes survive a reopen")
}

func TestCloseDuringWrites(t *testing.T) {
	s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), sqlitestore.Options{Synchronous: "normal"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	started := make(chan struct{})
	var once sync.Once
	for w := range 4 {
		wg.Go(func() {
			for i := int64(1); ; i++ {
				err := s.Commit(context.Background(), readmodel.Batch{Projection: "p" + string(rune('a'+w)), Checkpoint: i,
					Puts: map[string][]readmodel.Doc{"items": {{"_id": "x"}}}})
				once.Do(func() { close(started) })
				if errors.Is(err, sqlitestore.ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	<-started
	require.NoError(t, s.Close())
	wg.Wait()
}

func TestCommitHonoursContext(t *testing.T) {
	s := openTemp(t, sqlitestore.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 1, Puts: map[string][]readmodel.Doc{"items": {{"_id": "x"}}}})
	require.ErrorIs(t, err, context.Canceled)
	cp, err := s.Checkpoint(t.Context(), "p")
	require.NoError(t, err)
	require.Zero(t, cp)
}
