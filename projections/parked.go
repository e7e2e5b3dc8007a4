package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// ParkedCollection holds the parked events of every projection of a
// module database, one document per event.
const ParkedCollection = "parked_events"

var parkedSpec = readmodel.CollectionSpec{Name: ParkedCollection, Indexes: []readmodel.Index{{
	Name:   "by_projection_position",
	Fields: []readmodel.IndexField{{Path: "projection"}, {Path: "position"}},
}}}

// maxParkedError bounds the error text kept in a park record.
const maxParkedError = 4096

// ParkedEvent is an event a projection gave up on after MaxAttempts: the
// projection moved past it. RetryParked applies it (after a fix),
// SkipParked forgets it, a rebuild re-applies every event and clears them.
type ParkedEvent struct {
	Projection string    `json:"projection"`
	Position   int64     `json:"position"`
	EventID    string    `json:"event_id"`
	Type       string    `json:"type"`
	StreamID   string    `json:"stream_id"`
	Error      string    `json:"error"`
	Attempts   int       `json:"attempts"`
	ParkedAt   time.Time `json:"parked_at"`
}

func parkedID(projection string, position int64) string {
	return fmt.Sprintf("%s:%020d", projection, position)
}

func parkedDoc(pe ParkedEvent, rec eventstore.RecordedEvent, epoch int64) readmodel.Doc {
	msg := pe.Error
	if len(msg) > maxParkedError {
		msg = msg[:maxParkedError] + "…"
	}
	return readmodel.Doc{
		"_id":         parkedID(pe.Projection, pe.Position),
		"projection":  pe.Projection,
		"position":    pe.Position,
		"event_id":    pe.EventID,
		"type":        pe.Type,
		"stream_id":   pe.StreamID,
		"stream_type": rec.StreamType,
		"team_id":     rec.Metadata.TeamID,
		"error":       msg,
		"attempts":    pe.Attempts,
		"parked_at":   pe.ParkedAt,
		"epoch":       epoch,
	}
}

func parkedFromDoc(d readmodel.Doc) (pe ParkedEvent, epoch int64) {
	pe.Projection, _ = d["projection"].(string)
	pe.Position, _ = d["position"].(int64)
	pe.EventID, _ = d["event_id"].(string)
	pe.Type, _ = d["type"].(string)
	pe.StreamID, _ = d["stream_id"].(string)
	pe.Error, _ = d["error"].(string)
	attempts, _ := d["attempts"].(int64)
	pe.Attempts = int(attempts)
	pe.ParkedAt, _ = d["parked_at"].(time.Time)
	epoch, _ = d["epoch"].(int64)
	return pe, epoch
}

// park records it as parked and moves the checkpoint past it, in one commit.
func (w *worker) park(ctx context.Context, it *item, attempts int, cause error) error {
	_, _, epoch := w.state()
	pe := ParkedEvent{Projection: w.name, Position: it.pos, EventID: it.rec.EventID, Type: it.rec.Type,
		StreamID: it.rec.StreamID, Error: cause.Error(), Attempts: attempts, ParkedAt: time.Now().UTC()}
	if err := w.tx.putParked(parkedDoc(pe, it.rec, epoch)); err != nil {
		return fmt.Errorf("park position %d: %w", it.pos, err)
	}
	if err := w.commit(ctx, it.pos, 0); err != nil {
		return fmt.Errorf("park position %d: %w", it.pos, err)
	}
	w.log.Error("projection: event parked", "position", it.pos, "event_id", it.rec.EventID,
		"type", it.rec.Type, "stream_id", it.rec.StreamID, "attempts", attempts, "error", cause)
	w.r.metrics.EventParked(w.name)
	return nil
}

// listParked returns the projection's parked events (at position, or all
// when position is 0) in position order, with their document ids. Records
// of an earlier rebuild epoch are void (a rebuild re-applied their
// events) and left out.
func (w *worker) listParked(ctx context.Context, position int64) ([]ParkedEvent, error) {
	epoch, err := w.store.Checkpoint(ctx, epochKey(w.name))
	if err != nil {
		return nil, err
	}
	return w.findParked(ctx, position, func(e int64) bool { return e >= epoch })
}

func (w *worker) findParked(ctx context.Context, position int64, keep func(epoch int64) bool) ([]ParkedEvent, error) {
	f := readmodel.Eq("projection", w.name)
	if position > 0 {
		f = readmodel.And(f, readmodel.Eq("position", position))
	}
	var out []ParkedEvent
	opts := readmodel.FindOptions{Filter: f, Sort: []readmodel.SortField{readmodel.Asc("position")}, Limit: readmodel.MaxLimit}
	for {
		page, err := w.store.Find(ctx, ParkedCollection, opts)
		if err != nil {
			return nil, fmt.Errorf("list parked events: %w", err)
		}
		for _, d := range page.Docs {
			if pe, epoch := parkedFromDoc(d); keep(epoch) {
				out = append(out, pe)
			}
		}
		if page.NextCursor == "" {
			return out, nil
		}
		opts.Cursor = page.NextCursor
	}
}

// Parked lists a projection's parked events in position order.
func (r *Runtime) Parked(ctx context.Context, name string) ([]ParkedEvent, error) {
	w, err := r.worker(name)
	if err != nil {
		return nil, err
	}
	return w.listParked(ctx, 0)
}

// RetryParked applies a parked event (position > 0) or all of the
// projection's parked events (position 0) now, in position order, reading
// each from the event store: after the cause was fixed. Each success
// commits the event's writes and removes its record together. The first
// failure stops the retry: that event stays parked with the new error.
// The live loop is paused meanwhile.
//
// A retried event is applied after later events of its stream were: for a
// projection whose result depends on that order, rebuild instead.
func (r *Runtime) RetryParked(ctx context.Context, name string, position int64) (applied int, err error) {
	w, err := r.worker(name)
	if err != nil {
		return 0, err
	}
	if err := w.checkOwner("retry parked events of"); err != nil {
		return 0, err
	}
	if w.rebuilding.Load() {
		return 0, fmt.Errorf("retry parked events of %s: %w", name, ErrRebuildInProgress)
	}
	w.maint.Lock()
	defer w.maint.Unlock()
	list, err := w.listParked(ctx, position)
	if err != nil {
		return 0, err
	}
	if len(list) == 0 && position > 0 {
		return 0, fmt.Errorf("%w: %s at position %d", ErrNotParked, name, position)
	}
	if len(list) == 0 {
		return 0, nil
	}
	resume, err := w.pause(ctx)
	if err != nil {
		return 0, err
	}
	defer func() {
		w.update(func() { w.dropCache = true }) // we wrote its collections
		resume()
		w.refreshParked(context.WithoutCancel(ctx))
	}()
	_, _, epoch := w.state()
	tx := newBatchTx(w.store, w.live, r.cfg.CacheDocs)
	for _, pe := range list {
		ev, err := r.readEvent(ctx, pe)
		if err == nil {
			_, err = applyEvent(ctx, w.p, tx, ev)
		}
		if err == nil {
			tx.deleteParked(parkedID(name, pe.Position))
			err = w.commitMaint(ctx, tx)
		}
		if err != nil {
			tx.reset()
			pe.Attempts++
			pe.Error = err.Error()
			if perr := tx.putParked(parkedDoc(pe, ev.RecordedEvent, epoch)); perr == nil {
				if merr := w.commitMaint(ctx, tx); merr != nil {
					w.log.Warn("projection: could not update a parked event", "position", pe.Position, "error", merr)
				}
			}
			return applied, fmt.Errorf("retry parked event of %s at position %d: %w", name, pe.Position, err)
		}
		applied++
		w.log.Info("projection: parked event applied", "position", pe.Position, "event_id", pe.EventID)
	}
	return applied, nil
}

// SkipParked forgets a parked event (position > 0) or all of the
// projection's parked events (position 0) without applying them.
func (r *Runtime) SkipParked(ctx context.Context, name string, position int64) (removed int, err error) {
	w, err := r.worker(name)
	if err != nil {
		return 0, err
	}
	if err := w.checkOwner("skip parked events of"); err != nil {
		return 0, err
	}
	w.maint.Lock()
	defer w.maint.Unlock()
	list, err := w.findParked(ctx, position, func(int64) bool { return true })
	if err != nil {
		return 0, err
	}
	if len(list) == 0 && position > 0 {
		return 0, fmt.Errorf("%w: %s at position %d", ErrNotParked, name, position)
	}
	if err := w.deleteParked(ctx, list); err != nil {
		return 0, err
	}
	for _, pe := range list {
		w.log.Warn("projection: parked event skipped", "position", pe.Position, "event_id", pe.EventID)
	}
	w.refreshParked(ctx)
	return len(list), nil
}

// deleteParked removes park records, a page at a time.
func (w *worker) deleteParked(ctx context.Context, list []ParkedEvent) error {
	tx := newBatchTx(w.store, w.live, 0)
	for i, pe := range list {
		tx.deleteParked(parkedID(w.name, pe.Position))
		if (i+1)%readmodel.MaxLimit == 0 || i == len(list)-1 {
			if err := w.commitMaint(ctx, tx); err != nil {
				return err
			}
		}
	}
	return nil
}

// commitMaint commits tx's writes outside the projection's position order,
// under the projection's maintenance checkpoint (a counter: every such
// commit takes the next value), and empties tx.
func (w *worker) commitMaint(ctx context.Context, tx *batchTx) error {
	seq, err := w.store.Checkpoint(ctx, maintKey(w.name))
	if err != nil {
		return err
	}
	err = w.store.Commit(ctx, tx.batch(maintKey(w.name), seq+1))
	tx.reset()
	return err
}

func (w *worker) refreshParked(ctx context.Context) {
	if n, err := w.store.Count(ctx, ParkedCollection, readmodel.Eq("projection", w.name)); err == nil {
		w.r.metrics.Parked(w.name, int(n))
	}
}

// readEvent reads a parked event back from the event store.
func (r *Runtime) readEvent(ctx context.Context, pe ParkedEvent) (Event, error) {
	if r.deps.Events == nil {
		return Event{}, fmt.Errorf("no event store (RuntimeDeps.Events)")
	}
	evs, err := r.deps.Events.ReadAll(ctx, pe.Position-1, 1)
	if err != nil {
		return Event{}, fmt.Errorf("read position %d: %w", pe.Position, err)
	}
	if len(evs) == 0 || evs[0].Position != pe.Position {
		return Event{}, fmt.Errorf("the event store has no event at position %d", pe.Position)
	}
	rec := evs[0]
	if pe.EventID != "" && rec.EventID != pe.EventID {
		return Event{RecordedEvent: rec}, fmt.Errorf("the event store holds event %s at position %d, the parked event is %s", rec.EventID, pe.Position, pe.EventID)
	}
	ev, err := r.decode(rec)
	if err != nil {
		return Event{RecordedEvent: rec}, err
	}
	return ev, nil
}
