package projections_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// Projections rebuilt together over one shared read (pages of 7 events,
// so the reader runs far past the 4 pages it may be ahead): each one's
// model equals a fold of the store, in three module databases; one that
// fails on a poison event early leaves the shared reader, keeps its live
// model and does not hold the others up; its name and position are in
// its error, and only there.
func TestRebuildTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := pt.NewEnv(t, pt.EnvOptions{Databases: []dbregistry.Constant{dbregistry.PLATFORM, dbregistry.ORCHESTRATION, dbregistry.CLOUD_SECURITY}})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	ledger := pt.NewLedger("test.ledger", dbregistry.PLATFORM)
	other := pt.NewCounter("test.other", dbregistry.ORCHESTRATION)
	poisoned := pt.NewCounter("test.poisoned", dbregistry.CLOUD_SECURITY) // a Counter's collections are fixed: one per database
	cfg := testConfig()
	cfg.RebuildBatch = 7
	rt := newRuntime(t, env, cfg, nil, counter, ledger, other, poisoned)
	start(t, rt)
	require.NoError(t, workload(env, 21, "a", 5, 30))
	env.Append(t, "a-0", "team-0", pt.Incremented{By: 5, Poison: true})
	require.NoError(t, workload(env, 22, "b", 8, 200))
	head := env.Head(t)
	waitFor(t, rt, head)
	for _, c := range []*pt.Counter{counter, other} {
		c.Fix() // the live loops parked the poison event; their rebuilds apply it
	}
	livePoisoned := dump(t, env, poisoned)

	var mu sync.Mutex
	finished := map[string]projections.RebuildProgress{}
	errs := rt.RebuildTogether(ctx, []string{counterName, "test.ledger", "test.other", "test.poisoned"}, func(p projections.RebuildProgress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Phase == projections.PhaseDone || p.Phase == projections.PhaseFailed {
			finished[p.Name] = p
		}
	})
	require.Len(t, errs, 1, "%v", errs)
	require.ErrorIs(t, errs["test.poisoned"], pt.ErrPoison)
	assert.ErrorContains(t, errs["test.poisoned"], "rebuild test.poisoned")
	assert.Equal(t, livePoisoned, dump(t, env, poisoned), "the failed rebuild left its live model")
	for _, p := range []projections.Projection{counter, ledger, other} {
		assert.Equal(t, expected(t, env, p, nil), dump(t, env, p), p.Name())
		assert.Equal(t, projections.PhaseDone, finished[p.Name()].Phase, p.Name())
		assert.Equal(t, head, finished[p.Name()].Processed, p.Name())
		st := status(t, rt, p.Name())
		assert.Equal(t, head, st.Checkpoint, p.Name())
		assert.Equal(t, projections.StateRunning, st.State, p.Name())
		assert.Empty(t, st.Parked, "%s: the rebuild applied the parked event", p.Name())
	}
	assert.Equal(t, projections.PhaseFailed, finished["test.poisoned"].Phase)
	for _, db := range []dbregistry.Constant{dbregistry.PLATFORM, dbregistry.ORCHESTRATION, dbregistry.CLOUD_SECURITY} {
		assert.False(t, hasShadow(collectionsOf(t, env, db)), "%s: no shadow left", db)
	}

	// A name that is not registered is an error of its own; the others rebuild.
	errs = rt.RebuildTogether(ctx, []string{counterName, "nope"}, nil)
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs["nope"], projections.ErrUnknownProjection)

	// The live loops go on from the rebuilt checkpoints.
	require.NoError(t, workload(env, 23, "c", 5, 30))
	waitFor(t, rt, env.Head(t), counterName, "test.ledger", "test.other")
	for _, p := range []projections.Projection{counter, ledger, other} {
		assert.Equal(t, expected(t, env, p, nil), dump(t, env, p), p.Name())
	}
}
