package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/cspm-es/cspm-es/platform/sqlitedb"
)

// ErrReadOnly is returned by Append on a store opened with OpenReadOnly.
var ErrReadOnly = errors.New("eventstore/sqlite: store opened read-only")

// OpenReadOnly opens an existing store for reading only: no write
// connection, no migration, nothing written to the database (its read
// connections are query_only). It is what tools use beside a running
// server (`cspm events verify`, `export`, `replay`, `keys list`): they need
// neither the data directory's lock nor a write lock of the database. The
// schema must be the one this binary writes (a store of an older binary is
// migrated by the first process that opens it for writing). Append fails
// with ErrReadOnly.
func OpenReadOnly(ctx context.Context, path string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open event store: %w", err)
	}
	s := &Store{opts: opts, closed: make(chan struct{}), readOnly: true}
	s.idle.L = &s.qmu
	s.appended.init()
	if err := s.openReadOnly(ctx, path); err != nil {
		_ = s.closeAll()
		return nil, fmt.Errorf("open event store %s read-only: %w", path, err)
	}
	return s, nil
}

func (s *Store) openReadOnly(ctx context.Context, path string) error {
	pools, err := sqlitedb.OpenReadOnly(ctx, path, sqlitedb.Config{
		BusyTimeout: s.opts.BusyTimeout,
		ReadConns:   max(4, runtime.GOMAXPROCS(0)),
	})
	if err != nil {
		return err
	}
	s.pools, s.rdb = pools, pools.Read
	var version int
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read the schema version: %w", unavailable(err))
	}
	if version != len(migrations) {
		return fmt.Errorf("schema version %d, this binary reads version %d: open it once with `cspm serve` "+
			"(which migrates it) before reading it here", version, len(migrations))
	}
	if err := s.r.prepare(ctx, s.rdb); err != nil {
		return err
	}
	head, err := s.HeadPosition(ctx)
	if err != nil {
		return err
	}
	s.committed.Store(head)
	return nil
}
