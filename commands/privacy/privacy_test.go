package privacy_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/commandstest"
	privacycmd "github.com/cspm-es/cspm-es/commands/privacy"
	"github.com/cspm-es/cspm-es/domain"
	domprivacy "github.com/cspm-es/cspm-es/domain/privacy"
	"github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/privacy"
	"github.com/cspm-es/cspm-es/platform/secretbox"
)

func setup(t *testing.T) (*commandstest.Deps, *privacycmd.Handlers) {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	keys, err := privacy.Open(filepath.Join(t.TempDir(), "privacy"), box)
	require.NoError(t, err)
	d := commandstest.New(t)
	d.Codec.SetSubjectKeys(keys)
	return d, privacycmd.New(d.Kit, keys)
}

func identify(t *testing.T, d *commandstest.Deps, meta commands.Meta, id, owner string) {
	t.Helper()
	c := commands.Call{Name: "IdentifyRisk", TargetID: id, StreamID: "risk-" + id, Type: "Risk"}
	_, err := commands.Create(context.Background(), d.Kit, meta, c, "risk_id", func() ([]risk.Event, error) {
		return []risk.Event{risk.RiskIdentified{RiskID: id, Title: "t", Owner: owner, IdentifiedAt: commandstest.T0}}, nil
	})
	require.NoError(t, err)
}

func TestForget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, h := setup(t)
	identify(t, d, commandstest.TeamA, "r1", "Dana@Example.com")
	identify(t, d, commandstest.TeamB, "r2", "dana@example.com")

	meta := commandstest.TeamA
	meta.IdempotencyKey = "forget-1"
	res, err := h.Forget(ctx, meta, privacycmd.Forget{Subject: " dana@EXAMPLE.com"})
	require.NoError(t, err)
	assert.True(t, res.KeyExisted)
	assert.Equal(t, res.SubjectID, res.ID)

	// Read back: team A's owner erased, team B's kept.
	assert.Equal(t, eventstore.Erased, d.Decoded(t, "risk-r1")[0].(risk.RiskIdentified).Owner)
	assert.Equal(t, "dana@example.com", d.Decoded(t, "risk-r2")[0].(risk.RiskIdentified).Owner)

	// The record names the subject by its id only.
	stream := d.Stream(t, privacycmd.StreamID(res.SubjectID))
	require.Len(t, stream, 1)
	assert.NotContains(t, strings.ToLower(string(stream[0].Data)), "dana")
	assert.Equal(t, domprivacy.SubjectForgotten{SubjectID: res.SubjectID, KeyExisted: true, ForgottenAt: commandstest.T0},
		d.Decoded(t, privacycmd.StreamID(res.SubjectID))[0])

	// A retry with the same key replays; forgetting again is recorded again.
	again, err := h.Forget(ctx, meta, privacycmd.Forget{Subject: "dana@example.com"})
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	second, err := h.Forget(ctx, commandstest.TeamA, privacycmd.Forget{Subject: "dana@example.com"})
	require.NoError(t, err)
	assert.False(t, second.KeyExisted)
	assert.Len(t, d.Stream(t, privacycmd.StreamID(res.SubjectID)), 2)

	// Nothing else was rewritten: the chains verify.
	rep, err := eventstore.Verify(ctx, d.Store, eventstore.VerifyOptions{})
	require.NoError(t, err)
	assert.Nil(t, rep.Broken)
}

func TestForgetRejectsEmptySubject(t *testing.T) {
	t.Parallel()
	d, h := setup(t)
	head := d.Head(t)
	for _, s := range []string{"", "   ", strings.Repeat("a", 321)} {
		_, err := h.Forget(context.Background(), commandstest.TeamA, privacycmd.Forget{Subject: s})
		var ve *domain.ValidationError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, "subject", ve.Fields[0].Field)
	}
	assert.Equal(t, head, d.Head(t), "nothing appended")
}
