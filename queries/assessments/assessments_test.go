package assessments_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	aq "github.com/cspm-es/cspm-es/queries/assessments"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// world: the runtime test's assessments world (the real CSF and AI RMF
// catalogues, a mapping, team-imports' assessments of the pair account,
// one closed) over the pair's two imports, seeded into SQLite.
func world(t *testing.T) *aq.Service {
	t.Helper()
	h := &qt.History{}
	for _, imp := range [][]pt.EventData{pt.PairScan1(), pt.PairScan2()} {
		for _, d := range imp {
			h.Add("team-imports", d)
		}
	}
	for _, d := range qt.AssessmentsWorld(t) {
		h.Add(d.Team, d.Data)
	}
	e := qt.NewEnv(t, h.Events)
	return aq.New(e.Stores[dbregistry.ASSESSMENTS])
}

func TestAssessmentQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := world(t)

	fws, err := s.ListFrameworks(ctx, queries.Page{})
	require.NoError(t, err)
	require.Len(t, fws.Items, 2)
	assert.Equal(t, "nist-ai-rmf-1.0", fws.Items[0].ID, "by name: \"NIST AI RMF 1.0\" before \"National Institute...\"")
	vs, err := s.FrameworkVersions(ctx, "nist-ai-rmf-1.0", true, queries.Page{})
	require.NoError(t, err)
	require.Len(t, vs.Items, 1)
	assert.EqualValues(t, 72, vs.Items[0].Assessable)
	assert.Len(t, vs.Items[0].Nodes, 113)
	_, err = s.FrameworkVersions(ctx, "nope", false, queries.Page{})
	require.ErrorIs(t, err, queries.ErrNotFound)

	open, err := s.ListAssessments(ctx, "team-imports", "open", queries.Page{})
	require.NoError(t, err)
	require.Len(t, open.Items, 1)
	assert.Equal(t, "as-csf", open.Items[0].ID)
	_, err = s.ListAssessments(ctx, "team-imports", "maybe", queries.Page{})
	var ve interface{ Error() string }
	require.ErrorAs(t, err, &ve)

	d, err := s.GetAssessment(ctx, "team-imports", "as-csf")
	require.NoError(t, err)
	assert.Len(t, d.Answers, 27)
	assert.Equal(t, 1, d.Progress.Answered)
	ev, err := s.Evidence(ctx, "team-imports", "as-rmf")
	require.NoError(t, err)
	var govern as.RequirementEvidence
	for _, r := range ev.Requirements {
		if r.ID == "urn:intuitem:risk:req_node:nist-ai-rmf-1.0:govern-1.1" {
			govern = r
		}
	}
	require.Len(t, govern.Mapped, 1, "mapped to CSF ds_6")
	assert.Equal(t, []as.MappedAnswer{{AssessmentID: "as-csf", Status: "compliant"}}, govern.Mapped[0].Answers)

	all, err := s.AllAssessments(ctx, "team-imports", "", queries.Page{Limit: 100})
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, e := range all.Items {
		kinds[e.Kind]++
	}
	assert.Equal(t, map[string]int{"assessment": 2}, kinds, "the pair's checks map to no framework: no cloud compliance entry")

	// Another team sees none of it.
	for _, id := range []string{"as-csf", "as-rmf"} {
		_, err := s.GetAssessment(ctx, "team-b", id)
		require.ErrorIs(t, err, queries.ErrNotFound)
		_, err = s.Evidence(ctx, "team-b", id)
		require.ErrorIs(t, err, queries.ErrNotFound)
		_, err = s.Progress(ctx, "team-b", id)
		require.ErrorIs(t, err, queries.ErrNotFound)
	}
	other, err := s.AllAssessments(ctx, "team-b", "", queries.Page{})
	require.NoError(t, err)
	assert.Empty(t, other.Items)
}
