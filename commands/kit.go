package commands

import (
	"context"
	"errors"
	"fmt"
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

// BatchStore appends to several streams at once, all or nothing.
type BatchStore interface {
	AppendBatch(ctx context.Context, reqs []eventstore.AppendRequest) ([]eventstore.AppendResult, error)
}

// maxRetries is how often a command on an existing stream reloads and
// decides again after losing a race (ErrConflict) before giving up.
const maxRetries = 3

// Kit is what every module's command handlers run on: the event store, the
// codec and the clock, and the machinery of Create and Update. It is safe
// for concurrent use.
type Kit struct {
	store EventStore
	codec *eventstore.Codec
	clock func() time.Time
}

// NewKit returns the kit. It panics on a nil dependency: that is a wiring
// mistake to catch at start-up.
func NewKit(store EventStore, codec *eventstore.Codec, clock func() time.Time) *Kit {
	if store == nil {
		panic("commands.NewKit: nil store")
	}
	if codec == nil {
		panic("commands.NewKit: nil codec")
	}
	if clock == nil {
		panic("commands.NewKit: nil clock")
	}
	return &Kit{store: store, codec: codec, clock: clock}
}

// Store is the event store the kit appends to.
func (k *Kit) Store() EventStore { return k.store }

// Codec encodes and decodes the domain's events.
func (k *Kit) Codec() *eventstore.Codec { return k.codec }

// Now is the clock's time at the precision the stores keep.
func (k *Kit) Now() time.Time { return eventstore.NormalizeTime(k.clock()) }

// TimeOr is *t at store precision, or Now when t is nil.
func (k *Kit) TimeOr(t *time.Time) time.Time {
	if t == nil {
		return k.Now()
	}
	return eventstore.NormalizeTime(*t)
}

// Call describes one command for the shared machinery (Create, Update,
// Load, AppendRequest...).
type Call struct {
	Name     string // command name: scopes idempotency keys, part of the fingerprint
	TargetID string // id of the aggregate the command is about (the body may not carry it)
	Body     any    // the command as received
	StreamID string
	Type     string // stream type
}

// fingerprintInput is what a command's idempotency fingerprint digests: the
// target id is explicit because several command bodies leave it out of their
// JSON (json:"-"), and a key reused for another aggregate is a mismatch.
type fingerprintInput struct {
	Command string `json:"command"`
	ID      string `json:"id,omitempty"`
	Body    any    `json:"body"`
}

// Idempotency is the store's Idempotency for c under meta; empty without a
// key. The key is scoped to the team and the command.
func Idempotency(meta Meta, c Call) (eventstore.Idempotency, error) {
	if meta.IdempotencyKey == "" {
		return eventstore.Idempotency{}, nil
	}
	fp, err := eventstore.Fingerprint(fingerprintInput{Command: c.Name, ID: c.TargetID, Body: c.Body})
	if err != nil {
		return eventstore.Idempotency{}, fmt.Errorf("%s: %w", c.Name, err)
	}
	return eventstore.Idempotency{Key: meta.TeamID + ":" + c.Name + ":" + meta.IdempotencyKey, Fingerprint: fp}, nil
}

// Earlier returns the outcome stored under idem.Key, if this is a retry of
// a command already done, with Duplicate set. The same key with another
// fingerprint is eventstore.ErrIdempotencyMismatch.
func (k *Kit) Earlier(ctx context.Context, name string, idem eventstore.Idempotency) (eventstore.AppendResult, bool, error) {
	if idem.Key == "" {
		return eventstore.AppendResult{}, false, nil
	}
	res, fp, found, err := k.store.LookupIdempotency(ctx, idem.Key)
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

// Metadata stamps the events of one command: who sent it, from where, with
// which idempotency key, and a new command id (UUIDv7) that every event the
// command appends shares, across streams (the audit log's key).
func Metadata(meta Meta) (eventstore.Metadata, error) {
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

// NewID is a new aggregate id (UUIDv7).
func NewID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}

// RequireID is a *domain.ValidationError naming field when the target id
// is empty.
func RequireID(field, id string) error {
	var v domain.Validator
	v.Check(id != "", field, "is required")
	return v.Err()
}

// Load reads the stream of c. A stream that does not exist, is of another
// type, or belongs to another team is domain.ErrNotFound.
func (k *Kit) Load(ctx context.Context, meta Meta, c Call) ([]eventstore.RecordedEvent, error) {
	history, err := k.store.ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", c.Name, c.StreamID, err)
	}
	if len(history) == 0 || history[0].StreamType != c.Type || history[0].Metadata.TeamID != meta.TeamID {
		return nil, fmt.Errorf("%s: %s %q: %w", c.Name, c.Type, c.TargetID, domain.ErrNotFound)
	}
	return history, nil
}

// Decode turns recorded events into domain events of type E.
func Decode[E any](codec *eventstore.Codec, history []eventstore.RecordedEvent) ([]E, error) {
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

// AppendRequest encodes events into an append to the stream of c.
func (k *Kit) AppendRequest(c Call, expected eventstore.ExpectedVersion, md eventstore.Metadata, idem eventstore.Idempotency, events []any) (eventstore.AppendRequest, error) {
	req := eventstore.AppendRequest{
		StreamID:    c.StreamID,
		StreamType:  c.Type,
		Expected:    expected,
		Events:      make([]eventstore.NewEvent, len(events)),
		Metadata:    md,
		Idempotency: idem,
	}
	for i, e := range events {
		ne, err := k.codec.EncodeFor(md.TeamID, e)
		if err != nil {
			return eventstore.AppendRequest{}, fmt.Errorf("%s: %w", c.Name, err)
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

// TakenID explains why a create of c cannot have its chosen id (the field
// holding it, the id) whose stream exists: an *IDInUseError when the stream
// is not the caller's team's stream of c's type, else conflict (the
// store's conflict error, naming the caller's own stream's version).
func (k *Kit) TakenID(ctx context.Context, meta Meta, c Call, field, id string, conflict error) error {
	first, err := k.store.ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{ToVersion: 1})
	if err != nil {
		return fmt.Errorf("%s: read %s: %w", c.Name, c.StreamID, err)
	}
	if len(first) == 0 {
		// Gone since (cannot happen in an append-only store): report the conflict.
		return conflict
	}
	if first[0].StreamType != c.Type || first[0].Metadata.TeamID != meta.TeamID {
		return fmt.Errorf("%s: %w", c.Name, &IDInUseError{Field: field, ID: id})
	}
	return conflict
}

// Create runs a command that starts a new stream: idempotency check, then
// decide, then append expecting no stream. A stream that already exists is
// the store's conflict error when it is the caller's team's, an
// *IDInUseError otherwise (field names the id's field in the command).
func Create[E any](ctx context.Context, k *Kit, meta Meta, c Call, field string, decide func() ([]E, error)) (Result, error) {
	md, err := Metadata(meta)
	if err != nil {
		return Result{}, err
	}
	idem, err := Idempotency(meta, c)
	if err != nil {
		return Result{}, err
	}
	if res, dup, err := k.Earlier(ctx, c.Name, idem); err != nil || dup {
		return ToResult(res), err
	}
	events, err := decide()
	if err != nil {
		return Result{}, err
	}
	req, err := k.AppendRequest(c, eventstore.NoStream, md, idem, Anys(events))
	if err != nil {
		return Result{}, err
	}
	res, err := k.store.Append(ctx, req)
	if errors.Is(err, eventstore.ErrConflict) {
		return Result{}, k.TakenID(ctx, meta, c, field, AggregateID(c.StreamID),
			fmt.Errorf("%s: append to %s: %w", c.Name, c.StreamID, err))
	}
	if err != nil {
		return Result{}, fmt.Errorf("%s: append to %s: %w", c.Name, c.StreamID, err)
	}
	return ToResult(res), nil
}

// Update runs a command on an existing stream: idempotency check, load,
// decide, append expecting the version loaded. On a conflict it starts over
// (the idempotency check included: the winner may be a retry of this very
// command) up to maxRetries times.
func Update[E any](ctx context.Context, k *Kit, meta Meta, c Call, decide func(history []E) ([]E, error)) (Result, error) {
	md, err := Metadata(meta)
	if err != nil {
		return Result{}, err
	}
	idem, err := Idempotency(meta, c)
	if err != nil {
		return Result{}, err
	}
	for attempt := 0; ; attempt++ {
		if res, dup, err := k.Earlier(ctx, c.Name, idem); err != nil || dup {
			return ToResult(res), err
		}
		recorded, err := k.Load(ctx, meta, c)
		if err != nil {
			return Result{}, err
		}
		history, err := Decode[E](k.codec, recorded)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", c.Name, err)
		}
		events, err := decide(history)
		if err != nil {
			return Result{}, err
		}
		version := recorded[len(recorded)-1].Version
		req, err := k.AppendRequest(c, eventstore.Exact(version), md, idem, Anys(events))
		if err != nil {
			return Result{}, err
		}
		res, err := k.store.Append(ctx, req)
		if errors.Is(err, eventstore.ErrConflict) && attempt < maxRetries {
			continue
		}
		if err != nil {
			return Result{}, fmt.Errorf("%s: append to %s: %w", c.Name, c.StreamID, err)
		}
		return ToResult(res), nil
	}
}

// Anys is events as []any, what AppendRequest takes.
func Anys[E any](events []E) []any {
	out := make([]any, len(events))
	for i, e := range events {
		out[i] = e
	}
	return out
}

// ToResult is the Result of an append.
func ToResult(r eventstore.AppendResult) Result {
	return Result{
		ID:        AggregateID(r.StreamID),
		StreamID:  r.StreamID,
		Version:   r.Version,
		Position:  r.LastPosition(),
		EventIDs:  r.EventIDs,
		Duplicate: r.Duplicate,
	}
}

// Upsert runs a command on a stream its first command starts (the triage
// stream of an imported finding): like Update, except that a stream that
// does not exist yet is decided on an empty history and created, expecting
// no stream. A stream of another type, or of another team, is
// domain.ErrNotFound. On a conflict (a concurrent first command, or one
// that moved the stream on) it starts over, up to maxRetries times.
func Upsert[E any](ctx context.Context, k *Kit, meta Meta, c Call, decide func(history []E) ([]E, error)) (Result, error) {
	md, err := Metadata(meta)
	if err != nil {
		return Result{}, err
	}
	idem, err := Idempotency(meta, c)
	if err != nil {
		return Result{}, err
	}
	for attempt := 0; ; attempt++ {
		if res, dup, err := k.Earlier(ctx, c.Name, idem); err != nil || dup {
			return ToResult(res), err
		}
		recorded, err := k.store.ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
		if err != nil {
			return Result{}, fmt.Errorf("%s: read %s: %w", c.Name, c.StreamID, err)
		}
		expected := eventstore.NoStream
		if len(recorded) > 0 {
			if recorded[0].StreamType != c.Type || recorded[0].Metadata.TeamID != meta.TeamID {
				return Result{}, fmt.Errorf("%s: %s %q: %w", c.Name, c.Type, c.TargetID, domain.ErrNotFound)
			}
			expected = eventstore.Exact(recorded[len(recorded)-1].Version)
		}
		history, err := Decode[E](k.codec, recorded)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", c.Name, err)
		}
		events, err := decide(history)
		if err != nil {
			return Result{}, err
		}
		req, err := k.AppendRequest(c, expected, md, idem, Anys(events))
		if err != nil {
			return Result{}, err
		}
		res, err := k.store.Append(ctx, req)
		if errors.Is(err, eventstore.ErrConflict) && attempt < maxRetries {
			continue
		}
		if err != nil {
			return Result{}, fmt.Errorf("%s: append to %s: %w", c.Name, c.StreamID, err)
		}
		return ToResult(res), nil
	}
}
