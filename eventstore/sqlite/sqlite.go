// Package sqlite is the embedded event-store adapter: one SQLite file in WAL
// mode, one dedicated write connection through which every append is
// serialized (BEGIN IMMEDIATE), and a separate pool of read-only connections.
// With a single writer that assigns position = head+1 inside its transaction,
// positions are dense and in commit order, and WAL readers see committed
// snapshots, so a reader never sees position p+1 before p.
// See docs/event-store-sqlite.md.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cspm-es/cspm-es/platform/sqlitedb"

	"github.com/cspm-es/cspm-es/eventstore"

	_ "modernc.org/sqlite" // registers driver "sqlite"
)

// ErrClosed is returned by calls made after Close.
var ErrClosed = fmt.Errorf("eventstore/sqlite: store closed: %w", eventstore.ErrUnavailable)

// unavailable marks err with eventstore.ErrUnavailable when it means the
// database cannot serve right now (see sqlitedb.Unavailable).
func unavailable(err error) error {
	if err == nil || errors.Is(err, eventstore.ErrUnavailable) || !sqlitedb.Unavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
}

// Options tunes a Store. The zero value is the safe default.
type Options struct {
	// Synchronous is "full" (default: an acknowledged append survives a
	// process crash and a power loss) or "normal" (survives a process
	// crash; the last transactions may be lost on power loss).
	Synchronous string
	// PollInterval is how often WaitForAppend re-reads the head, to see
	// appends made by other processes on the same file. Default 200ms.
	PollInterval time.Duration
	// BusyTimeout bounds how long a connection waits for a lock held by
	// another process. Default 10s.
	BusyTimeout time.Duration
	// Logger receives the few operational messages; default slog.Default().
	Logger *slog.Logger
	// AuditKey keys the global chain (log_hash) and the idempotency
	// records' MACs this Store writes. The zero key is the empty key
	// (tests, tools). A store records the id of the key it was first
	// chained with; a Store opened with another key refuses to write
	// (eventstore.ErrAuditKeyMismatch) and only reads.
	AuditKey eventstore.AuditKey
}

func (o Options) withDefaults() (Options, error) {
	if _, err := sqlitedb.ParseSynchronous(o.Synchronous); err != nil {
		return o, err
	}
	if o.PollInterval < 0 || o.BusyTimeout < 0 {
		return o, errors.New("negative poll interval or busy timeout")
	}
	if o.PollInterval == 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Store implements eventstore.Store on one SQLite file.
type Store struct {
	opts Options

	pools *sqlitedb.Pools
	wconn *sql.Conn // the only connection that writes, used by the leader only
	w     writeStmts
	group []*appendCall // the leader's reused group buffer

	qmu      sync.Mutex
	queue    []*appendCall // appends waiting to be written, oldest first
	leading  bool          // a goroutine is writing or about to
	isClosed bool
	idle     sync.Cond // signalled when leading turns false

	rdb *sql.DB // read-only pool
	r   readStmts

	committed atomic.Int64 // highest position committed through this Store
	appended  broadcaster

	logHasher *eventstore.LogHasher // the leader's
	chained   bool                  // the store is chained with this Store's key (the leader's)
	keyErr    error                 // the store is chained with another key: nothing is written

	closeOnce sync.Once
	closed    chan struct{}

	file     *fileIdentity // the file opened (nil when read-only); see identity.go
	readOnly bool          // opened by OpenReadOnly
}

var _ eventstore.Store = (*Store)(nil)

// Open opens (creating if needed) the store at path and brings its schema up
// to date. path is a file path; ":memory:" is not supported (the read pool
// would see other databases).
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open event store: %w", err)
	}
	if err := sqlitedb.CheckPath(path); err != nil {
		return nil, fmt.Errorf("open event store: %w", err)
	}
	s := &Store{opts: opts, closed: make(chan struct{})}
	s.idle.L = &s.qmu
	s.appended.init()
	if err := s.open(ctx, path); err != nil {
		_ = s.closeAll()
		return nil, fmt.Errorf("open event store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) open(ctx context.Context, path string) error {
	pools, err := sqlitedb.Open(ctx, path, sqlitedb.Config{
		Synchronous: s.opts.Synchronous,
		BusyTimeout: s.opts.BusyTimeout,
		ReadConns:   max(4, runtime.GOMAXPROCS(0)),
		Pragmas:     ConnPragmas(),
	}, func(ctx context.Context, conn *sql.Conn) error { return migrateLogged(ctx, conn, s.opts.Logger) })
	if err != nil {
		return err
	}
	s.pools = pools
	s.wconn, s.rdb = pools.Conn, pools.Read
	if err := s.w.prepare(ctx, s.wconn); err != nil {
		return err
	}
	if err := s.r.prepare(ctx, s.rdb); err != nil {
		return err
	}
	if s.file, err = newFileIdentity(path); err != nil {
		return err
	}
	head, err := s.HeadPosition(ctx)
	if err != nil {
		return err
	}
	s.committed.Store(head)
	s.logHasher = s.opts.AuditKey.LogHasher()
	info, err := s.AuditInfo(ctx)
	if err != nil {
		return err
	}
	switch info.KeyID {
	case "": // the first transaction that writes claims it (claimTx)
	case s.opts.AuditKey.ID():
		s.chained = true
	default:
		s.keyErr = &eventstore.KeyMismatchError{StoreKeyID: info.KeyID, GivenKeyID: s.opts.AuditKey.ID()}
	}
	return nil
}

// ConnPragmas are the PRAGMAs the store sets on every connection besides
// synchronous and busy_timeout (sqlitedb.Config.Pragmas):
// temp_store=MEMORY keeps the sub-journal of the savepoints a group
// commit wraps each call in (writer.go) in memory instead of a temporary
// file, which cost a pwrite system call per page an append modified
// (decision 107). It holds only the pages a call changes that existed
// when its savepoint began (new pages are not journaled), and nothing in
// it is needed after a crash: the WAL keeps the transaction's durability.
func ConnPragmas() []string { return []string{"temp_store(MEMORY)"} }

// Close waits for the appends already queued, then releases the connections.
// Pending WaitForAppend calls return ErrClosed.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		s.qmu.Lock()
		s.isClosed = true
		for s.leading { // appends already queued are written first
			s.idle.Wait()
		}
		s.qmu.Unlock()
		err = s.closeAll()
	})
	return err
}

func (s *Store) closeAll() error {
	var errs []error
	errs = append(errs, s.w.close(), s.r.close())
	if s.pools != nil {
		errs = append(errs, s.pools.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close event store: %w", err)
	}
	return nil
}

// broadcaster wakes every waiter at once: waiters take the current channel,
// notify closes it and installs a fresh one.
type broadcaster struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *broadcaster) init() { b.ch = make(chan struct{}) }

func (b *broadcaster) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcaster) notify() {
	b.mu.Lock()
	close(b.ch)
	b.ch = make(chan struct{})
	b.mu.Unlock()
}
