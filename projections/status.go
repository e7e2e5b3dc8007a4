package projections

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
)

// Projection states.
const (
	StateRunning    = "running"    // the live loop runs
	StateRebuilding = "rebuilding" // a rebuild runs (the live loop may run beside it)
	StateFailing    = "failing"    // the latest attempt failed and is being retried, or a rebuild is needed
	StateStalled    = "stalled"    // the live loop runs but has made no progress with events pending for longer than the stall timeout
	StateStopped    = "stopped"    // no live loop (not started, or stopped)
	StateStandby    = "standby"    // a distributed runtime's projection that another process owns (see Owner)
)

// statusParkedMax bounds the parked events listed per projection in Status.
const statusParkedMax = 100

// ProjectionStatus is a snapshot of one projection.
type ProjectionStatus struct {
	Name     string              `json:"name"`
	Database dbregistry.Constant `json:"database"`
	Consumer string              `json:"consumer"`
	// Owner is the node id of the process that runs the projection's live
	// loop, as its lease says ("" when none does or it is not known).
	Owner string `json:"owner,omitempty"`
	// Checkpoint is the position of the last event committed (applied or
	// parked) into the read model.
	Checkpoint int64 `json:"checkpoint"`
	// Processed is how far the projection has seen the stream: every
	// event up to it that the projection listens to is in the read model.
	// It passes Checkpoint when the latest events are of other types.
	Processed int64 `json:"processed"`
	// Head is the event store's head position.
	Head int64 `json:"head"`
	// LagEvents is Head - Processed.
	LagEvents int64 `json:"lag_events"`
	// LagSeconds is the age of the oldest event not processed yet (0 when
	// caught up).
	LagSeconds float64 `json:"lag_seconds"`
	// StalledSince is set while events are pending and the projection has
	// made no progress for longer than the stall timeout: since the later
	// of its last progress and the oldest pending event's append.
	StalledSince time.Time `json:"stalled_since,omitzero"`
	State        string    `json:"state"`
	// LastError is why the latest attempt failed, and LastErrorAt since
	// when it has been failing; both clear once an attempt succeeds.
	LastError    string           `json:"last_error,omitempty"`
	LastErrorAt  time.Time        `json:"last_error_at,omitzero"`
	NeedsRebuild string           `json:"needs_rebuild,omitempty"`
	ParkedCount  int              `json:"parked_count"`
	Parked       []ParkedEvent    `json:"parked,omitempty"` // the first statusParkedMax
	Rebuild      *RebuildProgress `json:"rebuild,omitempty"`
	// StatusError says what could not be read for this snapshot.
	StatusError string `json:"status_error,omitempty"`
}

// Status returns a snapshot of every projection, sorted by name.
func (r *Runtime) Status(ctx context.Context) []ProjectionStatus {
	var head int64
	var headErr error
	if r.deps.Events == nil {
		headErr = fmt.Errorf("no event store")
	} else {
		head, headErr = r.deps.Events.HeadPosition(ctx)
	}
	var (
		owners   map[string]string
		ownerErr error
	)
	if r.deps.Owners != nil {
		owners, ownerErr = r.deps.Owners(ctx)
	}
	names := r.Names()
	out := make([]ProjectionStatus, 0, len(names))
	for _, name := range names {
		w, err := r.worker(name)
		if err != nil {
			continue
		}
		st := w.status(ctx, head, headErr)
		st.Owner = owners[name]
		if ownerErr != nil {
			st.StatusError = strings.TrimSpace(st.StatusError + " owner: " + ownerErr.Error())
		}
		out = append(out, st)
	}
	return out
}

func (w *worker) status(ctx context.Context, head int64, headErr error) ProjectionStatus {
	st := ProjectionStatus{Name: w.name, Database: w.db, Consumer: w.consumer, Head: head}
	var errs []string
	if headErr != nil {
		errs = append(errs, "head: "+headErr.Error())
	}
	w.mu.Lock()
	running, failing, progressAt := w.running, w.failing, w.progressAt
	standby := w.r.cfg.Distributed && !w.owned
	st.Processed, st.LastError, st.LastErrorAt, st.NeedsRebuild = w.through, w.lastErr, w.lastErrAt, w.needsRebuild
	if w.progress != nil {
		p := *w.progress
		st.Rebuild = &p
	}
	w.mu.Unlock()

	cp, err := w.store.Checkpoint(ctx, w.name)
	if err != nil {
		errs = append(errs, "checkpoint: "+err.Error())
	}
	st.Checkpoint = cp
	st.Processed = max(st.Processed, cp)
	if headErr == nil {
		st.LagEvents = max(0, head-st.Processed)
		w.r.metrics.Lag(w.name, st.LagEvents)
		if st.LagEvents > 0 {
			if evs, err := w.r.deps.Events.ReadAll(ctx, st.Processed, 1); err != nil {
				errs = append(errs, "lag: "+err.Error())
			} else if len(evs) == 1 {
				st.LagSeconds = max(0, time.Since(evs[0].RecordedAt).Seconds())
				since := progressAt
				if evs[0].RecordedAt.After(since) {
					since = evs[0].RecordedAt
				}
				if running && !standby && !w.rebuilding.Load() && time.Since(since) > w.r.cfg.StallTimeout {
					st.StalledSince = since
				}
			}
		}
	}
	w.r.metrics.LagSeconds(w.name, st.LagSeconds, !st.StalledSince.IsZero())
	if parked, err := w.listParked(ctx, 0); err != nil {
		errs = append(errs, "parked: "+err.Error())
	} else {
		st.ParkedCount = len(parked)
		st.Parked = parked[:min(len(parked), statusParkedMax)]
	}

	switch {
	case w.rebuilding.Load():
		st.State = StateRebuilding
	case failing || st.NeedsRebuild != "":
		st.State = StateFailing
	case running && standby:
		st.State = StateStandby
	case running && !st.StalledSince.IsZero():
		st.State = StateStalled
	case running:
		st.State = StateRunning
	default:
		st.State = StateStopped
	}
	if len(errs) > 0 {
		st.StatusError = fmt.Sprint(errs)
	}
	return st
}

// Problem says why a projection keeps the process from being ready, or ""
// (for /readyz): stalled, or needing a rebuild. LastError says more.
func (st ProjectionStatus) Problem() string {
	switch {
	case st.NeedsRebuild != "":
		return "needs a rebuild"
	case !st.StalledSince.IsZero():
		return fmt.Sprintf("stalled for %s with %d events pending (processed through %d of %d)",
			time.Since(st.StalledSince).Round(time.Second), st.LagEvents, st.Processed, st.Head)
	}
	return ""
}

// monitor refreshes the lag and stall metrics (Status sets them) every
// MonitorInterval and logs when a projection stalls or recovers.
func (r *Runtime) monitor(ctx context.Context) {
	t := time.NewTicker(r.cfg.MonitorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, st := range r.Status(ctx) {
			w, err := r.worker(st.Name)
			if err != nil {
				continue
			}
			stalled := !st.StalledSince.IsZero()
			var changed bool
			w.update(func() { changed, w.stalled = w.stalled != stalled, stalled })
			switch {
			case changed && stalled:
				w.log.Error("projection stalled", "since", st.StalledSince, "lag_events", st.LagEvents,
					"processed", st.Processed, "head", st.Head, "last_error", st.LastError)
			case changed:
				w.log.Info("projection no longer stalled", "processed", st.Processed, "head", st.Head)
			}
		}
	}
}

// Processed is how far every named projection (every registered one when
// names is empty) has processed the stream, as this runtime knows it from
// its own commits and bus probes, without reading any store. ok is false
// when a name is unknown or a projection has not learnt its position yet
// (before its live loop started): ask the stored checkpoints then.
func (r *Runtime) Processed(names []string) (through int64, ok bool) {
	if len(names) == 0 {
		names = r.Names()
	}
	through = -1
	for _, name := range names {
		w, err := r.worker(name)
		if err != nil {
			return 0, false
		}
		v := w.processed()
		if v <= 0 {
			return 0, false
		}
		if through < 0 || v < through {
			through = v
		}
	}
	return max(through, 0), through >= 0
}

// WaitFor returns true once every named projection (every registered one
// when names is empty) has processed the stream through position — an
// event at or before it is in their read models, whatever its type — and
// false when ctx ends first or a name is unknown. It is the read side of
// read-your-writes: a command's result carries the position of its last
// event.
func (r *Runtime) WaitFor(ctx context.Context, names []string, position int64) bool {
	if len(names) == 0 {
		names = r.Names()
	}
	for _, name := range names {
		w, err := r.worker(name)
		if err != nil || !w.waitThrough(ctx, position) {
			return false
		}
	}
	return true
}

func (w *worker) waitThrough(ctx context.Context, position int64) bool {
	if w.processed() >= position {
		return true
	}
	// A position the store does not hold yet cannot have been processed:
	// sleep until it is appended rather than asking the bus in vain.
	if ev := w.r.deps.Events; ev != nil {
		if err := ev.WaitForAppend(ctx, position-1); err != nil && ctx.Err() != nil {
			return false
		}
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		var through int64
		var lastProbe time.Time
		ch := w.snapshot(func() { through, lastProbe = w.through, w.lastProbe })
		if through >= position {
			return true
		}
		select {
		case <-ch:
			continue
		case <-timer.C:
			if time.Since(lastProbe) >= w.r.cfg.WaitPoll/4 {
				w.probe(ctx)
			}
			timer.Reset(w.r.cfg.WaitPoll)
		case <-ctx.Done():
			return false
		}
	}
}

func (w *worker) processed() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.through
}

// probe asks the bus how far the projection has processed the stream.
// Read the stream's last sequence S first, then the consumer: if it has
// nothing left to deliver and nothing delivered unacknowledged, every
// event up to S that the projection listens to was delivered, and — as
// a delivery is acknowledged only after its commit — is in the read
// model. So the projection has processed through S.
func (w *worker) probe(ctx context.Context) {
	js := w.r.deps.JetStream
	if js == nil || !w.probeMu.TryLock() {
		return
	}
	defer w.probeMu.Unlock()
	w.mu.Lock()
	w.lastProbe = time.Now()
	blocked := w.needsRebuild != "" // the consumer's filter is stale
	before := w.through
	w.mu.Unlock()
	first, last, err := w.streamFirst(ctx)
	if err != nil {
		return
	}
	c, err := js.Consumer(ctx, w.r.deps.Stream.Name, w.consumer)
	if err != nil {
		return
	}
	info := c.CachedInfo()
	caughtUp := !blocked && info.NumPending == 0 && info.NumAckPending == 0
	if caughtUp && w.retention().bounded() {
		// The first sequence after the consumer's answer: what expired
		// before the consumer looked is below it (catchup.go).
		if first, _, err = w.streamFirst(ctx); err != nil {
			return
		}
	}
	// What the projection has processed: its own commits and acks here. Not
	// the consumer's ack floor: the server moves it past messages that
	// expired before they were delivered (a consumer made just before its
	// first messages aged out shows them acknowledged, never delivered).
	// A standby learns the owner's progress from the stored checkpoint.
	base := before
	owner := w.livesHere()
	if !owner {
		if cp, err := w.store.Checkpoint(ctx, w.name); err == nil {
			base = max(base, cp)
		}
	}
	if caughtUp && first > base+1 && owner {
		// Messages after what the projection has processed have left the
		// stream: the consumer may have been moved past some of them
		// (catchup.go). Not caught up: the loop catches up from the store.
		// (A standby leaves that to the owner's loop.)
		caughtUp = false
		w.log.Warn("projection: the bus no longer holds events after the projection's position",
			"processed", base, "stream_first", first)
		w.update(func() { w.resetCons = true })
	}
	if caughtUp {
		// The consumer's pending count follows the stream a moment later:
		// right after a publish it may still say 0 for a message of this
		// projection's types. So the store says how far "nothing left" goes:
		// up to the first event of this projection's types after what it
		// has processed (decision 105).
		last = w.idleThrough(ctx, base, last)
	}
	var through int64
	w.update(func() {
		if caughtUp {
			// Nothing left to deliver: idle is progress (events the relay
			// has not published yet are the relay's to report).
			w.through, w.progressAt = max(w.through, last), time.Now()
		}
		through = w.through
	})
	w.r.metrics.Lag(w.name, max(0, last-through))
}

// idleScanMax bounds the events one probe reads from the store.
const idleScanMax = 5000

// idleThrough is how far a projection that has processed through
// processed can be said to have processed the stream up to last, by the
// store: the position before the first event of its types in
// (processed, last] (that one is not processed yet), or last when there
// is none. It reads at most idleScanMax events; a longer range is taken
// up by the next probes.
func (w *worker) idleThrough(ctx context.Context, processed, last int64) int64 {
	ev := w.r.deps.Events
	switch {
	case ev == nil:
		return last // no store to ask: the consumer's word
	case processed >= last:
		return processed
	}
	// The runtime's window of recent types serves the other idle
	// projections' probes: one read of the new events for them all.
	at, _ := w.r.recent.TypesAfter(ctx, ev, processed, last, idleScanMax, func(_ int64, typ string) bool {
		return !w.types[typ]
	})
	return at
}

// livesHere reports whether this process runs the projection's live loop
// (it is running and, in a distributed runtime, owned here).
func (w *worker) livesHere() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running && (!w.r.cfg.Distributed || w.owned)
}
