package cloudsecurity

import "github.com/cspm-es/cspm-es/queries"

// Stores are the module databases the findings queries read, one store
// each.
type Stores struct {
	CloudSecurity queries.DocFinder // cspm_cloud_security: findings
}

// Service runs the findings queries. It is safe for concurrent use if the
// stores are.
type Service struct {
	cloudSecurity queries.DocFinder
}

// New returns the findings queries. It panics on a missing store: that is
// a wiring mistake to catch at start-up.
func New(s Stores) *Service {
	if s.CloudSecurity == nil {
		panic("cloudsecurity.New: a store is missing")
	}
	return &Service{cloudSecurity: s.CloudSecurity}
}

// findingsCollection is the read model projections/cloudsecurity writes
// (a test checks the name agrees).
const findingsCollection = "findings"
