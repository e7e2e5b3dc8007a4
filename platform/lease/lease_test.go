package lease_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/lease"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newJS is a JetStream client of a fresh embedded server.
func newJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	e, err := bus.StartEmbedded(t.Context(), bus.Options{StoreDir: t.TempDir(), Port: -1, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(e.Shutdown)
	nc, js, err := bus.Connect(t.Context(), e.ClientURL(), bus.ConnectOptions{WaitConnected: 5 * time.Second, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return js
}

func newKV(t *testing.T) jetstream.KeyValue {
	t.Helper()
	kv, err := lease.OpenBucket(t.Context(), newJS(t), "", 1)
	require.NoError(t, err)
	return kv
}

// clock is a test clock moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestOneHolderAtATimeAndTakeoverAfterTTL(t *testing.T) {
	kv := newKV(t)
	ctx := t.Context()
	ca, cb := &clock{t: time.Now()}, &clock{t: time.Now()}
	a := lease.New(kv, "relay", "a", 10*time.Second)
	b := lease.New(kv, "relay", "b", 10*time.Second)
	lease.SetClock(a, ca.now)
	lease.SetClock(b, cb.now)

	ok, err := a.TryAcquire(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, a.Valid())
	assert.NotZero(t, a.Term())

	// b sees a's revision; within a TTL of first seeing it, it waits.
	ok, err = b.TryAcquire(ctx)
	require.NoError(t, err)
	assert.False(t, ok)
	cb.add(9 * time.Second)
	ok, err = b.TryAcquire(ctx)
	require.NoError(t, err)
	assert.False(t, ok)

	// a renews: a new revision, so b's wait starts over.
	require.NoError(t, a.Renew(ctx))
	cb.add(2 * time.Second)
	ok, err = b.TryAcquire(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "a renewed: b must wait a whole TTL from the new revision")

	// a stops renewing (it died): it is invalid by its own clock before b
	// can take over by b's.
	ca.add(10 * time.Second)
	assert.False(t, a.Valid())
	cb.add(10 * time.Second)
	ok, err = b.TryAcquire(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Greater(t, b.Term(), uint64(0))

	rec, held, err := lease.Owner(ctx, kv, "relay")
	require.NoError(t, err)
	require.True(t, held)
	assert.Equal(t, "b", rec.Owner)

	// The old holder cannot renew any more, nor release b's lease.
	require.ErrorIs(t, a.Renew(ctx), lease.ErrLost)
	require.NoError(t, a.Release(ctx))
	require.NoError(t, b.Renew(ctx))
	assert.True(t, b.Valid())
}

func TestReleaseHandsOverAtOnce(t *testing.T) {
	kv := newKV(t)
	ctx := t.Context()
	a := lease.New(kv, "projection.x", "a", time.Hour)
	b := lease.New(kv, "projection.x", "b", time.Hour)
	ok, err := a.TryAcquire(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = b.TryAcquire(ctx)
	require.NoError(t, err)
	require.False(t, ok)
	termA := a.Term()

	require.NoError(t, a.Release(ctx))
	assert.False(t, a.Valid())
	ok, err = b.TryAcquire(ctx)
	require.NoError(t, err)
	require.True(t, ok, "a released key is free")
	assert.Greater(t, b.Term(), termA, "terms grow with every acquisition")
}

func TestElectRunsTheLeaderUntilItLosesTheLease(t *testing.T) {
	kv := newKV(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var leading atomic.Int32
	started := make(chan string, 4)
	run := func(name string) (context.CancelFunc, chan struct{}) {
		c, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		l := lease.New(kv, "relay", name, 2*time.Second)
		go func() {
			defer close(done)
			lease.Elect(c, l, 20*time.Millisecond, nil, func(lctx context.Context) {
				n := leading.Add(1)
				assert.Equal(t, int32(1), n, "two leaders at once")
				started <- name
				<-lctx.Done()
				leading.Add(-1)
			})
		}()
		return stop, done
	}
	stopA, doneA := run("a")
	first := <-started
	require.Equal(t, "a", first)
	_, doneB := run("b")
	stopA() // a stops cleanly: releases, and b takes over at its next poll
	<-doneA
	require.Equal(t, "b", <-started)
	cancel()
	<-doneB
}

func TestBalancerSharesAndRebalances(t *testing.T) {
	kv := newKV(t)
	names := []string{"a.p1", "a.p2", "b.p3", "b.p4", "c.p5", "c.p6", "c.p7"}
	var mu sync.Mutex
	owners := map[string]string{} // name -> member running it
	type member struct {
		b    *lease.Balancer
		stop context.CancelFunc
		done chan struct{}
	}
	start := func(id string) member {
		ctx, cancel := context.WithCancel(t.Context())
		b := lease.NewBalancer(lease.BalancerConfig{
			KV: kv, Owner: id, Group: "projector", Prefix: "projection", Names: names,
			TTL: 600 * time.Millisecond, Tick: 50 * time.Millisecond, Logger: quiet,
			Start: func(name string, l *lease.Lease) {
				mu.Lock()
				defer mu.Unlock()
				assert.Empty(t, owners[name], "%s started by %s while %s runs it", name, id, owners[name])
				owners[name] = id
			},
			Stop: func(_ context.Context, name string) {
				mu.Lock()
				defer mu.Unlock()
				assert.Equal(t, id, owners[name])
				delete(owners, name)
			},
		})
		done := make(chan struct{})
		go func() { defer close(done); b.Run(ctx) }()
		return member{b: b, stop: cancel, done: done}
	}
	converged := func(members ...member) bool {
		mu.Lock()
		defer mu.Unlock()
		if len(owners) != len(names) {
			return false
		}
		share := (len(names) + len(members) - 1) / len(members)
		for _, m := range members {
			if m.b.Live() != len(members) || len(m.b.Held()) > share {
				return false
			}
		}
		return true
	}
	m1 := start("n1")
	require.Eventually(t, func() bool { return converged(m1) }, 20*time.Second, 20*time.Millisecond)
	m2 := start("n2")
	m3 := start("n3")
	require.Eventually(t, func() bool { return converged(m1, m2, m3) }, 20*time.Second, 20*time.Millisecond)
	for _, m := range []member{m1, m2, m3} {
		assert.NotEmpty(t, m.b.Held(), "every member has work")
	}
	m2.stop()
	<-m2.done
	require.Eventually(t, func() bool { return converged(m1, m3) }, 20*time.Second, 20*time.Millisecond)
	m1.stop()
	m3.stop()
	<-m1.done
	<-m3.done
	mu.Lock()
	assert.Empty(t, owners)
	mu.Unlock()
}

// heldLease is node a's lease "relay" (TTL 10 s) on a fresh bucket, held,
// on a clock the test moves.
func heldLease(t *testing.T) (jetstream.KeyValue, *lease.Lease, *clock) {
	t.Helper()
	kv := newKV(t)
	c := &clock{t: time.Now()}
	a := lease.New(kv, "relay", "a", 10*time.Second)
	lease.SetClock(a, c.now)
	ok, err := a.TryAcquire(t.Context())
	require.NoError(t, err)
	require.True(t, ok)
	return kv, a, c
}

// A process that lost its lease (it could not renew, e.g. NATS was down)
// takes it back at once when nobody else took it meanwhile.
func TestOwnLapsedLeaseIsTakenBackAtOnce(t *testing.T) {
	kv, a, c := heldLease(t)
	ctx := t.Context()
	c.add(11 * time.Second) // renewals failed meanwhile
	require.False(t, a.Valid())
	ok, err := a.TryAcquire(ctx)
	require.NoError(t, err)
	assert.True(t, ok, "nobody else wrote the key: ours again without waiting")

	other := lease.New(kv, "relay", "a", 10*time.Second) // same node id, another process
	ok, err = other.TryAcquire(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "another process with the same node id waits like anyone")
}

// A NATS server that lost its storage has no leases bucket any more: the
// bucket is made again, and the lease is taken in it (a process on a
// wiped bus leads again instead of failing for ever).
func TestTheBucketIsMadeAgainWhenTheBusLostIt(t *testing.T) {
	js := newJS(t)
	ctx := t.Context()
	kv, err := lease.OpenBucket(ctx, js, "", 1)
	require.NoError(t, err)
	a := lease.New(kv, "relay", "a", time.Hour)
	ok, err := a.TryAcquire(ctx)
	require.NoError(t, err)
	require.True(t, ok)

	require.NoError(t, js.DeleteKeyValue(ctx, lease.DefaultBucket)) // the bus lost it
	b := lease.New(kv, "relay", "b", time.Hour)
	ok, err = b.TryAcquire(ctx)
	require.NoError(t, err, "the bucket is made again")
	assert.True(t, ok, "an empty bucket: the lease is free")
	_, err = js.KeyValue(ctx, lease.DefaultBucket)
	assert.NoError(t, err, "the bucket exists again")
}

// A renewal that goes through after the lease expired locally says so:
// its fence said no meanwhile, so the work it guards may have stopped.
func TestRenewalAfterALapseSaysSo(t *testing.T) {
	_, a, c := heldLease(t)
	ctx := t.Context()
	require.NoError(t, a.Renew(ctx), "renewed in time")

	c.add(11 * time.Second) // a stall longer than the TTL
	require.False(t, a.Valid(), "the fence says no")
	err := a.Renew(ctx)
	require.ErrorIs(t, err, lease.ErrLapsed)
	assert.NotErrorIs(t, err, lease.ErrLost, "nobody took it: still ours")
	assert.True(t, a.Valid(), "renewed")
	require.NoError(t, a.Renew(ctx), "the next renewal in time is clean")
}

// The balancer restarts the work of a lease that lapsed and was renewed
// (the projection whose commit the fence refused would otherwise wait for
// a Start that never comes).
func TestBalancerRestartsTheWorkOfALapsedLease(t *testing.T) {
	kv := newKV(t)
	var mu sync.Mutex
	var calls []string
	started := make(chan struct{}, 4)
	b := lease.NewBalancer(lease.BalancerConfig{
		KV: kv, Owner: "n1", Group: "projector", Prefix: "projection", Names: []string{"p1"},
		TTL: 600 * time.Millisecond, Tick: 20 * time.Millisecond, Logger: quiet,
		Start: func(name string, _ *lease.Lease) {
			mu.Lock()
			calls = append(calls, "start")
			mu.Unlock()
			started <- struct{}{}
		},
		Stop: func(_ context.Context, name string) {
			mu.Lock()
			calls = append(calls, "stop")
			mu.Unlock()
		},
	})
	l := lease.BalancerLease(b, "p1")
	c := &clock{t: time.Now()}
	lease.SetClock(l, c.now)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	<-started
	c.add(time.Second) // a stall longer than the TTL: past validUntil
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the work was not started again after the lapse")
	}
	assert.True(t, l.Valid())
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"start", "start", "stop"}, calls, "handed over again (no stop: the tick must not wait); stopped at shutdown")
}
