package queriestest

import (
	"context"
	"errors"
	"iter"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// SeedChunks is Seed for worlds too large to hold in memory: every
// projection takes each chunk of events in turn (chunks in position
// order) through a Tx that reads what earlier chunks committed from the
// store, and commits its writes after each chunk, as the runtime's batches
// do. As in the runtime, each projection runs on a goroutine of its own
// (its chunks in order). Memory is bounded by the documents a few chunks
// touch.
func (e *Env) SeedChunks(tb testing.TB, chunks iter.Seq[[]projections.Event]) {
	tb.Helper()
	e.SeedChunksWith(tb, AllProjections(), chunks)
}

// SeedChunksWith is SeedChunks through the projections ps only (a
// benchmark that reads one projection's read models seeds only those).
func (e *Env) SeedChunksWith(tb testing.TB, ps []projections.Projection, chunks iter.Seq[[]projections.Event]) {
	tb.Helper()
	feeds := make([]chan []projections.Event, len(ps))
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		feeds[i] = make(chan []projections.Event, 2)
		wg.Go(func() {
			for events := range feeds[i] {
				if errs[i] == nil {
					errs[i] = e.seedChunk(p, events)
				}
			}
		})
	}
	for events := range chunks {
		for _, f := range feeds {
			f <- events
		}
	}
	for _, f := range feeds {
		close(f)
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(tb, err, ps[i].Name())
	}
}

// seedChunk runs p over the events of one chunk it takes, and commits.
func (e *Env) seedChunk(p projections.Projection, events []projections.Event) error {
	ctx := context.Background()
	store := e.Stores[p.Database()]
	tx := &storeTx{store: store, colls: map[string]map[string]readmodel.Doc{}}
	types := p.EventTypes()
	for _, ev := range events {
		if slices.Contains(types, ev.Type) {
			if err := p.Apply(ctx, tx, ev); err != nil {
				return err
			}
		}
	}
	if tx.err != nil {
		return tx.err
	}
	cp, err := store.Checkpoint(ctx, p.Name())
	if err != nil {
		return err
	}
	for coll, docs := range tx.colls {
		ids := slices.Sorted(maps.Keys(docs))
		for chunk := range slices.Chunk(ids, 5000) {
			cp++
			batch := readmodel.Batch{Projection: p.Name(), Checkpoint: cp,
				Puts: map[string][]readmodel.Doc{}, Deletes: map[string][]string{}}
			for _, id := range chunk {
				if d := docs[id]; d != nil {
					batch.Puts[coll] = append(batch.Puts[coll], d)
				} else {
					batch.Deletes[coll] = append(batch.Deletes[coll], id)
				}
			}
			if err := store.Commit(ctx, batch); err != nil {
				return err
			}
		}
	}
	return nil
}

// storeTx is a projections.Tx over a store: the chunk's writes (a nil
// document is a delete) over what the store holds (read once per chunk).
// Like MemTx, it hands documents over as they are kept.
type storeTx struct {
	store interface {
		Get(ctx context.Context, collection, id string) (readmodel.Doc, error)
	}
	colls map[string]map[string]readmodel.Doc // writes
	read  map[string]map[string]readmodel.Doc // reads from the store; nil: none
	err   error
}

func (t *storeTx) Get(ctx context.Context, coll, id string) (readmodel.Doc, bool, error) {
	if d, ok := t.colls[coll][id]; ok {
		return d, d != nil, nil
	}
	if d, ok := t.read[coll][id]; ok {
		return d, d != nil, nil
	}
	d, err := t.store.Get(ctx, coll, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound):
		d = nil
	case err != nil:
		t.err = err
		return nil, false, err
	}
	if t.read == nil {
		t.read = map[string]map[string]readmodel.Doc{}
	}
	if t.read[coll] == nil {
		t.read[coll] = map[string]readmodel.Doc{}
	}
	t.read[coll][id] = d
	return d, d != nil, nil
}

func (t *storeTx) write(coll, id string, d readmodel.Doc) {
	if t.colls[coll] == nil {
		t.colls[coll] = map[string]readmodel.Doc{}
	}
	t.colls[coll][id] = d
}

func (t *storeTx) Put(coll string, doc readmodel.Doc) { t.write(coll, doc.ID(), doc) }

func (t *storeTx) Delete(coll, id string) { t.write(coll, id, nil) }
