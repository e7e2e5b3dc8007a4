package cloudsecurity_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/cloudsecurity"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

func TestImports_ListAndGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.ImportPair("team-a").Events)
	ctx := context.Background()

	list, err := e.svc.ListImports(ctx, "team-a", queries.Page{})
	require.NoError(t, err)
	require.Equal(t, []string{"imp-scan-2", "imp-scan-1"}, qt.IDs(list.Items, func(i cloudsecurity.Import) string { return i.ID }), "newest first")

	imp, err := e.svc.GetImport(ctx, "team-a", "imp-scan-2")
	require.NoError(t, err)
	assert.Equal(t, "completed", imp.Status)
	assert.Equal(t, "scan-2", imp.ScanID)
	assert.Equal(t, "prowler", imp.Tool)
	assert.Equal(t, "5.34.0", imp.ToolVersion)
	assert.Equal(t, "alice", imp.Actor)
	assert.Equal(t, "prowler/v1", imp.IdentityRule)
	assert.Equal(t, pt.T0.Add(2*3600e9), imp.EvaluatedAt.UTC())
	assert.NotZero(t, imp.Position)

	for name, team := range map[string]string{"another team's": "team-b"} {
		_, err := e.svc.GetImport(ctx, team, "imp-scan-2")
		assert.ErrorIs(t, err, queries.ErrNotFound, name)
		other, err := e.svc.ListImports(ctx, team, queries.Page{})
		require.NoError(t, err)
		assert.Empty(t, other.Items, name)
	}
	_, err = e.svc.GetImport(ctx, "team-a", "imp-none")
	assert.ErrorIs(t, err, queries.ErrNotFound)
	_, err = e.svc.ListImports(ctx, "team-a", queries.Page{Limit: -1})
	assert.Equal(t, []string{"limit"}, qt.FieldsOf(t, err))
}

// A finding scan 1 raised and scan 2 fixed tells both, with the import and
// the person behind each scan; a finding scan 2 raised and bob resolved
// tells who resolved it and why.
func TestFindingHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.ImportPair("team-a").Events)
	ctx := context.Background()

	fixed := qt.PairFinding("team-a", "cloudtrail_multi_region_enabled", "us-east-1", pt.Trail("us-east-1"))
	h, err := e.svc.FindingHistory(ctx, "team-a", fixed)
	require.NoError(t, err)
	assert.Equal(t, "import", h.Source)
	assert.Equal(t, "fixed", h.Status)
	assert.Equal(t, []cloudsecurity.Transition{
		{Kind: "raised", At: pt.T0.Add(3600e9), ScanID: "scan-1", ImportID: "imp-scan-1", Actor: "alice"},
		{Kind: "fixed", At: pt.T0.Add(2 * 3600e9), ScanID: "scan-2", ImportID: "imp-scan-2", Actor: "alice"},
	}, utc(h.Transitions))
	assert.Equal(t, pt.T0.Add(3600e9), h.FirstSeen.UTC())
	assert.Equal(t, pt.T0.Add(3600e9), h.LastSeen.UTC())

	resolved := qt.PairFinding("team-a", "cloudtrail_kms_encryption_enabled", "eu-north-1", pt.RealTrail)
	h, err = e.svc.FindingHistory(ctx, "team-a", resolved)
	require.NoError(t, err)
	assert.Equal(t, "resolved", h.Status)
	require.Len(t, h.Transitions, 2)
	assert.Equal(t, "raised", h.Transitions[0].Kind)
	assert.Equal(t, "scan-2", h.Transitions[0].ScanID)
	assert.Equal(t, cloudsecurity.Transition{Kind: "resolved", At: pt.T0.Add(3 * 3600e9), Actor: "bob", Reason: "accepted by design"},
		utc(h.Transitions)[1])

	_, err = e.svc.FindingHistory(ctx, "team-b", resolved)
	assert.ErrorIs(t, err, queries.ErrNotFound, "another team's finding")
	_, err = e.svc.FindingHistory(ctx, "team-a", "fnd-0123")
	assert.ErrorIs(t, err, queries.ErrNotFound)
}

// The imported findings list with the lifecycle fields, and filter by the
// lifecycle status.
func TestListFindings_Imported(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.ImportPair("team-a").Events)
	ctx := context.Background()
	for status, want := range map[string]int{"open": 2, "fixed": 6, "resolved": 1} {
		got, err := e.svc.ListFindings(ctx, "team-a", cloudsecurity.FindingFilter{Status: status}, queries.Page{})
		require.NoError(t, err)
		assert.Len(t, got.Items, want, status)
		for _, f := range got.Items {
			assert.Equal(t, "import", f.Source)
			assert.Equal(t, "aws", f.Provider)
			assert.NotZero(t, f.FirstSeen)
		}
	}
	got, err := e.svc.ListFindings(ctx, "team-a", cloudsecurity.FindingFilter{Status: "fixed"}, queries.Page{Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, "scan-2", got.Items[0].ClosedByScan)
	assert.NotZero(t, got.Items[0].ClosedAt)
}

func utc(ts []cloudsecurity.Transition) []cloudsecurity.Transition {
	out := make([]cloudsecurity.Transition, len(ts))
	for i, t := range ts {
		t.At = t.At.UTC()
		out[i] = t
	}
	return out
}
