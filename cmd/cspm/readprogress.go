package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// checkpointProgress answers read-your-writes from what the projections
// stored, so it works in any process that can read the module databases
// and the event store, with or without the projector role.
//
// A projection's checkpoint is the position of the last event it
// committed, and it commits the events it listens to in position order.
// So it has processed the stream through P when every event in
// (checkpoint, P] is of a type it does not listen to: such events never
// touch its read model. The checkpoint alone would never pass the
// position of, say, a finding for the scan_runs projection. The event
// store tells the types; the position verified that way is remembered
// (it can only grow), so each event is looked at about once.
type checkpointProgress struct {
	events eventstore.Store
	projs  map[string]progressTarget

	recent *projections.TypeWindow // the types of recent positions, shared by the projections' checks (and the runtime's probes)

	mu       sync.Mutex
	verified map[string]int64 // processed through, as last verified
}

type progressTarget struct {
	store readmodel.Store
	types map[string]bool
}

// Polling bounds of WaitFor.
const (
	progressPollMin = time.Millisecond
	progressPollMax = 50 * time.Millisecond
	// progressScanCall bounds the events one extend reads from the store
	// (a projection far behind, or ignoring long runs of events, is
	// verified over several calls).
	progressScanCall = 16384
)

// recent is the window of recent types to share (the in-process runtime's),
// nil for one of its own.
func newCheckpointProgress(events eventstore.Store, stores map[dbregistry.Constant]readmodel.Store, ps []projections.Projection, recent *projections.TypeWindow) *checkpointProgress {
	if recent == nil {
		recent = &projections.TypeWindow{}
	}
	cp := &checkpointProgress{events: events, projs: map[string]progressTarget{}, verified: map[string]int64{}, recent: recent}
	for _, p := range ps {
		types := map[string]bool{}
		for _, t := range p.EventTypes() {
			types[t] = true
		}
		cp.projs[p.Name()] = progressTarget{store: stores[p.Database()], types: types}
	}
	return cp
}

func (p *checkpointProgress) names(names []string) []string {
	if len(names) > 0 {
		return names
	}
	out := make([]string, 0, len(p.projs))
	for n := range p.projs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Processed implements api.ReadProgress: the smallest of the named
// projections' checkpoints and verified positions. It reads no events.
func (p *checkpointProgress) Processed(ctx context.Context, names []string) (int64, error) {
	through := int64(math.MaxInt64)
	for _, name := range p.names(names) {
		v, err := p.through(ctx, name)
		if err != nil {
			return 0, err
		}
		through = min(through, v)
	}
	if through == math.MaxInt64 {
		return 0, nil
	}
	return through, nil
}

// through is max(checkpoint, verified) for one projection.
func (p *checkpointProgress) through(ctx context.Context, name string) (int64, error) {
	t, ok := p.projs[name]
	if !ok || t.store == nil {
		return 0, fmt.Errorf("%w: %q", projections.ErrUnknownProjection, name)
	}
	cp, err := t.store.Checkpoint(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("checkpoint of %s: %w", name, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	v := max(p.verified[name], cp)
	p.verified[name] = v
	return v, nil
}

// extend verifies name as far toward target as the event store allows:
// past every event it does not listen to, up to the first one it does.
func (p *checkpointProgress) extend(ctx context.Context, name string, target int64) (int64, error) {
	v, err := p.through(ctx, name)
	if err != nil || v >= target {
		return v, err
	}
	types := p.projs[name].types
	start := v
	// Every projection verified here looks at the same new events: the
	// window of recent types reads them once for all.
	v, _ = p.recent.TypesAfter(ctx, p.events, v, target, progressScanCall, func(_ int64, typ string) bool {
		return !types[typ] // one it listens to is not committed yet: the checkpoint is below it
	})
	if v > start {
		p.mu.Lock()
		p.verified[name] = max(p.verified[name], v)
		p.mu.Unlock()
	}
	return v, nil
}

// refine moves a status's Processed (and lag) to what the stored
// checkpoints and the event store verify, when that is further: the
// runtime learns it from the bus only between fetches.
func (p *checkpointProgress) refine(ctx context.Context, s projections.ProjectionStatus) projections.ProjectionStatus {
	if s.Head <= s.Processed {
		return s
	}
	v, err := p.extend(ctx, s.Name, s.Head)
	if err != nil || v <= s.Processed {
		return s
	}
	s.Processed, s.LagEvents, s.LagSeconds = v, max(0, s.Head-v), 0
	if s.LagEvents > 0 {
		if evs, err := p.events.ReadAll(ctx, v, 1); err == nil && len(evs) == 1 {
			s.LagSeconds = max(0, time.Since(evs[0].RecordedAt).Seconds())
		}
	}
	return s
}

// reached reports whether every named projection has processed through
// position, verifying as it goes.
func (p *checkpointProgress) reached(ctx context.Context, names []string, position int64) bool {
	for _, name := range p.names(names) {
		if v, err := p.extend(ctx, name, position); err != nil || v < position {
			return false
		}
	}
	return true
}

// WaitFor implements api.ReadProgress by polling the checkpoints (from
// every millisecond to every 50ms) once the store holds position.
func (p *checkpointProgress) WaitFor(ctx context.Context, names []string, position int64) bool {
	if position <= 0 {
		return true
	}
	if err := p.events.WaitForAppend(ctx, position-1); err != nil {
		return false
	}
	wait := progressPollMin
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		if p.reached(ctx, names, position) {
			return true
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		wait = min(2*wait, progressPollMax)
	}
}

// runtimeProgress waits through the in-process projector runtime, which
// is told of every commit and asks the bus how far each projection got.
// The stored checkpoints give meta.position, and answer WaitFor when the
// runtime does not know yet (it is still starting, after a restart).
type runtimeProgress struct {
	*checkpointProgress
	rt *projections.Runtime
}

// storedCheckTimeout bounds the last look at the stored checkpoints
// after the runtime's wait ran out.
const storedCheckTimeout = 100 * time.Millisecond

// Processed implements api.ReadProgress: the runtime's own knowledge when
// it has it (no store read on the query path), the stored checkpoints
// otherwise.
func (p *runtimeProgress) Processed(ctx context.Context, names []string) (int64, error) {
	if v, ok := p.rt.Processed(names); ok {
		return v, nil
	}
	return p.checkpointProgress.Processed(ctx, names)
}

// WaitFor implements api.ReadProgress.
func (p *runtimeProgress) WaitFor(ctx context.Context, names []string, position int64) bool {
	if position <= 0 || p.rt.WaitFor(ctx, names, position) {
		return true
	}
	// The runtime may not run (NATS was down when it started, so it keeps
	// retrying): what is stored may still pass position.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storedCheckTimeout)
	defer cancel()
	return p.reached(sctx, names, position)
}
