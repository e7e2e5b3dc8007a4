package projections_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// retainedBytes bounds the test stream: a few dozen events' messages, so
// that appending a few hundred more pushes the oldest out
// deterministically (no waiting for an age to pass).
const retainedBytes = 48 << 10

// streamFirstAfterRelay waits until the relay has published through head, then
// returns the stream's first sequence.
func streamFirstAfterRelay(t *testing.T, env *pt.Env, head int64) int64 {
	t.Helper()
	var first int64
	require.Eventually(t, func() bool {
		s, err := env.JS.Stream(context.Background(), env.Stream.Name)
		if err != nil {
			return false
		}
		st := s.CachedInfo().State
		first = bus.FirstSeq(st)
		return int64(st.LastSeq) == head
	}, 20*time.Second, 10*time.Millisecond, "the relay did not publish through %d", head)
	return first
}

// A projector stopped while the bus drops the events it has not
// processed (bounded retention) catches up from the event store when it
// starts again, then goes on with the bus: every event exactly once
// (decision 104).
func TestStoppedProjectorBehindRetentionCatchesUpFromTheStore(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{Stream: bus.StreamConfig{MaxBytes: retainedBytes}})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	ledger := pt.NewLedger("test.ledger", dbregistry.PLATFORM, pt.TypeIncremented, pt.TypeRenamed)

	require.NoError(t, workload(env, 1, "early", 10, 20))
	rt := newRuntime(t, env, testConfig(), nil, counter, ledger)
	require.NoError(t, rt.Start(context.Background()))
	waitFor(t, rt, env.Head(t))
	stopped := env.Head(t)
	stop(t, rt)

	require.NoError(t, workload(env, 2, "while-stopped", 10, 400))
	head := env.Head(t)
	first := streamFirstAfterRelay(t, env, head)
	require.Greater(t, first, stopped+1, "the bus must have dropped events the projector has not seen")

	reg := prometheus.NewRegistry()
	metrics, err := projections.NewPrometheusMetrics(reg)
	require.NoError(t, err)
	rt = newRuntime(t, env, testConfig(), func(d *projections.RuntimeDeps) { d.Metrics = metrics }, counter, ledger)
	start(t, rt)
	waitFor(t, rt, head)
	require.NoError(t, workload(env, 3, "after", 10, 30)) // and the bus again
	waitFor(t, rt, env.Head(t))

	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
	assert.Equal(t, expected(t, env, ledger, nil), dump(t, env, ledger), "one document per event: none lost, none doubled")
	assert.GreaterOrEqual(t, metricValue(t, reg, "cspm_projection_store_catchups_total", "test.ledger"), 1.0)
	assert.GreaterOrEqual(t, metricValue(t, reg, "cspm_projection_store_catchup_events_total", "test.ledger"), float64(first-1-stopped))
	st := status(t, rt, "test.ledger")
	assert.Equal(t, projections.StateRunning, st.State)
	assert.Empty(t, st.Parked)
}

// A running projector that falls behind what the bus holds (held up in a
// commit while the bus drops the events after its batch) notices the
// hole on its next delivery, catches up from the store and rejoins the
// bus.
func TestRunningProjectorBehindRetentionCatchesUpFromTheStore(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{Stream: bus.StreamConfig{MaxBytes: retainedBytes}})
	ledger := pt.NewLedger("test.ledger", dbregistry.PLATFORM, pt.TypeIncremented, pt.TypeRenamed)

	require.NoError(t, workload(env, 1, "early", 10, 20))
	var (
		mu      sync.Mutex
		hold    bool
		held    = make(chan int64, 1)
		release = make(chan struct{})
	)
	cfg := testConfig()
	cfg.AckWait = time.Minute // no redelivery while it is held
	rt := newRuntime(t, env, cfg, nil, ledger)
	projections.SetCrashHooks(rt, func(_ string, cp int64) error {
		mu.Lock()
		h := hold
		hold = false
		mu.Unlock()
		if h {
			held <- cp
			<-release
		}
		return nil
	}, nil)
	start(t, rt)
	waitFor(t, rt, env.Head(t))

	mu.Lock()
	hold = true
	mu.Unlock()
	env.Append(t, "one", "team-0", pt.Incremented{By: 1})
	at := <-held // the live loop holds this batch, not yet committed
	require.NoError(t, workload(env, 2, "while-held", 10, 400))
	head := env.Head(t)
	first := streamFirstAfterRelay(t, env, head)
	require.Greater(t, first, at+1, "the bus must have dropped events after the held batch")
	close(release)

	waitFor(t, rt, head)
	assert.Equal(t, expected(t, env, ledger, nil), dump(t, env, ledger), "one document per event: none lost, none doubled")
}

// A projection of a rare event type idles while other events overflow the
// bus: it still reports the stream processed (WaitFor), reads past the
// dropped range from the store when its probe finds the bus ahead, and
// applies its next event once.
func TestIdleProjectionWhileTheBusDropsOtherEvents(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{Stream: bus.StreamConfig{MaxBytes: retainedBytes}})
	rare := pt.NewLedger("test.rare", dbregistry.PLATFORM, pt.TypeClosed)
	rt := startRuntime(t, env, rare)

	env.Append(t, "s-0", "team-0", pt.Closed{})
	waitFor(t, rt, env.Head(t))
	for i := range 40 {
		notes := make([]any, 10)
		for j := range notes {
			notes[j] = pt.Noted{Text: "other"}
		}
		env.Append(t, fmt.Sprintf("n-%d", i), "team-1", notes...)
	}
	head := env.Head(t)
	require.Greater(t, streamFirstAfterRelay(t, env, head), int64(2), "the bus must have dropped the rare event and what followed")
	waitFor(t, rt, head)

	env.Append(t, "s-1", "team-0", pt.Closed{})
	waitFor(t, rt, env.Head(t))
	assert.Equal(t, expected(t, env, rare, nil), dump(t, env, rare))
	assert.Equal(t, projections.StateRunning, status(t, rt, "test.rare").State)
}

// The bus drops a projection's next events in the moment between its
// catch-up check and the making of its consumer, and only events it does
// not listen to follow: the new consumer never delivers anything, and the
// server sets its ack floor past the messages that left. The probe must
// not take that floor for progress: the projection catches up from the
// store (found under load in TestProjectorBehindBusRetention/age:
// findings skipped for good).
func TestAConsumerStartedPastLostMessagesIsNotTakenForProgress(t *testing.T) {
	t.Parallel()
	env := pt.NewEnv(t, pt.EnvOptions{Stream: bus.StreamConfig{MaxBytes: retainedBytes}})
	rare := pt.NewLedger("test.rare", dbregistry.PLATFORM, pt.TypeClosed)
	env.Append(t, "s-0", "team-0", pt.Closed{})
	streamFirstAfterRelay(t, env, env.Head(t))

	rt := newRuntime(t, env, testConfig(), nil, rare)
	var once sync.Once
	projections.SetConsumerHook(rt, func(string, int64) {
		once.Do(func() {
			for i := range 3 { // the projection's next events...
				env.Append(t, fmt.Sprintf("s-%d", i+1), "team-0", pt.Closed{})
			}
			for i := range 40 { // ...leave the bus behind events it does not listen to
				notes := make([]any, 10)
				for j := range notes {
					notes[j] = pt.Noted{Text: "other"}
				}
				env.Append(t, fmt.Sprintf("n-%d", i), "team-1", notes...)
			}
			require.Greater(t, streamFirstAfterRelay(t, env, env.Head(t)), int64(5), "the bus must have dropped them")
		})
	})
	start(t, rt)
	waitFor(t, rt, env.Head(t))
	assert.Equal(t, expected(t, env, rare, nil), dump(t, env, rare), "the events that left the bus undelivered are applied, from the store")
}
