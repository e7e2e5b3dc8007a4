package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
	"github.com/cspm-es/cspm-es/projections"
)

// typesOnly is a projection reduced to what checkpointProgress reads.
type typesOnly struct {
	name  string
	types []string
}

func (p typesOnly) Name() string                                                 { return p.name }
func (p typesOnly) Database() dbregistry.Constant                                { return dbregistry.ORCHESTRATION }
func (p typesOnly) Collections() []readmodel.CollectionSpec                      { return nil }
func (p typesOnly) EventTypes() []string                                         { return p.types }
func (typesOnly) Apply(context.Context, projections.Tx, projections.Event) error { return nil }

// The stored-checkpoint fallback of read your writes (decision 10): a
// projection has processed through P once every event after its
// checkpoint up to P is of a type it ignores.
func TestCheckpointProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	events, err := sqlite.Open(ctx, filepath.Join(dir, "events.sqlite"), sqlite.Options{Synchronous: "normal", PollInterval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = events.Close() })
	rm, err := sqlitestore.Open(ctx, filepath.Join(dir, "rm.sqlite"), sqlitestore.Options{Synchronous: "normal"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rm.Close() })

	// Positions: 1 A, 2 B, 3 B, 4 A, 5 B.
	for i, typ := range []string{"A", "B", "B", "A", "B"} {
		_, err := events.Append(ctx, eventstore.AppendRequest{
			StreamID: "s-" + typ + string(rune('0'+i)), StreamType: "T", Expected: eventstore.Any,
			Events: []eventstore.NewEvent{{Type: typ, SchemaVersion: 1, Data: json.RawMessage(`{}`)}},
		})
		require.NoError(t, err)
	}
	commit := func(cp int64) {
		require.NoError(t, rm.Commit(ctx, readmodel.Batch{Projection: "p.a", Checkpoint: cp,
			Puts: map[string][]readmodel.Doc{"docs": {{"_id": "x", "at": cp}}}}))
	}
	p := newCheckpointProgress(events, map[dbregistry.Constant]readmodel.Store{dbregistry.ORCHESTRATION: rm},
		[]projections.Projection{typesOnly{"p.a", []string{"A"}}}, nil)
	names := []string{"p.a"}

	through, err := p.Processed(ctx, names)
	require.NoError(t, err)
	assert.Zero(t, through)
	assert.False(t, p.reached(ctx, names, 1), "event 1 is an A, not committed")

	commit(1)
	assert.True(t, p.reached(ctx, names, 3), "2 and 3 are Bs: processed through 3")
	assert.False(t, p.reached(ctx, names, 4), "4 is an A")
	through, err = p.Processed(ctx, names)
	require.NoError(t, err)
	assert.EqualValues(t, 3, through, "the verified position is remembered")

	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	assert.False(t, p.WaitFor(short, names, 5))
	cancel()
	go commit(4)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	assert.True(t, p.WaitFor(wctx, names, 5), "after the A at 4, 5 is a B")
	short, cancel = context.WithTimeout(ctx, 30*time.Millisecond)
	assert.False(t, p.WaitFor(short, names, 6), "not in the store yet")
	cancel()

	_, err = p.Processed(ctx, []string{"nope"})
	assert.ErrorIs(t, err, projections.ErrUnknownProjection)
}
