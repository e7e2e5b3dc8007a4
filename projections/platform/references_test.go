package platform_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/platform"
)

func TestCrossModuleReferences(t *testing.T) {
	t.Parallel()
	p := platform.NewCrossModuleReferences()
	assert.Equal(t, "platform.cross_module_references", p.Name())
	assert.Equal(t, dbregistry.PLATFORM, p.Database())
	assert.Equal(t, []string{"FindingRaised"}, p.EventTypes())
	for _, spec := range p.Collections() {
		require.NoError(t, spec.Validate())
		for _, ix := range spec.Indexes {
			assert.Equal(t, "team_id", ix.Fields[0].Path)
		}
	}

	var events []projections.Event
	events = append(events, stream("team-a", positions(3), raise("f1", "s1", csdomain.SeverityHigh))...)
	events = append(events, stream("team-b", positions(4), raise("f1", "s1", csdomain.SeverityLow))...)
	tx := apply(t, p, events...)
	require.Len(t, tx.Colls[platform.ReferencesCollection], 2)
	assert.Equal(t, readmodel.Doc{
		"_id": "team-a/finding:f1->scan:s1", "team_id": "team-a",
		"source_module": "cloud_security", "source_type": "finding", "source_id": "f1",
		"target_module": "orchestration", "target_type": "scan", "target_id": "s1",
		"relation": "raised_in", "recorded_at": t0.Add(3 * time.Millisecond), "position": int64(3),
	}, tx.Doc(t, platform.ReferencesCollection, platform.ReferenceID("team-a", "f1", "s1")))
	assert.Equal(t, "team-b", tx.Doc(t, platform.ReferencesCollection, "team-b/finding:f1->scan:s1")["team_id"])
}

func TestCrossModuleReferencesOrderIndependent(t *testing.T) {
	t.Parallel()
	var streams [][]projections.Event
	for i, id := range []string{"f1", "f2", "f3", "f4"} {
		streams = append(streams, stream("team-a", positions(int64(i+1)), raise(id, "s1", csdomain.SeverityHigh)))
	}
	assertOrderIndependent(t, platform.NewCrossModuleReferences(), streams)
}

func TestEventData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := raise("f1", "s1", csdomain.SeverityHigh)
	for _, p := range []projections.Projection{platform.NewDashboard(), platform.NewCrossModuleReferences()} {
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
