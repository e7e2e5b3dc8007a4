package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/relay"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/bus"
)

// testLogger is silent unless CSPM_TEST_LOG is set (then it writes to
// stderr, which stays valid after a test ends, unlike t.Log).
func testLogger() *slog.Logger {
	if os.Getenv("CSPM_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

const testStream = "CSPM_EVENTS_TEST"

func streamConfig() bus.StreamConfig { return bus.StreamConfig{Name: testStream} }

// fastConfig makes failures visible and retried quickly.
func fastConfig() relay.Config {
	return relay.Config{
		Stream:        streamConfig(),
		Window:        64,
		AckTimeout:    5 * time.Second,
		MismatchGrace: 50 * time.Millisecond,
		MinBackoff:    10 * time.Millisecond,
		MaxBackoff:    200 * time.Millisecond,
		Logger:        testLogger(),
	}
}

func startServer(t testing.TB, dir string, port int) *bus.Embedded {
	t.Helper()
	return startServerWith(t, bus.Options{StoreDir: dir, Port: port})
}

func startServerWith(t testing.TB, opts bus.Options) *bus.Embedded {
	t.Helper()
	opts.Logger = testLogger()
	e, err := bus.StartEmbedded(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(e.Shutdown)
	return e
}

func connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, js, err := bus.Connect(context.Background(), url, bus.ConnectOptions{
		ReconnectWait:       50 * time.Millisecond,
		PublishAsyncTimeout: 5 * time.Second,
		Logger:              testLogger(),
	})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc, js
}

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "events.sqlite"),
		sqlite.Options{Synchronous: "normal", PollInterval: 20 * time.Millisecond, Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// appendEvents appends n events in appends of up to 3 events, alternating
// ScanRun and Finding streams, and returns the store's head.
func appendEvents(t testing.TB, s eventstore.Store, n int) int64 {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; {
		k := min(1+i%3, n-i)
		typ, evType, team := "ScanRun", "ScanRequested", "team-a"
		if i%2 == 1 {
			typ, evType, team = "Finding", "FindingObserved", "team-b"
		}
		evs := make([]eventstore.NewEvent, k)
		for j := range evs {
			evs[j] = eventstore.NewEvent{Type: evType, SchemaVersion: 1,
				Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i+j, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))}
		}
		_, err := s.Append(ctx, eventstore.AppendRequest{
			StreamID:   typ + "-" + uuid.NewString(),
			StreamType: typ,
			Expected:   eventstore.NoStream,
			Events:     evs,
			Metadata:   eventstore.Metadata{TeamID: team, Actor: "test"},
		})
		require.NoError(t, err)
		i += k
	}
	head, err := s.HeadPosition(ctx)
	require.NoError(t, err)
	return head
}

// streamMessages reads every message of the stream in sequence order.
func streamMessages(t testing.TB, js jetstream.JetStream) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, testStream)
	require.NoError(t, err)
	last := s.CachedInfo().State.LastSeq
	if last == 0 {
		return nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	var out []jetstream.Msg
	for uint64(len(out)) < last {
		batch, err := c.Fetch(int(min(500, last-uint64(len(out)))), jetstream.FetchMaxWait(2*time.Second))
		require.NoError(t, err)
		n := 0
		for m := range batch.Messages() {
			out = append(out, m)
			n++
		}
		require.NoError(t, batch.Error())
		require.NotZero(t, n, "stream stalled after %d of %d messages", len(out), last)
	}
	return out
}

// requireStreamMatchesStore checks invariant 3 on the bus side: the stream
// holds every store event exactly once, stream sequence == position, with
// the envelope and the headers the relay promises.
func requireStreamMatchesStore(t testing.TB, js jetstream.JetStream, s eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	head, err := s.HeadPosition(ctx)
	require.NoError(t, err)
	evs, err := s.ReadAll(ctx, 0, int(head)+1)
	require.NoError(t, err)
	require.Len(t, evs, int(head))

	msgs := streamMessages(t, js)
	require.Len(t, msgs, len(evs), "stream length != store head")
	for i, m := range msgs {
		e := evs[i]
		md, err := m.Metadata()
		require.NoError(t, err)
		require.Equal(t, uint64(e.Position), md.Sequence.Stream, "stream sequence != position")
		require.NotEmpty(t, e.LogHash)
		e.LogHash = "" // the bus carries no log hash
		h := m.Headers()
		if h.Get(bus.HeaderDataRef) != "" {
			e.Data = nil // published by reference: the envelope without its data
		}
		require.Equal(t, string(envelope(t, e)), string(m.Data()), "envelope at position %d", e.Position)
		require.Equal(t, e.EventID, h.Get(bus.HeaderMsgID))
		require.Equal(t, e.EventID, h.Get(bus.HeaderWatermillUUID))
		require.Equal(t, strconv.FormatInt(e.Position, 10), h.Get(bus.HeaderPosition))
		require.Equal(t, e.Type, h.Get(bus.HeaderEventType))
		require.Equal(t, e.StreamID, h.Get(bus.HeaderStreamID))
		require.Equal(t, e.Metadata.TeamID, h.Get(bus.HeaderTeamID))
		require.Equal(t, streamConfig().Subject(relay.DefaultModuleOf(e.StreamType), e.Type), m.Subject())
	}
}

// runRelay runs r until the test ends and returns a func that stops it and
// returns Run's error.
func runRelay(t testing.TB, r *relay.Relay) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("relay did not stop within 10s of cancel")
			}
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitPublished waits until the relay reports want published, failing
// after the deadline with its status.
func waitPublished(t testing.TB, r *relay.Relay, want int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for r.Status().Published < want {
		if time.Now().After(deadline) {
			require.FailNowf(t, "relay did not converge", "want published %d within %s; status %+v", want, within, r.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitCheckpoint waits until the stream itself holds want messages.
func waitCheckpoint(t testing.TB, r *relay.Relay, want int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		got, err := r.Checkpoint(ctx)
		cancel()
		if err == nil && got >= want {
			require.Equal(t, want, got, "stream went past the store head")
			return
		}
		if time.Now().After(deadline) {
			require.FailNowf(t, "stream did not converge", "want %d within %s; last %d (err %v); status %+v", want, within, got, err, r.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStatus waits until cond holds for the relay's status.
func waitStatus(t testing.TB, r *relay.Relay, within time.Duration, what string, cond func(relay.Status) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond(r.Status()) {
		if time.Now().After(deadline) {
			require.FailNowf(t, "relay status condition not reached", "%s within %s; status %+v", what, within, r.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// envelope is the message payload of e: encoding/json without HTML escaping.
func envelope(t testing.TB, e eventstore.RecordedEvent) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(e))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
