package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// errStale aborts the transaction of a batch at or below the checkpoint.
var errStale = errors.New("stale batch")

// Commit applies a batch with the projection's checkpoint; see
// readmodel.Store and docs/read-model-store.md. In a transaction: all or
// nothing. With position guards: every write is conditional on the stored
// document's _pos being below the batch's checkpoint, the checkpoint is
// written last, so a retried or replayed batch converges.
func (s *Store) Commit(ctx context.Context, b readmodel.Batch) error {
	return unavailable(s.doCommit(ctx, b))
}

// doCommit is Commit before unavailable errors are marked.
func (s *Store) doCommit(ctx context.Context, b readmodel.Batch) error {
	nb, err := b.Normalize()
	if err != nil {
		return err
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	if s.txn {
		err = s.commitTxn(ctx, nb)
	} else {
		err = s.commitGuarded(ctx, nb)
	}
	if err != nil {
		return fmt.Errorf("commit %s@%d: %w", nb.Projection, nb.Checkpoint, err)
	}
	return nil
}

var txnOptions = options.Transaction().SetReadConcern(readconcern.Snapshot()).SetWriteConcern(writeconcern.Majority())

func (s *Store) commitTxn(ctx context.Context, b readmodel.Batch) error {
	sess, err := s.client.StartSession()
	if err != nil {
		return err
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	_, err = sess.WithTransaction(ctx, func(ctx context.Context) (any, error) {
		cur, err := s.readCheckpoint(ctx, b.Projection)
		if err != nil {
			return nil, err
		}
		if cur >= b.Checkpoint {
			return nil, errStale
		}
		for _, coll := range b.Collections() {
			models := WriteModels(b, coll, false)
			if _, err := s.db.Collection(coll).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(true)); err != nil {
				return nil, classify(err, coll)
			}
		}
		return nil, s.writeCheckpoint(ctx, b.Projection, b.Checkpoint, false)
	}, txnOptions)
	if errors.Is(err, errStale) {
		return nil
	}
	return err
}

func (s *Store) commitGuarded(ctx context.Context, b readmodel.Batch) error {
	cur, err := s.readCheckpoint(ctx, b.Projection)
	if err != nil {
		return err
	}
	if cur >= b.Checkpoint {
		return nil
	}
	for _, coll := range b.Collections() {
		_, err := s.db.Collection(coll).BulkWrite(ctx, WriteModels(b, coll, true), options.BulkWrite().SetOrdered(false))
		if err := guardResult(err, coll); err != nil {
			return err // the checkpoint stays: a retry re-applies what is missing
		}
	}
	return s.writeCheckpoint(ctx, b.Projection, b.Checkpoint, true)
}

// WriteModels are the writes of one collection of a normalized batch:
// deletes, then full-document upserts (so a batch may move a unique value
// from a deleted document to a new one). Guarded writes only touch a stored
// document whose _pos is below the batch's checkpoint (an upsert that
// finds a newer document fails on _id_ and is skipped).
func WriteModels(b readmodel.Batch, coll string, guarded bool) []mongo.WriteModel {
	models := make([]mongo.WriteModel, 0, len(b.Puts[coll])+len(b.Deletes[coll]))
	match := func(id string) bson.D {
		f := bson.D{{Key: "_id", Value: id}}
		if guarded {
			f = append(f, bson.E{Key: posField, Value: bson.D{{Key: "$lt", Value: b.Checkpoint}}})
		}
		return f
	}
	for _, id := range b.Deletes[coll] {
		models = append(models, mongo.NewDeleteOneModel().SetFilter(match(id)))
	}
	for _, d := range b.Puts[coll] {
		models = append(models, mongo.NewReplaceOneModel().SetFilter(match(d.ID())).
			SetReplacement(toBSON(d, b.Checkpoint)).SetUpsert(true))
	}
	return models
}

// writeCheckpoint sets a projection's checkpoint. Guarded, it only moves
// forward (a concurrent writer that got further wins); unguarded it is
// set as given (in a transaction, after the stale check; or by Swap).
func (s *Store) writeCheckpoint(ctx context.Context, projection string, pos int64, guarded bool) error {
	coll := s.db.Collection(checkpointsColl)
	if pos == 0 {
		_, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: projection}})
		return err
	}
	filter := bson.D{{Key: "_id", Value: projection}}
	if guarded {
		filter = append(filter, bson.E{Key: "pos", Value: bson.D{{Key: "$lt", Value: pos}}})
	}
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "pos", Value: pos}, {Key: "updated_at", Value: time.Now().UTC()}}}}
	_, err := coll.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	if guarded && mongo.IsDuplicateKeyError(err) {
		return nil // already at or past pos
	}
	if err != nil {
		return fmt.Errorf("write checkpoint of %s: %w", projection, err)
	}
	return nil
}
