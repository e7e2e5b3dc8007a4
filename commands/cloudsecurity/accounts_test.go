package cloudsecurity_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/cloudsecurity"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// seenAccounts is a read model of accounts seen in imports: team -> id -> name.
type seenAccounts map[string]map[string]string

func (s seenAccounts) KnownAccount(_ context.Context, team, id string) (string, bool, error) {
	name, ok := s[team][id]
	return name, ok, nil
}

func TestRegisterAccount(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	res, err := d.h.RegisterAccount(t.Context(), ct.TeamA, cloudsecurity.RegisterAccount{Provider: "AWS", UID: "123456789012",
		Name: "prod", Tags: map[string]string{"env": "prod"}})
	require.NoError(t, err)
	id := csdomain.AccountID("team-a", "aws", "123456789012")
	assert.Equal(t, id, res.ID)
	assert.Equal(t, "account-"+id, res.StreamID)
	events := d.Stream(t, res.StreamID)
	require.Len(t, events, 1)
	assert.Equal(t, commands.StreamTypeCloudAccount, events[0].StreamType)
	ct.AssertMetadata(t, ct.TeamA, events...)
	assert.Equal(t, []any{csdomain.CloudAccountRegistered{AccountID: id, Provider: "aws", UID: "123456789012", Name: "prod",
		Tags: map[string]string{"env": "prod"}, RegisteredAt: ct.T0}}, d.Decoded(t, res.StreamID))

	_, err = d.h.RegisterAccount(t.Context(), ct.TeamA, cloudsecurity.RegisterAccount{Provider: "aws", UID: "123456789012"})
	var re *domain.RuleError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, csdomain.CodeAccountAlreadyRegistered, re.Code)

	// Another team registers the same account: one of its own.
	resB, err := d.h.RegisterAccount(t.Context(), ct.TeamB, cloudsecurity.RegisterAccount{Provider: "aws", UID: "123456789012"})
	require.NoError(t, err)
	assert.NotEqual(t, res.ID, resB.ID)

	_, err = d.h.RegisterAccount(t.Context(), ct.TeamA, cloudsecurity.RegisterAccount{Provider: "aws"})
	var ve *domain.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "uid", ve.Fields[0].Field)

	t.Run("the audit replay shows the account", func(t *testing.T) {
		state, err := commands.State(d.Codec, events)
		require.NoError(t, err)
		assert.Equal(t, csdomain.CloudAccountState{AccountID: id, Registered: true, Name: "prod",
			Tags: map[string]string{"env": "prod"}, Status: "active"}, state)
	})
}

// An account seen only in an import is renamed, tagged and retired (the
// first of those creates its stream); one the team has not seen is not
// found, another team's included; a retired account cannot be renamed.
func TestAccountCommands_SeenInImport(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	id := csdomain.AccountID("team-a", "aws", "018134828551")
	h := d.h.WithKnownAccounts(seenAccounts{"team-a": {id: "018134828551"}})

	res, err := h.RenameAccount(t.Context(), ct.TeamA, cloudsecurity.RenameAccount{AccountID: id, Name: "security-audit"})
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Version)
	_, err = h.TagAccount(t.Context(), ct.TeamA, cloudsecurity.TagAccount{AccountID: id, Tags: map[string]string{"env": "prod"}})
	require.NoError(t, err)
	_, err = h.RetireAccount(t.Context(), ct.TeamA, cloudsecurity.RetireAccount{AccountID: id, Reason: "closed"})
	require.NoError(t, err)
	assert.Equal(t, []any{
		csdomain.CloudAccountRenamed{AccountID: id, Name: "security-audit", RenamedAt: ct.T0},
		csdomain.CloudAccountTagged{AccountID: id, Tags: map[string]string{"env": "prod"}, TaggedAt: ct.T0},
		csdomain.CloudAccountRetired{AccountID: id, Reason: "closed", RetiredAt: ct.T0},
	}, d.Decoded(t, csdomain.AccountStream(id)))

	_, err = h.RenameAccount(t.Context(), ct.TeamA, cloudsecurity.RenameAccount{AccountID: id, Name: "again"})
	var re *domain.RuleError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, csdomain.CodeAccountRetired, re.Code)

	_, err = h.RenameAccount(t.Context(), ct.TeamB, cloudsecurity.RenameAccount{AccountID: id, Name: "x"})
	assert.True(t, errors.Is(err, domain.ErrNotFound), "another team's account: %v", err)
	unseen := csdomain.AccountID("team-a", "aws", "999")
	_, err = h.TagAccount(t.Context(), ct.TeamA, cloudsecurity.TagAccount{AccountID: unseen, Tags: map[string]string{"a": "b"}})
	assert.True(t, errors.Is(err, domain.ErrNotFound), "an account never seen: %v", err)
	assert.Empty(t, d.Stream(t, csdomain.AccountStream(unseen)), "nothing appended")
}
