package commands_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// Upsert creates the stream with its first command, appends to it after,
// and treats another team's stream, or one of another type, as missing.
func TestUpsert(t *testing.T) {
	t.Parallel()
	d := ct.New(t)
	ctx := t.Context()
	c := commands.FindingCall("ResolveFinding", "fnd-1", nil)
	var seen [][]csdomain.Event
	decide := func(history []csdomain.Event) ([]csdomain.Event, error) {
		seen = append(seen, history)
		return []csdomain.Event{csdomain.FindingResolved{FindingID: "fnd-1", ResolvedAt: d.Clock.Now()}}, nil
	}
	res, err := commands.Upsert(ctx, d.Kit, ct.TeamA, c, decide)
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Version)
	res, err = commands.Upsert(ctx, d.Kit, ct.TeamA, c, decide)
	require.NoError(t, err)
	assert.Equal(t, int64(2), res.Version)
	require.Len(t, seen, 2)
	assert.Empty(t, seen[0], "the first command decides on an empty history")
	assert.Len(t, seen[1], 1)

	head := d.Head(t)
	_, err = commands.Upsert(ctx, d.Kit, ct.TeamB, c, decide)
	require.ErrorIs(t, err, domain.ErrNotFound, "another team's stream")
	scan := d.RequestScan(t, ct.TeamA)
	_, err = commands.Upsert(ctx, d.Kit, ct.TeamA, commands.Call{Name: "X", TargetID: scan, StreamID: commands.ScanStreamID(scan),
		Type: commands.StreamTypeFinding}, decide)
	require.ErrorIs(t, err, domain.ErrNotFound, "a stream of another type")
	assert.Equal(t, head+1, d.Head(t), "only the scan was appended")
	assert.Len(t, seen, 2, "neither was decided on")
}
