package mongostore

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

var withoutPos = bson.D{{Key: posField, Value: 0}}

// Get returns one document by _id.
func (s *Store) Get(ctx context.Context, collection, id string) (readmodel.Doc, error) {
	r0, err := s.doGet(ctx, collection, id)
	return r0, unavailable(err)
}

// doGet is Get before unavailable errors are marked.
func (s *Store) doGet(ctx context.Context, collection, id string) (readmodel.Doc, error) {
	if err := readmodel.ValidateCollection(collection); err != nil {
		return nil, err
	}
	if id == "" {
		return nil, readmodel.Invalidf("empty _id")
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	raw, err := s.db.Collection(collection).FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(withoutPos)).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("get %s/%s: %w", collection, id, readmodel.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", collection, id, err)
	}
	return fromBSON(raw)
}

// GetMany returns the documents of ids that exist; see readmodel.Store.
func (s *Store) GetMany(ctx context.Context, collection string, ids []string) (map[string]readmodel.Doc, error) {
	r0, err := s.doGetMany(ctx, collection, ids)
	return r0, unavailable(err)
}

// doGetMany is GetMany before unavailable errors are marked: one find
// with $in per chunk of ids.
func (s *Store) doGetMany(ctx context.Context, collection string, ids []string) (map[string]readmodel.Doc, error) {
	if err := readmodel.ValidateCollection(collection); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if id == "" {
			return nil, readmodel.Invalidf("empty _id")
		}
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	out := make(map[string]readmodel.Doc, len(ids))
	const chunk = 1000
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		cur, err := s.db.Collection(collection).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: part}}}},
			options.Find().SetProjection(withoutPos))
		if err != nil {
			return nil, fmt.Errorf("get %d documents of %s: %w", len(ids), collection, err)
		}
		for cur.Next(ctx) {
			d, err := fromBSON(cur.Current)
			if err != nil {
				_ = cur.Close(ctx)
				return nil, fmt.Errorf("get %d documents of %s: %w", len(ids), collection, err)
			}
			out[d.ID()] = d
		}
		err = cur.Err()
		_ = cur.Close(ctx)
		if err != nil {
			return nil, fmt.Errorf("get %d documents of %s: %w", len(ids), collection, err)
		}
	}
	return out, nil
}

// Find returns one page; see readmodel.Store.
func (s *Store) Find(ctx context.Context, collection string, opts readmodel.FindOptions) (readmodel.Page, error) {
	r0, err := s.doFind(ctx, collection, opts)
	return r0, unavailable(err)
}

// doFind is Find before unavailable errors are marked.
func (s *Store) doFind(ctx context.Context, collection string, opts readmodel.FindOptions) (readmodel.Page, error) {
	plan, err := readmodel.FindArgs(collection, opts)
	if err != nil {
		return readmodel.Page{}, err
	}
	if err := s.checkOpen(); err != nil {
		return readmodel.Page{}, err
	}
	cur, err := s.db.Collection(collection).Find(ctx, FindFilter(plan), options.Find().
		SetSort(SortBSON(plan.Sort)).SetLimit(int64(plan.Limit+1)).SetProjection(withoutPos))
	if err != nil {
		return readmodel.Page{}, fmt.Errorf("find in %s: %w", collection, err)
	}
	defer cur.Close(ctx)
	var docs []readmodel.Doc
	for cur.Next(ctx) {
		d, err := fromBSON(cur.Current)
		if err != nil {
			return readmodel.Page{}, fmt.Errorf("find in %s: %w", collection, err)
		}
		docs = append(docs, d)
	}
	if err := cur.Err(); err != nil {
		return readmodel.Page{}, fmt.Errorf("find in %s: %w", collection, err)
	}
	page := readmodel.Page{Docs: docs}
	if len(docs) > plan.Limit {
		page.Docs = docs[:plan.Limit]
		if page.NextCursor, err = plan.NextCursor(page.Docs[plan.Limit-1]); err != nil {
			return readmodel.Page{}, err
		}
	}
	return page, nil
}

// Count returns how many documents match f.
func (s *Store) Count(ctx context.Context, collection string, f readmodel.Filter) (int64, error) {
	r0, err := s.doCount(ctx, collection, f)
	return r0, unavailable(err)
}

// doCount is Count before unavailable errors are marked.
func (s *Store) doCount(ctx context.Context, collection string, f readmodel.Filter) (int64, error) {
	nf, err := readmodel.CountArgs(collection, f)
	if err != nil {
		return 0, err
	}
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	n, err := s.db.Collection(collection).CountDocuments(ctx, FilterBSON(nf))
	if err != nil {
		return 0, fmt.Errorf("count in %s: %w", collection, err)
	}
	return n, nil
}

// CountBy counts the documents matching f grouped by field.
func (s *Store) CountBy(ctx context.Context, collection string, f readmodel.Filter, field string) (map[string]int64, error) {
	r0, err := s.doCountBy(ctx, collection, f, field)
	return r0, unavailable(err)
}

// doCountBy is CountBy before unavailable errors are marked.
func (s *Store) doCountBy(ctx context.Context, collection string, f readmodel.Filter, field string) (map[string]int64, error) {
	nf, err := readmodel.CountByArgs(collection, f, field)
	if err != nil {
		return nil, err
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	cur, err := s.db.Collection(collection).Aggregate(ctx, CountByPipeline(nf, field))
	if err != nil {
		return nil, fmt.Errorf("count by %s in %s: %w", field, collection, err)
	}
	defer cur.Close(ctx)
	out := map[string]int64{}
	for cur.Next(ctx) {
		key, err := fromRawValue(cur.Current.Lookup("_id"))
		if err != nil {
			return nil, fmt.Errorf("count by %s in %s: %w", field, collection, err)
		}
		n, ok := cur.Current.Lookup("n").AsInt64OK()
		if !ok {
			return nil, fmt.Errorf("count by %s in %s: count is not an integer", field, collection)
		}
		out[readmodel.GroupKey(key)] += n
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("count by %s in %s: %w", field, collection, err)
	}
	return out, nil
}

// Checkpoint returns the projection's checkpoint (0 when none).
func (s *Store) Checkpoint(ctx context.Context, projection string) (int64, error) {
	r0, err := s.doCheckpoint(ctx, projection)
	return r0, unavailable(err)
}

// doCheckpoint is Checkpoint before unavailable errors are marked.
func (s *Store) doCheckpoint(ctx context.Context, projection string) (int64, error) {
	if err := readmodel.ValidateProjection(projection); err != nil {
		return 0, err
	}
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	pos, err := s.readCheckpoint(ctx, projection)
	if err != nil {
		return 0, fmt.Errorf("checkpoint of %s: %w", projection, err)
	}
	return pos, nil
}

// readCheckpoint reads a checkpoint (inside a transaction when ctx carries
// a session).
func (s *Store) readCheckpoint(ctx context.Context, projection string) (int64, error) {
	var cp struct {
		Pos int64 `bson:"pos"`
	}
	err := s.db.Collection(checkpointsColl).FindOne(ctx, bson.D{{Key: "_id", Value: projection}}).Decode(&cp)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	return cp.Pos, err
}
