package projections_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

func TestRebuildEquivalence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := pt.NewEnv(t, pt.EnvOptions{})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	ledger := pt.NewLedger("test.ledger", dbregistry.PLATFORM)
	rt := startRuntime(t, env, counter, ledger)
	require.NoError(t, writers(env, 2, 25, 200)())
	head := env.Head(t)
	waitFor(t, rt, head)
	liveCounter, liveLedger := dump(t, env, counter), dump(t, env, ledger)
	require.Equal(t, expected(t, env, counter, nil), liveCounter)

	var mu sync.Mutex
	var phases []string
	var last projections.RebuildProgress
	require.NoError(t, rt.Rebuild(ctx, counterName, func(p projections.RebuildProgress) {
		mu.Lock()
		defer mu.Unlock()
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		last = p
	}))
	assert.Equal(t, []string{projections.PhasePreparing, projections.PhaseCatchingUp, projections.PhaseCuttingOver, projections.PhaseDone}, phases)
	assert.Equal(t, head, last.Processed)
	assert.Equal(t, head, last.Target)
	assert.Positive(t, last.Applied)
	assert.Positive(t, last.EventsPerSec)
	assert.Equal(t, liveCounter, dump(t, env, counter), "rebuilt == live")
	assert.False(t, hasShadow(collectionsOf(t, env, dbregistry.PLATFORM)))

	st := status(t, rt, counterName)
	assert.Equal(t, projections.StateRunning, st.State)
	assert.Equal(t, head, st.Checkpoint)
	require.NotNil(t, st.Rebuild)
	assert.Equal(t, projections.PhaseDone, st.Rebuild.Phase)

	require.NoError(t, rt.RebuildAll(ctx, nil))
	assert.Equal(t, liveCounter, dump(t, env, counter))
	assert.Equal(t, liveLedger, dump(t, env, ledger))

	// The live loops go on from the rebuilt checkpoint.
	require.NoError(t, workload(env, 9, "after", 5, 30))
	waitFor(t, rt, env.Head(t))
	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
	assert.Equal(t, expected(t, env, ledger, nil), dump(t, env, ledger))
}

func TestRebuildUnderLiveTrafficLosesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := pt.NewEnv(t, pt.EnvOptions{})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	rt := startRuntime(t, env, counter)
	require.NoError(t, workload(env, 11, "pre", 20, 300))

	wait := writers(env, 3, 20, 400)
	var rebuilds, overlapped int
	done := make(chan error, 1)
	go func() { done <- wait() }()
	for running := true; running; {
		var first, last int64
		require.NoError(t, rt.Rebuild(ctx, counterName, func(p projections.RebuildProgress) {
			if first == 0 {
				first = p.Target
			}
			last = p.Target
		}))
		rebuilds++
		if last > first {
			overlapped++ // appends went on during this rebuild
		}
		select {
		case err := <-done:
			require.NoError(t, err)
			running = false
		default:
		}
	}
	assert.Positive(t, overlapped)
	t.Logf("%d rebuilds, %d with appends going on", rebuilds, overlapped)
	waitFor(t, rt, env.Head(t))
	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
	assert.Equal(t, env.Head(t), status(t, rt, counterName).Processed)
}

func TestCancelledRebuildLeavesTheLiveModel(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	rt := startRuntime(t, env, counter)
	require.NoError(t, workload(env, 12, "s", 30, 400))
	head := env.Head(t)
	waitFor(t, rt, head)
	live := dump(t, env, counter)

	// Cancelled while catching up.
	ctx, cancel := context.WithCancel(context.Background())
	err := rt.Rebuild(ctx, counterName, func(p projections.RebuildProgress) {
		if p.Phase == projections.PhaseCatchingUp && p.Processed > 0 {
			cancel()
		}
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, live, dump(t, env, counter))
	assert.False(t, hasShadow(collectionsOf(t, env, dbregistry.PLATFORM)), "shadows dropped")
	st := status(t, rt, counterName)
	assert.Equal(t, projections.StateRunning, st.State)
	assert.Equal(t, projections.PhaseFailed, st.Rebuild.Phase)
	assert.Equal(t, head, st.Processed)

	// Cancelled during the cut-over: the live loop resumes.
	ctx, cancel = context.WithCancel(context.Background())
	err = rt.Rebuild(ctx, counterName, func(p projections.RebuildProgress) {
		if p.Phase == projections.PhaseCuttingOver {
			cancel()
		}
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, live, dump(t, env, counter))
	res := env.Append(t, "s-1", "team-1", pt.Incremented{By: 3})
	waitFor(t, rt, res.LastPosition())

	// One rebuild at a time.
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	first := make(chan error, 1)
	go func() {
		first <- rt.Rebuild(context.Background(), counterName, func(projections.RebuildProgress) {
			once.Do(func() { close(entered); <-release })
		})
	}()
	<-entered
	assert.Equal(t, projections.StateRebuilding, status(t, rt, counterName).State)
	require.ErrorIs(t, rt.Rebuild(context.Background(), counterName, nil), projections.ErrRebuildInProgress)
	_, err = rt.RetryParked(context.Background(), counterName, 0)
	require.ErrorIs(t, err, projections.ErrRebuildInProgress)
	close(release)
	require.NoError(t, <-first, "a later rebuild succeeds")
	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
	require.ErrorIs(t, rt.Rebuild(context.Background(), "nope", nil), projections.ErrUnknownProjection)
}

func TestRebuildStopsOnPoisonAndClearsParkedEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := pt.NewEnv(t, pt.EnvOptions{})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	rt := startRuntime(t, env, counter)
	require.NoError(t, workload(env, 13, "s", 5, 40))
	poison := env.Append(t, "s-0", "team-0", pt.Incremented{By: 50, Poison: true}).LastPosition()
	require.NoError(t, workload(env, 14, "s", 5, 40))
	head := env.Head(t)
	waitFor(t, rt, head)
	require.Len(t, status(t, rt, counterName).Parked, 1)
	live := dump(t, env, counter)

	err := rt.Rebuild(ctx, counterName, nil)
	require.ErrorIs(t, err, pt.ErrPoison, "a rebuild does not park")
	require.ErrorContains(t, err, "position")
	assert.Equal(t, live, dump(t, env, counter))
	assert.Len(t, status(t, rt, counterName).Parked, 1)

	counter.Fix()
	require.NoError(t, rt.Rebuild(ctx, counterName, nil))
	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter), "the poison event in its place")
	st := status(t, rt, counterName)
	assert.Empty(t, st.Parked, "the rebuild applied the parked event: its record is void")
	_, err = rt.RetryParked(ctx, counterName, poison)
	require.ErrorIs(t, err, projections.ErrNotParked)
}

// A rebuild needs no live loop (e.g. from the CLI); a runtime started
// later resumes from the rebuilt checkpoint.
func TestRebuildWithoutLiveLoop(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	require.NoError(t, workload(env, 15, "s", 10, 100))
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	offline := newRuntime(t, env, testConfig(), func(d *projections.RuntimeDeps) { d.JetStream = nil }, counter)
	require.NoError(t, offline.Rebuild(context.Background(), counterName, nil))
	head := env.Head(t)
	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
	st := status(t, offline, counterName)
	assert.Equal(t, projections.StateStopped, st.State)
	assert.Equal(t, head, st.Checkpoint)

	again := pt.NewCounter(counterName, dbregistry.PLATFORM)
	rt := startRuntime(t, env, again)
	res := env.Append(t, "s-1", "team-1", pt.Incremented{By: 1})
	waitFor(t, rt, res.LastPosition())
	assert.Equal(t, int64(1), again.Applies(), "only the new event was applied")
	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
}

// A projection whose event types changed cannot go on from its consumer
// (the new types' history is missing): the runtime rebuilds it.
func TestChangedEventTypesRebuildAutomatically(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	require.NoError(t, workload(env, 16, "s", 10, 100))
	v1 := pt.NewLedger("test.ledger", dbregistry.PLATFORM, pt.TypeIncremented)
	rt := startRuntime(t, env, v1)
	waitFor(t, rt, env.Head(t))
	stop(t, rt)

	v2 := pt.NewLedger("test.ledger", dbregistry.PLATFORM, pt.TypeIncremented, pt.TypeRenamed)
	rt2 := startRuntime(t, env, v2)
	require.Eventually(t, func() bool {
		st := status(t, rt2, "test.ledger")
		return st.Rebuild != nil && st.Rebuild.Phase == projections.PhaseDone && st.State == projections.StateRunning
	}, 20*time.Second, 20*time.Millisecond)
	res := env.Append(t, "s-1", "team-1", pt.Renamed{Label: "new"})
	waitFor(t, rt2, res.LastPosition())
	assert.Equal(t, expected(t, env, v2, nil), dump(t, env, v2))
	assert.Empty(t, status(t, rt2, "test.ledger").NeedsRebuild)
}

// Whoever is told a rebuild finished (done or failed) finds the projection
// released: status no longer says rebuilding and another rebuild can start.
func TestRebuildReportsTheEndAfterReleasing(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	require.NoError(t, workload(env, 16, "s", 5, 40))
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	rt := newRuntime(t, env, testConfig(), func(d *projections.RuntimeDeps) { d.JetStream = nil }, counter)

	for _, poisoned := range []bool{false, true} {
		if poisoned {
			env.Append(t, "s-0", "team-0", pt.Incremented{By: 1, Poison: true})
		}
		var finals int
		var state string
		var again error
		err := rt.Rebuild(context.Background(), counterName, func(p projections.RebuildProgress) {
			if p.Phase != projections.PhaseDone && p.Phase != projections.PhaseFailed {
				return
			}
			finals++
			state = status(t, rt, counterName).State
			again = rt.Rebuild(context.Background(), counterName, nil) // from the report itself
		})
		if poisoned {
			require.ErrorIs(t, err, pt.ErrPoison)
		} else {
			require.NoError(t, err)
		}
		require.Equal(t, 1, finals, "one final report")
		assert.NotEqual(t, projections.StateRebuilding, state, "poisoned=%v", poisoned)
		assert.NotErrorIs(t, again, projections.ErrRebuildInProgress, "poisoned=%v", poisoned)
	}
}
