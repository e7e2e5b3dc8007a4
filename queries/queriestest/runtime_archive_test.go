package queriestest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/archive"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// requireSameAfterArchiving archives all of the world's log but its last
// event (docs/archival.md, decision 90), then checks that, read through
// the archive, it is the same log: verify passes with the same counts,
// every stream replays the same, and a rebuild of every projection from
// the archive gives the read models want holds (the world without archiving).
func requireSameAfterArchiving(t *testing.T, events eventstore.Store, codec *eventstore.Codec, want *Env, dir string) {
	t.Helper()
	ctx := context.Background()
	before, err := events.ReadAll(ctx, 0, 100000)
	require.NoError(t, err)
	repBefore, err := eventstore.Verify(ctx, events, eventstore.VerifyOptions{})
	require.NoError(t, err)
	require.Nil(t, repBefore.Broken)

	a, err := archive.Open(filepath.Join(dir, "archive"))
	require.NoError(t, err)
	through := archive.Through(events, a)
	res, err := archive.Run(ctx, through, archive.RunOptions{Cutoff: time.Now().Add(time.Hour), SegmentEvents: 97})
	require.NoError(t, err)
	require.Equal(t, int64(len(before)-1), res.Events)
	live, err := events.ReadAll(ctx, 0, 100000)
	require.NoError(t, err)
	require.Len(t, live, 1, "the live store keeps its last event only")

	rep, err := eventstore.Verify(ctx, through, eventstore.VerifyOptions{})
	require.NoError(t, err)
	require.Nil(t, rep.Broken, "verify across the archive boundary")
	require.Equal(t, repBefore.EventsChecked, rep.EventsChecked)
	require.Equal(t, repBefore.StreamsChecked, rep.StreamsChecked)
	after, err := through.ReadAll(ctx, 0, 100000)
	require.NoError(t, err)
	require.Equal(t, before, after, "the log read through the archive")
	streams := map[string][]eventstore.RecordedEvent{}
	for _, e := range before {
		streams[e.StreamID] = append(streams[e.StreamID], e)
	}
	for id, evs := range streams {
		got, err := eventstore.ReplayStream(ctx, through, id, eventstore.AsOf{})
		require.NoError(t, err)
		require.Equal(t, evs, got, "replay of %s", id)
	}

	got := OpenEnv(t, filepath.Join(dir, "rebuilt"))
	t.Cleanup(func() { got.Close(t) })
	stores := map[dbregistry.Constant]readmodel.Store{}
	for c, s := range got.Stores {
		stores[c] = s
	}
	rt := projections.NewRuntime(projections.RuntimeConfig{RebuildBatch: 41},
		projections.RuntimeDeps{Events: through, Codec: codec, Stores: stores, Logger: slog.New(slog.DiscardHandler)})
	for _, p := range AllProjections() {
		rt.Register(p)
	}
	require.NoError(t, rt.RebuildAll(ctx, nil))
	requireSameReadModels(t, want, got)
}
