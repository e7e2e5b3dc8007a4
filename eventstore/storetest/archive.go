package storetest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/archive"
)

// archiveWorld appends 40 events over 5 streams (some idempotent) and takes
// a checkpoint in the middle; it returns the checkpointer's directory.
func archiveWorld(t *testing.T, s eventstore.Store) string {
	t.Helper()
	ctx := testContext(t)
	dir := t.TempDir()
	cpr := checkpointer(t, s, dir)
	for i := range 40 {
		req := request(fmt.Sprintf("acct-%d", i%5), eventstore.Any, newEvent("Changed", fmt.Sprintf(`{"n":%d}`, i)))
		if i%7 == 0 {
			req = idempotent(req, fmt.Sprintf("key-%d", i), "fp")
		}
		mustAppend(t, s, req)
		if i == 20 {
			_, err := cpr.Take(ctx, eventstore.CheckpointInterval)
			require.NoError(t, err)
		}
	}
	_, err := cpr.Take(ctx, eventstore.CheckpointInterval)
	require.NoError(t, err)
	return dir
}

func readAllOf(t *testing.T, s eventstore.Store) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	for after := int64(0); ; {
		page, err := s.ReadAll(testContext(t), after, 7)
		require.NoError(t, err)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Position
	}
}

// testArchive: events archived (decision 90) leave the live store, and
// the store read through the archive is the same log: ReadAll, ReadStream
// and Verify answer as before archiving, appends continue archived
// streams, and a changed segment is named.
func testArchive(t *testing.T, open Open) {
	t.Run("ThroughArchiveIsTheSameLog", func(t *testing.T) {
		t.Parallel()
		live, _ := open(t, auditKey)
		ctx := testContext(t)
		auditDir := archiveWorld(t, live)
		before := readAllOf(t, live)
		require.Len(t, before, 40)
		repBefore, err := eventstore.Verify(ctx, live, eventstore.VerifyOptions{Key: auditKey, AuditDir: auditDir})
		require.NoError(t, err)
		require.Nil(t, repBefore.Broken)

		a, err := archive.Open(filepath.Join(t.TempDir(), "archive"))
		require.NoError(t, err)
		s := archive.Through(live, a)

		dry, err := archive.Run(ctx, s, archive.RunOptions{Cutoff: time.Now().Add(time.Hour), SegmentEvents: 8, DryRun: true})
		require.NoError(t, err)
		assert.Equal(t, int64(39), dry.Events, "a dry run counts every event but the head")
		assert.Zero(t, a.Events(), "a dry run writes nothing")
		assert.Len(t, readAllOf(t, live), 40, "a dry run deletes nothing")

		res, err := archive.Run(ctx, s, archive.RunOptions{Cutoff: time.Now().Add(time.Hour), SegmentEvents: 8})
		require.NoError(t, err)
		assert.Equal(t, archive.RunResult{FromPosition: 1, ToPosition: 39, Events: 39, Segments: 5, Bytes: res.Bytes, DeletedEvents: 39}, res)
		assert.Positive(t, res.Bytes)
		assert.Equal(t, int64(39), a.Events())
		assert.Len(t, readAllOf(t, live), 1, "the live store keeps only its last event")

		assert.Equal(t, before, readAllOf(t, s), "read through the archive, the log is the one stored before")
		for i := range 5 {
			id := fmt.Sprintf("acct-%d", i)
			var want []eventstore.RecordedEvent
			for _, e := range before {
				if e.StreamID == id {
					want = append(want, e)
				}
			}
			assert.Equal(t, want, readStream(t, s, id, eventstore.ReadStreamOptions{}), id)
			assert.Equal(t, want[2:4], readStream(t, s, id, eventstore.ReadStreamOptions{FromVersion: 3, ToVersion: 4}), id)
		}
		rep, err := eventstore.Verify(ctx, s, eventstore.VerifyOptions{Key: auditKey, AuditDir: auditDir})
		require.NoError(t, err)
		assert.Nil(t, rep.Broken, "verify through the archive: %v", rep.Broken)
		assert.Equal(t, repBefore.EventsChecked, rep.EventsChecked)
		assert.Equal(t, repBefore.IdempotencyChecked, rep.IdempotencyChecked)
		repLive, err := eventstore.Verify(ctx, live, eventstore.VerifyOptions{Key: auditKey, AuditDir: auditDir})
		require.NoError(t, err)
		require.NotNil(t, repLive.Broken, "the live store alone lacks the archived prefix")
		prob, n, err := a.Check(ctx)
		require.NoError(t, err)
		assert.Nil(t, prob)
		assert.Equal(t, int64(39), n)

		// An archived stream takes commands: the append continues its chain.
		mustAppend(t, s, request("acct-0", eventstore.Exact(8), newEvent("Changed", `{"n":40}`)))
		evs := readStream(t, s, "acct-0", eventstore.ReadStreamOptions{})
		require.Len(t, evs, 9)
		assert.Equal(t, evs[7].Hash, evs[8].PrevHash)
		rep, err = eventstore.Verify(ctx, s, eventstore.VerifyOptions{Key: auditKey, AuditDir: auditDir})
		require.NoError(t, err)
		assert.Nil(t, rep.Broken, "verify after an append to an archived stream: %v", rep.Broken)

		// A second run finds nothing new before the head to archive but the
		// event that was the head.
		res, err = archive.Run(ctx, s, archive.RunOptions{Cutoff: time.Now().Add(time.Hour), SegmentEvents: 8})
		require.NoError(t, err)
		assert.Equal(t, int64(1), res.Events)
		assert.Equal(t, int64(40), res.FromPosition)
		assert.Len(t, readAllOf(t, s), 41)

		// Idempotency records past their window are purged.
		p := live.(archive.Pruner)
		n, err = p.PurgeIdempotency(ctx, time.Now().Add(-time.Hour))
		require.NoError(t, err)
		assert.Zero(t, n, "records younger than the window stay")
		n, err = p.PurgeIdempotency(ctx, time.Now().Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, int64(6), n)
		_, _, found, err := live.LookupIdempotency(ctx, "key-0")
		require.NoError(t, err)
		assert.False(t, found)
		rep, err = eventstore.Verify(ctx, s, eventstore.VerifyOptions{Key: auditKey, AuditDir: auditDir})
		require.NoError(t, err)
		assert.Nil(t, rep.Broken)
		assert.Zero(t, rep.IdempotencyChecked)
	})

	t.Run("CutoffArchivesAPrefix", func(t *testing.T) {
		t.Parallel()
		live, _ := open(t, auditKey)
		ctx := testContext(t)
		archiveWorld(t, live)
		before := readAllOf(t, live)
		cutoff := before[25].RecordedAt
		var want int64
		for _, e := range before {
			if !e.RecordedAt.Before(cutoff) {
				break
			}
			want++
		}
		a, err := archive.Open(t.TempDir())
		require.NoError(t, err)
		s := archive.Through(live, a)
		res, err := archive.Run(ctx, s, archive.RunOptions{Cutoff: cutoff})
		require.NoError(t, err)
		assert.Equal(t, want, res.Events, "exactly the events recorded before the cut-off, a prefix")
		assert.Equal(t, want, a.LastPosition())
		assert.Equal(t, before, readAllOf(t, s))
	})

	t.Run("ArchiveOfAnotherStoreIsRefused", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		first, _ := open(t, auditKey)
		archiveWorld(t, first)
		dir := t.TempDir()
		a, err := archive.Open(dir)
		require.NoError(t, err)
		_, err = archive.Run(ctx, archive.Through(first, a), archive.RunOptions{Cutoff: time.Now().Add(time.Hour)})
		require.NoError(t, err)

		other, _ := open(t, auditKey)
		archiveWorld(t, other)
		_, err = archive.Run(ctx, archive.Through(other, a), archive.RunOptions{Cutoff: time.Now().Add(time.Hour)})
		require.ErrorContains(t, err, "give each store its own --archive-dir")
		assert.Len(t, readAllOf(t, other), 40, "nothing of the other store deleted")
	})

	t.Run("AlteredSegmentIsNamed", func(t *testing.T) {
		t.Parallel()
		live, _ := open(t, auditKey)
		ctx := testContext(t)
		archiveWorld(t, live)
		dir := t.TempDir()
		a, err := archive.Open(dir)
		require.NoError(t, err)
		s := archive.Through(live, a)
		_, err = archive.Run(ctx, s, archive.RunOptions{Cutoff: time.Now().Add(time.Hour), SegmentEvents: 10})
		require.NoError(t, err)
		segs := a.Segments()
		require.Len(t, segs, 4)
		path := filepath.Join(dir, segs[1].File)
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		raw[len(raw)/2] ^= 0xff
		require.NoError(t, os.WriteFile(path, raw, 0o600))

		fresh, err := archive.Open(dir) // no cached segment
		require.NoError(t, err)
		prob, _, err := fresh.Check(ctx)
		require.NoError(t, err)
		require.NotNil(t, prob)
		assert.Equal(t, 2, prob.Segment)
		assert.Contains(t, prob.Reason, "sha256")
		_, err = archive.Through(live, fresh).ReadAll(ctx, 0, 100)
		require.Error(t, err, "a reader never returns events of an altered segment")
		rep, err := eventstore.Verify(ctx, archive.Through(live, fresh), eventstore.VerifyOptions{Key: auditKey})
		require.NoError(t, err)
		require.NotNil(t, rep.Broken)
		assert.Equal(t, eventstore.BrokenArchive, rep.Broken.Kind)
		assert.Contains(t, rep.Broken.Reason, "archive segment 2")
	})
}
