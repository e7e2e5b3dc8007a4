package projections

import (
	"context"
	"errors"
	"fmt"
)

// ErrNotOwner: in a distributed runtime, this process does not own the
// projection (another process's lease runs it, see ProjectionStatus.Owner).
// The live loop drops the batch in hand uncommitted and unacknowledged and
// waits for Own; Rebuild, RetryParked and SkipParked refuse.
var ErrNotOwner = errors.New("projections: this process does not own the projection (another process's lease runs it)")

// Own hands projection name to this process in a distributed runtime: its
// live loop recreates the consumer from the stored checkpoint (another
// process may have moved it, and its deliveries are not ours), drops its
// cache (another process wrote the collections) and runs. Every commit
// first checks fence (the lease is still valid) and stops the loop when it
// says no. term is the lease's term (shown in logs).
func (r *Runtime) Own(name string, term uint64, fence func() bool) error {
	if !r.cfg.Distributed {
		return errors.New("projections: Own needs a distributed runtime (RuntimeConfig.Distributed)")
	}
	w, err := r.worker(name)
	if err != nil {
		return err
	}
	w.update(func() {
		w.owned, w.fence, w.term = true, fence, term
		w.resetCons, w.dropCache = true, true
		w.ownGen++
	})
	w.log.Info("projection: owned by this process", "term", term)
	return nil
}

// Disown takes projection name back from this process: it waits (up to
// ctx) for the live loop to reach its pause point (the batch in hand
// committed and acknowledged, or dropped when the lease is already lost),
// then leaves the loop waiting for the next Own. Commits are refused from
// the moment Disown is called.
func (r *Runtime) Disown(ctx context.Context, name string) error {
	w, err := r.worker(name)
	if err != nil {
		return err
	}
	resume, perr := w.pause(ctx)
	w.update(func() { w.owned, w.fence, w.term = false, nil, 0; w.ownGen++ })
	if resume != nil {
		resume()
	}
	w.log.Info("projection: no longer owned by this process")
	if perr != nil {
		return fmt.Errorf("projections: disown %s: %w", name, perr)
	}
	return nil
}

// Owned returns the projections this process owns (distributed runtime;
// every projection otherwise).
func (r *Runtime) Owned() []string {
	var out []string
	for _, name := range r.Names() {
		w, err := r.worker(name)
		if err != nil {
			continue
		}
		if w.owns() {
			out = append(out, name)
		}
	}
	return out
}

// checkOwner refuses maintenance of a projection another process runs.
func (w *worker) checkOwner(what string) error {
	if w.r.cfg.Distributed && !w.owns() {
		return fmt.Errorf("%s %s: %w", what, w.name, ErrNotOwner)
	}
	return nil
}

// owns reports whether this process may commit for the projection.
func (w *worker) owns() bool {
	if !w.r.cfg.Distributed {
		return true
	}
	w.mu.Lock()
	owned, fence := w.owned, w.fence
	w.mu.Unlock()
	return owned && (fence == nil || fence())
}

// ownGeneration is the count of Own and Disown calls so far.
func (w *worker) ownGeneration() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ownGen
}

// notOwned records that a commit was refused by the fence: the loop waits
// for Own. Unless an Own (or Disown) came since gen: a lease that lapsed
// and was renewed is handed back by Disown then Own while the refused
// batch is still unwinding, and that Own must not be undone (the loop
// would wait for ever for an Own the balancer has already made).
func (w *worker) notOwned(gen uint64) {
	w.update(func() {
		if w.ownGen == gen {
			w.owned, w.fence = false, nil
		}
	})
}
