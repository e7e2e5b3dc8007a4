// Package eventstore holds the write side's source of truth: the store port,
// the envelope every stored event carries, the codec with its upcaster chain,
// the per-stream hash chain and the audit tools built on them. Adapters live
// in eventstore/sqlite and eventstore/mongo; both pass eventstore/storetest.
package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// ExpectedVersion states what the appender believes about the stream.
type ExpectedVersion struct {
	kind    expectKind
	version int64
}

type expectKind uint8

const (
	expectAny expectKind = iota
	expectNoStream
	expectExact
)

var (
	// Any appends whatever the stream's version.
	Any = ExpectedVersion{kind: expectAny}
	// NoStream appends only if the stream has no events yet.
	NoStream = ExpectedVersion{kind: expectNoStream}
)

// Exact appends only if the stream's current version is v (v >= 1; use NoStream for 0).
func Exact(v int64) ExpectedVersion {
	if v == 0 {
		return NoStream
	}
	return ExpectedVersion{kind: expectExact, version: v}
}

// IsAny, IsNoStream and Version describe the expectation to adapters.
func (e ExpectedVersion) IsAny() bool      { return e.kind == expectAny }
func (e ExpectedVersion) IsNoStream() bool { return e.kind == expectNoStream }

// Version is the exact version expected; ok is false for Any and NoStream.
func (e ExpectedVersion) Version() (v int64, ok bool) { return e.version, e.kind == expectExact }

// Satisfied reports whether a stream at current satisfies the expectation.
func (e ExpectedVersion) Satisfied(current int64) bool {
	switch e.kind {
	case expectNoStream:
		return current == 0
	case expectExact:
		return current == e.version
	default:
		return true
	}
}

func (e ExpectedVersion) String() string {
	switch e.kind {
	case expectNoStream:
		return "no-stream"
	case expectExact:
		return fmt.Sprintf("exact(%d)", e.version)
	default:
		return "any"
	}
}

// Metadata travels with every event (docs/architecture.md §4). CommandID is shared
// by every event one accepted command appended (across streams); Route is
// what issued the command ("POST /api/v1/scans/:id/start", "cli keys
// create"), IdempotencyKey the key the caller sent with it, if any. Route
// and IdempotencyKey enter the hash only when set (CanonicalBytes), so
// events stored before they existed keep their hashes.
type Metadata struct {
	TeamID         string `json:"team_id,omitempty"`
	Actor          string `json:"actor,omitempty"`
	CorrelationID  string `json:"correlation_id,omitempty"`
	CausationID    string `json:"causation_id,omitempty"`
	CommandID      string `json:"command_id,omitempty"`
	Route          string `json:"route,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Extra holds what a stored metadata document has beyond the fields
	// above (a key this version does not know, or a known key whose value
	// is not a string), as canonical JSON values by key. The store never
	// writes any (an append carrying Extra is invalid); it is read back so
	// that the hash covers every key the store holds (CanonicalBytes) and
	// an added key breaks the chain. See metadata.go for its JSON form.
	Extra map[string]json.RawMessage `json:"-"`
}

// NewEvent is one event to append. Data is the JSON encoding of the event at
// SchemaVersion. EventID is optional: the store assigns a UUIDv7 when empty.
type NewEvent struct {
	EventID       string
	Type          string
	SchemaVersion int
	Data          json.RawMessage
}

// Idempotency makes an append safe to retry: the first append with Key wins;
// a later one with the same Key and Fingerprint returns the first outcome and
// appends nothing; the same Key with another Fingerprint is ErrIdempotencyMismatch.
type Idempotency struct {
	Key         string
	Fingerprint string
}

// AppendRequest appends Events to one stream, all or nothing.
type AppendRequest struct {
	StreamID    string
	StreamType  string
	Expected    ExpectedVersion
	Events      []NewEvent
	Metadata    Metadata
	Idempotency Idempotency // optional (empty Key: not idempotent)
}

// AppendResult is the outcome of an append (or of the first append, for an idempotent retry).
type AppendResult struct {
	StreamID  string   `json:"stream_id"`
	Version   int64    `json:"version"`   // the stream's version after the append
	Positions []int64  `json:"positions"` // global position of each appended event
	EventIDs  []string `json:"event_ids"`
	Duplicate bool     `json:"duplicate"` // true when an idempotent retry returned an earlier outcome
}

// LastPosition is the position a reader must pass to see the whole append.
func (r AppendResult) LastPosition() int64 {
	if len(r.Positions) == 0 {
		return 0
	}
	return r.Positions[len(r.Positions)-1]
}

// RecordedEvent is an event as stored: the envelope of docs/architecture.md §4.
type RecordedEvent struct {
	EventID       string          `json:"event_id"`
	StreamID      string          `json:"stream_id"`
	StreamType    string          `json:"stream_type"`
	Version       int64           `json:"version"`
	Position      int64           `json:"position"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Data          json.RawMessage `json:"data"`
	Metadata      Metadata        `json:"metadata"`
	RecordedAt    time.Time       `json:"recorded_at"`
	PrevHash      string          `json:"prev_hash"`
	Hash          string          `json:"hash"`
	// LogHash links the event into the global chain: the keyed hash of
	// the previous position's LogHash, this position and Hash (LogHasher).
	// The store assigns it with the position; empty only before that.
	LogHash string `json:"log_hash,omitempty"`
}

// ReadStreamOptions bounds a stream read. Zero values mean "no bound".
type ReadStreamOptions struct {
	FromVersion int64     // first version to return (inclusive)
	ToVersion   int64     // last version to return (inclusive)
	Until       time.Time // only events recorded at or before this instant
}

// StreamInfo is the store's head record of one stream.
type StreamInfo struct {
	StreamID   string
	StreamType string
	Version    int64
	LastHash   string
}

// Store is the event-store port. Every adapter passes eventstore/storetest.
type Store interface {
	// Append writes req.Events atomically if req.Expected holds. On a broken
	// expectation it returns a *ConflictError (errors.Is(err, ErrConflict)).
	Append(ctx context.Context, req AppendRequest) (AppendResult, error)
	// AppendBatch appends several requests, each to its own stream, atomically:
	// all of them or none. Each request states its own expected version and
	// is validated as Append validates it; positions are dense and assigned in
	// request order (request 0's events first). A request whose expectation
	// fails makes the whole batch fail with that stream's *ConflictError
	// (errors.Is ErrConflict) and nothing is written. Two requests to the same
	// stream in one batch are allowed (the second expects the version the first
	// leaves). Idempotency: a request with an Idempotency key already used with
	// the same fingerprint is a duplicate: it is not appended again and its
	// result is the first outcome (Duplicate true); the rest of the batch is
	// appended. The same key with another fingerprint fails the batch
	// (ErrIdempotencyMismatch). Results are in request order.
	//
	// A batch holds at most MaxBatchEvents events and MaxBatchBytes bytes
	// (ValidateBatch); Append is the batch of one request, under the same
	// limits. A reader never sees part of a batch.
	AppendBatch(ctx context.Context, reqs []AppendRequest) ([]AppendResult, error)
	// LookupIdempotency returns the outcome stored under key, if any.
	LookupIdempotency(ctx context.Context, key string) (res AppendResult, fingerprint string, found bool, err error)
	// ReadStream returns a stream's events in version order (empty when the stream does not exist).
	ReadStream(ctx context.Context, streamID string, opts ReadStreamOptions) ([]RecordedEvent, error)
	// ReadAll returns up to limit events with position > after, in position order.
	// Positions are dense and a reader never sees position p+1 before p.
	ReadAll(ctx context.Context, after int64, limit int) ([]RecordedEvent, error)
	// HeadPosition is the highest position readers can see (0 when empty).
	HeadPosition(ctx context.Context) (int64, error)
	// Streams lists stream heads ordered by stream id, after the given id.
	Streams(ctx context.Context, after string, limit int) ([]StreamInfo, error)
	// WaitForAppend blocks until the head passes after or ctx ends. It wakes
	// promptly on appends made through this process and polls otherwise.
	WaitForAppend(ctx context.Context, after int64) error
	Close() error
}

// Errors every adapter classifies into.
var (
	ErrConflict            = errors.New("eventstore: wrong expected version")
	ErrIdempotencyMismatch = errors.New("eventstore: idempotency key reused with different content")
	ErrUnknownEventType    = errors.New("eventstore: unknown event type")
	ErrInvalidAppend       = errors.New("eventstore: invalid append")
	// ErrUnavailable: the store cannot serve right now (closed, database
	// down or unreachable, disk full, lock timeout). Retrying later may
	// succeed; the API answers 503.
	ErrUnavailable = errors.New("eventstore: unavailable")
)

// Size limits of one event (docs/bus-and-relay.md, "Size"). Every
// event must fit one message on the bus: the relay publishes an event's
// envelope (its data, metadata and some 500 bytes of fields) as one NATS
// message, and NATS refuses messages over the server's max_payload (1 MiB
// by default, and on the embedded server). The domain's text limits keep
// real events far below these; they are the backstop every adapter
// enforces at append.
const (
	// MaxEventDataBytes bounds the JSON data of one event.
	MaxEventDataBytes = 256 << 10
	// MaxMetadataBytes bounds the metadata of one event (the sum of its
	// fields' lengths).
	MaxMetadataBytes = 8 << 10
	// MaxEnvelopeBytes bounds the envelope of an event within the limits
	// above: data, metadata, the other fields and their JSON punctuation.
	MaxEnvelopeBytes = MaxEventDataBytes + MaxMetadataBytes + 2<<10
)

// ErrEventTooLarge is the class of *EventTooLargeError.
var ErrEventTooLarge = errors.New("eventstore: event too large")

// EventTooLargeError names the event of an append that is over a size
// limit. Nothing of the append is written.
type EventTooLargeError struct {
	Index int    // the event's index in the append
	Type  string // its type
	What  string // "data" or "metadata"
	Size  int    // its size in bytes
	Limit int    // the limit in bytes
}

func (e *EventTooLargeError) Error() string {
	return fmt.Sprintf("eventstore: event %d (%s): %s is %d bytes, over the limit of %d bytes", e.Index, e.Type, e.What, e.Size, e.Limit)
}

func (e *EventTooLargeError) Is(target error) bool { return target == ErrEventTooLarge }

// Size is the sum of the metadata fields' lengths, checked against
// MaxMetadataBytes.
func (m Metadata) Size() int {
	return len(m.TeamID) + len(m.Actor) + len(m.CorrelationID) + len(m.CausationID) +
		len(m.CommandID) + len(m.Route) + len(m.IdempotencyKey)
}

// ValidUTF8Metadata reports whether every field of m is valid UTF-8: what
// a JSON envelope (an export, the bus) can carry unchanged, and so what
// the hash can be checked against after a round trip.
func ValidUTF8Metadata(m Metadata) bool {
	for _, f := range m.fields() {
		if !utf8.ValidString(f.value) {
			return false
		}
	}
	return true
}

// fields are m's known fields by their stored names.
func (m Metadata) fields() [7]struct{ name, value string } {
	return [7]struct{ name, value string }{{"team_id", m.TeamID}, {"actor", m.Actor}, {"correlation_id", m.CorrelationID},
		{"causation_id", m.CausationID}, {"command_id", m.CommandID}, {"route", m.Route}, {"idempotency_key", m.IdempotencyKey}}
}

// ConflictError carries the stream's current version.
type ConflictError struct {
	StreamID string
	Expected ExpectedVersion
	Current  int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("eventstore: stream %q: expected %s, current version %d", e.StreamID, e.Expected, e.Current)
}

func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Validate checks an append request before any I/O. An event over a size
// limit is an *EventTooLargeError (the first one), anything else malformed
// ErrInvalidAppend.
func (r AppendRequest) Validate() error {
	if n := r.Metadata.Size(); n > MaxMetadataBytes && len(r.Events) > 0 {
		return &EventTooLargeError{Index: 0, Type: r.Events[0].Type, What: "metadata", Size: n, Limit: MaxMetadataBytes}
	}
	for i, e := range r.Events {
		if len(e.Data) > MaxEventDataBytes {
			return &EventTooLargeError{Index: i, Type: e.Type, What: "data", Size: len(e.Data), Limit: MaxEventDataBytes}
		}
	}
	var errs []error
	if r.StreamID == "" {
		errs = append(errs, errors.New("stream_id is empty"))
	}
	if r.StreamType == "" {
		errs = append(errs, errors.New("stream_type is empty"))
	}
	if len(r.Events) == 0 {
		errs = append(errs, errors.New("no events"))
	}
	for i, e := range r.Events {
		if e.Type == "" {
			errs = append(errs, fmt.Errorf("event %d: type is empty", i))
		}
		if e.SchemaVersion < 1 {
			errs = append(errs, fmt.Errorf("event %d: schema_version must be >= 1", i))
		}
		if !validJSON(e.Data) {
			errs = append(errs, fmt.Errorf("event %d: data is not valid JSON", i))
		}
	}
	if len(r.Metadata.Extra) > 0 {
		errs = append(errs, errors.New("metadata: extra keys are read-only (the store never writes them)"))
	}
	for _, f := range r.Metadata.fields() {
		if !utf8.ValidString(f.value) {
			errs = append(errs, fmt.Errorf("metadata: %s is not valid UTF-8", f.name))
		}
	}
	if r.Idempotency.Key != "" && r.Idempotency.Fingerprint == "" {
		errs = append(errs, errors.New("idempotency fingerprint is empty"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidAppend, errors.Join(errs...))
	}
	return nil
}
