package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
)

// The contract of AppendBatch: all or nothing across streams, per-stream
// expected versions, dense positions in request order, idempotency per
// request, the size limits, and no reader ever seeing part of a batch.

func mustBatch(t *testing.T, s eventstore.Store, reqs ...eventstore.AppendRequest) []eventstore.AppendResult {
	t.Helper()
	res, err := s.AppendBatch(testContext(t), reqs)
	require.NoError(t, err, "append batch of %d requests", len(reqs))
	require.Len(t, res, len(reqs), "one result per request")
	return res
}

func ev(n int) eventstore.NewEvent { return newEvent("Happened", fmt.Sprintf(`{"n":%d}`, n)) }

func streamHeads(t *testing.T, s eventstore.Store) map[string]eventstore.StreamInfo {
	t.Helper()
	all, err := s.Streams(testContext(t), "", 0)
	require.NoError(t, err)
	out := map[string]eventstore.StreamInfo{}
	for _, h := range all {
		out[h.StreamID] = h
	}
	return out
}

func readAll(t *testing.T, s eventstore.Store) []eventstore.RecordedEvent {
	t.Helper()
	all, err := s.ReadAll(testContext(t), 0, 0)
	require.NoError(t, err)
	return all
}

// verifyKeyed runs eventstore.Verify with the audit key: every chain,
// head, idempotency record and log hash holds.
func verifyKeyed(t *testing.T, s eventstore.Store) eventstore.VerifyReport {
	t.Helper()
	rep, err := eventstore.Verify(testContext(t), s, eventstore.VerifyOptions{Key: auditKey})
	require.NoError(t, err)
	require.Nil(t, rep.Broken, "verify: %v", rep.Broken)
	assert.True(t, rep.Keyed)
	return rep
}

func testBatchAllOrNothing(t *testing.T, open Open) {
	s, _ := open(t, auditKey)
	ctx := testContext(t)
	const n = 10
	for i := range n {
		mustAppend(t, s, request(fmt.Sprintf("acct-%d", i), eventstore.NoStream, ev(i)))
	}
	headsBefore := streamHeads(t, s)
	logBefore := readAll(t, s)

	batch := func(bad int) []eventstore.AppendRequest {
		reqs := make([]eventstore.AppendRequest, n+1)
		for i := range n {
			want := eventstore.Exact(1)
			if i == bad {
				want = eventstore.Exact(5)
			}
			reqs[i] = idempotent(request(fmt.Sprintf("acct-%d", i), want, ev(100+i), ev(200+i)), fmt.Sprintf("batch-key-%d", i), "fp")
		}
		reqs[n] = request("acct-new", eventstore.NoStream, ev(300)) // a stream the batch would create
		return reqs
	}
	for _, bad := range []int{0, 6, n - 1} {
		_, err := s.AppendBatch(ctx, batch(bad))
		ce := conflict(t, err)
		assert.Equal(t, fmt.Sprintf("acct-%d", bad), ce.StreamID, "the conflict names the stream whose expectation failed")
		assert.Equal(t, int64(1), ce.Current)
		v, _ := ce.Expected.Version()
		assert.Equal(t, int64(5), v)

		assert.Equal(t, int64(n), head(t, s), "nothing appended")
		assert.Equal(t, logBefore, readAll(t, s), "the log is unchanged")
		assert.Equal(t, headsBefore, streamHeads(t, s), "no stream head moved or was created")
		for i := range n {
			_, _, found, err := s.LookupIdempotency(ctx, fmt.Sprintf("batch-key-%d", i))
			require.NoError(t, err)
			assert.False(t, found, "no idempotency record of a failed batch")
		}
	}
	// A failed event insert (a reused event id) in the middle of the
	// batch undoes the requests before it too.
	reqs := batch(-1)
	reqs[5].Events[1].EventID = logBefore[0].EventID
	_, err := s.AppendBatch(ctx, reqs)
	require.Error(t, err)
	assert.True(t, errors.Is(err, eventstore.ErrInvalidAppend) || errors.Is(err, eventstore.ErrConflict), "classified: %v", err)
	assert.Equal(t, logBefore, readAll(t, s), "the log is unchanged")
	assert.Equal(t, headsBefore, streamHeads(t, s))

	// The corrected batch appends everything, after the failed ones used
	// no position.
	res := mustBatch(t, s, batch(-1)...)
	for i := range n {
		assert.Equal(t, int64(3), res[i].Version)
		assert.Equal(t, []int64{int64(n + 1 + 2*i), int64(n + 2 + 2*i)}, res[i].Positions)
	}
	assert.Equal(t, []int64{3*n + 1}, res[n].Positions)
	assert.Equal(t, int64(3*n+1), head(t, s))
	verifyKeyed(t, s)
}

func testBatchExpectedVersions(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)
	mustAppend(t, s, request("old", eventstore.NoStream, ev(1), ev(2)))

	res := mustBatch(t, s,
		request("fresh", eventstore.NoStream, ev(3)),
		request("old", eventstore.Exact(2), ev(4)),
		request("any-new", eventstore.Any, ev(5)),
		request("fresh2", eventstore.Exact(0), ev(6)), // Exact(0) is NoStream
	)
	assert.Equal(t, []int64{1, 3, 1, 1}, []int64{res[0].Version, res[1].Version, res[2].Version, res[3].Version})
	mustBatch(t, s, request("old", eventstore.Any, ev(7)), request("any-new", eventstore.Any, ev(8)))

	for name, tc := range map[string]struct {
		req     eventstore.AppendRequest
		current int64
	}{
		"NoStream on an existing stream": {request("old", eventstore.NoStream, ev(9)), 4},
		"Exact behind":                   {request("old", eventstore.Exact(3), ev(9)), 4},
		"Exact ahead":                    {request("old", eventstore.Exact(5), ev(9)), 4},
		"Exact on a missing stream":      {request("missing", eventstore.Exact(1), ev(9)), 0},
	} {
		before := head(t, s)
		_, err := s.AppendBatch(ctx, []eventstore.AppendRequest{request("other", eventstore.Any, ev(0)), tc.req})
		ce := conflict(t, err)
		assert.Equal(t, tc.req.StreamID, ce.StreamID, name)
		assert.Equal(t, tc.current, ce.Current, name)
		assert.Equal(t, before, head(t, s), "%s: nothing appended", name)
		assert.Empty(t, readStream(t, s, "other", eventstore.ReadStreamOptions{}), name)
	}
	// Another stream type than the stored one fails the batch.
	typed := request("old", eventstore.Any, ev(10))
	typed.StreamType = "other-type"
	_, err := s.AppendBatch(ctx, []eventstore.AppendRequest{request("other", eventstore.Any, ev(0)), typed})
	assert.ErrorIs(t, err, eventstore.ErrInvalidAppend)
	assert.Equal(t, []int64{1, 2, 3, 4}, versions(readStream(t, s, "old", eventstore.ReadStreamOptions{})))
}

func testBatchPositions(t *testing.T, open Open) {
	s, _ := open(t, auditKey)
	mustAppend(t, s, request("b", eventstore.NoStream, ev(0)))

	// Request order, not stream order or id order, decides the positions.
	reqs := []eventstore.AppendRequest{
		request("z", eventstore.NoStream, ev(1), ev(2), ev(3)),
		request("b", eventstore.Exact(1), ev(4)),
		request("m", eventstore.NoStream, ev(5), ev(6)),
		request("a", eventstore.Any, ev(7)),
	}
	res := mustBatch(t, s, reqs...)
	next := int64(2)
	for i, r := range res {
		assert.Equal(t, reqs[i].StreamID, r.StreamID)
		assert.False(t, r.Duplicate)
		require.Len(t, r.Positions, len(reqs[i].Events))
		require.Len(t, r.EventIDs, len(reqs[i].Events))
		for _, p := range r.Positions {
			assert.Equal(t, next, p, "request %d: positions are dense and in request order", i)
			next++
		}
	}
	all := readAll(t, s)
	require.Len(t, all, 8)
	k := 1
	for i, r := range res {
		for j, id := range r.EventIDs {
			e := all[k]
			assert.Equal(t, id, e.EventID, "position %d", e.Position)
			assert.Equal(t, reqs[i].StreamID, e.StreamID)
			assert.Equal(t, string(reqs[i].Events[j].Data), string(e.Data))
			assert.True(t, e.RecordedAt.Equal(all[1].RecordedAt), "a batch is recorded at one time")
			k++
		}
	}
	assert.Equal(t, all[0].Hash, all[4].PrevHash, "b's chain continues across the batch")

	// Batches and single appends interleaved keep every chain intact.
	for i := range 5 {
		mustBatch(t, s,
			request("a", eventstore.Any, ev(10*i)),
			request(fmt.Sprintf("n-%d", i), eventstore.NoStream, ev(10*i+1), ev(10*i+2)),
			request("z", eventstore.Exact(int64(3+2*i)), ev(10*i+3)),
			request("z", eventstore.Exact(int64(4+2*i)), ev(10*i+4)),
		)
		mustAppend(t, s, request("b", eventstore.Any, ev(10*i+5)))
	}
	rep := verifyKeyed(t, s)
	assert.Equal(t, int64(8+5*6), rep.EventsChecked)
	assert.Equal(t, int64(8+5*6), head(t, s))
}

func testBatchSameStream(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)
	res := mustBatch(t, s,
		request("a", eventstore.NoStream, ev(1), ev(2)),
		request("b", eventstore.NoStream, ev(3)),
		request("a", eventstore.Exact(2), ev(4)),
		request("a", eventstore.Any, ev(5)),
	)
	assert.Equal(t, int64(2), res[0].Version)
	assert.Equal(t, int64(3), res[2].Version, "the second request expects the version the first leaves")
	assert.Equal(t, []int64{4}, res[2].Positions)
	assert.Equal(t, int64(4), res[3].Version)
	evs := readStream(t, s, "a", eventstore.ReadStreamOptions{})
	assert.Equal(t, []int64{1, 2, 3, 4}, versions(evs))
	for i := 1; i < len(evs); i++ {
		assert.Equal(t, evs[i-1].Hash, evs[i].PrevHash, "one chain through the requests")
	}
	assert.Equal(t, int64(4), streamHeads(t, s)["a"].Version)
	assert.Equal(t, evs[3].Hash, streamHeads(t, s)["a"].LastHash)

	// The second request expecting what the stream was before the first
	// conflicts with the first: nothing is written.
	_, err := s.AppendBatch(ctx, []eventstore.AppendRequest{
		request("c", eventstore.NoStream, ev(6)),
		request("c", eventstore.NoStream, ev(7)),
	})
	ce := conflict(t, err)
	assert.Equal(t, "c", ce.StreamID)
	assert.Equal(t, int64(1), ce.Current, "as the first request leaves it")
	assert.Empty(t, readStream(t, s, "c", eventstore.ReadStreamOptions{}))
	assert.Equal(t, int64(5), head(t, s))
}

func testBatchIdempotency(t *testing.T, open Open) {
	s, _ := open(t, auditKey)
	ctx := testContext(t)
	r1 := idempotent(request("s1", eventstore.NoStream, ev(1), ev(2)), "k1", "fp1")
	r2 := idempotent(request("s2", eventstore.NoStream, ev(3)), "k2", "fp2")
	first := mustBatch(t, s, r1, r2)

	// The same batch again: every request a duplicate, nothing appended.
	again := mustBatch(t, s, r1, r2)
	for i := range again {
		assert.True(t, again[i].Duplicate)
		again[i].Duplicate = false
		assert.Equal(t, first[i], again[i], "a duplicate answers the first outcome")
	}
	assert.Equal(t, int64(3), head(t, s))

	// A duplicate inside a new batch: the rest is appended.
	r3 := idempotent(request("s3", eventstore.NoStream, ev(4)), "k3", "fp3")
	mixed := mustBatch(t, s, r3, r1, request("s2", eventstore.Exact(1), ev(5)))
	assert.False(t, mixed[0].Duplicate)
	assert.Equal(t, []int64{4}, mixed[0].Positions)
	assert.True(t, mixed[1].Duplicate)
	mixed[1].Duplicate = false
	assert.Equal(t, first[0], mixed[1])
	assert.Equal(t, []int64{5}, mixed[2].Positions, "the duplicate used no position")
	res, fp, found, err := s.LookupIdempotency(ctx, "k3")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "fp3", fp)
	assert.Equal(t, mixed[0], res)

	// A key repeated within one batch with the same fingerprint: the later
	// request is a duplicate of the earlier one.
	r5 := idempotent(request("s5", eventstore.NoStream, ev(6)), "k5", "fp5")
	twice := mustBatch(t, s, r5, request("s6", eventstore.NoStream, ev(7)), r5)
	assert.False(t, twice[0].Duplicate)
	assert.True(t, twice[2].Duplicate)
	twice[2].Duplicate = false
	assert.Equal(t, twice[0], twice[2])
	assert.Len(t, readStream(t, s, "s5", eventstore.ReadStreamOptions{}), 1, "appended once")
	assert.Equal(t, int64(7), head(t, s))

	// The same key with another fingerprint fails the whole batch, stored
	// or within the batch.
	for name, reqs := range map[string][]eventstore.AppendRequest{
		"stored key": {request("s7", eventstore.NoStream, ev(8)), idempotent(r1, "k1", "other")},
		"batch key": {idempotent(request("s7", eventstore.NoStream, ev(8)), "k7", "a"),
			idempotent(request("s8", eventstore.NoStream, ev(9)), "k7", "b")},
	} {
		_, err := s.AppendBatch(ctx, reqs)
		assert.ErrorIs(t, err, eventstore.ErrIdempotencyMismatch, name)
		assert.Equal(t, int64(7), head(t, s), "%s: nothing appended", name)
		assert.Empty(t, readStream(t, s, "s7", eventstore.ReadStreamOptions{}), name)
	}
	_, _, found, err = s.LookupIdempotency(ctx, "k7")
	require.NoError(t, err)
	assert.False(t, found)
	verifyKeyed(t, s)
}

func testBatchValidation(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)

	_, err := s.AppendBatch(ctx, nil)
	assert.ErrorIs(t, err, eventstore.ErrInvalidAppend, "a batch of no requests")
	_, err = s.AppendBatch(ctx, []eventstore.AppendRequest{request("a", eventstore.Any, ev(1)), request("", eventstore.Any, ev(2))})
	assert.ErrorIs(t, err, eventstore.ErrInvalidAppend)
	assert.ErrorContains(t, err, "request 1")
	big := newEvent("Huge", `"`+strings.Repeat("x", eventstore.MaxEventDataBytes)+`"`)
	_, err = s.AppendBatch(ctx, []eventstore.AppendRequest{request("a", eventstore.Any, ev(1)), request("b", eventstore.Any, big)})
	var tooLarge *eventstore.EventTooLargeError
	require.ErrorAs(t, err, &tooLarge, "an event over its limit is named")
	assert.Equal(t, "data", tooLarge.What)

	// Over MaxBatchEvents, in one request or across several.
	many := func(n int) []eventstore.NewEvent {
		evs := make([]eventstore.NewEvent, n)
		for i := range evs {
			evs[i] = newEvent("E", `{}`)
		}
		return evs
	}
	half := eventstore.MaxBatchEvents / 2
	for name, reqs := range map[string][]eventstore.AppendRequest{
		"one request": {request("a", eventstore.Any, many(eventstore.MaxBatchEvents+1)...)},
		"two requests": {request("a", eventstore.Any, many(half)...),
			request("b", eventstore.Any, many(eventstore.MaxBatchEvents-half+1)...)},
	} {
		_, err := s.AppendBatch(ctx, reqs)
		assert.ErrorIs(t, err, eventstore.ErrInvalidAppend, name)
		assert.ErrorContains(t, err, strconv.Itoa(eventstore.MaxBatchEvents), "%s: the limit is named", name)
	}
	_, err = s.Append(ctx, request("a", eventstore.Any, many(eventstore.MaxBatchEvents+1)...))
	assert.ErrorIs(t, err, eventstore.ErrInvalidAppend, "Append is the batch of one request, under the same limit")

	// Over MaxBatchBytes: events each within their own limit.
	data := json.RawMessage(`"` + strings.Repeat("x", eventstore.MaxEventDataBytes-2) + `"`)
	n := eventstore.MaxBatchBytes/eventstore.MaxEventDataBytes + 1
	var reqs []eventstore.AppendRequest
	for i := range n {
		reqs = append(reqs, request(fmt.Sprintf("big-%d", i), eventstore.Any, eventstore.NewEvent{Type: "Big", SchemaVersion: 1, Data: data}))
	}
	_, err = s.AppendBatch(ctx, reqs)
	assert.ErrorIs(t, err, eventstore.ErrInvalidAppend)
	assert.ErrorContains(t, err, strconv.Itoa(eventstore.MaxBatchBytes))
	assert.Equal(t, int64(0), head(t, s), "nothing appended")

	// Exactly MaxBatchEvents is one batch: dense and whole.
	reqs = reqs[:0]
	const streams = 10
	for i := range streams {
		reqs = append(reqs, request(fmt.Sprintf("full-%d", i), eventstore.NoStream, many(eventstore.MaxBatchEvents/streams)...))
	}
	res := mustBatch(t, s, reqs...)
	assert.Equal(t, int64(1), res[0].Positions[0])
	assert.Equal(t, int64(eventstore.MaxBatchEvents), res[streams-1].LastPosition())
	assert.Equal(t, int64(eventstore.MaxBatchEvents), head(t, s))
}

// testBatchConcurrency races batches (over overlapping streams, with
// exact, no-stream and any expectations, a stream twice in some) against
// single appends, while a reader follows the log. Afterwards the log holds
// exactly the winners' events, each call's at consecutive positions in
// request order, positions dense and every chain intact; the reader, and
// the head, never stood inside a batch.
func testBatchConcurrency(t *testing.T, open Open) {
	s, _ := open(t, auditKey)
	ctx := testContext(t)
	const (
		writers = 8
		calls   = 25
		streams = 6
	)
	type win struct {
		reqs []eventstore.AppendRequest
		res  []eventstore.AppendResult
	}
	var (
		mu   sync.Mutex
		wins []win
	)

	readerCtx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	readerDone := make(chan error, 1)
	var seen []int64 // heads the reader observed: ends of ReadAll snapshots, head positions
	go func() {
		readerDone <- func() error {
			var after int64
			for readerCtx.Err() == nil {
				h, err := s.HeadPosition(readerCtx)
				if err != nil {
					return ignoreStopped(readerCtx, err)
				}
				evs, err := s.ReadAll(readerCtx, after, 0)
				if err != nil {
					return ignoreStopped(readerCtx, err)
				}
				seen = append(seen, h)
				if len(evs) > 0 {
					for i, e := range evs {
						if e.Position != after+int64(i)+1 {
							return fmt.Errorf("read position %d after %d", e.Position, after+int64(i))
						}
					}
					after = evs[len(evs)-1].Position
					seen = append(seen, after)
					continue
				}
				if err := s.WaitForAppend(readerCtx, after); err != nil {
					return ignoreStopped(readerCtx, err)
				}
			}
			return nil
		}()
	}()

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			guess := make([]int64, streams) // this writer's idea of each stream's version
			expect := func(v int64) eventstore.ExpectedVersion {
				if rng.IntN(6) == 0 {
					return eventstore.Any
				}
				return eventstore.Exact(v) // NoStream for 0
			}
			for c := range calls {
				n := 1
				if c%3 != 0 {
					n = 2 + rng.IntN(3)
				}
				var reqs []eventstore.AppendRequest
				pending := map[int]int64{}
				for range n {
					k := rng.IntN(streams)
					v, ok := pending[k]
					if !ok {
						v = guess[k]
					}
					evs := make([]eventstore.NewEvent, 1+rng.IntN(3))
					for j := range evs {
						evs[j] = newEvent("Raced", fmt.Sprintf(`{"w":%d,"c":%d,"j":%d}`, w, c, j))
					}
					reqs = append(reqs, request(fmt.Sprintf("race-%d", k), expect(v), evs...))
					pending[k] = v + int64(len(evs))
				}
				res, err := s.AppendBatch(ctx, reqs)
				var ce *eventstore.ConflictError
				switch {
				case err == nil:
					mu.Lock()
					wins = append(wins, win{reqs, res})
					mu.Unlock()
					for _, r := range res {
						k, _ := strconv.Atoi(strings.TrimPrefix(r.StreamID, "race-"))
						guess[k] = max(guess[k], r.Version)
					}
				case errors.As(err, &ce):
					k, _ := strconv.Atoi(strings.TrimPrefix(ce.StreamID, "race-"))
					guess[k] = ce.Current
				default:
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	stopReader()
	require.NoError(t, <-readerDone)
	require.NotEmpty(t, wins)

	all := readAll(t, s)
	byPos := map[int64]eventstore.RecordedEvent{}
	for i, e := range all {
		require.Equal(t, int64(i+1), e.Position, "positions are dense")
		byPos[e.Position] = e
	}
	boundary := map[int64]bool{0: true}
	total := 0
	for _, w := range wins {
		var pos []int64
		for i, r := range w.res {
			require.Len(t, r.Positions, len(w.reqs[i].Events))
			for j, p := range r.Positions {
				e := byPos[p]
				require.Equal(t, r.EventIDs[j], e.EventID)
				require.Equal(t, w.reqs[i].StreamID, e.StreamID)
			}
			pos = append(pos, r.Positions...)
		}
		for i := 1; i < len(pos); i++ {
			require.Equal(t, pos[i-1]+1, pos[i], "a call's events are consecutive, in request order")
		}
		boundary[pos[len(pos)-1]] = true
		total += len(pos)
	}
	assert.Len(t, all, total, "exactly the winners' events")
	for _, h := range seen {
		assert.True(t, boundary[h], "the reader saw the log end at %d, inside a batch", h)
	}
	versions := map[string]int64{}
	for _, e := range all {
		require.Equal(t, versions[e.StreamID]+1, e.Version, "stream %s in version order", e.StreamID)
		versions[e.StreamID] = e.Version
	}
	for id, h := range streamHeads(t, s) {
		assert.Equal(t, versions[id], h.Version, "head of %s", id)
	}
	verifyKeyed(t, s)
}

// ignoreStopped is err unless the reader was stopped (ctx canceled).
func ignoreStopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
