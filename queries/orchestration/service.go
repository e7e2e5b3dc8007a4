package orchestration

import "github.com/cspm-es/cspm-es/queries"

// Stores are the module databases the scan queries read, one store each.
type Stores struct {
	Orchestration queries.DocReader // cspm_orchestration: scan_runs, scan_summaries
}

// Service runs the scan queries. It is safe for concurrent use if the
// stores are.
type Service struct {
	orchestration queries.DocReader
}

// New returns the scan queries. It panics on a missing store: that is a
// wiring mistake to catch at start-up.
func New(s Stores) *Service {
	if s.Orchestration == nil {
		panic("orchestration.New: a store is missing")
	}
	return &Service{orchestration: s.Orchestration}
}

// The read models' collections, as projections/orchestration writes them
// (a test checks the names agree).
const (
	scanRunsCollection      = "scan_runs"
	scanSummariesCollection = "scan_summaries"
)
