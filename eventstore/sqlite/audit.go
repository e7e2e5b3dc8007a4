package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
)

// The audit side of the store (docs/tamper-evidence.md): its identity in
// audit_meta, the checkpoint history, the idempotency records for Verify,
// and the claim that binds a store to one audit key.

var _ eventstore.AuditStore = (*Store)(nil)

// AuditInfo implements eventstore.AuditStore.
func (s *Store) AuditInfo(ctx context.Context) (eventstore.AuditInfo, error) {
	rows, err := s.r.meta.QueryContext(ctx)
	if err != nil {
		return eventstore.AuditInfo{}, fmt.Errorf("audit info: %w", unavailable(err))
	}
	defer rows.Close()
	var info eventstore.AuditInfo
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return eventstore.AuditInfo{}, fmt.Errorf("audit info: %w", unavailable(err))
		}
		switch name {
		case "store_id":
			info.StoreID = value
		case "key_id":
			info.KeyID = value
		}
	}
	if err := rows.Err(); err != nil {
		return eventstore.AuditInfo{}, fmt.Errorf("audit info: %w", unavailable(err))
	}
	return info, nil
}

// ClaimAuditKey binds a store that records no key id yet to this Store's
// key, chaining the events and signing the idempotency records an older
// version stored, in one transaction. The first append does it too; a
// server calls it at start so that the work is not done by a request. It
// fails with eventstore.ErrAuditKeyMismatch when the store has another key.
func (s *Store) ClaimAuditKey(ctx context.Context) error {
	if s.keyErr != nil {
		return s.keyErr
	}
	// An empty write: the group claims before running it, and commits
	// when the claim wrote.
	return s.write(ctx, "audit key claim", func(context.Context) (bool, error) { return true, nil })
}

// claimTx runs inside the writer's transaction: it records the key id if
// none is, and chains what is not chained yet.
func (s *Store) claimTx(ctx context.Context) error {
	var keyID string
	err := s.wconn.QueryRowContext(ctx, "SELECT value FROM audit_meta WHERE name = 'key_id'").Scan(&keyID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("read audit key id: %w", err)
	case keyID == s.opts.AuditKey.ID():
		return nil
	default:
		return &eventstore.KeyMismatchError{StoreKeyID: keyID, GivenKeyID: s.opts.AuditKey.ID()}
	}
	if _, err := s.wconn.ExecContext(ctx, "INSERT INTO audit_meta (name, value) VALUES ('key_id', ?)", s.opts.AuditKey.ID()); err != nil {
		return fmt.Errorf("record audit key id: %w", err)
	}
	n, err := s.backfillLog(ctx)
	if err != nil {
		return err
	}
	m, err := s.backfillIdempotency(ctx)
	if err != nil {
		return err
	}
	if n > 0 || m > 0 {
		s.opts.Logger.Info("event store chained with the audit key", "key_id", s.opts.AuditKey.ID(), "events", n, "idempotency_records", m)
	}
	return nil
}

// backfillPage is how many rows one backfill query reads.
const backfillPage = 1000

// backfillLog gives every event without a log hash its link in the
// global chain, in position order. Log hashes already stored are kept
// (never rewritten): Verify judges them.
func (s *Store) backfillLog(ctx context.Context) (int, error) {
	h := s.opts.AuditKey.LogHasher()
	type link struct {
		position      int64
		hash, logHash string
	}
	var hash, logHash col
	var (
		after, done int
		prev        string
	)
	for {
		rows, err := s.wconn.QueryContext(ctx, "SELECT position, hash, log_hash FROM events WHERE position > ? ORDER BY position LIMIT ?", after, backfillPage)
		if err != nil {
			return done, fmt.Errorf("chain stored events: %w", err)
		}
		var page []link
		for rows.Next() {
			var l link
			if err := rows.Scan(&l.position, &hash, &logHash); err != nil {
				rows.Close()
				return done, fmt.Errorf("chain stored events: %w", err)
			}
			l.hash, l.logHash = hash.hash(), logHash.hash()
			page = append(page, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return done, fmt.Errorf("chain stored events: %w", err)
		}
		for _, l := range page {
			if l.logHash == "" {
				l.logHash = h.Next(prev, l.position, l.hash)
				if _, err := s.wconn.ExecContext(ctx, "UPDATE events SET log_hash = ? WHERE position = ?", hashValue(l.logHash, nil), l.position); err != nil {
					return done, fmt.Errorf("chain stored events: %w", err)
				}
				done++
			}
			prev = l.logHash
			after = int(l.position)
		}
		if len(page) < backfillPage {
			return done, nil
		}
	}
}

// backfillIdempotency signs the idempotency records stored without a MAC.
func (s *Store) backfillIdempotency(ctx context.Context) (int, error) {
	type rec struct{ key, fp, result string }
	var recs []rec
	rows, err := s.wconn.QueryContext(ctx, "SELECT key, fingerprint, result FROM idempotency WHERE mac = ''")
	if err != nil {
		return 0, fmt.Errorf("sign idempotency records: %w", err)
	}
	for rows.Next() {
		var r rec
		if err := rows.Scan(&r.key, &r.fp, &r.result); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sign idempotency records: %w", err)
		}
		recs = append(recs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sign idempotency records: %w", err)
	}
	for _, r := range recs {
		res, err := decodeResult([]byte(r.result))
		if err != nil {
			// Left unsigned: Verify reports it.
			s.opts.Logger.Warn("idempotency record not signed", "key", r.key, "err", err)
			continue
		}
		mac := eventstore.IdempotencyMAC(s.opts.AuditKey, r.key, r.fp, res)
		if _, err := s.wconn.ExecContext(ctx, "UPDATE idempotency SET mac = ? WHERE key = ?", mac, r.key); err != nil {
			return 0, fmt.Errorf("sign idempotency records: %w", err)
		}
	}
	return len(recs), nil
}

// SaveCheckpoint implements eventstore.AuditStore.
func (s *Store) SaveCheckpoint(ctx context.Context, c eventstore.Checkpoint) error {
	if s.keyErr != nil {
		return fmt.Errorf("save checkpoint: %w", s.keyErr)
	}
	return s.write(ctx, "checkpoint", func(ctx context.Context) (bool, error) {
		_, err := s.wconn.ExecContext(ctx, `INSERT OR IGNORE INTO checkpoints (position, taken_at, mac, store_id, log_hash, reason)
			VALUES (?,?,?,?,?,?)`, c.Position, c.TakenAt.UnixMilli(), c.MAC, c.StoreID, c.LogHash, c.Reason)
		if err != nil {
			return false, fmt.Errorf("save checkpoint: %w", err)
		}
		return true, nil
	})
}

// Checkpoints implements eventstore.AuditStore; limit <= 0 means no limit.
func (s *Store) Checkpoints(ctx context.Context, after eventstore.Checkpoint, limit int) ([]eventstore.Checkpoint, error) {
	pos, at := after.Position, after.TakenAt.UnixMilli()
	if after == (eventstore.Checkpoint{}) {
		pos = -1
	}
	lim := int64(limit)
	if limit <= 0 {
		lim = -1
	}
	rows, err := s.r.checkpoints.QueryContext(ctx, pos, at, after.MAC, lim)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", unavailable(err))
	}
	defer rows.Close()
	var out []eventstore.Checkpoint
	for rows.Next() {
		var c eventstore.Checkpoint
		var takenAt int64
		if err := rows.Scan(&c.StoreID, &c.Position, &c.LogHash, &takenAt, &c.Reason, &c.MAC); err != nil {
			return nil, fmt.Errorf("read checkpoints: %w", unavailable(err))
		}
		c.TakenAt = time.UnixMilli(takenAt).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", unavailable(err))
	}
	return out, nil
}

// IdempotencyRecords implements eventstore.AuditStore; limit <= 0 means no
// limit. A stored result that does not decode is returned empty (Verify
// reports it as malformed).
func (s *Store) IdempotencyRecords(ctx context.Context, afterKey string, limit int) ([]eventstore.IdempotencyRecord, error) {
	lim := int64(limit)
	if limit <= 0 {
		lim = -1
	}
	rows, err := s.r.idemList.QueryContext(ctx, afterKey, lim)
	if err != nil {
		return nil, fmt.Errorf("read idempotency records: %w", unavailable(err))
	}
	defer rows.Close()
	var out []eventstore.IdempotencyRecord
	for rows.Next() {
		var r eventstore.IdempotencyRecord
		var stored string
		if err := rows.Scan(&r.Key, &r.Fingerprint, &stored, &r.MAC); err != nil {
			return nil, fmt.Errorf("read idempotency records: %w", unavailable(err))
		}
		r.Result, _ = decodeResult([]byte(stored))
		if r.Result.Positions == nil {
			r.Result.Positions = []int64{} // the store keeps positions: none is a mismatch, not "not kept"
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read idempotency records: %w", unavailable(err))
	}
	return out, nil
}
