package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
)

func oneEvent(stream string, expected eventstore.ExpectedVersion) eventstore.AppendRequest {
	return eventstore.AppendRequest{StreamID: stream, StreamType: "t", Expected: expected,
		Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}}
}

// A store whose file is deleted under it acknowledges nothing more: appends
// and the head fail as unavailable, naming the file; moved back, the file
// is the store again.
func TestFileRemovedUnderTheStore(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{})
	_, err := s.Append(ctx, oneEvent("a", eventstore.NoStream))
	require.NoError(t, err)

	aside := path + ".aside"
	require.NoError(t, os.Rename(path, aside))
	_, err = s.Append(ctx, oneEvent("b", eventstore.NoStream))
	require.Error(t, err)
	assert.ErrorIs(t, err, eventstore.ErrUnavailable)
	assert.ErrorIs(t, err, ErrFileLost)
	assert.Contains(t, err.Error(), path+" no longer exists")
	_, err = s.HeadPosition(ctx)
	assert.ErrorIs(t, err, ErrFileLost)
	_, err = s.ReadAll(ctx, 0, 10)
	assert.ErrorIs(t, err, ErrFileLost)

	// Several appends at once (a group) all fail.
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			_, err := s.Append(ctx, oneEvent("g"+string(rune('a'+i)), eventstore.NoStream))
			errs <- err
		}()
	}
	for range 8 {
		assert.ErrorIs(t, <-errs, ErrFileLost)
	}

	require.NoError(t, os.Rename(aside, path))
	head, err := s.HeadPosition(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, head, "nothing was written while the file was away")
	res, err := s.Append(ctx, oneEvent("b", eventstore.NoStream))
	require.NoError(t, err)
	assert.EqualValues(t, 2, res.LastPosition())
}

// Another file at the path is not the store either.
func TestFileReplacedUnderTheStore(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{})
	require.NoError(t, os.Remove(path))
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err := s.Append(ctx, oneEvent("a", eventstore.NoStream))
	assert.ErrorIs(t, err, ErrFileLost)
	assert.Contains(t, err.Error(), "another file")
	_, err = s.HeadPosition(ctx)
	assert.ErrorIs(t, err, eventstore.ErrUnavailable)
}

// The file check runs after the commit too: an append whose transaction
// committed into a file that was removed meanwhile is not acknowledged.
func TestFileRemovedDuringCommitIsNotAcknowledged(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{})
	checks := 0
	s.file.stat = func(p string) (os.FileInfo, error) {
		checks++
		if checks == 2 { // after the commit, before the acknowledgement
			require.NoError(t, os.Rename(path, path+".aside"))
		}
		return os.Stat(p)
	}
	_, err := s.Append(ctx, oneEvent("a", eventstore.NoStream))
	assert.ErrorIs(t, err, ErrFileLost)
	assert.Equal(t, 2, checks)
	assert.Zero(t, s.committed.Load(), "not announced to waiters")
}

// A read-only store reads what a writer appends beside it, never writes
// (the file is byte for byte the same) and refuses appends.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "events.sqlite")
	_, err := OpenReadOnly(ctx, path, Options{})
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "a read-only open creates nothing")

	w, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	_, err = w.Append(ctx, oneEvent("a", eventstore.NoStream))
	require.NoError(t, err)

	r, err := OpenReadOnly(ctx, path, Options{})
	require.NoError(t, err)
	head, err := r.HeadPosition(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, head)
	_, err = r.Append(ctx, oneEvent("b", eventstore.NoStream))
	assert.ErrorIs(t, err, ErrReadOnly)
	// The writer goes on beside it; the reader sees it.
	_, err = w.Append(ctx, oneEvent("b", eventstore.NoStream))
	require.NoError(t, err)
	require.NoError(t, r.WaitForAppend(ctx, 1))
	evs, err := r.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	assert.Len(t, evs, 2)
	require.NoError(t, r.Close())
	require.NoError(t, w.Close())

	// With no writer at all, reading leaves the file as it was.
	sum := func() [32]byte {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		return sha256.Sum256(raw)
	}
	before := sum()
	r, err = OpenReadOnly(ctx, path, Options{})
	require.NoError(t, err)
	_, err = r.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.Equal(t, before, sum())
}

// A read-only open refuses a schema it does not know instead of migrating it.
func TestOpenReadOnlyRefusesAnotherSchemaVersion(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{})
	_, err := s.wconn.ExecContext(ctx, "PRAGMA user_version = 0")
	require.NoError(t, err)
	_, err = OpenReadOnly(ctx, path, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "schema version 0")
}

// BenchmarkFileCheck is the cost of one identity check (two per group
// commit, one per HeadPosition and ReadAll).
func BenchmarkFileCheck(b *testing.B) {
	s, _ := openTemp(b, Options{})
	for b.Loop() {
		if err := s.checkFile(); err != nil {
			b.Fatal(err)
		}
	}
}
