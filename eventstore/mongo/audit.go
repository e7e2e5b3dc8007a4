package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cspm-es/cspm-es/eventstore"
)

// The audit side of the store (docs/tamper-evidence.md): its identity in
// audit_meta, the checkpoint history, the idempotency records for Verify,
// and the claim that binds a store to one audit key. The global chain
// itself is assigned by the sequencer (sequencer.go).

var _ eventstore.AuditStore = (*Store)(nil)

// AuditInfo implements eventstore.AuditStore.
func (s *Store) AuditInfo(ctx context.Context) (eventstore.AuditInfo, error) {
	var d auditMetaDoc
	err := s.meta.FindOne(ctx, bson.D{{Key: "_id", Value: auditMetaID}}).Decode(&d)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return eventstore.AuditInfo{}, unavailable(fmt.Errorf("mongo event store: audit info: %w", err))
	}
	return eventstore.AuditInfo{StoreID: d.StoreID, KeyID: d.KeyID}, nil
}

// keyMismatch is the error of a Store whose key is not the store's, if so.
func (s *Store) keyMismatch() error {
	if e := s.keyErr.Load(); e != nil {
		return e
	}
	return nil
}

// ClaimAuditKey binds a store that records no key id yet to this Store's
// key. The sequencer leader then chains the events and signs the
// idempotency records an older version stored. It fails with
// eventstore.ErrAuditKeyMismatch when the store has another key.
func (s *Store) ClaimAuditKey(ctx context.Context) error {
	if s.opts.ReadOnly {
		return errors.New("mongo event store: read-only: cannot claim the audit key")
	}
	if err := s.keyMismatch(); err != nil {
		return err
	}
	return s.claimKey(ctx)
}

// claimKey records this Store's key id if the store has none, then checks
// the recorded one.
func (s *Store) claimKey(ctx context.Context) error {
	id := s.opts.AuditKey.ID()
	_, err := s.meta.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: auditMetaID}, {Key: "key_id", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "key_id", Value: id}}}})
	if err != nil {
		return unavailable(fmt.Errorf("mongo event store: claim the audit key: %w", err))
	}
	info, err := s.AuditInfo(ctx)
	if err != nil {
		return err
	}
	switch info.KeyID {
	case id:
		return nil
	case "":
		return errors.New("mongo event store: claim the audit key: no audit metadata document (EnsureIndexes not run?)")
	default:
		e := &eventstore.KeyMismatchError{StoreKeyID: info.KeyID, GivenKeyID: id}
		s.keyErr.Store(e)
		return e
	}
}

// SaveCheckpoint implements eventstore.AuditStore.
func (s *Store) SaveCheckpoint(ctx context.Context, c eventstore.Checkpoint) error {
	if err := s.keyMismatch(); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	_, err := s.checkpoints.InsertOne(ctx, checkpointDoc{MAC: c.MAC, StoreID: c.StoreID, Position: c.Position,
		LogHash: c.LogHash, TakenAt: eventstore.NormalizeTime(c.TakenAt), Reason: c.Reason})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return unavailable(fmt.Errorf("mongo event store: save checkpoint: %w", err))
	}
	return nil
}

// checkpointsAfter is the filter of the checkpoints ordered after c by
// (position, taken_at, _id).
func checkpointsAfter(c eventstore.Checkpoint) bson.D {
	if c == (eventstore.Checkpoint{}) {
		return bson.D{}
	}
	at := eventstore.NormalizeTime(c.TakenAt)
	return bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "position", Value: bson.D{{Key: "$gt", Value: c.Position}}}},
		bson.D{{Key: "position", Value: c.Position}, {Key: "taken_at", Value: bson.D{{Key: "$gt", Value: at}}}},
		bson.D{{Key: "position", Value: c.Position}, {Key: "taken_at", Value: at}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: c.MAC}}}},
	}}}
}

// Checkpoints implements eventstore.AuditStore; limit <= 0 means no limit.
func (s *Store) Checkpoints(ctx context.Context, after eventstore.Checkpoint, limit int) ([]eventstore.Checkpoint, error) {
	opts := options.Find().SetSort(bson.D{{Key: "position", Value: 1}, {Key: "taken_at", Value: 1}, {Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := s.checkpoints.Find(ctx, checkpointsAfter(after), opts)
	if err != nil {
		return nil, unavailable(fmt.Errorf("mongo event store: read checkpoints: %w", err))
	}
	var docs []checkpointDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, unavailable(fmt.Errorf("mongo event store: read checkpoints: %w", err))
	}
	out := make([]eventstore.Checkpoint, len(docs))
	for i, d := range docs {
		out[i] = d.checkpoint()
	}
	return out, nil
}

// IdempotencyRecords implements eventstore.AuditStore; limit <= 0 means no
// limit. Positions are not stored here (nil): Verify reads them from the
// events.
func (s *Store) IdempotencyRecords(ctx context.Context, afterKey string, limit int) ([]eventstore.IdempotencyRecord, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := s.idem.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: afterKey}}}}, opts)
	if err != nil {
		return nil, unavailable(fmt.Errorf("mongo event store: read idempotency records: %w", err))
	}
	var docs []idempotencyDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, unavailable(fmt.Errorf("mongo event store: read idempotency records: %w", err))
	}
	out := make([]eventstore.IdempotencyRecord, len(docs))
	for i, d := range docs {
		out[i] = eventstore.IdempotencyRecord{Key: d.Key, Fingerprint: d.Fingerprint, Result: d.result(nil), MAC: d.MAC}
	}
	return out, nil
}

// signIdempotency gives the records stored before MACs existed theirs
// (run once by a sequencer leader after it claimed the store).
func (s *Store) signIdempotency(ctx context.Context) (int, error) {
	cur, err := s.idem.Find(ctx, bson.D{{Key: "mac", Value: bson.D{{Key: "$exists", Value: false}}}})
	if err != nil {
		return 0, fmt.Errorf("sign idempotency records: %w", err)
	}
	var docs []idempotencyDoc
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fmt.Errorf("sign idempotency records: %w", err)
	}
	for _, d := range docs {
		mac := eventstore.IdempotencyMAC(s.opts.AuditKey, d.Key, d.Fingerprint, d.result(nil))
		_, err := s.idem.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.Key}, {Key: "mac", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "mac", Value: mac}}}})
		if err != nil {
			return 0, fmt.Errorf("sign idempotency records: %w", err)
		}
	}
	return len(docs), nil
}
