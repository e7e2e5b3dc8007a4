package eventstore

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func batchReq(stream string, want ExpectedVersion, n int) AppendRequest {
	evs := make([]NewEvent, n)
	for i := range evs {
		evs[i] = NewEvent{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{"i":1}`)}
	}
	return AppendRequest{StreamID: stream, StreamType: "t", Expected: want, Events: evs}
}

func withKey(r AppendRequest, key, fp string) AppendRequest {
	r.Idempotency = Idempotency{Key: key, Fingerprint: fp}
	return r
}

func TestValidateBatch(t *testing.T) {
	assert.ErrorIs(t, ValidateBatch(nil), ErrInvalidAppend)
	require.NoError(t, ValidateBatch([]AppendRequest{batchReq("a", Any, 1), batchReq("b", Any, 2)}))

	err := ValidateBatch([]AppendRequest{batchReq("a", Any, 1), batchReq("b", Any, 0)})
	assert.ErrorIs(t, err, ErrInvalidAppend)
	assert.ErrorContains(t, err, `request 1 (stream "b")`)

	huge := batchReq("b", Any, 1)
	huge.Events[0].Data = json.RawMessage(`"` + strings.Repeat("x", MaxEventDataBytes) + `"`)
	var tooLarge *EventTooLargeError
	require.ErrorAs(t, ValidateBatch([]AppendRequest{batchReq("a", Any, 1), huge}), &tooLarge)
	require.ErrorAs(t, ValidateBatch([]AppendRequest{huge}), &tooLarge, "a single request's error as Validate gives it")

	err = ValidateBatch([]AppendRequest{batchReq("a", Any, MaxBatchEvents-1), batchReq("b", Any, 2)})
	assert.ErrorIs(t, err, ErrInvalidAppend)
	assert.ErrorContains(t, err, "10001 events in one batch, over the limit of 10000 events")
	require.NoError(t, ValidateBatch([]AppendRequest{batchReq("a", Any, MaxBatchEvents-1), batchReq("b", Any, 1)}))

	// Bytes: data plus metadata, once per event.
	r := batchReq("a", Any, 900) // 900 × (60 KiB + 8 KiB) < 64 MiB < twice that
	data := json.RawMessage(`"` + strings.Repeat("x", 60<<10) + `"`)
	for i := range r.Events {
		r.Events[i].Data = data
	}
	r.Metadata.Actor = strings.Repeat("m", 8<<10)
	err = ValidateBatch([]AppendRequest{r, r})
	assert.ErrorIs(t, err, ErrInvalidAppend)
	assert.ErrorContains(t, err, "over the limit of 67108864 bytes")
	require.NoError(t, ValidateBatch([]AppendRequest{r}))
}

// fixedHeads answers PlanBatch's head reads from a map and records the
// streams asked for.
func fixedHeads(heads map[string]StreamHead, now time.Time, asked *[]string) HeadsFunc {
	return func(streams []string) (map[string]StreamHead, time.Time, error) {
		*asked = append(*asked, streams...)
		return heads, now, nil
	}
}

func TestPlanBatch(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 678_901_234, time.UTC)
	heads := map[string]StreamHead{"old": {StreamType: "t", Version: 3, LastHash: "h3"}}
	reqs := []AppendRequest{
		batchReq("new", NoStream, 2),
		batchReq("old", Exact(3), 1),
		batchReq("new", Exact(2), 1), // sees the first request's version
		batchReq("other", Any, 1),
	}
	var asked []string
	p, err := PlanBatch(reqs, nil, fixedHeads(heads, now, &asked))
	require.NoError(t, err)
	assert.Equal(t, []string{"new", "old", "other"}, asked, "each stream read once, in order of first appearance")
	require.Len(t, p.Events, 5)
	assert.Equal(t, NormalizeTime(now), p.RecordedAt)
	wantStreams := []string{"new", "new", "old", "new", "other"}
	wantVersions := []int64{1, 2, 4, 3, 1}
	for i, e := range p.Events {
		assert.Equal(t, wantStreams[i], e.StreamID, "events in request order")
		assert.Equal(t, wantVersions[i], e.Version)
		assert.Equal(t, NormalizeTime(now), e.RecordedAt, "one recording time for the batch")
		assert.Equal(t, ComputeHash(e), e.Hash)
		assert.Zero(t, e.Position)
	}
	assert.Equal(t, "h3", p.Events[2].PrevHash, "old's chain continues")
	assert.Equal(t, p.Events[1].Hash, p.Events[3].PrevHash, "new's chain runs through its two requests")
	assert.Equal(t, []PlannedHead{
		{After: StreamInfo{StreamID: "new", StreamType: "t", Version: 3, LastHash: p.Events[3].Hash}, Before: 0},
		{After: StreamInfo{StreamID: "old", StreamType: "t", Version: 4, LastHash: p.Events[2].Hash}, Before: 3},
		{After: StreamInfo{StreamID: "other", StreamType: "t", Version: 1, LastHash: p.Events[4].Hash}, Before: 0},
	}, p.Heads)
	assert.True(t, p.Writes())

	positions := []int64{11, 12, 13, 14, 15}
	r := p.Result(reqs, 2, positions)
	assert.Equal(t, AppendResult{StreamID: "new", Version: 3, Positions: []int64{14}, EventIDs: []string{p.Events[3].EventID}}, r)
	r = p.Result(reqs, 0, nil)
	assert.Nil(t, r.Positions, "no positions yet")
	assert.Equal(t, []string{p.Events[0].EventID, p.Events[1].EventID}, r.EventIDs)
}

func TestPlanBatchRefusals(t *testing.T) {
	heads := map[string]StreamHead{"old": {StreamType: "t", Version: 3, LastHash: "h3"}}
	var asked []string
	plan := func(reqs ...AppendRequest) error {
		_, err := PlanBatch(reqs, nil, fixedHeads(heads, time.Now(), &asked))
		return err
	}
	err := plan(batchReq("a", NoStream, 1), batchReq("old", Exact(2), 1))
	var ce *ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, ConflictError{StreamID: "old", Expected: Exact(2), Current: 3}, *ce)

	err = plan(batchReq("a", NoStream, 2), batchReq("a", Exact(1), 1))
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, ConflictError{StreamID: "a", Expected: Exact(1), Current: 2}, *ce, "as the first request leaves it")

	typed := batchReq("a", Any, 1)
	typed.StreamType = "u"
	assert.ErrorIs(t, plan(batchReq("a", Any, 1), typed), ErrInvalidAppend, "the first request gave the stream its type")

	headsErr := errors.New("disk on fire")
	_, err = PlanBatch([]AppendRequest{batchReq("a", Any, 1)}, nil, func([]string) (map[string]StreamHead, time.Time, error) {
		return nil, time.Time{}, headsErr
	})
	assert.ErrorIs(t, err, headsErr)
}

func TestPlanBatchIdempotency(t *testing.T) {
	var asked []string
	heads := fixedHeads(nil, time.Now(), &asked)
	stored := map[string]string{"k1": "fp1"}

	// Every request a duplicate: nothing to write, no head read.
	p, err := PlanBatch([]AppendRequest{withKey(batchReq("a", NoStream, 1), "k1", "fp1")}, stored, heads)
	require.NoError(t, err)
	assert.False(t, p.Writes())
	assert.True(t, p.Requests[0].Stored)
	assert.Empty(t, asked, "no head read when nothing is appended")
	assert.Equal(t, AppendResult{}, p.Result(nil, 0, nil), "a stored outcome is the adapter's to give")

	// Stored and in-batch duplicates beside appending requests.
	reqs := []AppendRequest{
		withKey(batchReq("a", NoStream, 1), "k2", "fp2"),
		withKey(batchReq("b", Exact(9), 1), "k1", "fp1"), // stored: its expectation is not checked
		batchReq("c", NoStream, 1),
		withKey(batchReq("x", Exact(7), 1), "k2", "fp2"), // duplicate of request 0
		withKey(batchReq("d", NoStream, 1), "k1", "fp1"), // the stored key again
	}
	p, err = PlanBatch(reqs, stored, heads)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "c"}, asked)
	require.Len(t, p.Events, 2)
	assert.Equal(t, []PlannedRequest{
		{First: 0, Count: 1, Version: 1, DuplicateOf: -1},
		{Stored: true, DuplicateOf: -1},
		{First: 1, Count: 1, Version: 1, DuplicateOf: -1},
		{DuplicateOf: 0},
		{Stored: true, DuplicateOf: -1},
	}, p.Requests)
	dup := p.Result(reqs, 3, []int64{5, 6})
	assert.Equal(t, AppendResult{StreamID: "a", Version: 1, Positions: []int64{5}, EventIDs: []string{p.Events[0].EventID}, Duplicate: true}, dup,
		"a duplicate answers the first outcome")

	for name, reqs := range map[string][]AppendRequest{
		"stored key, other fingerprint": {batchReq("a", Any, 1), withKey(batchReq("b", Any, 1), "k1", "other")},
		"batch key, other fingerprint":  {withKey(batchReq("a", Any, 1), "k3", "x"), withKey(batchReq("b", Any, 1), "k3", "y")},
	} {
		_, err := PlanBatch(reqs, stored, heads)
		assert.ErrorIs(t, err, ErrIdempotencyMismatch, name)
	}
}
