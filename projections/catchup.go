package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cspm-es/cspm-es/platform/bus"
)

// Catching up from the event store (docs/decisions.md 104). The event
// stream's retention is bounded (--bus-max-age, --bus-max-bytes): its
// oldest messages leave it, and a consumer whose next message is gone is
// moved on by the server to the first one left, silently. A projection
// that is behind the stream's first sequence therefore reads the missing
// range from the event store (the source of truth), applies and commits
// it exactly like live events (same batches, checkpoint in the same
// transaction, same parking), and only then (re)creates its consumer from
// the checkpoint and goes on with the bus.
//
// When is a projection behind? Every event up to `through` that it
// listens to is committed. A delivery at position p after one at p0 (or
// after the start of a new consumer, p0 = its start - 1) may have been
// preceded by lost messages only if the stream's first sequence passed
// p0+1 before the server looked for p; the first sequence only grows, so
// reading it after the delivery and finding it at most max(p0,
// through)+1 proves nothing was lost. The check is made:
//   - when the consumer is (re)created: against the stored checkpoint;
//   - for each delivered run that is not dense after max(p0, through),
//     on a stream whose retention is bounded, unless the message before
//     it is younger than half the max age (then nothing after it can have
//     expired by age) and the stream has no byte limit;
//   - by the probe before it claims that an idle projection has processed
//     the stream's last sequence.

// errBehind: the bus no longer holds every event after the projection's
// position; the live loop recreates its consumer, which catches up from
// the store first.
var errBehind = errors.New("the bus no longer holds every event after the projection's position (retention)")

// errCatchUpPaused: a pause was asked for during a catch-up from the
// store; what was read is committed, the rest is read after the pause.
var errCatchUpPaused = errors.New("catch-up from the store paused")

// retention is the stream's retention as the server last told.
type retention struct {
	maxAge   time.Duration
	maxBytes int64
	known    bool
}

func (rt retention) bounded() bool { return !rt.known || rt.maxAge > 0 || rt.maxBytes > 0 }

// streamFirst reads the stream's first and last sequences (and notes its
// retention).
func (w *worker) streamFirst(ctx context.Context) (first, last int64, err error) {
	s, err := w.r.deps.JetStream.Stream(ctx, w.r.deps.Stream.Name)
	if err != nil {
		return 0, 0, fmt.Errorf("stream %s: %w", w.r.deps.Stream.Name, err)
	}
	info := s.CachedInfo()
	w.noteRetention(info.Config.MaxAge, info.Config.MaxBytes)
	return bus.FirstSeq(info.State), int64(info.State.LastSeq), nil
}

func (w *worker) noteRetention(maxAge time.Duration, maxBytes int64) {
	w.mu.Lock()
	w.ret = retention{maxAge: maxAge, maxBytes: max(maxBytes, 0), known: true}
	w.mu.Unlock()
}

func (w *worker) retention() retention {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ret
}

// checkRun reports errBehind when messages the projection needs may have
// expired before the consumer delivered the run r (see above).
func (w *worker) checkRun(ctx context.Context, r run) error {
	if len(r.items) == 0 && r.lastPos == 0 {
		return nil
	}
	_, through, _ := w.state()
	base := max(r.prevPos, through)
	var dense int64
	for _, it := range r.items {
		if it.pos > base {
			dense++
		}
	}
	top := base
	for _, it := range r.items {
		top = max(top, it.pos)
	}
	if top-base <= dense {
		return nil // every position after base was delivered
	}
	ret := w.retention()
	if !ret.bounded() {
		return nil
	}
	if ret.maxBytes == 0 && !r.prevAt.IsZero() && time.Since(r.prevAt) < ret.maxAge/2 {
		return nil // nothing newer than the previous delivery has aged out yet
	}
	first, _, err := w.streamFirst(ctx)
	if err != nil {
		return err
	}
	if first > base+1 {
		w.log.Warn("projection: the bus no longer holds events after the projection's position",
			"processed", base, "stream_first", first)
		return errBehind
	}
	return nil
}

// catchUpIfBehind reads the events after the stored checkpoint cp that the
// stream no longer holds from the event store, applies and commits them,
// until the projection reaches the stream's first sequence. caught is
// true when it read anything (the consumer must then start after the new
// checkpoint).
func (w *worker) catchUpIfBehind(ctx context.Context, cp int64) (caught bool, err error) {
	first, _, err := w.streamFirst(ctx)
	if err != nil {
		return false, err
	}
	if first <= cp+1 {
		return false, nil
	}
	if w.r.deps.Events == nil {
		return false, fmt.Errorf("the bus starts at position %d, the projection is at %d, and this runtime has no event store to catch up from", first, cp)
	}
	start, from := time.Now(), cp+1
	w.log.Info("projection: catching up from the store", "from", from, "to", first-1, "stream_first", first)
	var read int64
	defer func() {
		if m, ok := w.r.metrics.(catchUpMetrics); ok && read > 0 {
			m.StoreCatchUp(w.name, read)
		}
	}()
	after := cp
	for {
		if after+1 >= first {
			// The stream's first sequence moves while the store is read.
			if first, _, err = w.streamFirst(ctx); err != nil {
				return read > 0, err
			}
			if after+1 >= first {
				w.log.Info("projection: caught up from the store; rejoining the bus",
					"from", from, "to", after, "events", read, "took", time.Since(start).Round(time.Millisecond))
				return read > 0, nil
			}
		}
		n, err := w.catchUpRange(ctx, after, first-1)
		read += n
		after += n
		if err != nil {
			return read > 0, err
		}
	}
}

// catchUpPage is one read of the event store for a catch-up, decoded.
type catchUpPage struct {
	items []item // the projection's events, and the last one read (skipped)
	n     int64  // events read
	err   error
}

// catchUpRange reads (after, to] from the event store a page of
// RebuildBatch ahead (in a goroutine) while it applies and commits each
// page like a live run: the projection's events, and the last one read as
// a skipped item so the checkpoint moves past it. It returns how many
// events it committed; a pause request stops it between pages.
func (w *worker) catchUpRange(ctx context.Context, after, to int64) (int64, error) {
	rctx, cancel := context.WithCancel(ctx)
	pages := make(chan catchUpPage, 1)
	var wg sync.WaitGroup
	wg.Go(func() { w.readPages(rctx, after, to, pages) })
	defer func() {
		cancel()
		for range pages { // drain, so the reader ends
		}
		wg.Wait()
	}()
	var done int64
	for p := range pages {
		if p.err != nil {
			return done, p.err
		}
		if err := w.applyLive(ctx, p.items); err != nil {
			return done, err
		}
		done += p.n
		if w.pauseAsked() {
			return done, errCatchUpPaused
		}
	}
	return done, ctx.Err()
}

func (w *worker) readPages(ctx context.Context, after, to int64, out chan<- catchUpPage) {
	defer close(out)
	for after < to && ctx.Err() == nil {
		p := w.readPage(ctx, after, to)
		select {
		case out <- p:
		case <-ctx.Done():
			return
		}
		if p.err != nil {
			return
		}
		after += p.n
	}
}

// readPage reads up to RebuildBatch events after position after (and at
// most through to) and decodes those of the projection's types.
func (w *worker) readPage(ctx context.Context, after, to int64) catchUpPage {
	limit := int(min(int64(w.r.cfg.RebuildBatch), to-after))
	evs, err := w.r.deps.Events.ReadAll(ctx, after, limit)
	if err != nil {
		return catchUpPage{err: fmt.Errorf("catch up: read the event store after %d: %w", after, err)}
	}
	if len(evs) == 0 {
		return catchUpPage{err: fmt.Errorf("catch up: the event store holds nothing after %d, the bus starts at %d", after, to+1)}
	}
	last := evs[len(evs)-1].Position
	if evs[0].Position != after+1 || last != after+int64(len(evs)) {
		return catchUpPage{err: fmt.Errorf("catch up: the event store returned positions %d..%d after %d (want dense positions)", evs[0].Position, last, after)}
	}
	items := make([]item, 0, len(evs))
	for _, rec := range evs {
		if !w.types[rec.Type] {
			continue
		}
		it := item{pos: rec.Position, rec: rec}
		it.ev, it.err = w.r.decode(rec)
		items = append(items, it)
	}
	if len(items) == 0 || items[len(items)-1].pos != last {
		items = append(items, item{pos: last, rec: evs[len(evs)-1], skip: true})
	}
	return catchUpPage{items: items, n: int64(len(evs))}
}

// pauseAsked reports whether a pause (rebuild cut-over, parked-event
// retry) waits for the live loop.
func (w *worker) pauseAsked() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pauses > 0
}
