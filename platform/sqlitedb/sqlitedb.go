// Package sqlitedb opens an SQLite file the way every embedded store of cspm
// uses it (the event store and the module read-model stores): WAL, one
// dedicated write connection, and a separate read-only pool, with the same
// durability setting and path rules.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"database/sql/driver"

	"github.com/cspm-es/cspm-es/platform/datadir"

	sqlite "modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Config is what both pools are opened with.
type Config struct {
	// Synchronous is "full" (default) or "normal"; see ParseSynchronous.
	Synchronous string
	// BusyTimeout bounds how long a connection waits for a lock held by
	// another process. Default 10s.
	BusyTimeout time.Duration
	// ReadConns is the size of the read pool (> 0).
	ReadConns int
	// Pragmas are extra PRAGMA settings for every connection, e.g.
	// "temp_store(MEMORY)".
	Pragmas []string
}

// ParseSynchronous maps "" and "full" to FULL and "normal" to NORMAL.
func ParseSynchronous(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", "full":
		return "FULL", nil
	case "normal":
		return "NORMAL", nil
	}
	return "", fmt.Errorf("synchronous %q: want \"full\" or \"normal\"", s)
}

// CheckPath accepts plain file paths only: ":memory:" and URIs would give
// the read pool a different database than the writer.
func CheckPath(path string) error {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?') {
		return fmt.Errorf("unsupported path %q (want a plain file path)", path)
	}
	return nil
}

// Pools are one file's connections: Conn is the only one that writes.
type Pools struct {
	Write *sql.DB
	Conn  *sql.Conn
	Read  *sql.DB
}

// Open opens the write connection, runs migrate on it (the file exists and is
// in WAL mode afterwards), then opens the read-only pool. On error whatever
// was opened is closed. A file it creates is owner-only (datadir.FileMode),
// and so are the -wal and -shm files SQLite creates beside it (SQLite
// gives them the main file's permissions).
func Open(ctx context.Context, path string, cfg Config, migrate func(context.Context, *sql.Conn) error) (*Pools, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	sync, err := ParseSynchronous(cfg.Synchronous)
	if err != nil {
		return nil, err
	}
	if cfg.BusyTimeout < 0 || cfg.ReadConns < 0 {
		return nil, errors.New("negative busy timeout or read pool size")
	}
	if cfg.BusyTimeout == 0 {
		cfg.BusyTimeout = 10 * time.Second
	}
	if cfg.ReadConns == 0 {
		cfg.ReadConns = 4
	}
	if err := datadir.CreateFile(path); err != nil {
		return nil, err
	}
	p := &Pools{}
	if err := p.open(ctx, path, sync, cfg, migrate); err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return p, nil
}

func (p *Pools) open(ctx context.Context, path, sync string, cfg Config, migrate func(context.Context, *sql.Conn) error) error {
	params := func(extra url.Values) string {
		v := url.Values{"_busy_timeout": {fmt.Sprint(cfg.BusyTimeout.Milliseconds())}}
		for _, pr := range cfg.Pragmas {
			v.Add("_pragma", pr)
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return path + "?" + v.Encode()
	}
	var err error
	if p.Write, err = sql.Open("sqlite", params(url.Values{"_journal_mode": {"WAL"}, "_synchronous": {sync}})); err != nil {
		return err
	}
	p.Write.SetMaxOpenConns(1)
	p.Write.SetMaxIdleConns(1)
	p.Write.SetConnMaxLifetime(0)
	p.Write.SetConnMaxIdleTime(0)
	if p.Conn, err = p.Write.Conn(ctx); err != nil {
		return fmt.Errorf("write connection: %w", err)
	}
	if migrate != nil {
		if err := migrate(ctx, p.Conn); err != nil {
			return err
		}
	}
	if p.Read, err = sql.Open("sqlite", params(url.Values{"_query_only": {"1"}})); err != nil {
		return err
	}
	p.Read.SetMaxOpenConns(cfg.ReadConns)
	p.Read.SetMaxIdleConns(cfg.ReadConns)
	return p.Read.PingContext(ctx)
}

// OpenReadOnly opens only the read pool (ReadConns connections,
// query_only), for tools that read a database another process may be
// writing: no write connection, no migration, nothing written to the
// database. The file must exist.
func OpenReadOnly(ctx context.Context, path string, cfg Config) (*Pools, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 10 * time.Second
	}
	if cfg.ReadConns <= 0 {
		cfg.ReadConns = 4
	}
	v := url.Values{"_busy_timeout": {fmt.Sprint(cfg.BusyTimeout.Milliseconds())}, "_query_only": {"1"}}
	for _, pr := range cfg.Pragmas {
		v.Add("_pragma", pr)
	}
	db, err := sql.Open("sqlite", path+"?"+v.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(cfg.ReadConns)
	db.SetMaxIdleConns(cfg.ReadConns)
	p := &Pools{Read: db}
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return p, nil
}

// Close closes the write connection and both pools (whichever were opened).
func (p *Pools) Close() error {
	var errs []error
	if p.Conn != nil {
		errs = append(errs, p.Conn.Close())
	}
	for _, db := range []*sql.DB{p.Write, p.Read} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}

// Unavailable reports whether err means the database cannot serve right
// now, rather than that the request was wrong: a lock held past the busy
// timeout, an I/O error, a full disk, a file that cannot be opened, no
// memory, or a pool closed underneath the caller. Callers wrap such errors
// with their port's ErrUnavailable (the API answers 503).
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return true
		}
		return false
	}
	// database/sql has no exported sentinel for a closed *sql.DB or *sql.Stmt.
	msg := err.Error()
	return errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) ||
		strings.Contains(msg, "sql: database is closed") || strings.Contains(msg, "sql: statement is closed")
}
