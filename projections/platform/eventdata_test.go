package platform_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/platform"
)

func TestEventData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := raise("f1", "s1", csdomain.SeverityHigh)
	for _, p := range []projections.Projection{platform.NewDashboard()} {
		ev := stream("team-a", positions(1), r)[0]
		pointer := ev
		pointer.Data = &r
		tx := newMemTx()
		require.NoError(t, p.Apply(ctx, tx, pointer), "%s: pointer data is accepted", p.Name())
		require.Equal(t, apply(t, p, ev).Colls, tx.Colls, p.Name())

		other := ev
		other.Type, other.Data = "SomethingElse", struct{}{}
		require.NoError(t, p.Apply(ctx, newMemTx(), other), "%s: other events are ignored", p.Name())

		bad := ev
		bad.Data = "not a FindingRaised"
		require.ErrorContains(t, p.Apply(ctx, newMemTx(), bad), "unexpected data string", p.Name())
	}
}
