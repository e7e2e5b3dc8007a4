package cloudassets_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/cloudassets"
	"github.com/cspm-es/cspm-es/commands/commandstest"
	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	"github.com/cspm-es/cspm-es/eventstore"
)

var errCut = errors.New("the process died here")

// failingBatches lets after batch appends through, then fails (after < 0:
// never).
type failingBatches struct {
	commands.BatchStore
	after int
}

func (f *failingBatches) AppendBatch(ctx context.Context, reqs []eventstore.AppendRequest) ([]eventstore.AppendResult, error) {
	if f.after == 0 {
		return nil, errCut
	}
	f.after--
	return f.BatchStore.AppendBatch(ctx, reqs)
}

// An inventory import cut off between two appends is resumed by importing
// the same report again: the rest is appended, the completion last, every
// record once, with the times the import started with.
func TestImportInventory_ResumesACutImport(t *testing.T) {
	t.Parallel()
	d := commandstest.New(t)
	body := rows(40, 0)
	failing := &failingBatches{BatchStore: d.Store, after: 1}
	h := cloudassets.New(d.Kit, parsersPort{}, failing)
	h.SetLimits(400, 2) // about two records a chunk, two events an append
	_, err := importInv(t, h, body, "aws_s3_bucket", "complete")
	require.ErrorIs(t, err, errCut)
	require.Equal(t, int64(2), d.Head(t), "one append of two events went through")

	d.Clock.Advance(3600e9)
	failing.after = -1
	res, err := importInv(t, h, body, "aws_s3_bucket", "complete")
	require.NoError(t, err)
	assert.Equal(t, cloudassets.StatusCompleted, res.Status)
	evs := d.Decoded(t, cloudassets.StreamID(res.ImportID))
	started := evs[0].(cadomain.InventoryStarted)
	completed := evs[len(evs)-1].(cadomain.InventoryCompleted)
	assert.Equal(t, started.StartedAt, completed.ObservedAt, "the resumed import keeps its start")
	seen := map[string]int{}
	for _, e := range evs[1 : len(evs)-1] {
		rec := e.(cadomain.InventoryRecorded)
		assert.Equal(t, started.StartedAt, rec.ObservedAt)
		for _, r := range rec.Records {
			seen[r.AssetID]++
		}
	}
	assert.Len(t, seen, 40)
	for id, n := range seen {
		assert.Equal(t, 1, n, id)
	}

	// The same report in one go elsewhere makes as many events.
	d2 := commandstest.New(t)
	h2 := cloudassets.New(d2.Kit, parsersPort{}, d2.Store)
	h2.SetLimits(400, 2)
	res2, err := importInv(t, h2, body, "aws_s3_bucket", "complete")
	require.NoError(t, err)
	assert.Len(t, d2.Decoded(t, cloudassets.StreamID(res2.ImportID)), len(evs))
	assert.Equal(t, res.ImportID, res2.ImportID)
}
