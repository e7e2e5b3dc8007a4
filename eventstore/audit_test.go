package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memStore is just enough of a Store to exercise Verify: no concurrency,
// no idempotency.
type memStore struct {
	events  []RecordedEvent
	streams map[string]StreamInfo
	// hooks let a test act between Verify's calls.
	onStreams func()
}

func newMemStore() *memStore { return &memStore{streams: map[string]StreamInfo{}} }

func (m *memStore) Append(_ context.Context, req AppendRequest) (AppendResult, error) {
	if err := req.Validate(); err != nil {
		return AppendResult{}, err
	}
	h := m.streams[req.StreamID]
	if !req.Expected.Satisfied(h.Version) {
		return AppendResult{}, &ConflictError{StreamID: req.StreamID, Expected: req.Expected, Current: h.Version}
	}
	evs, err := Prepare(req, h.Version, h.LastHash, time.Now())
	if err != nil {
		return AppendResult{}, err
	}
	res := AppendResult{StreamID: req.StreamID}
	for _, e := range evs {
		e.Position = int64(len(m.events)) + 1
		m.events = append(m.events, e)
		res.Positions, res.EventIDs, res.Version = append(res.Positions, e.Position), append(res.EventIDs, e.EventID), e.Version
	}
	last := evs[len(evs)-1]
	m.streams[req.StreamID] = StreamInfo{StreamID: req.StreamID, StreamType: req.StreamType, Version: last.Version, LastHash: last.Hash}
	return res, nil
}

// AppendBatch is not needed by the tests that use this fake.
func (m *memStore) AppendBatch(context.Context, []AppendRequest) ([]AppendResult, error) {
	return nil, errors.New("memStore: these tests append nothing in batches")
}

func (m *memStore) LookupIdempotency(context.Context, string) (AppendResult, string, bool, error) {
	return AppendResult{}, "", false, nil
}

func (m *memStore) ReadStream(_ context.Context, id string, o ReadStreamOptions) ([]RecordedEvent, error) {
	var out []RecordedEvent
	for _, e := range m.events {
		if e.StreamID == id && e.Version >= o.FromVersion && (o.ToVersion == 0 || e.Version <= o.ToVersion) &&
			(o.Until.IsZero() || !e.RecordedAt.After(o.Until)) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func (m *memStore) ReadAll(_ context.Context, after int64, limit int) ([]RecordedEvent, error) {
	var out []RecordedEvent
	for _, e := range m.events {
		if e.Position > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memStore) HeadPosition(context.Context) (int64, error) {
	if len(m.events) == 0 {
		return 0, nil
	}
	return m.events[len(m.events)-1].Position, nil
}

func (m *memStore) Streams(_ context.Context, after string, limit int) ([]StreamInfo, error) {
	if m.onStreams != nil {
		m.onStreams()
		m.onStreams = nil
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range m.streams {
			if id > after && !yield(id) {
				return
			}
		}
	})
	var out []StreamInfo
	for _, id := range ids[:min(limit, len(ids))] {
		out = append(out, m.streams[id])
	}
	return out, nil
}

// WaitForAppend returns at once when the head is past after; this fake is
// only appended to before a test reads it, so otherwise it waits for ctx.
func (m *memStore) WaitForAppend(ctx context.Context, after int64) error {
	if head, err := m.HeadPosition(ctx); err != nil || head > after {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

func (m *memStore) Close() error { return nil }

func fill(t *testing.T, m *memStore, streams, perStream int) {
	t.Helper()
	for v := range int64(perStream) {
		for s := range streams {
			_, err := m.Append(t.Context(), AppendRequest{StreamID: fmt.Sprintf("s%02d", s), StreamType: "t", Expected: Exact(v),
				Events: []NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
			require.NoError(t, err)
		}
	}
}

func smallPages(t *testing.T, n int) {
	old := verifyPage
	verifyPage = n
	t.Cleanup(func() { verifyPage = old })
}

func TestVerifyPagesThroughTheLog(t *testing.T) {
	smallPages(t, 3) // 20 events in 7 pages, 5 stream heads in 2
	m := newMemStore()
	fill(t, m, 5, 4)
	var calls [][2]int64
	rep, err := Verify(t.Context(), m, VerifyOptions{Progress: func(done, total int64) { calls = append(calls, [2]int64{done, total}) }})
	require.NoError(t, err)
	assert.Nil(t, rep.Broken)
	assert.Equal(t, VerifyReport{Head: 20, EventsChecked: 20, StreamsChecked: 5, NotChecked: []string{
		"this store keeps no audit metadata: global chain, checkpoints and idempotency records not checked",
	}}, rep)
	assert.Len(t, calls, 7)
	assert.Equal(t, [2]int64{20, 20}, calls[len(calls)-1])
}

func TestVerifyToleratesConcurrentAppends(t *testing.T) {
	m := newMemStore()
	fill(t, m, 3, 2)
	// Between the walk and the head check, the log and the heads move on.
	m.onStreams = func() { fill2(t, m) }
	rep, err := Verify(t.Context(), m, VerifyOptions{})
	require.NoError(t, err)
	assert.Nil(t, rep.Broken, "appends during Verify are not tampering: %+v", rep.Broken)
	assert.Equal(t, int64(6), rep.EventsChecked)
	assert.Equal(t, int64(4), rep.StreamsChecked)
}

// fill2 appends to two existing streams and one new one.
func fill2(t *testing.T, m *memStore) {
	for _, s := range []string{"s00", "s02"} {
		_, err := m.Append(t.Context(), AppendRequest{StreamID: s, StreamType: "t", Expected: Exact(2),
			Events: []NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}, {Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
		require.NoError(t, err)
	}
	_, err := m.Append(t.Context(), AppendRequest{StreamID: "s99", StreamType: "t", Expected: NoStream,
		Events: []NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
}

func TestVerifyStreamHeads(t *testing.T) {
	for name, tc := range map[string]struct {
		tamper func(m *memStore)
		want   BrokenLink // Reason not compared
	}{
		"head hash changed": {
			tamper: func(m *memStore) { h := m.streams["s01"]; h.LastHash = "00"; m.streams["s01"] = h },
			want:   BrokenLink{Position: 4, StreamID: "s01", Version: 2},
		},
		"head behind the chain": {
			tamper: func(m *memStore) { h := m.streams["s00"]; h.Version = 1; m.streams["s00"] = h },
			want:   BrokenLink{Position: 3, StreamID: "s00", Version: 2},
		},
		"head ahead of the chain": {
			tamper: func(m *memStore) { h := m.streams["s00"]; h.Version = 5; m.streams["s00"] = h },
			want:   BrokenLink{Position: 3, StreamID: "s00", Version: 2},
		},
		"head missing": {
			tamper: func(m *memStore) { delete(m.streams, "s01") },
			want:   BrokenLink{Position: 2, StreamID: "s01", Version: 1},
		},
		"head without events": {
			tamper: func(m *memStore) {
				m.streams["zz"] = StreamInfo{StreamID: "zz", StreamType: "t", Version: 1, LastHash: "x"}
			},
			// Nothing of the stream is left: the stream and its first
			// missing version are named, not "position 0".
			want: BrokenLink{Position: 0, StreamID: "zz", Version: 1, Kind: BrokenStreamHead},
		},
		"position out of order": {
			tamper: func(m *memStore) { m.events[1].Position, m.events[2].Position = 3, 2 },
			want:   BrokenLink{Position: 2},
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := newMemStore()
			fill(t, m, 2, 2) // s00 v1 @1, s01 v1 @2, s00 v2 @3, s01 v2 @4
			tc.tamper(m)
			rep, err := Verify(t.Context(), m, VerifyOptions{})
			require.NoError(t, err)
			require.NotNil(t, rep.Broken)
			assert.NotEmpty(t, rep.Broken.Reason)
			got := *rep.Broken
			got.Reason, got.EventID = "", ""
			if tc.want.Kind == "" {
				got.Kind = ""
			}
			if tc.want.StreamID == "" {
				got.StreamID, got.Version = "", 0
			}
			assert.Equal(t, tc.want, got, rep.Broken.Reason)
		})
	}
}

func TestEarlierPutsUnknownPositionsLast(t *testing.T) {
	assert.True(t, earlier(BrokenLink{Position: 5}, BrokenLink{Position: 0}))
	assert.False(t, earlier(BrokenLink{Position: 0}, BrokenLink{Position: 5}))
	assert.True(t, earlier(BrokenLink{Position: 2}, BrokenLink{Position: 5}))
	assert.False(t, earlier(BrokenLink{Position: 0}, BrokenLink{Position: 0}))
}

type failingStore struct{ *memStore }

func (failingStore) ReadAll(context.Context, int64, int) ([]RecordedEvent, error) {
	return nil, errors.New("disk on fire")
}

func TestVerifyReportsReadErrors(t *testing.T) {
	m := newMemStore()
	fill(t, m, 1, 1)
	_, err := Verify(t.Context(), failingStore{m}, VerifyOptions{})
	assert.ErrorContains(t, err, "disk on fire")
}

func TestReplayStream(t *testing.T) {
	m := newMemStore()
	fill(t, m, 2, 4)
	evs, err := ReplayStream(t.Context(), m, "s01", AsOf{Version: 2})
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.Equal(t, int64(2), evs[1].Version)
	evs, err = ReplayStream(t.Context(), m, "s01", AsOf{})
	require.NoError(t, err)
	assert.Len(t, evs, 4)
	evs, err = ReplayStream(t.Context(), m, "s01", AsOf{Time: evs[0].RecordedAt.Add(-time.Second)})
	require.NoError(t, err)
	assert.Empty(t, evs)
}
