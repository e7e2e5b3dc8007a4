package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/storetest"
)

func openTemp(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.sqlite")
	s, err := Open(context.Background(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s, path
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, key eventstore.AuditKey) (eventstore.Store, storetest.Tamperer) {
		s, path := openTemp(t, Options{AuditKey: key})
		db, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, db.Close()) })
		return s, tamperer{db}
	})
}

// tamperer writes to the file through its own connection, as another
// process would.
type tamperer struct{ db *sql.DB }

func (tm tamperer) exec(ctx context.Context, query string, args ...any) error {
	res, err := tm.db.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(err, fmt.Errorf("%s: no row changed", query))
	}
	return nil
}

func (tm tamperer) SetData(ctx context.Context, position int64, data []byte) error {
	return tm.exec(ctx, "UPDATE events SET data = ? WHERE position = ?", string(data), position)
}

func (tm tamperer) Delete(ctx context.Context, position int64) error {
	return tm.exec(ctx, "DELETE FROM events WHERE position = ?", position)
}

func (tm tamperer) SwapPayloads(ctx context.Context, posA, posB int64) error {
	const cols = "event_id, stream_id, stream_type, type, schema_version, data, metadata, recorded_at, prev_hash, hash, log_hash"
	tx, err := tm.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, q := range []string{
		"CREATE TEMP TABLE swap AS SELECT position, " + cols + " FROM events WHERE position IN (?1, ?2)",
		"UPDATE events SET event_id = 'swap-' || event_id WHERE position IN (?1, ?2)",
		`UPDATE events SET (` + cols + `) = (SELECT ` + cols + ` FROM swap
			WHERE swap.position = CASE events.position WHEN ?1 THEN ?2 ELSE ?1 END) WHERE position IN (?1, ?2)`,
		"DROP TABLE swap",
	} {
		if _, err := tx.ExecContext(ctx, q, posA, posB); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return tx.Commit()
}

func (tm tamperer) InsertRaw(ctx context.Context, e eventstore.RecordedEvent) error {
	meta, err := json.Marshal(e.Metadata)
	if err != nil {
		return err
	}
	return tm.exec(ctx, insertEventSQL, e.Position, e.EventID, e.StreamID, e.StreamType, e.Version, e.Type,
		e.SchemaVersion, string(e.Data), string(meta), e.RecordedAt.UnixMilli(), e.PrevHash, e.Hash, e.LogHash)
}

func (tm tamperer) ReplaceRaw(ctx context.Context, e eventstore.RecordedEvent) error {
	meta, err := json.Marshal(e.Metadata)
	if err != nil {
		return err
	}
	return tm.exec(ctx, `UPDATE events SET event_id = ?, stream_id = ?, stream_type = ?, version = ?, type = ?, schema_version = ?,
		data = ?, metadata = ?, recorded_at = ?, prev_hash = ?, hash = ?, log_hash = ? WHERE position = ?`,
		e.EventID, e.StreamID, e.StreamType, e.Version, e.Type, e.SchemaVersion, string(e.Data), string(meta),
		e.RecordedAt.UnixMilli(), e.PrevHash, e.Hash, e.LogHash, e.Position)
}

// Renumber moves the rows to negative positions first, so that no move
// collides with a row still to move.
func (tm tamperer) Renumber(ctx context.Context, moves map[int64]int64) error {
	tx, err := tm.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for from := range moves {
		if _, err := tx.ExecContext(ctx, "UPDATE events SET position = ? WHERE position = ?", -from, from); err != nil {
			return err
		}
	}
	for from, to := range moves {
		res, err := tx.ExecContext(ctx, "UPDATE events SET position = ? WHERE position = ?", to, -from)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("renumber: no event at position %d", from)
		}
	}
	return tx.Commit()
}

func (tm tamperer) SetStreamHead(ctx context.Context, h eventstore.StreamInfo) error {
	return tm.exec(ctx, `INSERT INTO streams (stream_id, stream_type, version, last_hash) VALUES (?,?,?,?)
		ON CONFLICT (stream_id) DO UPDATE SET stream_type = excluded.stream_type, version = excluded.version, last_hash = excluded.last_hash`,
		h.StreamID, h.StreamType, h.Version, h.LastHash)
}

func (tm tamperer) DeleteStreamHead(ctx context.Context, streamID string) error {
	return tm.exec(ctx, "DELETE FROM streams WHERE stream_id = ?", streamID)
}

// SetMetadataKey rewrites the event's metadata as a JSON document (the
// only stored form with room for another key) with the key added.
func (tm tamperer) SetMetadataKey(ctx context.Context, position int64, key string, value json.RawMessage) error {
	var c col
	if err := tm.db.QueryRowContext(ctx, "SELECT metadata FROM events WHERE position = ?", position).Scan(&c); err != nil {
		return err
	}
	md, err := c.metadata()
	if err != nil {
		return err
	}
	doc, err := json.Marshal(md)
	if err != nil {
		return err
	}
	return tm.exec(ctx, "UPDATE events SET metadata = json_set(?, '$.' || ?, json(?)) WHERE position = ?", string(doc), key, string(value), position)
}

func (tm tamperer) SetIdempotencyResult(ctx context.Context, key string, res eventstore.AppendResult) error {
	raw, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return tm.exec(ctx, "UPDATE idempotency SET result = ? WHERE key = ?", string(raw), key)
}

func (tm tamperer) DeleteCheckpoints(ctx context.Context, above int64) error {
	_, err := tm.db.ExecContext(ctx, "DELETE FROM checkpoints WHERE position > ?", above)
	return err
}

func TestOpenOptions(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []Options{{Synchronous: "off"}, {PollInterval: -1}} {
		_, err := Open(ctx, filepath.Join(t.TempDir(), "x.sqlite"), bad)
		assert.Error(t, err, "%+v", bad)
	}
	for _, path := range []string{"", ":memory:", "file:x.sqlite", "x.sqlite?mode=ro"} {
		_, err := Open(ctx, path, Options{})
		assert.Error(t, err, path)
	}
	s, _ := openTemp(t, Options{Synchronous: "normal"})
	var sync int
	require.NoError(t, s.wconn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync))
	assert.Equal(t, 1, sync, "NORMAL")
	var mode string
	require.NoError(t, s.rdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	assert.Equal(t, "wal", mode)
}

func TestReopenKeepsEventsAndSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.sqlite")
	s, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	_, err = s.Append(ctx, eventstore.AppendRequest{StreamID: "s", StreamType: "t", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	_, err = s.Append(ctx, eventstore.AppendRequest{StreamID: "s", StreamType: "t", Expected: eventstore.Exact(1),
		Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, s.WaitForAppend(ctx, 5), ErrClosed)

	s, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	defer s.Close()
	var version int
	require.NoError(t, s.wconn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version))
	assert.Equal(t, len(migrations), version)
	res, err := s.Append(ctx, eventstore.AppendRequest{StreamID: "s", StreamType: "t", Expected: eventstore.Exact(1),
		Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
	assert.Equal(t, []int64{2}, res.Positions)

	_, err = s.Append(ctx, eventstore.AppendRequest{StreamID: "s", StreamType: "other", Expected: eventstore.Any,
		Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	assert.ErrorIs(t, err, eventstore.ErrInvalidAppend, "a stream keeps its type")
}

// Another process appending to the same file wakes WaitForAppend by polling.
func TestWaitForAppendSeesOtherProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, path := openTemp(t, Options{PollInterval: 10 * time.Millisecond})
	b, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	defer b.Close()

	woken := make(chan error, 1)
	go func() { woken <- a.WaitForAppend(ctx, 0) }()
	_, err = b.Append(ctx, eventstore.AppendRequest{StreamID: "s", StreamType: "t", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
	require.NoError(t, <-woken)

	// Both handles write the same file: positions stay dense.
	res, err := a.Append(ctx, eventstore.AppendRequest{StreamID: "s", StreamType: "t", Expected: eventstore.Exact(1),
		Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
	assert.Equal(t, []int64{2}, res.Positions)
}

func TestAppendHonoursCanceledContext(t *testing.T) {
	s, _ := openTemp(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: "s", StreamType: "t", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	assert.ErrorIs(t, err, context.Canceled)
	head, err := s.HeadPosition(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(0), head)
	// The write connection is still usable.
	_, err = s.Append(context.Background(), eventstore.AppendRequest{StreamID: "s", StreamType: "t", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
}

// FuzzDecodeRecordedEvent feeds arbitrary stored columns to decodeRow: it
// never panics, keeps what it cannot judge (data) verbatim, and what it
// decodes survives the JSON envelope round trip.
func FuzzDecodeRecordedEvent(f *testing.F) {
	f.Add([]byte(`{"team_id":"t","actor":"a"}`), []byte(`{"n":1}`), int64(1700000000123), int64(1))
	f.Add([]byte(``), []byte(`[]`), int64(0), int64(3))
	f.Add([]byte(`null`), []byte(`not json`), int64(-1), int64(-5))
	f.Add([]byte(`{"team_id":1}`), []byte(`"x"`), int64(1)<<62, int64(1)<<40)
	f.Add([]byte(`{"command_id":"\u00e9\ud800"}`), []byte(`{}`), int64(-1)<<62, int64(2))
	bin, err := encodeMetadata(eventstore.Metadata{TeamID: "t", Actor: "a", Route: "POST /x"})
	require.NoError(f, err)
	f.Add(bin, []byte(`{}`), int64(5), int64(1))
	f.Add(bin[:len(bin)-2], []byte(`{}`), int64(5), int64(1))
	f.Fuzz(func(t *testing.T, metadata, data []byte, recordedAt, schemaVersion int64) {
		r := row{position: 7, version: 2, eventID: col{s: "id"}, streamID: "s", streamType: "t", typ: "T",
			schemaVersion: schemaVersion, data: col{s: string(data)}, recordedAt: recordedAt, prevHash: col{s: "p"}, hash: col{s: "h"}}
		if len(metadata) > 0 && metadata[0] == metaFormat1 {
			r.metadata = col{blob: true, b: metadata}
		} else {
			r.metadata = col{s: string(metadata)}
		}
		e, err := decodeRow(&r)
		if err != nil {
			return
		}
		require.Equal(t, string(data), string(e.Data))
		require.Equal(t, recordedAt, e.RecordedAt.UnixMilli())
		require.Equal(t, int64(e.SchemaVersion), schemaVersion)
		if !json.Valid(data) || e.RecordedAt.Year() < 0 || e.RecordedAt.Year() > 9999 || !eventstore.ValidUTF8Metadata(e.Metadata) {
			return // not representable in the JSON envelope (the binary metadata form keeps any bytes; Validate refuses them)
		}
		b, err := json.Marshal(e)
		require.NoError(t, err)
		var back eventstore.RecordedEvent
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, e.Metadata, back.Metadata)
		require.True(t, e.RecordedAt.Equal(back.RecordedAt))
		require.Equal(t, e.Hash, back.Hash)
		canon, err := eventstore.CanonicalJSON(e.Data)
		if err == nil {
			backCanon, err := eventstore.CanonicalJSON(back.Data)
			require.NoError(t, err)
			require.Equal(t, string(canon), string(backCanon))
		}
	})
}

// FuzzDecodeAppendResult: stored idempotency outcomes decode or fail cleanly.
func FuzzDecodeAppendResult(f *testing.F) {
	f.Add([]byte(`{"stream_id":"s","version":2,"positions":[1,2],"event_ids":["a","b"],"duplicate":false}`))
	f.Add([]byte(`{"positions":[1],"event_ids":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := decodeResult(b)
		if err != nil {
			return
		}
		require.Len(t, res.Positions, len(res.EventIDs))
	})
}

// Batches larger than one INSERT statement (insertChunk) stay atomic, and
// a reused event id is named.
func TestLargeBatch(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	events := func(n int) []eventstore.NewEvent {
		evs := make([]eventstore.NewEvent, n)
		for i := range evs {
			evs[i] = eventstore.NewEvent{Type: "E", SchemaVersion: 1, Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
		}
		return evs
	}
	n := 2*insertChunk + 5
	res, err := s.Append(ctx, eventstore.AppendRequest{StreamID: "big", StreamType: "t", Expected: eventstore.NoStream, Events: events(n)})
	require.NoError(t, err)
	require.Len(t, res.Positions, n)
	evs, err := s.ReadStream(ctx, "big", eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, evs, n)
	for i, e := range evs {
		assert.Equal(t, int64(i+1), e.Position)
		assert.Equal(t, int64(i+1), e.Version)
		assert.Equal(t, fmt.Sprintf(`{"i":%d}`, i), string(e.Data))
		assert.Equal(t, res.EventIDs[i], e.EventID)
	}

	for name, reuse := range map[string]string{"stored": evs[3].EventID, "repeated": "0190a6c4-0000-7000-8000-000000000001"} {
		batch := events(n)
		batch[2*insertChunk+1].EventID = reuse
		if name == "repeated" {
			batch[0].EventID = reuse
		}
		_, err = s.Append(ctx, eventstore.AppendRequest{StreamID: "big2", StreamType: "t", Expected: eventstore.NoStream, Events: batch})
		require.ErrorIs(t, err, eventstore.ErrInvalidAppend)
		assert.ErrorContains(t, err, reuse, name)
		assert.ErrorContains(t, err, name)
	}
	head, err := s.HeadPosition(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(n), head)
	rep, err := eventstore.Verify(ctx, s, eventstore.VerifyOptions{})
	require.NoError(t, err)
	assert.Nil(t, rep.Broken)
}

// One transaction carries several appends: each succeeds or fails alone.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	ev := func(id string) eventstore.NewEvent {
		return eventstore.NewEvent{EventID: id, Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}
	}
	taken := "0190a6c4-0000-7000-8000-00000000000a"
	_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: "base", StreamType: "t", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{ev(taken)}})
	require.NoError(t, err)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	idem := eventstore.Idempotency{Key: "k", Fingerprint: "f"}
	calls := []*appendCall{
		{ctx: ctx, reqs: []eventstore.AppendRequest{{StreamID: "a", StreamType: "t", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{ev(""), ev("")}}}},
		{ctx: ctx, reqs: []eventstore.AppendRequest{{StreamID: "b", StreamType: "t", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{ev(""), ev(taken)}}}},
		{ctx: ctx, reqs: []eventstore.AppendRequest{{StreamID: "a", StreamType: "t", Expected: eventstore.Exact(2), Events: []eventstore.NewEvent{ev("")}, Idempotency: idem}}},
		{ctx: ctx, reqs: []eventstore.AppendRequest{{StreamID: "a", StreamType: "t", Expected: eventstore.Exact(2), Events: []eventstore.NewEvent{ev("")}}}},
		{ctx: ctx, reqs: []eventstore.AppendRequest{{StreamID: "a", StreamType: "t", Expected: eventstore.Exact(2), Events: []eventstore.NewEvent{ev("")}, Idempotency: idem}}},
		{ctx: canceled, reqs: []eventstore.AppendRequest{{StreamID: "c", StreamType: "t", Expected: eventstore.Any, Events: []eventstore.NewEvent{ev("")}}}},
		{ctx: ctx, reqs: []eventstore.AppendRequest{{StreamID: "c", StreamType: "t", Expected: eventstore.Any, Events: []eventstore.NewEvent{ev("")}}}},
		// Fails after its first INSERT statement succeeded: rolled back to its savepoint.
		{ctx: ctx, reqs: []eventstore.AppendRequest{{StreamID: "d", StreamType: "t", Expected: eventstore.NoStream,
			Events: append(slices.Repeat([]eventstore.NewEvent{ev("")}, insertChunk), ev(taken)), Idempotency: eventstore.Idempotency{Key: "kd", Fingerprint: "f"}}}},
		{ctx: ctx, reqs: []eventstore.AppendRequest{{StreamID: "e", StreamType: "t", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{ev("")}}}},
	}
	// Nothing else is appending, so the test may lead a group itself on the
	// write connection.
	s.runGroup(calls)

	require.NoError(t, calls[0].err)
	assert.Equal(t, []int64{2, 3}, calls[0].res[0].Positions)
	assert.ErrorIs(t, calls[1].err, eventstore.ErrInvalidAppend, "reused event id")
	require.NoError(t, calls[2].err)
	assert.Equal(t, []int64{4}, calls[2].res[0].Positions, "the failed append used no position")
	assert.ErrorIs(t, calls[3].err, eventstore.ErrConflict, "sees the earlier append of the same transaction")
	require.NoError(t, calls[4].err)
	assert.True(t, calls[4].res[0].Duplicate, "sees the idempotency key of the same transaction")
	assert.Equal(t, calls[2].res[0].EventIDs, calls[4].res[0].EventIDs)
	assert.ErrorIs(t, calls[5].err, context.Canceled)
	require.NoError(t, calls[6].err)
	assert.Equal(t, []int64{5}, calls[6].res[0].Positions)
	assert.ErrorIs(t, calls[7].err, eventstore.ErrInvalidAppend)
	require.NoError(t, calls[8].err)
	assert.Equal(t, []int64{6}, calls[8].res[0].Positions)

	head, err := s.HeadPosition(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(6), head)
	assert.Equal(t, int64(6), s.committed.Load())
	for _, stream := range []string{"b", "d"} {
		evs, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{})
		require.NoError(t, err)
		assert.Empty(t, evs, stream)
	}
	_, _, found, err := s.LookupIdempotency(ctx, "kd")
	require.NoError(t, err)
	assert.False(t, found)
	rep, err := eventstore.Verify(ctx, s, eventstore.VerifyOptions{})
	require.NoError(t, err)
	assert.Nil(t, rep.Broken)
	assert.Equal(t, int64(4), rep.StreamsChecked)
}

func auditKey(t *testing.T, fill byte) eventstore.AuditKey {
	t.Helper()
	k, err := eventstore.NewAuditKey([]byte(strings.Repeat(string(rune(fill)), eventstore.AuditKeySize)))
	require.NoError(t, err)
	return k
}

// A store written by the version before the global chain (schema 1, no
// log_hash, unsigned idempotency records) is migrated and chained by the
// first writer with a key; its hashes do not change and it verifies.
func TestOldStoreIsChainedOnClaim(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.sqlite")

	// The old binary: migration 1 only, rows inserted with its columns.
	old, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	for _, stmt := range migrations[0] {
		_, err := old.ExecContext(ctx, stmt)
		require.NoError(t, err)
	}
	_, err = old.ExecContext(ctx, "PRAGMA user_version = 1")
	require.NoError(t, err)
	var stored []eventstore.RecordedEvent
	heads := map[string]eventstore.RecordedEvent{}
	for i := range 5 {
		stream := fmt.Sprintf("s%d", i%2)
		h := heads[stream]
		req := eventstore.AppendRequest{StreamID: stream, StreamType: "t", Metadata: eventstore.Metadata{TeamID: "team", Actor: "old"},
			Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}}}
		evs, err := eventstore.Prepare(req, h.Version, h.Hash, time.Now())
		require.NoError(t, err)
		e := evs[0]
		e.Position = int64(i + 1)
		meta, err := json.Marshal(req.Metadata)
		require.NoError(t, err)
		_, err = old.ExecContext(ctx, `INSERT INTO events (position, event_id, stream_id, stream_type, version, type,
			schema_version, data, metadata, recorded_at, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			e.Position, e.EventID, e.StreamID, e.StreamType, e.Version, e.Type, e.SchemaVersion, string(e.Data), string(meta),
			e.RecordedAt.UnixMilli(), e.PrevHash, e.Hash)
		require.NoError(t, err)
		_, err = old.ExecContext(ctx, `INSERT INTO streams (stream_id, stream_type, version, last_hash) VALUES (?,?,?,?)
			ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_hash = excluded.last_hash`, stream, "t", e.Version, e.Hash)
		require.NoError(t, err)
		heads[stream] = e
		stored = append(stored, e)
	}
	res := eventstore.AppendResult{StreamID: "s0", Version: 3, Positions: []int64{5}, EventIDs: []string{stored[4].EventID}}
	raw, err := json.Marshal(res)
	require.NoError(t, err)
	_, err = old.ExecContext(ctx, "INSERT INTO idempotency (key, fingerprint, result, created_at) VALUES ('k', 'fp', ?, 0)", string(raw))
	require.NoError(t, err)
	require.NoError(t, old.Close())

	key := auditKey(t, 'k')
	s, err := Open(ctx, path, Options{AuditKey: key})
	require.NoError(t, err)
	defer s.Close()
	info, err := s.AuditInfo(ctx)
	require.NoError(t, err)
	assert.Len(t, info.StoreID, 32, "migration 2 gave the store an id")
	assert.Empty(t, info.KeyID, "opening claims nothing")
	rep, err := eventstore.Verify(ctx, s, eventstore.VerifyOptions{Key: key})
	require.NoError(t, err)
	assert.Nil(t, rep.Broken, "not chained yet is not tampering")
	assert.Contains(t, rep.NotChecked, "the store records no audit key id (not chained yet): global chain, checkpoint MACs and idempotency record MACs not checked")

	require.NoError(t, s.ClaimAuditKey(ctx))
	info, err = s.AuditInfo(ctx)
	require.NoError(t, err)
	assert.Equal(t, key.ID(), info.KeyID)
	all, err := s.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 5)
	prev := ""
	for i, e := range all {
		assert.Equal(t, stored[i].Hash, e.Hash, "stored hashes do not change")
		assert.Equal(t, eventstore.ComputeHash(e), e.Hash)
		assert.Equal(t, eventstore.LogHash(key, prev, e.Position, e.Hash), e.LogHash, "position %d chained", e.Position)
		prev = e.LogHash
	}
	recs, err := s.IdempotencyRecords(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, eventstore.IdempotencyMAC(key, "k", "fp", res), recs[0].MAC)

	// New appends continue the chain; everything verifies with the key.
	_, err = s.Append(ctx, eventstore.AppendRequest{StreamID: "s1", StreamType: "t", Expected: eventstore.Exact(2),
		Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
	rep, err = eventstore.Verify(ctx, s, eventstore.VerifyOptions{Key: key})
	require.NoError(t, err)
	assert.Nil(t, rep.Broken)
	assert.True(t, rep.Keyed)
	assert.Equal(t, int64(6), rep.EventsChecked)
	assert.Equal(t, int64(1), rep.IdempotencyChecked)
	require.NoError(t, s.ClaimAuditKey(ctx), "claiming again is a no-op")
}

// A store chained with one key refuses every write through another (reads
// still work), and the claim is all or nothing with its transaction.
func TestAuditKeyMismatchRefusesWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.sqlite")
	a, b := auditKey(t, 'a'), auditKey(t, 'b')
	one := func(expected eventstore.ExpectedVersion) eventstore.AppendRequest {
		return eventstore.AppendRequest{StreamID: "s", StreamType: "t", Expected: expected,
			Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}}
	}

	s, err := Open(ctx, path, Options{AuditKey: a})
	require.NoError(t, err)
	_, err = s.Append(ctx, one(eventstore.Exact(3)))
	require.ErrorIs(t, err, eventstore.ErrConflict)
	info, err := s.AuditInfo(ctx)
	require.NoError(t, err)
	assert.Empty(t, info.KeyID, "a failed append claims nothing")
	_, err = s.Append(ctx, one(eventstore.NoStream))
	require.NoError(t, err)
	info, err = s.AuditInfo(ctx)
	require.NoError(t, err)
	assert.Equal(t, a.ID(), info.KeyID, "the first append claimed the store")
	require.NoError(t, s.Close())

	for name, k := range map[string]eventstore.AuditKey{"other key": b, "no key": {}} {
		s, err := Open(ctx, path, Options{AuditKey: k})
		require.NoError(t, err, name)
		_, err = s.Append(ctx, one(eventstore.Exact(1)))
		require.ErrorIs(t, err, eventstore.ErrAuditKeyMismatch, name)
		assert.ErrorContains(t, err, "store key id "+a.ID()+", given "+k.ID())
		assert.ErrorIs(t, s.ClaimAuditKey(ctx), eventstore.ErrAuditKeyMismatch)
		assert.ErrorIs(t, s.SaveCheckpoint(ctx, eventstore.Checkpoint{StoreID: info.StoreID, Position: 1}), eventstore.ErrAuditKeyMismatch)
		evs, err := s.ReadStream(ctx, "s", eventstore.ReadStreamOptions{})
		require.NoError(t, err)
		assert.Len(t, evs, 1, "reads still work")
		require.NoError(t, s.Close())
	}
}

// decodeRow keeps the driver's value of the data column as the event's
// Data (no second copy), which is sound only while the driver copies each
// row's text and blob values into fresh buffers of their own. This pins
// that: two rows' values never share memory, and changing one event's
// Data changes nothing another read returns.
func TestTheDriverHandsOverAFreshBufferPerValue(t *testing.T) {
	s, _ := openTemp(t, Options{})
	ctx := context.Background()
	_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: "s", StreamType: "t", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{
			{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{"n":1}`)},
			{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{"n":1}`)},
		}})
	require.NoError(t, err)
	first, err := s.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	require.Len(t, first, 2)
	assert.NotSame(t, &first[0].Data[0], &first[1].Data[0], "each row's data is its own buffer")
	assert.Equal(t, len(first[0].Data), cap(first[0].Data), "appending to Data cannot reach another value")
	first[0].Data[2] = 'X'
	assert.JSONEq(t, `{"n":1}`, string(first[1].Data))
	again, err := s.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	assert.JSONEq(t, `{"n":1}`, string(again[0].Data), "a later read sees the stored value")
}
