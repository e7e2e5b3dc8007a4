package platform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/platform"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// keysEnv is the query env with the platform.api_keys read model built
// from events.
func keysEnv(t *testing.T, events []projections.Event) *env {
	t.Helper()
	ctx := context.Background()
	e := envOver(qt.OpenEnv(t, t.TempDir()))
	t.Cleanup(func() { e.Close(t) })
	p := platformproj.NewAPIKeys()
	store := e.Stores[p.Database()]
	for _, spec := range p.Collections() {
		require.NoError(t, store.EnsureCollection(ctx, spec))
	}
	tx := qt.NewMemTx()
	for _, ev := range events {
		require.NoError(t, p.Apply(ctx, tx, ev))
	}
	batch := readmodel.Batch{Projection: p.Name(), Checkpoint: int64(len(events)), Puts: map[string][]readmodel.Doc{}}
	for coll, docs := range tx.Colls {
		for _, id := range slices.Sorted(maps.Keys(docs)) {
			batch.Puts[coll] = append(batch.Puts[coll], docs[id])
		}
	}
	require.NoError(t, store.Commit(ctx, batch))
	return e
}

func keyEvents() *qt.History {
	h := &qt.History{}
	issue := func(team, id string, role access.Role, d time.Duration) access.APIKeyIssued {
		return access.APIKeyIssued{
			KeyID: id, Name: "key " + id, TeamID: team, Role: role,
			Salt: "000102030405060708090a0b0c0d0e0f", Hash: strings.Repeat("ab", 32), IssuedAt: qt.At(d),
		}
	}
	for i := range 5 {
		h.Add("team-a", issue("team-a", fmt.Sprintf("a%d", i), access.Viewer, time.Duration(i)*time.Minute))
	}
	h.Add("team-a", access.APIKeyRevoked{KeyID: "a1", Reason: "leaked", RevokedAt: qt.At(time.Hour)})
	h.Add("team-b", issue("team-b", "b0", access.Admin, 30*time.Second))
	return h
}

func TestListKeys(t *testing.T) {
	t.Parallel()
	e := keysEnv(t, keyEvents().Events)
	ctx := context.Background()

	first, err := e.svc.ListKeys(ctx, "team-a", queries.Page{Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, []string{"a4", "a3", "a2"}, qt.IDs(first.Items, func(k platform.APIKey) string { return k.ID }))
	require.NotEmpty(t, first.NextCursor)
	rest, err := e.svc.ListKeys(ctx, "team-a", queries.Page{Limit: 3, Cursor: first.NextCursor})
	require.NoError(t, err)
	assert.Equal(t, []string{"a1", "a0"}, qt.IDs(rest.Items, func(k platform.APIKey) string { return k.ID }))
	assert.Empty(t, rest.NextCursor)
	assert.Equal(t, platform.APIKey{
		ID: "a1", Name: "key a1", TeamID: "team-a", Role: "viewer", Status: "revoked",
		IssuedAt: qt.At(time.Minute), RevokedAt: qt.At(time.Hour), RevokeReason: "leaked", UpdatedPosition: 6,
	}, rest.Items[0])
	assert.Equal(t, "active", rest.Items[1].Status)

	b, err := e.svc.ListKeys(ctx, "team-b", queries.Page{})
	require.NoError(t, err)
	assert.Equal(t, []string{"b0"}, qt.IDs(b.Items, func(k platform.APIKey) string { return k.ID }), "only the caller's team")

	none, err := e.svc.ListKeys(ctx, "team-c", queries.Page{})
	require.NoError(t, err)
	assert.Empty(t, none.Items)

	_, err = e.svc.ListKeys(ctx, "", queries.Page{})
	require.ErrorIs(t, err, queries.ErrNoTeam)
	for name, p := range map[string]queries.Page{
		"limit":  {Limit: queries.MaxLimit + 1},
		"cursor": {Cursor: "!!"},
	} {
		_, err := e.svc.ListKeys(ctx, "team-a", p)
		var ve *domain.ValidationError
		require.ErrorAs(t, err, &ve, name)
		assert.Equal(t, name, ve.Fields[0].Field)
	}

	// The JSON holds no secret material.
	raw, err := json.Marshal(first)
	require.NoError(t, err)
	for _, word := range []string{"salt", "hash", "secret", `"key"`} {
		assert.NotContains(t, string(raw), word)
	}
}
