package platform_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/platform"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// The dashboard's assessments in progress: open ones with their progress,
// soonest due first; a closed one leaves the list and is counted; the same
// whatever order the assessments' streams interleave in.
func TestDashboardAssessments(t *testing.T) {
	t.Parallel()
	reqs := []as.AssessedRequirement{{ID: "r1"}, {ID: "r2"}, {ID: "r3"}, {ID: "r4"}}
	fw := as.FrameworkRef{Framework: "f", Version: "1"}
	created := func(id string, due time.Time) as.AssessmentCreated {
		return as.AssessmentCreated{AssessmentID: id, Name: id, Framework: fw, Requirements: reqs, DueDate: due, AsOf: pt.T0, CreatedAt: pt.T0}
	}
	answer := func(id, req string) as.RequirementAnswered {
		return as.RequirementAnswered{AssessmentID: id, RequirementID: req, Status: as.Compliant, AnsweredAt: pt.At(time.Hour)}
	}
	streams := [][]projections.Event{
		pt.Stream("team-a", pt.Positions(1, 4, 7), created("a-late", pt.At(72*time.Hour)), answer("a-late", "r1"), answer("a-late", "r1")),
		pt.Stream("team-a", pt.Positions(2, 5), created("a-soon", pt.At(24*time.Hour)), answer("a-soon", "r2")),
		pt.Stream("team-a", pt.Positions(3, 6, 8), created("a-done", time.Time{}), answer("a-done", "r1"), as.AssessmentClosed{AssessmentID: "a-done"}),
		pt.Stream("team-a", pt.Positions(9), created("a-nodue", time.Time{})),
	}
	all := pt.Apply(t, platform.NewDashboard(), concatEvents(pt.OnlyStreams(platform.NewDashboard(), streams))...)
	d := all.Doc(t, platform.DashboardAssessmentsCollection, "team-a")
	require.Equal(t, int64(3), d["in_progress"])
	require.Equal(t, int64(1), d["closed"])
	b, err := json.Marshal(d["items"])
	require.NoError(t, err)
	var items []struct {
		ID      string `json:"id"`
		Percent int64  `json:"percent"`
	}
	require.NoError(t, json.Unmarshal(b, &items))
	require.Equal(t, []string{"a-soon", "a-late", "a-nodue"}, []string{items[0].ID, items[1].ID, items[2].ID})
	require.Equal(t, int64(25), items[1].Percent, "one of four answered, twice")
	pt.AssertOrderIndependent(t, platform.NewDashboard(), pt.OnlyStreams(platform.NewDashboard(), streams))
}

func concatEvents(ss [][]projections.Event) []projections.Event {
	var out []projections.Event
	for _, s := range ss {
		out = append(out, s...)
	}
	return out
}
