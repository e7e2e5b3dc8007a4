package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
)

// tamperFixture appends A1 B1 A2 B2 A3 B3 at positions 1..6 and returns the
// events by position (index 0 unused).
func tamperFixture(t *testing.T, s eventstore.Store) []eventstore.RecordedEvent {
	t.Helper()
	for v := range int64(3) {
		for _, stream := range []string{"acct-a", "acct-b"} {
			mustAppend(t, s, request(stream, eventstore.Exact(v), newEvent("Changed", `{"n":1}`)))
		}
	}
	all, err := s.ReadAll(testContext(t), 0, 10)
	require.NoError(t, err)
	require.Len(t, all, 6)
	return append([]eventstore.RecordedEvent{{}}, all...)
}

// forge builds an event that continues stream after prev (nil: a new
// stream) with a correct hash, as an attacker who knows the scheme would.
func forge(prev *eventstore.RecordedEvent, stream string, position int64) eventstore.RecordedEvent {
	e := eventstore.RecordedEvent{
		EventID:       uuid.Must(uuid.NewV7()).String(),
		StreamID:      stream,
		StreamType:    "test",
		Version:       1,
		Position:      position,
		Type:          "Changed",
		SchemaVersion: 1,
		Data:          json.RawMessage(`{"n":666}`),
		Metadata:      eventstore.Metadata{TeamID: "team-1", Actor: "mallory"},
		RecordedAt:    eventstore.NormalizeTime(time.Now()),
	}
	if prev != nil {
		e.Version, e.PrevHash, e.StreamType = prev.Version+1, prev.Hash, prev.StreamType
	}
	e.Hash = eventstore.ComputeHash(e)
	return e
}

func testTamper(t *testing.T, open Open) {
	t.Run("Intact", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t)
		tamperFixture(t, s)
		var done, total int64
		rep, err := eventstore.Verify(testContext(t), s, func(d, tot int64) { done, total = d, tot })
		require.NoError(t, err)
		assert.Nil(t, rep.Broken)
		assert.Equal(t, int64(6), rep.EventsChecked)
		assert.Equal(t, int64(2), rep.StreamsChecked)
		assert.Equal(t, [2]int64{6, 6}, [2]int64{done, total}, "progress reaches the total")
	})
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t)
		rep, err := eventstore.Verify(testContext(t), s, nil)
		require.NoError(t, err)
		assert.Equal(t, eventstore.VerifyReport{}, rep)
	})

	// want names the expected first broken link; zero fields are not checked.
	for _, tc := range []struct {
		name   string
		tamper func(ctx context.Context, tm Tamperer, evs []eventstore.RecordedEvent) error
		want   func(evs []eventstore.RecordedEvent) eventstore.BrokenLink
	}{
		{
			name: "ChangedData",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.SetData(ctx, 3, []byte(`{"n":999}`))
			},
			want: func(evs []eventstore.RecordedEvent) eventstore.BrokenLink { return linkOf(evs[3]) },
		},
		{
			name: "DeletedEvent",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.Delete(ctx, 3)
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink { return eventstore.BrokenLink{Position: 3} },
		},
		{
			name: "DeletedFirstEvent",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.Delete(ctx, 1)
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink { return eventstore.BrokenLink{Position: 1} },
		},
		{
			// The last event of the log: no gap, only stream b's head knows.
			name: "DeletedLastEvent",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.Delete(ctx, 6)
			},
			want: func(evs []eventstore.RecordedEvent) eventstore.BrokenLink { return linkOf(evs[4]) },
		},
		{
			name: "ReorderedEvents",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.SwapPayloads(ctx, 3, 5)
			},
			want: func(evs []eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{Position: 3, StreamID: "acct-a", Version: 2, EventID: evs[5].EventID}
			},
		},
		{
			// A correctly hashed event forged onto the end of stream a.
			name: "InsertedEvent",
			tamper: func(ctx context.Context, tm Tamperer, evs []eventstore.RecordedEvent) error {
				return tm.InsertRaw(ctx, forge(&evs[5], "acct-a", 7))
			},
			want: func(evs []eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{Position: 7, StreamID: "acct-a", Version: 4}
			},
		},
		{
			// A correctly hashed event of a stream the store never wrote.
			name: "InsertedStream",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.InsertRaw(ctx, forge(nil, "acct-forged", 7))
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{Position: 7, StreamID: "acct-forged", Version: 1}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, tm := open(t)
			ctx := testContext(t)
			evs := tamperFixture(t, s)
			require.NoError(t, tc.tamper(ctx, tm, evs))

			rep, err := eventstore.Verify(ctx, s, nil)
			require.NoError(t, err)
			require.NotNil(t, rep.Broken, "tampering goes unnoticed")
			assert.NotEmpty(t, rep.Broken.Reason)
			want := tc.want(evs)
			got := *rep.Broken
			if want.StreamID == "" {
				got.StreamID, got.Version, got.EventID = "", 0, ""
			}
			if want.EventID == "" {
				got.EventID = ""
			}
			got.Reason = ""
			assert.Equal(t, want, got, "first broken link (reason: %s)", rep.Broken.Reason)
		})
	}
}

func linkOf(e eventstore.RecordedEvent) eventstore.BrokenLink {
	return eventstore.BrokenLink{Position: e.Position, StreamID: e.StreamID, Version: e.Version, EventID: e.EventID}
}
