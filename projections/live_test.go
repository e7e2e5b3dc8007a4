package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

func TestLiveProjectsEveryEventOnce(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	require.NoError(t, workload(env, 1, "early", 20, 150)) // before the runtime starts

	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	ledger := pt.NewLedger("test.ledger", dbregistry.PLATFORM, pt.TypeIncremented, pt.TypeRenamed)
	reg := prometheus.NewRegistry()
	metrics, err := projections.NewPrometheusMetrics(reg)
	require.NoError(t, err)
	rt := newRuntime(t, env, testConfig(), func(d *projections.RuntimeDeps) { d.Metrics = metrics }, counter, ledger)
	start(t, rt)

	require.NoError(t, writers(env, 3, 15, 100)()) // while it runs
	head := env.Head(t)
	waitFor(t, rt, head) // every projection

	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
	assert.Equal(t, expected(t, env, ledger, nil), dump(t, env, ledger), "one document per event: none lost, none doubled")
	n := len(expected(t, env, ledger, nil)[pt.LedgerCollection])
	assert.Equal(t, float64(n), metricValue(t, reg, "cspm_projection_events_applied_total", "test.ledger"))
	assert.Equal(t, 0.0, metricValue(t, reg, "cspm_projection_parked_events", counterName))

	st := status(t, rt, counterName)
	assert.Equal(t, projections.StateRunning, st.State)
	assert.Equal(t, "test_counter", st.Consumer)
	assert.Equal(t, dbregistry.PLATFORM, st.Database)
	assert.Equal(t, head, st.Head)
	assert.GreaterOrEqual(t, st.Processed, st.Checkpoint)
	assert.Equal(t, head, st.Processed)
	assert.Zero(t, st.LagEvents)
	assert.Zero(t, st.LagSeconds)
	assert.Empty(t, st.Parked)
	assert.Empty(t, st.StatusError)
}

func TestRedeliveriesChangeNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := pt.NewEnv(t, pt.EnvOptions{})
	require.NoError(t, workload(env, 2, "s", 10, 150))
	head := env.Head(t)
	first := pt.NewCounter(counterName, dbregistry.PLATFORM)
	rt := startRuntime(t, env, first)
	waitFor(t, rt, head)
	stop(t, rt)
	want := dump(t, env, first)
	require.Equal(t, expected(t, env, first, nil), want)

	// Rewind the consumer to the start of the stream: everything is
	// delivered again.
	consumer := projections.ConsumerName(counterName)
	require.NoError(t, env.JS.DeleteConsumer(ctx, env.Stream.Name, consumer))
	_, err := bus.EnsureDurableConsumer(ctx, env.JS, env.Stream.Name, consumer,
		projections.Subjects(env.Stream, nil, first.EventTypes()), bus.ConsumerOptions{})
	require.NoError(t, err)

	again := pt.NewCounter(counterName, dbregistry.PLATFORM)
	skipped := &countingMetrics{}
	rt2 := newRuntime(t, env, testConfig(), func(d *projections.RuntimeDeps) { d.Metrics = skipped }, again)
	start(t, rt2)
	require.Eventually(t, func() bool {
		c, err := env.JS.Consumer(ctx, env.Stream.Name, consumer)
		return err == nil && c.CachedInfo().NumPending == 0 && c.CachedInfo().NumAckPending == 0
	}, 20*time.Second, 20*time.Millisecond)
	assert.Positive(t, skipped.skipped.Load(), "the redeliveries were seen")
	assert.Zero(t, again.Applies(), "and skipped: nothing applied twice")
	assert.Equal(t, want, dump(t, env, again))

	// A new event after the redeliveries is applied once.
	res := env.Append(t, "s-1", "team-1", pt.Incremented{By: 5})
	waitFor(t, rt2, res.LastPosition())
	assert.Equal(t, int64(1), again.Applies())
	assert.Equal(t, expected(t, env, first, nil), dump(t, env, again))
}

// A process that dies after applying a batch — before its commit, or
// after the commit and before the ack — leaves deliveries unacknowledged.
// The next run starts from the checkpoint: nothing lost, nothing doubled.
func TestCrashBeforeCommitOrAckLosesNothing(t *testing.T) {
	t.Parallel()
	for _, when := range []string{"commit", "ack"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			env := pt.NewEnv(t, pt.EnvOptions{})
			require.NoError(t, workload(env, 3, "s", 10, 200))
			head := env.Head(t)

			counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
			rt := newRuntime(t, env, testConfig(), nil, counter)
			var crashed atomic.Int64
			hook := func(_ string, checkpoint int64) error {
				if checkpoint > head/2 && crashed.CompareAndSwap(0, checkpoint) {
					return errors.New("killed")
				}
				return nil
			}
			if when == "commit" {
				projections.SetCrashHooks(rt, hook, nil)
			} else {
				projections.SetCrashHooks(rt, nil, hook)
			}
			start(t, rt)
			require.Eventually(t, func() bool { return status(t, rt, counterName).State == projections.StateStopped },
				20*time.Second, 10*time.Millisecond, "the loop crashed")
			stop(t, rt)
			cp := status(t, rt, counterName).Checkpoint
			if when == "commit" {
				assert.Less(t, cp, crashed.Load(), "the crashed batch was not committed")
			} else {
				assert.Equal(t, crashed.Load(), cp, "the crashed batch was committed, not acknowledged")
			}

			// Restart within the ack wait: the consumer still holds the
			// unacknowledged deliveries.
			again := pt.NewCounter(counterName, dbregistry.PLATFORM)
			rt2 := startRuntime(t, env, again)
			waitFor(t, rt2, head)
			assert.Equal(t, expected(t, env, again, nil), dump(t, env, again))
			res := env.Append(t, "s-new", "team-0", pt.Incremented{By: 1})
			waitFor(t, rt2, res.LastPosition())
			assert.Equal(t, expected(t, env, again, nil), dump(t, env, again))
		})
	}
}

func TestPoisonEventIsParkedAndRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := pt.NewEnv(t, pt.EnvOptions{})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM) // broken: poison events fail
	rt := startRuntime(t, env, counter)

	require.NoError(t, workload(env, 4, "s", 5, 30))
	poison := env.Append(t, "s-1", "team-1", pt.Incremented{By: 100, Poison: true}).LastPosition()
	// Data the codec cannot decode is poison too.
	bad, err := env.Events.Append(ctx, eventstoreRequest("s-2", "team-2", pt.TypeIncremented, `{"by":"many"}`))
	require.NoError(t, err)
	undecodable := bad.LastPosition()
	require.NoError(t, workload(env, 5, "s", 5, 30)) // later events, same streams
	head := env.Head(t)
	waitFor(t, rt, head)

	skip := map[int64]bool{poison: true, undecodable: true}
	assert.Equal(t, expected(t, env, counter, skip), dump(t, env, counter), "later events projected")
	st := status(t, rt, counterName)
	assert.Equal(t, projections.StateRunning, st.State)
	require.Len(t, st.Parked, 2)
	assert.Equal(t, 2, st.ParkedCount)
	p := st.Parked[0]
	assert.Equal(t, poison, p.Position)
	assert.Equal(t, pt.TypeIncremented, p.Type)
	assert.Equal(t, "s-1", p.StreamID)
	assert.Equal(t, 3, p.Attempts, "MaxAttempts")
	assert.Contains(t, p.Error, "poison event")
	assert.False(t, p.ParkedAt.IsZero())
	assert.Equal(t, undecodable, st.Parked[1].Position)
	assert.Contains(t, st.Parked[1].Error, "decode")

	// Still broken: the retry fails, the event stays parked.
	_, err = rt.RetryParked(ctx, counterName, poison)
	require.ErrorIs(t, err, pt.ErrPoison)
	parked, err := rt.Parked(ctx, counterName)
	require.NoError(t, err)
	require.Len(t, parked, 2)
	assert.Equal(t, 4, parked[0].Attempts)

	// Fixed: the retry applies it and clears the record.
	counter.Fix()
	applied, err := rt.RetryParked(ctx, counterName, poison)
	require.NoError(t, err)
	assert.Equal(t, 1, applied)
	// As applied: in order without the parked ones, then the retried one.
	order := append(positions(1, head, poison, undecodable), poison)
	assert.Equal(t, expectedOrder(t, env, counter, order), dump(t, env, counter))

	// The undecodable one cannot be fixed by the projection: skip it.
	_, err = rt.RetryParked(ctx, counterName, undecodable)
	require.Error(t, err)
	removed, err := rt.SkipParked(ctx, counterName, undecodable)
	require.NoError(t, err)
	assert.Equal(t, 1, removed)
	_, err = rt.SkipParked(ctx, counterName, undecodable)
	require.ErrorIs(t, err, projections.ErrNotParked)
	assert.Empty(t, status(t, rt, counterName).Parked)

	// The live loop goes on after the retry (its cache was dropped).
	res := env.Append(t, "s-1", "team-1", pt.Incremented{By: 7})
	waitFor(t, rt, res.LastPosition())
	order = append(order, positions(head+1, res.LastPosition())...)
	assert.Equal(t, expectedOrder(t, env, counter, order), dump(t, env, counter))
}

func TestWaitForPositionsOfOtherTypes(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	rt := startRuntime(t, env, counter)
	inc := env.Append(t, "s-1", "team-1", pt.Incremented{By: 1}).LastPosition()
	waitFor(t, rt, inc, counterName)

	// Counter does not listen to Noted: its checkpoint stays, yet it has
	// processed the position.
	noted := env.Append(t, "s-1", "team-1", pt.Noted{Text: "x"}).LastPosition()
	begin := time.Now()
	waitFor(t, rt, noted, counterName)
	assert.Less(t, time.Since(begin), 5*time.Second, "within a probe or two, not a timeout")
	st := status(t, rt, counterName)
	assert.Equal(t, inc, st.Checkpoint)
	assert.GreaterOrEqual(t, st.Processed, noted)
	through, ok := rt.Processed([]string{counterName})
	assert.True(t, ok, "known without reading a store")
	assert.GreaterOrEqual(t, through, noted)
	_, ok = rt.Processed([]string{"nope"})
	assert.False(t, ok, "unknown projection")

	// Many waiters at once, for an event appended after they started.
	var wg sync.WaitGroup
	results := make(chan bool, 20)
	next := noted + 2
	for range 20 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			results <- rt.WaitFor(ctx, []string{counterName}, next)
		})
	}
	env.Append(t, "s-2", "team-2", pt.Noted{Text: "y"}, pt.Incremented{By: 2})
	wg.Wait()
	close(results)
	for ok := range results {
		assert.True(t, ok)
	}

	// A position nobody appended: false when the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	assert.False(t, rt.WaitFor(ctx, nil, env.Head(t)+10))
	assert.False(t, rt.WaitFor(context.Background(), []string{"nope"}, 1), "unknown projection")
}

func TestRegisterRefusesWiringErrors(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{NoRelay: true})
	rt := projections.NewRuntime(testConfig(), env.Deps())
	rt.Register(pt.NewCounter("a.b", dbregistry.PLATFORM))
	assert.PanicsWithValue(t, `projections: projection "a.b" registered twice`,
		func() { rt.Register(pt.NewCounter("a.b", dbregistry.PLATFORM)) })
	assert.PanicsWithValue(t, `projections: projections "a.b" and "a_b" map to the same consumer "a_b"`,
		func() { rt.Register(pt.NewCounter("a_b", dbregistry.PLATFORM)) })
	assert.Panics(t, func() { rt.Register(pt.NewCounter("x", dbregistry.BIA)) }, "no store for BIA")
	assert.Panics(t, func() { rt.Register(pt.NewCounter("bad name", dbregistry.PLATFORM)) })
	assert.Panics(t, func() { rt.Register(bare{name: "l"}) }, "no event types")
	assert.Panics(t, func() { rt.Register(bare{name: "m", types: []string{"X"}, coll: projections.ParkedCollection}) }, "reserved")
	assert.Panics(t, func() { rt.Register(bare{name: "n", types: []string{"X"}, coll: "x__y"}) }, "a shadow name")
	assert.Equal(t, []string{"a.b"}, rt.Names())

	noJS := env.Deps()
	noJS.JetStream = nil
	require.ErrorContains(t, projections.NewRuntime(testConfig(), noJS).Start(context.Background()), "no JetStream")
}

func metricValue(t *testing.T, reg *prometheus.Registry, name, projection string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "projection" && l.GetValue() == projection {
					switch {
					case m.Counter != nil:
						return m.Counter.GetValue()
					case m.Gauge != nil:
						return m.Gauge.GetValue()
					}
				}
			}
		}
	}
	return 0
}

// countingMetrics counts skipped redeliveries.
type countingMetrics struct{ skipped atomic.Int64 }

func (m *countingMetrics) Committed(string, int, time.Duration) {}
func (m *countingMetrics) Skipped(_ string, n int)              { m.skipped.Add(int64(n)) }
func (m *countingMetrics) EventParked(string)                   {}
func (m *countingMetrics) Parked(string, int)                   {}
func (m *countingMetrics) Lag(string, int64)                    {}
func (m *countingMetrics) LagSeconds(string, float64, bool)     {}
func (m *countingMetrics) Visible(string, time.Duration)        {}

func eventstoreRequest(stream, team, typ, data string) eventstore.AppendRequest {
	return eventstore.AppendRequest{StreamID: stream, StreamType: pt.StreamType, Expected: eventstore.Any,
		Metadata: eventstore.Metadata{TeamID: team},
		Events:   []eventstore.NewEvent{{Type: typ, SchemaVersion: 1, Data: json.RawMessage(data)}}}
}

// bare is a projection that applies nothing.
type bare struct {
	name  string
	types []string
	coll  string
}

func (b bare) Name() string                  { return b.name }
func (b bare) Database() dbregistry.Constant { return dbregistry.PLATFORM }
func (b bare) EventTypes() []string          { return b.types }
func (b bare) Collections() []readmodel.CollectionSpec {
	if b.coll == "" {
		return nil
	}
	return []readmodel.CollectionSpec{{Name: b.coll}}
}
func (b bare) Apply(context.Context, projections.Tx, projections.Event) error { return nil }
