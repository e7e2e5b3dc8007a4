// Package sqlitebench is the SQLite event store's raw append ceiling for
// benchmarks outside package sqlite (issue 17): rows the store wrote,
// inserted again with plain SQL into a file of the store's schema, with
// the same driver (modernc.org/sqlite) and connection settings
// (platform/sqlitedb, the store's synchronous mode), 100 rows to a
// transaction: BEGIN IMMEDIATE, one prepared multi-row INSERT, COMMIT.
// That is what an append would cost with nothing of the store's own:
// no validation, no idempotency or head reads, no hashing, no stream
// heads. Benchmarks only; no product code imports it.
package sqlitebench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/sqlitedb"
)

// Rows are rows of the events table as the store stored them (every
// column, in the table's order, in its stored form), read back to be
// inserted again raw.
type Rows struct {
	cols []string
	vals [][]any
}

// Len is the number of rows.
func (r Rows) Len() int { return len(r.vals) }

// Bytes is the rows' stored bytes (text and blob values; 8 per integer).
func (r Rows) Bytes() int {
	n := 0
	for _, row := range r.vals {
		for _, v := range row {
			switch v := v.(type) {
			case string:
				n += len(v)
			case []byte:
				n += len(v)
			default:
				n += 8
			}
		}
	}
	return n
}

// Sample reads the last n rows of type eventType of the store file at
// path, read-only (the store may be open and writing meanwhile).
func Sample(ctx context.Context, path, eventType string, n int) (Rows, error) {
	pools, err := sqlitedb.OpenReadOnly(ctx, path, sqlitedb.Config{ReadConns: 1})
	if err != nil {
		return Rows{}, fmt.Errorf("sqlitebench: open %s: %w", path, err)
	}
	defer pools.Close()
	rows, err := pools.Read.QueryContext(ctx,
		"SELECT * FROM (SELECT * FROM events WHERE type = ? ORDER BY position DESC LIMIT ?) ORDER BY position", eventType, n)
	if err != nil {
		return Rows{}, fmt.Errorf("sqlitebench: sample %s: %w", path, err)
	}
	defer rows.Close()
	var r Rows
	if r.cols, err = rows.Columns(); err != nil {
		return Rows{}, err
	}
	for rows.Next() {
		row := make([]any, len(r.cols))
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return Rows{}, fmt.Errorf("sqlitebench: sample %s: %w", path, err)
		}
		r.vals = append(r.vals, row) // Scan into *any copies []byte
	}
	if err := rows.Err(); err != nil {
		return Rows{}, fmt.Errorf("sqlitebench: sample %s: %w", path, err)
	}
	if len(r.vals) < n {
		return Rows{}, fmt.Errorf("sqlitebench: %s holds %d events of type %s, want %d", path, len(r.vals), eventType, n)
	}
	return r, nil
}

// Ceiling inserts rows raw into a file of its own, batch rows to a
// transaction.
type Ceiling struct {
	pools                 *sqlitedb.Pools
	begin, insert, commit *sql.Stmt
	rows                  Rows
	batch                 int
	col                   struct{ position, eventID, streamID, version int }
	position              int64 // the last position written
	streams               int64 // stream ids made so far
	args                  []any
}

// OpenCeiling creates the file at path with the event store's schema
// (opening it as a store, then closing it), then opens it again as the
// store opens its file (sqlitedb, synchronous as given: "" or "full" is
// the store's default) for raw inserts of rows, batch to a transaction.
func OpenCeiling(ctx context.Context, path, synchronous string, rows Rows, batch int) (*Ceiling, error) {
	if rows.Len() == 0 || batch <= 0 {
		return nil, errors.New("sqlitebench: no rows to insert")
	}
	s, err := sqlite.Open(ctx, path, sqlite.Options{Synchronous: synchronous})
	if err != nil {
		return nil, fmt.Errorf("sqlitebench: %w", err)
	}
	if err := s.Close(); err != nil {
		return nil, fmt.Errorf("sqlitebench: %w", err)
	}
	pools, err := sqlitedb.Open(ctx, path, sqlitedb.Config{Synchronous: synchronous, ReadConns: 1, Pragmas: sqlite.ConnPragmas()},
		func(context.Context, *sql.Conn) error { return nil })
	if err != nil {
		return nil, fmt.Errorf("sqlitebench: %w", err)
	}
	c := &Ceiling{pools: pools, rows: rows, batch: batch}
	c.col.position, c.col.eventID, c.col.streamID, c.col.version = -1, -1, -1, -1
	for i, name := range rows.cols {
		switch name {
		case "position":
			c.col.position = i
		case "event_id":
			c.col.eventID = i
		case "stream_id":
			c.col.streamID = i
		case "version":
			c.col.version = i
		}
	}
	if c.col.position < 0 || c.col.eventID < 0 || c.col.streamID < 0 || c.col.version < 0 {
		_ = pools.Close()
		return nil, fmt.Errorf("sqlitebench: the rows lack a key column (have %v)", rows.cols)
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(rows.cols)), ",") + ")"
	insert := "INSERT INTO events (" + strings.Join(rows.cols, ", ") + ") VALUES " + row + strings.Repeat(","+row, batch-1)
	for dst, q := range map[**sql.Stmt]string{&c.begin: "BEGIN IMMEDIATE", &c.insert: insert, &c.commit: "COMMIT"} {
		if *dst, err = pools.Conn.PrepareContext(ctx, q); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("sqlitebench: prepare: %w", err)
		}
	}
	return c, nil
}

// next builds the arguments of the next batch: the sampled rows in turn,
// each under a new position, a new event id (16 random bytes, as the
// store's UUIDs are stored), a stream id of the same length as the
// sampled one and version 1 (every row its own new stream).
func (c *Ceiling) next() error {
	c.args = c.args[:0]
	for range c.batch {
		src := c.rows.vals[int(c.position)%len(c.rows.vals)]
		c.position++
		c.streams++
		for i, v := range src {
			switch i {
			case c.col.position:
				v = c.position
			case c.col.eventID:
				id := make([]byte, 16)
				if _, err := rand.Read(id); err != nil {
					return err
				}
				v = id
			case c.col.streamID:
				v = sameLength(fmt.Sprint(v), c.streams)
			case c.col.version:
				v = int64(1)
			}
			c.args = append(c.args, v)
		}
	}
	return nil
}

// sameLength is s with its tail replaced by n in hex (as long as s allows).
func sameLength(s string, n int64) string {
	tail := fmt.Sprintf("%016x", n)
	if len(s) < len(tail) {
		return "raw-" + tail
	}
	return s[:len(s)-len(tail)] + tail
}

// Run inserts batches back to back until their transactions took d in
// all (the arguments of each are built before its clock starts) and
// returns the events written and the time their transactions took.
func (c *Ceiling) Run(ctx context.Context, d time.Duration) (events int, took time.Duration, err error) {
	for took < d {
		if err := c.next(); err != nil {
			return events, took, err
		}
		t0 := time.Now()
		if _, err := c.begin.ExecContext(ctx); err != nil {
			return events, took, fmt.Errorf("sqlitebench: begin: %w", err)
		}
		if _, err := c.insert.ExecContext(ctx, c.args...); err != nil {
			_, _ = c.pools.Conn.ExecContext(ctx, "ROLLBACK")
			return events, took, fmt.Errorf("sqlitebench: insert: %w", err)
		}
		if _, err := c.commit.ExecContext(ctx); err != nil {
			return events, took, fmt.Errorf("sqlitebench: commit: %w", err)
		}
		took += time.Since(t0)
		events += c.batch
	}
	return events, took, nil
}

// Rate is Run's events per second.
func (c *Ceiling) Rate(ctx context.Context, d time.Duration) (float64, error) {
	n, took, err := c.Run(ctx, d)
	if err != nil {
		return 0, err
	}
	return float64(n) / took.Seconds(), nil
}

// Close releases the file.
func (c *Ceiling) Close() error {
	var errs []error
	for _, s := range []*sql.Stmt{c.begin, c.insert, c.commit} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	errs = append(errs, c.pools.Close())
	return errors.Join(errs...)
}
