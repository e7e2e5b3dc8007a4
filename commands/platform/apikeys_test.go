package platform_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/eventstore"
)

func TestIssueKey(t *testing.T) {
	t.Parallel()

	t.Run("returns the key once and stores only a salted hash", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		res, err := d.h.IssueKey(t.Context(), ct.TeamA, platform.IssueKey{Name: " ci ", Role: "Analyst"})
		require.NoError(t, err)

		keyID, secret, err := access.ParseToken(res.Key)
		require.NoError(t, err)
		assert.Equal(t, keyID, res.ID)
		assert.Equal(t, "apikey-"+keyID, res.StreamID)
		assert.Equal(t, int64(1), res.Version)
		assert.Equal(t, d.Head(t), res.Position)
		assert.False(t, res.Duplicate)
		assert.Equal(t, "ci", res.Name)
		assert.Equal(t, access.Analyst, res.Role)
		assert.Equal(t, "team-a", res.TeamID)

		events := d.Stream(t, res.StreamID)
		require.Len(t, events, 1)
		assert.Equal(t, commands.StreamTypeAPIKey, events[0].StreamType)
		assert.Equal(t, "ApiKeyIssued", events[0].Type)
		assert.Equal(t, []string{events[0].EventID}, res.EventIDs)
		ct.AssertMetadata(t, ct.TeamA, events...)
		assertNoSecret(t, res.Key, secret, events...)

		got := d.Decoded(t, res.StreamID)[0].(access.APIKeyIssued)
		assert.Equal(t, access.APIKeyIssued{
			KeyID: keyID, Name: "ci", TeamID: "team-a", Role: access.Analyst, Salt: got.Salt, Hash: got.Hash, IssuedAt: ct.T0,
		}, got)
		assert.True(t, access.VerifySecret(got.Salt, got.Hash, secret))
	})

	t.Run("every key is new", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		a, err := d.h.IssueKey(t.Context(), ct.TeamA, platform.IssueKey{Name: "k", Role: "viewer"})
		require.NoError(t, err)
		b, err := d.h.IssueKey(t.Context(), ct.TeamA, platform.IssueKey{Name: "k", Role: "viewer"})
		require.NoError(t, err)
		assert.NotEqual(t, a.ID, b.ID)
		assert.NotEqual(t, a.Key, b.Key)
	})

	t.Run("a key is issued in the caller's team only", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		res, err := d.h.IssueKey(t.Context(), ct.TeamA, platform.IssueKey{Name: "k", Role: "admin", TeamID: "team-a"})
		require.NoError(t, err)
		assert.Equal(t, "team-a", res.TeamID)

		_, err = d.h.IssueKey(t.Context(), ct.TeamA, platform.IssueKey{Name: "k", Role: "admin", TeamID: "team-b"})
		ct.RequireFields(t, err, "team_id")
		assert.Equal(t, res.Position, d.Head(t))
	})

	t.Run("bad input names every field and appends nothing", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		_, err := d.h.IssueKey(t.Context(), ct.TeamA, platform.IssueKey{Name: strings.Repeat("n", 101), Role: "root"})
		ct.RequireFields(t, err, "name", "role")
		_, err = d.h.IssueKey(t.Context(), commands.Meta{TeamID: "team a"}, platform.IssueKey{Name: "k", Role: "viewer"})
		ct.RequireFields(t, err, "team_id")
		_, err = d.h.IssueKey(t.Context(), commands.Meta{}, platform.IssueKey{Name: "k", Role: "viewer"})
		require.Error(t, err, "a meta without a team is refused")
		assert.Zero(t, d.Head(t))
	})

	t.Run("an idempotent replay answers without the key", func(t *testing.T) {
		t.Parallel()
		d := newDeps(t)
		meta := ct.WithKey(ct.TeamA, "issue-1")
		first, err := d.h.IssueKey(t.Context(), meta, platform.IssueKey{Name: "ci", Role: "viewer"})
		require.NoError(t, err)
		require.NotEmpty(t, first.Key)
		head := d.Head(t)

		again, err := d.h.IssueKey(t.Context(), meta, platform.IssueKey{Name: "ci", Role: "viewer"})
		require.NoError(t, err)
		assert.True(t, again.Duplicate)
		assert.Empty(t, again.Key, "the secret is never produced twice")
		want := first
		want.Key, want.Duplicate = "", true
		assert.Equal(t, want, again)
		assert.Equal(t, head, d.Head(t), "nothing appended")

		_, err = d.h.IssueKey(t.Context(), meta, platform.IssueKey{Name: "ci", Role: "admin"})
		require.ErrorIs(t, err, eventstore.ErrIdempotencyMismatch)

		other, err := d.h.IssueKey(t.Context(), ct.WithKey(ct.TeamB, "issue-1"), platform.IssueKey{Name: "ci", Role: "viewer"})
		require.NoError(t, err)
		assert.False(t, other.Duplicate, "idempotency keys are per team")
	})
}

func TestRevokeKey(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	ctx := t.Context()
	issued, err := d.h.IssueKey(ctx, ct.TeamA, platform.IssueKey{Name: "ci", Role: "analyst"})
	require.NoError(t, err)

	_, err = d.h.RevokeKey(ctx, ct.TeamB, platform.RevokeKey{KeyID: issued.ID})
	require.ErrorIs(t, err, domain.ErrNotFound, "another team's key does not exist for the caller")
	_, err = d.h.RevokeKey(ctx, ct.TeamA, platform.RevokeKey{KeyID: "aaaaaaaaaaaaaaaa"})
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, err = d.h.RevokeKey(ctx, ct.TeamA, platform.RevokeKey{})
	ct.RequireFields(t, err, "key_id")
	_, err = d.h.RevokeKey(ctx, ct.TeamA, platform.RevokeKey{KeyID: issued.ID, Reason: strings.Repeat("r", 501)})
	ct.RequireFields(t, err, "reason")

	d.Clock.Advance(time.Hour)
	meta := ct.WithKey(ct.TeamA, "revoke-1")
	res, err := d.h.RevokeKey(ctx, meta, platform.RevokeKey{KeyID: issued.ID, Reason: "leaked"})
	require.NoError(t, err)
	assert.Equal(t, issued.ID, res.ID)
	assert.Equal(t, int64(2), res.Version)
	events := d.Stream(t, issued.StreamID)
	require.Len(t, events, 2)
	ct.AssertMetadata(t, meta, events[1])
	assert.Equal(t, access.APIKeyRevoked{KeyID: issued.ID, Reason: "leaked", RevokedAt: ct.T0.Add(time.Hour)}, d.Decoded(t, issued.StreamID)[1])

	again, err := d.h.RevokeKey(ctx, meta, platform.RevokeKey{KeyID: issued.ID, Reason: "leaked"})
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, issued.ID, again.ID)

	_, err = d.h.RevokeKey(ctx, ct.TeamA, platform.RevokeKey{KeyID: issued.ID})
	ct.RequireRule(t, err, access.CodeKeyAlreadyRevoked)
	assert.Len(t, d.Stream(t, issued.StreamID), 2)

	state, err := commands.State(d.Codec, events)
	require.NoError(t, err)
	assert.Equal(t, access.APIKeyState{
		KeyID: issued.ID, Name: "ci", TeamID: "team-a", Role: access.Analyst, Status: access.StatusRevoked,
		IssuedAt: ct.T0, RevokedAt: ct.T0.Add(time.Hour), RevokeReason: "leaked",
	}, state)
}

// assertNoSecret checks that no stored event holds the key or its secret.
func assertNoSecret(t *testing.T, key, secret string, events ...eventstore.RecordedEvent) {
	t.Helper()
	for _, e := range events {
		for _, s := range []string{string(e.Data), e.Metadata.Actor, e.Metadata.CorrelationID, e.StreamID} {
			assert.NotContains(t, s, key)
			assert.NotContains(t, s, secret)
		}
	}
}

// The ReadAll of the whole store holds no secret either.
func TestIssueKeyStoresNoSecret(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	var keys []platform.IssuedKey
	for _, role := range access.Roles() {
		k, err := d.h.IssueKey(t.Context(), ct.TeamA, platform.IssueKey{Name: string(role), Role: string(role)})
		require.NoError(t, err)
		keys = append(keys, k)
	}
	all, err := d.Store.ReadAll(context.Background(), 0, 0)
	require.NoError(t, err)
	require.Len(t, all, len(keys))
	for _, k := range keys {
		_, secret, err := access.ParseToken(k.Key)
		require.NoError(t, err)
		assertNoSecret(t, k.Key, secret, all...)
	}
}
