package platform

import (
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

var _ projections.Prefetcher = Dashboard{}

// Prefetch implements projections.Prefetcher: a finding's row and, when
// it is raised, its team's dashboard.
func (Dashboard) Prefetch(ev projections.Event, want func(collection, id string)) {
	team := ev.Metadata.TeamID
	if team == "" {
		return
	}
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.FindingRaised:
		want(DashboardFindingsCollection, Key(team, e.FindingID))
		want(DashboardCollection, team)
	case csdomain.FindingResolved:
		want(DashboardFindingsCollection, Key(team, e.FindingID))
	case csdomain.FindingSuppressed:
		want(DashboardFindingsCollection, Key(team, e.FindingID))
	}
}
