package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/eventstore"
)

// EventStore is the part of the event-store port the command handlers use.
// The SQLite and MongoDB stores satisfy it.
type EventStore interface {
	Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error)
	ReadStream(ctx context.Context, streamID string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error)
	LookupIdempotency(ctx context.Context, key string) (res eventstore.AppendResult, fingerprint string, found bool, err error)
}

// Stream types, and the prefixes of their stream ids ("scan-<scan_id>").
const (
	StreamTypeScanRun = "ScanRun"
	StreamTypeFinding = "Finding"

	scanStreamPrefix    = "scan-"
	findingStreamPrefix = "finding-"
)

// maxRetries is how often a command on an existing stream reloads and
// decides again after losing a race (ErrConflict) before giving up.
const maxRetries = 3

// Handlers runs the commands. It is safe for concurrent use.
type Handlers struct {
	store EventStore
	codec *eventstore.Codec
	clock func() time.Time

	// Imports (WithImports): the report parsers and the store's
	// multi-stream append.
	reports Reports
	batch   BatchStore
}

// WithImports lets the handlers import reports: reports parses them,
// batch appends their events with their scan's atomically.
func (h *Handlers) WithImports(reports Reports, batch BatchStore) *Handlers {
	h.reports, h.batch = reports, batch
	return h
}

// New returns the command handlers. It panics on a nil dependency: that is a
// wiring mistake to catch at start-up.
func New(store EventStore, codec *eventstore.Codec, clock func() time.Time) *Handlers {
	if store == nil {
		panic("commands.New: nil store")
	}
	if codec == nil {
		panic("commands.New: nil codec")
	}
	if clock == nil {
		panic("commands.New: nil clock")
	}
	return &Handlers{store: store, codec: codec, clock: clock}
}

// now is the clock's time at the precision the stores keep.
func (h *Handlers) now() time.Time { return eventstore.NormalizeTime(h.clock()) }

// timeOr is *t at store precision, or now when t is nil.
func (h *Handlers) timeOr(t *time.Time) time.Time {
	if t == nil {
		return h.now()
	}
	return eventstore.NormalizeTime(*t)
}

// call describes one command for the shared machinery below.
type call struct {
	name     string // command name: scopes idempotency keys, part of the fingerprint
	targetID string // id of the aggregate the command is about (the body may not carry it)
	body     any    // the command as received
	streamID string
	typ      string // stream type
}

// fingerprintInput is what a command's idempotency fingerprint digests: the
// target id is explicit because several command bodies leave it out of their
// JSON (json:"-"), and a key reused for another aggregate is a mismatch.
type fingerprintInput struct {
	Command string `json:"command"`
	ID      string `json:"id,omitempty"`
	Body    any    `json:"body"`
}

// idempotency is the store's Idempotency for c under meta; empty without a key.
func idempotency(meta Meta, c call) (eventstore.Idempotency, error) {
	if meta.IdempotencyKey == "" {
		return eventstore.Idempotency{}, nil
	}
	fp, err := eventstore.Fingerprint(fingerprintInput{Command: c.name, ID: c.targetID, Body: c.body})
	if err != nil {
		return eventstore.Idempotency{}, fmt.Errorf("%s: %w", c.name, err)
	}
	return eventstore.Idempotency{Key: meta.TeamID + ":" + c.name + ":" + meta.IdempotencyKey, Fingerprint: fp}, nil
}

// earlier returns the outcome stored under idem.Key, if this is a retry of a
// command already done, with Duplicate set.
func (h *Handlers) earlier(ctx context.Context, name string, idem eventstore.Idempotency) (eventstore.AppendResult, bool, error) {
	if idem.Key == "" {
		return eventstore.AppendResult{}, false, nil
	}
	res, fp, found, err := h.store.LookupIdempotency(ctx, idem.Key)
	switch {
	case err != nil:
		return eventstore.AppendResult{}, false, fmt.Errorf("%s: look up idempotency key: %w", name, err)
	case !found:
		return eventstore.AppendResult{}, false, nil
	case fp != idem.Fingerprint:
		return eventstore.AppendResult{}, false, fmt.Errorf("%s: %w", name, eventstore.ErrIdempotencyMismatch)
	}
	res.Duplicate = true
	return res, true, nil
}

// metadata stamps the events of one command: who sent it, from where, with
// which idempotency key, and a new command id (UUIDv7) that every event the
// command appends shares, across streams (the audit log's key).
func metadata(meta Meta) (eventstore.Metadata, error) {
	if meta.TeamID == "" {
		return eventstore.Metadata{}, errors.New("commands: meta has no team id")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return eventstore.Metadata{}, fmt.Errorf("command id: %w", err)
	}
	return eventstore.Metadata{
		TeamID:         meta.TeamID,
		Actor:          meta.Actor,
		CorrelationID:  meta.CorrelationID,
		CommandID:      id.String(),
		Route:          meta.Route,
		IdempotencyKey: meta.IdempotencyKey,
	}, nil
}

// newID is a new aggregate id (UUIDv7).
func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}

// requireID is a *domain.ValidationError when the target id is empty.
func requireID(field, id string) error {
	var v domain.Validator
	v.Check(id != "", field, "is required")
	return v.Err()
}

// load reads the stream of c. A stream that does not exist, is of another
// type, or belongs to another team is domain.ErrNotFound.
func (h *Handlers) load(ctx context.Context, meta Meta, c call) ([]eventstore.RecordedEvent, error) {
	history, err := h.store.ReadStream(ctx, c.streamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", c.name, c.streamID, err)
	}
	if len(history) == 0 || history[0].StreamType != c.typ || history[0].Metadata.TeamID != meta.TeamID {
		return nil, fmt.Errorf("%s: %s %q: %w", c.name, c.typ, c.targetID, domain.ErrNotFound)
	}
	return history, nil
}

// decode turns recorded events into domain events of type E.
func decode[E any](codec *eventstore.Codec, history []eventstore.RecordedEvent) ([]E, error) {
	out := make([]E, 0, len(history))
	for _, r := range history {
		v, err := codec.Decode(r)
		if err != nil {
			return nil, err
		}
		e, ok := v.(E)
		if !ok {
			return nil, fmt.Errorf("event %s (%s) of stream %s: unexpected type %T", r.EventID, r.Type, r.StreamID, v)
		}
		out = append(out, e)
	}
	return out, nil
}

// appendRequest encodes events into an append to the stream of c.
func (h *Handlers) appendRequest(c call, expected eventstore.ExpectedVersion, md eventstore.Metadata, idem eventstore.Idempotency, events []any) (eventstore.AppendRequest, error) {
	req := eventstore.AppendRequest{
		StreamID:    c.streamID,
		StreamType:  c.typ,
		Expected:    expected,
		Events:      make([]eventstore.NewEvent, len(events)),
		Metadata:    md,
		Idempotency: idem,
	}
	for i, e := range events {
		ne, err := h.codec.Encode(e)
		if err != nil {
			return eventstore.AppendRequest{}, fmt.Errorf("%s: %w", c.name, err)
		}
		req.Events[i] = ne
	}
	return req, nil
}

// IDInUseError is a create whose chosen id names a stream the caller's team
// does not own (another team's, or one of another type). It carries the
// field of the command that holds the id and nothing about that stream:
// not its version, type, team or state, so that the answer is the same
// whatever the other team did with it (docs/decisions.md, "No cross-team
// oracle").
// A stream of the caller's own team that exists already is the store's
// *eventstore.ConflictError instead, with its current version.
type IDInUseError struct {
	Field string // the id's field in the command: "scan_id", "findings[2].finding_id"
	ID    string // the id the caller chose
}

func (e *IDInUseError) Error() string {
	return fmt.Sprintf("%s %q is already in use", e.Field, e.ID)
}

// takenID explains why a create of c cannot have its chosen id (the field
// holding it, the id) whose stream exists: an *IDInUseError when the stream
// is not the caller's team's stream of c's type, else conflict (the
// store's conflict error, naming the caller's own stream's version).
func (h *Handlers) takenID(ctx context.Context, meta Meta, c call, field, id string, conflict error) error {
	first, err := h.store.ReadStream(ctx, c.streamID, eventstore.ReadStreamOptions{ToVersion: 1})
	if err != nil {
		return fmt.Errorf("%s: read %s: %w", c.name, c.streamID, err)
	}
	if len(first) == 0 {
		// Gone since (cannot happen in an append-only store): report the conflict.
		return conflict
	}
	if first[0].StreamType != c.typ || first[0].Metadata.TeamID != meta.TeamID {
		return fmt.Errorf("%s: %w", c.name, &IDInUseError{Field: field, ID: id})
	}
	return conflict
}

// create runs a command that starts a new stream: idempotency check, then
// decide, then append expecting no stream. A stream that already exists is
// the store's conflict error when it is the caller's team's, an
// *IDInUseError otherwise (field names the id's field in the command).
func create[E any](ctx context.Context, h *Handlers, meta Meta, c call, field string, decide func() ([]E, error)) (Result, error) {
	md, err := metadata(meta)
	if err != nil {
		return Result{}, err
	}
	idem, err := idempotency(meta, c)
	if err != nil {
		return Result{}, err
	}
	if res, dup, err := h.earlier(ctx, c.name, idem); err != nil || dup {
		return toResult(res), err
	}
	events, err := decide()
	if err != nil {
		return Result{}, err
	}
	req, err := h.appendRequest(c, eventstore.NoStream, md, idem, anys(events))
	if err != nil {
		return Result{}, err
	}
	res, err := h.store.Append(ctx, req)
	if errors.Is(err, eventstore.ErrConflict) {
		return Result{}, h.takenID(ctx, meta, c, field, aggregateID(c.streamID),
			fmt.Errorf("%s: append to %s: %w", c.name, c.streamID, err))
	}
	if err != nil {
		return Result{}, fmt.Errorf("%s: append to %s: %w", c.name, c.streamID, err)
	}
	return toResult(res), nil
}

// update runs a command on an existing stream: idempotency check, load,
// decide, append expecting the version loaded. On a conflict it starts over
// (the idempotency check included: the winner may be a retry of this very
// command) up to maxRetries times.
func update[E any](ctx context.Context, h *Handlers, meta Meta, c call, decide func(history []E) ([]E, error)) (Result, error) {
	md, err := metadata(meta)
	if err != nil {
		return Result{}, err
	}
	idem, err := idempotency(meta, c)
	if err != nil {
		return Result{}, err
	}
	for attempt := 0; ; attempt++ {
		if res, dup, err := h.earlier(ctx, c.name, idem); err != nil || dup {
			return toResult(res), err
		}
		recorded, err := h.load(ctx, meta, c)
		if err != nil {
			return Result{}, err
		}
		history, err := decode[E](h.codec, recorded)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", c.name, err)
		}
		events, err := decide(history)
		if err != nil {
			return Result{}, err
		}
		version := recorded[len(recorded)-1].Version
		req, err := h.appendRequest(c, eventstore.Exact(version), md, idem, anys(events))
		if err != nil {
			return Result{}, err
		}
		res, err := h.store.Append(ctx, req)
		if errors.Is(err, eventstore.ErrConflict) && attempt < maxRetries {
			continue
		}
		if err != nil {
			return Result{}, fmt.Errorf("%s: append to %s: %w", c.name, c.streamID, err)
		}
		return toResult(res), nil
	}
}

func anys[E any](events []E) []any {
	out := make([]any, len(events))
	for i, e := range events {
		out[i] = e
	}
	return out
}

func toResult(r eventstore.AppendResult) Result {
	return Result{
		ID:        aggregateID(r.StreamID),
		StreamID:  r.StreamID,
		Version:   r.Version,
		Position:  r.LastPosition(),
		EventIDs:  r.EventIDs,
		Duplicate: r.Duplicate,
	}
}

// aggregateID is the id inside a stream id ("scan-<id>", "finding-<id>").
func aggregateID(streamID string) string {
	for _, prefix := range []string{scanStreamPrefix, findingStreamPrefix} {
		if id, ok := strings.CutPrefix(streamID, prefix); ok {
			return id
		}
	}
	return streamID
}
