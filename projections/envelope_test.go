package projections

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
)

func sampleEvent() eventstore.RecordedEvent {
	return eventstore.RecordedEvent{
		EventID: "0195f7b2-7c1e-7b3a-9c1d-2f3e4a5b6c7d", StreamID: "scan-1", StreamType: "ScanRun",
		Version: 3, Position: 12345, Type: "ScanCompleted", SchemaVersion: 2,
		Data: json.RawMessage(`{"a":"x \"}{][ y","b":[1,{"c":null}],"d":-1.5e3,"e":true}`),
		Metadata: eventstore.Metadata{TeamID: "team-1", Actor: "ann", CorrelationID: "c", CausationID: "d", CommandID: "e",
			Route: "POST /api/v1/scans/:id/complete", IdempotencyKey: "key \"1\""},
		RecordedAt: time.Date(2026, 3, 4, 5, 6, 7, 891000000, time.UTC),
		PrevHash:   "a3f1", Hash: "b3f1",
	}
}

func TestDecodeEnvelopeMatchesEncodingJSON(t *testing.T) {
	base := sampleEvent()
	variants := []eventstore.RecordedEvent{base}
	v := base
	v.StreamID, v.Metadata = "strange \"id\" \\ é \u2028 \x01", eventstore.Metadata{}
	variants = append(variants, v)
	v = base
	v.Data = json.RawMessage(`"just a string with \\ and \""`)
	variants = append(variants, v)
	v = base
	v.Data = json.RawMessage(`42`)
	v.RecordedAt = time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("", 5*3600))
	variants = append(variants, v)
	for _, want := range variants {
		data, err := json.Marshal(want)
		require.NoError(t, err)
		var got eventstore.RecordedEvent
		require.True(t, parseEnvelope(data, &got), "fast path for %s", data)
		var ref eventstore.RecordedEvent
		require.NoError(t, json.Unmarshal(data, &ref))
		assert.Equal(t, ref, got)
	}

	// Shapes the relay does not write go to encoding/json.
	for _, doc := range []string{
		` { "event_id" : "x" , "data" : { "k" : [ 1 , 2 ] } , "position" : 7 } `,
		`{"event_id":null,"position":7}`,
		`{"event_id":"x","extra":{"y":1},"position":7}`,
		`{"metadata":{"team_id":"t","other":1}}`,
		`{"version":1.0}`,
	} {
		var ref, got eventstore.RecordedEvent
		refErr := json.Unmarshal([]byte(doc), &ref)
		err := decodeEnvelope([]byte(doc), &got)
		assert.Equal(t, refErr == nil, err == nil, doc)
		assert.Equal(t, ref, got, doc)
	}
	for _, bad := range []string{``, `{`, `{"event_id":"x"`, `{"data":{"a":}`, `{"data":[1,2}`, `{"event_id":"x"} trailing`, `{"position":"7"}`, `{"data":"unterminated}`} {
		var got eventstore.RecordedEvent
		assert.Error(t, decodeEnvelope([]byte(bad), &got), bad)
	}
}

func BenchmarkDecodeEnvelope(b *testing.B) {
	data, err := json.Marshal(sampleEvent())
	require.NoError(b, err)
	b.Run("parser", func(b *testing.B) {
		for b.Loop() {
			var rec eventstore.RecordedEvent
			if err := decodeEnvelope(data, &rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		for b.Loop() {
			var rec eventstore.RecordedEvent
			if err := json.Unmarshal(data, &rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
