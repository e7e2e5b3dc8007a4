// Package mongostore is the production read-model store: one MongoDB
// database per module database, one collection per read-model collection,
// documents stored as BSON with their _id and a _pos field (the checkpoint
// of the batch that last wrote them). Checkpoints live in the _checkpoints
// collection of the same database.
//
// Commit runs in a multi-document transaction when the deployment supports
// them (hello reports a replica set or mongos); on a standalone server it
// falls back to per-document position guards. See docs/read-model-store.md
// for the guarantees of each mode.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// ErrClosed is returned by calls made after Close.
var ErrClosed = fmt.Errorf("readmodel/mongo: store closed: %w", readmodel.ErrUnavailable)

// ErrNoTransactions: ModeTransactions on a deployment without them.
var ErrNoTransactions = errors.New("readmodel/mongo: the deployment is a standalone server; transactions need a replica set (a single node is enough) or a sharded cluster")

// checkpointsColl holds {_id: projection, pos, updated_at}. Read-model
// collection names cannot start with "_", so it never collides.
const checkpointsColl = "_checkpoints"

// Mode chooses how Commit makes a batch atomic.
type Mode int

const (
	// ModeAuto uses transactions when hello reports a replica set or
	// mongos, position guards otherwise.
	ModeAuto Mode = iota
	// ModeTransactions requires transactions (Open fails on a standalone).
	ModeTransactions
	// ModeGuards always uses position guards (tests, or deployments where
	// transactions are too costly).
	ModeGuards
)

// Options tunes a Store.
type Options struct {
	Mode Mode
	// NoPartialIndexes creates unique indexes without the
	// partialFilterExpression that makes them ignore documents lacking one
	// of their fields, for servers without partial indexes: FerretDB 1.x,
	// the smoke layer of make test. Whether such documents then collide is
	// up to the server (FerretDB's SQLite backend does not collide them;
	// MongoDB would). Never set it against MongoDB.
	NoPartialIndexes bool
}

// Store is one module database on MongoDB. The client belongs to the
// caller: Close does not disconnect it.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	name   string
	txn    bool
	// partial: unique indexes carry a partialFilterExpression (not
	// Options.NoPartialIndexes).
	partial bool
	closed  atomic.Bool

	ttlMu sync.Mutex
	ttls  map[readmodel.TTLKey]time.Duration // SetTTLs: the retention policies' overrides (decision 101)
}

var (
	_ readmodel.Store     = (*Store)(nil)
	_ readmodel.Swapper   = (*Store)(nil)
	_ readmodel.Inspector = (*Store)(nil)
	_ readmodel.TTLTuner  = (*Store)(nil)
)

// Open returns the store of one module database (its name as the database
// registry spells it). It asks the server (hello) whether transactions are
// available.
func Open(ctx context.Context, client *mongo.Client, database string, opts Options) (*Store, error) {
	if err := ValidateDatabaseName(database); err != nil {
		return nil, fmt.Errorf("open read-model store: %w", err)
	}
	db := client.Database(database)
	var hello helloReply
	if err := db.RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return nil, fmt.Errorf("open read-model store %s: hello: %w", database, err)
	}
	s := &Store{client: client, db: db, name: database, partial: !opts.NoPartialIndexes}
	switch opts.Mode {
	case ModeAuto:
		s.txn = hello.transactions()
	case ModeTransactions:
		if !hello.transactions() {
			return nil, fmt.Errorf("open read-model store %s: %w", database, ErrNoTransactions)
		}
		s.txn = true
	case ModeGuards:
	default:
		return nil, fmt.Errorf("open read-model store %s: unknown mode %d", database, opts.Mode)
	}
	return s, nil
}

// OpenModuleStores opens the store of each module database name.
func OpenModuleStores(ctx context.Context, client *mongo.Client, names []string, opts Options) (map[string]*Store, error) {
	out := make(map[string]*Store, len(names))
	for _, name := range names {
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("open module stores: database %q listed twice", name)
		}
		s, err := Open(ctx, client, name, opts)
		if err != nil {
			return nil, err
		}
		out[name] = s
	}
	return out, nil
}

// helloReply is the part of hello that tells the topology.
type helloReply struct {
	SetName string `bson:"setName"`
	Msg     string `bson:"msg"`
}

// transactions: a replica-set member or a mongos router.
func (h helloReply) transactions() bool { return h.SetName != "" || h.Msg == "isdbgrid" }

// ValidateDatabaseName accepts MongoDB database names a registry produces:
// 1 to 63 characters from [A-Za-z0-9_-].
func ValidateDatabaseName(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("database name %q: want 1 to 63 characters", name)
	}
	for _, c := range name {
		if c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		return fmt.Errorf("database name %q: want [A-Za-z0-9_-]", name)
	}
	return nil
}

// Info describes the store.
func (s *Store) Info() readmodel.Info {
	return readmodel.Info{Backend: "mongodb", Database: s.name, Transactions: s.txn, ServerTTL: true}
}

// Close marks the store closed; the client stays connected.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// ListCollections returns the read-model collections, sorted.
func (s *Store) ListCollections(ctx context.Context) ([]string, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("list collections of %s: %w", s.name, err)
	}
	out := names[:0]
	for _, n := range names {
		if readmodel.ValidateCollection(n) == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}
