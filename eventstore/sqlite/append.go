package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const insertEventSQL = `INSERT INTO events (position, event_id, stream_id, stream_type, version, type,
	schema_version, data, metadata, recorded_at, prev_hash, hash, log_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`

// insertChunk is how many events one INSERT statement writes: a batch is
// inserted in ceil(n/insertChunk) statements rather than n, which saves the
// per-statement cost of database/sql and the driver.
const insertChunk = 32

// insertEventsSQL inserts n rows.
func insertEventsSQL(n int) string {
	return insertEventSQL + strings.Repeat(",(?,?,?,?,?,?,?,?,?,?,?,?,?)", n-1)
}

// writeStmts are prepared once on the write connection.
type writeStmts struct {
	begin, commit, rollback *sql.Stmt
	savepoint, rollbackTo   *sql.Stmt
	releaseSavepoint        *sql.Stmt
	idemGet, idemPut        *sql.Stmt
	heads, streamPut        *sql.Stmt
	inserts                 [insertChunk]*sql.Stmt // inserts[n-1] writes n rows; prepared on first use

	conn *sql.Conn
	args []any // reused argument buffer (used under the write lock only)
}

func (w *writeStmts) prepare(ctx context.Context, c *sql.Conn) error {
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&w.begin, "BEGIN IMMEDIATE"},
		{&w.commit, "COMMIT"},
		{&w.rollback, "ROLLBACK"},
		{&w.savepoint, "SAVEPOINT append"},
		{&w.rollbackTo, "ROLLBACK TO append"},
		{&w.releaseSavepoint, "RELEASE append"},
		{&w.idemGet, "SELECT fingerprint, result FROM idempotency WHERE key = ?"},
		{&w.idemPut, "INSERT INTO idempotency (key, fingerprint, result, created_at, mac) VALUES (?,?,?,?,?)"},
		// One row: the stream's head (NULLs for a new stream) and the log's.
		{&w.heads, `SELECT s.stream_type, s.version, s.last_hash, h.position, h.recorded_at, h.log_hash FROM (SELECT 1)
			LEFT JOIN streams s ON s.stream_id = ?
			LEFT JOIN (SELECT position, recorded_at, log_hash FROM events ORDER BY position DESC LIMIT 1) h`},
		{&w.streamPut, `INSERT INTO streams (stream_id, stream_type, version, last_hash) VALUES (?,?,?,?)
			ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_hash = excluded.last_hash`},
	} {
		st, err := c.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = st
	}
	w.conn = c
	return nil
}

// insert returns the statement inserting n events (1 <= n <= insertChunk).
func (w *writeStmts) insert(ctx context.Context, n int) (*sql.Stmt, error) {
	if st := w.inserts[n-1]; st != nil {
		return st, nil
	}
	st, err := w.conn.PrepareContext(ctx, insertEventsSQL(n))
	if err != nil {
		return nil, fmt.Errorf("prepare insert of %d events: %w", n, err)
	}
	w.inserts[n-1] = st
	return st, nil
}

func (w *writeStmts) close() error {
	return closeStmts(append([]*sql.Stmt{w.begin, w.commit, w.rollback, w.savepoint, w.rollbackTo, w.releaseSavepoint, w.idemGet, w.idemPut, w.heads, w.streamPut}, w.inserts[:]...)...)
}

func closeStmts(stmts ...*sql.Stmt) error {
	var errs []error
	for _, st := range stmts {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// appendTx does the work inside the transaction. write is false when nothing
// must be committed (an idempotent duplicate).
func (s *Store) appendTx(ctx context.Context, req eventstore.AppendRequest) (res eventstore.AppendResult, write bool, err error) {
	key := req.Idempotency.Key
	if key != "" {
		var fp, stored string
		err := s.w.idemGet.QueryRowContext(ctx, key).Scan(&fp, &stored)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return res, false, fmt.Errorf("append to %q: idempotency lookup: %w", req.StreamID, err)
		case fp != req.Idempotency.Fingerprint:
			return res, false, fmt.Errorf("%w: key %q", eventstore.ErrIdempotencyMismatch, key)
		default:
			res, err := decodeResult([]byte(stored))
			if err != nil {
				return res, false, fmt.Errorf("append to %q: idempotency key %q: %w", req.StreamID, key, err)
			}
			res.Duplicate = true
			return res, false, nil
		}
	}

	var (
		streamType, lastHash, lastLog sql.NullString
		current, head, headAt         sql.NullInt64
	)
	if err := s.w.heads.QueryRowContext(ctx, req.StreamID).Scan(&streamType, &current, &lastHash, &head, &headAt, &lastLog); err != nil {
		return res, false, fmt.Errorf("append to %q: read heads: %w", req.StreamID, err)
	}
	if !req.Expected.Satisfied(current.Int64) {
		return res, false, &eventstore.ConflictError{StreamID: req.StreamID, Expected: req.Expected, Current: current.Int64}
	}
	if current.Int64 > 0 && streamType.String != req.StreamType {
		return res, false, fmt.Errorf("%w: stream %q has type %q, not %q", eventstore.ErrInvalidAppend, req.StreamID, streamType.String, req.StreamType)
	}

	// recorded_at never goes backwards in position order, so an as-of read
	// (Until) always returns a prefix of every stream.
	now := time.Now()
	if floor := time.UnixMilli(headAt.Int64); now.Before(floor) {
		now = floor
	}
	events, err := eventstore.Prepare(req, current.Int64, lastHash.String, now)
	if err != nil {
		return res, false, fmt.Errorf("append to %q: %w", req.StreamID, err)
	}
	meta, err := json.Marshal(req.Metadata)
	if err != nil {
		return res, false, fmt.Errorf("append to %q: encode metadata: %w", req.StreamID, err)
	}
	res = eventstore.AppendResult{
		StreamID:  req.StreamID,
		Version:   current.Int64 + int64(len(events)),
		Positions: make([]int64, len(events)),
		EventIDs:  make([]string, len(events)),
	}
	s.sequence(events, head.Int64, lastLog.String)
	for i := range events {
		res.Positions[i] = events[i].Position
		res.EventIDs[i] = events[i].EventID
	}
	for start := 0; start < len(events); start += insertChunk {
		end := min(start+insertChunk, len(events))
		if err := s.insertEvents(ctx, events[start:end], string(meta)); err != nil {
			return res, false, s.classifyInsert(ctx, err, events[:end], start)
		}
	}
	last := events[len(events)-1]
	if _, err := s.w.streamPut.ExecContext(ctx, req.StreamID, req.StreamType, last.Version, last.Hash); err != nil {
		return res, false, fmt.Errorf("append to %q: update stream head: %w", req.StreamID, err)
	}
	if key != "" {
		stored, err := json.Marshal(res)
		if err != nil {
			return res, false, fmt.Errorf("append to %q: encode result: %w", req.StreamID, err)
		}
		mac := eventstore.IdempotencyMAC(s.opts.AuditKey, key, req.Idempotency.Fingerprint, res)
		if _, err := s.w.idemPut.ExecContext(ctx, key, req.Idempotency.Fingerprint, string(stored), now.UnixMilli(), mac); err != nil {
			return res, false, fmt.Errorf("append to %q: store idempotency key: %w", req.StreamID, err)
		}
	}
	return res, true, nil
}

// sequence gives events the positions after head and links each into the
// global chain after lastLog, the log hash at head. It is the one place
// where this adapter assigns positions and log hashes: a write that
// appends to several streams at once must call it once, over all its
// events in position order.
func (s *Store) sequence(events []eventstore.RecordedEvent, head int64, lastLog string) {
	prev := lastLog
	for i := range events {
		e := &events[i]
		e.Position = head + int64(i) + 1
		e.LogHash = s.logHasher.Next(prev, e.Position, e.Hash)
		prev = e.LogHash
	}
}

// insertEvents writes up to insertChunk events in one statement.
func (s *Store) insertEvents(ctx context.Context, events []eventstore.RecordedEvent, meta string) error {
	st, err := s.w.insert(ctx, len(events))
	if err != nil {
		return err
	}
	args := s.w.args[:0]
	for i := range events {
		e := &events[i]
		args = append(args, e.Position, e.EventID, e.StreamID, e.StreamType, e.Version, e.Type,
			e.SchemaVersion, string(e.Data), meta, e.RecordedAt.UnixMilli(), e.PrevHash, e.Hash, e.LogHash)
	}
	_, err = st.ExecContext(ctx, args...)
	clear(args) // keep no event alive
	s.w.args = args[:0]
	return err
}

// classifyInsert maps constraint violations of the inserts onto the port's
// errors. A reused event id is the caller's mistake (ErrInvalidAppend:
// retrying cannot help); a taken (stream_id, version) means the streams head
// is behind the events table, which only a writer bypassing this store can
// cause, and is reported as a conflict. events[failed:] are the rows of the
// failed statement, events[:failed] were inserted before it.
func (s *Store) classifyInsert(ctx context.Context, err error, events []eventstore.RecordedEvent, failed int) error {
	stream := events[0].StreamID
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		msg := se.Error()
		switch {
		case strings.Contains(msg, "events.event_id"):
			return fmt.Errorf("%w: %s: %w", eventstore.ErrInvalidAppend, s.duplicateID(ctx, events, failed), err)
		case strings.Contains(msg, "events.stream_id"):
			return fmt.Errorf("%w: stream %q: a version of %d..%d is already stored (stream head out of sync): %w",
				eventstore.ErrConflict, stream, events[failed].Version, events[len(events)-1].Version, err)
		}
	}
	return fmt.Errorf("append to %q: insert events: %w", stream, err)
}

// duplicateID names the event id that made the insert of events[failed:]
// fail (error path only; the failed statement has been undone, the
// transaction is still open).
func (s *Store) duplicateID(ctx context.Context, events []eventstore.RecordedEvent, failed int) string {
	seen := make(map[string]bool, len(events))
	for i, e := range events {
		if seen[e.EventID] {
			return fmt.Sprintf("event %d: event id %q repeated in the batch", i, e.EventID)
		}
		seen[e.EventID] = true
	}
	for i, e := range events[failed:] {
		var one int
		if err := s.w.conn.QueryRowContext(ctx, "SELECT 1 FROM events WHERE event_id = ?", e.EventID).Scan(&one); err == nil {
			return fmt.Sprintf("event %d: event id %q already stored", failed+i, e.EventID)
		}
	}
	return "duplicate event id"
}

func decodeResult(b []byte) (eventstore.AppendResult, error) {
	var res eventstore.AppendResult
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("decode stored result: %w", err)
	}
	if len(res.Positions) != len(res.EventIDs) {
		return eventstore.AppendResult{}, fmt.Errorf("decode stored result: %d positions for %d event ids", len(res.Positions), len(res.EventIDs))
	}
	return res, nil
}

// LookupIdempotency implements eventstore.Store.
func (s *Store) LookupIdempotency(ctx context.Context, key string) (eventstore.AppendResult, string, bool, error) {
	var fp, stored string
	err := s.r.idemGet.QueryRowContext(ctx, key).Scan(&fp, &stored)
	if errors.Is(err, sql.ErrNoRows) {
		return eventstore.AppendResult{}, "", false, nil
	}
	if err != nil {
		return eventstore.AppendResult{}, "", false, fmt.Errorf("lookup idempotency key %q: %w", key, unavailable(err))
	}
	res, err := decodeResult([]byte(stored))
	if err != nil {
		return eventstore.AppendResult{}, "", false, fmt.Errorf("lookup idempotency key %q: %w", key, err)
	}
	return res, fp, true, nil
}
