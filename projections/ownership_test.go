package projections_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

func distributedConfig() projections.RuntimeConfig {
	cfg := testConfig()
	cfg.Distributed = true
	return cfg
}

func always() bool { return true }

// Two runtimes (two processes) share one projection: ownership moves
// back and forth while writers append, and the read model ends equal to
// a fold of the store (nothing lost, nothing applied twice in a way that
// shows).
func TestOwnershipMovesBetweenRuntimesUnderTraffic(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	owners := func(names map[string]string) func(context.Context) (map[string]string, error) {
		return func(context.Context) (map[string]string, error) { return names, nil }
	}
	mk := func() (*projections.Runtime, *pt.Counter, *pt.Ledger) {
		c := pt.NewCounter(counterName, dbregistry.PLATFORM)
		l := pt.NewLedger("test.ledger", dbregistry.PLATFORM, pt.TypeIncremented, pt.TypeRenamed)
		rt := newRuntime(t, env, distributedConfig(), func(d *projections.RuntimeDeps) {
			d.Owners = owners(map[string]string{counterName: "a", "test.ledger": "a"})
		}, c, l)
		start(t, rt)
		return rt, c, l
	}
	a, counter, ledger := mk()
	b, _, _ := mk()

	// Nobody owns anything yet: both stand by.
	assert.Equal(t, projections.StateStandby, status(t, a, counterName).State)
	assert.Empty(t, a.Owned())

	done := writers(env, 3, 15, 120)
	for i := range 6 {
		from := a
		if i%2 == 1 {
			from = b
		}
		require.NoError(t, from.Own(counterName, uint64(i+1), always))
		require.NoError(t, from.Own("test.ledger", uint64(i+1), always))
		// Let the owner apply something before handing over.
		waitFor(t, from, env.Head(t), counterName, "test.ledger")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		require.NoError(t, from.Disown(ctx, counterName))
		require.NoError(t, from.Disown(ctx, "test.ledger"))
		cancel()
	}
	require.NoError(t, done())
	require.NoError(t, b.Own(counterName, 7, always))
	require.NoError(t, b.Own("test.ledger", 7, always))
	waitFor(t, b, env.Head(t))
	assert.Equal(t, []string{counterName, "test.ledger"}, b.Owned())

	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
	assert.Equal(t, expected(t, env, ledger, nil), dump(t, env, ledger), "one document per event: none lost, none doubled")
	st := status(t, b, counterName)
	assert.Equal(t, projections.StateRunning, st.State)
	assert.Equal(t, "a", st.Owner, "the owner comes from RuntimeDeps.Owners")
	assert.Equal(t, projections.StateStandby, status(t, a, counterName).State)
	assert.Equal(t, st.Checkpoint, status(t, a, counterName).Checkpoint, "a standby reads the stored checkpoint")
}

// A process whose lease is gone (its fence says no) commits nothing more;
// the next owner carries on from the stored checkpoint.
func TestAStaleOwnerIsFencedOff(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	ca := pt.NewCounter(counterName, dbregistry.PLATFORM)
	a := newRuntime(t, env, distributedConfig(), nil, ca)
	start(t, a)
	cb := pt.NewCounter(counterName, dbregistry.PLATFORM)
	b := newRuntime(t, env, distributedConfig(), nil, cb)
	start(t, b)

	var valid atomic.Bool
	valid.Store(true)
	require.NoError(t, a.Own(counterName, 1, valid.Load))
	require.NoError(t, workload(env, 7, "s", 10, 50))
	waitFor(t, a, env.Head(t), counterName)
	before := status(t, a, counterName).Checkpoint

	// a's lease expires; it has not been told (its balancer is slow).
	valid.Store(false)
	require.NoError(t, workload(env, 8, "s", 10, 50))
	require.Eventually(t, func() bool { return len(a.Owned()) == 0 }, 20*time.Second, 10*time.Millisecond,
		"a's loop notices its fence at the next commit and stops")
	assert.Equal(t, before, status(t, a, counterName).Checkpoint, "nothing committed after the fence closed")

	require.NoError(t, b.Own(counterName, 2, always))
	waitFor(t, b, env.Head(t), counterName)
	assert.Equal(t, expected(t, env, cb, nil), dump(t, env, cb))

	// Maintenance goes to the owner: the others refuse it.
	require.ErrorIs(t, a.Rebuild(t.Context(), counterName, nil), projections.ErrNotOwner)
	_, err := a.RetryParked(t.Context(), counterName, 0)
	require.ErrorIs(t, err, projections.ErrNotOwner)
	_, err = a.SkipParked(t.Context(), counterName, 0)
	require.ErrorIs(t, err, projections.ErrNotOwner)
	require.NoError(t, b.Rebuild(t.Context(), counterName, nil))
	assert.Equal(t, expected(t, env, cb, nil), dump(t, env, cb))
}

// A lease that lapsed and was renewed is handed back (Disown, then Own)
// while the batch its fence refused is still unwinding: the loop must run
// on under the new Own, not undo it and wait for ever (seen on a loaded
// machine with a 2 s lease: projections stuck with deliveries in hand).
func TestAnOwnDuringARefusedCommitIsKept(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	c := pt.NewCounter(counterName, dbregistry.PLATFORM)
	rt := newRuntime(t, env, distributedConfig(), nil, c)
	start(t, rt)

	var lapse atomic.Bool
	fence := func() bool {
		if lapse.CompareAndSwap(true, false) {
			// The commit is refused; before the loop has unwound, the
			// balancer's renewal lands and it hands the projection back.
			require.NoError(t, rt.Own(counterName, 1, always))
			return false
		}
		return true
	}
	require.NoError(t, rt.Own(counterName, 1, fence))
	require.NoError(t, workload(env, 7, "s", 10, 50))
	waitFor(t, rt, env.Head(t), counterName)

	lapse.Store(true)
	require.NoError(t, workload(env, 8, "s", 10, 50))
	waitFor(t, rt, env.Head(t), counterName)
	assert.False(t, lapse.Load(), "the fence refused a commit")
	assert.Equal(t, []string{counterName}, rt.Owned())
	assert.Equal(t, expected(t, env, c, nil), dump(t, env, c))
}
