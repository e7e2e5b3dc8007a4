package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// worker is one registered projection: its live loop's state and what
// status, rebuilds and parked-event retries share with it.
type worker struct {
	r        *Runtime
	p        Projection
	name     string
	consumer string
	db       dbregistry.Constant
	store    readmodel.Store
	specs    []readmodel.CollectionSpec
	live     map[string]string // declared name -> itself
	types    map[string]bool
	filters  []string
	log      *slog.Logger

	// Owned by the live loop.
	cons     jetstream.Consumer
	lastCSeq uint64 // consumer sequence of the last delivery seen
	// lastPos and lastAt are the stream sequence and time of the last
	// delivery seen (lastPos: the consumer's start - 1 before its first);
	// the retention check of each run starts there (catchup.go).
	lastPos int64
	lastAt  time.Time
	tx      *batchTx
	bo      *backoff

	maint      sync.Mutex  // serializes parked-event retries and a rebuild's cut-over
	rebuilding atomic.Bool // a rebuild runs
	probeMu    sync.Mutex  // one bus probe at a time

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced on every change below
	running      bool          // the live loop is alive
	idle         bool          // the live loop waits at its pause point
	pauses       int           // outstanding pause requests
	resetCons    bool          // the loop must recreate its consumer from the checkpoint
	dropCache    bool          // the loop must drop its cache (someone else wrote)
	checkpoint   int64         // the stored checkpoint, as last known
	through      int64         // processed through this position (>= checkpoint)
	epoch        int64         // rebuild epoch (park records of older epochs are void)
	failing      bool
	lastErr      string
	lastErrAt    time.Time // failing since
	progressAt   time.Time // when checkpoint or through last moved (or the worker was made)
	stalled      bool      // as last reported by status (to log transitions once)
	needsRebuild string    // why the live loop cannot go on without a rebuild
	progress     *RebuildProgress
	lastProbe    time.Time
	ret          retention // the stream's retention, as last read
	// Distributed runtimes only (RuntimeConfig.Distributed): whether this
	// process owns the projection, the fence its commits check (the
	// lease is still valid) and the lease's term.
	owned bool
	fence func() bool
	term  uint64
	// ownGen counts Own and Disown calls: the loop gives up the ownership
	// a refused commit showed lost only if no Own came meanwhile
	// (notOwned).
	ownGen uint64
}

// Checkpoint keys next to the projection's own (all in its module database).
func rebuildKey(name string) string { return name + "@rebuild" } // the shadow projection
func epochKey(name string) string   { return name + "@epoch" }   // rebuild epoch, set by the swap
func maintKey(name string) string   { return name + "@parked" }  // sequence of parked-event commits

func (r *Runtime) newWorker(p Projection) (*worker, error) {
	name := p.Name()
	if err := readmodel.ValidateProjection(name); err != nil {
		return nil, err
	}
	if len(maintKey(name)) > readmodel.MaxProjectionLen || len(rebuildKey(name)) > readmodel.MaxProjectionLen {
		return nil, fmt.Errorf("name longer than %d characters", readmodel.MaxProjectionLen-len("@rebuild"))
	}
	cons := ConsumerName(name)
	if err := bus.ValidateConsumerName(cons); err != nil {
		return nil, err
	}
	store := r.deps.Stores[p.Database()]
	if store == nil {
		return nil, fmt.Errorf("no read-model store for database %s", p.Database())
	}
	if len(p.EventTypes()) == 0 {
		return nil, errors.New("no event types")
	}
	specs := p.Collections()
	live := make(map[string]string, len(specs))
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return nil, err
		}
		if _, shadow := readmodel.LiveName(s.Name); shadow {
			return nil, fmt.Errorf("collection %s: shadow names are the runtime's", s.Name)
		}
		if _, err := readmodel.ShadowName(s.Name, "rebuild"); err != nil {
			return nil, fmt.Errorf("collection %s: %w", s.Name, err)
		}
		if s.Name == ParkedCollection {
			return nil, fmt.Errorf("collection %s is reserved for parked events", s.Name)
		}
		if _, dup := live[s.Name]; dup {
			return nil, fmt.Errorf("collection %s declared twice", s.Name)
		}
		live[s.Name] = s.Name
	}
	types := map[string]bool{}
	for _, t := range p.EventTypes() {
		types[t] = true
	}
	w := &worker{
		r: r, p: p, name: name, consumer: cons, db: p.Database(), store: store,
		specs: specs, live: live, types: types,
		filters:    Subjects(r.deps.Stream, r.deps.EventModule, p.EventTypes()),
		log:        r.log.With("projection", name),
		changed:    make(chan struct{}),
		bo:         r.backoff(),
		progressAt: time.Now(),
	}
	w.tx = newBatchTx(store, live, r.cfg.CacheDocs)
	return w, nil
}

// prepare ensures the collections and reads the checkpoints.
func (w *worker) prepare(ctx context.Context) error {
	for _, s := range append(w.specs, parkedSpec) {
		if err := w.store.EnsureCollection(ctx, s); err != nil {
			return err
		}
	}
	cp, err := w.store.Checkpoint(ctx, w.name)
	if err != nil {
		return err
	}
	epoch, err := w.store.Checkpoint(ctx, epochKey(w.name))
	if err != nil {
		return err
	}
	n, err := w.store.Count(ctx, ParkedCollection, readmodel.Eq("projection", w.name))
	if err != nil {
		return err
	}
	w.r.metrics.Parked(w.name, int(n))
	w.update(func() {
		w.checkpoint, w.through, w.epoch = cp, max(w.through, cp), epoch
	})
	return nil
}

// update changes the shared state under the lock and wakes every waiter.
func (w *worker) update(f func()) {
	w.mu.Lock()
	f()
	w.notifyLocked()
	w.mu.Unlock()
}

func (w *worker) notifyLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// snapshot runs f under the lock and returns the channel closed on the next change.
func (w *worker) snapshot(f func()) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	f()
	return w.changed
}

func (w *worker) setRunning(on bool) { w.update(func() { w.running = on; w.idle = false }) }

// pause stops the live loop at its pause point (after the batch in hand
// is committed and acknowledged) and returns the function that lets it go
// on. Pauses nest. A projection without a live loop pauses at once.
func (w *worker) pause(ctx context.Context) (resume func(), err error) {
	w.update(func() { w.pauses++ })
	var once sync.Once
	resume = func() { once.Do(func() { w.update(func() { w.pauses-- }) }) }
	for {
		var ok bool
		ch := w.snapshot(func() { ok = !w.running || w.idle })
		if ok {
			return resume, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			resume()
			return nil, ctx.Err()
		}
	}
}

// waitRunnable blocks the loop while it is paused or needs a rebuild; it
// returns false when ctx ends.
func (w *worker) waitRunnable(ctx context.Context) bool {
	for {
		w.mu.Lock()
		wait := w.pauses > 0 || w.needsRebuild != "" || (w.r.cfg.Distributed && !w.owned)
		if w.idle != wait {
			w.idle = wait
			w.notifyLocked()
		}
		ch := w.changed
		w.mu.Unlock()
		if !wait {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			w.update(func() { w.idle = false })
			return false
		}
	}
}

// exit marks the loop as gone.
func (w *worker) exit() { w.setRunning(false) }

// fail records a (retried) error.
func (w *worker) fail(what string, err error) {
	w.log.Warn("projection: "+what+" failed; retrying", "error", err)
	w.update(func() {
		if !w.failing {
			w.lastErrAt = time.Now()
		}
		w.failing = true
		w.lastErr = what + ": " + err.Error()
	})
}

// ok records a successful attempt: a failure is over, and its error is
// cleared (the log keeps it).
func (w *worker) ok() {
	w.mu.Lock()
	failing := w.failing
	since := w.lastErrAt
	w.mu.Unlock()
	if failing {
		w.log.Info("projection recovered", "failing_since", since)
		w.update(func() { w.failing, w.lastErr, w.lastErrAt = false, "", time.Time{} })
	}
}

// advance records a commit at checkpoint (0: none) and that the stream
// was processed through position through.
func (w *worker) advance(checkpoint, through int64) {
	w.update(func() {
		before := w.through
		w.checkpoint = max(w.checkpoint, checkpoint)
		w.through = max(w.through, through, w.checkpoint)
		if w.through > before {
			w.progressAt = time.Now()
		}
	})
}

func (w *worker) state() (checkpoint, through, epoch int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.checkpoint, w.through, w.epoch
}
