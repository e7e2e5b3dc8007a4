package platform_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/eventstore"
)

// ImportUser: one stream per team and email, dated by the legacy times,
// idempotent under its key; the same email again under another key is a
// conflict, another team's user with that email is its own stream.
func TestImportUser(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	created := time.Date(2023, 7, 19, 14, 18, 9, 0, time.UTC)
	cmd := platform.ImportUser{Email: "alice@example.com", Name: "Alice", Role: "admin", Active: true, CreatedAt: created}
	meta := commands.Meta{TeamID: "team-a", Actor: "import-legacy", IdempotencyKey: "legacy:users:1"}

	res, err := d.h.ImportUser(t.Context(), meta, cmd)
	require.NoError(t, err)
	assert.Equal(t, access.UserID("team-a", "alice@example.com"), res.ID)
	assert.Equal(t, access.UserStream(res.ID), res.StreamID)
	evs, err := d.Store.ReadStream(t.Context(), res.StreamID, eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, access.UserStreamType, evs[0].StreamType)
	v, err := d.Codec.Decode(evs[0])
	require.NoError(t, err)
	assert.Equal(t, created, v.(access.UserImported).CreatedAt.UTC())

	again, err := d.h.ImportUser(t.Context(), meta, cmd)
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, res.Position, again.Position)

	other := meta
	other.IdempotencyKey = "legacy:users:2"
	_, err = d.h.ImportUser(t.Context(), other, cmd)
	require.ErrorIs(t, err, eventstore.ErrConflict)

	otherTeam := meta
	otherTeam.TeamID = "team-b"
	res2, err := d.h.ImportUser(t.Context(), otherTeam, cmd)
	require.NoError(t, err)
	assert.NotEqual(t, res.StreamID, res2.StreamID)
}
