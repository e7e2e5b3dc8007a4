package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// Repairing a module database that is corrupt or missing
// (readmodel.ErrCorrupt): a live loop that meets it stops and says so
// (needs_rebuild names the command to run), a start that meets it leaves
// the projection waiting instead of failing, and a rebuild that meets it
// recreates the database (the store moves the old file aside) and rebuilds
// every projection in it, since they all lost their read models and
// checkpoints. See docs/projections-runtime.md, "Repair".

// resetter is a read-model store whose database can be recreated empty;
// aside says where the old one went (sqlitestore.Store moves the file
// aside as <name>.sqlite.corrupt-<time>).
type resetter interface {
	Reset(ctx context.Context) (aside string, err error)
}

// corrupt stops w's live loop until a rebuild repairs its database.
func (w *worker) corrupt(err error) {
	reason := fmt.Sprintf("the read-model database %s is corrupt or missing; `cspm projections rebuild %s` "+
		"moves the file aside, recreates it and rebuilds every projection in it: %v", w.db, w.name, err)
	w.log.Error("projection: " + reason)
	w.update(func() {
		w.needsRebuild = reason
		w.failing, w.lastErr, w.lastErrAt = true, reason, time.Now()
	})
}

// repairDatabase recreates w's database, which cause says is corrupt or
// missing, and rebuilds every projection that lives in it (w first), one
// after another. The caller holds w's rebuilding flag; their live loops wait meanwhile and each resumes after its
// own rebuild. The other databases are not touched. Until a projection's
// rebuild swaps in, its collections in the new database are empty (a query
// with min_position waits and answers stale).
func (r *Runtime) repairDatabase(ctx context.Context, w *worker, cause error, progress func(RebuildProgress)) error {
	res, ok := w.store.(resetter)
	if !ok {
		w.rebuilding.Store(false)
		return fmt.Errorf("rebuild %s: %w (and the store of %s cannot be recreated)", w.name, cause, w.db)
	}
	swapper := w.store.(readmodel.Swapper) // Rebuild checked it
	r.mu.Lock()
	var group []*worker
	for _, o := range r.workers {
		if o.db == w.db {
			group = append(group, o)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(group, func(a, b *worker) int {
		switch {
		case a == w:
			return -1
		case b == w:
			return 1
		}
		return cmp.Compare(a.name, b.name)
	})
	names := make([]string, len(group))
	for i, o := range group {
		if o != w && !o.rebuilding.CompareAndSwap(false, true) {
			for _, h := range group[:i] {
				h.rebuilding.Store(false)
			}
			return fmt.Errorf("repair %s (%w): rebuild %s: %w", w.db, cause, o.name, ErrRebuildInProgress)
		}
		names[i] = o.name
	}
	aside, err := r.resetPaused(ctx, res, group)
	if err != nil {
		for _, o := range group {
			o.rebuilding.Store(false)
		}
		return fmt.Errorf("repair %s (%w): %w", w.db, cause, err)
	}
	r.log.Warn("read-model database recreated; rebuilding every projection in it",
		"database", w.db, "kept_as", aside, "cause", cause.Error(), "projections", names)
	var errs []error
	for i, o := range group {
		if err := ctx.Err(); err != nil {
			for _, rest := range group[i:] {
				rest.rebuilding.Store(false)
			}
			errs = append(errs, fmt.Errorf("repair %s: %w", w.db, err))
			break
		}
		if err := r.rebuildHeld(ctx, o, swapper, progress, false); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// resetPaused pauses every live loop of group (and their parked-event
// maintenance), resets the database, and leaves each projection at
// checkpoint 0 with its collections declared and its live loop waiting for
// a rebuild.
func (r *Runtime) resetPaused(ctx context.Context, res resetter, group []*worker) (aside string, err error) {
	for _, o := range group {
		o.maint.Lock()
		defer o.maint.Unlock()
	}
	for _, o := range group {
		resume, err := o.pause(ctx)
		if err != nil {
			return "", err
		}
		defer resume()
	}
	if aside, err = res.Reset(ctx); err != nil {
		return aside, err
	}
	kept := "there was no file left"
	if aside != "" {
		kept = "the old file is kept as " + aside
	}
	reason := fmt.Sprintf("the read-model database was recreated (%s); waiting for this projection's rebuild", kept)
	for _, o := range group {
		o.update(func() {
			o.checkpoint, o.through, o.epoch = 0, 0, 0
			o.needsRebuild = reason
			o.failing = false // what failed was the database, and it is new
			o.resetCons, o.dropCache = true, true
		})
		if err := o.prepare(ctx); err != nil {
			return aside, fmt.Errorf("prepare %s: %w", o.name, err)
		}
	}
	return aside, nil
}
