package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
)

// auditKey is the key the tampered stores are chained with; forgerKey is
// what an attacker without it signs with.
var (
	auditKey  = mustKey(1)
	forgerKey = mustKey(2)
)

func mustKey(fill byte) eventstore.AuditKey {
	k, err := eventstore.NewAuditKey(bytes.Repeat([]byte{fill}, eventstore.AuditKeySize))
	if err != nil {
		panic(err)
	}
	return k
}

// tamperFixture appends A1 B1 A2 B2 A3 B3 at positions 1..6 and returns the
// events by position (index 0 unused).
func tamperFixture(t *testing.T, s eventstore.Store) []eventstore.RecordedEvent {
	t.Helper()
	for v := range int64(3) {
		for _, stream := range []string{"acct-a", "acct-b"} {
			mustAppend(t, s, request(stream, eventstore.Exact(v), newEvent("Changed", `{"n":1}`)))
		}
	}
	return readLog(t, s, 6)
}

func readLog(t *testing.T, s eventstore.Store, n int) []eventstore.RecordedEvent {
	t.Helper()
	all, err := s.ReadAll(testContext(t), 0, 100)
	require.NoError(t, err)
	require.Len(t, all, n)
	for _, e := range all {
		require.NotEmpty(t, e.LogHash, "position %d has a log hash", e.Position)
	}
	return append([]eventstore.RecordedEvent{{}}, all...)
}

// forge builds an event that continues stream after prev (nil: a new
// stream) with a correct hash, as an attacker who knows the scheme would,
// chained after prevLog with the forger's key (the only one it has).
func forge(prev *eventstore.RecordedEvent, stream string, position int64, prevLog string) eventstore.RecordedEvent {
	e := eventstore.RecordedEvent{
		EventID:       uuid.Must(uuid.NewV7()).String(),
		StreamID:      stream,
		StreamType:    "test",
		Version:       1,
		Position:      position,
		Type:          "Changed",
		SchemaVersion: 1,
		Data:          json.RawMessage(`{"n":666}`),
		Metadata:      eventstore.Metadata{TeamID: "team-1", Actor: "mallory"},
		RecordedAt:    eventstore.NormalizeTime(time.Now()),
	}
	if prev != nil {
		e.Version, e.PrevHash, e.StreamType = prev.Version+1, prev.Hash, prev.StreamType
	}
	e.Hash = eventstore.ComputeHash(e)
	e.LogHash = eventstore.LogHash(forgerKey, prevLog, position, e.Hash)
	return e
}

func headOf(e eventstore.RecordedEvent) eventstore.StreamInfo {
	return eventstore.StreamInfo{StreamID: e.StreamID, StreamType: e.StreamType, Version: e.Version, LastHash: e.Hash}
}

func checkpointer(t *testing.T, s eventstore.Store, dir string) *eventstore.Checkpointer {
	t.Helper()
	c, err := eventstore.NewCheckpointer(s, auditKey, dir, nil)
	require.NoError(t, err)
	return c
}

func testTamper(t *testing.T, open Open) {
	t.Run("Intact", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, auditKey)
		ctx := testContext(t)
		tamperFixture(t, s)
		dir := t.TempDir()
		_, err := checkpointer(t, s, dir).Take(ctx, eventstore.CheckpointCLI)
		require.NoError(t, err)
		var done, total int64
		rep, err := eventstore.Verify(ctx, s, eventstore.VerifyOptions{Key: auditKey, AuditDir: dir,
			Progress: func(d, tot int64) { done, total = d, tot }})
		require.NoError(t, err)
		assert.Nil(t, rep.Broken)
		assert.True(t, rep.Keyed)
		assert.Empty(t, rep.NotChecked, "everything was checked")
		assert.Equal(t, int64(6), rep.EventsChecked)
		assert.Equal(t, int64(2), rep.StreamsChecked)
		assert.Equal(t, int64(2), rep.CheckpointsChecked, "the copy and the stored one")
		assert.Equal(t, auditKey.ID(), rep.KeyID)
		assert.NotEmpty(t, rep.StoreID)
		require.NotNil(t, rep.LatestCheckpoint)
		assert.Equal(t, int64(6), rep.LatestCheckpoint.Position)
		assert.Zero(t, rep.EventsAfterCheckpoint)
		assert.Equal(t, [2]int64{6, 6}, [2]int64{done, total}, "progress reaches the total")
	})
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, eventstore.AuditKey{})
		rep, err := eventstore.Verify(testContext(t), s, eventstore.VerifyOptions{})
		require.NoError(t, err)
		assert.Nil(t, rep.Broken)
		assert.Zero(t, rep.EventsChecked)
		assert.Zero(t, rep.EventsAfterCheckpoint)
	})
	t.Run("WithoutKey", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, auditKey)
		tamperFixture(t, s)
		rep, err := eventstore.Verify(testContext(t), s, eventstore.VerifyOptions{})
		require.NoError(t, err)
		assert.Nil(t, rep.Broken)
		assert.False(t, rep.Keyed)
		assert.Contains(t, rep.NotChecked, "no audit key given: global chain, checkpoint MACs and idempotency record MACs not checked")
		assert.Contains(t, rep.NotChecked, "no checkpoint found: a cut at the end of the log would go unnoticed")
	})
	t.Run("EmptyKeyStore", func(t *testing.T) {
		t.Parallel()
		s, tm := open(t, eventstore.AuditKey{})
		tamperFixture(t, s)
		rep, err := eventstore.Verify(testContext(t), s, eventstore.VerifyOptions{})
		require.NoError(t, err)
		assert.Nil(t, rep.Broken)
		assert.True(t, rep.Keyed, "a store chained with the empty key is checked with it")
		assert.Equal(t, eventstore.EmptyKeyID, rep.KeyID)
		// ... which stops nobody: a forger re-chains with the empty key too.
		require.NoError(t, tm.Renumber(testContext(t), map[int64]int64{3: 4, 4: 3}))
		rep, err = eventstore.Verify(testContext(t), s, eventstore.VerifyOptions{})
		require.NoError(t, err)
		require.NotNil(t, rep.Broken)
		assert.Equal(t, int64(3), rep.Broken.Position)
	})
	t.Run("KeyMismatch", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, auditKey)
		tamperFixture(t, s)
		rep, err := eventstore.Verify(testContext(t), s, eventstore.VerifyOptions{Key: forgerKey})
		require.NoError(t, err)
		require.NotNil(t, rep.Broken)
		assert.Equal(t, eventstore.BrokenLink{Kind: eventstore.BrokenAuditKey,
			Reason: "audit key does not match this store (store key id " + auditKey.ID() + ", given " + forgerKey.ID() + ")"}, *rep.Broken,
			"a clear failure, not a chain break at position 1")
		assert.False(t, rep.Keyed)
	})

	// want names the expected first broken link; zero fields other than
	// Position are not checked.
	for _, tc := range []struct {
		name string
		// setup runs after the fixture; checkpoint then takes a checkpoint
		// into the audit directory (and the store's history).
		setup      func(t *testing.T, s eventstore.Store)
		checkpoint bool
		// noAuditDir verifies without the audit directory's copy; noKey without the key.
		noAuditDir, noKey bool
		tamper            func(ctx context.Context, tm Tamperer, evs []eventstore.RecordedEvent) error
		want              func(evs []eventstore.RecordedEvent) eventstore.BrokenLink
		reason            string // a part of the reason
	}{
		{
			name: "ChangedData",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.SetData(ctx, 3, []byte(`{"n":999}`))
			},
			want: func(evs []eventstore.RecordedEvent) eventstore.BrokenLink {
				return linkOf(evs[3], eventstore.BrokenEvent)
			},
		},
		{
			name: "DeletedEvent",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.Delete(ctx, 3)
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink { return eventstore.BrokenLink{Position: 3} },
		},
		{
			name: "DeletedFirstEvent",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.Delete(ctx, 1)
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink { return eventstore.BrokenLink{Position: 1} },
		},
		{
			// The last event of the log, no checkpoint: no gap, only
			// stream b's head knows; its last event left is named.
			name: "DeletedLastEvent",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.Delete(ctx, 6)
			},
			want: func(evs []eventstore.RecordedEvent) eventstore.BrokenLink {
				return linkOf(evs[4], eventstore.BrokenStreamHead)
			},
		},
		{
			name: "ReorderedEvents",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.SwapPayloads(ctx, 3, 5)
			},
			want: func(evs []eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{Position: 3, StreamID: "acct-a", Version: 2, EventID: evs[5].EventID}
			},
		},
		{
			// A correctly hashed event forged onto the end of stream a.
			name: "InsertedEvent",
			tamper: func(ctx context.Context, tm Tamperer, evs []eventstore.RecordedEvent) error {
				return tm.InsertRaw(ctx, forge(&evs[5], "acct-a", 7, evs[6].LogHash))
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{Position: 7, StreamID: "acct-a", Version: 4}
			},
		},
		{
			// A correctly hashed event of a stream the store never wrote.
			name: "InsertedStream",
			tamper: func(ctx context.Context, tm Tamperer, evs []eventstore.RecordedEvent) error {
				return tm.InsertRaw(ctx, forge(nil, "acct-forged", 7, evs[6].LogHash))
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{Position: 7, StreamID: "acct-forged", Version: 1}
			},
		},

		// The tamperings of issue 8 item 6, each undetected by the
		// per-stream chains alone.
		{
			// 1. The log's tail cut (positions 5 and 6) and the stream
			// heads and the store's checkpoints made to agree: only the
			// copy outside the store remembers.
			name:       "TruncatedTail",
			checkpoint: true,
			tamper: func(ctx context.Context, tm Tamperer, evs []eventstore.RecordedEvent) error {
				return errors.Join(tm.Delete(ctx, 6), tm.Delete(ctx, 5),
					tm.SetStreamHead(ctx, headOf(evs[3])), tm.SetStreamHead(ctx, headOf(evs[4])),
					tm.DeleteCheckpoints(ctx, 4))
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{Position: 5, Kind: eventstore.BrokenCheckpoint}
			},
			reason: "log truncated: the checkpoint copy of ",
		},
		{
			// 1'. The same cut, the store's checkpoint left in place: it
			// tells even without the copy.
			name:       "TruncatedTailStoredCheckpoint",
			checkpoint: true,
			noAuditDir: true,
			tamper: func(ctx context.Context, tm Tamperer, evs []eventstore.RecordedEvent) error {
				return errors.Join(tm.Delete(ctx, 6), tm.Delete(ctx, 5),
					tm.SetStreamHead(ctx, headOf(evs[3])), tm.SetStreamHead(ctx, headOf(evs[4])))
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{Position: 5, Kind: eventstore.BrokenCheckpoint}
			},
			reason: "says the log reached position 6, the log now ends at 4",
		},
		{
			// 2. Stream b removed whole (events and head), stream a's later
			// events renumbered so that positions stay dense.
			name: "RemovedStream",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return errors.Join(tm.Delete(ctx, 2), tm.Delete(ctx, 4), tm.Delete(ctx, 6),
					tm.DeleteStreamHead(ctx, "acct-b"), tm.Renumber(ctx, map[int64]int64{3: 2, 5: 3}))
			},
			want: func(evs []eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{Position: 2, StreamID: "acct-a", Version: 2, EventID: evs[3].EventID, Kind: eventstore.BrokenLogChain}
			},
		},
		{
			// 3. Two streams' events exchange their positions.
			name: "ExchangedPositions",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.Renumber(ctx, map[int64]int64{3: 4, 4: 3})
			},
			want: func(evs []eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{Position: 3, StreamID: "acct-b", Version: 2, EventID: evs[4].EventID, Kind: eventstore.BrokenLogChain}
			},
		},
		{
			// 4. A forged, correctly hashed event at stream a's head and the
			// log's tail, the stream head moved to it.
			name: "ForgedHeadEvent",
			tamper: func(ctx context.Context, tm Tamperer, evs []eventstore.RecordedEvent) error {
				f := forge(&evs[5], "acct-a", 7, evs[6].LogHash)
				return errors.Join(tm.InsertRaw(ctx, f), tm.SetStreamHead(ctx, headOf(f)))
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{Position: 7, StreamID: "acct-a", Version: 4, Kind: eventstore.BrokenLogChain}
			},
		},
		{
			// 5. A forged stream inserted at position 4, the later events
			// renumbered one up, a head written for it.
			name: "ForgedStreamMidLog",
			tamper: func(ctx context.Context, tm Tamperer, evs []eventstore.RecordedEvent) error {
				f := forge(nil, "acct-forged", 4, evs[3].LogHash)
				return errors.Join(tm.Renumber(ctx, map[int64]int64{4: 5, 5: 6, 6: 7}), tm.InsertRaw(ctx, f), tm.SetStreamHead(ctx, headOf(f)))
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{Position: 4, StreamID: "acct-forged", Version: 1, Kind: eventstore.BrokenLogChain}
			},
		},
		{
			// 6. Stream a rewritten from its first event and re-hashed
			// (every prev_hash and hash consistent, its head too).
			name: "RehashedStream",
			tamper: func(ctx context.Context, tm Tamperer, evs []eventstore.RecordedEvent) error {
				prev := ""
				var errs []error
				var last eventstore.RecordedEvent
				for _, p := range []int64{1, 3, 5} {
					e := evs[p]
					if p == 1 {
						e.Data = json.RawMessage(`{"n":2}`)
					}
					e.PrevHash = prev
					e.Hash = eventstore.ComputeHash(e)
					prev, last = e.Hash, e
					errs = append(errs, tm.ReplaceRaw(ctx, e))
				}
				return errors.Join(append(errs, tm.SetStreamHead(ctx, headOf(last)))...)
			},
			want: func(evs []eventstore.RecordedEvent) eventstore.BrokenLink {
				return linkOf(evs[1], eventstore.BrokenLogChain)
			},
		},
		{
			// 7. An idempotency record's outcome rewritten to name other
			// events, consistently: only its MAC tells.
			name: "RewrittenIdempotencyResult",
			setup: func(t *testing.T, s eventstore.Store) {
				req := request("acct-c", eventstore.NoStream, newEvent("Changed", `{"n":1}`))
				req.Idempotency = eventstore.Idempotency{Key: "idem-1", Fingerprint: "fp-1"}
				mustAppend(t, s, req)
			},
			tamper: func(ctx context.Context, tm Tamperer, evs []eventstore.RecordedEvent) error {
				return tm.SetIdempotencyResult(ctx, "idem-1", eventstore.AppendResult{StreamID: "acct-b", Version: 3,
					Positions: []int64{6}, EventIDs: []string{evs[6].EventID}})
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{StreamID: "acct-b", Kind: eventstore.BrokenIdempotency}
			},
			reason: `idempotency record "idem-1": MAC does not match its content`,
		},
		{
			// 7'. Without the key, a record naming events that are not
			// stored as it says is still caught.
			name:  "IdempotencyResultNamesOtherEvents",
			noKey: true,
			setup: func(t *testing.T, s eventstore.Store) {
				req := request("acct-c", eventstore.NoStream, newEvent("Changed", `{"n":1}`))
				req.Idempotency = eventstore.Idempotency{Key: "idem-1", Fingerprint: "fp-1"}
				mustAppend(t, s, req)
			},
			tamper: func(ctx context.Context, tm Tamperer, evs []eventstore.RecordedEvent) error {
				return tm.SetIdempotencyResult(ctx, "idem-1", eventstore.AppendResult{StreamID: "acct-b", Version: 3,
					Positions: []int64{6}, EventIDs: []string{evs[5].EventID}})
			},
			want: func([]eventstore.RecordedEvent) eventstore.BrokenLink {
				return eventstore.BrokenLink{StreamID: "acct-b", Kind: eventstore.BrokenIdempotency}
			},
			reason: `idempotency record "idem-1": names event `,
		},
		{
			// 8. A key added to an event's stored metadata.
			name: "ExtraMetadataKey",
			tamper: func(ctx context.Context, tm Tamperer, _ []eventstore.RecordedEvent) error {
				return tm.SetMetadataKey(ctx, 3, "approved_by", json.RawMessage(`"mallory"`))
			},
			want: func(evs []eventstore.RecordedEvent) eventstore.BrokenLink {
				return linkOf(evs[3], eventstore.BrokenEvent)
			},
			reason: "hash does not match the event's content",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, tm := open(t, auditKey)
			ctx := testContext(t)
			evs := tamperFixture(t, s)
			if tc.setup != nil {
				tc.setup(t, s)
			}
			dir := t.TempDir()
			if tc.checkpoint {
				_, err := checkpointer(t, s, dir).Take(ctx, eventstore.CheckpointCLI)
				require.NoError(t, err)
			}
			require.NoError(t, tc.tamper(ctx, tm, evs))

			opts := eventstore.VerifyOptions{Key: auditKey, AuditDir: dir}
			if tc.noAuditDir {
				opts.AuditDir = ""
			}
			if tc.noKey {
				opts.Key = eventstore.AuditKey{}
			}
			rep, err := eventstore.Verify(ctx, s, opts)
			require.NoError(t, err)
			require.NotNil(t, rep.Broken, "tampering goes unnoticed")
			assert.NotEmpty(t, rep.Broken.Reason)
			assert.Contains(t, rep.Broken.Reason, tc.reason)
			want := tc.want(evs)
			got := *rep.Broken
			if want.StreamID == "" {
				got.StreamID, got.Version, got.EventID = "", 0, ""
			}
			if want.EventID == "" {
				got.EventID = ""
			}
			if want.Kind == "" {
				got.Kind = ""
			}
			got.Reason = ""
			assert.Equal(t, want, got, "first broken link (reason: %s)", rep.Broken.Reason)
		})
	}
}

func linkOf(e eventstore.RecordedEvent, kind string) eventstore.BrokenLink {
	return eventstore.BrokenLink{Position: e.Position, StreamID: e.StreamID, Version: e.Version, EventID: e.EventID, Kind: kind}
}

// testCheckpoints: the Checkpointer signs the head, keeps the history in
// the store and the latest copy in the audit directory, and refuses to
// sign a log that no longer extends its last checkpoint.
func testCheckpoints(t *testing.T, open Open) {
	t.Run("History", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, auditKey)
		ctx := testContext(t)
		evs := tamperFixture(t, s)
		dir := t.TempDir()
		cpr := checkpointer(t, s, dir)
		first, err := cpr.Take(ctx, eventstore.CheckpointStart)
		require.NoError(t, err)
		assert.Equal(t, int64(6), first.Position)
		assert.Equal(t, evs[6].LogHash, first.LogHash)
		assert.Equal(t, eventstore.CheckpointStart, first.Reason)
		assert.True(t, first.Valid(auditKey))
		assert.False(t, first.Valid(forgerKey))

		mustAppend(t, s, request("acct-c", eventstore.NoStream, newEvent("Changed", `{}`)))
		second, err := cpr.Take(ctx, eventstore.CheckpointInterval)
		require.NoError(t, err)
		assert.Equal(t, int64(7), second.Position)

		as := s.(eventstore.AuditStore)
		info, err := as.AuditInfo(ctx)
		require.NoError(t, err)
		assert.Equal(t, info.StoreID, second.StoreID)
		history, err := as.Checkpoints(ctx, eventstore.Checkpoint{}, 10)
		require.NoError(t, err)
		require.Len(t, history, 2)
		assert.Equal(t, []int64{6, 7}, []int64{history[0].Position, history[1].Position})
		assert.Equal(t, second.MAC, history[1].MAC)
		assert.True(t, history[0].TakenAt.Equal(first.TakenAt))
		rest, err := as.Checkpoints(ctx, history[0], 10)
		require.NoError(t, err)
		require.Len(t, rest, 1, "paging continues after the given checkpoint")
		assert.Equal(t, second.MAC, rest[0].MAC)

		cp, err := eventstore.ReadCheckpointFile(eventstore.CheckpointFile(dir, info.StoreID))
		require.NoError(t, err)
		assert.Equal(t, second.MAC, cp.MAC, "the copy is the latest")
		fi, err := os.Stat(eventstore.CheckpointFile(dir, info.StoreID))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

		mustAppend(t, s, request("acct-c", eventstore.Exact(1), newEvent("Changed", `{}`)))
		rep, err := eventstore.Verify(ctx, s, eventstore.VerifyOptions{Key: auditKey, AuditDir: dir})
		require.NoError(t, err)
		assert.Nil(t, rep.Broken)
		require.NotNil(t, rep.LatestCheckpoint)
		assert.Equal(t, int64(7), rep.LatestCheckpoint.Position)
		assert.Equal(t, int64(1), rep.EventsAfterCheckpoint, "the unprotected window")
		assert.Equal(t, int64(3), rep.CheckpointsChecked)
	})
	t.Run("RefusesACutLog", func(t *testing.T) {
		t.Parallel()
		s, tm := open(t, auditKey)
		ctx := testContext(t)
		evs := tamperFixture(t, s)
		dir := t.TempDir()
		signed, err := checkpointer(t, s, dir).Take(ctx, eventstore.CheckpointStop)
		require.NoError(t, err)
		require.NoError(t, errors.Join(tm.Delete(ctx, 6), tm.SetStreamHead(ctx, headOf(evs[4]))))

		// A fresh process (no memory of its own) judges by the copy.
		_, err = checkpointer(t, s, dir).Take(ctx, eventstore.CheckpointStart)
		require.ErrorIs(t, err, eventstore.ErrCheckpointRefused)
		assert.ErrorContains(t, err, "says the log reached position 6, the log now ends at 5")
		info, err := s.(eventstore.AuditStore).AuditInfo(ctx)
		require.NoError(t, err)
		cp, err := eventstore.ReadCheckpointFile(eventstore.CheckpointFile(dir, info.StoreID))
		require.NoError(t, err)
		assert.Equal(t, signed, cp, "the evidence is left in place")

		// New events at the cut positions do not hide it either.
		mustAppend(t, s, request("acct-b", eventstore.Exact(2), newEvent("Changed", `{"n":5}`)))
		_, err = checkpointer(t, s, dir).Take(ctx, eventstore.CheckpointInterval)
		require.ErrorIs(t, err, eventstore.ErrCheckpointRefused)
		assert.ErrorContains(t, err, "no longer has the checkpoint's log hash")
	})
	t.Run("RefusesAForgedCopy", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, auditKey)
		ctx := testContext(t)
		tamperFixture(t, s)
		dir := t.TempDir()
		signed, err := checkpointer(t, s, dir).Take(ctx, eventstore.CheckpointCLI)
		require.NoError(t, err)
		path := eventstore.CheckpointFile(dir, signed.StoreID)
		forged := signed
		forged.Position = 2
		raw, err := json.Marshal(forged)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, raw, 0o600))

		_, err = checkpointer(t, s, dir).Take(ctx, eventstore.CheckpointStart)
		require.ErrorIs(t, err, eventstore.ErrCheckpointRefused)
		rep, err := eventstore.Verify(ctx, s, eventstore.VerifyOptions{Key: auditKey, AuditDir: dir})
		require.NoError(t, err)
		require.NotNil(t, rep.Broken)
		assert.Equal(t, eventstore.BrokenCheckpoint, rep.Broken.Kind)
		assert.Contains(t, rep.Broken.Reason, "MAC does not match")

		require.NoError(t, os.Remove(path))
		rep, err = eventstore.Verify(ctx, s, eventstore.VerifyOptions{Key: auditKey, AuditDir: dir})
		require.NoError(t, err)
		assert.Nil(t, rep.Broken)
		assert.Contains(t, rep.NotChecked, "no checkpoint copy found at "+path)
		_, err = os.Stat(path)
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
	t.Run("OtherKey", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, auditKey)
		tamperFixture(t, s)
		c, err := eventstore.NewCheckpointer(s, forgerKey, t.TempDir(), nil)
		require.NoError(t, err)
		_, err = c.Take(testContext(t), eventstore.CheckpointCLI)
		assert.ErrorIs(t, err, eventstore.ErrAuditKeyMismatch)
	})
}
