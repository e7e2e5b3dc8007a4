package readmodel

import (
	"context"
	"maps"
	"slices"
	"time"
)

// Store is one module database. Implementations are safe for concurrent
// use. Collection names are validated with ValidateCollection; a collection
// that was never written reads as empty (Get: ErrNotFound).
type Store interface {
	// Get returns the document with that _id, or ErrNotFound.
	Get(ctx context.Context, collection, id string) (Doc, error)
	// GetMany returns the documents of ids that exist, by _id, in one read
	// where the backend can (a collection never written holds none). The
	// projections' runtime reads a run's documents with it before applying
	// the run (projections.Prefetcher).
	GetMany(ctx context.Context, collection string, ids []string) (map[string]Doc, error)
	// Find returns one page of the documents matching opts.Filter, in
	// opts.Sort order, after opts.Cursor (keyset pagination).
	Find(ctx context.Context, collection string, opts FindOptions) (Page, error)
	// Count returns how many documents match f.
	Count(ctx context.Context, collection string, f Filter) (int64, error)
	// CountBy counts the documents matching f grouped by the value at field
	// (keys as GroupKey renders them; missing or null counts under "").
	CountBy(ctx context.Context, collection string, f Filter, field string) (map[string]int64, error)
	// EnsureCollection creates the collection and its indexes if missing;
	// an index whose definition changed is recreated; undeclared indexes
	// are left alone. Idempotent.
	EnsureCollection(ctx context.Context, spec CollectionSpec) error
	// Checkpoint returns the projection's checkpoint, 0 when none.
	Checkpoint(ctx context.Context, projection string) (int64, error)
	// Commit applies a batch atomically with the projection's checkpoint
	// (see Batch). A batch whose Checkpoint is not above the stored one is
	// a no-op.
	Commit(ctx context.Context, b Batch) error
	// DropCollection removes a collection and its indexes (no error if it
	// does not exist).
	DropCollection(ctx context.Context, collection string) error
	// RenameCollections renames each key to its value, replacing the
	// target (its documents and indexes); the renamed collection keeps its
	// own indexes. Every source must exist (else ErrNotFound); no name may
	// be both a source and a target. Atomic on SQLite (one transaction);
	// per collection on MongoDB.
	RenameCollections(ctx context.Context, renames map[string]string) error
	// SweepExpired deletes the documents whose TTL has passed at now and
	// returns how many. SQLite runs it; MongoDB's server expires documents
	// itself, so there it is a no-op returning 0.
	SweepExpired(ctx context.Context, now time.Time) (int64, error)
	// Close releases the store's resources.
	Close() error
}

// CollectionSpec declares a collection and its indexes.
type CollectionSpec struct {
	Name    string
	Indexes []Index
	// SmallDocs says the collection's documents stay well under 1 KB
	// encoded (many small documents, one per finding say). The SQLite
	// store then keeps the table clustered on _id (WITHOUT ROWID), which
	// stores each id once instead of twice; a larger document still
	// works there but takes an overflow page (decision 108). MongoDB
	// ignores it.
	SmallDocs bool
}

// Index declares one index over one or more dotted paths (never _id, which
// is always indexed). Non-unique, non-TTL indexes get _id appended as a
// last key (in the direction of the last field) on every backend, so sorted
// pages walk the index. Unique indexes ignore documents that lack any of
// their fields.
type Index struct {
	Name   string // [a-z][a-z0-9_]*, unique within the collection
	Fields []IndexField
	Unique bool
	// TTL expires a document TTL after the time in its (single) field.
	// Whole seconds, at least one. Documents whose field is missing or not
	// a time never expire.
	TTL time.Duration
	// Partial, one of Fields' paths, makes the index hold only the
	// documents where that field is present (on SQLite: present and not
	// null; leave optional fields out rather than set them to null): for
	// a flag stored only when set, the index then costs nothing for the
	// documents without it. A query can use the index only when it
	// filters that field by equality, In or a range (which a missing
	// field never matches); any other query gives the same answer without
	// it. On MongoDB it is a partialFilterExpression {path: {$exists:
	// true}} (decision 109).
	Partial string
}

// IndexField is one key of an index.
type IndexField struct {
	Path string
	Desc bool
}

// Index limits.
const (
	MaxIndexes     = 32
	MaxIndexFields = 16
)

// Validate checks the spec. Errors wrap ErrInvalid.
func (s CollectionSpec) Validate() error {
	if err := ValidateCollection(s.Name); err != nil {
		return err
	}
	if len(s.Indexes) > MaxIndexes {
		return Invalidf("collection %s: more than %d indexes", s.Name, MaxIndexes)
	}
	names := make(map[string]bool, len(s.Indexes))
	for _, ix := range s.Indexes {
		if err := ix.Validate(); err != nil {
			return Invalidf("collection %s: %v", s.Name, err)
		}
		if names[ix.Name] {
			return Invalidf("collection %s: index %s declared twice", s.Name, ix.Name)
		}
		names[ix.Name] = true
	}
	return nil
}

// Validate checks one index declaration.
func (ix Index) Validate() error {
	if err := ValidateIndexName(ix.Name); err != nil {
		return err
	}
	if len(ix.Fields) == 0 || len(ix.Fields) > MaxIndexFields {
		return Invalidf("index %s: want 1 to %d fields", ix.Name, MaxIndexFields)
	}
	paths := make(map[string]bool, len(ix.Fields))
	for _, f := range ix.Fields {
		if err := ValidatePath(f.Path); err != nil {
			return Invalidf("index %s: %v", ix.Name, err)
		}
		if f.Path == IDField {
			return Invalidf("index %s: _id is always indexed (and appended to non-unique indexes); do not declare it", ix.Name)
		}
		if paths[f.Path] {
			return Invalidf("index %s: field %s given twice", ix.Name, f.Path)
		}
		paths[f.Path] = true
	}
	if ix.Partial != "" && !paths[ix.Partial] {
		return Invalidf("index %s: partial on %s, which is not one of its fields", ix.Name, ix.Partial)
	}
	if ix.Partial != "" && ix.Unique {
		return Invalidf("index %s: a unique index is already partial on all its fields", ix.Name)
	}
	if ix.TTL != 0 {
		if len(ix.Fields) != 1 {
			return Invalidf("index %s: a TTL index has exactly one (time) field", ix.Name)
		}
		if ix.TTL < time.Second || ix.TTL%time.Second != 0 || ix.TTL/time.Second > 1<<31-1 {
			return Invalidf("index %s: TTL %v: want whole seconds, at least 1s", ix.Name, ix.TTL)
		}
	}
	return nil
}

// KeyFields returns the keys an index is built on: its fields, plus _id
// (in the direction of the last field) for a non-unique, non-TTL index.
func (ix Index) KeyFields() []IndexField {
	keys := append([]IndexField(nil), ix.Fields...)
	if last := keys[len(keys)-1]; !ix.Unique && ix.TTL == 0 {
		keys = append(keys, IndexField{Path: IDField, Desc: last.Desc})
	}
	return keys
}

// Batch is one unit of work of a projection: full-document upserts and
// deletes by _id, per collection, and the checkpoint (the position of the
// last event the batch covers). An _id may not be both put and deleted in
// one collection; a repeated put of the same _id keeps the last one.
type Batch struct {
	Projection string
	Checkpoint int64 // > 0
	Puts       map[string][]Doc
	Deletes    map[string][]string
	// Normalized says that every doc of Puts is already NormalizeDoc's
	// output (a projection's Tx normalizes each doc as it is put), so
	// Normalize does not normalize it a second time.
	Normalized bool
}

// Normalize validates b and returns a copy with canonical documents, one
// put per _id (the last) and deletes deduplicated. Errors wrap ErrInvalid.
func (b Batch) Normalize() (Batch, error) {
	if err := ValidateProjection(b.Projection); err != nil {
		return Batch{}, err
	}
	if b.Checkpoint <= 0 {
		return Batch{}, Invalidf("batch of %s: checkpoint %d: want > 0", b.Projection, b.Checkpoint)
	}
	out := Batch{Projection: b.Projection, Checkpoint: b.Checkpoint, Normalized: true,
		Puts: make(map[string][]Doc, len(b.Puts)), Deletes: make(map[string][]string, len(b.Deletes))}
	for coll, docs := range b.Puts {
		if err := ValidateCollection(coll); err != nil {
			return Batch{}, err
		}
		at := make(map[string]int, len(docs))
		var norm []Doc
		for _, d := range docs {
			nd := d
			if !b.Normalized {
				var err error
				if nd, err = NormalizeDoc(d); err != nil {
					return Batch{}, Invalidf("put into %s: %v", coll, err)
				}
			}
			if i, dup := at[nd.ID()]; dup {
				norm[i] = nd
				continue
			}
			at[nd.ID()] = len(norm)
			norm = append(norm, nd)
		}
		if len(norm) > 0 {
			out.Puts[coll] = norm
		}
	}
	for coll, ids := range b.Deletes {
		if err := ValidateCollection(coll); err != nil {
			return Batch{}, err
		}
		seen := make(map[string]bool, len(ids))
		var keep []string
		for _, id := range ids {
			if id == "" || len(id) > MaxIDLen {
				return Batch{}, Invalidf("delete from %s: _id %q: want 1 to %d bytes", coll, id, MaxIDLen)
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			keep = append(keep, id)
		}
		for _, d := range out.Puts[coll] {
			if seen[d.ID()] {
				return Batch{}, Invalidf("batch of %s: %s/%s is both put and deleted", b.Projection, coll, d.ID())
			}
		}
		if len(keep) > 0 {
			out.Deletes[coll] = keep
		}
	}
	return out, nil
}

// Collections returns the collections a (normalized) batch writes, sorted.
func (b Batch) Collections() []string {
	set := make(map[string]bool, len(b.Puts)+len(b.Deletes))
	for c := range b.Puts {
		set[c] = true
	}
	for c := range b.Deletes {
		set[c] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// ValidateRenames checks a RenameCollections map. Errors wrap ErrInvalid.
func ValidateRenames(renames map[string]string) error {
	targets := make(map[string]bool, len(renames))
	for from, to := range renames {
		if err := ValidateCollection(from); err != nil {
			return err
		}
		if err := ValidateCollection(to); err != nil {
			return err
		}
		if from == to {
			return Invalidf("rename %s to itself", from)
		}
		if targets[to] {
			return Invalidf("two collections renamed to %s", to)
		}
		targets[to] = true
	}
	for from := range renames {
		if targets[from] {
			return Invalidf("%s is both renamed and replaced; rename in two steps", from)
		}
	}
	return nil
}

// SortedRenames returns the sources of a rename map sorted, the order
// backends apply them in.
func SortedRenames(renames map[string]string) []string {
	return slices.Sorted(maps.Keys(renames))
}
