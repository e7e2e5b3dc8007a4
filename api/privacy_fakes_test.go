package api_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	privacycmd "github.com/cspm-es/cspm-es/commands/privacy"
	"github.com/cspm-es/cspm-es/platform/privacy"
	"github.com/cspm-es/cspm-es/platform/secretbox"
)

// fakePrivacy answers the forget route: the subject id is a fixed
// stand-in, a team's subject "gone@example.com" has no key.
type fakePrivacy struct{}

func (fakePrivacy) Forget(_ context.Context, m commands.Meta, cmd privacycmd.Forget) (api.ForgetResult, error) {
	const id = "5f1c2a9e7d0ec76724406665a630fdd838515242"
	f := privacycmd.Forgotten{
		Result:     commands.Result{ID: id, StreamID: privacycmd.StreamID(id), Version: 1, Position: 88, EventIDs: []string{"0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e88"}},
		SubjectID:  id,
		KeyExisted: cmd.Subject != "gone@example.com",
	}
	return api.NewForgetResult(f, api.RebuildStarted{Projections: []string{"risk.register"}, RequestedAt: time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)}, nil), nil
}

// contractPrivacy is the forget command on the contract's store with a
// keyring of its own; no projector here, so the rebuild is left to an
// operator (cmd/cspm covers the rebuild).
type contractPrivacy struct{ h *privacycmd.Handlers }

func newContractPrivacy(t *testing.T, kit *commands.Kit) contractPrivacy {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{5}, 32))
	require.NoError(t, err)
	keys, err := privacy.Open(filepath.Join(t.TempDir(), "privacy"), box)
	require.NoError(t, err)
	return contractPrivacy{privacycmd.New(kit, keys)}
}

func (p contractPrivacy) Forget(ctx context.Context, m commands.Meta, cmd privacycmd.Forget) (api.ForgetResult, error) {
	f, err := p.h.Forget(ctx, m, cmd)
	if err != nil {
		return api.ForgetResult{}, err
	}
	return api.NewForgetResult(f, api.RebuildStarted{}, []string{"risk.register"}), nil
}
