package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/cspm-es/cspm-es/eventstore"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const insertEventSQL = `INSERT INTO events (position, event_id, stream_id, stream_type, version, type,
	schema_version, data, metadata, recorded_at, prev_hash, hash, log_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`

// insertEventColumns are the columns an event row binds, in the order
// appendEventArgs gives their values.
var insertEventColumns = []string{"position", "event_id", "stream_id", "stream_type", "version", "type",
	"schema_version", "data", "metadata", "recorded_at", "prev_hash", "hash", "log_hash"}

// appendEventArgs appends the values of e's row in the order of
// insertEventColumns, in their stored forms (encoding.go; meta is the
// encoded metadata, buf an arena for the hashes' bytes).
//
// The data is bound as a string viewing e.Data's bytes (no copy): the
// driver copies a bound text into SQLite before Exec returns, and the
// arguments are cleared after each statement (execRows), so the string
// does not outlive the statement, and nothing writes to e.Data meanwhile.
func appendEventArgs(args []any, e *eventstore.RecordedEvent, meta []byte, buf *[]byte) []any {
	data := ""
	if len(e.Data) > 0 {
		data = unsafe.String(&e.Data[0], len(e.Data))
	}
	return append(args, e.Position, uuidValue(e.EventID), e.StreamID, e.StreamType, e.Version, e.Type,
		e.SchemaVersion, data, meta, e.RecordedAt.UnixMilli(),
		hashValue(e.PrevHash, buf), hashValue(e.Hash, buf), hashValue(e.LogHash, buf))
}

// insertChunk is how many events one INSERT statement writes: a batch is
// inserted in ceil(n/insertChunk) statements rather than n, which saves the
// per-statement cost of database/sql and the driver.
const insertChunk = 128

// headsChunk and idemChunk are the rows of one stream-head upsert and of
// one idempotency insert.
const (
	headsChunk = 64
	idemChunk  = 32
)

// insertEventsSQL inserts n rows.
func insertEventsSQL(n int) string {
	return insertEventSQL + strings.Repeat(",(?,?,?,?,?,?,?,?,?,?,?,?,?)", n-1)
}

// multiRow is a statement writing 1..chunk rows of the same shape,
// prepared on the write connection on first use for each row count.
type multiRow struct {
	prefix, row, suffix string
	stmts               []*sql.Stmt // stmts[n-1] writes n rows
}

func newMultiRow(prefix, row, suffix string, chunk int) multiRow {
	return multiRow{prefix: prefix, row: row, suffix: suffix, stmts: make([]*sql.Stmt, chunk)}
}

func (m *multiRow) chunk() int { return len(m.stmts) }

func (m *multiRow) sql(n int) string {
	return m.prefix + m.row + strings.Repeat(","+m.row, n-1) + m.suffix
}

// stmt returns the statement writing n rows (1 <= n <= chunk).
func (m *multiRow) stmt(ctx context.Context, c *sql.Conn, n int) (*sql.Stmt, error) {
	if st := m.stmts[n-1]; st != nil {
		return st, nil
	}
	st, err := c.PrepareContext(ctx, m.sql(n))
	if err != nil {
		return nil, fmt.Errorf("prepare a write of %d rows: %w", n, err)
	}
	m.stmts[n-1] = st
	return st, nil
}

// writeStmts are prepared once on the write connection.
type writeStmts struct {
	begin, commit, rollback *sql.Stmt
	savepoint, rollbackTo   *sql.Stmt
	releaseSavepoint        *sql.Stmt
	idemGet, idemGetMany    *sql.Stmt
	heads, headsMany, log   *sql.Stmt

	inserts, streamPuts, idemPuts multiRow

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
		{&w.idemGet, "SELECT key, fingerprint, result FROM idempotency WHERE key = ?"},
		// The keys of a batch, as one JSON array.
		{&w.idemGetMany, "SELECT key, fingerprint, result FROM idempotency WHERE key IN (SELECT value FROM json_each(?))"},
		// One row: the stream's head (NULLs for a new stream) and the log's.
		{&w.heads, `SELECT s.stream_id, s.stream_type, s.version, s.last_hash, h.position, h.recorded_at, h.log_hash FROM (SELECT 1)
			LEFT JOIN streams s ON s.stream_id = ?
			LEFT JOIN (SELECT position, recorded_at, log_hash FROM events ORDER BY position DESC LIMIT 1) h`},
		// The heads of a batch's streams (a JSON array), and the log's.
		{&w.headsMany, `SELECT stream_id, stream_type, version, last_hash FROM streams
			WHERE stream_id IN (SELECT value FROM json_each(?))`},
		{&w.log, "SELECT position, recorded_at, log_hash FROM events ORDER BY position DESC LIMIT 1"},
	} {
		st, err := c.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = st
	}
	w.inserts = newMultiRow(insertEventSQL[:strings.Index(insertEventSQL, "(?")], "(?,?,?,?,?,?,?,?,?,?,?,?,?)", "", insertChunk)
	w.streamPuts = newMultiRow("INSERT INTO streams (stream_id, stream_type, version, last_hash) VALUES ", "(?,?,?,?)",
		" ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_hash = excluded.last_hash", headsChunk)
	w.idemPuts = newMultiRow("INSERT INTO idempotency (key, fingerprint, result, created_at, mac) VALUES ", "(?,?,?,?,?)", "", idemChunk)
	w.conn = c
	return nil
}

func (w *writeStmts) close() error {
	stmts := []*sql.Stmt{w.begin, w.commit, w.rollback, w.savepoint, w.rollbackTo, w.releaseSavepoint,
		w.idemGet, w.idemGetMany, w.heads, w.headsMany, w.log}
	for _, m := range []multiRow{w.inserts, w.streamPuts, w.idemPuts} {
		stmts = append(stmts, m.stmts...)
	}
	return closeStmts(stmts...)
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

// execRows runs m over rows (each a slice of m's columns), chunk rows per
// statement, through the reused argument buffer.
func (s *Store) execRows(ctx context.Context, m *multiRow, n int, row func(i int, args []any) []any) error {
	for start := 0; start < n; start += m.chunk() {
		end := min(start+m.chunk(), n)
		st, err := m.stmt(ctx, s.w.conn, end-start)
		if err != nil {
			return err
		}
		args := s.w.args[:0]
		for i := start; i < end; i++ {
			args = row(i, args)
		}
		_, err = st.ExecContext(ctx, args...)
		clear(args) // keep nothing alive
		s.w.args = args[:0]
		if err != nil {
			return err
		}
	}
	return nil
}

// logHead is the last event of the log, as the writer reads it.
type logHead struct {
	position, recordedAt sql.NullInt64
	logHash              col // '' when the log is empty
}

// appendTx does the work of one call (an Append, or an AppendBatch)
// inside the transaction: it looks up the batch's idempotency keys, plans
// it (eventstore.PlanBatch: duplicates, expectations, events), gives its
// events their positions and log hashes in request order (sequence), and
// writes the events, the stream heads and the idempotency records, each
// with multi-row statements. write is false when nothing must be committed
// (every request is an idempotent duplicate).
func (s *Store) appendTx(ctx context.Context, reqs []eventstore.AppendRequest) (res []eventstore.AppendResult, write bool, err error) {
	stored, err := s.lookupKeys(ctx, reqs)
	if err != nil {
		return nil, false, err
	}
	fps := make(map[string]string, len(stored))
	for k, r := range stored {
		fps[k] = r.fingerprint
	}
	var log logHead
	plan, err := eventstore.PlanBatch(reqs, fps, func(streams []string) (map[string]eventstore.StreamHead, time.Time, error) {
		heads, err := s.readHeads(ctx, streams, &log)
		// recorded_at never goes backwards in position order, so an
		// as-of read (Until) always returns a prefix of every stream.
		now := time.Now()
		if floor := time.UnixMilli(log.recordedAt.Int64); now.Before(floor) {
			now = floor
		}
		return heads, now, err
	})
	if err != nil {
		return nil, false, err
	}

	var positions []int64
	if plan.Writes() {
		s.sequence(plan.Events, log.position.Int64, log.logHash.hash())
		positions = make([]int64, len(plan.Events))
		for i := range plan.Events {
			positions[i] = plan.Events[i].Position
		}
	}
	res = make([]eventstore.AppendResult, len(reqs))
	for i, r := range reqs {
		if plan.Requests[i].Stored {
			res[i] = stored[r.Idempotency.Key].result
			res[i].Duplicate = true
			continue
		}
		res[i] = plan.Result(reqs, i, positions)
	}
	if !plan.Writes() {
		return res, false, nil
	}
	if err := s.writePlan(ctx, reqs, plan, res); err != nil {
		return nil, false, err
	}
	return res, true, nil
}

// writePlan inserts a planned batch: its events (one metadata document per
// request), its streams' heads (one upsert per stream, at its last version)
// and the idempotency records of its appending requests, with their MACs.
func (s *Store) writePlan(ctx context.Context, reqs []eventstore.AppendRequest, plan *eventstore.BatchPlan, res []eventstore.AppendResult) error {
	metas := make([][]byte, len(plan.Events)) // by event: its request's metadata
	var (
		last    eventstore.Metadata // the metadata last encoded (requests of a batch often share it)
		encoded []byte
	)
	for i, pr := range plan.Requests {
		if !pr.Appends() {
			continue
		}
		if m := reqs[i].Metadata; encoded == nil || !sameMetadata(m, last) {
			enc, err := encodeMetadata(m)
			if err != nil {
				return fmt.Errorf("append to %q: encode metadata: %w", reqs[i].StreamID, err)
			}
			last, encoded = m, enc
		}
		for k := pr.First; k < pr.First+pr.Count; k++ {
			metas[k] = encoded
		}
	}
	evs := plan.Events
	for start := 0; start < len(evs); start += insertChunk {
		end := min(start+insertChunk, len(evs))
		if err := s.insertEvents(ctx, evs[start:end], metas[start:end]); err != nil {
			return s.classifyInsert(ctx, err, evs[:end], start)
		}
	}
	heads := plan.Heads
	err := s.execRows(ctx, &s.w.streamPuts, len(heads), func(i int, args []any) []any {
		h := heads[i].After
		return append(args, h.StreamID, h.StreamType, h.Version, h.LastHash)
	})
	if err != nil {
		return fmt.Errorf("%s: update stream heads: %w", describe(reqs), err)
	}
	type idem struct{ key, fp, result, mac string }
	var recs []idem
	for i, r := range reqs {
		if key := r.Idempotency.Key; key != "" && plan.Requests[i].Appends() {
			stored, err := json.Marshal(res[i])
			if err != nil {
				return fmt.Errorf("append to %q: encode result: %w", r.StreamID, err)
			}
			mac := eventstore.IdempotencyMAC(s.opts.AuditKey, key, r.Idempotency.Fingerprint, res[i])
			recs = append(recs, idem{key, r.Idempotency.Fingerprint, string(stored), mac})
		}
	}
	createdAt := plan.RecordedAt.UnixMilli()
	err = s.execRows(ctx, &s.w.idemPuts, len(recs), func(i int, args []any) []any {
		return append(args, recs[i].key, recs[i].fp, recs[i].result, createdAt, recs[i].mac)
	})
	if err != nil {
		return fmt.Errorf("%s: store idempotency keys: %w", describe(reqs), err)
	}
	return nil
}

// sameMetadata compares the metadata of two appends (validated: no Extra).
func sameMetadata(a, b eventstore.Metadata) bool {
	return a.TeamID == b.TeamID && a.Actor == b.Actor && a.CorrelationID == b.CorrelationID &&
		a.CausationID == b.CausationID && a.CommandID == b.CommandID && a.Route == b.Route &&
		a.IdempotencyKey == b.IdempotencyKey
}

// describe names what a call appends, for error messages.
func describe(reqs []eventstore.AppendRequest) string {
	if len(reqs) == 1 {
		return fmt.Sprintf("append to %q", reqs[0].StreamID)
	}
	return fmt.Sprintf("append batch of %d requests", len(reqs))
}

// storedOutcome is an idempotency record as the writer reads it.
type storedOutcome struct {
	fingerprint string
	result      eventstore.AppendResult
}

// lookupKeys reads the stored idempotency records of the batch's keys
// (one statement however many keys).
func (s *Store) lookupKeys(ctx context.Context, reqs []eventstore.AppendRequest) (map[string]storedOutcome, error) {
	var keys []string
	for _, r := range reqs {
		if r.Idempotency.Key != "" {
			keys = append(keys, r.Idempotency.Key)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	var (
		rows *sql.Rows
		err  error
	)
	if len(keys) == 1 {
		rows, err = s.w.idemGet.QueryContext(ctx, keys[0])
	} else {
		var list []byte
		if list, err = json.Marshal(keys); err == nil {
			rows, err = s.w.idemGetMany.QueryContext(ctx, string(list))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: idempotency lookup: %w", describe(reqs), err)
	}
	defer rows.Close()
	out := map[string]storedOutcome{}
	for rows.Next() {
		var key, fp, stored string
		if err := rows.Scan(&key, &fp, &stored); err != nil {
			return nil, fmt.Errorf("%s: idempotency lookup: %w", describe(reqs), err)
		}
		res, err := decodeResult([]byte(stored))
		if err != nil {
			return nil, fmt.Errorf("%s: idempotency key %q: %w", describe(reqs), key, err)
		}
		out[key] = storedOutcome{fingerprint: fp, result: res}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: idempotency lookup: %w", describe(reqs), err)
	}
	return out, nil
}

// readHeads reads the heads of streams and the log's head (into log): one
// statement for one stream, two for several.
func (s *Store) readHeads(ctx context.Context, streams []string, log *logHead) (map[string]eventstore.StreamHead, error) {
	heads := make(map[string]eventstore.StreamHead, len(streams))
	if len(streams) == 1 {
		var id, streamType, lastHash sql.NullString
		var version sql.NullInt64
		err := s.w.heads.QueryRowContext(ctx, streams[0]).Scan(&id, &streamType, &version, &lastHash, &log.position, &log.recordedAt, &log.logHash)
		if err != nil {
			return nil, fmt.Errorf("append to %q: read heads: %w", streams[0], err)
		}
		if id.Valid {
			heads[id.String] = eventstore.StreamHead{StreamType: streamType.String, Version: version.Int64, LastHash: lastHash.String}
		}
		return heads, nil
	}
	fail := func(err error) error {
		return fmt.Errorf("append batch to %d streams: read heads: %w", len(streams), err)
	}
	err := s.w.log.QueryRowContext(ctx).Scan(&log.position, &log.recordedAt, &log.logHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fail(err)
	}
	list, err := json.Marshal(streams)
	if err != nil {
		return nil, fail(err)
	}
	rows, err := s.w.headsMany.QueryContext(ctx, string(list))
	if err != nil {
		return nil, fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var h eventstore.StreamHead
		if err := rows.Scan(&id, &h.StreamType, &h.Version, &h.LastHash); err != nil {
			return nil, fail(err)
		}
		heads[id] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fail(err)
	}
	return heads, nil
}

// sequence gives events the positions after head and links each into the
// global chain after lastLog, the log hash at head. It is the one place
// where this adapter assigns positions and log hashes: a write that
// appends to several streams at once (AppendBatch) calls it once, over all
// its events in position order.
func (s *Store) sequence(events []eventstore.RecordedEvent, head int64, lastLog string) {
	prev := lastLog
	for i := range events {
		e := &events[i]
		e.Position = head + int64(i) + 1
		e.LogHash = s.logHasher.Next(prev, e.Position, e.Hash)
		prev = e.LogHash
	}
}

// insertEvents writes up to insertChunk events in one statement; metas[i]
// is events[i]'s stored metadata.
func (s *Store) insertEvents(ctx context.Context, events []eventstore.RecordedEvent, metas [][]byte) error {
	buf := make([]byte, 0, 3*32*len(events)) // the hashes' bytes
	return s.execRows(ctx, &s.w.inserts, len(events), func(i int, args []any) []any {
		return appendEventArgs(args, &events[i], metas[i], &buf)
	})
}

// classifyInsert maps constraint violations of the inserts onto the port's
// errors. A reused event id is the caller's mistake (ErrInvalidAppend:
// retrying cannot help); a taken (stream_id, version) means the streams head
// is behind the events table, which only a writer bypassing this store can
// cause, and is reported as a conflict. events[failed:] are the rows of the
// failed statement, events[:failed] were inserted before it.
func (s *Store) classifyInsert(ctx context.Context, err error, events []eventstore.RecordedEvent, failed int) error {
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		msg := se.Error()
		switch {
		case strings.Contains(msg, "events.event_id"):
			return fmt.Errorf("%w: %s: %w", eventstore.ErrInvalidAppend, s.duplicateID(ctx, events, failed), err)
		case strings.Contains(msg, "events.stream_id"):
			var taken []string
			for _, e := range events[failed:] {
				taken = append(taken, fmt.Sprintf("%s@%d", e.StreamID, e.Version))
			}
			return fmt.Errorf("%w: one of the versions %s is already stored (stream head out of sync): %w",
				eventstore.ErrConflict, strings.Join(taken, " "), err)
		}
	}
	if stream := events[failed].StreamID; stream == events[len(events)-1].StreamID {
		return fmt.Errorf("append to %q: insert events: %w", stream, err)
	}
	return fmt.Errorf("append batch: insert events: %w", err)
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
		if err := s.w.conn.QueryRowContext(ctx, "SELECT 1 FROM events WHERE event_id = ?", uuidValue(e.EventID)).Scan(&one); err == nil {
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
