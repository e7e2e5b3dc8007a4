package archive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
)

// Store reads the archive and the live store as one log: the one reader
// every tool uses (decision 90). Appends, stream heads and waits go to the
// live store; ReadAll and ReadStream fill in from the archive what the
// live store no longer holds. It consults the archive only when the live
// store's answer starts later than asked (a prefix was archived), so a
// store that never archived pays nothing but, for a stream read that
// finds no events, one stat of the archive directory.
//
// The live store keeps every stream head (only events leave it), so
// appends to a stream with archived events continue its chain, and
// aggregates load their full history from ReadStream: the archive's
// manifests are the stream summary (which segments hold which versions of
// which stream); no snapshot is needed.
type Store struct {
	eventstore.Store
	a *Archive
}

// Through returns live read through a.
func Through(live eventstore.Store, a *Archive) *Store { return &Store{Store: live, a: a} }

// Live is the live store.
func (s *Store) Live() eventstore.Store { return s.Store }

// Archive is the archive.
func (s *Store) Archive() *Archive { return s.a }

var (
	_ eventstore.Store          = (*Store)(nil)
	_ eventstore.AuditStore     = (*Store)(nil)
	_ eventstore.ArchiveChecker = (*Store)(nil)
)

// CheckArchive implements eventstore.ArchiveChecker (Archive.Check).
func (s *Store) CheckArchive(ctx context.Context) (string, int64, error) {
	p, n, err := s.a.Check(ctx)
	if err != nil || p == nil {
		return "", n, err
	}
	return p.String(), n, nil
}

// ReadAll implements eventstore.Store. Positions up to the archive's last
// come from the archive, the rest from the live store. When the live
// store's answer starts past after+1 (another process archived meanwhile),
// the archive is reloaded and the read done again.
func (s *Store) ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.RecordedEvent, error) {
	for attempt := 0; ; attempt++ {
		if err := s.a.Refresh(); err != nil {
			return nil, err
		}
		archived := s.a.LastPosition()
		if after >= archived {
			live, err := s.Store.ReadAll(ctx, after, limit)
			if err != nil || attempt > 0 || len(live) == 0 || live[0].Position == after+1 {
				return live, err
			}
			s.a.forget()
			continue
		}
		return s.readArchived(ctx, after, limit, archived)
	}
}

// readArchived reads after a position the archive holds, then the live
// store after the archive's last position.
func (s *Store) readArchived(ctx context.Context, after int64, limit int, archived int64) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	for _, m := range s.a.Segments() {
		if m.LastPosition <= after {
			continue
		}
		evs, err := s.a.ReadSegment(m)
		if err != nil {
			return nil, err
		}
		// A segment's positions are dense from m.FirstPosition.
		for _, e := range evs[max(after+1-m.FirstPosition, 0):] {
			if limit > 0 && len(out) >= limit {
				return out, nil
			}
			out = append(out, e)
		}
	}
	if limit > 0 && len(out) >= limit {
		return out, nil
	}
	rest := 0
	if limit > 0 {
		rest = limit - len(out)
	}
	live, err := s.Store.ReadAll(ctx, archived, rest)
	if err != nil {
		return nil, err
	}
	return append(out, live...), nil
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, streamID string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error) {
	live, err := s.Store.ReadStream(ctx, streamID, opts)
	from := max(opts.FromVersion, 1)
	if err != nil || (len(live) > 0 && live[0].Version == from) {
		return live, err
	}
	if err := s.a.Refresh(); err != nil {
		return nil, err
	}
	upTo := opts.ToVersion // the last version to take from the archive
	if len(live) > 0 {
		upTo = live[0].Version - 1
	}
	var out []eventstore.RecordedEvent
	for _, m := range s.a.Segments() {
		r, ok := m.Streams[streamID]
		if !ok || r.Last < from || (upTo > 0 && r.First > upTo) {
			continue
		}
		evs, err := s.a.ReadSegment(m)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if e.StreamID != streamID || e.Version < from || (upTo > 0 && e.Version > upTo) ||
				(!opts.Until.IsZero() && e.RecordedAt.After(opts.Until)) {
				continue
			}
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return live, nil
	}
	return append(out, live...), nil
}

// HeadPosition implements eventstore.Store. The live store always keeps
// its last event (Run never archives the head), so its head is the log's.
func (s *Store) HeadPosition(ctx context.Context) (int64, error) {
	h, err := s.Store.HeadPosition(ctx)
	if err != nil || h > 0 {
		return h, err
	}
	if err := s.a.Refresh(); err != nil {
		return 0, err
	}
	return s.a.LastPosition(), nil
}

// errNoAudit is returned by the audit methods over a store without them.
var errNoAudit = errors.New("the live event store keeps no audit metadata")

func (s *Store) audit() (eventstore.AuditStore, error) {
	as, ok := s.Store.(eventstore.AuditStore)
	if !ok {
		return nil, fmt.Errorf("%T: %w", s.Store, errNoAudit)
	}
	return as, nil
}

// AuditInfo implements eventstore.AuditStore (the live store's).
func (s *Store) AuditInfo(ctx context.Context) (eventstore.AuditInfo, error) {
	as, err := s.audit()
	if err != nil {
		return eventstore.AuditInfo{}, err
	}
	return as.AuditInfo(ctx)
}

// SaveCheckpoint implements eventstore.AuditStore.
func (s *Store) SaveCheckpoint(ctx context.Context, c eventstore.Checkpoint) error {
	as, err := s.audit()
	if err != nil {
		return err
	}
	return as.SaveCheckpoint(ctx, c)
}

// Checkpoints implements eventstore.AuditStore.
func (s *Store) Checkpoints(ctx context.Context, after eventstore.Checkpoint, limit int) ([]eventstore.Checkpoint, error) {
	as, err := s.audit()
	if err != nil {
		return nil, err
	}
	return as.Checkpoints(ctx, after, limit)
}

// IdempotencyRecords implements eventstore.AuditStore.
func (s *Store) IdempotencyRecords(ctx context.Context, afterKey string, limit int) ([]eventstore.IdempotencyRecord, error) {
	as, err := s.audit()
	if err != nil {
		return nil, err
	}
	return as.IdempotencyRecords(ctx, afterKey, limit)
}

// ClaimAuditKey passes the live store's claim through (a no-op for a
// store that has none).
func (s *Store) ClaimAuditKey(ctx context.Context) error {
	if c, ok := s.Store.(interface{ ClaimAuditKey(context.Context) error }); ok {
		return c.ClaimAuditKey(ctx)
	}
	return nil
}

// Pruner is what a live store does for the retention cycle: delete the
// events of positions 1..upTo (archived first; never the head event, so
// the store keeps assigning positions after it) and the idempotency
// records created before a time. Both adapters implement it.
type Pruner interface {
	PruneThrough(ctx context.Context, upTo int64) (int64, error)
	PurgeIdempotency(ctx context.Context, before time.Time) (int64, error)
}

// PruneThrough passes through to the live store.
func (s *Store) PruneThrough(ctx context.Context, upTo int64) (int64, error) {
	p, ok := s.Store.(Pruner)
	if !ok {
		return 0, fmt.Errorf("%T cannot delete archived events", s.Store)
	}
	return p.PruneThrough(ctx, upTo)
}

// PurgeIdempotency passes through to the live store.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	p, ok := s.Store.(Pruner)
	if !ok {
		return 0, fmt.Errorf("%T cannot purge idempotency records", s.Store)
	}
	return p.PurgeIdempotency(ctx, before)
}
