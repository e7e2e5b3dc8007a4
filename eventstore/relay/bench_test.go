package relay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/relay"
	"github.com/cspm-es/cspm-es/platform/bus"
)

// benchEvents is how many events each iteration publishes.
const benchEvents = 20_000

// BenchmarkRelay compares, in the same run against the same embedded
// server and stream configuration, raw js.PublishAsync of the relay's exact
// envelope bytes (sliding window of 256 in flight) with the relay
// publishing the same pre-appended events from the SQLite store (window
// 256: read, encode, publish with expected-last-sequence, wait for the
// window's acks). Each iteration resets the stream and runs both, so noise
// hits both alike. Reported: raw_events/s, raw_hdr_events/s (raw with the
// relay's headers), relay_events/s, relay/raw.
//
//	go test -run '^$' -bench BenchmarkRelay -benchtime 5x ./eventstore/relay/
func BenchmarkRelay(b *testing.B) {
	ctx := context.Background()
	srv := startServer(b, b.TempDir(), -1)
	store := openStore(b)
	for i := 0; i < benchEvents; i += 100 {
		evs := make([]eventstore.NewEvent, 100)
		for j := range evs {
			evs[j] = eventstore.NewEvent{Type: "FindingObserved", SchemaVersion: 1,
				Data: json.RawMessage(fmt.Sprintf(`{"finding_id":"f-%d","severity":"high","resource":"arn:aws:s3:::bucket-%d","check":"s3_bucket_public_access"}`, i+j, i+j))}
		}
		_, err := store.Append(ctx, eventstore.AppendRequest{
			StreamID: "Finding-" + uuid.NewString(), StreamType: "Finding", Expected: eventstore.NoStream,
			Events: evs, Metadata: eventstore.Metadata{TeamID: "team-a", Actor: "bench"},
		})
		require.NoError(b, err)
	}

	// The raw publisher's messages: the relay's payload bytes and subjects.
	stored, err := store.ReadAll(ctx, 0, benchEvents)
	require.NoError(b, err)
	cfg := streamConfig()
	type rawMsg struct {
		subject string
		data    []byte
	}
	raw := make([]rawMsg, len(stored))
	var bytes int
	for i := range stored {
		data, err := json.Marshal(stored[i])
		require.NoError(b, err)
		raw[i] = rawMsg{cfg.Subject(relay.DefaultModuleOf(stored[i].StreamType), stored[i].Type), data}
		bytes += len(data)
	}

	rawNC, err := nats.Connect(srv.ClientURL())
	require.NoError(b, err)
	defer rawNC.Close()
	rawJS, err := jetstream.New(rawNC, jetstream.WithPublishAsyncMaxPending(256))
	require.NoError(b, err)
	_, js := connect(b, srv.ClientURL())
	rl := relay.New(store, js, relay.Config{Stream: cfg, Logger: testLogger()}) // Window 256

	reset := func() {
		require.NoError(b, bus.DeleteStream(ctx, js, cfg.Name))
		_, err := bus.EnsureStream(ctx, js, cfg)
		require.NoError(b, err)
	}

	// The same bytes with every header the relay sets (Nats-Msg-Id and
	// Nats-Expected-Last-Sequence included): separates the server's cost
	// of headers, de-duplication and the sequence check from the relay's
	// own (store read, encode, windowed waits).
	hdrMsgs := func() []*nats.Msg {
		out := make([]*nats.Msg, len(stored))
		for i, e := range stored {
			out[i] = &nats.Msg{Subject: raw[i].subject, Data: raw[i].data, Header: nats.Header{
				bus.HeaderWatermillUUID: {e.EventID}, bus.HeaderPosition: {fmt.Sprint(e.Position)},
				bus.HeaderEventType: {e.Type}, bus.HeaderStreamID: {e.StreamID},
				bus.HeaderStreamType: {e.StreamType}, bus.HeaderTeamID: {e.Metadata.TeamID},
				bus.HeaderMsgID: {e.EventID}, bus.HeaderExpectedLastSeq: {fmt.Sprint(e.Position - 1)},
				nats.ExpectedStreamHdr: {cfg.Name},
			}}
		}
		return out
	}

	var rawDur, hdrDur, relayDur time.Duration
	iters := 0
	for b.Loop() {
		iters++
		b.StopTimer()
		reset()
		b.StartTimer()
		t0 := time.Now()
		for _, m := range raw {
			if _, err := rawJS.PublishAsync(m.subject, m.data); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-rawJS.PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			b.Fatal("raw publish: acks missing after 30s")
		}
		rawDur += time.Since(t0)

		b.StopTimer()
		reset()
		msgs := hdrMsgs()
		b.StartTimer()
		t0 = time.Now()
		for _, m := range msgs {
			if _, err := rawJS.PublishMsgAsync(m); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-rawJS.PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			b.Fatal("raw publish with headers: acks missing after 30s")
		}
		hdrDur += time.Since(t0)

		b.StopTimer()
		reset()
		b.StartTimer()
		t0 = time.Now()
		n, err := rl.CatchUp(ctx)
		relayDur += time.Since(t0)
		if err != nil || n != benchEvents {
			b.Fatalf("relay published %d of %d: %v", n, benchEvents, err)
		}
	}
	b.StopTimer()

	total := float64(iters * benchEvents)
	rawRate := total / rawDur.Seconds()
	relayRate := total / relayDur.Seconds()
	b.ReportMetric(rawRate, "raw_events/s")
	b.ReportMetric(total/hdrDur.Seconds(), "raw_hdr_events/s")
	b.ReportMetric(relayRate, "relay_events/s")
	b.ReportMetric(relayRate/rawRate, "relay/raw")
	b.ReportMetric(float64(bytes)/float64(len(raw)), "envelope_bytes")
}
