// Package mongo is the MongoDB adapter of the event-store port.
//
// Appends are one multi-document transaction that writes events without a
// position; a single elected sequencer (a lease judged on the server clock,
// fenced by a token) stamps dense positions after commit, one transaction per
// round. Readers by position therefore see whole rounds in order and never
// skip an event. See docs/event-store-mongodb.md for the design and its
// failure cases.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/cspm-es/cspm-es/eventstore"
)

// Options tunes the adapter. Zero values take the defaults below.
type Options struct {
	// SequencerLease is how long a sequencer holds its lease without
	// renewing (server clock). Fail-over takes up to about 1.25× this.
	// Default 5s.
	SequencerLease time.Duration
	// PollInterval is how often waiters and the sequencer poll when no
	// change-stream notification arrives. Default 50ms.
	PollInterval time.Duration
	// AppendTimeout bounds how long Append waits, after commit, for the
	// sequencer to stamp positions. Default 15s.
	AppendTimeout time.Duration
	// Logger receives sequencer and change-stream diagnostics. Default slog.Default().
	Logger *slog.Logger
	// AuditKey keys the global chain (log_hash, assigned by the sequencer)
	// and the idempotency records' MACs. The zero key is the empty key
	// (tests, tools). A store records the id of the key it was first
	// chained with; a Store opened with another key refuses to write
	// (eventstore.ErrAuditKeyMismatch) and runs no sequencer.
	AuditKey eventstore.AuditKey
	// ReadOnly opens the store for reading only: no sequencer candidate,
	// no claim of the audit key, appends refused. For tools that must
	// never write (cspm events verify, export, replay).
	ReadOnly bool
}

func (o Options) withDefaults() Options {
	if o.SequencerLease <= 0 {
		o.SequencerLease = 5 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	if o.AppendTimeout <= 0 {
		o.AppendTimeout = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Store is the MongoDB event store. It is safe for concurrent use; every
// Store also runs a sequencer candidate and, where the deployment has them,
// a change-stream watcher, until Close.
type Store struct {
	client  *mongo.Client
	db      *mongo.Database
	events  *mongo.Collection
	streams *mongo.Collection
	idem    *mongo.Collection
	seq     *mongo.Collection

	opts Options
	log  *slog.Logger
	head *broadcaster // fires when positions may have been stamped
	kick chan struct{}

	stop   context.CancelFunc
	closed chan struct{} // closed by Close
	wg     sync.WaitGroup
	once   sync.Once
	sq     *sequencer

	meta        *mongo.Collection
	checkpoints *mongo.Collection
	keyErr      atomic.Pointer[eventstore.KeyMismatchError] // set: the store is chained with another key
}

var _ eventstore.Store = (*Store)(nil)

// Open connects to uri, checks that the deployment supports transactions,
// ensures the indexes and the sequencer document in database, and starts the
// sequencer candidate and the change-stream watcher.
func Open(ctx context.Context, uri, database string, opts Options) (*Store, error) {
	if database == "" {
		return nil, errors.New("mongo event store: database name is empty")
	}
	opts = opts.withDefaults()
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("mongo event store: connect: %w", err)
	}
	s, err := open(ctx, client, database, opts)
	if err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

func open(ctx context.Context, client *mongo.Client, database string, opts Options) (*Store, error) {
	// Majority reads and writes: a reader never sees a round (or an append)
	// that a fail-over could roll back, so a position is never reused.
	db := client.Database(database, options.Database().
		SetReadConcern(readconcern.Majority()).
		SetWriteConcern(writeconcern.Majority()))
	var hello helloReply
	if err := db.RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return nil, fmt.Errorf("mongo event store: hello: %w", err)
	}
	if err := hello.check(); err != nil {
		return nil, err
	}
	s := &Store{
		client:  client,
		db:      db,
		events:  db.Collection(collEvents),
		streams: db.Collection(collStreams),
		idem:    db.Collection(collIdempotency),
		seq:     db.Collection(collSequencer),
		meta:    db.Collection(collAuditMeta),

		checkpoints: db.Collection(collCheckpoints),
		opts:        opts,
		log:         opts.Logger.With("component", "eventstore.mongo", "database", database),
		head:        newBroadcaster(),
		kick:        make(chan struct{}, 1),
		closed:      make(chan struct{}),
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	info, err := s.AuditInfo(ctx)
	if err != nil {
		return nil, err
	}
	if info.KeyID != "" && info.KeyID != opts.AuditKey.ID() {
		s.keyErr.Store(&eventstore.KeyMismatchError{StoreKeyID: info.KeyID, GivenKeyID: opts.AuditKey.ID()})
	}
	host, _ := os.Hostname()
	s.sq = &sequencer{s: s, holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()), hasher: opts.AuditKey.LogHasher()}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	if opts.ReadOnly || s.keyErr.Load() != nil {
		// Readers need no sequencer; waiters poll.
		return s, nil
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.sq.run(bg) }()
	go func() { defer s.wg.Done(); s.watch(bg) }()
	return s, nil
}

// helloReply is the part of the hello command's reply that tells the topology.
type helloReply struct {
	SetName string `bson:"setName"`
	Msg     string `bson:"msg"`
}

// check refuses a standalone server: appends and sequencer rounds are
// multi-document transactions.
func (h helloReply) check() error {
	if h.SetName != "" || h.Msg == "isdbgrid" {
		return nil
	}
	return fmt.Errorf("%w (start mongod with --replSet and run rs.initiate())", ErrStandalone)
}

// eventIndexes are the secondary indexes of the events collection. The event
// id is the _id (unique by construction); streams and idempotency are keyed
// by _id (stream id, idempotency key) and need none.
func eventIndexes() []mongo.IndexModel {
	pending := bson.D{{Key: "pending", Value: true}}
	return []mongo.IndexModel{
		{ // optimistic-concurrency backstop and ReadStream
			Keys:    bson.D{{Key: "stream_id", Value: 1}, {Key: "version", Value: 1}},
			Options: options.Index().SetName(idxStreamVersion).SetUnique(true),
		},
		{ // ReadAll, HeadPosition; unique so a position is never given twice
			Keys: bson.D{{Key: "position", Value: 1}},
			Options: options.Index().SetName(idxPosition).SetUnique(true).
				SetPartialFilterExpression(bson.D{{Key: "position", Value: bson.D{{Key: "$exists", Value: true}}}}),
		},
		{ // the sequencer's work queue, oldest first; holds only unsequenced events
			Keys:    bson.D{{Key: "recorded_at", Value: 1}, {Key: "_id", Value: 1}},
			Options: options.Index().SetName(idxPendingByTime).SetPartialFilterExpression(pending),
		},
		{ // unsequenced predecessors of a stream. The leading "pending" keeps
			// the key pattern distinct from stream_version: servers before 5.0
			// refuse two indexes on one key pattern.
			Keys:    bson.D{{Key: "pending", Value: 1}, {Key: "stream_id", Value: 1}, {Key: "version", Value: 1}},
			Options: options.Index().SetName(idxPendingByStream).SetPartialFilterExpression(pending),
		},
	}
}

// checkpointIndex orders the checkpoint history as Checkpoints pages it.
func checkpointIndex() mongo.IndexModel {
	return mongo.IndexModel{
		Keys:    bson.D{{Key: "position", Value: 1}, {Key: "taken_at", Value: 1}, {Key: "_id", Value: 1}},
		Options: options.Index().SetName(idxCheckpointOrder),
	}
}

// EnsureIndexes creates the indexes, the sequencer document and the audit
// metadata document (with a new store id) if missing. It is idempotent and
// called by Open; a read-only Store writes nothing.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	if s.opts.ReadOnly {
		return nil
	}
	if _, err := s.events.Indexes().CreateMany(ctx, eventIndexes()); err != nil {
		return fmt.Errorf("mongo event store: create indexes: %w", err)
	}
	if _, err := s.checkpoints.Indexes().CreateOne(ctx, checkpointIndex()); err != nil {
		return fmt.Errorf("mongo event store: create indexes: %w", err)
	}
	_, err := s.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: auditMetaID}},
		bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "store_id", Value: strings.ReplaceAll(uuid.NewString(), "-", "")}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongo event store: create audit metadata: %w", err)
	}
	// Collections are created up front: creating one inside a transaction
	// is not possible on every server version.
	for _, c := range []string{collStreams, collIdempotency} {
		if err := s.db.CreateCollection(ctx, c); err != nil && !isNamespaceExists(err) {
			return fmt.Errorf("mongo event store: create collection %s: %w", c, err)
		}
	}
	// The sequencer starts after the highest position already stored, so a
	// lost sequencer document never makes it reuse a number.
	next, err := s.maxPosition(ctx)
	if err != nil {
		return err
	}
	_, err = s.seq.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: sequencerID}},
		bson.D{{Key: "$setOnInsert", Value: bson.D{
			{Key: "holder", Value: ""},
			{Key: "lease_until", Value: time.Unix(0, 0).UTC()},
			{Key: "token", Value: int64(0)},
			{Key: "next", Value: next + 1},
			// The chain's head: behind next-1 when events exist, which the
			// leader then chains (keeping log hashes already stored).
			{Key: "chained_to", Value: int64(0)},
			{Key: "log_hash", Value: ""},
		}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil && !mongo.IsDuplicateKeyError(err) { // a concurrent Open created it
		return fmt.Errorf("mongo event store: create sequencer document: %w", err)
	}
	return nil
}

func isNamespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code == 48
}

// Close stops the sequencer (handing the lease back) and the watcher, and
// disconnects.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		s.stop()
		s.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.sq.release(ctx)
		err = s.client.Disconnect(ctx)
	})
	return err
}

// broadcaster wakes every waiter at once: wait returns a channel that is
// closed by the next notify.
type broadcaster struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcaster() *broadcaster { return &broadcaster{ch: make(chan struct{})} }

func (b *broadcaster) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcaster) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}

// kickSequencer asks the local sequencer for a round now (if it leads).
func (s *Store) kickSequencer() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}
