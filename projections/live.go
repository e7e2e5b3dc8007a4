package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// errGap: the consumer delivered something this loop never received (a
// fetch that expired with a message in flight, a lost connection). Events
// after it must wait for it, so the consumer is recreated from the
// checkpoint.
var errGap = errors.New("a delivery was missed (consumer sequence gap)")

// crashError is a test hook's simulated crash: the loop exits on the spot.
type crashError struct{ err error }

func (e *crashError) Error() string { return "simulated crash: " + e.err.Error() }

// item is one delivered event of the projection.
type item struct {
	pos  int64
	rec  eventstore.RecordedEvent
	ev   Event
	err  error // the envelope or the data did not decode
	skip bool  // another event type behind the same subject token
	ref  bool  // published by reference: the data is read from the store
}

// run is the live loop: fetch, apply, commit, ack, until ctx ends.
func (w *worker) run(ctx context.Context) {
	defer w.exit()
	for w.waitRunnable(ctx) {
		gen := w.ownGeneration()
		if reset := w.takeReset(); reset || w.cons == nil {
			if err := w.ensureConsumer(ctx, reset); err != nil {
				var crash *crashError
				switch {
				case ctx.Err() != nil:
					return
				case errors.Is(err, errCatchUpPaused):
					// Committed what it read; goes on after the pause.
				case errors.As(err, &crash):
					w.log.Warn("projection: live loop stops", "error", err)
					return
				case errors.Is(err, ErrNotOwner):
					w.log.Warn("projection: " + err.Error() + "; the catch-up from the store stops")
					w.notOwned(gen)
				case errors.Is(err, bus.ErrFilterChanged):
					w.filterChanged(err)
				case errors.Is(err, readmodel.ErrCorrupt):
					w.corrupt(err)
				default:
					w.fail("ensure consumer", err)
					w.bo.wait(ctx)
				}
				continue
			}
		}
		err := w.fetch(ctx)
		var crash *crashError
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &crash):
			w.log.Warn("projection: live loop stops", "error", err)
			return
		case errors.Is(err, ErrNotOwner):
			// The lease is gone: stop until Own hands the projection back.
			w.log.Warn("projection: " + err.Error() + "; the batch in hand is dropped")
			w.cons = nil
			w.notOwned(gen)
			continue
		case err != nil:
			// Whatever was delivered and not acknowledged must come again,
			// and before anything newer: start over from the checkpoint.
			w.cons = nil
			if errors.Is(err, errGap) {
				w.log.Warn("projection: " + err.Error() + "; recreating the consumer from the checkpoint")
				continue
			}
			if errors.Is(err, errBehind) {
				continue // ensureConsumer catches up from the store first
			}
			if errors.Is(err, readmodel.ErrCorrupt) {
				w.corrupt(err) // waits for the rebuild that repairs the database
				continue
			}
			w.fail("live batch", err)
			w.bo.wait(ctx)
		default:
			w.bo.reset()
			w.ok()
		}
	}
}

func (w *worker) takeReset() bool {
	var reset bool
	w.update(func() {
		reset = w.resetCons
		w.resetCons = false
		if w.dropCache {
			w.dropCache = false
			w.tx.reset()
		}
	})
	return reset
}

// ensureConsumer (re)creates the projection's durable consumer so that it
// delivers everything after the stored checkpoint: an existing consumer
// with unacknowledged deliveries (which it would deliver again only after
// newer events), or one acknowledged past the checkpoint (a restored
// database), is recreated; reset recreates it anyway (after a rebuild,
// whose event types may differ).
func (w *worker) ensureConsumer(ctx context.Context, reset bool) error {
	js, stream := w.r.deps.JetStream, w.r.deps.Stream.Name
	w.cons = nil // until it is ready: a failed attempt must not leave the old one in use
	cp, err := w.store.Checkpoint(ctx, w.name)
	if err != nil {
		return err
	}
	w.advance(cp, cp)
	w.tx.reset()
	// Messages after the checkpoint may have left the stream (retention):
	// read them from the event store first (catchup.go).
	caught, err := w.catchUpIfBehind(ctx, cp)
	if err != nil {
		return err
	}
	if caught {
		reset = true // a consumer from before would start too early
		cp, _, _ = w.state()
	}
	if h := w.r.hooks.beforeConsumer; h != nil {
		h(w.name, cp)
	}
	opts := bus.ConsumerOptions{
		MaxAckPending: max(4096, 4*w.r.cfg.BatchSize),
		AckWait:       w.r.cfg.AckWait,
		StartAfter:    cp,
		Description:   "projection " + w.name,
	}
	w.cons = nil
	if !reset {
		c, err := bus.EnsureDurableConsumer(ctx, js, stream, w.consumer, w.filters, opts)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return fmt.Errorf("consumer %s: %w", w.consumer, err)
		}
		if info.NumAckPending == 0 && int64(info.AckFloor.Stream) <= cp {
			// The next delivery is checked for a hole after the checkpoint,
			// not after the consumer's delivered position: the server moves
			// that past messages that expired undelivered.
			w.cons, w.lastCSeq = c, info.Delivered.Consumer
			w.lastPos, w.lastAt = cp, time.Time{}
		} else {
			w.log.Info("projection: recreating the consumer from the checkpoint",
				"checkpoint", cp, "ack_floor", info.AckFloor.Stream, "unacknowledged", info.NumAckPending)
		}
	}
	if w.cons == nil {
		if err := deleteConsumer(ctx, js, stream, w.consumer); err != nil {
			return err
		}
		c, err := bus.EnsureDurableConsumer(ctx, js, stream, w.consumer, w.filters, opts)
		if err != nil {
			return err
		}
		// A new consumer: the loop's first delivery must be its first one
		// (a delivery anyone else takes shows as a gap).
		w.cons, w.lastCSeq = c, 0
		w.lastPos, w.lastAt = cp, time.Time{}
	}
	w.log.Debug("projection: consumer ready", "consumer", w.consumer, "checkpoint", cp)
	return nil
}

func deleteConsumer(ctx context.Context, js jetstream.JetStream, stream, name string) error {
	if err := js.DeleteConsumer(ctx, stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete consumer %s: %w", name, err)
	}
	return nil
}

// filterChanged stops the live loop of a projection whose event types
// changed since its consumer was created: the new types' history is
// missing, so only a rebuild (which recreates the consumer) makes the
// model right. The runtime starts that rebuild itself.
func (w *worker) filterChanged(err error) {
	reason := "event types changed since the consumer was created; a rebuild is needed: " + err.Error()
	w.log.Warn("projection: " + reason)
	w.update(func() { w.needsRebuild = reason })
	w.r.wg.Go(func() {
		ctx := w.r.runContext()
		if ctx == nil {
			return
		}
		if err := w.r.Rebuild(ctx, w.name, nil); err != nil && !errors.Is(err, ErrRebuildInProgress) && ctx.Err() == nil {
			w.fail("automatic rebuild", err)
		}
	})
}

// run is one delivered run of messages, decoded.
type run struct {
	items   []item        // the deliveries after the checkpoint, in order
	skipped int           // deliveries at or below the checkpoint
	last    jetstream.Msg // the delivery of the highest position (acknowledged with AckAll)
	lastPos int64
	gap     bool // a delivery is missing after last
	// prevPos and prevAt are the stream sequence and time of the delivery
	// before the run (catchup.go checks the run against the retention).
	prevPos int64
	prevAt  time.Time
}

// fetch pulls batches of up to BatchSize events, each waiting up to
// FetchWait, and applies them as they arrive, in two stages: a receiver
// goroutine gathers and decodes runs of messages (and asks for the next
// pull while the consumer has more), while this one applies, commits and
// acknowledges the previous run. It returns when a pull drains the
// consumer or a pause is asked for, once every received run is applied.
func (w *worker) fetch(ctx context.Context) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runs := make(chan run, 1)
	var (
		wg      sync.WaitGroup
		drained bool
		recvErr error
	)
	wg.Go(func() {
		defer close(runs)
		drained, recvErr = w.receive(rctx, runs)
	})
	var err error
	for r := range runs {
		if err == nil {
			if err = w.process(ctx, r); err != nil {
				cancel() // drain what the receiver holds, then stop
			}
		}
	}
	wg.Wait()
	if err == nil {
		err = recvErr
	}
	if err != nil {
		return err
	}
	if drained {
		w.probe(ctx) // learn how far the stream is processed
	}
	return nil
}

// receive is fetch's first stage. It owns the consumer sequence check.
func (w *worker) receive(ctx context.Context, out chan<- run) (drained bool, err error) {
	mb, err := w.pull()
	if err != nil {
		return false, err
	}
	buf := make([]jetstream.Msg, 0, w.r.cfg.BatchSize)
	var lastOfPull jetstream.Msg
	for mb != nil {
		var open bool
		buf, open, err = w.gather(ctx, mb.Messages(), buf[:0])
		if err != nil {
			return false, err
		}
		if len(buf) > 0 {
			lastOfPull = buf[len(buf)-1]
		}
		var next jetstream.MessageBatch
		if !open {
			if err := mb.Error(); err != nil {
				return false, fmt.Errorf("fetch: %w", err)
			}
			drained = !morePending(lastOfPull)
			lastOfPull = nil
			if !drained && w.probeDue(time.Second) {
				w.probe(ctx) // busy for a while: keep the lag current
			}
			if !drained && !w.pausing() && ctx.Err() == nil {
				if next, err = w.pull(); err != nil {
					return false, err
				}
			}
		}
		if len(buf) > 0 {
			r := w.decodeRun(buf)
			select {
			case out <- r:
			case <-ctx.Done():
				return false, ctx.Err()
			}
			if r.gap {
				return false, errGap
			}
		}
		if !open {
			mb = next
		}
	}
	return drained, nil
}

func (w *worker) pull() (jetstream.MessageBatch, error) {
	mb, err := w.cons.Fetch(w.r.cfg.BatchSize, jetstream.FetchMaxWait(w.r.cfg.FetchWait))
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	return mb, nil
}

// gather appends to buf the next run of messages from ch: it waits for
// the first, then takes what follows while the stream holds more for it
// (the last message's NumPending), waiting up to Linger for each; a
// message with nothing pending behind it ends the run at once, so a lone
// event is applied without delay while a backlog still forms big
// commits. open is false once ch is closed (the pull is over).
func (w *worker) gather(ctx context.Context, ch <-chan jetstream.Msg, buf []jetstream.Msg) (_ []jetstream.Msg, open bool, _ error) {
	select {
	case m, ok := <-ch:
		if !ok {
			return buf, false, nil
		}
		buf = append(buf, m)
	case <-ctx.Done():
		return buf, false, ctx.Err()
	}
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for len(buf) < cap(buf) {
		select { // whatever has arrived already
		case m, ok := <-ch:
			if !ok {
				return buf, false, nil
			}
			buf = append(buf, m)
			continue
		default:
		}
		if !morePending(buf[len(buf)-1]) {
			return buf, true, nil
		}
		if linger == nil {
			linger = time.NewTimer(w.r.cfg.Linger)
		}
		select {
		case m, ok := <-ch:
			if !ok {
				return buf, false, nil
			}
			buf = append(buf, m)
		case <-linger.C:
			return buf, true, nil
		}
	}
	return buf, true, nil
}

// morePending reports whether the consumer had more to deliver after m,
// the last message of a pull (nil: the pull brought nothing).
func morePending(m jetstream.Msg) bool {
	if m == nil {
		return false
	}
	md, err := m.Metadata()
	return err == nil && md.NumPending > 0
}

func (w *worker) pausing() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pauses > 0 || w.resetCons
}

// probeDue reports whether the last probe is older than d.
func (w *worker) probeDue(d time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return time.Since(w.lastProbe) > d
}

// decodeRun checks that msgs follow the last delivery seen (consumer
// sequence) and decodes those after the checkpoint.
func (w *worker) decodeRun(msgs []jetstream.Msg) run {
	cp, _, _ := w.state()
	r := run{items: make([]item, 0, len(msgs)), prevPos: w.lastPos, prevAt: w.lastAt}
	for _, m := range msgs {
		md, err := m.Metadata()
		if err != nil || md.Sequence.Consumer != w.lastCSeq+1 {
			r.gap = true
			break
		}
		w.lastCSeq = md.Sequence.Consumer
		pos := int64(md.Sequence.Stream)
		if pos > w.lastPos {
			w.lastPos, w.lastAt = pos, md.Timestamp
		}
		if pos >= r.lastPos { // a redelivery may come after newer events
			r.last, r.lastPos = m, pos
		}
		if pos <= cp {
			r.skipped++ // a redelivery of an applied event
			continue
		}
		cp = pos
		r.items = append(r.items, w.item(m, pos))
	}
	return r
}

// process is fetch's second stage: it applies a run, commits it with the
// checkpoint and acknowledges its last delivery (AckAll).
func (w *worker) process(ctx context.Context, r run) error {
	cp, _, _ := w.state()
	items := r.items
	for len(items) > 0 && items[0].pos <= cp { // applied since the run was decoded
		items = items[1:]
		r.skipped++
	}
	if r.skipped > 0 {
		w.r.metrics.Skipped(w.name, r.skipped)
	}
	r.items = items
	if err := w.checkRun(ctx, r); err != nil {
		return err
	}
	if err := w.resolveRefs(ctx, items); err != nil {
		return err
	}
	if err := w.applyLive(ctx, items); err != nil {
		return err
	}
	if r.last != nil {
		if err := w.ack(ctx, r.last, r.lastPos); err != nil {
			return err
		}
	}
	return nil
}

// item decodes a delivered message.
func (w *worker) item(m jetstream.Msg, pos int64) item {
	it := item{pos: pos}
	if ev, ok := w.r.decoded.get(pos, m.Headers().Get(bus.HeaderWatermillUUID)); ok {
		it.rec = ev.RecordedEvent // decoded by another projection's loop
		if !w.types[it.rec.Type] {
			it.skip = true
			return it
		}
		it.ev = ev
		return it
	}
	if err := decodeEnvelope(m.Data(), &it.rec); err != nil {
		h := m.Headers()
		it.rec = eventstore.RecordedEvent{Position: pos, EventID: h.Get(bus.HeaderWatermillUUID),
			Type: h.Get(bus.HeaderEventType), StreamID: h.Get(bus.HeaderStreamID)}
		it.err = fmt.Errorf("decode envelope at position %d: %w", pos, err)
		return it
	}
	if it.rec.Position != pos {
		it.err = fmt.Errorf("envelope of event %s says position %d, stream sequence is %d", it.rec.EventID, it.rec.Position, pos)
		it.rec.Position = pos
		return it
	}
	if !w.types[it.rec.Type] {
		it.skip = true
		return it
	}
	if m.Headers().Get(bus.HeaderDataRef) != "" {
		it.ref = true // resolveRefs reads the event
		return it
	}
	it.ev, it.err = w.r.decode(it.rec)
	if it.err == nil {
		w.r.decoded.put(it.ev)
	}
	return it
}

// resolveRefs reads the events the relay published by reference (too
// large for the bus) from the event store and decodes them. A store error
// is returned (the run is retried: nothing was applied); an event that is
// not the one the message names is the item's error (it is parked).
func (w *worker) resolveRefs(ctx context.Context, items []item) error {
	for i := range items {
		it := &items[i]
		if !it.ref {
			continue
		}
		if w.r.deps.Events == nil {
			it.err = fmt.Errorf("event %s at position %d was published by reference and this runtime has no event store", it.rec.EventID, it.pos)
			continue
		}
		evs, err := w.r.deps.Events.ReadAll(ctx, it.pos-1, 1)
		if err != nil {
			return fmt.Errorf("read event %s at position %d (published by reference): %w", it.rec.EventID, it.pos, err)
		}
		if len(evs) != 1 || evs[0].Position != it.pos || evs[0].EventID != it.rec.EventID {
			it.err = fmt.Errorf("event %s at position %d was published by reference but the store holds another event there", it.rec.EventID, it.pos)
			continue
		}
		it.rec, it.ref = evs[0], false
		it.ev, it.err = w.r.decode(it.rec)
	}
	return nil
}

// tryApply applies one item in its own scope of the batch.
func (w *worker) tryApply(ctx context.Context, it *item) (transient bool, err error) {
	if it.skip {
		return false, nil
	}
	if it.err != nil {
		return false, it.err
	}
	return applyEvent(ctx, w.p, w.tx, it.ev)
}

// applyLive applies items in order and commits them: in one batch while
// they apply, and one by one around an event that fails (so the others
// are not blamed for it), or when the store refuses the batch.
func (w *worker) applyLive(ctx context.Context, items []item) error {
	if _, ok := w.p.(Prefetcher); ok {
		evs := make([]Event, 0, len(items))
		for i := range items {
			if it := &items[i]; !it.skip && it.err == nil && !it.ref {
				evs = append(evs, it.ev)
			}
		}
		prefetch(ctx, w.p, w.tx, evs)
	}
	for start := 0; start < len(items); {
		n := 0
		var failed error
		for start+n < len(items) {
			transient, err := w.tryApply(ctx, &items[start+n])
			switch {
			case err == nil:
				n++
				continue
			case transient && errors.Is(err, readmodel.ErrCorrupt):
				return err // does not heal by retrying: run stops the loop
			case transient:
				w.fail("read model read", err)
				if !w.bo.wait(ctx) {
					return ctx.Err()
				}
				continue
			}
			failed = err
			break
		}
		if n > 0 {
			err := w.commit(ctx, items[start+n-1].pos, n)
			if err == nil {
				w.visible(items[start : start+n])
			}
			if refused(err) {
				w.log.Warn("projection: the store refused a batch; committing its events one by one", "error", err)
				for i := start; i < start+n; i++ {
					if err := w.alone(ctx, &items[i], nil); err != nil {
						return err
					}
				}
			} else if err != nil {
				return err
			}
		}
		start += n
		if failed != nil {
			if err := w.alone(ctx, &items[start], failed); err != nil {
				return err
			}
			start++
		}
	}
	return nil
}

// alone applies and commits one event by itself, up to MaxAttempts times
// (first is the failure of a first attempt already made, or nil), then
// parks it. The batch holds no writes when it is called.
func (w *worker) alone(ctx context.Context, it *item, first error) error {
	attempts, last := 0, first
	if first != nil {
		attempts = 1
	}
	for attempts < w.r.cfg.MaxAttempts {
		if attempts > 0 {
			w.log.Warn("projection: event failed; retrying", "position", it.pos, "type", it.rec.Type,
				"attempt", attempts, "error", last)
			if !sleep(ctx, w.r.retryDelay(attempts)) {
				return ctx.Err()
			}
		}
		transient, err := w.tryApply(ctx, it)
		if err == nil {
			if err = w.commit(ctx, it.pos, 1); err == nil {
				w.visible([]item{*it})
				return nil
			}
			if !refused(err) {
				return err
			}
		} else if transient && errors.Is(err, readmodel.ErrCorrupt) {
			return err
		} else if transient {
			w.fail("read model read", err)
			if !w.bo.wait(ctx) {
				return ctx.Err()
			}
			continue
		}
		attempts++
		last = err
	}
	return w.park(ctx, it, attempts, last)
}

// visible reports the age of committed events, as they are now in the
// read model.
func (w *worker) visible(items []item) {
	now := time.Now()
	for i := range items {
		if at := items[i].rec.RecordedAt; !at.IsZero() && !items[i].skip {
			w.r.metrics.Visible(w.name, now.Sub(at))
		}
	}
}

// retryDelay is the pause before attempt n+1 of a failing event.
func (r *Runtime) retryDelay(n int) time.Duration {
	d := r.cfg.RetryBackoff
	for i := 1; i < n && d < r.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.cfg.MaxBackoff)
}

// commit writes the batch with the checkpoint. Store errors are retried
// with backoff; a refused batch (ErrInvalid, ErrDuplicate) is dropped and
// returned.
func (w *worker) commit(ctx context.Context, checkpoint int64, events int) error {
	b := w.tx.batch(w.name, checkpoint)
	if h := w.r.hooks.beforeCommit; h != nil {
		if err := h(w.name, checkpoint); err != nil {
			return &crashError{err}
		}
	}
	for {
		if !w.owns() { // the fence: a process whose lease is gone commits nothing
			w.tx.reset()
			return ErrNotOwner
		}
		start := time.Now()
		err := w.store.Commit(ctx, b)
		if err == nil {
			w.r.metrics.Committed(w.name, events, time.Since(start))
			w.tx.committed()
			w.bo.reset()
			w.ok()
			w.advance(checkpoint, checkpoint)
			return nil
		}
		if refused(err) || errors.Is(err, readmodel.ErrCorrupt) {
			w.tx.reset() // a corrupt database does not heal by retrying: run stops the loop
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.fail("commit", err)
		if !w.bo.wait(ctx) {
			return ctx.Err()
		}
	}
}

// refused reports an error the store will give again for the same batch.
func refused(err error) bool {
	return errors.Is(err, readmodel.ErrInvalid) || errors.Is(err, readmodel.ErrDuplicate)
}

// ack acknowledges m and, with AckAll, every delivery before it. The ack
// is not waited for: it travels before the next pull request on the same
// connection, and one that gets lost only means a redelivery after
// AckWait, which the checkpoint skips.
func (w *worker) ack(_ context.Context, m jetstream.Msg, pos int64) error {
	if h := w.r.hooks.beforeAck; h != nil {
		if err := h(w.name, pos); err != nil {
			return &crashError{err}
		}
	}
	if err := m.Ack(); err != nil {
		return fmt.Errorf("ack position %d: %w", pos, err)
	}
	w.advance(0, pos)
	return nil
}
