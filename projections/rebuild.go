package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// Rebuild phases.
const (
	PhasePreparing   = "preparing"    // dropping leftovers, creating the shadow collections
	PhaseCatchingUp  = "catching_up"  // applying the event store into the shadows
	PhaseCuttingOver = "cutting_over" // live loop paused: last events, then the swap
	PhaseDone        = "done"
	PhaseFailed      = "failed"
)

// RebuildProgress reports a rebuild.
type RebuildProgress struct {
	Name  string `json:"name"`
	Phase string `json:"phase"`
	// Processed is the position the rebuild has applied through; Target
	// the event store's head (it moves while appends go on).
	Processed    int64         `json:"processed"`
	Target       int64         `json:"target"`
	Applied      int64         `json:"applied"` // events of the projection's types
	EventsPerSec float64       `json:"events_per_sec"`
	ETA          time.Duration `json:"eta"`
	StartedAt    time.Time     `json:"started_at"`
	Error        string        `json:"error,omitempty"`
}

// shadowTag names the shadow collections of a rebuild (<live>__rebuild).
const shadowTag = "rebuild"

// Rebuild rebuilds a projection from the event store beside its live read
// model, then swaps the result in:
//
//  1. drop the shadow collections a cancelled rebuild left, create them
//     (<collection>__rebuild, same indexes) and reset the shadow
//     checkpoint (<name>@rebuild);
//  2. apply every event from position 1 into the shadows, RebuildBatch
//     events per commit, until the store's head (which moves on while
//     appends go on);
//  3. pause the live loop, apply the last events, and swap atomically
//     (readmodel.Swapper): the shadows replace the live collections, the
//     live checkpoint becomes the rebuild's, the shadow checkpoint goes;
//  4. recreate the live consumer from the new checkpoint and resume.
//
// Queries read the old live collections until the swap. A failing event
// stops the rebuild (it is not parked); cancelling ctx stops it too. Either
// way the live model is untouched, the shadows are dropped and a new
// rebuild can start. progress (optional) is called after every commit.
// A projection rebuilds once at a time (ErrRebuildInProgress).
//
// A rebuild that meets a corrupt or missing database (readmodel.ErrCorrupt)
// repairs it: see repairDatabase (repair.go).
func (r *Runtime) Rebuild(ctx context.Context, name string, progress func(RebuildProgress)) error {
	w, err := r.worker(name)
	if err != nil {
		return err
	}
	if err := w.checkOwner("rebuild"); err != nil {
		return err
	}
	if r.deps.Events == nil {
		return fmt.Errorf("rebuild %s: no event store (RuntimeDeps.Events)", name)
	}
	swapper, ok := w.store.(readmodel.Swapper)
	if !ok {
		return fmt.Errorf("rebuild %s: the store of %s cannot swap collections", name, w.db)
	}
	if !w.rebuilding.CompareAndSwap(false, true) {
		return fmt.Errorf("rebuild %s: %w", name, ErrRebuildInProgress)
	}
	err = r.rebuildHeld(ctx, w, swapper, progress, true)
	var rn *repairNeeded
	if errors.As(err, &rn) {
		return r.repairDatabase(ctx, w, rn.cause, progress)
	}
	return err
}

// repairNeeded is a rebuild that met a corrupt or missing database and
// hands over to repairDatabase, still holding the rebuilding flag.
type repairNeeded struct{ cause error }

func (e *repairNeeded) Error() string { return "repair needed: " + e.cause.Error() }
func (e *repairNeeded) Unwrap() error { return e.cause }

// rebuildHeld rebuilds w, whose rebuilding flag the caller holds; it
// releases the flag when done. With repairable, a failure on a corrupt or
// missing database (readmodel.ErrCorrupt) is neither reported nor
// released: it returns a *repairNeeded, and the caller repairs the
// database.
func (r *Runtime) rebuildHeld(ctx context.Context, w *worker, swapper readmodel.Swapper, progress func(RebuildProgress), repairable bool) error {
	return r.newRebuild(w, swapper, progress).run(ctx, nil, repairable)
}

// newRebuild is the rebuild of w, whose rebuilding flag the caller holds.
func (r *Runtime) newRebuild(w *worker, swapper readmodel.Swapper, progress func(RebuildProgress)) *rebuild {
	rb := &rebuild{r: r, w: w, swapper: swapper, report: progress, shadows: map[string]string{}}
	rb.p = RebuildProgress{Name: w.name, Phase: PhasePreparing, StartedAt: time.Now().UTC()}
	for _, s := range w.specs {
		rb.shadows[s.Name], _ = readmodel.ShadowName(s.Name, shadowTag) // validated by Register
	}
	rb.tx = newBatchTx(w.store, rb.shadows, r.cfg.CacheDocs)
	return rb
}

// run runs the rebuild and releases the rebuilding flag when done. With
// feed, the first pass of the catch-up applies the pages of a reader
// shared with other rebuilds (RebuildTogether) instead of reading the
// store itself; it leaves the feed whatever happens. With repairable, a
// failure on a corrupt or missing database (readmodel.ErrCorrupt) is
// neither reported nor released: it returns a *repairNeeded, and the
// caller repairs the database.
func (rb *rebuild) run(ctx context.Context, feed *subscription, repairable bool) (err error) {
	w, name := rb.w, rb.w.name
	if feed != nil {
		defer feed.leave()
	}
	w.log.Info("projection: rebuild started")
	rb.publish()

	defer func() {
		if err != nil && repairable && errors.Is(err, readmodel.ErrCorrupt) && ctx.Err() == nil {
			w.log.Warn("projection: the rebuild met a corrupt or missing database; repairing it", "error", err)
			err = &repairNeeded{cause: err}
			return // still rebuilding: repairDatabase goes on
		}
		if err != nil {
			rb.dropShadows(context.WithoutCancel(ctx))
			rb.p.Phase, rb.p.Error = PhaseFailed, err.Error()
			w.log.Warn("projection: rebuild failed; the live model is untouched", "error", err)
		} else {
			rb.p.Phase, rb.p.ETA = PhaseDone, 0
			w.log.Info("projection: rebuild done", "checkpoint", rb.p.Processed, "applied", rb.p.Applied,
				"seconds", time.Since(rb.p.StartedAt).Seconds())
		}
		// Release the projection before the final report: whoever sees
		// "done" or "failed" can start the next rebuild at once, and status
		// never shows a finished rebuild on a projection still marked as
		// rebuilding.
		w.rebuilding.Store(false)
		rb.publish()
	}()
	if err := rb.prepare(ctx); err != nil {
		return fmt.Errorf("rebuild %s: prepare: %w", name, err)
	}
	rb.p.Phase = PhaseCatchingUp
	if feed != nil {
		if err := rb.applyFeed(ctx, feed); err != nil {
			return fmt.Errorf("rebuild %s: %w", name, err)
		}
	}
	if err := rb.catchUp(ctx); err != nil {
		return fmt.Errorf("rebuild %s: %w", name, err)
	}
	if err := rb.cutOver(ctx); err != nil {
		return fmt.Errorf("rebuild %s: %w", name, err)
	}
	if feed == nil && ctx.Err() == nil { // RebuildTogether compacts each database once, at the end
		rb.r.compact(context.WithoutCancel(ctx), w.db, w.store)
	}
	return nil
}

// compactor is a read-model store that gives the space of dropped
// collections back (sqlitestore.Store). A MongoDB collection renamed over
// another needs none: the swapped-in collection was written fresh, and
// the dropped one is gone with its files.
type compactor interface {
	Compact(ctx context.Context) (freed int64, err error)
}

// compact gives back the space the swap's dropped collections left in db
// (best effort: the rebuild is done either way).
func (r *Runtime) compact(ctx context.Context, db dbregistry.Constant, store readmodel.Store) {
	c, ok := store.(compactor)
	if !ok {
		return
	}
	began := time.Now()
	freed, err := c.Compact(ctx)
	if err != nil {
		r.log.Warn("projection: could not compact the read-model database after a rebuild", "database", db, "error", err)
		return
	}
	if freed > 0 {
		r.log.Info("projection: read-model database compacted after a rebuild", "database", db, "freed_bytes", freed,
			"seconds", time.Since(began).Seconds())
	}
}

// RebuildAll rebuilds every registered projection at once
// (RebuildTogether). A projection that fails does not stop the others
// (cancelling ctx does); the errors are joined.
func (r *Runtime) RebuildAll(ctx context.Context, progress func(RebuildProgress)) error {
	res := r.RebuildTogether(ctx, r.Names(), progress)
	var errs []error
	for _, name := range r.Names() {
		if err := res[name]; err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RebuildTogether rebuilds the named projections in parallel over one
// read of the event store: a single reader reads each page of
// RebuildBatch events once and hands it to every rebuild, each applying
// the events of its types into its shadows in its own goroutine and
// committing to its module database (the events are decoded once, by the
// first rebuild that needs them). Then each one catches up the last
// events and cuts over on its own, exactly as Rebuild does: same shadows,
// same swap, same result. The pace is the slowest rebuild's (the reader
// stays at most a few pages ahead of it). A rebuild that fails does not
// stop the others (cancelling ctx stops them all); it leaves the shared
// reader at once. A rebuild that meets a corrupt or missing database
// repairs it afterwards (once per database, as Rebuild does). It returns
// the error of each projection that failed (a name that is unknown, or
// whose rebuild already runs, included).
func (r *Runtime) RebuildTogether(ctx context.Context, names []string, progress func(RebuildProgress)) map[string]error {
	errs := map[string]error{}
	if r.deps.Events == nil {
		for _, name := range names {
			errs[name] = fmt.Errorf("rebuild %s: no event store (RuntimeDeps.Events)", name)
		}
		return errs
	}
	var rbs []*rebuild
	for _, name := range names {
		w, err := r.worker(name)
		if err != nil {
			errs[name] = err
			continue
		}
		swapper, ok := w.store.(readmodel.Swapper)
		if !ok {
			errs[name] = fmt.Errorf("rebuild %s: the store of %s cannot swap collections", name, w.db)
			continue
		}
		if !w.rebuilding.CompareAndSwap(false, true) {
			errs[name] = fmt.Errorf("rebuild %s: %w", name, ErrRebuildInProgress)
			continue
		}
		rbs = append(rbs, r.newRebuild(w, swapper, progress))
	}
	if len(rbs) == 0 {
		return errs
	}
	var progressMu sync.Mutex // the caller's progress sees one report at a time
	if progress != nil {
		for _, rb := range rbs {
			rb.report = func(p RebuildProgress) {
				progressMu.Lock()
				defer progressMu.Unlock()
				progress(p)
			}
		}
	}
	results := make([]error, len(rbs))
	subs := make([]*subscription, len(rbs))
	for i := range rbs {
		subs[i] = newSubscription()
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { r.feed(fctx, subs) })
	for i, rb := range rbs {
		wg.Go(func() { results[i] = rb.run(ctx, subs[i], true) })
	}
	wg.Wait()

	// Compaction: once per database that had a rebuild swapped in (not
	// when cancelled: a stopping server does not wait for it).
	compacted := map[dbregistry.Constant]bool{}
	for i, rb := range rbs {
		if results[i] == nil && !compacted[rb.w.db] && ctx.Err() == nil {
			compacted[rb.w.db] = true
			r.compact(context.WithoutCancel(ctx), rb.w.db, rb.w.store)
		}
	}

	// Repairs: once per database, by the first projection that asks.
	var repairs []*rebuild
	for i, rb := range rbs {
		var rn *repairNeeded
		if errors.As(results[i], &rn) {
			repairs = append(repairs, rb)
			continue
		}
		if results[i] != nil {
			errs[rb.w.name] = results[i]
		}
	}
	for i, rb := range repairs {
		var rn *repairNeeded
		_ = errors.As(results[slices.Index(rbs, rb)], &rn)
		first := true
		for _, o := range repairs[:i] {
			first = first && o.w.db != rb.w.db
		}
		if !first { // repaired with the first one of its database
			continue
		}
		for _, o := range repairs[i+1:] {
			if o.w.db == rb.w.db {
				o.w.rebuilding.Store(false) // repairDatabase takes it again
			}
		}
		if err := r.repairDatabase(ctx, rb.w, rn.cause, progress); err != nil {
			errs[rb.w.name] = err
		}
	}
	return errs
}

// A page is one read of the event store shared by the rebuilds of
// RebuildTogether; each event is decoded once, by the first rebuild that
// needs it.
type page struct {
	last int64
	recs []eventstore.RecordedEvent
	dec  []decoded
}

type decoded struct {
	once sync.Once
	ev   Event
	err  error
}

func (p *page) event(r *Runtime, i int) (Event, error) {
	d := &p.dec[i]
	d.once.Do(func() { d.ev, d.err = r.decode(p.recs[i]) })
	return d.ev, d.err
}

// subscription is one rebuild's side of the shared reader.
type subscription struct {
	pages chan *page
	err   error // the reader's, set before pages is closed
	done  chan struct{}
	once  sync.Once
}

// feedAhead is how many pages the shared reader may be ahead of a rebuild.
const feedAhead = 4

func newSubscription() *subscription {
	return &subscription{pages: make(chan *page, feedAhead), done: make(chan struct{})}
}

// leave tells the reader this rebuild takes no more pages.
func (s *subscription) leave() { s.once.Do(func() { close(s.done) }) }

// feed reads the event store from position 1 to its head, a page at a
// time, and hands every page to each subscription still there; it stops
// when they have all left, or ctx ends.
func (r *Runtime) feed(ctx context.Context, subs []*subscription) {
	var readErr error
	defer func() {
		for _, s := range subs {
			s.err = readErr
			close(s.pages)
		}
	}()
	var after int64
	for ctx.Err() == nil {
		left := 0
		for _, s := range subs {
			select {
			case <-s.done:
			default:
				left++
			}
		}
		if left == 0 {
			return
		}
		evs, err := r.deps.Events.ReadAll(ctx, after, r.cfg.RebuildBatch)
		if err != nil {
			readErr = fmt.Errorf("read the event store after %d: %w", after, err)
			return
		}
		if len(evs) == 0 {
			return
		}
		last := evs[len(evs)-1].Position
		if evs[0].Position != after+1 || last != after+int64(len(evs)) {
			readErr = fmt.Errorf("the event store returned positions %d..%d after %d (want dense positions)", evs[0].Position, last, after)
			return
		}
		p := &page{last: last, recs: evs, dec: make([]decoded, len(evs))}
		for _, s := range subs {
			select {
			case s.pages <- p:
			case <-s.done:
			case <-ctx.Done():
				return
			}
		}
		after = last
	}
}

// applyFeed applies the shared reader's pages into the shadows, as
// applyUntilEmpty applies its own reads; everything is committed when it
// returns.
func (rb *rebuild) applyFeed(ctx context.Context, feed *subscription) (err error) {
	defer func() {
		if _, serr := rb.settle(ctx); err == nil {
			err = serr
		}
	}()
	defer feed.leave() // first: a failed rebuild does not hold the others up
	for p := range feed.pages {
		if p.last <= rb.p.Processed {
			continue
		}
		c := chunk{last: p.last}
		for i, rec := range p.recs {
			if !rb.w.types[rec.Type] {
				continue
			}
			ev, err := p.event(rb.r, i)
			if err != nil {
				return fmt.Errorf("stopped at position %d (event %s, %s): %w", rec.Position, rec.EventID, rec.Type, err)
			}
			c.events = append(c.events, ev)
		}
		if err := rb.apply(ctx, c); err != nil {
			return err
		}
	}
	if feed.err != nil {
		return feed.err
	}
	return ctx.Err()
}

type rebuild struct {
	r       *Runtime
	w       *worker
	swapper readmodel.Swapper
	report  func(RebuildProgress)
	shadows map[string]string // live -> shadow
	tx      *batchTx
	pending *inflight // the chunk being committed
	p       RebuildProgress
}

func (rb *rebuild) publish() {
	p := rb.p
	rb.w.update(func() { rb.w.progress = &p })
	if rb.report != nil {
		rb.report(p)
	}
}

func (rb *rebuild) prepare(ctx context.Context) error {
	w := rb.w
	for _, shadow := range rb.shadows {
		if err := w.store.DropCollection(ctx, shadow); err != nil {
			return err
		}
	}
	if err := rb.swapper.Swap(ctx, readmodel.SwapSpec{Checkpoints: map[string]int64{rebuildKey(w.name): 0}}); err != nil {
		return err
	}
	for _, s := range w.specs {
		if err := w.store.EnsureCollection(ctx, readmodel.CollectionSpec{Name: rb.shadows[s.Name], Indexes: s.Indexes, SmallDocs: s.SmallDocs}); err != nil {
			return err
		}
	}
	head, err := rb.r.deps.Events.HeadPosition(ctx)
	if err != nil {
		return err
	}
	rb.p.Target = head
	return nil
}

// dropShadows removes what a failed rebuild wrote (best effort).
func (rb *rebuild) dropShadows(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, shadow := range rb.shadows {
		if err := rb.w.store.DropCollection(ctx, shadow); err != nil {
			rb.w.log.Warn("projection: could not drop a shadow collection", "collection", shadow, "error", err)
		}
	}
	if err := rb.swapper.Swap(ctx, readmodel.SwapSpec{Checkpoints: map[string]int64{rebuildKey(rb.w.name): 0}}); err != nil {
		rb.w.log.Warn("projection: could not reset the shadow checkpoint", "error", err)
	}
}

// chunk is one read of the event store, decoded.
type chunk struct {
	last   int64   // position of the last event read
	events []Event // those of the projection's types
	err    error
}

// catchUp applies the event store into the shadows until the head.
func (rb *rebuild) catchUp(ctx context.Context) error {
	for {
		if err := rb.applyUntilEmpty(ctx); err != nil {
			return err
		}
		head, err := rb.r.deps.Events.HeadPosition(ctx)
		if err != nil {
			return err
		}
		rb.p.Target = max(rb.p.Target, head)
		if rb.p.Processed >= head {
			return nil
		}
	}
}

// applyUntilEmpty reads (in a goroutine, a chunk ahead) and applies until
// a read comes back empty. Each chunk commits in the background while the
// next one is applied; everything is committed when it returns.
func (rb *rebuild) applyUntilEmpty(ctx context.Context) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	chunks := make(chan chunk, 2)
	var wg sync.WaitGroup
	wg.Go(func() { rb.read(ctx, rb.p.Processed, chunks) })
	defer func() {
		if _, serr := rb.settle(ctx); err == nil {
			err = serr
		}
		cancel()
		for range chunks { // drain, so the reader ends
		}
		wg.Wait()
	}()
	for c := range chunks {
		if c.err != nil {
			return c.err
		}
		if err := rb.apply(ctx, c); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (rb *rebuild) read(ctx context.Context, after int64, out chan<- chunk) {
	defer close(out)
	w := rb.w
	for ctx.Err() == nil {
		evs, err := rb.r.deps.Events.ReadAll(ctx, after, rb.r.cfg.RebuildBatch)
		if err != nil {
			out <- chunk{err: fmt.Errorf("read the event store after %d: %w", after, err)}
			return
		}
		if len(evs) == 0 {
			return
		}
		c := chunk{last: evs[len(evs)-1].Position, events: make([]Event, 0, len(evs))}
		if evs[0].Position != after+1 || c.last != after+int64(len(evs)) {
			out <- chunk{err: fmt.Errorf("the event store returned positions %d..%d after %d (want dense positions)", evs[0].Position, c.last, after)}
			return
		}
		for _, rec := range evs {
			if !w.types[rec.Type] {
				continue
			}
			ev, err := rb.r.decode(rec)
			if err != nil {
				out <- chunk{err: fmt.Errorf("stopped at position %d (event %s, %s): %w", rec.Position, rec.EventID, rec.Type, err)}
				return
			}
			c.events = append(c.events, ev)
		}
		select {
		case out <- c:
		case <-ctx.Done():
			return
		}
		after = c.last
	}
}

// inflight is a chunk whose batch commits in the background.
type inflight struct {
	c    chunk
	done chan error
}

// apply applies one chunk while the previous one commits, then starts
// its commit under the shadow checkpoint.
func (rb *rebuild) apply(ctx context.Context, c chunk) error {
	if rb.tx.cached > rb.tx.cacheMax {
		// The cache must not forget writes that are still being committed.
		if _, err := rb.settle(ctx); err != nil {
			return err
		}
		rb.tx.reset()
	}
	if err := rb.applyEvents(ctx, c.events); err != nil {
		return err
	}
	redone, err := rb.settle(ctx)
	if err != nil {
		return err
	}
	if redone { // the batch was dropped with the previous chunk's
		if err := rb.applyEvents(ctx, c.events); err != nil {
			return err
		}
	}
	b := rb.tx.batch(rebuildKey(rb.w.name), c.last)
	rb.tx.markClean()
	done := make(chan error, 1)
	go func() { done <- rb.commit(ctx, b) }()
	rb.pending = &inflight{c: c, done: done}
	return nil
}

func (rb *rebuild) applyEvents(ctx context.Context, events []Event) error {
	prefetch(ctx, rb.w.p, rb.tx, events)
	for _, ev := range events {
		if _, err := applyEvent(ctx, rb.w.p, rb.tx, ev); err != nil {
			return fmt.Errorf("stopped at position %d: %w", ev.Position, err)
		}
	}
	return nil
}

// settle waits for the commit in flight. If the store refused it (a
// unique index), it drops the batch and commits that chunk again one
// event at a time, to find the event at fault; redone says so.
func (rb *rebuild) settle(ctx context.Context) (redone bool, err error) {
	p := rb.pending
	if p == nil {
		return false, nil
	}
	rb.pending = nil
	err = <-p.done
	if refused(err) {
		rb.tx.reset()
		redone, err = true, rb.oneByOne(ctx, p.c)
	}
	if err != nil {
		return redone, err
	}
	rb.progressed(p.c)
	return redone, nil
}

// oneByOne applies and commits a chunk's events one at a time.
func (rb *rebuild) oneByOne(ctx context.Context, c chunk) error {
	key := rebuildKey(rb.w.name)
	for _, ev := range c.events {
		if _, err := applyEvent(ctx, rb.w.p, rb.tx, ev); err != nil {
			return fmt.Errorf("stopped at position %d: %w", ev.Position, err)
		}
		if err := rb.commit(ctx, rb.tx.batch(key, ev.Position)); err != nil {
			rb.tx.reset()
			return fmt.Errorf("stopped at position %d (event %s, %s): %w", ev.Position, ev.EventID, ev.Type, err)
		}
		rb.tx.markClean()
	}
	return rb.commit(ctx, rb.tx.batch(key, c.last)) // the checkpoint, past the other types
}

// progressed records a committed chunk.
func (rb *rebuild) progressed(c chunk) {
	rb.p.Applied += int64(len(c.events))
	rb.p.Processed = c.last
	if elapsed := time.Since(rb.p.StartedAt).Seconds(); elapsed > 0 {
		rb.p.EventsPerSec = float64(rb.p.Processed) / elapsed
	}
	if rb.p.EventsPerSec > 0 {
		rb.p.ETA = time.Duration(float64(max(0, rb.p.Target-rb.p.Processed)) / rb.p.EventsPerSec * float64(time.Second))
	}
	rb.p.Target = max(rb.p.Target, rb.p.Processed)
	rb.publish()
}

// commit writes a shadow batch; store errors are retried up to
// MaxAttempts times, a refused batch is returned at once.
func (rb *rebuild) commit(ctx context.Context, b readmodel.Batch) error {
	bo := rb.r.backoff()
	for attempt := 1; ; attempt++ {
		err := rb.w.store.Commit(ctx, b)
		switch {
		case err == nil:
			return nil
		case refused(err):
			return err
		case attempt >= rb.r.cfg.MaxAttempts || ctx.Err() != nil:
			return fmt.Errorf("commit at %d: %w", b.Checkpoint, err)
		}
		rb.w.log.Warn("projection: rebuild commit failed; retrying", "error", err)
		if !bo.wait(ctx) {
			return ctx.Err()
		}
	}
}

// cutOver pauses the live loop, applies the last events and swaps.
func (rb *rebuild) cutOver(ctx context.Context) error {
	w := rb.w
	w.maint.Lock()
	defer w.maint.Unlock()
	rb.p.Phase = PhaseCuttingOver
	rb.publish()
	resume, err := w.pause(ctx)
	if err != nil {
		return err
	}
	defer resume()
	if err := rb.catchUp(ctx); err != nil {
		return err
	}
	at := rb.p.Processed
	live, err := w.store.Checkpoint(ctx, w.name)
	if err != nil {
		return err
	}
	if at < live {
		return fmt.Errorf("the rebuild reached position %d but the live projection is at %d (the event store read lags?)", at, live)
	}
	epoch, err := w.store.Checkpoint(ctx, epochKey(w.name))
	if err != nil {
		return err
	}
	renames := make(map[string]string, len(rb.shadows))
	for liveName, shadow := range rb.shadows {
		renames[shadow] = liveName
	}
	err = rb.swapper.Swap(ctx, readmodel.SwapSpec{
		Renames:     renames,
		Checkpoints: map[string]int64{w.name: at, rebuildKey(w.name): 0, epochKey(w.name): epoch + 1},
	})
	if err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	// The rebuilt model is live: what follows must not be cancelled.
	ctx = context.WithoutCancel(ctx)
	w.update(func() {
		w.checkpoint, w.epoch = at, epoch+1
		w.through = max(w.through, at)
		w.progressAt = time.Now()
		w.resetCons, w.dropCache, w.needsRebuild = true, true, ""
	})
	// Every event was applied again: the park records are void.
	stale, err := w.findParked(ctx, 0, func(e int64) bool { return e <= epoch })
	if err == nil {
		err = w.deleteParked(ctx, stale)
	}
	if err != nil {
		w.log.Warn("projection: could not remove the park records voided by the rebuild", "error", err)
	}
	w.refreshParked(ctx)
	return nil
}
