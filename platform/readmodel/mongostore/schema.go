package mongostore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// EnsureCollection creates the collection and the declared indexes that
// are missing, and recreates those whose declaration changed. Undeclared
// indexes are left alone. Index builds are not transactional: a failure
// part-way leaves the indexes built so far, and a rerun converges.
func (s *Store) EnsureCollection(ctx context.Context, spec readmodel.CollectionSpec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := s.ensure(ctx, spec); err != nil {
		return fmt.Errorf("ensure collection %s: %w", spec.Name, err)
	}
	return nil
}

func (s *Store) ensure(ctx context.Context, spec readmodel.CollectionSpec) error {
	if err := s.db.CreateCollection(ctx, spec.Name); err != nil && !hasCode(err, codeNamespaceExists) {
		return err
	}
	coll := s.db.Collection(spec.Name)
	have, err := s.serverIndexes(ctx, coll)
	if err != nil {
		return err
	}
	var create []mongo.IndexModel
	overrides := s.ttlOverrides()
	for _, ix := range spec.Indexes {
		ix.TTL = serverTTL(overrides, spec.Name, ix)
		if cur, ok := have[ix.Name]; ok {
			if sameIndex(cur, ix, s.partial) {
				continue
			}
			if err := coll.Indexes().DropOne(ctx, ix.Name); err != nil {
				return fmt.Errorf("drop changed index %s: %w", ix.Name, err)
			}
		}
		create = append(create, indexModel(ix, s.partial))
	}
	if len(create) == 0 {
		return nil
	}
	if _, err := coll.Indexes().CreateMany(ctx, create); err != nil {
		return classify(err, spec.Name)
	}
	return nil
}

func (s *Store) serverIndexes(ctx context.Context, coll *mongo.Collection) (map[string]serverIndex, error) {
	cur, err := coll.Indexes().List(ctx)
	if err != nil {
		if hasCode(err, codeNamespaceNotFound) {
			return map[string]serverIndex{}, nil
		}
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	defer cur.Close(ctx)
	out := map[string]serverIndex{}
	for cur.Next(ctx) {
		var ix serverIndex
		if err := cur.Decode(&ix); err != nil {
			return nil, fmt.Errorf("list indexes: %w", err)
		}
		out[ix.Name] = ix
	}
	return out, cur.Err()
}

// ListIndexes returns a collection's declared indexes, sorted by name.
func (s *Store) ListIndexes(ctx context.Context, collection string) ([]readmodel.Index, error) {
	if err := readmodel.ValidateCollection(collection); err != nil {
		return nil, err
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	have, err := s.serverIndexes(ctx, s.db.Collection(collection))
	if err != nil {
		return nil, fmt.Errorf("indexes of %s: %w", collection, err)
	}
	var out []readmodel.Index
	for _, h := range have {
		if ix := declared(h); ix != nil {
			out = append(out, *ix)
		}
	}
	slices.SortFunc(out, func(a, b readmodel.Index) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DropCollection drops the collection and its indexes.
func (s *Store) DropCollection(ctx context.Context, collection string) error {
	if err := readmodel.ValidateCollection(collection); err != nil {
		return err
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := s.db.Collection(collection).Drop(ctx); err != nil {
		return fmt.Errorf("drop collection %s: %w", collection, err)
	}
	return nil
}

// RenameCollections renames each source over its target (renameCollection
// with dropTarget), one collection at a time: each rename is atomic, the
// set is not. See Swap.
func (s *Store) RenameCollections(ctx context.Context, renames map[string]string) error {
	return s.Swap(ctx, readmodel.SwapSpec{Renames: renames})
}

// Swap renames (in sorted order of the sources), then sets the
// checkpoints. A failure part-way leaves the renames done so far: rerun
// the rebuild's cut-over, or rebuild again.
func (s *Store) Swap(ctx context.Context, spec readmodel.SwapSpec) error {
	if err := readmodel.ValidateSwap(spec); err != nil {
		return err
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	for _, from := range readmodel.SortedRenames(spec.Renames) {
		to := spec.Renames[from]
		cmd := bson.D{
			{Key: "renameCollection", Value: s.name + "." + from},
			{Key: "to", Value: s.name + "." + to},
			{Key: "dropTarget", Value: true},
		}
		err := s.client.Database("admin").RunCommand(ctx, cmd).Err()
		if hasCode(err, codeNamespaceNotFound) {
			return fmt.Errorf("swap: rename %s: %w", from, readmodel.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("swap: rename %s to %s: %w", from, to, err)
		}
	}
	for p, pos := range spec.Checkpoints {
		if err := s.writeCheckpoint(ctx, p, pos, false); err != nil {
			return fmt.Errorf("swap: %w", err)
		}
	}
	return nil
}

// SweepExpired is a no-op: the server's TTL monitor deletes expired
// documents (about once a minute).
func (s *Store) SweepExpired(ctx context.Context, now time.Time) (int64, error) {
	return 0, s.checkOpen()
}

func (s *Store) ttlOverrides() map[readmodel.TTLKey]time.Duration {
	s.ttlMu.Lock()
	defer s.ttlMu.Unlock()
	return s.ttls
}

// serverTTL is the expireAfterSeconds (as a duration) an index gets on the
// server under the overrides: a keep (0) override becomes MaxTTL.
func serverTTL(overrides map[readmodel.TTLKey]time.Duration, collection string, ix readmodel.Index) time.Duration {
	d, keep := readmodel.EffectiveTTL(overrides, collection, ix)
	if keep {
		return readmodel.MaxTTL
	}
	return d
}

// SetTTLs replaces the TTL overrides (readmodel.TTLTuner; decision 101)
// and changes the server's TTL indexes to them in place (collMod with
// index.expireAfterSeconds; a 0 override becomes MaxTTL), in every
// collection whose live name is overridden, shadow collections included.
// EnsureCollection uses the overrides from then on. It returns how many
// indexes were changed.
func (s *Store) SetTTLs(ctx context.Context, ttls map[readmodel.TTLKey]time.Duration) (int, error) {
	if err := readmodel.ValidateTTLs(ttls); err != nil {
		return 0, err
	}
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	s.ttlMu.Lock()
	s.ttls = maps.Clone(ttls)
	s.ttlMu.Unlock()
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("set TTLs: list collections: %w", err)
	}
	slices.Sort(names)
	changed := 0
	for _, coll := range names {
		if readmodel.ValidateCollection(coll) != nil {
			continue // not a read-model collection (e.g. _checkpoints)
		}
		have, err := s.serverIndexes(ctx, s.db.Collection(coll))
		if err != nil {
			return changed, fmt.Errorf("set TTLs of %s: %w", coll, err)
		}
		for _, name := range slices.Sorted(maps.Keys(have)) {
			h := have[name]
			if h.ExpireAfterSeconds == nil {
				continue
			}
			cur := time.Duration(*h.ExpireAfterSeconds) * time.Second
			live, _ := readmodel.LiveName(coll)
			if _, ok := ttls[readmodel.TTLKey{Collection: live, Index: name}]; !ok {
				continue
			}
			want := serverTTL(ttls, coll, readmodel.Index{Name: name, TTL: cur})
			if want == cur {
				continue
			}
			cmd := bson.D{{Key: "collMod", Value: coll}, {Key: "index", Value: bson.D{
				{Key: "name", Value: name}, {Key: "expireAfterSeconds", Value: int64(want / time.Second)}}}}
			if err := s.db.RunCommand(ctx, cmd).Err(); err != nil {
				return changed, fmt.Errorf("set TTL of %s.%s to %v: %w", coll, name, want, err)
			}
			changed++
		}
	}
	return changed, nil
}
