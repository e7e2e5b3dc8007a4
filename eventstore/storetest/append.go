package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
)

func newEvent(typ string, data string) eventstore.NewEvent {
	return eventstore.NewEvent{Type: typ, SchemaVersion: 1, Data: json.RawMessage(data)}
}

func request(stream string, expected eventstore.ExpectedVersion, events ...eventstore.NewEvent) eventstore.AppendRequest {
	return eventstore.AppendRequest{
		StreamID:   stream,
		StreamType: "test",
		Expected:   expected,
		Events:     events,
		Metadata:   eventstore.Metadata{TeamID: "team-1", Actor: "tester"},
	}
}

func mustAppend(t *testing.T, s eventstore.Store, req eventstore.AppendRequest) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(testContext(t), req)
	require.NoError(t, err, "append to %s", req.StreamID)
	return res
}

func head(t *testing.T, s eventstore.Store) int64 {
	t.Helper()
	h, err := s.HeadPosition(testContext(t))
	require.NoError(t, err)
	return h
}

func readStream(t *testing.T, s eventstore.Store, stream string, opts eventstore.ReadStreamOptions) []eventstore.RecordedEvent {
	t.Helper()
	evs, err := s.ReadStream(testContext(t), stream, opts)
	require.NoError(t, err)
	return evs
}

func versions(evs []eventstore.RecordedEvent) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Version
	}
	return out
}

func testRoundTrip(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)
	givenID := uuid.Must(uuid.NewV7()).String()
	meta := eventstore.Metadata{TeamID: "team-7", Actor: "alice", CorrelationID: "corr-1", CausationID: "cause-1", CommandID: "cmd-1",
		Route: "POST /api/v1/orders", IdempotencyKey: "key-1"}
	inputs := []eventstore.NewEvent{
		{EventID: givenID, Type: "OrderPlaced", SchemaVersion: 2, Data: json.RawMessage(`{ "b": 1,  "a": [1, 2.50, "x"], "u": "é<>" }`)},
		{Type: "OrderPaid", SchemaVersion: 1, Data: json.RawMessage(`{"amount": 12.5}`)},
	}
	before := eventstore.NormalizeTime(time.Now())
	res, err := s.Append(ctx, eventstore.AppendRequest{
		StreamID: "order-1", StreamType: "order", Expected: eventstore.NoStream, Events: inputs, Metadata: meta,
	})
	require.NoError(t, err)
	after := time.Now()

	assert.Equal(t, "order-1", res.StreamID)
	assert.Equal(t, int64(2), res.Version)
	assert.Equal(t, []int64{1, 2}, res.Positions, "positions of a fresh store start at 1 and are dense")
	assert.False(t, res.Duplicate)
	require.Len(t, res.EventIDs, 2)
	assert.Equal(t, givenID, res.EventIDs[0], "a given event id is kept")
	assigned, err := uuid.Parse(res.EventIDs[1])
	require.NoError(t, err, "an assigned event id is a UUID")
	assert.Equal(t, uuid.Version(7), assigned.Version(), "assigned event ids are UUIDv7")
	assert.Equal(t, int64(2), res.LastPosition())

	got := readStream(t, s, "order-1", eventstore.ReadStreamOptions{})
	require.Len(t, got, 2)
	prev := ""
	for i, e := range got {
		want, err := eventstore.CompactJSON(inputs[i].Data)
		require.NoError(t, err)
		assert.Equal(t, res.EventIDs[i], e.EventID)
		assert.Equal(t, "order-1", e.StreamID)
		assert.Equal(t, "order", e.StreamType)
		assert.Equal(t, int64(i+1), e.Version)
		assert.Equal(t, res.Positions[i], e.Position)
		assert.Equal(t, inputs[i].Type, e.Type)
		assert.Equal(t, inputs[i].SchemaVersion, e.SchemaVersion)
		assert.Equal(t, string(want), string(e.Data), "data is stored in canonical JSON")
		assert.Equal(t, meta, e.Metadata)
		assert.True(t, e.RecordedAt.Equal(eventstore.NormalizeTime(e.RecordedAt)), "recorded_at has millisecond precision")
		assert.False(t, e.RecordedAt.Before(before) || e.RecordedAt.After(after), "recorded_at %v within [%v, %v]", e.RecordedAt, before, after)
		assert.Equal(t, prev, e.PrevHash, "prev_hash links to the previous event")
		assert.Equal(t, eventstore.ComputeHash(e), e.Hash)
		assert.Len(t, e.Hash, 64)
		prev = e.Hash
	}

	res2 := mustAppend(t, s, eventstore.AppendRequest{
		StreamID: "order-1", StreamType: "order", Expected: eventstore.Exact(2), Metadata: meta,
		Events: []eventstore.NewEvent{{Type: "OrderShipped", SchemaVersion: 1, Data: json.RawMessage(`{}`)}},
	})
	assert.Equal(t, int64(3), res2.Version)
	assert.Equal(t, []int64{3}, res2.Positions)

	all, err := s.ReadAll(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, all, 3)
	got = readStream(t, s, "order-1", eventstore.ReadStreamOptions{})
	require.Len(t, got, 3)
	for i := range all {
		assert.Equal(t, got[i].EventID, all[i].EventID)
		assert.Equal(t, got[i].Hash, all[i].Hash)
		assert.True(t, got[i].RecordedAt.Equal(all[i].RecordedAt))
		assert.Equal(t, got[i].Metadata, all[i].Metadata)
		assert.Equal(t, string(got[i].Data), string(all[i].Data))
	}
	assert.Equal(t, got[1].Hash, got[2].PrevHash, "the chain continues across appends")
	assert.Equal(t, int64(3), head(t, s))
}

func conflict(t *testing.T, err error) *eventstore.ConflictError {
	t.Helper()
	require.ErrorIs(t, err, eventstore.ErrConflict)
	var ce *eventstore.ConflictError
	require.ErrorAs(t, err, &ce)
	return ce
}

func testExpectedVersion(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)
	ev := func() eventstore.NewEvent { return newEvent("Happened", `{"n":1}`) }

	mustAppend(t, s, request("a", eventstore.NoStream, ev()))
	_, err := s.Append(ctx, request("a", eventstore.NoStream, ev()))
	ce := conflict(t, err)
	assert.Equal(t, int64(1), ce.Current)
	assert.Equal(t, "a", ce.StreamID)
	assert.True(t, ce.Expected.IsNoStream())

	mustAppend(t, s, request("a", eventstore.Exact(1), ev(), ev()))
	_, err = s.Append(ctx, request("a", eventstore.Exact(1), ev()))
	ce = conflict(t, err)
	assert.Equal(t, int64(3), ce.Current)
	v, ok := ce.Expected.Version()
	assert.True(t, ok)
	assert.Equal(t, int64(1), v)

	_, err = s.Append(ctx, request("new", eventstore.Exact(5), ev()))
	assert.Equal(t, int64(0), conflict(t, err).Current)
	_, err = s.Append(ctx, request("a", eventstore.Exact(4), ev()))
	assert.Equal(t, int64(3), conflict(t, err).Current)

	mustAppend(t, s, request("a", eventstore.Any, ev()))
	mustAppend(t, s, request("b", eventstore.Any, ev()))
	mustAppend(t, s, request("c", eventstore.Exact(0), ev())) // Exact(0) is NoStream

	assert.Equal(t, []int64{1, 2, 3, 4}, versions(readStream(t, s, "a", eventstore.ReadStreamOptions{})))
	assert.Equal(t, int64(6), head(t, s), "conflicting appends append nothing")
}

func testOptimisticConcurrency(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)
	mustAppend(t, s, request("occ", eventstore.NoStream, newEvent("Created", `{}`)))

	const n = 64
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = s.Append(ctx, request("occ", eventstore.Exact(1), newEvent("Updated", fmt.Sprintf(`{"by":%d}`, i))))
		})
	}
	close(start)
	wg.Wait()

	wins := 0
	for i, err := range errs {
		if err == nil {
			wins++
			continue
		}
		if assert.ErrorIs(t, err, eventstore.ErrConflict, "writer %d", i) {
			var ce *eventstore.ConflictError
			if assert.ErrorAs(t, err, &ce) {
				assert.Equal(t, int64(2), ce.Current)
			}
		}
	}
	assert.Equal(t, 1, wins, "exactly one of the concurrent appends wins")
	assert.Equal(t, []int64{1, 2}, versions(readStream(t, s, "occ", eventstore.ReadStreamOptions{})))
	assert.Equal(t, int64(2), head(t, s))
}

func testAtomicBatch(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)
	taken := uuid.Must(uuid.NewV7()).String()
	first := newEvent("Created", `{}`)
	first.EventID = taken
	mustAppend(t, s, request("a", eventstore.NoStream, first))
	headA := readStream(t, s, "a", eventstore.ReadStreamOptions{})[0].Hash

	withID := func(id string) eventstore.NewEvent {
		e := newEvent("Updated", `{"x":1}`)
		e.EventID = id
		return e
	}
	fresh := func() string { return uuid.Must(uuid.NewV7()).String() }
	dup := fresh()
	for name, req := range map[string]eventstore.AppendRequest{
		"new stream, 2nd event reuses a stored id":      request("b", eventstore.NoStream, withID(fresh()), withID(taken)),
		"existing stream, 2nd event reuses a stored id": request("a", eventstore.Exact(1), withID(fresh()), withID(taken)),
		"ids repeated within the batch":                 request("b", eventstore.Any, withID(dup), withID(dup)),
	} {
		req.Idempotency = eventstore.Idempotency{Key: "key-" + name, Fingerprint: "fp"}
		_, err := s.Append(ctx, req)
		require.Error(t, err, name)
		assert.True(t, errors.Is(err, eventstore.ErrInvalidAppend) || errors.Is(err, eventstore.ErrConflict),
			"%s: a classified error, got %v", name, err)
		_, _, found, err := s.LookupIdempotency(ctx, req.Idempotency.Key)
		require.NoError(t, err)
		assert.False(t, found, "%s: no idempotency record", name)
	}

	assert.Equal(t, int64(1), head(t, s), "head position unchanged")
	assert.Empty(t, readStream(t, s, "b", eventstore.ReadStreamOptions{}))
	streams, err := s.Streams(ctx, "", 10)
	require.NoError(t, err)
	require.Len(t, streams, 1, "no stream head for the failed stream")
	assert.Equal(t, eventstore.StreamInfo{StreamID: "a", StreamType: "test", Version: 1, LastHash: headA}, streams[0])

	// A failed append consumes no position and no key.
	req := request("b", eventstore.NoStream, withID(fresh()), withID(fresh()))
	req.Idempotency = eventstore.Idempotency{Key: "key-ids repeated within the batch", Fingerprint: "fp"}
	res := mustAppend(t, s, req)
	assert.Equal(t, []int64{2, 3}, res.Positions)
	assert.False(t, res.Duplicate)
}

func testValidation(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)
	ok := newEvent("Happened", `{}`)
	for name, req := range map[string]eventstore.AppendRequest{
		"empty stream id":   request("", eventstore.Any, ok),
		"empty stream type": {StreamID: "s", Expected: eventstore.Any, Events: []eventstore.NewEvent{ok}},
		"no events":         request("s", eventstore.Any),
		"empty event type":  request("s", eventstore.Any, ok, newEvent("", `{}`)),
		"schema version 0":  request("s", eventstore.Any, eventstore.NewEvent{Type: "T", Data: json.RawMessage(`{}`)}),
		"invalid json":      request("s", eventstore.Any, ok, newEvent("T", `{"a":`)),
		"empty data":        request("s", eventstore.Any, newEvent("T", ``)),
		"key without fingerprint": func() eventstore.AppendRequest {
			r := request("s", eventstore.Any, ok)
			r.Idempotency.Key = "k"
			return r
		}(),
	} {
		_, err := s.Append(ctx, req)
		assert.ErrorIs(t, err, eventstore.ErrInvalidAppend, name)
	}

	// Size limits: the first event over a limit is named; nothing of the
	// append is written (the small event before it neither).
	big := `{"s":"` + strings.Repeat("<", eventstore.MaxEventDataBytes) + `"}`
	_, err := s.Append(ctx, request("s", eventstore.Any, ok, newEvent("Huge", big)))
	var tooLarge *eventstore.EventTooLargeError
	require.ErrorAs(t, err, &tooLarge)
	assert.ErrorIs(t, err, eventstore.ErrEventTooLarge)
	assert.Equal(t, eventstore.EventTooLargeError{Index: 1, Type: "Huge", What: "data", Size: len(big),
		Limit: eventstore.MaxEventDataBytes}, *tooLarge)
	atLimit := `"` + strings.Repeat("x", eventstore.MaxEventDataBytes-2) + `"`
	meta := request("s", eventstore.Any, newEvent("T", atLimit))
	meta.Metadata.CorrelationID = strings.Repeat("c", eventstore.MaxMetadataBytes)
	_, err = s.Append(ctx, meta)
	require.ErrorAs(t, err, &tooLarge)
	assert.Equal(t, "metadata", tooLarge.What)

	assert.Equal(t, int64(0), head(t, s))
	streams, err := s.Streams(ctx, "", 10)
	require.NoError(t, err)
	assert.Empty(t, streams)
	_, _, found, err := s.LookupIdempotency(ctx, "k")
	require.NoError(t, err)
	assert.False(t, found)

	// An event exactly at the limit is stored.
	res := mustAppend(t, s, request("at-limit", eventstore.NoStream, newEvent("T", atLimit)))
	evs := readStream(t, s, "at-limit", eventstore.ReadStreamOptions{})
	require.Len(t, evs, 1)
	assert.Len(t, evs[0].Data, eventstore.MaxEventDataBytes)
	assert.Equal(t, int64(1), res.Version)
}

func idempotent(req eventstore.AppendRequest, key, fp string) eventstore.AppendRequest {
	req.Idempotency = eventstore.Idempotency{Key: key, Fingerprint: fp}
	return req
}

func testIdempotency(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)
	req := idempotent(request("s", eventstore.NoStream, newEvent("Created", `{}`), newEvent("Named", `{"n":"x"}`)), "k1", "fp1")
	first := mustAppend(t, s, req)
	assert.False(t, first.Duplicate)

	retry := mustAppend(t, s, req)
	assert.True(t, retry.Duplicate)
	retry.Duplicate = false
	assert.Equal(t, first, retry, "a retry returns the first outcome")
	assert.Equal(t, int64(2), head(t, s), "a retry appends nothing")

	// The stored outcome wins over the expected version, which no longer holds.
	retry, err := s.Append(ctx, req)
	require.NoError(t, err)
	assert.True(t, retry.Duplicate)

	_, err = s.Append(ctx, idempotent(req, "k1", "fp2"))
	assert.ErrorIs(t, err, eventstore.ErrIdempotencyMismatch)
	assert.Equal(t, int64(2), head(t, s))

	res, fp, found, err := s.LookupIdempotency(ctx, "k1")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "fp1", fp)
	assert.Equal(t, first, res)
	_, _, found, err = s.LookupIdempotency(ctx, "unknown")
	require.NoError(t, err)
	assert.False(t, found)

	// A failed append does not record its key: the corrected retry appends.
	_, err = s.Append(ctx, idempotent(request("s", eventstore.NoStream, newEvent("Again", `{}`)), "k2", "fp"))
	require.ErrorIs(t, err, eventstore.ErrConflict)
	_, _, found, err = s.LookupIdempotency(ctx, "k2")
	require.NoError(t, err)
	assert.False(t, found)
	res = mustAppend(t, s, idempotent(request("s", eventstore.Exact(2), newEvent("Again", `{}`)), "k2", "fp"))
	assert.False(t, res.Duplicate)
	assert.Equal(t, []int64{3}, res.Positions)
	assert.Equal(t, int64(3), res.Version)
}

func testIdempotencyConcurrent(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)
	const n = 16
	start := make(chan struct{})
	results := make([]eventstore.AppendResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.Append(ctx, idempotent(request("s", eventstore.Any, newEvent("Paid", `{"amount":10}`)), "pay-1", "fp"))
		})
	}
	close(start)
	wg.Wait()
	firsts := 0
	for i := range n {
		require.NoError(t, errs[i])
		if !results[i].Duplicate {
			firsts++
		}
		r := results[i]
		r.Duplicate = false
		assert.Equal(t, eventstore.AppendResult{StreamID: "s", Version: 1, Positions: []int64{1}, EventIDs: results[0].EventIDs}, r)
	}
	assert.Equal(t, 1, firsts, "exactly one retry appends")
	assert.Equal(t, int64(1), head(t, s))
}
