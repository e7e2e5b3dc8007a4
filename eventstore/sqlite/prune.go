package sqlite

import (
	"context"
	"fmt"
	"time"
)

// The retention cycle's deletes (docs/archival.md): events already
// written to the archive, and idempotency records past their window.
// Stream heads stay: appends continue each stream's chain, and a reader
// through the archive (eventstore/archive.Store) finds the rest.

// PruneThrough deletes the events of positions 1..upTo, never the last
// event (the writer continues positions and the global chain from it),
// and returns how many it deleted. The caller archives them first.
func (s *Store) PruneThrough(ctx context.Context, upTo int64) (int64, error) {
	if s.readOnly {
		return 0, fmt.Errorf("prune events: %w", ErrReadOnly)
	}
	var n int64
	err := s.write(ctx, "prune", func(ctx context.Context) (bool, error) {
		var head int64
		if err := s.wconn.QueryRowContext(ctx, "SELECT coalesce(max(position), 0) FROM events").Scan(&head); err != nil {
			return false, fmt.Errorf("prune events: %w", err)
		}
		if upTo >= head {
			return false, fmt.Errorf("prune events through position %d: the store's last event (position %d) must stay", upTo, head)
		}
		res, err := s.wconn.ExecContext(ctx, "DELETE FROM events WHERE position <= ?", upTo)
		if err != nil {
			return false, fmt.Errorf("prune events: %w", err)
		}
		n, err = res.RowsAffected()
		return n > 0, err
	})
	return n, err
}

// PurgeIdempotency deletes the idempotency records created before the
// given time and returns how many: a retry with such a key appends again.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	if s.readOnly {
		return 0, fmt.Errorf("purge idempotency records: %w", ErrReadOnly)
	}
	var n int64
	err := s.write(ctx, "idempotency purge", func(ctx context.Context) (bool, error) {
		res, err := s.wconn.ExecContext(ctx, "DELETE FROM idempotency WHERE created_at < ?", before.UnixMilli())
		if err != nil {
			return false, fmt.Errorf("purge idempotency records: %w", err)
		}
		n, err = res.RowsAffected()
		return n > 0, err
	})
	return n, err
}
