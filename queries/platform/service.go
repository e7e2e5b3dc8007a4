package platform

import "github.com/cspm-es/cspm-es/queries"

// Stores are the module databases the platform queries read, one store
// each.
type Stores struct {
	Platform queries.DocReader // cspm_platform: dashboard_summaries, api_keys
}

// Service runs the dashboard and API key queries (the audit queries are
// Audit). It is safe for concurrent use if the stores are.
type Service struct {
	platform queries.DocReader
}

// New returns the platform queries. It panics on a missing store: that is
// a wiring mistake to catch at start-up.
func New(s Stores) *Service {
	if s.Platform == nil {
		panic("platform.New: a store is missing")
	}
	return &Service{platform: s.Platform}
}

// The read models' collections, as projections/platform writes them (a
// test checks the names agree).
const (
	dashboardCollection = "dashboard_summaries"
	apiKeysCollection   = "api_keys"
)
