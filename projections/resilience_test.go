package projections_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// Deliveries the live loop never receives (here: pulled by someone else
// and dropped) leave a gap in the consumer sequence; the loop notices it
// and starts over from its checkpoint rather than skip them.
func TestMissedDeliveriesAreNotLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := pt.NewEnv(t, pt.EnvOptions{})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	rt := startRuntime(t, env, counter)
	require.NoError(t, workload(env, 21, "s", 10, 50))
	waitFor(t, rt, env.Head(t))

	cons, err := env.JS.Consumer(ctx, env.Stream.Name, projections.ConsumerName(counterName))
	require.NoError(t, err)
	wait := writers(env, 2, 10, 150)
	stolen := 0
	for range 15 {
		mb, err := cons.Fetch(3, jetstream.FetchMaxWait(50*time.Millisecond))
		if err != nil {
			continue // the loop is recreating the consumer
		}
		for range mb.Messages() {
			stolen++ // never acknowledged
		}
	}
	require.NoError(t, wait())
	t.Logf("%d deliveries taken from the loop", stolen)
	waitFor(t, rt, env.Head(t))
	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
}

// The bus goes away and comes back: the live loop retries, then catches up.
func TestLiveLoopSurvivesABusOutage(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	rt := startRuntime(t, env, counter)
	require.NoError(t, workload(env, 22, "s", 10, 50))
	waitFor(t, rt, env.Head(t))

	env.RestartServer(t, func() {
		require.NoError(t, workload(env, 23, "s", 10, 50)) // appended while the bus is down
		require.Eventually(t, func() bool { return status(t, rt, counterName).State == projections.StateFailing },
			10*time.Second, 10*time.Millisecond)
		st := status(t, rt, counterName)
		assert.NotEmpty(t, st.LastError, "the outage is shown while it lasts")
		assert.False(t, st.LastErrorAt.IsZero())
	})
	require.NoError(t, workload(env, 24, "s", 10, 50))
	waitFor(t, rt, env.Head(t))
	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
	require.Eventually(t, func() bool { return status(t, rt, counterName).State == projections.StateRunning },
		10*time.Second, 10*time.Millisecond)
	st := status(t, rt, counterName)
	assert.Empty(t, st.LastError, "the error clears on recovery")
	assert.True(t, st.LastErrorAt.IsZero())
}

// flakyStore fails commits while fail > 0 (a store that is down).
type flakyStore struct {
	readmodel.Store
	fail atomic.Int32
}

var errStoreDown = errors.New("store down")

func (s *flakyStore) Commit(ctx context.Context, b readmodel.Batch) error {
	if s.fail.Add(-1) >= 0 {
		return errStoreDown
	}
	return s.Store.Commit(ctx, b)
}

// A store error is retried with the batch in hand: nothing is lost or
// parked, however long it lasts.
func TestStoreErrorsAreRetriedNotParked(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	flaky := &flakyStore{Store: env.Stores[dbregistry.PLATFORM]}
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	rt := newRuntime(t, env, testConfig(), func(d *projections.RuntimeDeps) {
		d.Stores = map[dbregistry.Constant]readmodel.Store{dbregistry.PLATFORM: flaky}
	}, counter)
	start(t, rt)
	flaky.fail.Store(1 << 30) // down until told otherwise: far more than MaxAttempts
	require.NoError(t, workload(env, 25, "s", 10, 100))
	require.Eventually(t, func() bool {
		st := status(t, rt, counterName)
		return st.State == projections.StateFailing && strings.Contains(st.LastError, "store down")
	}, 10*time.Second, 10*time.Millisecond)
	flaky.fail.Store(0)
	waitFor(t, rt, env.Head(t))
	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
	require.Eventually(t, func() bool { return status(t, rt, counterName).State == projections.StateRunning },
		10*time.Second, 10*time.Millisecond)
	st := status(t, rt, counterName)
	assert.Empty(t, st.Parked)
	assert.Empty(t, st.LastError, "the error clears on recovery")
}

// labels keeps one document per stream with its label, unique across
// streams: a label taken twice violates the index.
type labels struct{}

const labelsCollection = "test_labels"

func (labels) Name() string                  { return "test.labels" }
func (labels) Database() dbregistry.Constant { return dbregistry.PLATFORM }
func (labels) EventTypes() []string          { return []string{pt.TypeRenamed} }
func (labels) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{{Name: labelsCollection, Indexes: []readmodel.Index{
		{Name: "by_label", Fields: []readmodel.IndexField{{Path: "label"}}, Unique: true},
	}}}
}
func (labels) Apply(_ context.Context, tx projections.Tx, ev projections.Event) error {
	tx.Put(labelsCollection, readmodel.Doc{"_id": ev.StreamID, "label": ev.Data.(pt.Renamed).Label})
	return nil
}

// A batch the store refuses (a unique index) is committed again event by
// event: a value that moves between documents within the batch is fine,
// the event that takes a value already taken is parked — and stops a
// rebuild.
func TestUniqueViolationsAreFoundAndParked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := pt.NewEnv(t, pt.EnvOptions{})
	rename := func(stream, label string) int64 {
		return env.Append(t, stream, "team-1", pt.Renamed{Label: label}).LastPosition()
	}
	rename("s-1", "x")
	rename("s-2", "y")
	rename("s-1", "z")
	rename("s-2", "x") // x moved from s-1 to s-2
	dup := rename("s-3", "z")
	rename("s-4", "w")
	head := env.Head(t)

	p := labels{}
	rt := startRuntime(t, env, p) // everything arrives in one batch
	waitFor(t, rt, head)
	assert.Equal(t, expected(t, env, p, map[int64]bool{dup: true}), dump(t, env, p))
	st := status(t, rt, p.Name())
	require.Len(t, st.Parked, 1)
	assert.Equal(t, dup, st.Parked[0].Position)
	assert.Contains(t, st.Parked[0].Error, "duplicate")

	err := rt.Rebuild(ctx, p.Name(), nil)
	require.ErrorIs(t, err, readmodel.ErrDuplicate)
	require.ErrorContains(t, err, "position")
	assert.Equal(t, expected(t, env, p, map[int64]bool{dup: true}), dump(t, env, p))
}

// A batch held longer than the ack wait (here: a poison event's retries)
// is delivered again while the loop still works on it; the redeliveries
// are skipped and nothing is applied twice or lost.
func TestRedeliveryDuringASlowBatch(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	cfg := testConfig()
	cfg.AckWait = time.Second
	cfg.RetryBackoff = 700 * time.Millisecond // three tries: 0.7s + 1.4s, past the ack wait
	cfg.MaxBackoff = 2 * time.Second
	metrics := &countingMetrics{}
	rt := newRuntime(t, env, cfg, func(d *projections.RuntimeDeps) { d.Metrics = metrics }, counter)
	require.NoError(t, workload(env, 31, "s", 10, 60))
	poison := env.Append(t, "s-1", "team-1", pt.Incremented{By: 9, Poison: true}).LastPosition()
	require.NoError(t, workload(env, 32, "s", 10, 60))
	start(t, rt)
	waitFor(t, rt, env.Head(t))
	assert.Equal(t, expected(t, env, counter, map[int64]bool{poison: true}), dump(t, env, counter))
	require.Len(t, status(t, rt, counterName).Parked, 1)
	t.Logf("%d redeliveries skipped", metrics.skipped.Load())
}

// An event larger than the bus's max payload arrives by reference (the
// relay publishes its envelope without data): the live loop reads it from
// the event store and the read model is what the store's events make.
func TestEventsPublishedByReferenceAreReadFromTheStore(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{MaxPayload: 4 << 10})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	rt := startRuntime(t, env, counter)
	require.NoError(t, workload(env, 31, "s", 5, 20))
	ne, err := env.Codec.Encode(pt.Renamed{Label: strings.Repeat("big label ", 1000)}) // 10 KB
	require.NoError(t, err)
	_, err = env.Events.Append(context.Background(), eventstore.AppendRequest{
		StreamID: "big", StreamType: pt.StreamType, Expected: eventstore.Any,
		Events: []eventstore.NewEvent{ne}, Metadata: eventstore.Metadata{TeamID: "team-1", Actor: "test"},
	})
	require.NoError(t, err)
	require.NoError(t, workload(env, 32, "s", 5, 20))
	waitFor(t, rt, env.Head(t))
	assert.Equal(t, int64(1), env.Relay.Status().ByReference)
	got := dump(t, env, counter)
	assert.Equal(t, expected(t, env, counter, nil), got)
	assert.Contains(t, fmt.Sprint(got), "big label big label", "the large event was applied")
	st := status(t, rt, counterName)
	assert.Empty(t, st.Parked)
	assert.Equal(t, projections.StateRunning, st.State)
}

// Status reports a projection stalled once events have waited longer than
// the stall timeout without progress (here: the bus is down), says why,
// and clears it when the projection catches up again.
func TestStatusReportsAStall(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	cfg := testConfig()
	cfg.StallTimeout = 300 * time.Millisecond
	rt := newRuntime(t, env, cfg, nil, counter)
	start(t, rt)
	require.NoError(t, workload(env, 41, "s", 5, 20))
	waitFor(t, rt, env.Head(t))
	st := status(t, rt, counterName)
	require.True(t, st.StalledSince.IsZero())
	require.Empty(t, st.Problem())

	env.RestartServer(t, func() {
		require.NoError(t, workload(env, 42, "s", 5, 20)) // appended while the bus is down
		require.Eventually(t, func() bool { return !status(t, rt, counterName).StalledSince.IsZero() },
			10*time.Second, 10*time.Millisecond)
		st := status(t, rt, counterName)
		assert.Contains(t, st.Problem(), "stalled for")
		assert.Positive(t, st.LagEvents)
		assert.Positive(t, st.LagSeconds)
	})
	waitFor(t, rt, env.Head(t))
	require.Eventually(t, func() bool { return status(t, rt, counterName).StalledSince.IsZero() },
		10*time.Second, 10*time.Millisecond)
	assert.Empty(t, status(t, rt, counterName).Problem())
	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
}
