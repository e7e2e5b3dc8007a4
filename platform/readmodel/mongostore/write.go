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
// document's _pos being below the batch's checkpoint, each collection's
// deletes run before its puts, and the checkpoint is written last, so a
// retried or replayed batch converges.
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
	// Two unordered bulk writes per collection, the deletes first: the
	// driver runs an unordered bulk write as its inserts, then its updates
	// (replace-upserts), then its deletes, whatever the order of the
	// models, so one bulk write of deletes and puts would run the puts
	// first and fail a batch that hands a deleted document's unique value
	// to another document. Unordered, so that a guard skipping one stale
	// upsert does not stop the others; a collection costs at most two round
	// trips, whatever the size of the batch.
	unordered := options.BulkWrite().SetOrdered(false)
	for _, coll := range b.Collections() {
		for _, models := range [][]mongo.WriteModel{DeleteModels(b, coll, true), PutModels(b, coll, true)} {
			if len(models) == 0 {
				continue
			}
			_, err := s.db.Collection(coll).BulkWrite(ctx, models, unordered)
			if err := guardResult(err, coll); err != nil {
				return err // the checkpoint stays: a retry re-applies what is missing
			}
		}
	}
	return s.writeCheckpoint(ctx, b.Projection, b.Checkpoint, true)
}

// WriteModels are the writes of one collection of a normalized batch, for
// one ordered bulk write: its deletes, then its full-document upserts (so a
// batch may move a unique value from a deleted document to a new one).
func WriteModels(b readmodel.Batch, coll string, guarded bool) []mongo.WriteModel {
	return append(DeleteModels(b, coll, guarded), PutModels(b, coll, guarded)...)
}

// DeleteModels are the deletes of one collection of a normalized batch.
// Guarded, a delete only removes a stored document whose _pos is below the
// batch's checkpoint.
func DeleteModels(b readmodel.Batch, coll string, guarded bool) []mongo.WriteModel {
	ids := b.Deletes[coll]
	models := make([]mongo.WriteModel, 0, len(ids)+len(b.Puts[coll])) // room for WriteModels to append the puts
	for _, id := range ids {
		models = append(models, mongo.NewDeleteOneModel().SetFilter(writeFilter(b, id, guarded)))
	}
	return models
}

// PutModels are the full-document upserts of one collection of a
// normalized batch. Guarded, an upsert only replaces a stored document
// whose _pos is below the batch's checkpoint; one that finds a newer
// document fails on _id_ and is skipped (guardResult).
func PutModels(b readmodel.Batch, coll string, guarded bool) []mongo.WriteModel {
	docs := b.Puts[coll]
	models := make([]mongo.WriteModel, 0, len(docs))
	for _, d := range docs {
		models = append(models, mongo.NewReplaceOneModel().SetFilter(writeFilter(b, d.ID(), guarded)).
			SetReplacement(toBSON(d, b.Checkpoint)).SetUpsert(true))
	}
	return models
}

// writeFilter selects a document by _id; guarded, only if its _pos is below
// the batch's checkpoint.
func writeFilter(b readmodel.Batch, id string, guarded bool) bson.D {
	f := bson.D{{Key: "_id", Value: id}}
	if guarded {
		f = append(f, bson.E{Key: posField, Value: bson.D{{Key: "$lt", Value: b.Checkpoint}}})
	}
	return f
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
