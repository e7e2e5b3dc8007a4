package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
)

const eventColumns = `position, event_id, stream_id, stream_type, version, type,
	schema_version, data, metadata, recorded_at, prev_hash, hash, log_hash`

// The event reads, run at the driver's level (queryEvents).
const (
	readStreamQ = iota
	readAllQ
)

var eventQueries = [...]string{
	readStreamQ: `SELECT ` + eventColumns + ` FROM events
			WHERE stream_id = ? AND version >= ? AND version <= ? AND recorded_at <= ? ORDER BY version`,
	readAllQ: `SELECT ` + eventColumns + ` FROM events WHERE position > ? ORDER BY position LIMIT ?`,
}

// readStmts are prepared on the read pool.
type readStmts struct {
	head, streams, idemGet      *sql.Stmt
	meta, idemList, checkpoints *sql.Stmt
	events                      eventReads
}

// eventReads holds the event queries prepared at the driver's level, per
// connection of the read pool (database/sql's Stmt cannot hand out the
// driver's rows). database/sql lends a connection to one caller at a time
// (Conn.Raw), so a connection's statements are never used concurrently;
// close waits for the reads in flight, then closes them.
type eventReads struct {
	mu     sync.RWMutex // read-held by each read, held by close
	closed bool
	smu    sync.Mutex // guards byConn
	byConn map[any]*[len(eventQueries)]driver.Stmt
}

// stmt is query q prepared on the driver connection dc (prepared on
// first use). The caller holds mu for reading.
func (er *eventReads) stmt(ctx context.Context, dc any, q int) (driver.StmtQueryContext, error) {
	er.smu.Lock()
	stmts := er.byConn[dc]
	if stmts == nil {
		if er.byConn == nil {
			er.byConn = map[any]*[len(eventQueries)]driver.Stmt{}
		}
		stmts = new([len(eventQueries)]driver.Stmt)
		er.byConn[dc] = stmts
	}
	er.smu.Unlock()
	if stmts[q] == nil {
		pc, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return nil, fmt.Errorf("the driver's connection (%T) cannot prepare with a context", dc)
		}
		st, err := pc.PrepareContext(ctx, eventQueries[q])
		if err != nil {
			return nil, err
		}
		stmts[q] = st
	}
	st, ok := stmts[q].(driver.StmtQueryContext)
	if !ok {
		return nil, fmt.Errorf("the driver's statement (%T) cannot query with a context", stmts[q])
	}
	return st, nil
}

// close closes the prepared statements once no read is in flight; later
// reads fail with ErrClosed.
func (er *eventReads) close() error {
	er.mu.Lock()
	defer er.mu.Unlock()
	er.closed = true
	var errs []error
	for _, stmts := range er.byConn {
		for _, st := range stmts {
			if st != nil {
				errs = append(errs, closeDriverStmt(st))
			}
		}
	}
	er.byConn = nil
	return errors.Join(errs...)
}

// closeDriverStmt closes st. A statement whose connection database/sql
// already closed (idle, or reported bad by the driver) went with its
// connection; closing it again panics in the driver, which is not an
// error of this close.
func closeDriverStmt(st driver.Stmt) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = nil
		}
	}()
	return st.Close()
}

func (r *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&r.head, `SELECT COALESCE(MAX(position), 0) FROM events`},
		{&r.streams, `SELECT stream_id, stream_type, version, last_hash FROM streams
			WHERE stream_id > ? ORDER BY stream_id LIMIT ?`},
		{&r.idemGet, "SELECT fingerprint, result FROM idempotency WHERE key = ?"},
		{&r.meta, "SELECT name, value FROM audit_meta"},
		{&r.idemList, "SELECT key, fingerprint, result, mac FROM idempotency WHERE key > ? ORDER BY key LIMIT ?"},
		{&r.checkpoints, `SELECT store_id, position, log_hash, taken_at, reason, mac FROM checkpoints
			WHERE (position, taken_at, mac) > (?, ?, ?) ORDER BY position, taken_at, mac LIMIT ?`},
	} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = st
	}
	return nil
}

func (r *readStmts) close() error {
	return errors.Join(r.events.close(), closeStmts(r.head, r.streams, r.idemGet, r.meta, r.idemList, r.checkpoints))
}

// row is an events row as scanned, before decoding (see encoding.go for
// the stored forms).
type row struct {
	position, version, schemaVersion, recordedAt     int64
	streamID, streamType, typ                        string
	eventID, prevHash, hash, logHash, metadata, data col
}

// decodeRow turns a stored row into the envelope. Data is returned as stored
// (Verify, not the reader, judges whether it was changed).
//
// Strings the driver returns as strings are used as they are, and so is
// the data's value: the driver copies every text and blob value into a
// fresh Go buffer of its own for each row (modernc.org/sqlite; pinned by
// TestTheDriverHandsOverAFreshBufferPerValue), so the event's Data can be
// that buffer rather than a second copy. What this function makes (the
// text of the event id, the hashes and the binary metadata) shares one
// allocation per event, which is never written again (so it can back
// strings).
func decodeRow(r *row) (eventstore.RecordedEvent, error) {
	var e eventstore.RecordedEvent
	if r.schemaVersion < math.MinInt32 || r.schemaVersion > math.MaxInt32 {
		return e, fmt.Errorf("decode event at position %d: schema version %d out of range", r.position, r.schemaVersion)
	}
	text := r.eventID.textLen() + r.prevHash.textLen() + r.hash.textLen() + r.logHash.textLen()
	if r.metadata.blob {
		text += len(r.metadata.b)
	}
	t := textArena{buf: make([]byte, 0, text)}
	id, prev, hash, logHash := t.add(&r.eventID, true), t.add(&r.prevHash, false), t.add(&r.hash, false), t.add(&r.logHash, false)
	var metaAt int
	if r.metadata.blob {
		metaAt = len(t.buf) - t.start
		t.buf = append(t.buf, r.metadata.b...)
	}
	str := t.done()
	e = eventstore.RecordedEvent{
		EventID:       id.get(str),
		StreamID:      r.streamID,
		StreamType:    r.streamType,
		Version:       r.version,
		Position:      r.position,
		Type:          r.typ,
		SchemaVersion: int(r.schemaVersion),
		Data:          r.data.owned(),
		RecordedAt:    time.UnixMilli(r.recordedAt).UTC(),
		PrevHash:      prev.get(str),
		Hash:          hash.get(str),
		LogHash:       logHash.get(str),
	}
	var err error
	if r.metadata.blob {
		e.Metadata, err = decodeMetadataBinary(r.metadata.b, str[metaAt:metaAt+len(r.metadata.b)])
	} else {
		e.Metadata, err = r.metadata.metadata()
	}
	if err != nil {
		return e, fmt.Errorf("decode event at position %d: metadata: %w", r.position, err)
	}
	return e, nil
}

// queryEvents runs an events query (eventColumns) on a connection of the
// read pool at the driver's level: the driver's values go to decodeRow
// as they are, without database/sql's per-column conversions (a catch-up
// reads millions of rows; see decision 97).
func (s *Store) queryEvents(ctx context.Context, q int, capHint int, args ...any) ([]eventstore.RecordedEvent, error) {
	er := &s.r.events
	er.mu.RLock()
	defer er.mu.RUnlock()
	if er.closed {
		return nil, ErrClosed
	}
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	c, err := s.rdb.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []eventstore.RecordedEvent
	err = c.Raw(func(dc any) error {
		st, err := er.stmt(ctx, dc, q)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = make([]eventstore.RecordedEvent, 0, capHint)
		vals := make([]driver.Value, 13)
		var r row
		for {
			if err := rows.Next(vals); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			if err := r.from(vals); err != nil {
				return err
			}
			e, err := decodeRow(&r)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// from takes a row's values from the driver (in eventColumns order).
func (r *row) from(v []driver.Value) error {
	ints := [...]struct {
		dst *int64
		i   int
	}{{&r.position, 0}, {&r.version, 4}, {&r.schemaVersion, 6}, {&r.recordedAt, 9}}
	for _, f := range ints {
		n, ok := v[f.i].(int64)
		if !ok {
			return fmt.Errorf("events column %d: stored %T, want an integer", f.i, v[f.i])
		}
		*f.dst = n
	}
	texts := [...]struct {
		dst *string
		i   int
	}{{&r.streamID, 2}, {&r.streamType, 3}, {&r.typ, 5}}
	for _, f := range texts {
		t, ok := v[f.i].(string)
		if !ok {
			return fmt.Errorf("events column %d: stored %T, want text", f.i, v[f.i])
		}
		*f.dst = t
	}
	for _, f := range [...]struct {
		dst *col
		i   int
	}{{&r.eventID, 1}, {&r.data, 7}, {&r.metadata, 8}, {&r.prevHash, 10}, {&r.hash, 11}, {&r.logHash, 12}} {
		if err := f.dst.Scan(v[f.i]); err != nil {
			return fmt.Errorf("events column %d: %w", f.i, err)
		}
	}
	return nil
}

// ReadStream implements eventstore.Store. Since recorded_at never decreases
// in position order, Until always yields a prefix of the stream.
func (s *Store) ReadStream(ctx context.Context, streamID string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error) {
	from, to, until := max(opts.FromVersion, 1), int64(math.MaxInt64), int64(math.MaxInt64)
	if opts.ToVersion > 0 {
		to = opts.ToVersion
	}
	if !opts.Until.IsZero() {
		until = opts.Until.UnixMilli()
	}
	evs, err := s.queryEvents(ctx, readStreamQ, 16, streamID, from, to, until)
	if err != nil {
		return nil, fmt.Errorf("read stream %q: %w", streamID, unavailable(err))
	}
	return evs, nil
}

// ReadAll implements eventstore.Store; limit <= 0 means no limit.
func (s *Store) ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.RecordedEvent, error) {
	lim, capHint := int64(limit), min(limit, 1024)
	if limit <= 0 {
		lim, capHint = -1, 64
	}
	if err := s.checkFile(); err != nil {
		return nil, fmt.Errorf("read all after %d: %w", after, err)
	}
	evs, err := s.queryEvents(ctx, readAllQ, capHint, after, lim)
	if err != nil {
		return nil, fmt.Errorf("read all after %d: %w", after, unavailable(err))
	}
	return evs, nil
}

// HeadPosition implements eventstore.Store.
func (s *Store) HeadPosition(ctx context.Context) (int64, error) {
	if err := s.checkFile(); err != nil {
		return 0, fmt.Errorf("head position: %w", err)
	}
	var head int64
	if err := s.r.head.QueryRowContext(ctx).Scan(&head); err != nil {
		return 0, fmt.Errorf("head position: %w", unavailable(err))
	}
	return head, nil
}

// Streams implements eventstore.Store; limit <= 0 means no limit.
func (s *Store) Streams(ctx context.Context, after string, limit int) ([]eventstore.StreamInfo, error) {
	lim := int64(limit)
	if limit <= 0 {
		lim = -1
	}
	rows, err := s.r.streams.QueryContext(ctx, after, lim)
	if err != nil {
		return nil, fmt.Errorf("list streams after %q: %w", after, unavailable(err))
	}
	defer rows.Close()
	var out []eventstore.StreamInfo
	for rows.Next() {
		var si eventstore.StreamInfo
		if err := rows.Scan(&si.StreamID, &si.StreamType, &si.Version, &si.LastHash); err != nil {
			return nil, fmt.Errorf("list streams after %q: %w", after, unavailable(err))
		}
		out = append(out, si)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list streams after %q: %w", after, unavailable(err))
	}
	return out, nil
}

// WaitForAppend implements eventstore.Store: appends through this Store wake
// it at once; appends by other processes are seen within PollInterval.
func (s *Store) WaitForAppend(ctx context.Context, after int64) error {
	var poll *time.Timer
	for {
		select {
		case <-s.closed:
			return ErrClosed
		default:
		}
		woken := s.appended.wait() // before checking, so no wake-up is lost
		if s.committed.Load() > after {
			return nil
		}
		head, err := s.HeadPosition(ctx)
		if err != nil {
			return fmt.Errorf("wait for append: %w", unavailable(err))
		}
		if head > after {
			return nil
		}
		if poll == nil {
			poll = time.NewTimer(s.opts.PollInterval)
			defer poll.Stop()
		} else {
			poll.Reset(s.opts.PollInterval)
		}
		select {
		case <-woken:
		case <-poll.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return ErrClosed
		}
	}
}
