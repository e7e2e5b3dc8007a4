package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/projections"
)

// runtimeAdmin is api.ProjectionAdmin over the in-process runtime.
type runtimeAdmin struct {
	rt       *projections.Runtime
	rebuilds *rebuilds
	progress *checkpointProgress
	types    map[string][]string
}

func (a *runtimeAdmin) Names() []string { return a.rt.Names() }

func (a *runtimeAdmin) Status(ctx context.Context) ([]api.ProjectionStatus, error) {
	// Rebuild progress first: a rebuild it calls finished has released
	// its projection, so the runtime's state below agrees with it.
	progress := a.rebuilds.snapshot()
	st := a.rt.Status(ctx)
	out := make([]api.ProjectionStatus, len(st))
	for i, s := range st {
		out[i] = toAPIStatus(a.progress.refine(ctx, s), a.types[s.Name])
		if p, ok := progress[s.Name]; ok {
			out[i].Rebuild = &p
		}
	}
	return out, nil
}

func (a *runtimeAdmin) StartRebuild(ctx context.Context, name string) (api.RebuildStarted, error) {
	return a.rebuilds.start(ctx, name)
}

func (a *runtimeAdmin) CancelRebuild(_ context.Context, name string) error {
	return a.rebuilds.cancel(name)
}

func (a *runtimeAdmin) RetryParked(ctx context.Context, name string, position int64) (int, error) {
	n, err := a.rt.RetryParked(ctx, name, position)
	if err = adminError(err); err != nil && !isAdminError(err) && ctx.Err() == nil {
		// The runtime does not type the failure of the event itself; every
		// other failure before it is a lookup or a pause, typed above.
		return n, &api.RetryError{Applied: n, Err: err}
	}
	return n, err
}

func (a *runtimeAdmin) SkipParked(ctx context.Context, name string, position int64) (int, error) {
	n, err := a.rt.SkipParked(ctx, name, position)
	return n, adminError(err)
}

// adminError maps the runtime's errors to the API's.
func adminError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, projections.ErrUnknownProjection):
		return fmt.Errorf("%w: %w", domain.ErrNotFound, err)
	case errors.Is(err, projections.ErrRebuildInProgress):
		return fmt.Errorf("%w: %w", api.ErrRebuildInProgress, err)
	case errors.Is(err, projections.ErrNotParked):
		return fmt.Errorf("%w: %w", api.ErrNotParked, err)
	case errors.Is(err, projections.ErrNotOwner): // another projector process runs it (wiring_lease.go)
		return fmt.Errorf("%w: %w", api.ErrProjectorUnavailable, err)
	}
	return err
}

func isAdminError(err error) bool {
	return errors.Is(err, domain.ErrNotFound) || errors.Is(err, api.ErrRebuildInProgress) || errors.Is(err, api.ErrNotParked)
}

// remoteAdmin is api.ProjectionAdmin in a process without the projector
// role: status from the stored checkpoints (a runtime that is never
// started), nothing that needs the live projectors.
type remoteAdmin struct {
	status   *projections.Runtime
	progress *checkpointProgress
	types    map[string][]string
}

func (a *remoteAdmin) Names() []string { return a.status.Names() }

func (a *remoteAdmin) Status(ctx context.Context) ([]api.ProjectionStatus, error) {
	st := a.status.Status(ctx)
	out := make([]api.ProjectionStatus, len(st))
	for i, s := range st {
		out[i] = toAPIStatus(a.progress.refine(ctx, s), a.types[s.Name])
		out[i].State = "remote"
	}
	return out, nil
}

func (a *remoteAdmin) StartRebuild(context.Context, string) (api.RebuildStarted, error) {
	return api.RebuildStarted{}, api.ErrProjectorUnavailable
}
func (a *remoteAdmin) CancelRebuild(context.Context, string) error {
	return api.ErrProjectorUnavailable
}
func (a *remoteAdmin) RetryParked(context.Context, string, int64) (int, error) {
	return 0, api.ErrProjectorUnavailable
}
func (a *remoteAdmin) SkipParked(context.Context, string, int64) (int, error) {
	return 0, api.ErrProjectorUnavailable
}

func toAPIStatus(s projections.ProjectionStatus, types []string) api.ProjectionStatus {
	out := api.ProjectionStatus{
		Name: s.Name, Database: string(s.Database), EventTypes: slices.Clone(types), State: s.State,
		Checkpoint: s.Checkpoint, Processed: s.Processed, Head: s.Head,
		LagEvents: s.LagEvents, LagSeconds: s.LagSeconds, StalledSince: s.StalledSince,
		ParkedCount: s.ParkedCount, Parked: make([]api.ParkedEvent, len(s.Parked)),
		LastError: s.LastError, LastErrorAt: s.LastErrorAt, NeedsRebuild: s.NeedsRebuild,
		StatusError: s.StatusError, Owner: s.Owner,
	}
	if out.EventTypes == nil {
		out.EventTypes = []string{}
	}
	for i, p := range s.Parked {
		out.Parked[i] = api.ParkedEvent{Position: p.Position, EventID: p.EventID, Type: p.Type,
			StreamID: p.StreamID, Error: p.Error, Attempts: p.Attempts, ParkedAt: p.ParkedAt}
	}
	if s.Rebuild != nil {
		p := toAPIProgress(*s.Rebuild)
		out.Rebuild = &p
	}
	return out
}

func toAPIProgress(p projections.RebuildProgress) api.RebuildProgress {
	return api.RebuildProgress{
		Phase: p.Phase, Processed: p.Processed, Target: p.Target, Applied: p.Applied,
		EventsPerSec: p.EventsPerSec, ETASeconds: p.ETA.Seconds(), StartedAt: p.StartedAt, Error: p.Error,
	}
}

// rebuilds runs the rebuilds the API asks for in the background, one job
// per request (a projection, or all of them together), and keeps
// the latest progress of each projection for GET /api/v1/projections.
type rebuilds struct {
	rt  *projections.Runtime
	log *slog.Logger

	mu      sync.Mutex
	stopped bool
	jobs    map[string]*rebuildJob // running, by projection it covers
	last    map[string]api.RebuildProgress
	wg      sync.WaitGroup
}

type rebuildJob struct {
	names    []string
	cancel   context.CancelFunc
	canceled bool // under rebuilds.mu
}

func newRebuilds(rt *projections.Runtime, log *slog.Logger) *rebuilds {
	return &rebuilds{rt: rt, log: log.With("component", "projections"),
		jobs: map[string]*rebuildJob{}, last: map[string]api.RebuildProgress{}}
}

// start starts a job for name (api.RebuildAll: every projection).
func (r *rebuilds) start(ctx context.Context, name string) (api.RebuildStarted, error) {
	names := []string{name}
	if name == api.RebuildAll {
		// Sharing the projections with other processes, this one rebuilds
		// those it owns (every one otherwise; wiring_lease.go).
		names = r.rt.Owned()
	} else if !slices.Contains(r.rt.Names(), name) {
		return api.RebuildStarted{}, fmt.Errorf("%w: projection %q", domain.ErrNotFound, name)
	} else if !slices.Contains(r.rt.Owned(), name) {
		return api.RebuildStarted{}, adminError(fmt.Errorf("rebuild %s: %w", name, projections.ErrNotOwner))
	}
	// A rebuild the runtime started itself (event types changed) counts.
	rebuilding := map[string]bool{}
	for _, s := range r.rt.Status(ctx) {
		rebuilding[s.Name] = s.State == projections.StateRebuilding
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return api.RebuildStarted{}, api.ErrProjectorUnavailable
	}
	for _, n := range names {
		if r.jobs[n] != nil || rebuilding[n] {
			return api.RebuildStarted{}, fmt.Errorf("%w: %s", api.ErrRebuildInProgress, n)
		}
	}
	now := time.Now().UTC()
	jctx, cancel := context.WithCancel(context.Background())
	job := &rebuildJob{names: names, cancel: cancel}
	for _, n := range names {
		r.jobs[n] = job
		r.last[n] = api.RebuildProgress{Phase: api.RebuildQueued, StartedAt: now}
	}
	r.log.Info("rebuild requested", "projections", names)
	r.wg.Go(func() { r.run(jctx, job) })
	return api.RebuildStarted{Projections: slices.Clone(names), RequestedAt: now}, nil
}

func (r *rebuilds) run(ctx context.Context, job *rebuildJob) {
	defer job.cancel()
	if len(job.names) > 1 {
		// Together: one shared read of the event store, the projections
		// in parallel (projections.Runtime.RebuildTogether).
		// A projection is released as soon as its own rebuild ends (the
		// others may run on, and the databases are compacted at the end):
		// whoever sees it done can start the next one.
		errs := r.rt.RebuildTogether(ctx, job.names, func(p projections.RebuildProgress) {
			switch p.Phase {
			case projections.PhaseDone:
				r.finishOwn(job, p.Name, toAPIProgress(p), nil)
			case projections.PhaseFailed:
				r.finishOwn(job, p.Name, toAPIProgress(p), errors.New(p.Error))
			default:
				r.recordOwn(job, p.Name, toAPIProgress(p))
			}
		})
		for _, name := range job.names {
			r.finishOwn(job, name, api.RebuildProgress{}, errs[name])
		}
		return
	}
	for _, name := range job.names {
		var err error
		if err = ctx.Err(); err == nil {
			// A repair (a corrupt or missing database) rebuilds the other
			// projections of the database too: their progress is theirs.
			err = r.rt.Rebuild(ctx, name, func(p projections.RebuildProgress) { r.record(cmp.Or(p.Name, name), toAPIProgress(p)) })
		}
		r.finish(job, name, err)
	}
}

func (r *rebuilds) record(name string, p api.RebuildProgress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last[name] = p
}

// recordOwn records p while name is still job's.
func (r *rebuilds) recordOwn(job *rebuildJob, name string, p api.RebuildProgress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jobs[name] == job {
		r.last[name] = p
	}
}

// finishOwn records p (unless zero) and finishes name's rebuild, once,
// while name is still job's.
func (r *rebuilds) finishOwn(job *rebuildJob, name string, p api.RebuildProgress, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jobs[name] != job {
		return
	}
	if !p.StartedAt.IsZero() {
		r.last[name] = p
	}
	r.finishLocked(job, name, err)
}

// finish records how a projection's rebuild ended (telling a cancel from a
// failure, which the runtime cannot) and releases the job.
func (r *rebuilds) finish(job *rebuildJob, name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finishLocked(job, name, err)
}

func (r *rebuilds) finishLocked(job *rebuildJob, name string, err error) {
	p := r.last[name]
	p.FinishedAt = time.Now().UTC()
	switch {
	case err == nil:
		p.Phase = api.RebuildDone
	case job.canceled || r.stopped:
		p.Phase, p.Error = api.RebuildCanceled, "canceled; the live model is untouched"
	default:
		p.Phase, p.Error = api.RebuildFailed, err.Error()
	}
	r.last[name] = p
	delete(r.jobs, name)
}

// cancel cancels the job covering name (api.RebuildAll: every job).
func (r *rebuilds) cancel(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var found bool
	for n, job := range r.jobs {
		if name == api.RebuildAll || n == name {
			job.canceled, found = true, true
			job.cancel()
		}
	}
	if !found {
		return fmt.Errorf("%w: %s", api.ErrNoRebuild, name)
	}
	r.log.Info("rebuild cancel requested", "projection", name)
	return nil
}

// snapshot is the latest rebuild of each projection this process ran.
func (r *rebuilds) snapshot() map[string]api.RebuildProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.last)
}

// stop cancels every job and waits for them (the live models stay as they were).
func (r *rebuilds) stop(ctx context.Context) error {
	r.mu.Lock()
	r.stopped = true
	for _, job := range r.jobs {
		job.cancel()
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rebuilds: %w", ctx.Err())
	}
}
