package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
)

// A store written by the schema-2 binary (text ids and hashes, JSON
// metadata, chained under a key) is rebuilt by migration 3: ids and
// hashes become bytes, its metadata documents stay JSON, every event
// reads back exactly as stored (the hash chain and the global chain
// verify with the key), and new events take the binary forms.
func TestSchema2StoreMigratesAndVerifies(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.sqlite")
	key := auditKey(t, 'm')

	old, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	for _, m := range migrations[:2] {
		for _, stmt := range m {
			_, err := old.ExecContext(ctx, stmt)
			require.NoError(t, err)
		}
	}
	_, err = old.ExecContext(ctx, "PRAGMA user_version = 2")
	require.NoError(t, err)
	_, err = old.ExecContext(ctx, "INSERT INTO audit_meta (name, value) VALUES ('key_id', ?)", key.ID())
	require.NoError(t, err)
	var stored []eventstore.RecordedEvent
	heads := map[string]eventstore.RecordedEvent{}
	prevLog := ""
	for i := range 7 {
		stream := fmt.Sprintf("s%d", i%3)
		h := heads[stream]
		md := eventstore.Metadata{TeamID: "team", Actor: "old", CommandID: fmt.Sprintf("cmd-%d", i), Route: "POST /x"}
		ne := eventstore.NewEvent{Type: "E", SchemaVersion: 1, Data: json.RawMessage(fmt.Sprintf(`{"i":%d,"s":"a b"}`, i))}
		if i == 3 {
			ne.EventID = "caller-chosen-id" // not a UUID: stays text
		}
		req := eventstore.AppendRequest{StreamID: stream, StreamType: "t", Metadata: md, Events: []eventstore.NewEvent{ne}}
		evs, err := eventstore.Prepare(req, h.Version, h.Hash, time.Now())
		require.NoError(t, err)
		e := evs[0]
		e.Position = int64(i + 1)
		e.LogHash = eventstore.LogHash(key, prevLog, e.Position, e.Hash)
		prevLog = e.LogHash
		meta, err := json.Marshal(md)
		require.NoError(t, err)
		_, err = old.ExecContext(ctx, insertEventSQL, e.Position, e.EventID, e.StreamID, e.StreamType, e.Version, e.Type,
			e.SchemaVersion, string(e.Data), string(meta), e.RecordedAt.UnixMilli(), e.PrevHash, e.Hash, e.LogHash)
		require.NoError(t, err)
		_, err = old.ExecContext(ctx, `INSERT INTO streams (stream_id, stream_type, version, last_hash) VALUES (?,?,?,?)
			ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_hash = excluded.last_hash`, stream, "t", e.Version, e.Hash)
		require.NoError(t, err)
		heads[stream] = e
		stored = append(stored, e)
	}
	require.NoError(t, old.Close())

	s, err := Open(ctx, path, Options{AuditKey: key})
	require.NoError(t, err)
	defer s.Close()
	var version int
	require.NoError(t, s.wconn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version))
	assert.Equal(t, len(migrations), version)

	all, err := s.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	require.Len(t, all, len(stored))
	for i, e := range all {
		assert.Equal(t, stored[i], e, "position %d reads back as the schema-2 binary stored it", e.Position)
	}
	types := map[string]string{}
	rows, err := s.rdb.QueryContext(ctx, `SELECT DISTINCT 'event_id:' || typeof(event_id) FROM events
		UNION SELECT DISTINCT 'hash:' || typeof(hash) FROM events UNION SELECT DISTINCT 'log_hash:' || typeof(log_hash) FROM events
		UNION SELECT DISTINCT 'prev_hash:' || typeof(prev_hash) FROM events UNION SELECT DISTINCT 'metadata:' || typeof(metadata) FROM events`)
	require.NoError(t, err)
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		types[v] = v
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	assert.Equal(t, map[string]string{"event_id:blob": "event_id:blob", "event_id:text": "event_id:text",
		"hash:blob": "hash:blob", "log_hash:blob": "log_hash:blob", "prev_hash:blob": "prev_hash:blob",
		"prev_hash:text": "prev_hash:text", "metadata:text": "metadata:text"}, types,
		"UUIDs and digests as bytes; the caller's id and the first prev_hash ('') as text; metadata as stored")

	rep, err := eventstore.Verify(ctx, s, eventstore.VerifyOptions{Key: key})
	require.NoError(t, err)
	assert.Nil(t, rep.Broken)
	assert.True(t, rep.Keyed)
	assert.Equal(t, int64(len(stored)), rep.EventsChecked)

	// New events continue both chains in the binary forms.
	_, err = s.Append(ctx, eventstore.AppendRequest{StreamID: "s1", StreamType: "t", Expected: eventstore.Exact(2),
		Metadata: eventstore.Metadata{TeamID: "team", Actor: "new"},
		Events:   []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
	var metaType string
	require.NoError(t, s.rdb.QueryRowContext(ctx, "SELECT typeof(metadata) FROM events WHERE position = 8").Scan(&metaType))
	assert.Equal(t, "blob", metaType)
	rep, err = eventstore.Verify(ctx, s, eventstore.VerifyOptions{Key: key})
	require.NoError(t, err)
	assert.Nil(t, rep.Broken)
	assert.Equal(t, int64(len(stored)+1), rep.EventsChecked)
	evs, err := s.ReadStream(ctx, "s1", eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, evs, 3)
	assert.Equal(t, eventstore.Metadata{TeamID: "team", Actor: "new"}, evs[2].Metadata)
}

// The stored forms decode back to the exact strings, and only canonical
// lower-case values take the byte forms.
func TestStoredForms(t *testing.T) {
	for id, blob := range map[string]bool{
		"0193a5e2-7c1f-7d2e-9b1a-2f4c6d8e0a11": true,
		"0193A5E2-7C1F-7D2E-9B1A-2F4C6D8E0A11": false,
		"0193a5e27c1f7d2e9b1a2f4c6d8e0a11":     false,
		"0193a5e2-7c1f-7d2e-9b1a-2f4c6d8e0a1g": false,
		"x":                                    false, "": false,
	} {
		v := uuidValue(id)
		var c col
		require.NoError(t, c.Scan(v))
		assert.Equal(t, blob, c.blob, id)
		assert.Equal(t, id, c.uuid(), id)
	}
	h := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	for in, blob := range map[string]bool{h: true, "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08": false,
		h[:62]: false, "": false, "not-hex-" + h[8:]: false} {
		var c col
		require.NoError(t, c.Scan(hashValue(in, nil)))
		assert.Equal(t, blob, c.blob, in)
		assert.Equal(t, in, c.hash(), in)
	}
	md := eventstore.Metadata{TeamID: "t", Actor: "ä", CorrelationID: "c", CausationID: "", CommandID: "cmd",
		Route: "POST /x", IdempotencyKey: string(make([]byte, 300))}
	b, err := encodeMetadata(md)
	require.NoError(t, err)
	got, err := decodeMetadataBinary(b, string(b))
	require.NoError(t, err)
	assert.Equal(t, md, got)
	for _, bad := range [][]byte{nil, {2}, b[:len(b)-1], append(append([]byte{}, b...), 0)} {
		_, err := decodeMetadataBinary(bad, string(bad))
		assert.Error(t, err)
	}
	_, err = encodeMetadata(eventstore.Metadata{Extra: map[string]json.RawMessage{"k": json.RawMessage(`1`)}})
	assert.Error(t, err)
}

// Event reads run on statements prepared per read connection: concurrent
// reads share them safely, and after Close a read fails with ErrClosed.
func TestEventReadsConcurrentThenClosed(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "events.sqlite"), Options{})
	require.NoError(t, err)
	for i := range 20 {
		_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: fmt.Sprintf("s%d", i%4), StreamType: "t", Expected: eventstore.Any,
			Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
		require.NoError(t, err)
	}
	errs := make(chan error, 16)
	for g := range 16 {
		go func() {
			for i := range 20 {
				var err error
				if g%2 == 0 {
					var evs []eventstore.RecordedEvent
					if evs, err = s.ReadAll(ctx, int64(i), 5); err == nil && len(evs) != min(5, 20-i) {
						err = fmt.Errorf("read %d events after %d", len(evs), i)
					}
				} else {
					_, err = s.ReadStream(ctx, fmt.Sprintf("s%d", i%4), eventstore.ReadStreamOptions{})
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		require.NoError(t, <-errs)
	}
	require.NoError(t, s.Close())
	_, err = s.ReadAll(ctx, 0, 10)
	require.ErrorIs(t, err, ErrClosed)
	_, err = s.ReadStream(ctx, "s1", eventstore.ReadStreamOptions{})
	require.ErrorIs(t, err, eventstore.ErrUnavailable)
}
