package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// EventReader is what the runtime needs from the event store
// (eventstore.Store satisfies it). Rebuilds, parked-event retries and lag
// read it; the live loops read the bus.
type EventReader interface {
	// ReadAll returns up to limit events with position > after, in dense
	// position order.
	ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.RecordedEvent, error)
	// HeadPosition is the highest position readers can see.
	HeadPosition(ctx context.Context) (int64, error)
	// WaitForAppend blocks until the head passes after or ctx ends.
	WaitForAppend(ctx context.Context, after int64) error
}

// Errors.
var (
	// ErrUnknownProjection: no projection of that name is registered.
	ErrUnknownProjection = errors.New("projections: unknown projection")
	// ErrRebuildInProgress: a rebuild of that projection is running.
	ErrRebuildInProgress = errors.New("projections: rebuild already in progress")
	// ErrNotParked: RetryParked or SkipParked found no such parked event.
	ErrNotParked = errors.New("projections: no such parked event")
)

// RuntimeConfig tunes a Runtime. The zero value is the production setup.
type RuntimeConfig struct {
	// BatchSize is the most events a live fetch asks for and one commit
	// covers. Default 500.
	BatchSize int
	// FetchWait is how long one fetch waits for events to arrive. Default
	// 500ms. It bounds how long a pause (rebuild cut-over, parked-event
	// retry) waits for the live loop.
	FetchWait time.Duration
	// Linger is how long a live loop gathers more events after the first
	// one of a batch arrives. Default 2ms.
	Linger time.Duration
	// AckWait is the consumers' ack wait (bus.ConsumerOptions). Default 60s.
	AckWait time.Duration
	// MaxAttempts is how often an event whose Apply fails is tried before
	// it is parked. Default 5.
	MaxAttempts int
	// RetryBackoff is the pause after an event's first failed attempt,
	// doubled after each further one. Default 100ms.
	RetryBackoff time.Duration
	// MinBackoff and MaxBackoff bound the exponential pause after a store
	// or bus error (retried without limit). Defaults 100ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// RebuildBatch is how many events a rebuild reads and commits at a
	// time. Default 2000.
	RebuildBatch int
	// CacheDocs bounds the documents a projection keeps cached between
	// batches (its own writes and reads). Default 10000.
	CacheDocs int
	// WaitPoll is the longest WaitFor waits before asking the bus again
	// whether a projection has processed a position. Default 100ms.
	WaitPoll time.Duration
	// StallTimeout is how long a projection may have events to process
	// without making progress before Status reports it stalled. Default 30s.
	StallTimeout time.Duration
	// MonitorInterval is how often the runtime refreshes its lag and stall
	// metrics and logs stalls and recoveries while started. Default 5s.
	MonitorInterval time.Duration
	// Distributed: several processes run this runtime and share its
	// projections through leases (docs/decisions.md 84). A live loop then
	// runs only while Own has handed its projection to this process, and
	// commits only while the ownership's fence says the lease is valid.
	Distributed bool
}

func (c RuntimeConfig) withDefaults() RuntimeConfig {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.RebuildBatch <= 0 {
		c.RebuildBatch = 2000
	}
	if c.CacheDocs <= 0 {
		c.CacheDocs = 10000
	}
	def(&c.FetchWait, 500*time.Millisecond)
	def(&c.Linger, 2*time.Millisecond)
	def(&c.AckWait, 60*time.Second)
	def(&c.RetryBackoff, 100*time.Millisecond)
	def(&c.MinBackoff, 100*time.Millisecond)
	def(&c.MaxBackoff, 5*time.Second)
	def(&c.WaitPoll, 100*time.Millisecond)
	def(&c.StallTimeout, 30*time.Second)
	def(&c.MonitorInterval, 5*time.Second)
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	return c
}

// RuntimeDeps are the runtime's collaborators.
type RuntimeDeps struct {
	// Events is the event store (rebuilds, parked-event retries, lag).
	Events EventReader
	// Codec decodes (and upcasts) event data; eventstore.NewDomainCodec().
	Codec *eventstore.Codec
	// Stores maps each module database to its read-model store.
	Stores map[dbregistry.Constant]readmodel.Store
	// JetStream and Stream locate the event stream the relay publishes.
	// JetStream may be nil for a runtime that only rebuilds, retries
	// parked events and reports status (no live loops: Start fails).
	JetStream jetstream.JetStream
	Stream    bus.StreamConfig
	// EventModule returns the subject module of an event type (the relay
	// derives it from the stream type), or "" when unknown. A consumer
	// then filters cspm.events.*.<Type>, which is always correct. Default:
	// "" for every type.
	EventModule func(eventType string) string
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Metrics receives counters and gauges; optional (see NewPrometheusMetrics).
	Metrics Metrics
	// Owners reads which process owns each projection (projection name ->
	// node id) for Status; optional (nil: Status shows no owner).
	Owners func(ctx context.Context) (map[string]string, error)
}

// Runtime runs projections: one live loop per projection fed by its
// durable JetStream consumer, plus rebuilds from the event store, parked
// events, status and read-your-writes waits. Its methods are safe for
// concurrent use.
type Runtime struct {
	cfg     RuntimeConfig
	deps    RuntimeDeps
	log     *slog.Logger
	metrics Metrics
	hooks   hooks

	recent  TypeWindow    // the types of recent positions, for idle probes (typecache.go)
	decoded decodedWindow // recent events the live loops decoded, shared (decoded.go)

	mu      sync.Mutex
	workers map[string]*worker
	started bool
	runCtx  context.Context // the live loops' context, from Start to Stop
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// hooks let tests simulate a crash between the steps of a batch, or act
// at a point of the loop.
type hooks struct {
	beforeCommit func(projection string, checkpoint int64) error
	beforeAck    func(projection string, checkpoint int64) error
	// beforeConsumer runs after the catch-up check, before the consumer
	// is made (tests move the stream on in that window).
	beforeConsumer func(projection string, checkpoint int64)
}

// NewRuntime returns a runtime with no projections.
func NewRuntime(cfg RuntimeConfig, deps RuntimeDeps) *Runtime {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	deps.Stream = deps.Stream.WithDefaults()
	if deps.EventModule == nil {
		deps.EventModule = func(string) string { return "" }
	}
	m := deps.Metrics
	if m == nil {
		m = nopMetrics{}
	}
	return &Runtime{
		cfg:     cfg.withDefaults(),
		deps:    deps,
		log:     deps.Logger.With("component", "projections"),
		metrics: m,
		workers: map[string]*worker{},
	}
}

// Register adds a projection. It panics on a wiring error: a duplicate
// name or consumer name, an invalid name, no store for the projection's
// database, no event types, an invalid or reserved collection. Register
// before Start.
func (r *Runtime) Register(p Projection) {
	w, err := r.newWorker(p)
	if err != nil {
		panic(fmt.Sprintf("projections: register %q: %v", p.Name(), err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		panic(fmt.Sprintf("projections: register %q after Start", p.Name()))
	}
	if _, dup := r.workers[w.name]; dup {
		panic(fmt.Sprintf("projections: projection %q registered twice", w.name))
	}
	for _, o := range r.workers {
		if o.consumer == w.consumer {
			panic(fmt.Sprintf("projections: projections %q and %q map to the same consumer %q", o.name, w.name, w.consumer))
		}
	}
	r.workers[w.name] = w
}

// Names returns the registered projections, sorted.
func (r *Runtime) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.workers))
}

// Start prepares every projection (collections and their indexes, the
// parked-events collection, checkpoints, its durable consumer from the
// checkpoint) and starts one live loop per projection; it does not wait
// for them to catch up. A failed Start may be called again. The loops run until
// Stop (not until ctx ends: ctx bounds the preparation only).
func (r *Runtime) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("projections: runtime already started")
	}
	if r.deps.JetStream == nil {
		return errors.New("projections: start: no JetStream (RuntimeDeps.JetStream)")
	}
	if _, err := bus.EnsureStream(ctx, r.deps.JetStream, r.deps.Stream); err != nil {
		return fmt.Errorf("projections: start: %w", err)
	}
	workers := slices.SortedFunc(maps.Values(r.workers), func(a, b *worker) int { return cmp.Compare(a.name, b.name) })
	for _, w := range workers {
		if err := w.prepare(ctx); err != nil {
			if errors.Is(err, readmodel.ErrCorrupt) {
				w.corrupt(err) // the others start; this one waits for the rebuild that repairs it
				continue
			}
			return fmt.Errorf("projections: start %s: %w", w.name, err)
		}
		if r.cfg.Distributed {
			continue // the loop makes its consumer once Own hands it the projection
		}
		// The loop re-ensures a consumer whose filter changed, and rebuilds.
		if err := w.ensureConsumer(ctx, false); err != nil && !errors.Is(err, bus.ErrFilterChanged) {
			return fmt.Errorf("projections: start %s: %w", w.name, err)
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.started, r.runCtx, r.cancel = true, runCtx, cancel
	for _, w := range workers {
		w.setRunning(true)
		r.wg.Go(func() { w.run(runCtx) })
	}
	r.wg.Go(func() { r.monitor(runCtx) })
	r.log.Info("projections started", "count", len(workers))
	return nil
}

// Stop ends the live loops and waits for them (or for ctx). A batch being
// applied is abandoned uncommitted and unacknowledged; the next start
// delivers it again from the checkpoint.
func (r *Runtime) Stop(ctx context.Context) error {
	r.mu.Lock()
	cancel := r.cancel
	r.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		r.log.Info("projections stopped")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("projections: stop: %w", ctx.Err())
	}
}

// runContext is the live loops' context (nil before Start).
func (r *Runtime) runContext() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runCtx
}

func (r *Runtime) worker(name string) (*worker, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.workers[name]
	if w == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProjection, name)
	}
	return w, nil
}

// decode turns a recorded event into an Event, upcasting its data.
func (r *Runtime) decode(rec eventstore.RecordedEvent) (Event, error) {
	data, err := r.deps.Codec.Decode(rec)
	if err != nil {
		return Event{}, err
	}
	return Event{RecordedEvent: rec, Data: data}, nil
}

var consumerUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// ConsumerName is the durable consumer of a projection: its name with
// every character outside [A-Za-z0-9_-] replaced by '_'
// ("cloudsecurity.findings" → "cloudsecurity_findings"). Register refuses
// two projections with one consumer name.
func ConsumerName(projection string) string {
	return consumerUnsafe.ReplaceAllString(projection, "_")
}

// Subjects returns the filter subjects of a consumer for eventTypes:
// <prefix>.<module>.<Type> when module(Type) is known, else
// <prefix>.*.<Type>.
func Subjects(stream bus.StreamConfig, module func(string) string, eventTypes []string) []string {
	stream = stream.WithDefaults()
	set := map[string]bool{}
	for _, t := range eventTypes {
		m := ""
		if module != nil {
			m = module(t)
		}
		if m != "" {
			set[stream.Subject(m, t)] = true
			continue
		}
		// Subject sanitizes the type into one token; keep that token.
		tok := stream.Subject("_", t)[len(stream.SubjectPrefix)+3:]
		set[stream.SubjectPrefix+".*."+tok] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// backoff is an exponential pause between failed attempts.
type backoff struct {
	min, max, cur time.Duration
}

func (r *Runtime) backoff() *backoff { return &backoff{min: r.cfg.MinBackoff, max: r.cfg.MaxBackoff} }

func (b *backoff) reset() { b.cur = 0 }

// wait sleeps for the next pause; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return sleep(ctx, b.cur)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
