package retention_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	retcmd "github.com/cspm-es/cspm-es/commands/retention"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/retention"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
)

func TestSetPolicyAndPolicies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "events.sqlite"), sqlite.Options{Synchronous: "normal"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	h := retcmd.New(commands.NewKit(store, eventstore.NewDomainCodec(), func() time.Time { return t0 }))
	admin := commands.Meta{TeamID: "team-a", Actor: "alice", Route: "PUT /api/v1/retention-policies/:module"}

	ps, err := h.Policies(ctx)
	require.NoError(t, err)
	assert.Equal(t, []retention.Policy{
		{Module: "scan-results", Days: 180, Default: true},
		{Module: "webhook-deliveries", Days: 180, Default: true},
	}, ps, "no policy set: the defaults")

	res, err := h.SetPolicy(ctx, admin, retcmd.SetPolicy{Module: "scan-results", Days: 365, Reason: "audit"})
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Version)
	assert.Equal(t, retention.StreamID("scan-results"), res.StreamID)
	again, err := h.SetPolicy(ctx, admin, retcmd.SetPolicy{Module: "scan-results", Days: 365})
	require.NoError(t, err)
	assert.Equal(t, res.Version, again.Version, "the policy in force repeated appends nothing")
	head, err := store.HeadPosition(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), head)

	retry := admin
	retry.IdempotencyKey = "k1"
	first, err := h.SetPolicy(ctx, retry, retcmd.SetPolicy{Module: "scan-results", Days: 90})
	require.NoError(t, err)
	dup, err := h.SetPolicy(ctx, retry, retcmd.SetPolicy{Module: "scan-results", Days: 90})
	require.NoError(t, err)
	assert.True(t, dup.Duplicate)
	assert.Equal(t, first.Position, dup.Position)

	ps, err = h.Policies(ctx)
	require.NoError(t, err)
	at := t0
	assert.Equal(t, retention.Policy{Module: "scan-results", Days: 90, SetAt: &at, SetBy: "alice"}, ps[0])

	_, err = h.SetPolicy(ctx, admin, retcmd.SetPolicy{Module: "nope", Days: 90})
	var v *domain.ValidationError
	require.ErrorAs(t, err, &v)
	assert.Equal(t, "module", v.Fields[0].Field)
}
