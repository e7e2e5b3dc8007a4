package relay_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/relay"
	"github.com/cspm-es/cspm-es/platform/bus"
)

// appendSized appends one event whose data is about size bytes, with
// characters that HTML escaping would inflate.
func appendSized(t testing.TB, s eventstore.Store, stream string, size int) int64 {
	t.Helper()
	data := `{"text":"` + strings.Repeat("<&>", size/3) + `"}`
	res, err := s.Append(context.Background(), eventstore.AppendRequest{
		StreamID: stream, StreamType: "ScanRun", Expected: eventstore.Any,
		Events:   []eventstore.NewEvent{{Type: "ScanFailed", SchemaVersion: 1, Data: json.RawMessage(data)}},
		Metadata: eventstore.Metadata{TeamID: "team-a", Actor: "test"},
	})
	require.NoError(t, err)
	return res.LastPosition()
}

// The embedded server takes every event the store accepts, whole.
func TestEmbeddedServerTakesTheLargestEvent(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	srv := startServer(t, t.TempDir(), -1)
	nc, js := connect(t, srv.ClientURL())
	require.Greater(t, nc.MaxPayload(), int64(eventstore.MaxEnvelopeBytes+1024), "embedded max payload")

	appendEvents(t, store, 3)
	pos := appendSized(t, store, "big", eventstore.MaxEventDataBytes-32)
	appendEvents(t, store, 3)
	r := relay.New(store, js, fastConfig())
	runRelay(t, r)
	waitCheckpoint(t, r, pos+3, 10*time.Second)
	requireStreamMatchesStore(t, js, store)
	for _, m := range streamMessages(t, js) {
		assert.Empty(t, m.Headers().Get(bus.HeaderDataRef), "nothing goes by reference")
	}
	st := r.Status()
	assert.Zero(t, st.ByReference)
	assert.False(t, st.Failing)
}

// An event larger than the server's max payload (an external server with a
// small limit, or an event stored before the size limit) is published by
// reference: the relay does not spin on it, says so, and the events after
// it flow.
func TestRelayPublishesOversizeEventsByReference(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	srv := startServerWith(t, bus.Options{StoreDir: t.TempDir(), Port: -1, MaxPayload: 8 << 10})
	_, js := connect(t, srv.ClientURL())

	appendEvents(t, store, 5)
	big := appendSized(t, store, "big", 20<<10)
	head := appendEvents(t, store, 5)
	r := relay.New(store, js, fastConfig())
	runRelay(t, r)
	waitCheckpoint(t, r, head, 10*time.Second)
	requireStreamMatchesStore(t, js, store)

	msgs := streamMessages(t, js)
	ref := msgs[big-1]
	assert.Equal(t, "store", ref.Headers().Get(bus.HeaderDataRef))
	assert.Contains(t, string(ref.Data()), `"data":null`)
	assert.Less(t, len(ref.Data()), 1024)
	for i, m := range msgs {
		if int64(i+1) != big {
			assert.Empty(t, m.Headers().Get(bus.HeaderDataRef), "position %d", i+1)
		}
	}
	st := r.Status()
	assert.Equal(t, int64(1), st.ByReference)
	assert.Equal(t, big, st.LastByReference)
	assert.False(t, st.Failing)
	assert.Empty(t, st.LastError)
}

// tooLargeJS refuses, like a server with a limit the client does not know
// (an account or cluster limit), any message over limit bytes.
type tooLargeJS struct {
	jetstream.JetStream
	limit   int
	refused atomic.Int32
}

func (j *tooLargeJS) PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if len(msg.Data) > j.limit {
		j.refused.Add(1)
		return nil, nats.ErrMaxPayload
	}
	return j.JetStream.PublishMsgAsync(msg, opts...)
}

// A refusal the relay could not predict lowers its limit: the event goes by
// reference on the next attempt, and the relay recovers on its own.
func TestRelayLearnsALimitFromARefusal(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	srv := startServer(t, t.TempDir(), -1)
	_, js := connect(t, srv.ClientURL())
	limited := &tooLargeJS{JetStream: js, limit: 8 << 10}

	appendEvents(t, store, 2)
	big := appendSized(t, store, "big", 20<<10)
	head := appendEvents(t, store, 2)
	r := relay.New(store, limited, fastConfig())
	runRelay(t, r)
	waitCheckpoint(t, r, head, 10*time.Second)
	requireStreamMatchesStore(t, js, store)
	assert.Equal(t, int32(1), limited.refused.Load(), "refused once, then sent by reference")
	msgs := streamMessages(t, js)
	assert.Equal(t, "store", msgs[big-1].Headers().Get(bus.HeaderDataRef))
	waitStatus(t, r, 5*time.Second, "recovered", func(st relay.Status) bool { return !st.Failing && st.LastError == "" })
}

// Health: a relay that cannot publish while events wait is stalled after
// the bound, says why, and is healthy again once the bus is back.
func TestRelayHealthReportsAStall(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	dir := t.TempDir()
	srv := startServer(t, dir, -1)
	port := srv.Port()
	_, js := connect(t, srv.ClientURL())
	reg := prometheus.NewRegistry()
	m, err := relay.NewPrometheusMetrics(reg)
	require.NoError(t, err)
	cfg := fastConfig()
	cfg.Metrics = m
	r := relay.New(store, js, cfg)
	runRelay(t, r)
	mctx, stopMonitor := context.WithCancel(context.Background())
	defer stopMonitor()
	go r.Monitor(mctx, 50*time.Millisecond, 10*time.Millisecond)
	gauge := func(name string) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	head := appendEvents(t, store, 10)
	waitCheckpoint(t, r, head, 10*time.Second)
	// The stream holds the events a moment before the relay has counted
	// their acks (what Health reads): wait for the relay's own count.
	require.Eventually(t, func() bool { return r.Status().Published >= head }, 10*time.Second, 5*time.Millisecond)
	ctx := context.Background()
	h := r.Health(ctx, 50*time.Millisecond)
	assert.Empty(t, h.Problem)
	assert.Zero(t, h.Lag)
	assert.Zero(t, h.LagSeconds)

	srv.Shutdown()
	head = appendEvents(t, store, 10)
	require.Eventually(t, func() bool { return r.Health(ctx, 50*time.Millisecond).Problem != "" }, 10*time.Second, 10*time.Millisecond)
	h = r.Health(ctx, 50*time.Millisecond)
	assert.Contains(t, h.Problem, "relay stalled for")
	assert.Contains(t, h.Problem, "10 events are not on the bus")
	assert.Equal(t, int64(10), h.Lag)
	assert.Positive(t, h.LagSeconds)
	assert.False(t, h.StalledSince.IsZero())
	assert.Empty(t, r.Health(ctx, time.Hour).Problem, "not stalled within a generous bound")
	waitStatus(t, r, 10*time.Second, "failing", func(st relay.Status) bool { return st.Failing && st.LastError != "" })
	require.Eventually(t, func() bool { return gauge("cspm_relay_stalled") == 1 }, 10*time.Second, 10*time.Millisecond)
	assert.Positive(t, gauge("cspm_relay_lag_seconds"))

	startServer(t, dir, port)
	waitCheckpoint(t, r, head, 20*time.Second)
	waitPublished(t, r, head, 20*time.Second) // the relay's own view, which Health reads
	waitStatus(t, r, 10*time.Second, "recovered", func(st relay.Status) bool { return !st.Failing })
	h = r.Health(ctx, 50*time.Millisecond)
	assert.Empty(t, h.Problem)
	assert.Empty(t, h.LastError, "the error clears on recovery")
	assert.True(t, h.StalledSince.IsZero())
	require.Eventually(t, func() bool { return gauge("cspm_relay_stalled") == 0 && gauge("cspm_relay_lag_seconds") == 0 },
		10*time.Second, 10*time.Millisecond)
}
