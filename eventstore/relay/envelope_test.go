package relay

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
)

func TestEncodeEnvelopeIsJSONMarshalWithoutHTMLEscaping(t *testing.T) {
	t.Parallel()
	require.True(t, fastEnvelope, "eventstore.RecordedEvent or Metadata changed: update appendEnvelope and its field lists")

	at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	base := eventstore.RecordedEvent{
		EventID: "0193b1d2-7c1e-7000-8000-000000000001", StreamID: "Finding-1", StreamType: "Finding",
		Version: 3, Position: 1234567, Type: "FindingObserved", SchemaVersion: 2,
		Data: json.RawMessage(`{"a":1,"b":[true,null,"x"]}`),
		Metadata: eventstore.Metadata{TeamID: "team-a", Actor: "alice", CorrelationID: "c", CausationID: "d", CommandID: "e",
			Route: "POST /api/v1/scans/:id/start", IdempotencyKey: "k<1>"},
		RecordedAt: at, PrevHash: "ab", Hash: "cd", LogHash: "ef",
	}
	cases := map[string]func(e *eventstore.RecordedEvent){
		"plain":             func(*eventstore.RecordedEvent) {},
		"no metadata":       func(e *eventstore.RecordedEvent) { e.Metadata = eventstore.Metadata{} },
		"some metadata":     func(e *eventstore.RecordedEvent) { e.Metadata = eventstore.Metadata{Actor: "x", CommandID: "y"} },
		"route only":        func(e *eventstore.RecordedEvent) { e.Metadata = eventstore.Metadata{Route: "cli keys create"} },
		"key only":          func(e *eventstore.RecordedEvent) { e.Metadata = eventstore.Metadata{IdempotencyKey: "k"} },
		"empty data":        func(e *eventstore.RecordedEvent) { e.Data = nil },
		"spaced data":       func(e *eventstore.RecordedEvent) { e.Data = json.RawMessage("{ \"a\" : [ 1 ,\n 2 ] }\n") },
		"html in data":      func(e *eventstore.RecordedEvent) { e.Data = json.RawMessage(`{"h":"<b>&amp;</b>"}`) },
		"separators":        func(e *eventstore.RecordedEvent) { e.Data = json.RawMessage("{\"s\":\"a\u2028b\u2029\"}") },
		"escapes in string": func(e *eventstore.RecordedEvent) { e.StreamID = "a\"b\\c\n\r\t\b\f\x01\x1f<>&é\u2028\u2029😀" },
		"invalid utf8":      func(e *eventstore.RecordedEvent) { e.Metadata.Actor = "a\xffb\xc3" },
		"zero time":         func(e *eventstore.RecordedEvent) { e.RecordedAt = time.Time{} },
		"whole second":      func(e *eventstore.RecordedEvent) { e.RecordedAt = at.Truncate(time.Second) },
		"millis":            func(e *eventstore.RecordedEvent) { e.RecordedAt = at.Truncate(time.Millisecond) },
		"zone":              func(e *eventstore.RecordedEvent) { e.RecordedAt = at.In(time.FixedZone("x", -3*3600-1800)) },
		"odd zone":          func(e *eventstore.RecordedEvent) { e.RecordedAt = at.In(time.FixedZone("lmt", 3208)) },
		"negative":          func(e *eventstore.RecordedEvent) { e.Version, e.Position, e.SchemaVersion = -1, 0, -7 },
		"invalid data":      func(e *eventstore.RecordedEvent) { e.Data = json.RawMessage(`{"a":`) },
		"no log hash":       func(e *eventstore.RecordedEvent) { e.LogHash = "" },
		"extra metadata": func(e *eventstore.RecordedEvent) {
			e.Metadata.Extra = map[string]json.RawMessage{"x": json.RawMessage(`{"a":1}`), "b": json.RawMessage(`"<"`)}
		},
	}
	// marshalEnvelope itself is encoding/json without HTML escaping.
	e := base
	e.Data = json.RawMessage(`{"h":"<&>"}`)
	e.Metadata = eventstore.Metadata{Actor: "<a&b>"}
	got, err := marshalEnvelope(&e)
	require.NoError(t, err)
	assert.Contains(t, string(got), `"data":{"h":"<&>"}`)
	assert.Contains(t, string(got), `"actor":"<a&b>"`)
	var back eventstore.RecordedEvent
	require.NoError(t, json.Unmarshal(got, &back))
	assert.Equal(t, e, back)

	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := base
			mutate(&e)
			bus := e
			bus.LogHash = "" // the bus carries no log hash
			want, wantErr := marshalEnvelope(&bus)
			got, err := encodeEnvelope(&e)
			if wantErr != nil {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}
}

func BenchmarkEncodeEnvelope(b *testing.B) {
	e := eventstore.RecordedEvent{
		EventID: "0193b1d2-7c1e-7000-8000-000000000001", StreamID: "Finding-0193b1d2-7c1e-7000-8000-000000000002",
		StreamType: "Finding", Version: 3, Position: 1234567, Type: "FindingObserved", SchemaVersion: 1,
		Data:     json.RawMessage(`{"finding_id":"f-1","severity":"high","resource":"arn:aws:s3:::bucket-1","check":"s3_bucket_public_access"}`),
		Metadata: eventstore.Metadata{TeamID: "team-a", Actor: "bench"}, RecordedAt: time.Now().UTC(),
		PrevHash: "5f2b8c7e0d0a4c1b9e3f6a7d8c9b0a1f2e3d4c5b6a79881726354453627181a", Hash: "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
	}
	b.Run("encodeEnvelope", func(b *testing.B) {
		for b.Loop() {
			_, _ = encodeEnvelope(&e)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(&e)
		}
	})
}
