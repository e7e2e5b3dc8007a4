// Package sqlitestore is the embedded read-model store: one SQLite file per
// module database (<data>/<name>.sqlite), in WAL mode, with one dedicated
// write connection through which every write is serialized (BEGIN
// IMMEDIATE) and a pool of read-only connections that see committed
// snapshots.
//
// Each collection is a table (id TEXT PRIMARY KEY, doc TEXT, pos INTEGER),
// WITHOUT ROWID when declared SmallDocs (schemaVersion): doc is the document as JSON (see codec.go for how times and numbers are
// kept), pos the checkpoint of the batch that last wrote it. Indexes are
// expression indexes over json_extract; their declarations live in the
// _indexes table, checkpoints in _checkpoints. See docs/read-model-store.md.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/cspm-es/cspm-es/platform/sqlitedb"

	"github.com/cspm-es/cspm-es/platform/readmodel"

	_ "modernc.org/sqlite" // registers driver "sqlite"
)

// ErrClosed is returned by calls made after Close.
var ErrClosed = fmt.Errorf("readmodel/sqlite: store closed: %w", readmodel.ErrUnavailable)

// Options tunes a Store. The zero value is the safe default.
type Options struct {
	// Synchronous is "full" (default: a committed batch survives a power
	// loss) or "normal" (survives a process crash; the last batches may be
	// lost on power loss, and their checkpoints with them, so projectors
	// replay them).
	Synchronous string
	// BusyTimeout bounds how long a connection waits for a lock held by
	// another process. Default 10s.
	BusyTimeout time.Duration
	// ReadConns is the size of the read pool. Default max(4, GOMAXPROCS).
	ReadConns int
}

func (o Options) withDefaults() (Options, error) {
	if _, err := sqlitedb.ParseSynchronous(o.Synchronous); err != nil {
		return o, err
	}
	if o.BusyTimeout < 0 || o.ReadConns < 0 {
		return o, errors.New("negative busy timeout or read pool size")
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 10 * time.Second
	}
	if o.ReadConns == 0 {
		o.ReadConns = max(4, runtime.GOMAXPROCS(0))
	}
	return o, nil
}

// Store is one module database in one SQLite file.
type Store struct {
	path string
	opts Options

	pools *sqlitedb.Pools
	wconn *sql.Conn            // the only connection that writes
	wsem  chan struct{}        // serializes use of wconn; honours ctx while waiting
	stmts map[string]*sql.Stmt // prepared on wconn; guarded by wsem
	// swapped: the tables a Swap put in place since the last Compact,
	// whose indexes Compact rebuilds (compact.go); guarded by wsem.
	swapped map[string]bool
	// allSmallDocs makes every table WITHOUT ROWID (tests only: the
	// contract suite runs on both layouts; export_test.go).
	allSmallDocs bool

	rdb   *sql.DB // read-only pool
	rmu   sync.Mutex
	rstmt map[string]*sql.Stmt // prepared on rdb (per-collection Get)

	// hmu guards the handles above (pools, wconn, rdb, the statement
	// caches), broken and watch against Reset, which replaces them: reads
	// hold it shared (readLock), Reset exclusively (and wsem, which keeps
	// writers out). See repair.go.
	hmu    sync.RWMutex
	broken error      // the file is not a usable database (set at open or by Reset); see repair.go
	watch  *fileWatch // the file opened; nil while broken

	closeOnce sync.Once
	closed    chan struct{}

	ttlMu sync.Mutex
	ttls  map[readmodel.TTLKey]time.Duration // SetTTLs: the retention policies' overrides (decision 101)
}

var (
	_ readmodel.Store     = (*Store)(nil)
	_ readmodel.Swapper   = (*Store)(nil)
	_ readmodel.Inspector = (*Store)(nil)
	_ readmodel.TTLTuner  = (*Store)(nil)
)

// Open opens (creating if needed) the module database at path, a plain file
// path (":memory:" and URIs are not supported: the read pool must see the
// same database). A file that is corrupt or not a database does not fail
// Open: the store opens broken, every call fails with readmodel.ErrCorrupt
// until Reset (repair.go).
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open read-model store: %w", err)
	}
	if err := sqlitedb.CheckPath(path); err != nil {
		return nil, fmt.Errorf("open read-model store: %w", err)
	}
	s := &Store{path: path, opts: opts, wsem: make(chan struct{}, 1), stmts: map[string]*sql.Stmt{}, swapped: map[string]bool{}, rstmt: map[string]*sql.Stmt{}, closed: make(chan struct{})}
	if err := s.open(ctx); err != nil {
		s.closeAll()
		if isCorrupt(err) {
			s.broken = brokenError(path, err)
			return s, nil
		}
		return nil, fmt.Errorf("open read-model store %s: %w", path, err)
	}
	return s, nil
}

// open opens the handles (and records the file's identity).
func (s *Store) open(ctx context.Context) error {
	if err := initIncremental(ctx, s.path); err != nil {
		return err
	}
	pools, err := sqlitedb.Open(ctx, s.path, sqlitedb.Config{
		Synchronous: s.opts.Synchronous,
		BusyTimeout: s.opts.BusyTimeout,
		ReadConns:   s.opts.ReadConns,
		Pragmas:     []string{"temp_store(MEMORY)"},
	}, func(ctx context.Context, conn *sql.Conn) error {
		s.wconn = conn
		return s.migrate(ctx)
	})
	if err != nil {
		return err
	}
	s.pools, s.wconn, s.rdb = pools, pools.Conn, pools.Read
	if s.watch, err = newFileWatch(s.path); err != nil {
		return err
	}
	return nil
}

// schemaVersion is the store's layout, in PRAGMA user_version:
//
//	1: collections are rowid tables (id TEXT PRIMARY KEY, doc, pos);
//	2: a collection declared with SmallDocs is created as a WITHOUT
//	   ROWID table of the same columns (createTable). A version 1 file
//	   needs no conversion: its tables are read and written through the
//	   same statements, and each is replaced by the new layout when a
//	   rebuild swaps its shadow in (decision 108).
const schemaVersion = 2

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > schemaVersion {
		return fmt.Errorf("schema version %d is newer than this binary's %d", v, schemaVersion)
	}
	if v == schemaVersion {
		return nil
	}
	for _, q := range []string{
		`BEGIN IMMEDIATE`,
		`CREATE TABLE IF NOT EXISTS _checkpoints (
			projection TEXT PRIMARY KEY NOT NULL,
			pos        INTEGER NOT NULL,
			updated_at TEXT NOT NULL
		) STRICT`,
		`CREATE TABLE IF NOT EXISTS _indexes (
			collection TEXT NOT NULL,
			name       TEXT NOT NULL,
			physical   TEXT NOT NULL UNIQUE,
			spec       TEXT NOT NULL,
			PRIMARY KEY (collection, name)
		) STRICT`,
		fmt.Sprintf("PRAGMA user_version = %d", schemaVersion),
		`COMMIT`,
	} {
		if _, err := s.wconn.ExecContext(ctx, q); err != nil {
			_, _ = s.wconn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return fmt.Errorf("create schema: %w", err)
		}
	}
	return nil
}

// Info describes the store.
func (s *Store) Info() readmodel.Info {
	return readmodel.Info{Backend: "sqlite", Database: s.path, Transactions: true}
}

// Close waits for an in-flight write, then releases the connections.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		s.wsem <- struct{}{} // wait for the writer; never released
		s.hmu.Lock()         // and for the reads in flight
		err = s.closeAll()
		s.hmu.Unlock()
	})
	return err
}

func (s *Store) closeAll() error {
	if err := s.closeHandles(); err != nil {
		return fmt.Errorf("close read-model store %s: %w", s.path, err)
	}
	return nil
}

// closeHandles closes the statements and pools and forgets them.
func (s *Store) closeHandles() error {
	var errs []error
	for q, st := range s.stmts {
		errs = append(errs, st.Close())
		delete(s.stmts, q)
	}
	s.rmu.Lock()
	for q, st := range s.rstmt {
		errs = append(errs, st.Close())
		delete(s.rstmt, q)
	}
	s.rmu.Unlock()
	if s.pools != nil {
		errs = append(errs, s.pools.Close())
	}
	s.pools, s.wconn, s.rdb, s.watch = nil, nil, nil, nil
	return errors.Join(errs...)
}

func (s *Store) checkOpen() error {
	select {
	case <-s.closed:
		return ErrClosed
	default:
		return nil
	}
}

// acquire takes the write connection, honouring ctx and Close.
func (s *Store) acquire(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return ErrClosed
	}
	select {
	case <-s.closed: // Close is waiting for the semaphore: hand it over
		<-s.wsem
		return ErrClosed
	default:
		return nil
	}
}

func (s *Store) release() { <-s.wsem }

// stmt returns a statement prepared on the write connection (wsem held).
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts[query]; ok {
		return st, nil
	}
	st, err := s.wconn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.stmts[query] = st
	return st, nil
}

// readStmt returns a statement prepared on the read pool. SQLite
// re-prepares it by itself after schema changes (a swap, a drop).
func (s *Store) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if st, ok := s.rstmt[query]; ok {
		return st, nil
	}
	st, err := s.rdb.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.rstmt[query] = st
	return st, nil
}

// forgetStmts drops the statement cache after a schema change (wsem held).
func (s *Store) forgetStmts() {
	for q, st := range s.stmts {
		_ = st.Close()
		delete(s.stmts, q)
	}
}

// exec runs a cached statement on the write connection (wsem held).
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// errSkip ends a write transaction with a rollback and no error.
var errSkip = errors.New("skip")

// write runs fn in one IMMEDIATE transaction on the write connection: all
// of it commits, or none of it.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if err := s.usable(false); err != nil {
		return err
	}
	if _, err := s.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		// A context canceled while BEGIN waited may leave it done in the
		// driver: never leave the write connection inside a transaction.
		if _, rerr := s.wconn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil && !strings.Contains(rerr.Error(), "no transaction") {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return fmt.Errorf("begin: %w", err)
	}
	err := fn(ctx)
	if err == nil {
		// The file must still be the store's: never commit into a file
		// removed or replaced under it (repair.go).
		err = s.watch.check(true)
	}
	if err == nil {
		if _, err = s.exec(ctx, "COMMIT"); err == nil {
			return nil
		}
		err = fmt.Errorf("commit: %w", err)
	}
	if _, rerr := s.wconn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil && !strings.Contains(rerr.Error(), "no transaction") {
		err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
	}
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}
