package platform_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/platform"
)

func keyIssued(id, name string, role access.Role) access.APIKeyIssued {
	return access.APIKeyIssued{
		KeyID: id, Name: name, TeamID: "team-a", Role: role,
		Salt: "000102030405060708090a0b0c0d0e0f", Hash: strings.Repeat("ab", 32), IssuedAt: t0,
	}
}

// withActor sets the actor of events.
func withActor(actor string, events []projections.Event) []projections.Event {
	for i := range events {
		events[i].Metadata.Actor = actor
	}
	return events
}

func TestAPIKeysContract(t *testing.T) {
	t.Parallel()
	p := platform.NewAPIKeys()
	assert.Equal(t, "platform.api_keys", p.Name())
	assert.Equal(t, dbregistry.PLATFORM, p.Database())
	assert.Equal(t, []string{"ApiKeyIssued", "ApiKeyRevoked"}, p.EventTypes())
	for _, spec := range p.Collections() {
		require.NoError(t, spec.Validate())
		for _, ix := range spec.Indexes {
			assert.Equal(t, "team_id", ix.Fields[0].Path, "%s.%s must start with team_id", spec.Name, ix.Name)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	p := platform.NewAPIKeys()
	issued := keyIssued("k1", "ci", access.Analyst)
	revoked := access.APIKeyRevoked{KeyID: "k1", Reason: "leaked", RevokedAt: at(time.Hour)}

	tx := apply(t, p, withActor("key:admin1", stream("team-a", positions(4), issued))...)
	active := readmodel.Doc{
		"_id": "team-a/k1", "team_id": "team-a", "key_id": "k1", "name": "ci", "role": "analyst",
		"status": "active", "issued_at": t0, "issued_by": "key:admin1",
		"revoked_at": nil, "revoked_by": "", "revoke_reason": "", "updated_position": int64(4),
	}
	assert.Equal(t, active, tx.Doc(t, platform.APIKeysCollection, platform.APIKeyDocID("team-a", "k1")))

	events := withActor("key:admin1", stream("team-a", positions(4, 9), issued, revoked))
	events[1].Metadata.Actor = "cli"
	tx = apply(t, p, events...)
	want := readmodel.Doc{}
	for k, v := range active {
		want[k] = v
	}
	want["status"], want["revoked_at"], want["revoked_by"], want["revoke_reason"], want["updated_position"] = "revoked", at(time.Hour), "cli", "leaked", int64(9)
	doc := tx.Doc(t, platform.APIKeysCollection, "team-a/k1")
	assert.Equal(t, want, doc)
	for field := range doc {
		assert.NotContains(t, []string{"salt", "hash", "secret", "key"}, field, "no secret material in the read model")
	}

	// Applying an event again changes nothing (invariant 4: the runtime
	// skips it; the projection would not move anyway).
	again := apply(t, p, append(events, events...)...)
	assert.Equal(t, tx.Colls, again.Colls)

	// One team's events never touch another team's document.
	other := stream("team-b", positions(12), keyIssued("k1", "theirs", access.Viewer))
	tx = apply(t, p, append(events, other...)...)
	assert.Equal(t, want, tx.Doc(t, platform.APIKeysCollection, "team-a/k1"))
	assert.Equal(t, "theirs", tx.Doc(t, platform.APIKeysCollection, "team-b/k1")["name"])
}

func TestAPIKeysOrderIndependent(t *testing.T) {
	t.Parallel()
	var streams [][]projections.Event
	for i, id := range []string{"k1", "k2", "k3", "k4"} {
		base := int64(10 * (i + 1))
		s := []eventData{keyIssued(id, "key "+id, access.Viewer)}
		ps := positions(base)
		if i%2 == 0 {
			s = append(s, access.APIKeyRevoked{KeyID: id, RevokedAt: at(time.Duration(i) * time.Minute)})
			ps = positions(base, base+1)
		}
		streams = append(streams, stream("team-a", ps, s...))
	}
	assertOrderIndependent(t, platform.NewAPIKeys(), streams)
}

func TestAPIKeysEventData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := platform.NewAPIKeys()
	issued := keyIssued("k1", "ci", access.Admin)
	ev := stream("team-a", positions(1), issued)[0]
	pointer := ev
	pointer.Data = &issued
	tx := newMemTx()
	require.NoError(t, p.Apply(ctx, tx, pointer), "pointer data is accepted")
	require.Equal(t, apply(t, p, ev).Colls, tx.Colls)

	other := ev
	other.Type, other.Data = "SomethingElse", struct{}{}
	require.NoError(t, p.Apply(ctx, newMemTx(), other), "other events are ignored")

	bad := ev
	bad.Data = "not an ApiKeyIssued"
	require.ErrorContains(t, p.Apply(ctx, newMemTx(), bad), "unexpected data string")

	teamless := ev
	teamless.Metadata.TeamID = ""
	tx = newMemTx()
	require.NoError(t, p.Apply(ctx, tx, teamless))
	assert.Empty(t, tx.Colls, "an event without a team lists nowhere")
}
