// Package relay publishes the event store to NATS JetStream, every event
// once and in position order (docs/architecture.md, invariant 3).
//
// The store is the outbox. Event at position p is published with
// Nats-Expected-Last-Sequence p-1, so the stream's sequence is the event's
// position: the server refuses a publish that would leave a gap or reorder
// events, two relays racing cannot both store an event, and the relay's
// checkpoint is the stream's last sequence, advanced only by acknowledged
// publishes. See docs/bus-and-relay.md.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/bus"
)

// Reader is what the relay needs from the event store (eventstore.Store
// satisfies it).
type Reader interface {
	// ReadAll returns up to limit events with position > after, in dense
	// position order.
	ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.RecordedEvent, error)
	// HeadPosition is the highest position readers can see.
	HeadPosition(ctx context.Context) (int64, error)
	// WaitForAppend blocks until the head passes after or ctx ends.
	WaitForAppend(ctx context.Context, after int64) error
}

var _ Reader = eventstore.Store(nil)

// Errors.
var (
	// ErrMismatch is the class of *MismatchError: the stream holds events
	// the store does not (the store was reset or replaced under an old
	// stream). The relay refuses to publish; ResetStream repairs it.
	ErrMismatch = errors.New("relay: event stream does not match the event store")
	// ErrBusy is returned by Run and CatchUp while the same Relay is
	// already running one of them.
	ErrBusy = errors.New("relay: already running")
)

// MismatchError says how the stream and the store disagree.
type MismatchError struct {
	Stream        string
	StreamLastSeq int64 // the stream's last sequence (= last published position)
	StoreHead     int64 // the store's head position
	// For an event that differs (StreamLastSeq <= StoreHead): the position
	// and the event id each side holds there.
	Position      int64
	StreamEventID string
	StoreEventID  string
}

func (e *MismatchError) Error() string {
	if e.StreamLastSeq > e.StoreHead {
		return fmt.Sprintf("relay: stream %s has last sequence %d but the event store head is %d: "+
			"the store was reset or replaced under an old stream; the relay refuses to publish "+
			"(reset the stream to republish from position 1, and rebuild the projections)",
			e.Stream, e.StreamLastSeq, e.StoreHead)
	}
	held := "event " + e.StreamEventID
	if e.StreamEventID == "" {
		held = "a message without an event id"
	}
	return fmt.Sprintf("relay: stream %s holds %s at sequence %d but the event store has event %s at position %d "+
		"(stream last sequence %d, store head %d): the store was reset or replaced under an old stream, "+
		"or something else publishes to the stream; the relay refuses to publish "+
		"(reset the stream to republish from position 1, and rebuild the projections)",
		e.Stream, held, e.Position, e.StoreEventID, e.Position, e.StreamLastSeq, e.StoreHead)
}

// Is makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// DefaultModules maps stream types to the module in the subject.
var DefaultModules = map[string]string{
	"ScanRun": "orchestration",
	"Finding": "cloud_security",
	"ApiKey":  "platform",
}

// FallbackModule is the module of a stream type nobody mapped.
const FallbackModule = "platform"

// DefaultModuleOf looks streamType up in DefaultModules, else FallbackModule.
func DefaultModuleOf(streamType string) string {
	if m, ok := DefaultModules[streamType]; ok {
		return m
	}
	return FallbackModule
}

// Config tunes a Relay. The zero value is the production setup.
type Config struct {
	// Stream is the event stream (created or updated by Run and CatchUp).
	Stream bus.StreamConfig
	// ModuleOf maps an event's stream type to the subject's module token;
	// an empty result means FallbackModule. Default DefaultModuleOf.
	ModuleOf func(streamType string) string
	// Window is how many publishes are in flight before the relay waits for
	// their acks. Default 256.
	Window int
	// AckTimeout bounds the wait for one window's acks. Default 10s.
	AckTimeout time.Duration
	// MismatchGrace is how long the relay waits for the store's head to
	// reach the stream's last sequence before calling it a mismatch (a
	// store read from a lagging replica may briefly trail another
	// process's relay). Default 2s.
	MismatchGrace time.Duration
	// MinBackoff and MaxBackoff bound the exponential pause after a bus or
	// store error. Defaults 100ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Metrics; default none (NewPrometheusMetrics exports them).
	Metrics Metrics
}

func (c Config) withDefaults() Config {
	c.Stream = c.Stream.WithDefaults()
	if c.ModuleOf == nil {
		c.ModuleOf = DefaultModuleOf
	}
	if c.Window <= 0 {
		c.Window = 256
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 10 * time.Second
	}
	if c.MismatchGrace <= 0 {
		c.MismatchGrace = 2 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(5*time.Second, c.MinBackoff)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
	return c
}

// Status is a snapshot of the relay's progress.
type Status struct {
	Stream  string `json:"stream"`
	Running bool   `json:"running"`
	// Published is the last position known to be in the stream (its last
	// sequence): the relay's checkpoint.
	Published int64 `json:"published"`
	// Head is the store's head position as last read.
	Head int64 `json:"head"`
	// Lag is Head - Published (events not yet on the bus).
	Lag int64 `json:"lag"`
	// Failing is true while the latest attempt failed; LastError and
	// LastErrorAt say why and when, and clear once an attempt succeeds.
	Failing     bool      `json:"failing"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// ProgressAt is when the relay last published something or found
	// nothing to publish: while Lag > 0 and it stays old, the relay is
	// stalled (see Health).
	ProgressAt time.Time `json:"progress_at,omitzero"`
	// ByReference counts the events published by reference since start
	// (too large for the bus: consumers read them from the store), and
	// LastByReference is the position of the latest.
	ByReference     int64     `json:"by_reference"`
	LastByReference int64     `json:"last_by_reference,omitempty"`
	UpdatedAt       time.Time `json:"updated_at,omitzero"`
}

// Relay publishes the store to the stream. Run it in one goroutine; several
// relays (in one or several processes) on the same store and stream are
// safe, and only waste work.
type Relay struct {
	store Reader
	js    jetstream.JetStream
	cfg   Config
	log   *slog.Logger

	busy atomic.Bool
	// ended is set when Run returns, cleared when it begins: a relay whose
	// Run ended (a *MismatchError) is stalled at once, one whose Run has
	// not begun yet (a goroutine not scheduled, a lease being taken) only
	// once the stall bound passes (Health).
	ended atomic.Bool

	// tooLarge is the size of the smallest message the server refused as
	// too large although its max payload did not predict it (an account or
	// cluster limit), 0 when none was. Owned by the goroutine running Run
	// or CatchUp (busy).
	tooLarge int
	// warnedLimit is the size limit last warned about (Run's goroutine).
	warnedLimit int

	mu sync.Mutex
	st Status
}

// New returns a relay from store to the stream of cfg through js.
func New(store Reader, js jetstream.JetStream, cfg Config) *Relay {
	cfg = cfg.withDefaults()
	return &Relay{
		store: store,
		js:    js,
		cfg:   cfg,
		log:   cfg.Logger.With("component", "relay", "stream", cfg.Stream.Name),
		st:    Status{Stream: cfg.Stream.Name},
	}
}

// Status returns the latest progress snapshot.
func (r *Relay) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// Checkpoint reads the relay's checkpoint from the server: the stream's
// last sequence, i.e. the last position acknowledged by JetStream.
func (r *Relay) Checkpoint(ctx context.Context) (int64, error) {
	s, err := r.js.Stream(ctx, r.cfg.Stream.Name)
	if err != nil {
		return 0, fmt.Errorf("relay: checkpoint: stream %s: %w", r.cfg.Stream.Name, err)
	}
	return int64(s.CachedInfo().State.LastSeq), nil
}

// errCodeStreamCreate is JetStream's "error creating store for stream".
const errCodeStreamCreate jetstream.ErrorCode = 10049

// ResetStream deletes the stream (its messages and its consumers) and
// creates it empty, so the relay republishes the store from position 1.
// It is the repair for a *MismatchError after the store was reset; the
// projections fed by the old stream must be rebuilt.
func (r *Relay) ResetStream(ctx context.Context) error {
	if err := bus.DeleteStream(ctx, r.js, r.cfg.Stream.Name); err != nil {
		return fmt.Errorf("relay: reset stream: %w", err)
	}
	// nats-server may still be removing the deleted stream's files: its
	// create then fails with "error creating store for stream" (10049)
	// for a moment. Retry that, briefly.
	for attempt := 0; ; attempt++ {
		_, err := bus.EnsureStream(ctx, r.js, r.cfg.Stream)
		if err == nil {
			break
		}
		var apiErr *jetstream.APIError
		if attempt >= 20 || !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodeStreamCreate {
			return fmt.Errorf("relay: reset stream: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("relay: reset stream: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.log.Warn("event stream reset: every event will be republished from position 1")
	r.update(func(s *Status) { s.Published = 0; s.Lag = s.Head })
	return nil
}

// Run publishes until ctx ends, then returns nil. It catches up from the
// stream's last sequence, then waits for appends. Bus and store errors are
// logged, shown in Status and retried with backoff; a *MismatchError is
// returned (the relay cannot fix it alone).
func (r *Relay) Run(ctx context.Context) error {
	if !r.busy.CompareAndSwap(false, true) {
		return ErrBusy
	}
	defer r.busy.Store(false)
	r.ended.Store(false)
	r.update(func(s *Status) { s.Running = true })
	defer r.update(func(s *Status) { s.Running = false })
	defer r.ended.Store(true)
	r.log.Info("relay started", "window", r.cfg.Window)

	var (
		b       = backoff{min: r.cfg.MinBackoff, max: r.cfg.MaxBackoff}
		ensured bool
		synced  bool
		last    int64 // last position in the stream, valid while synced
		cur     *batch
		behind  bool // log when caught up again
		fail    = func(what string, err error) {
			if ctx.Err() == nil {
				behind = true
				r.recordError(what, err)
				_, _ = r.refreshHead(ctx)
				b.wait(ctx)
			}
		}
	)
	for ctx.Err() == nil {
		if !ensured {
			if _, err := bus.EnsureStream(ctx, r.js, r.cfg.Stream); err != nil {
				fail("ensure stream", err)
				continue
			}
			ensured = true
		}
		if !synced {
			var err error
			last, err = r.sync(ctx)
			if errors.Is(err, ErrMismatch) {
				r.recordError("sync", err)
				return err
			}
			if err != nil {
				fail("sync with stream", err)
				continue
			}
			synced, cur = true, nil
			if st := r.Status(); st.Lag > 0 {
				behind = true
				r.log.Info("relay resuming", "published", last, "head", st.Head, "lag", st.Lag)
			}
		}
		if cur == nil {
			var err error
			if cur, err = r.prepare(ctx, last); err != nil {
				cur = nil
				fail("read store", err)
				continue
			}
		}
		if len(cur.events) == 0 { // caught up
			cur = nil
			head, err := r.refreshHead(ctx)
			if err != nil {
				fail("read store head", err)
				continue
			}
			if head > last {
				continue
			}
			if behind {
				behind = false
				r.log.Info("relay caught up", "published", last)
			}
			if err := r.store.WaitForAppend(ctx, last); err != nil && ctx.Err() == nil {
				fail("wait for append", err)
			}
			continue
		}

		res, next, err := r.step(ctx, cur)
		last, cur = res.last, next
		switch {
		case err == nil:
			b.reset()
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrMismatch):
			r.recordError("publish", err)
			return err
		case isConflict(err):
			// Another relay (or a publish whose ack we missed) moved the
			// stream: re-read where it is and go on from there.
			r.log.Debug("stream moved under the relay; re-syncing", "error", err)
			synced = false
		case res.readErr:
			fail("read store", err) // the publish went fine; read again
		default:
			synced = false
			fail("publish", err)
		}
	}
	return nil
}

// CatchUp publishes everything the store holds past the stream's last
// sequence and returns how many events this call stored in the stream.
// It does not retry bus errors (a conflict with another relay is not an
// error: it re-syncs and goes on). For tests, benchmarks and tools.
func (r *Relay) CatchUp(ctx context.Context) (published int, err error) {
	if !r.busy.CompareAndSwap(false, true) {
		return 0, ErrBusy
	}
	defer r.busy.Store(false)
	if _, err := bus.EnsureStream(ctx, r.js, r.cfg.Stream); err != nil {
		return 0, fmt.Errorf("relay: %w", err)
	}
	for {
		last, err := r.sync(ctx)
		if err != nil {
			return published, err
		}
		cur, err := r.prepare(ctx, last)
		for err == nil && len(cur.events) > 0 {
			var res stepResult
			res, cur, err = r.step(ctx, cur)
			published += res.acked
		}
		if isConflict(err) {
			continue // re-sync
		}
		return published, err
	}
}

// sync reads the stream's last sequence, creating the stream if it is gone,
// and checks it against the store. It returns the position to publish after.
func (r *Relay) sync(ctx context.Context) (int64, error) {
	name := r.cfg.Stream.Name
	s, err := r.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		r.log.Warn("event stream missing: recreating it; every event will be republished from position 1")
		s, err = bus.EnsureStream(ctx, r.js, r.cfg.Stream)
	}
	if err != nil {
		return 0, fmt.Errorf("relay: read stream %s: %w", name, err)
	}
	last := int64(s.CachedInfo().State.LastSeq)
	head, err := r.store.HeadPosition(ctx)
	if err != nil {
		return 0, fmt.Errorf("relay: read store head: %w", err)
	}
	if last > head {
		if head, err = r.waitForHead(ctx, last); err != nil {
			return 0, err
		}
	}
	r.update(func(st *Status) { st.Published = last; st.Head = head; st.Lag = max(0, head-last) })
	if last > head {
		return 0, &MismatchError{Stream: name, StreamLastSeq: last, StoreHead: head}
	}
	if last > 0 {
		if err := r.verifyLast(ctx, s, last, head); err != nil {
			return 0, err
		}
	}
	r.update(func(st *Status) { st.Failing = false })
	r.checkLimit()
	r.log.Debug("synced with stream", "published", last, "head", head)
	return last, nil
}

// checkLimit warns, once per limit, when the server's max payload is below
// the largest event the store accepts: such events go by reference.
func (r *Relay) checkLimit() {
	limit := r.sizeLimit()
	if limit <= 0 || limit == r.warnedLimit {
		return
	}
	r.warnedLimit = limit
	if need := eventstore.MaxEnvelopeBytes + 1024; limit < need {
		r.log.Warn("the NATS server's max payload is below the largest event the store accepts: larger events are published by reference and read from the event store by consumers",
			"max_payload", limit, "largest_event", need)
	}
}

// waitForHead gives the store MismatchGrace to show position want and
// returns its head then.
func (r *Relay) waitForHead(ctx context.Context, want int64) (int64, error) {
	wctx, cancel := context.WithTimeout(ctx, r.cfg.MismatchGrace)
	err := r.store.WaitForAppend(wctx, want-1)
	cancel()
	if err != nil && ctx.Err() != nil {
		return 0, ctx.Err()
	}
	head, err := r.store.HeadPosition(ctx)
	if err != nil {
		return 0, fmt.Errorf("relay: read store head: %w", err)
	}
	return head, nil
}

// verifyLast checks that the stream's last message is the store's event at
// that position (same event id), which catches a store reset that has
// already grown past the old stream, and foreign publishers.
func (r *Relay) verifyLast(ctx context.Context, s jetstream.Stream, last, head int64) error {
	msg, err := s.GetMsg(ctx, uint64(last))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // expired by retention: nothing to compare
	}
	if err != nil {
		return fmt.Errorf("relay: read stream message %d: %w", last, err)
	}
	evs, err := r.store.ReadAll(ctx, last-1, 1)
	if err != nil {
		return fmt.Errorf("relay: read store position %d: %w", last, err)
	}
	storeID := ""
	if len(evs) == 1 && evs[0].Position == last {
		storeID = evs[0].EventID
	}
	if streamID := msg.Header.Get(nats.MsgIdHdr); streamID != storeID {
		return &MismatchError{Stream: r.cfg.Stream.Name, StreamLastSeq: last, StoreHead: head,
			Position: last, StreamEventID: streamID, StoreEventID: storeID}
	}
	return nil
}

// batch is one window of events read from the store, with its messages.
type batch struct {
	after  int64 // position before the first event
	events []eventstore.RecordedEvent
	msgs   []*nats.Msg
}

// prepare reads the window after position after and encodes it.
func (r *Relay) prepare(ctx context.Context, after int64) (*batch, error) {
	evs, err := r.store.ReadAll(ctx, after, r.cfg.Window)
	if err != nil {
		return nil, fmt.Errorf("relay: read store after %d: %w", after, err)
	}
	b := &batch{after: after, events: evs, msgs: make([]*nats.Msg, len(evs))}
	limit := r.sizeLimit()
	for i := range evs {
		if want := after + int64(i) + 1; evs[i].Position != want {
			return nil, fmt.Errorf("relay: store returned position %d after %d, want %d (positions must be dense)", evs[i].Position, want-1, want)
		}
		if b.msgs[i], err = r.message(&evs[i], limit); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// sizeLimit is the largest message the relay may publish: the smaller of
// the server's max payload and the size of a message the server refused
// as too large; 0 when neither is known.
func (r *Relay) sizeLimit() int {
	limit := 0
	if nc := r.js.Conn(); nc != nil {
		limit = int(nc.MaxPayload())
	}
	if l := r.tooLarge - 1; l > 0 && (limit == 0 || l < limit) {
		limit = l
	}
	return limit
}

// messageSize is what the server counts of msg against its limits: the
// payload and the headers, with room for the three JetStream headers the
// publish options add.
func messageSize(msg *nats.Msg) int {
	const jetStreamHeaders = 256
	n := len(msg.Data) + len("NATS/1.0\r\n\r\n") + jetStreamHeaders
	for k, vs := range msg.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// refusedAsTooLarge lowers the size limit below msg's size: the next
// attempt publishes it (and anything as large) by reference.
func (r *Relay) refusedAsTooLarge(msg *nats.Msg) {
	if n := messageSize(msg); r.tooLarge == 0 || n < r.tooLarge {
		r.tooLarge = n
		r.log.Warn("the server refused a message as too large; messages of this size go by reference from now on", "size", n)
	}
}

// isTooLarge reports the server refusing a message as too large.
func isTooLarge(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, nats.ErrMaxPayload) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum)
}

type stepResult struct {
	acked   int   // events this step stored in the stream
	last    int64 // last position known to be in the stream
	readErr bool  // the error is the read-ahead's, the window itself went fine
}

// step publishes cur, all in flight at once, reads and encodes the next
// window while the acks come back, then waits for every ack of cur. The
// next batch is returned only when all of cur was acknowledged.
//
// An ack for position p proves that 1..p are in the stream (p is accepted
// only at last sequence p-1), so the result's last is the highest
// acknowledged position even when an earlier publish reported an error.
func (r *Relay) step(ctx context.Context, cur *batch) (stepResult, *batch, error) {
	res := stepResult{last: cur.after}
	name := r.cfg.Stream.Name
	futures := make([]jetstream.PubAckFuture, 0, len(cur.msgs))
	var sendErr error
	for i, msg := range cur.msgs {
		e := &cur.events[i]
		f, err := r.js.PublishMsgAsync(msg,
			jetstream.WithMsgID(e.EventID),
			jetstream.WithExpectLastSequence(uint64(e.Position-1)),
			jetstream.WithExpectStream(name),
		)
		if err != nil {
			if isTooLarge(err) {
				r.refusedAsTooLarge(msg)
			}
			sendErr = fmt.Errorf("relay: publish position %d: %w", e.Position, err)
			break
		}
		futures = append(futures, f)
	}

	var next *batch
	var nextErr error
	if sendErr == nil {
		next, nextErr = r.prepare(ctx, cur.after+int64(len(cur.events)))
	}

	ackErr := r.await(ctx, cur, futures, &res)
	if res.last > cur.after {
		r.update(func(s *Status) {
			s.Published = res.last
			s.Head = max(s.Head, res.last)
			s.Lag = s.Head - s.Published
			s.Failing = false
		})
	}
	switch {
	case ackErr != nil && sendErr != nil && !isConflict(ackErr):
		return res, nil, errors.Join(ackErr, sendErr)
	case ackErr != nil: // a conflict is reported alone: it only means re-sync
		return res, nil, ackErr
	case sendErr != nil:
		return res, nil, sendErr
	case nextErr != nil:
		res.readErr = true
		return res, nil, nextErr
	}
	return res, next, nil
}

// await waits for the acks of cur's futures (bounded by AckTimeout) and
// records progress in res. It returns the first error.
func (r *Relay) await(ctx context.Context, cur *batch, futures []jetstream.PubAckFuture, res *stepResult) error {
	name := r.cfg.Stream.Name
	timer := time.NewTimer(r.cfg.AckTimeout)
	defer timer.Stop()
	var ackErr error
	for i, f := range futures {
		pos := cur.after + int64(i) + 1
		select {
		case ack := <-f.Ok():
			if ack.Stream != name || ack.Sequence != uint64(pos) {
				// Only a duplicate (same event id within the duplicate
				// window) can be acked at another sequence: the event is
				// in the stream, but not at its position.
				if ackErr == nil {
					id := cur.events[i].EventID
					ackErr = &MismatchError{Stream: name, StreamLastSeq: pos - 1, StoreHead: r.Status().Head,
						Position: pos, StreamEventID: fmt.Sprintf("%s (stored at sequence %d of %s)", id, ack.Sequence, ack.Stream),
						StoreEventID: id}
				}
				continue
			}
			res.last = max(res.last, pos)
			if !ack.Duplicate {
				res.acked++
			}
			r.cfg.Metrics.Published(time.Since(cur.events[i].RecordedAt), ack.Duplicate)
		case err := <-f.Err():
			if isTooLarge(err) {
				r.refusedAsTooLarge(cur.msgs[i])
			}
			if ackErr == nil {
				ackErr = fmt.Errorf("relay: publish position %d: %w", pos, err)
			}
		case <-timer.C:
			if ackErr == nil {
				ackErr = fmt.Errorf("relay: no ack for positions %d..%d within %s", pos, cur.after+int64(len(futures)), r.cfg.AckTimeout)
			}
			return ackErr
		case <-ctx.Done():
			if ackErr == nil {
				ackErr = ctx.Err()
			}
			return ackErr
		}
	}
	return ackErr
}

// message builds the NATS message of e: the JSON envelope with the
// Watermill UUID and cspm headers (the JetStream ones are added by the
// publish options). A message over limit (0: none) is published by
// reference instead: the envelope without its data, marked with
// bus.HeaderDataRef, so consumers read the event from the store. The store
// keeps every event under eventstore.MaxEnvelopeBytes and the embedded
// server accepts that, so this happens only with an external server (or a
// stream) whose limit is smaller, or with events stored before the limit.
func (r *Relay) message(e *eventstore.RecordedEvent, limit int) (*nats.Msg, error) {
	msg, err := r.buildMessage(e, e.Data)
	if err != nil {
		return nil, err
	}
	if size := messageSize(msg); limit > 0 && size > limit {
		if msg, err = r.buildMessage(e, nil); err != nil {
			return nil, err
		}
		msg.Header[bus.HeaderDataRef] = []string{"store"}
		r.log.Warn("event too large for the bus: published by reference (consumers read it from the event store)",
			"position", e.Position, "event_id", e.EventID, "type", e.Type, "size", size, "limit", limit)
		r.cfg.Metrics.ByReference()
		r.update(func(s *Status) { s.ByReference++; s.LastByReference = e.Position })
	}
	return msg, nil
}

func (r *Relay) buildMessage(e *eventstore.RecordedEvent, data json.RawMessage) (*nats.Msg, error) {
	ev := *e
	ev.Data = data
	payload, err := encodeEnvelope(&ev)
	if err != nil {
		return nil, fmt.Errorf("relay: encode event %s at position %d: %w", e.EventID, e.Position, err)
	}
	data = payload
	module := r.cfg.ModuleOf(e.StreamType)
	if module == "" {
		module = FallbackModule
	}
	h := make(nats.Header, 9) // room for the three JetStream headers
	h[bus.HeaderWatermillUUID] = []string{e.EventID}
	h[bus.HeaderPosition] = []string{strconv.FormatInt(e.Position, 10)}
	h[bus.HeaderEventType] = []string{e.Type}
	h[bus.HeaderStreamID] = []string{e.StreamID}
	h[bus.HeaderStreamType] = []string{e.StreamType}
	h[bus.HeaderTeamID] = []string{e.Metadata.TeamID}
	return &nats.Msg{Subject: r.cfg.Stream.Subject(module, e.Type), Data: data, Header: h}, nil
}

// refreshHead reads the store's head into the status (so Lag stays true
// while the bus is down).
func (r *Relay) refreshHead(ctx context.Context) (int64, error) {
	head, err := r.store.HeadPosition(ctx)
	if err != nil {
		return 0, fmt.Errorf("relay: read store head: %w", err)
	}
	r.update(func(s *Status) { s.Head = head; s.Lag = max(0, head-s.Published) })
	return head, nil
}

func (r *Relay) update(f func(*Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lag, published := r.st.Lag, r.st.Published
	f(&r.st)
	now := time.Now()
	r.st.UpdatedAt = now
	if r.st.Published > published || r.st.Lag == 0 {
		r.st.ProgressAt = now
	}
	if !r.st.Failing && r.st.LastError != "" {
		r.log.Info("relay recovered", "published", r.st.Published, "head", r.st.Head, "failed_since", r.st.LastErrorAt)
		r.st.LastError, r.st.LastErrorAt = "", time.Time{}
	}
	if r.st.Lag != lag {
		r.cfg.Metrics.Lag(r.st.Lag)
	}
}

func (r *Relay) recordError(what string, err error) {
	r.log.Warn("relay: "+what+" failed", "error", err)
	r.update(func(s *Status) {
		if !s.Failing || s.LastErrorAt.IsZero() {
			s.LastErrorAt = time.Now() // failing since
		}
		s.Failing = true
		s.LastError = what + ": " + err.Error()
	})
}

// isConflict reports a wrong-last-sequence refusal: the stream is not where
// this publish expected it (another relay, or a publish whose ack we missed,
// got there first).
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// backoff is an exponential pause between failed attempts.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) reset() { b.cur = 0 }

// wait sleeps for the next pause; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	t := time.NewTimer(b.cur)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Health is how well the relay keeps up, for readiness, status and metrics.
type Health struct {
	Status
	// LagSeconds is the age of the oldest event not on the bus yet (0
	// when none is pending).
	LagSeconds float64 `json:"lag_seconds"`
	// StalledSince is set while events are pending and the relay has not
	// made progress for longer than the bound given to Health.
	StalledSince time.Time `json:"stalled_since,omitzero"`
	// Problem says why the relay is not healthy ("" when it is); LastError
	// says more.
	Problem string `json:"problem,omitempty"`
}

// Monitor calls Health every interval until ctx ends: it keeps the lag
// and stall metrics current and logs once when the relay stalls and once
// when it no longer is.
func (r *Relay) Monitor(ctx context.Context, bound, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	stalled := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h := r.Health(ctx, bound)
		if ctx.Err() != nil {
			return
		}
		now := !h.StalledSince.IsZero()
		r.cfg.Metrics.Health(h.LagSeconds, now)
		switch {
		case now && !stalled:
			r.log.Error("relay stalled", "problem", h.Problem, "since", h.StalledSince, "last_error", h.LastError)
		case !now && stalled:
			r.log.Info("relay no longer stalled", "published", h.Published, "head", h.Head)
		}
		stalled = now
	}
}

// Health reads the store's head and the oldest event not published yet
// and says whether the relay is stalled: events pending and no progress
// (nothing published) for longer than bound, measured from the later of
// its last progress and the oldest pending event's append. A relay that
// publishes is never stalled, however far behind; one whose Run returned
// (a *MismatchError) is stalled as soon as an event is pending, one whose
// Run has not begun yet only after bound, like one that makes no progress.
func (r *Relay) Health(ctx context.Context, bound time.Duration) Health {
	h := Health{Status: r.Status()}
	head, err := r.store.HeadPosition(ctx)
	if err != nil {
		h.Problem = "cannot read the event store's head: " + err.Error()
		return h
	}
	h.Head, h.Lag = head, max(0, head-h.Published)
	if h.Lag == 0 {
		return h
	}
	since := h.ProgressAt
	evs, err := r.store.ReadAll(ctx, h.Published, 1)
	if err != nil {
		h.Problem = "cannot read the oldest pending event: " + err.Error()
		return h
	}
	if len(evs) == 1 {
		h.LagSeconds = max(0, time.Since(evs[0].RecordedAt).Seconds())
		if evs[0].RecordedAt.After(since) {
			since = evs[0].RecordedAt
		}
	}
	ended := !h.Running && r.ended.Load()
	if ended || time.Since(since) > bound {
		h.StalledSince = since
		switch {
		case ended:
			h.Problem = fmt.Sprintf("relay is not running; %d events are not on the bus", h.Lag)
		default:
			h.Problem = fmt.Sprintf("relay stalled for %s: %d events are not on the bus (next position %d)",
				time.Since(since).Round(time.Second), h.Lag, h.Published+1)
		}
	}
	return h
}
