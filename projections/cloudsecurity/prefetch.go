package cloudsecurity

import (
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

var (
	_ projections.Prefetcher = Findings{}
	_ projections.Prefetcher = Accounts{}
)

// Prefetch implements projections.Prefetcher: the document of a finding
// raised, resolved or suppressed through the API.
func (Findings) Prefetch(ev projections.Event, want func(collection, id string)) {
	if id, _, err := findingOf(ev); err == nil && id != "" && !csdomain.IsImportedFinding(id) {
		want(FindingsCollection, id)
	}
}

// Prefetch implements projections.Prefetcher: a finding's row and, when
// it is raised, its scan run's account.
func (Accounts) Prefetch(ev projections.Event, want func(collection, id string)) {
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.FindingRaised:
		want(accountFindingsCollection, e.FindingID)
		want(accountScansCollection, e.ScanID)
	case csdomain.FindingResolved:
		want(accountFindingsCollection, e.FindingID)
	}
}
