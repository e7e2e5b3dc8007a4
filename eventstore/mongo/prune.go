package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The retention cycle's deletes (docs/archival.md): events already
// written to the archive, and idempotency records past their window.
// Stream heads stay: appends continue each stream's chain, and a reader
// through the archive (eventstore/archive.Store) finds the rest.

// PruneThrough deletes the sequenced events of positions 1..upTo, never
// the last one (readers and the head position continue from it), and
// returns how many it deleted. The caller archives them first.
func (s *Store) PruneThrough(ctx context.Context, upTo int64) (int64, error) {
	if s.opts.ReadOnly {
		return 0, fmt.Errorf("mongo event store: prune events: the store is open read-only")
	}
	head, err := s.maxPosition(ctx)
	if err != nil {
		return 0, unavailable(fmt.Errorf("mongo event store: prune events: %w", err))
	}
	if upTo >= head {
		return 0, fmt.Errorf("mongo event store: prune events through position %d: the store's last event (position %d) must stay", upTo, head)
	}
	res, err := s.events.DeleteMany(ctx, bson.D{{Key: "position", Value: bson.D{positioned, {Key: "$lte", Value: upTo}}}})
	if err != nil {
		return 0, unavailable(fmt.Errorf("mongo event store: prune events: %w", err))
	}
	return res.DeletedCount, nil
}

// PurgeIdempotency deletes the idempotency records created before the
// given time and returns how many: a retry with such a key appends again.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	if s.opts.ReadOnly {
		return 0, fmt.Errorf("mongo event store: purge idempotency records: the store is open read-only")
	}
	res, err := s.idem.DeleteMany(ctx, bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: before}}}})
	if err != nil {
		return 0, unavailable(fmt.Errorf("mongo event store: purge idempotency records: %w", err))
	}
	return res.DeletedCount, nil
}
