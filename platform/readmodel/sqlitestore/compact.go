package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/cspm-es/cspm-es/platform/datadir"
)

// Compaction: a rebuild's swap drops the old live tables, and SQLite keeps
// their pages as free pages inside the file (40-50% of a module database
// after `rebuild --all`, issue 17), which it reuses but never gives back.
// New databases are created with auto_vacuum=INCREMENTAL (migrate), so
// Compact gives the free pages back with `PRAGMA incremental_vacuum`,
// which moves the pages at the end of the file into the free slots and
// truncates it (no copy of the database, unlike VACUUM). A database
// created before that is converted once by a VACUUM. Before that, the
// indexes of the tables swapped in are rebuilt full (reindexSwapped). See
// docs/read-model-store.md, "Compaction".

// Compact gives the database's free pages back to the file system and
// returns how many bytes the file shrank by (0 when there was nothing to
// free). It holds the write connection meanwhile (commits wait); readers
// go on with their snapshots.
func (s *Store) Compact(ctx context.Context) (freed int64, err error) {
	if err := s.acquire(ctx); err != nil {
		return 0, err
	}
	defer s.release()
	if err := s.usable(false); err != nil {
		return 0, err
	}
	pragma := func(name string) (int64, error) {
		var v int64
		if err := s.wconn.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
			return 0, fmt.Errorf("compact: %s: %w", name, err)
		}
		return v, nil
	}
	pageSize, err := pragma("page_size")
	if err != nil {
		return 0, err
	}
	before, err := pragma("page_count")
	if err != nil {
		return 0, err
	}
	// Whatever happens below, the write connection leaves with no
	// transaction open: a statement stopped half way (a canceled context)
	// would keep its implicit transaction, and the next write's BEGIN
	// would fail ("cannot start a transaction within a transaction").
	defer func() {
		if _, rerr := s.wconn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil && !strings.Contains(rerr.Error(), "no transaction") {
			err = errors.Join(err, fmt.Errorf("compact: rollback: %w", rerr))
		}
	}()
	if err := s.reindexSwapped(ctx); err != nil {
		return 0, err
	}
	free, err := pragma("freelist_count")
	if err != nil || free == 0 {
		return 0, err
	}
	mode, err := pragma("auto_vacuum")
	if err != nil {
		return 0, err
	}
	s.forgetStmts()
	if mode == autoVacuumIncremental {
		// incremental_vacuum frees one page per step and answers a row per
		// step: read them all, or it stops after the first page with its
		// transaction open.
		rows, err := s.wconn.QueryContext(ctx, "PRAGMA incremental_vacuum")
		if err != nil {
			return 0, fmt.Errorf("compact: incremental_vacuum: %w", err)
		}
		for rows.Next() {
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return 0, fmt.Errorf("compact: incremental_vacuum: %w", err)
		}
	} else {
		// Once: switch to incremental auto-vacuum, which takes a VACUUM.
		if _, err := s.wconn.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
			return 0, fmt.Errorf("compact: auto_vacuum: %w", err)
		}
		if _, err := s.wconn.ExecContext(ctx, "VACUUM"); err != nil {
			return 0, fmt.Errorf("compact: vacuum: %w", err)
		}
	}
	// Hand the WAL's pages to the file and truncate the WAL (best effort:
	// a reader on an old snapshot keeps it for now).
	_, _ = s.wconn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	after, err := pragma("page_count")
	if err != nil {
		return 0, err
	}
	return (before - after) * pageSize, nil
}

// reindexSwapped rebuilds the indexes of the tables swapped in since the
// last Compact (wsem held). A rebuild fills its shadow tables while their
// indexes exist, in event order, so an index's pages end up about half
// full (40% of the space of the findings indexes, issue 17); REINDEX
// builds each one again from a sort, its pages full, and the old pages
// join the free ones that the vacuum then gives back. Tables dropped
// since are skipped.
func (s *Store) reindexSwapped(ctx context.Context) error {
	for _, coll := range slices.Sorted(maps.Keys(s.swapped)) {
		ok, err := s.tableExists(ctx, coll)
		if err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		if ok {
			s.forgetStmts()
			if _, err := s.wconn.ExecContext(ctx, "REINDEX "+quoteIdent(coll)); err != nil {
				return fmt.Errorf("compact: reindex %s: %w", coll, err)
			}
		}
		delete(s.swapped, coll)
	}
	return nil
}

// autoVacuumIncremental is PRAGMA auto_vacuum's value for INCREMENTAL.
const autoVacuumIncremental = 2

// FreeBytes is the space of the database's free pages: what Compact
// would give back.
func (s *Store) FreeBytes(ctx context.Context) (int64, error) {
	release, err := s.readLock()
	if err != nil {
		return 0, err
	}
	defer release()
	return s.freeBytes(ctx)
}

func (s *Store) freeBytes(ctx context.Context) (int64, error) {
	var free, size int64
	if err := s.rdb.QueryRowContext(ctx, "SELECT * FROM pragma_freelist_count(), pragma_page_size()").Scan(&free, &size); err != nil {
		return 0, fmt.Errorf("free bytes: %w", err)
	}
	return free * size, nil
}

// initIncremental creates the database file at path with incremental
// auto-vacuum when there is none yet (or it is empty). SQLite fixes the
// mode when it first writes the file, which switching to WAL does, so it
// is set here, before the store's connections open it in WAL mode.
func initIncremental(ctx context.Context, path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.Size() > 0:
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := datadir.CreateFile(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range []string{"PRAGMA auto_vacuum = INCREMENTAL", "PRAGMA journal_mode = WAL"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create %s: %s: %w", path, q, err)
		}
	}
	return nil
}

// CollectionBytes is the space each collection takes in the file, its
// indexes included (SQLite's dbstat), by collection name; the store's own
// tables are under their names (_checkpoints, _indexes), and "" holds
// the free pages.
func (s *Store) CollectionBytes(ctx context.Context) (map[string]int64, error) {
	release, err := s.readLock()
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.tbl_name, sum(d.pgsize) FROM dbstat d
		JOIN sqlite_schema m ON m.name = d.name GROUP BY m.tbl_name`)
	if err != nil {
		return nil, fmt.Errorf("collection bytes: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("collection bytes: %w", err)
		}
		out[name] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("collection bytes: %w", err)
	}
	free, err := s.freeBytes(ctx)
	if err != nil {
		return nil, err
	}
	out[""] = free
	return out, nil
}
