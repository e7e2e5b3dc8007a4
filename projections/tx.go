package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// batchTx is the Tx of a projection's batches: an overlay of the batch's
// writes over the store, plus a cache of what it read. Each event runs in
// a scope that is rolled back if its Apply fails, so a poison event leaves
// no trace in the batch. Collection names are the declared (live) names;
// phys maps them to the collections written (the shadows during a
// rebuild).
//
// Between batches the overlay stays as a read cache (it equals the store
// after a commit, as the projection is the only writer of its
// collections); reset drops it when something else may have written
// (a parked event retried, a swap) or when it grows past cacheMax.
type batchTx struct {
	store    readmodel.Store
	phys     map[string]string // declared name -> physical collection
	colls    map[string]*overlay
	cacheMax int
	cached   int // entries held across all collections

	undo     []undoRec // the current event's changes, newest last
	scopeErr error     // a refused Put/Delete/Get of the current event
	storeErr error     // a store failure seen by the current event's Gets
	dirty    int       // dirty entries (writes of the batch)
}

type overlay struct {
	name    string // declared name
	entries map[string]*entry
	order   []string // ids in first-write order: puts are committed in it
}

type entryState uint8

const (
	unknown entryState = iota // not read nor written (a rolled-back write)
	clean                     // read from the store, or committed
	dirty                     // written by the batch
)

type entry struct {
	state   entryState
	exists  bool
	doc     readmodel.Doc // canonical (normalized); never handed out
	ordered bool          // its id is in overlay.order
}

type undoRec struct {
	o    *overlay
	id   string
	prev entry
}

var _ Tx = (*batchTx)(nil)

func newBatchTx(store readmodel.Store, phys map[string]string, cacheMax int) *batchTx {
	return &batchTx{store: store, phys: phys, colls: make(map[string]*overlay, len(phys)), cacheMax: cacheMax}
}

func (t *batchTx) overlay(collection string) (*overlay, error) {
	if o := t.colls[collection]; o != nil {
		return o, nil
	}
	if _, ok := t.phys[collection]; !ok {
		return nil, fmt.Errorf("collection %q is not declared by the projection (Collections)", collection)
	}
	o := &overlay{name: collection, entries: map[string]*entry{}}
	t.colls[collection] = o
	return o, nil
}

// Get implements Tx.
func (t *batchTx) Get(ctx context.Context, collection, id string) (readmodel.Doc, bool, error) {
	o, err := t.overlay(collection)
	if err != nil {
		t.refuse(err)
		return nil, false, err
	}
	if e := o.entries[id]; e != nil && e.state != unknown {
		if !e.exists {
			return nil, false, nil
		}
		return cloneDoc(e.doc), true, nil
	}
	doc, err := t.store.Get(ctx, t.phys[collection], id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound):
		t.remember(o, id, nil)
		return nil, false, nil
	case errors.Is(err, readmodel.ErrInvalid):
		t.refuse(err)
		return nil, false, err
	case err != nil:
		if t.storeErr == nil {
			t.storeErr = err
		}
		return nil, false, fmt.Errorf("get %s/%s: %w", collection, id, err)
	}
	t.remember(o, id, doc)
	return cloneDoc(doc), true, nil
}

// prefetch reads, with one GetMany per collection, the documents of ids
// (by declared collection) that the overlay does not hold yet, and caches
// them (a missing one as missing). A failure is ignored: the Gets that
// follow read the documents one by one and report it.
func (t *batchTx) prefetch(ctx context.Context, ids map[string][]string) {
	for coll, want := range ids {
		o, err := t.overlay(coll)
		if err != nil {
			continue // Get refuses it with the reason
		}
		var read []string
		seen := make(map[string]bool, len(want))
		for _, id := range want {
			if e := o.entries[id]; (e == nil || e.state == unknown) && !seen[id] && id != "" && len(id) <= readmodel.MaxIDLen {
				seen[id] = true
				read = append(read, id)
			}
		}
		if len(read) == 0 {
			continue
		}
		docs, err := t.store.GetMany(ctx, t.phys[coll], read)
		if err != nil {
			continue
		}
		for _, id := range read {
			t.remember(o, id, docs[id]) // nil: known missing
		}
	}
}

// remember caches a store read.
func (t *batchTx) remember(o *overlay, id string, doc readmodel.Doc) {
	e := o.entries[id]
	if e == nil {
		e = &entry{}
		o.entries[id] = e
		t.cached++
	}
	e.state, e.exists, e.doc = clean, doc != nil, doc
}

// Put implements Tx.
func (t *batchTx) Put(collection string, doc readmodel.Doc) {
	o, err := t.overlay(collection)
	if err != nil {
		t.refuse(err)
		return
	}
	nd, err := readmodel.NormalizeDoc(doc)
	if err != nil {
		t.refuse(fmt.Errorf("put into %s: %w", collection, err))
		return
	}
	t.write(o, nd.ID(), nd, true)
}

// Delete implements Tx.
func (t *batchTx) Delete(collection, id string) {
	o, err := t.overlay(collection)
	if err != nil {
		t.refuse(err)
		return
	}
	if id == "" || len(id) > readmodel.MaxIDLen {
		t.refuse(readmodel.Invalidf("delete from %s: _id %q: want 1 to %d bytes", collection, id, readmodel.MaxIDLen))
		return
	}
	t.write(o, id, nil, true)
}

// write records a put (doc != nil) or a delete; journal keeps what it
// replaced for rollback.
func (t *batchTx) write(o *overlay, id string, doc readmodel.Doc, journal bool) {
	e := o.entries[id]
	if e == nil {
		e = &entry{}
		o.entries[id] = e
		t.cached++
	}
	if journal {
		t.undo = append(t.undo, undoRec{o: o, id: id, prev: *e})
	}
	if e.state != dirty {
		t.dirty++
	}
	e.state, e.exists, e.doc = dirty, doc != nil, doc
	if !e.ordered {
		e.ordered = true
		o.order = append(o.order, id)
	}
}

func (t *batchTx) refuse(err error) {
	if t.scopeErr == nil {
		t.scopeErr = err
	}
}

// begin opens the scope of one event.
func (t *batchTx) begin() {
	t.undo = t.undo[:0]
	t.scopeErr, t.storeErr = nil, nil
}

// rollback undoes the current event's writes.
func (t *batchTx) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		e := u.o.entries[u.id]
		if e.state == dirty && u.prev.state != dirty {
			t.dirty--
		}
		ordered := e.ordered // the id stays in order; batch() skips entries that are not dirty
		*e = u.prev
		e.ordered = ordered
	}
	t.undo = t.undo[:0]
}

// putParked and deleteParked write park records outside any event's
// scope (the collection is the runtime's, never mapped to a shadow).
func (t *batchTx) putParked(doc readmodel.Doc) error {
	nd, err := readmodel.NormalizeDoc(doc)
	if err != nil {
		return err
	}
	t.write(t.parkedOverlay(), nd.ID(), nd, false)
	return nil
}

func (t *batchTx) deleteParked(id string) { t.write(t.parkedOverlay(), id, nil, false) }

func (t *batchTx) parkedOverlay() *overlay {
	o := t.colls[ParkedCollection]
	if o == nil {
		o = &overlay{name: ParkedCollection, entries: map[string]*entry{}}
		t.colls[ParkedCollection] = o
	}
	return o
}

func (t *batchTx) physical(name string) string {
	if name == ParkedCollection {
		return ParkedCollection
	}
	return t.phys[name]
}

// batch returns the batch's writes as a readmodel.Batch: puts in
// first-write order per collection (so a unique value that moves from one
// document to another is usually released before it is taken).
func (t *batchTx) batch(projection string, checkpoint int64) readmodel.Batch {
	b := readmodel.Batch{Projection: projection, Checkpoint: checkpoint, Normalized: true} // Put normalized each doc
	if t.dirty == 0 {
		return b
	}
	b.Puts = make(map[string][]readmodel.Doc)
	b.Deletes = make(map[string][]string)
	for _, o := range t.colls {
		phys := t.physical(o.name)
		for _, id := range o.order {
			e := o.entries[id]
			switch {
			case e.state != dirty:
			case e.exists:
				b.Puts[phys] = append(b.Puts[phys], e.doc)
			default:
				b.Deletes[phys] = append(b.Deletes[phys], id)
			}
		}
	}
	return b
}

// committed turns the batch's writes into cached reads after a commit
// (or drops the cache when it grew past cacheMax).
func (t *batchTx) committed() {
	if t.cached > t.cacheMax {
		t.reset()
		return
	}
	t.markClean()
}

// markClean turns the batch's writes into cached reads: the batch was
// handed to the store.
func (t *batchTx) markClean() {
	if o := t.colls[ParkedCollection]; o != nil { // never read back
		t.cached -= len(o.entries)
		delete(t.colls, ParkedCollection)
	}
	for _, o := range t.colls {
		for _, id := range o.order {
			e := o.entries[id]
			e.ordered = false
			if e.state == dirty {
				e.state = clean
			}
		}
		o.order = o.order[:0]
	}
	t.dirty = 0
}

// reset drops the batch and the cache.
func (t *batchTx) reset() {
	clear(t.colls)
	t.cached, t.dirty = 0, 0
	t.undo = t.undo[:0]
	t.scopeErr, t.storeErr = nil, nil
}

// cloneDoc deep-copies a canonical document, so a projection that edits
// what Get returned does not edit the overlay.
func cloneDoc(d readmodel.Doc) readmodel.Doc {
	out := make(readmodel.Doc, len(d))
	for k, v := range d {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = cloneValue(x)
		}
		return m
	case readmodel.Doc:
		return cloneDoc(v)
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = cloneValue(x)
		}
		return s
	default: // scalars: string, int64, float64, bool, nil, time.Time
		return v
	}
}
