package eventstore

import (
	"fmt"
	"time"
)

// Limits of one atomic write: an AppendBatch, or an Append (the batch of
// one request). Every adapter holds a whole batch in memory and writes it
// in one transaction, and on MongoDB its events are then stamped in one
// sequencer round; the limits bound that transaction, the memory it takes
// and how long it holds the writer. A batch over either limit is
// ErrInvalidAppend naming the limit; nothing of it is written.
const (
	// MaxBatchEvents bounds the events of one batch, all requests together.
	MaxBatchEvents = 10_000
	// MaxBatchBytes bounds the bytes of one batch: the sum, over its
	// events, of the event's data and its metadata (Metadata.Size, counted
	// once per event, as each event stores its copy).
	MaxBatchBytes = 64 << 20
)

// ValidateBatch checks a batch before any I/O: at least one request, the
// batch within MaxBatchEvents and MaxBatchBytes (checked first: it is
// cheap), and each request valid as AppendRequest.Validate says (its error
// is returned naming the request; an *EventTooLargeError stays reachable
// with errors.As).
func ValidateBatch(reqs []AppendRequest) error {
	if len(reqs) == 0 {
		return fmt.Errorf("%w: a batch of no requests", ErrInvalidAppend)
	}
	events, bytes := 0, 0
	for _, r := range reqs {
		events += len(r.Events)
		meta := r.Metadata.Size()
		for _, e := range r.Events {
			bytes += len(e.Data) + meta
		}
	}
	if events > MaxBatchEvents {
		return fmt.Errorf("%w: %d events in one batch, over the limit of %d events (eventstore.MaxBatchEvents)",
			ErrInvalidAppend, events, MaxBatchEvents)
	}
	if bytes > MaxBatchBytes {
		return fmt.Errorf("%w: %d bytes of data and metadata in one batch, over the limit of %d bytes (eventstore.MaxBatchBytes)",
			ErrInvalidAppend, bytes, MaxBatchBytes)
	}
	for i, r := range reqs {
		if err := r.Validate(); err != nil {
			if len(reqs) == 1 {
				return err
			}
			return fmt.Errorf("request %d (stream %q): %w", i, r.StreamID, err)
		}
	}
	return nil
}

// StreamHead is a stream's head as an adapter read it before a batch; the
// zero value is a stream that does not exist.
type StreamHead struct {
	StreamType string
	Version    int64
	LastHash   string
}

// HeadsFunc reads, inside the adapter's write transaction, the heads of
// the given streams (distinct, in order of first appearance in the batch;
// a stream without a head is left out of the map), and returns the time
// the batch is recorded at (the adapter's floor applied).
type HeadsFunc func(streamIDs []string) (heads map[string]StreamHead, now time.Time, err error)

// BatchPlan is what a batch writes, decided before anything is written.
type BatchPlan struct {
	// Events are the new events of every appending request, in request
	// order; positions and log hashes are left to the adapter.
	Events []RecordedEvent
	// Requests has one entry per request, in request order.
	Requests []PlannedRequest
	// Heads are the streams the batch appends to, in order of first
	// append, with their heads before and after it.
	Heads []PlannedHead
	// RecordedAt is the recording time of every event of the batch.
	RecordedAt time.Time
}

// PlannedRequest is what the batch does with one request: it appends
// Events[First:First+Count], or it is an idempotent duplicate, of an
// outcome stored before the batch (Stored) or of an earlier request of
// the same batch (DuplicateOf >= 0).
type PlannedRequest struct {
	First, Count int
	Version      int64 // the stream's version after the request (appending requests)
	Stored       bool
	DuplicateOf  int
}

// Appends reports whether the request appends events.
func (r PlannedRequest) Appends() bool { return !r.Stored && r.DuplicateOf < 0 }

// PlannedHead is one stream's head before and after the batch.
type PlannedHead struct {
	After  StreamInfo
	Before int64 // the version before the batch; 0: the batch creates the stream
}

// PlanBatch decides a validated batch (ValidateBatch). stored maps the
// idempotency keys of the batch that are already stored to their stored
// fingerprints. It resolves idempotency first: a request whose key is
// stored with its fingerprint is a stored duplicate; a key repeated within
// the batch with the same fingerprint makes the later requests duplicates
// of the first; a key with another fingerprint fails the batch
// (ErrIdempotencyMismatch). Then it reads the heads of the streams the
// other requests append to (heads, not called when there are none) and
// checks each request, in order, against its stream as the earlier
// requests of the batch leave it: a broken expectation is that stream's
// *ConflictError, another stream type ErrInvalidAppend. Prepare fills the
// events, all recorded at the time heads returns.
func PlanBatch(reqs []AppendRequest, stored map[string]string, heads HeadsFunc) (*BatchPlan, error) {
	p := &BatchPlan{Requests: make([]PlannedRequest, len(reqs))}
	firstWithKey := map[string]int{}
	var streams []string
	seen := map[string]bool{}
	for i, r := range reqs {
		pr := PlannedRequest{DuplicateOf: -1}
		if key := r.Idempotency.Key; key != "" {
			fp, isStored := stored[key]
			j, inBatch := firstWithKey[key]
			switch {
			case isStored && fp != r.Idempotency.Fingerprint,
				!isStored && inBatch && reqs[j].Idempotency.Fingerprint != r.Idempotency.Fingerprint:
				return nil, fmt.Errorf("%w: key %q", ErrIdempotencyMismatch, key)
			case isStored:
				pr.Stored = true
			case inBatch:
				pr.DuplicateOf = j
			default:
				firstWithKey[key] = i
			}
		}
		p.Requests[i] = pr
		if pr.Appends() && !seen[r.StreamID] {
			seen[r.StreamID] = true
			streams = append(streams, r.StreamID)
		}
	}
	if len(streams) == 0 {
		return p, nil
	}
	before, now, err := heads(streams)
	if err != nil {
		return nil, err
	}
	p.RecordedAt = NormalizeTime(now)
	total := 0
	for i, r := range reqs {
		if p.Requests[i].Appends() {
			total += len(r.Events)
		}
	}
	p.Events = make([]RecordedEvent, 0, total)
	type state struct {
		head  StreamHead
		index int // in p.Heads
	}
	current := make(map[string]*state, len(streams))
	for _, id := range streams {
		h := before[id]
		current[id] = &state{head: h, index: len(p.Heads)}
		p.Heads = append(p.Heads, PlannedHead{Before: h.Version})
	}
	for i, r := range reqs {
		pr := &p.Requests[i]
		if !pr.Appends() {
			continue
		}
		st := current[r.StreamID]
		if !r.Expected.Satisfied(st.head.Version) {
			return nil, &ConflictError{StreamID: r.StreamID, Expected: r.Expected, Current: st.head.Version}
		}
		if st.head.Version > 0 && st.head.StreamType != r.StreamType {
			return nil, fmt.Errorf("%w: stream %q has type %q, not %q", ErrInvalidAppend, r.StreamID, st.head.StreamType, r.StreamType)
		}
		evs, err := prepare(r, st.head.Version, st.head.LastHash, p.RecordedAt, true)
		if err != nil {
			return nil, fmt.Errorf("append to %q: %w", r.StreamID, err)
		}
		last := evs[len(evs)-1]
		pr.First, pr.Count, pr.Version = len(p.Events), len(evs), last.Version
		p.Events = append(p.Events, evs...)
		st.head = StreamHead{StreamType: r.StreamType, Version: last.Version, LastHash: last.Hash}
		p.Heads[st.index].After = StreamInfo{StreamID: r.StreamID, StreamType: r.StreamType, Version: last.Version, LastHash: last.Hash}
	}
	return p, nil
}

// Writes reports whether the batch appends anything (false when every
// request is an idempotent duplicate).
func (p *BatchPlan) Writes() bool { return len(p.Events) > 0 }

// Result is request i's outcome for an appending request or a duplicate
// within the batch, with the positions of p.Events (nil: positions not
// known yet, as on MongoDB before stamping). A stored duplicate's outcome
// is the adapter's to give; Result returns the zero value for it.
func (p *BatchPlan) Result(reqs []AppendRequest, i int, positions []int64) AppendResult {
	pr := p.Requests[i]
	if pr.Stored {
		return AppendResult{}
	}
	dup := pr.DuplicateOf >= 0
	if dup {
		i = pr.DuplicateOf
		pr = p.Requests[i]
	}
	res := AppendResult{StreamID: reqs[i].StreamID, Version: pr.Version, Duplicate: dup, EventIDs: make([]string, pr.Count)}
	for k, e := range p.Events[pr.First : pr.First+pr.Count] {
		res.EventIDs[k] = e.EventID
	}
	if positions != nil {
		res.Positions = append([]int64(nil), positions[pr.First:pr.First+pr.Count]...)
	}
	return res
}
