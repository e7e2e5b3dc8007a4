package orchestration

import (
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

var _ projections.Prefetcher = ScanSummaries{}

// Prefetch implements projections.Prefetcher: a finding's index entry
// and, when it is raised, its scan's summary.
func (ScanSummaries) Prefetch(ev projections.Event, want func(collection, id string)) {
	team := ev.Metadata.TeamID
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.FindingRaised:
		want(FindingIndexCollection, Key(team, e.FindingID))
		want(ScanSummariesCollection, Key(team, e.ScanID))
	case csdomain.FindingResolved:
		want(FindingIndexCollection, Key(team, e.FindingID))
	case csdomain.FindingSuppressed:
		want(FindingIndexCollection, Key(team, e.FindingID))
	}
}
