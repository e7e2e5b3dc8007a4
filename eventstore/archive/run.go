package archive

import (
	"context"
	"fmt"
	"time"
)

// DefaultSegmentEvents is how many events one segment holds at most.
const DefaultSegmentEvents = 5000

// RunOptions configure one archival run.
type RunOptions struct {
	// Cutoff: events recorded before it may leave the live store. Only a
	// prefix of the log leaves: the run stops at the first event recorded
	// at or after Cutoff, and never takes the live store's last event.
	Cutoff time.Time
	// SegmentEvents bounds a segment (DefaultSegmentEvents when <= 0).
	SegmentEvents int
	// DryRun counts what would be archived and writes nothing.
	DryRun bool
	// Progress, if set, is called after each segment with the events
	// archived so far and the most there can be (live events before the head).
	Progress func(done, total int64)
}

// RunResult says what one run did (or, dry, would do).
type RunResult struct {
	DryRun        bool  `json:"dry_run"`
	FromPosition  int64 `json:"from_position"` // first position archived (0: none)
	ToPosition    int64 `json:"to_position"`   // last position archived (0: none)
	Events        int64 `json:"events"`
	Segments      int   `json:"segments"`
	Bytes         int64 `json:"bytes"`          // compressed bytes written
	DeletedEvents int64 `json:"deleted_events"` // events deleted from the live store
}

// Run archives the prefix of the live log recorded before opts.Cutoff,
// one segment at a time: each segment is written, synced and checked
// (Archive.Write) before its events are deleted from the live store, so a
// crash between the two leaves them in both places (the next run deletes
// them; readers through s never see a position twice: archived positions
// are read from the archive). The first live event after the archive then
// links to the archive's last one (its log hash chains from the segment's
// last_log_hash), and Verify through s checks it as one chain.
func Run(ctx context.Context, s *Store, opts RunOptions) (RunResult, error) {
	res := RunResult{DryRun: opts.DryRun}
	per := opts.SegmentEvents
	if per <= 0 {
		per = DefaultSegmentEvents
	}
	a := s.a
	if err := a.Refresh(); err != nil {
		return res, err
	}
	live := s.Store
	info, err := s.AuditInfo(ctx)
	if err != nil {
		return res, fmt.Errorf("archive: the live store's id: %w", err)
	}
	if id := a.StoreID(); id != "" && id != info.StoreID {
		return res, fmt.Errorf("archive %s holds the events of store %q, not of this store %q: give each store its own --archive-dir; nothing archived or deleted",
			a.Dir(), id, info.StoreID)
	}
	head, err := live.HeadPosition(ctx)
	if err != nil {
		return res, fmt.Errorf("archive: head position: %w", err)
	}
	after := a.LastPosition()
	if after > 0 && !opts.DryRun {
		// A previous run archived these and may have stopped before
		// deleting them: delete them, once the live store's copy of the
		// last one is the archive's.
		if err := sameLast(ctx, s, after); err != nil {
			return res, err
		}
		if _, err := s.PruneThrough(ctx, after); err != nil {
			return res, fmt.Errorf("archive: delete the events archived before: %w", err)
		}
	}
	total := max(head-1-after, 0)
	for after < head-1 {
		evs, err := live.ReadAll(ctx, after, int(min(int64(per), head-1-after)))
		if err != nil {
			return res, fmt.Errorf("archive: read events after position %d: %w", after, err)
		}
		if len(evs) == 0 {
			break
		}
		if evs[0].Position != after+1 {
			return res, fmt.Errorf("archive: the live store continues at position %d, the archive ends at %d: position %d is in neither (run cspm events verify)",
				evs[0].Position, after, after+1)
		}
		n := 0
		for n < len(evs) && evs[n].RecordedAt.Before(opts.Cutoff) && evs[n].Position < head {
			n++
		}
		if n == 0 {
			break
		}
		seg := evs[:n]
		if res.FromPosition == 0 {
			res.FromPosition = seg[0].Position
		}
		res.ToPosition = seg[n-1].Position
		res.Events += int64(n)
		if !opts.DryRun {
			m, err := a.Write(ctx, info.StoreID, seg)
			if err != nil {
				return res, err
			}
			res.Segments++
			res.Bytes += m.Bytes
			d, err := s.PruneThrough(ctx, m.LastPosition)
			res.DeletedEvents += d
			if err != nil {
				return res, fmt.Errorf("archive: delete archived events through position %d: %w", m.LastPosition, err)
			}
		}
		after = seg[n-1].Position
		if opts.Progress != nil {
			opts.Progress(res.Events, total)
		}
		if n < len(evs) {
			break // an event at or after the cut-off ends the prefix
		}
	}
	return res, nil
}

// Events is the number of archived events.
func (a *Archive) Events() int64 {
	var n int64
	for _, m := range a.Segments() {
		n += m.Events
	}
	return n
}

// sameLast checks that the live store's event at the archive's last
// position, if it still holds it, is the archived one.
func sameLast(ctx context.Context, s *Store, last int64) error {
	evs, err := s.Store.ReadAll(ctx, last-1, 1)
	if err != nil {
		return fmt.Errorf("archive: read position %d: %w", last, err)
	}
	segs := s.a.Segments()
	if len(evs) == 0 || evs[0].Position != last || len(segs) == 0 {
		return nil // already deleted
	}
	if m := segs[len(segs)-1]; evs[0].Hash != m.LastHash || evs[0].LogHash != m.LastLogHash {
		return fmt.Errorf("archive: the live store's event at position %d is not the archive's (segment %d): nothing deleted (run cspm events verify)", last, m.Segment)
	}
	return nil
}
