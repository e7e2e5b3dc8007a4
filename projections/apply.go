package projections

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// applyEvent runs p.Apply for ev in its own scope of tx: on failure its
// writes are rolled back and the rest of the batch stays. transient is
// true when the failure came with a store error (retry, don't blame the
// event). A panicking Apply is a failure like any other.
func applyEvent(ctx context.Context, p Projection, tx *batchTx, ev Event) (transient bool, err error) {
	tx.begin()
	err = safeApply(ctx, p, tx, ev)
	if err == nil {
		err = tx.scopeErr
	}
	if err != nil {
		transient = tx.storeErr != nil
		if transient && !errors.Is(err, tx.storeErr) {
			err = fmt.Errorf("%w (store: %w)", err, tx.storeErr) // callers look for readmodel.ErrCorrupt
		}
		tx.rollback()
		return transient, fmt.Errorf("apply %s (event %s, position %d): %w", ev.Type, ev.EventID, ev.Position, err)
	}
	return false, nil
}

func safeApply(ctx context.Context, p Projection, tx Tx, ev Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	return p.Apply(ctx, tx, ev)
}

// prefetch reads into tx, with one GetMany per collection, the documents
// p says it will read for evs (Prefetcher; nothing when p is not one). A
// panic of Prefetch only loses the hint.
func prefetch(ctx context.Context, p Projection, tx *batchTx, evs []Event) {
	pf, ok := p.(Prefetcher)
	if !ok || len(evs) == 0 {
		return
	}
	ids := map[string][]string{}
	func() {
		defer func() { _ = recover() }()
		for _, ev := range evs {
			pf.Prefetch(ev, func(collection, id string) { ids[collection] = append(ids[collection], id) })
		}
	}()
	tx.prefetch(ctx, ids)
}
